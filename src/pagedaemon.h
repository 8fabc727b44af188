/*
 * The page daemon: frees clean page-cache pages when RAM runs out.
 */
#ifndef XVM_PAGEDAEMON_H
#define XVM_PAGEDAEMON_H

#include <stdint.h>

struct xvm_machine;

/*
 * Frees a batch of clean, unwired page-cache pages (unmapping them first).
 * => the number of frames freed; 0 when nothing could be reclaimed.
 * => only callable where no page pointer is held (fault entry, read()).
 */
uint64_t pagedaemon_reclaim(struct xvm_machine *m);

#endif
