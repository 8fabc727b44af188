/*
 * The whole-machine checker: each layer's own check, bottom up.  Costs
 * O(everything); for tests, fuzzers and debugging, never on a hot path.
 * It runs quiet (core_quiet_begin), so its own host allocations do not
 * move fault injection (core_inject): checking changes nothing.
 */
#include <errno.h>
#include <string.h>

#include "kmem.h"
#include "loan.h"
#include "machine.h"
#include "pagedaemon.h"
#include "vmspace.h"

int xvm_machine_check(xvm_machine *m, char *msg, size_t msglen)
{
    if (m == NULL)
        return EINVAL;
    struct check ck = { .msg = msg, .len = msglen };
    struct core *c = &m->core;
    core_quiet_begin(c);
    phys_check(&m->ph, &ck);
    if (!ck.error) {
        char why[200];
        if (cpu_check(&m->cpu, why, sizeof(why)) != 0)
            check_fail(&ck, "cpu model: %s", why);
    }
    if (!ck.error)
        kmem_check(&m->kmem, &ck);
    if (!ck.error && m->devs.swap)
        swap_check(m->devs.swap, &ck);
    if (!ck.error)
        mmu_check(&m->mmu, &ck);
    if (!ck.error)
        objects_check(&m->objs, &ck);
    if (!ck.error)
        vfs_check(&m->vfs, &ck);
    if (!ck.error)
        vm_check(&m->vm, &ck);
    if (!ck.error)
        loan_check(&m->vm, &ck);
    if (!ck.error)
        procs_check(&m->procs, &ck);
    /* Last: a page on the wrong queue is most often a symptom of what a
     * layer's own check names better. */
    if (!ck.error)
        pagedaemon_check(&m->objs.pd, &ck);
    core_quiet_end(c);
    if (!ck.error && msg && msglen)
        msg[0] = '\0';
    return ck.error;
}

/* Every gauge within its peak; the peak within what was ever added. */
static void check_gauge(struct check *ck, const struct gauge *g,
                        const char *what)
{
    if (g->cur > g->peak || g->peak > g->total)
        check_fail(ck, "%s: now %llu, peak %llu, total %llu", what,
                   (unsigned long long)g->cur, (unsigned long long)g->peak,
                   (unsigned long long)g->total);
}

int machine_check_quick(struct xvm_machine *m, char *msg, size_t msglen)
{
    struct check ck = { .msg = msg, .len = msglen };
    const struct physmem *ph = &m->ph;
    uint64_t frames = 0;
    core_quiet_begin(&m->core);
    /* physmem: frames by use add up to RAM, the free ones to the list's. */
    for (int u = 0; u < XVM_USE_COUNT; u++) {
        frames += ph->use[u].cur;
        check_gauge(&ck, &ph->use[u], xvm_use_name((enum xvm_use)u));
    }
    if (!ck.error &&
        (frames != ph->npages || ph->use[XVM_USE_FREE].cur != ph->nfree ||
         ph->used.cur != ph->npages - ph->nfree))
        check_fail(&ck, "frames by use add up to %llu of %u, %u free",
                   (unsigned long long)frames, ph->npages, ph->nfree);
    /* kmem: the bytes charged are the units' sizes. */
    uint64_t bytes = 0;
    for (int t = 0; t < XVM_KMEM_TYPES && !ck.error; t++) {
        check_gauge(&ck, &m->kmem.units[t], "kmem units");
        bytes +=
            kmem_size(&m->kmem, (enum xvm_kmem_type)t, m->kmem.units[t].cur);
    }
    if (!ck.error && bytes != m->kmem.bytes.cur)
        check_fail(&ck, "kmem: %llu bytes charged, units make %llu",
                   (unsigned long long)m->kmem.bytes.cur,
                   (unsigned long long)bytes);
    /* pmap: PV entries of device pages are PV entries. */
    if (!ck.error) {
        check_gauge(&ck, &m->mmu.pv, "PV entries");
        check_gauge(&ck, &m->mmu.pv_device, "device PV entries");
    }
    if (!ck.error && (m->mmu.pv_device.cur > m->mmu.pv.cur ||
                      m->mmu.device_mapped.cur > m->mmu.pv_device.cur))
        check_fail(&ck,
                   "PV entries: %llu, of device pages %llu, device "
                   "pages mapped %llu",
                   (unsigned long long)m->mmu.pv.cur,
                   (unsigned long long)m->mmu.pv_device.cur,
                   (unsigned long long)m->mmu.device_mapped.cur);
    /* vm: every address space's map, whole. */
    for (struct xvm_vmspace *vs = m->vm.spaces; vs && !ck.error; vs = vs->next)
        map_check(&m->vm, &vs->map, &ck);
    core_quiet_end(&m->core);
    if (!ck.error && msg && msglen)
        msg[0] = '\0';
    return ck.error;
}
