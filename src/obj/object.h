/*
 * uvm_object: something mappable, with a pager that produces its pages.
 * A pager may hand back RAM pages (kept in the object's page table) or
 * device pages (encoded physical addresses, never kept anywhere).
 */
#ifndef XVM_OBJECT_H
#define XVM_OBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "core.h"
#include "hmap.h"
#include "pageq.h"
#include "physmem.h"
#include "pmap.h"
#include "runs.h"

struct xvm_object;

/* pgo_get flags */
#define PGO_LOCKED                                                             \
    XVM_PGO_LOCKED /* resident pages only: no I/O, no
                                     allocation */

/*
 * The pager ops are the public table (struct xvm_pager_ops in xipvm.h),
 * so the built-in pagers and users' are one kind:
 *   get     => off: page aligned, inside the object.
 *           => *pg: a RAM or device page with the bytes at off.
 *           => ENOENT with PGO_LOCKED when the page is not resident;
 *              EFAULT past the end of the object; ENOMEM, EIO.
 *   put     frees the resident page at off so that it can be had again:
 *           a clean page is dropped, a dirty one written to swap first;
 *           it is unmapped first.  The page daemon calls it (pgo_put,
 *           PGO_FREE).  => 0 freed; ENOSPC it needs swap there is not;
 *           EBUSY not now.  NULL: its pages never go (no swap for them).
 *   detach  frees the pager's private state; the object's pages are
 *           gone.  (UVM's pgo_reference/pgo_detach are object_ref and
 *           object_unref, which count the references and call detach at
 *           the last.)
 */
#define pager_ops xvm_pager_ops

/* The layer's state: every object of a machine, and the page daemon
 * (pagedaemon.c) with its policy's queues. */
struct objects {
    struct core *core;
    struct physmem *ph;
    struct mmu *mmu;
    struct xvm_object *list;
    struct pagedaemon pd;
    uint64_t refaults; /* fills of pages the page daemon had freed */
    unsigned in_pager; /* pager gets and puts running (vm_reentered) */
};

struct xvm_object {
    const struct pager_ops *ops;
    struct objects *objs;
    uint32_t refs;
    uint64_t size;
    bool read_only;      /* no writable shared mapping */
    bool user;           /* a user's pager: its pages are checked */
    int8_t ktype;        /* its kernel memory (enum xvm_kmem_type), or -1: part
                      of a structure charged by its owner (a vnode; a user
                      object's owner is the caller) */
    int use;             /* XVM_USE_* of its RAM pages */
    struct runs pages;   /* page number -> its resident RAM page (object.c) */
    struct hmap evicted; /* offsets the page daemon freed (refaults) */
    bool execmap;        /* mapped executable: its pages are exec pages */
    struct xvm_object *next, *prev; /* the layer's list */
    uint64_t base;                  /* pager's scalar (devobj: physical base) */
    void *priv;                     /* pager's private state */
};

/* The page daemon in objs->pd is set up apart (pagedaemon_init). */
void objects_init(struct objects *objs, struct core *core, struct physmem *ph,
                  struct mmu *mmu);
/* Frees every object, whatever its references (machine teardown). */
void objects_fini(struct objects *objs);

/* => a new object with one reference, on the layer's list; ktype: the
 *    kernel memory it is charged as, or -1 when its owner's structure
 *    holds it (a vnode's object). */
int object_create(struct objects *objs, const struct pager_ops *ops,
                  uint64_t size, int use, int ktype, struct xvm_object **out);
void object_ref(struct xvm_object *obj);
void object_unref(struct xvm_object *obj);
pageh object_page(const struct xvm_object *obj, uint64_t off);
/*
 * The pager's get, for every caller (fault, checker, introspection).  A
 * user pager's page must be its own RAM page at off, a device page or
 * the zero page: anything else is EIO, never dereferenced.  *pg is
 * PAGEH_NONE when the pager's get is called.
 */
int object_get(struct xvm_object *obj, uint64_t off, unsigned flags, pageh *pg);
/* put for pagers whose resident pages are always clean (read-only files):
 * the page goes, and its offset is remembered: object_filled counts the
 * refault. */
int object_put_clean(struct xvm_object *obj, uint64_t off);
/*
 * Allocates a frame and enters it at off (not yet filled: caller fills);
 * it joins the page queues.  => pqflags: PDP_READAHEAD for a page read
 * ahead of the one asked for.
 */
int object_page_alloc(struct xvm_object *obj, uint64_t off, bool zero,
                      unsigned pqflags, pageh *pg);
/* A write to a loaned page at off (§11.3): the object gets a copy in a
 * new frame in its place; the old page stays with its loans.
 * => 0 and *pg, the copy; ENOMEM. */
int object_loanbreak(struct xvm_object *obj, uint64_t off, pageh *pg);
/* Frees the page at off that object_page_alloc entered (a failed fill). */
void object_page_free(struct xvm_object *obj, uint64_t off);
/* A fill of the page at off is done: a refault, counted, when the page
 * daemon had freed it before (every pager's fills come here). */
void object_filled(struct xvm_object *obj, uint64_t off);
/* The object is mapped executable (vn_markexec): its pages count as
 * exec pages for the page daemon's thresholds. */
void object_mark_exec(struct xvm_object *obj);

extern const struct pager_ops aobj_pager;
extern const struct pager_ops devobj_pager;

/* aobj.c, devobj.c: => EINVAL for a bad size or range. */
int aobj_create(struct objects *objs, uint64_t size, struct xvm_object **out);
int devobj_create(struct objects *objs, uint64_t pa, uint64_t len,
                  struct xvm_object **out);
/* => whether a device object covers some of [pa, pa + len): the segment
 *    must stay while it lives (uvm_device's reference on the device). */
bool devobj_holds(const struct objects *objs, uint64_t pa, uint64_t len);
/* => how many of an aobj's pages are in swap slots (0 for other objects). */
uint64_t aobj_swapped(const struct xvm_object *obj);
/* => of those, slots whose page is resident too (counted again). */
uint64_t aobj_swapped_in_ram(const struct xvm_object *obj);

/* Every object is referenced, and its resident pages are its own. */
void objects_check(const struct objects *objs, struct check *ck);

#endif
