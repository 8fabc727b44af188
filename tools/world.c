/*
 * A machine with an image on emulated NOR flash, mounted XIP or copy.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"

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
    xvm_cpu_profile *cpu;
    if (cpu_profile_of(o, &cpu) != 0)
        return 1;
    cfg.cpu = cpu;
    error = xvm_machine_create(&cfg, &w->m);
    xvm_cpu_profile_destroy(cpu);
    if (error != 0) {
        fprintf(stderr, "xipvm: machine %s with %llu bytes of RAM: %s\n",
                o->machine, (unsigned long long)o->ram,
                error == EINVAL
                    ? "unknown profile or bad RAM size (sgimips "
                      "or amd64; a multiple of 4K, at most 4G on sgimips)"
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
    if ((error = xvm_flash_open(w->m, o->image, NULL, &w->flash)) != 0) {
        fprintf(stderr, "xipvm: %s: %s\n", o->image, strerror(error));
        world_close(w);
        return 1;
    }
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    if (o->readahead >= 0)
        mc.readahead = (unsigned)o->readahead;
    if (o->buffers >= 0)
        mc.buffers = (unsigned)o->buffers;
    if ((error = xvm_mount_flash(w->flash, &mc, &w->mp)) != 0) {
        fprintf(stderr, "xipvm: %s: cannot mount: %s\n", o->image,
                error == EINVAL ? "not a valid FFS image" : strerror(error));
        world_close(w);
        return 1;
    }
    return 0;
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
