/*
 * A machine with an image on emulated NOR flash, mounted XIP or copy.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"

/*
 * One message for an image that is not one: an empty or special file
 * (flash open: EINVAL), no superblock, or one that claims more than the
 * file holds (mount: EINVAL, EIO).
 */
static void image_error(const char *image, int error)
{
    if (error == EINVAL || error == EIO)
        fprintf(stderr, "xipvm: %s: not an FFS image\n", image);
    else
        fprintf(stderr, "xipvm: %s: %s\n", image, strerror(error));
}

int world_ram_ok(const char *machine, uint64_t ram)
{
    char have[32], bound[32];
    uint64_t min = xvm_profile_ram_min(machine),
             max = xvm_profile_ram_max(machine);
    if (ram >= min && ram <= max)
        return 0;
    if (ram < min)
        fprintf(stderr, "xipvm: --ram %s: a machine needs at least %s\n",
                fmt_size(have, sizeof(have), ram),
                fmt_size(bound, sizeof(bound), min));
    else
        fprintf(stderr,
                "xipvm: --ram %s: the %s profile has at most %s of RAM\n",
                fmt_size(have, sizeof(have), ram), machine,
                fmt_size(bound, sizeof(bound), max));
    return 1;
}

int world_swap_ok(const char *machine, uint64_t swap)
{
    char have[32];
    uint64_t max = xvm_profile_swap_max(machine);
    if (swap <= max || max == 0) /* an unknown profile: said elsewhere */
        return 0;
    /* Exact: the bound is just under 16 TiB, which rounds to it. */
    fprintf(stderr,
            "xipvm: --swap %s: the %s profile has at most %llu KiB of "
            "swap\n",
            fmt_size(have, sizeof(have), swap), machine,
            (unsigned long long)(max >> 10));
    return 1;
}

int world_open(const struct run_opts *o, int xip, struct world *w)
{
    struct xvm_config cfg;
    struct xvm_mount_config mc;
    int error;

    memset(w, 0, sizeof(*w));
    xvm_config_init(&cfg);
    cfg.profile = o->machine;
    cfg.ram_bytes = o->ram;
    if (o->fault_ahead >= 0)
        xvm_config_fault_ahead(&cfg, (unsigned)o->fault_ahead);
    cfg.device_design = (enum xvm_device_design)o->design;
    cfg.neighbour_reserve = o->neighbour_reserve;
    cfg.neighbour_pv_limit = o->neighbour_pv_limit;
    xvm_cpu_profile *cpu;
    if (world_ram_ok(o->machine, o->ram) ||
        world_swap_ok(o->machine, o->swap) || cpu_profile_of(o, &cpu) != 0)
        return 1;
    cfg.cpu = cpu;
    error = xvm_machine_create(&cfg, &w->m);
    xvm_cpu_profile_destroy(cpu);
    if (error != 0) {
        char ram[32];
        fprintf(stderr, "xipvm: machine %s with %s of RAM: %s\n", o->machine,
                fmt_size(ram, sizeof(ram), o->ram),
                error == EINVAL
                    ? "unknown profile, bad RAM size (sgimips or amd64; "
                      "a multiple of 4K) or a neighbour reserve above it"
                    : strerror(error));
        return 1;
    }
    if (o->swap) {
        struct xvm_swap_config sc;
        xvm_swap_config_init(&sc);
        sc.bytes = o->swap;
        if ((error = xvm_swapon(w->m, &sc)) != 0) {
            fprintf(stderr, "xipvm: --swap %llu: %s\n",
                    (unsigned long long)o->swap, strerror(error));
            world_close(w);
            return 1;
        }
    }
    /* NOR: the CPU profile's block-interface cost (a NULL config). */
    struct xvm_flash_config fc;
    if (o->device == XVM_DEVICE_MD)
        xvm_md_config_init(&fc); /* the image in RAM (§11.6) */
    if ((error = xvm_flash_open(w->m, o->image,
                                o->device == XVM_DEVICE_MD ? &fc : NULL,
                                &w->flash)) != 0) {
        char ram[32];
        world_close(w);
        if (o->device == XVM_DEVICE_MD && error == ENOMEM) {
            if (!o->quiet) /* a sweep's row says it does not fit */
                fprintf(stderr,
                        "xipvm: %s: the memory disk leaves too little of %s of "
                        "RAM\n",
                        o->image, fmt_size(ram, sizeof(ram), o->ram));
            return WORLD_NO_ROOM;
        }
        if (error == ERANGE)
            fprintf(stderr,
                    "xipvm: %s: its window does not fit the physical "
                    "addresses the %s profile reaches above %s of RAM (use "
                    "less --ram)\n",
                    o->image, o->machine, fmt_size(ram, sizeof(ram), o->ram));
        else
            image_error(o->image, error);
        return 1;
    }
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    if (o->readahead >= 0)
        mc.readahead = (unsigned)o->readahead;
    if (o->buffers >= 0)
        mc.buffers = (unsigned)o->buffers;
    if ((error = xvm_mount_flash(w->flash, &mc, &w->mp)) != 0) {
        image_error(o->image, error);
        world_close(w);
        return 1;
    }
    return 0;
}

void world_damaged(const char *image, const struct xvm_file_info *fi)
{
    fprintf(stderr, "xipvm: %s: %s (inode %llu): %s (%s)\n", image, fi->path,
            (unsigned long long)fi->ino,
            fi->problem ? fi->problem : "unreadable", strerror(fi->error));
}

static int tell_damaged(void *arg, const struct xvm_file_info *fi)
{
    if (fi->error)
        world_damaged(arg, fi);
    return 0;
}

void world_damage(const char *image, xvm_mount *mp)
{
    (void)xvm_fsinfo(mp, tell_damaged, (void *)image);
}

void world_close(struct world *w)
{
    /* Processes hold files: the machine goes first, taking them along. */
    if (w->m) {
        xvm_machine_destroy(w->m);
    }
    memset(w, 0, sizeof(*w));
}

int run_readahead(const struct run_opts *o)
{
    struct xvm_mount_config mc;
    xvm_mount_config_init(&mc);
    return o->readahead >= 0 ? o->readahead : (int)mc.readahead;
}

int run_buffers(const struct run_opts *o)
{
    struct xvm_mount_config mc;
    xvm_mount_config_init(&mc);
    return o->buffers >= 0 ? o->buffers : (int)mc.buffers;
}

const char *run_geom(const struct run_opts *o, int k)
{
    return o->geom[k] ? o->geom[k] : "profile";
}

const char *run_superpages(const struct run_opts *o)
{
    return o->superpages < 0 ? "profile" : o->superpages ? "on" : "off";
}
