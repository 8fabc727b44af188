/*
 * The machine: creation from a configuration, destruction, accounting,
 * and the host allocator every part of the simulation goes through.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "amap.h"
#include "flash.h"
#include "object.h"
#include "pmap.h"
#include "proc.h"
#include "vmspace.h"

#define MAX_TLB_ENTRIES (1u << 20)

void *m_alloc(struct xvm_machine *m, size_t n)
{
    /* Fault injection: the Nth allocation of this machine fails. */
    if (++m->nalloc == m->fail_alloc_at)
        return NULL;
    return malloc(n ? n : 1);
}

void *m_zalloc(struct xvm_machine *m, size_t n)
{
    void *p = m_alloc(m, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void m_free(struct xvm_machine *m, void *p)
{
    (void)m;
    free(p);
}

void xvm_config_init(struct xvm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->profile = "sgimips";
    cfg->ram_bytes = UINT64_C(64) << 20;
    /* UVM's fault-ahead table (uvm_fault.c uvmadvice[]). */
    cfg->ahead[XVM_ADV_NORMAL] = (struct xvm_ahead){ 3, 4 };
    cfg->ahead[XVM_ADV_RANDOM] = (struct xvm_ahead){ 0, 0 };
    cfg->ahead[XVM_ADV_SEQUENTIAL] = (struct xvm_ahead){ 8, 7 };
}

void xvm_config_fault_ahead(struct xvm_config *cfg, unsigned n)
{
    cfg->ahead[XVM_ADV_NORMAL] = (struct xvm_ahead){ n, n };
    cfg->ahead[XVM_ADV_SEQUENTIAL] = (struct xvm_ahead){ n, n };
}

static int check_config(const struct xvm_config *cfg, const struct profile *p)
{
    uint64_t pgsz = UINT64_C(1) << p->page_shift;
    if (cfg->ram_bytes % pgsz || cfg->ram_base % pgsz ||
        cfg->ram_base + cfg->ram_bytes < cfg->ram_base)
        return EINVAL;
    /* Frame numbers must fit the PTE (20 bits in a 4-byte PTE). */
    if (p->pte_size == 4 && cfg->ram_base + cfg->ram_bytes > (UINT64_C(1) << 32))
        return EINVAL;
    unsigned t = cfg->tlb_entries;
    if (t && (t > MAX_TLB_ENTRIES || (t & (t - 1))))
        return EINVAL;
    for (int i = 0; i < 3; i++)
        if (cfg->ahead[i].back > 64 || cfg->ahead[i].forward > 64)
            return EINVAL;
    return 0;
}

int xvm_machine_create(const struct xvm_config *cfg, xvm_machine **out)
{
    struct xvm_config def;
    if (out == NULL)
        return EINVAL;
    if (cfg == NULL) {
        xvm_config_init(&def);
        cfg = &def;
    }
    const struct profile *p = profile_find(cfg->profile ? cfg->profile : "");
    if (p == NULL)
        return EINVAL;
    int error = check_config(cfg, p);
    if (error)
        return error;

    struct xvm_machine *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return ENOMEM;
    m->prof = p;
    m->cfg = *cfg;
    m->cfg.profile = p->name;
    m->pgshift = p->page_shift;
    m->pgsz = 1u << p->page_shift;
    unsigned shift = p->page_shift;
    for (unsigned l = p->levels; l-- > 0;) {
        m->lvl_shift[l] = shift;
        shift += p->level_bits[l];
    }
    m->next_asid = 1;
    m->pv_pool.size = sizeof(struct pv_entry);
    m->anon_pool.size = sizeof(struct anon);
    hmap_init(&m->devpv);
    hmap_init(&m->procs);
    unsigned ntlb = cfg->tlb_entries ? cfg->tlb_entries : p->tlb_entries;
    m->tlb.ent = m_zalloc(m, ntlb * sizeof(*m->tlb.ent));
    m->tlb.mask = ntlb - 1;
    if (m->tlb.ent == NULL ||
        (error = phys_init(m, cfg->ram_base, cfg->ram_bytes)) != 0 ||
        (error = phys_alloc(m, XVM_USE_ZERO, true, &m->zero_page)) != 0) {
        xvm_machine_destroy(m);
        return error ? error : ENOMEM;
    }
    *out = m;
    return 0;
}

void xvm_machine_destroy(xvm_machine *m)
{
    if (m == NULL)
        return;
    proc_destroy_all(m);
    while (m->spaces)
        xvm_vmspace_destroy(m->spaces);
    /* Objects the caller still holds die with the machine. */
    while (m->objects) {
        m->objects->refs = 1;
        object_unref(m->objects);
    }
    /* Then mounts (now without vnodes) and flash devices. */
    while (m->flashes) {
        if (m->flashes->mounted)
            (void)xvm_unmount(m->flashes->mounted);
        if (xvm_flash_close(m->flashes) != 0)
            break;
    }
    hmap_fini(m, &m->devpv);
    pool_fini(m, &m->pv_pool);
    pool_fini(m, &m->anon_pool);
    phys_fini(m);
    m_free(m, m->tlb.ent);
    free(m);
}

uint32_t xvm_page_size(const xvm_machine *m)
{
    return m->pgsz;
}

void xvm_machine_stats(const xvm_machine *m, struct xvm_stats *st)
{
    *st = m->st;
    st->page_size = m->pgsz;
    st->vm_page_bytes = m->prof->vm_page_size;
    st->vm_page_metadata_bytes = st->ram_pages * m->prof->vm_page_size;
}

const char *xvm_use_name(enum xvm_use use)
{
    static const char *const names[XVM_USE_COUNT] = {
        "free", "anon", "aobj", "pagecache", "pagetable", "zero", "buffer",
    };
    return (unsigned)use < XVM_USE_COUNT ? names[use] : "?";
}

int xvm_physload_device(xvm_machine *m, uint64_t pa, uint64_t len,
                        const void *data)
{
    if (m == NULL)
        return EINVAL;
    return phys_load_device(m, pa, len, data);
}
