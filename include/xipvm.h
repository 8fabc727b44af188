/*
 * libxipvm — NetBSD UVM with eXecute-In-Place, in userspace.
 *
 * Interface.  Everything lives in one machine object (xvm_machine) created
 * from a configuration; two machines never share state.  Calls return 0 or
 * an errno value (EFAULT, EACCES, ENOMEM, EINVAL, ...) and never abort on
 * bad input.
 */
#ifndef XIPVM_H
#define XIPVM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(XVM_BUILDING) && defined(__GNUC__)
#define XVM_API __attribute__((visibility("default")))
#else
#define XVM_API
#endif

typedef struct xvm_machine xvm_machine;
typedef struct xvm_vmspace xvm_vmspace;
typedef struct xvm_object xvm_object;

/* Protection bits, as PROT_* in mmap(2). */
#define XVM_PROT_NONE 0x0
#define XVM_PROT_READ 0x1
#define XVM_PROT_WRITE 0x2
#define XVM_PROT_EXEC 0x4
#define XVM_PROT_ALL 0x7
/* NetBSD's PROT_MPROTECT: sets max_protection at mmap time. */
#define XVM_PROT_MPROTECT(p) ((p) << 3)

/* Mapping flags. */
#define XVM_MAP_SHARED 0x01
#define XVM_MAP_PRIVATE 0x02
#define XVM_MAP_FIXED 0x10

enum xvm_inherit { XVM_INHERIT_SHARE, XVM_INHERIT_COPY, XVM_INHERIT_NONE };
enum xvm_advice { XVM_ADV_NORMAL, XVM_ADV_RANDOM, XVM_ADV_SEQUENTIAL };

/* Neighbour (fault-ahead) window in pages for one advice. */
struct xvm_ahead {
    unsigned back, forward;
};

struct xvm_config {
    const char *profile;            /* "sgimips" (default) or "amd64" */
    uint64_t ram_bytes;             /* simulated RAM; default 64 MiB */
    uint64_t ram_base;              /* physical address of RAM; default 0 */
    unsigned tlb_entries;           /* 0: the profile's default */
    struct xvm_ahead ahead[3];      /* by enum xvm_advice; UVM's table by default */
};

/* Fills *cfg with the defaults above. */
XVM_API void xvm_config_init(struct xvm_config *cfg);
/* Sets every advice's window to back = forward = n (0 disables fault-ahead);
 * random stays 0/0 as in UVM. */
XVM_API void xvm_config_fault_ahead(struct xvm_config *cfg, unsigned n);

XVM_API int xvm_machine_create(const struct xvm_config *cfg, xvm_machine **out);
XVM_API void xvm_machine_destroy(xvm_machine *m);
XVM_API uint32_t xvm_page_size(const xvm_machine *m);

/*
 * Walks the whole machine and verifies every invariant.  Returns 0, or
 * EINVAL with a description of the first violation in msg.
 */
XVM_API int xvm_machine_check(xvm_machine *m, char *msg, size_t msglen);

/* Frame use, for accounting. */
enum xvm_use {
    XVM_USE_FREE,
    XVM_USE_ANON,       /* private copies and zero-fills (anons) */
    XVM_USE_AOBJ,       /* shared anonymous memory */
    XVM_USE_PAGECACHE,  /* file pages copied into RAM */
    XVM_USE_PAGETABLE,  /* page-table pages */
    XVM_USE_ZERO,       /* the shared zero page */
    XVM_USE_BUFFER,     /* file-system metadata buffers */
    XVM_USE_COUNT
};

