/*
 * The whole-machine checker: each layer's own check, bottom up.  Costs
 * O(everything); for tests, fuzzers and debugging, never on a hot path.
 * It runs quiet (core_quiet_begin), so its own host allocations do not
 * move fault injection (core_inject): checking changes nothing.
 */
#include <errno.h>
#include <string.h>

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
