/*
 * NOR flash.  The image is host memory that the simulation only reads:
 * a file mapped read-only, or a caller's buffer.  The read-cost model's
 * defaults follow typical parallel NOR: about 90 ns to the first word,
 * then page-mode reads of about 25 ns per 16-bit word.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flash.h"
#include "machine.h"
#include "physmem.h"

void xvm_flash_config_init(struct xvm_flash_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ns_per_access = 90;
    cfg->ns_per_byte = 13;
    cfg->xip_capable = 1;
}

void flash_account(struct xvm_flash *f, uint64_t len)
{
    struct xvm_machine *m = f->m;
    m->st.flash_reads++;
    m->st.flash_bytes_read += len;
    m->st.flash_ns += f->cfg.ns_per_access + len * f->cfg.ns_per_byte;
}

/* Registers the window as a device segment: its pages are device pages. */
static int flash_register(struct xvm_flash *f)
{
    struct xvm_machine *m = f->m;
    if (!f->cfg.xip_capable)
        return 0;
    if (f->cfg.phys_base == 0)
        f->cfg.phys_base = phys_free_base(m);
    int error = phys_load_device(m, f->cfg.phys_base, f->seglen, f->data);
    if (error)
        return error;
    struct dev_seg *d = phys_dev_seg(m, f->cfg.phys_base);
    d->ns_access = f->cfg.ns_per_access;
    d->ns_byte = f->cfg.ns_per_byte;
    f->registered = true;
    return 0;
}

static int flash_new(struct xvm_machine *m, const struct xvm_flash_config *cfg,
                     struct xvm_flash **out)
{
    struct xvm_flash *f = m_zalloc(m, sizeof(*f));
    if (f == NULL)
        return ENOMEM;
    f->m = m;
    if (cfg)
        f->cfg = *cfg;
    else
        xvm_flash_config_init(&f->cfg);
    *out = f;
    return 0;
}

static void flash_link(struct xvm_flash *f)
{
    f->next = f->m->flashes;
    f->m->flashes = f;
}

int xvm_flash_attach(xvm_machine *m, const void *buf, uint64_t len,
                     const struct xvm_flash_config *cfg, xvm_flash **out)
{
    struct xvm_flash *f;
    if (m == NULL || buf == NULL || out == NULL || len == 0 ||
        (len & (m->pgsz - 1)))
        return EINVAL;          /* a buffer cannot be padded: whole pages */
    int error = flash_new(m, cfg, &f);
    if (error)
        return error;
    f->data = buf;
    f->len = f->seglen = len;
    if ((error = flash_register(f)) != 0) {
        m_free(m, f);
        return error;
    }
    flash_link(f);
    *out = f;
    return 0;
}

int xvm_flash_open(xvm_machine *m, const char *path,
                   const struct xvm_flash_config *cfg, xvm_flash **out)
{
    struct xvm_flash *f;
    struct stat sb;
    if (m == NULL || path == NULL || out == NULL)
        return EINVAL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        close(fd);
        return EINVAL;          /* not a regular, non-empty image file */
    }
    int error = flash_new(m, cfg, &f);
    if (error) {
        close(fd);
        return error;
    }
    f->len = (uint64_t)sb.st_size;
    f->seglen = m_round(m, f->len);
    /* The last partial page reads as zeros past the file's end: the host
     * maps whole host pages, which are never smaller than ours. */
    f->maplen = (size_t)f->seglen;
    f->map = mmap(NULL, f->maplen, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        m_free(m, f);
        return ENOMEM;
    }
    f->data = f->map;
    if ((error = flash_register(f)) != 0) {
        munmap(f->map, f->maplen);
        m_free(m, f);
        return error;
    }
    flash_link(f);
    *out = f;
    return 0;
}

int xvm_flash_close(xvm_flash *f)
{
    if (f == NULL)
        return EINVAL;
    if (f->mounted)
        return EBUSY;
    if (f->registered) {
        int error = phys_unload_device(f->m, f->cfg.phys_base);
        if (error)
            return error;
    }
    if (f->map)
        munmap(f->map, f->maplen);
    for (struct xvm_flash **pp = &f->m->flashes; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    m_free(f->m, f);
    return 0;
}

uint64_t xvm_flash_phys_base(const xvm_flash *f)
{
    return f->registered ? f->cfg.phys_base : 0;
}

uint64_t xvm_flash_size(const xvm_flash *f)
{
    return f->len;
}

int xvm_flash_read(xvm_flash *f, uint64_t off, void *buf, size_t len)
{
    if (f == NULL || (buf == NULL && len))
        return EINVAL;
    if (off > f->len || f->len - off < len)
        return EIO;
    memcpy(buf, f->data + off, len);
    flash_account(f, len);
    return 0;
}

int xvm_flash_write(xvm_flash *f, uint64_t off, const void *buf, size_t len)
{
    (void)f, (void)off, (void)buf, (void)len;
    return EROFS;               /* run-time writes are refused (§3.5) */
}
