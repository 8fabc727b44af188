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

void devices_init(struct devices *devs, struct core *core)
{
    memset(devs, 0, sizeof(*devs));
    devs->core = core;
}

void xvm_flash_config_init(struct xvm_flash_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->ns_per_access = 90;
    cfg->ns_per_byte = 13;
    cfg->xip_capable = 1;
}

/* A memory disk reads at RAM's speed: a DRAM access, then a byte a ns
 * (a memcpy of a page by a small CPU). */
void xvm_md_config_init(struct xvm_flash_config *cfg)
{
    if (cfg == NULL)
        return;
    xvm_flash_config_init(cfg);
    cfg->device = XVM_DEVICE_MD;
    cfg->ns_per_access = 60;
    cfg->ns_per_byte = 1;
}

static int flash_new(struct devices *devs, const struct xvm_flash_config *cfg,
                     struct xvm_flash **out)
{
    struct xvm_flash *f = core_zalloc(devs->core, sizeof(*f));
    if (f == NULL)
        return ENOMEM;
    f->devs = devs;
    if (cfg)
        f->cfg = *cfg;
    else
        xvm_flash_config_init(&f->cfg);
    if ((unsigned)f->cfg.device > XVM_DEVICE_MD ||
        (f->cfg.device == XVM_DEVICE_MD && f->cfg.phys_base)) {
        core_free(devs->core, f);
        return EINVAL; /* a memory disk's address is its RAM's */
    }
    *out = f;
    return 0;
}

static void flash_link(struct xvm_flash *f)
{
    f->next = f->devs->flashes;
    f->devs->flashes = f;
}

int flash_attach(struct devices *devs, const void *buf, uint64_t len,
                 const struct xvm_flash_config *cfg, struct xvm_flash **out)
{
    struct xvm_flash *f;
    if (buf == NULL || len == 0 || (len & (devs->core->pgsz - 1)))
        return EINVAL; /* a buffer cannot be padded: whole pages */
    int error = flash_new(devs, cfg, &f);
    if (error)
        return error;
    f->data = buf;
    f->len = f->seglen = len;
    flash_link(f);
    *out = f;
    return 0;
}

int flash_open(struct devices *devs, const char *path,
               const struct xvm_flash_config *cfg, struct xvm_flash **out)
{
    struct xvm_flash *f;
    struct stat sb;
    if (path == NULL)
        return EINVAL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        close(fd);
        return EINVAL; /* not a regular, non-empty image file */
    }
    int error = flash_new(devs, cfg, &f);
    if (error) {
        close(fd);
        return error;
    }
    f->len = (uint64_t)sb.st_size;
    f->seglen = pg_round(devs->core, f->len);
    /* The last partial page reads as zeros past the file's end: the host
     * maps whole host pages, which are never smaller than ours. */
    f->maplen = (size_t)f->seglen;
    f->map = mmap(NULL, f->maplen, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        core_free(devs->core, f);
        return ENOMEM;
    }
    f->data = f->map;
    flash_link(f);
    *out = f;
    return 0;
}

void flash_free(struct xvm_flash *f)
{
    if (f->map)
        munmap(f->map, f->maplen);
    for (struct xvm_flash **pp = &f->devs->flashes; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    core_free(f->devs->core, f);
}

uint64_t xvm_flash_phys_base(const xvm_flash *f)
{
    return f && f->registered ? f->cfg.phys_base : 0;
}

uint64_t xvm_flash_size(const xvm_flash *f)
{
    return f ? f->len : 0;
}

int flash_read(struct xvm_flash *f, uint64_t off, void *buf, size_t len)
{
    if (off > f->len || f->len - off < len ||
        core_inject(f->devs->core, INJECT_FLASH_READ))
        return EIO;
    memcpy(buf, f->data + off, len);
    if (!core_is_quiet(f->devs->core)) {
        struct flash_stats *st = &f->devs->st;
        st->reads++;
        st->bytes_read += len;
        st->ns += f->cfg.ns_per_access + len * f->cfg.ns_per_byte;
    }
    return 0;
}

int xvm_flash_read(xvm_flash *f, uint64_t off, void *buf, size_t len)
{
    if (f == NULL || (buf == NULL && len))
        return EINVAL;
    return flash_read(f, off, buf, len);
}

int xvm_flash_write(xvm_flash *f, uint64_t off, const void *buf, size_t len)
{
    (void)f, (void)off, (void)buf, (void)len;
    return EROFS; /* run-time writes are refused (§3.5) */
}

bool flash_is_zero(const struct xvm_flash *f, uint64_t off, uint64_t len)
{
    uint64_t end = off + len;
    if (off >= f->len)
        return true;
    if (end > f->len)
        end = f->len;
    for (uint64_t i = off; i < end; i++)
        if (f->data[i])
            return false;
    return true;
}
