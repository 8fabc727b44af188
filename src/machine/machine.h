/*
 * The machine: the layers of one simulated machine, assembled.  Only the
 * machine's own files see this struct; every layer below holds pointers
 * to the layers it stands on, never to the machine.
 */
#ifndef XVM_MACHINE_H
#define XVM_MACHINE_H

#include "core.h"
#include "cpu.h"
#include "flash.h"
#include "kmem.h"
#include "swap.h"
#include "object.h"
#include "physmem.h"
#include "pmap.h"
#include "proc.h"
#include "timeline.h"
#include "vfs.h"
#include "vm.h"
#include "xipvm.h"

struct xvm_machine {
    struct xvm_config cfg;
    struct core core; /* bottom to top */
    struct devices devs;
    struct physmem ph;
    struct kmem kmem; /* kernel memory, on ph's frames */
    struct cpu cpu;
    struct mmu mmu;
    struct objects objs;
    struct vfs vfs;
    struct vm vm;
    struct procs procs;
    struct timeline tl; /* the report's samples and marks */
};

/*
 * The cheap checks after one operation, for fuzzers that run many: every
 * layer's counters (frames by use add up, kmem bytes match its units,
 * gauges within their peaks, PV counts) and every address space's map
 * (O(entries)).  xvm_machine_check is the whole machine.  => 0 or EINVAL
 * with msg.
 */
int machine_check_quick(struct xvm_machine *m, char *msg, size_t msglen);

#endif