struct xvm_stats {
    uint64_t ram_pages;                     /* total frames */
    uint64_t pages[XVM_USE_COUNT];          /* frames in use, by kind */
    uint64_t pages_peak[XVM_USE_COUNT];
    uint64_t ram_used_peak;                 /* frames not free, peak */
    uint64_t vm_page_bytes;                 /* modelled struct vm_page size */
    uint64_t vm_page_metadata_bytes;        /* ram_pages * vm_page_bytes */
    uint64_t device_pages;                  /* pages in device segments */
    /* faults */
    uint64_t faults, faults_read, faults_write, faults_exec;
    uint64_t faults_upper, faults_lower;
    uint64_t zero_fills, cow_promotions, cow_from_device, zero_page_maps;
    uint64_t neighbour_maps, device_maps;
    uint64_t amap_copies, enomem;
    uint64_t reclaimed;                     /* page-cache pages freed */
    /* pmap and TLB */
    uint64_t pv_entries, pv_entries_peak, pv_device, pv_device_peak;
    uint64_t tlb_hits, tlb_misses, tlb_flushes;
};
XVM_API void xvm_machine_stats(const xvm_machine *m, struct xvm_stats *st);
XVM_API const char *xvm_use_name(enum xvm_use use);

/*
 * Physical device segment, like the paper's bus_space_physload_device():
 * managed and cacheable, but with no per-page metadata.  data (len bytes,
 * page aligned len) backs the segment and is only ever read.
 */
XVM_API int xvm_physload_device(xvm_machine *m, uint64_t pa, uint64_t len,
                                const void *data);

/* Address spaces. */
XVM_API int xvm_vmspace_create(xvm_machine *m, xvm_vmspace **out);
/* No page is copied: the cost is O(map entries). */
XVM_API int xvm_vmspace_fork(xvm_vmspace *parent, xvm_vmspace **child);
XVM_API void xvm_vmspace_destroy(xvm_vmspace *vs);

/* Objects that can be mapped.  Each create returns one reference. */
XVM_API int xvm_aobj_create(xvm_machine *m, uint64_t size, xvm_object **out);
/* Device memory [pa, pa+len) of a device segment (UVM's device pager). */
XVM_API int xvm_devobj_create(xvm_machine *m, uint64_t pa, uint64_t len,
                              xvm_object **out);
XVM_API void xvm_object_release(xvm_object *obj);

/*
 * mmap: *addr is a hint, or the exact address with XVM_MAP_FIXED (which
 * replaces what was there).  obj NULL maps anonymous memory (private:
 * zero-fill copy-on-write; shared: a fresh aobj).  prot may carry
 * XVM_PROT_MPROTECT(max) to lower max_protection.
 */
XVM_API int xvm_mmap(xvm_vmspace *vs, uint64_t *addr, uint64_t len, int prot,
                     int flags, xvm_object *obj, uint64_t off);
XVM_API int xvm_munmap(xvm_vmspace *vs, uint64_t addr, uint64_t len);
XVM_API int xvm_mprotect(xvm_vmspace *vs, uint64_t addr, uint64_t len, int prot);
XVM_API int xvm_minherit(xvm_vmspace *vs, uint64_t addr, uint64_t len,
                         enum xvm_inherit inh);
XVM_API int xvm_madvise(xvm_vmspace *vs, uint64_t addr, uint64_t len,
                        enum xvm_advice adv);
/* Wires pages (faults them in, they stay resident); refused with EINVAL
 * for device pages (paper §11.4). */
XVM_API int xvm_mlock(xvm_vmspace *vs, uint64_t addr, uint64_t len);
XVM_API int xvm_munlock(xvm_vmspace *vs, uint64_t addr, uint64_t len);

/*
 * Access n bytes at va, any alignment, crossing pages.  A TLB miss walks
 * the page tables; a missing or insufficient mapping runs the fault
 * handler and retries.  EFAULT: nothing mapped; EACCES: protection.
 * On error, *done (if not NULL) says how many bytes were transferred.
 */
XVM_API int xvm_read(xvm_vmspace *vs, uint64_t va, void *buf, size_t n);
XVM_API int xvm_write(xvm_vmspace *vs, uint64_t va, const void *buf, size_t n);
XVM_API int xvm_fetch(xvm_vmspace *vs, uint64_t va, void *buf, size_t n);

/* Resolve va to a physical address through the page tables (no fault). */
XVM_API int xvm_extract(xvm_vmspace *vs, uint64_t va, uint64_t *pa);

#ifdef __cplusplus
}
#endif
#endif /* XIPVM_H */
