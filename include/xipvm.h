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

#include <stdbool.h>
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
typedef struct xvm_cpu_profile xvm_cpu_profile;
struct xvm_pdpolicy_ops;

/* Protection bits, as PROT_* in mmap(2). */
#define XVM_PROT_NONE  0x0
#define XVM_PROT_READ  0x1
#define XVM_PROT_WRITE 0x2
#define XVM_PROT_EXEC  0x4
#define XVM_PROT_ALL   0x7
/* NetBSD's PROT_MPROTECT: sets max_protection at mmap time. */
#define XVM_PROT_MPROTECT(p) ((p) << 3)

/* Mapping flags. */
#define XVM_MAP_SHARED  0x01
#define XVM_MAP_PRIVATE 0x02
#define XVM_MAP_FIXED   0x10

enum xvm_inherit { XVM_INHERIT_SHARE, XVM_INHERIT_COPY, XVM_INHERIT_NONE };
enum xvm_advice { XVM_ADV_NORMAL, XVM_ADV_RANDOM, XVM_ADV_SEQUENTIAL };

/*
 * How device pages are tracked: the designs doc/beyond-the-paper.md
 * compares (paper §6.3 and what came after).  Every design gives the same
 * answers to every call; they differ in memory and cost.
 */
enum xvm_device_design {
    XVM_DESIGN_SEGMENT,   /* the paper's: device pages have no vm_page (only
                             their segment's), their PV entries live in one
                             hash per machine */
    XVM_DESIGN_AMAP_COPY, /* the paper's alternative: no shared amaps, amaps
                             copied at every fork, no PV entries for device
                             pages at all (a promotion in an amap shared by
                             minherit finds the sharers by their maps) */
    XVM_DESIGN_VM_PAGE,   /* OpenBSD's (PHYSLOAD_DEVICE, PG_DEV): device
                             segments get vm_pages, charged to kernel memory,
                             with PV lists in them as RAM pages have */
    XVM_DESIGNS
};
/* "segment", "amap-copy", "vm_page" ("?" for others). */
XVM_API const char *xvm_device_design_name(enum xvm_device_design d);

/* Neighbour (fault-ahead) window in pages for one advice. */
struct xvm_ahead {
    unsigned back, forward;
};

struct xvm_config {
    const char *profile;       /* "sgimips" (default) or "amd64" */
    uint64_t ram_bytes;        /* simulated RAM; default 64 MiB */
    uint64_t ram_base;         /* physical address of RAM; default 0 */
    unsigned tlb_entries;      /* 0: the profile's default */
    struct xvm_ahead ahead[3]; /* by enum xvm_advice; UVM's table by default */
    /* The page daemon's free targets, bytes: it wakes when free RAM falls
     * below freemin and frees pages until freetarg are free.  0: NetBSD's
     * uvmpd_tune() (0.5 % of managed RAM, 128 KiB to 1 MiB, here at most
     * RAM/16; freetarg = 4/3 freemin), tuned again when a memory disk
     * takes RAM out or gives it back.  Whole pages, freemin < freetarg <
     * RAM. */
    uint64_t freemin, freetarg;
    /* The CPU: caches, TLB, latencies (the time model); copied at
     * creation.  NULL: the built-in CPU profile named like `profile`. */
    const xvm_cpu_profile *cpu;
    /* How device pages are tracked; default XVM_DESIGN_SEGMENT. */
    enum xvm_device_design device_design;
    /*
     * Bounded neighbour mappings (paper §11.2): UVM enters fault-ahead
     * mappings whatever they cost.  With a reserve, a neighbour is
     * skipped (counted in neighbour_skipped) while free frames are at or
     * below neighbour_reserve (bytes, whole pages), or while PV entries in
     * use are at or above neighbour_pv_limit (entries).  0: no bound
     * (UVM's, the default).  The faulting page itself is always entered.
     */
    uint64_t neighbour_reserve;
    uint64_t neighbour_pv_limit;
    /* The page-replacement policy: a built-in by name ("clock", UVM's
     * uvm_pdpolicy_clock, the default), or the caller's ops table
     * (struct xvm_pdpolicy_ops, below), which wins when not NULL. */
    const char *policy;
    const struct xvm_pdpolicy_ops *policy_ops;
};

/* Fills *cfg with the defaults above. */
XVM_API void xvm_config_init(struct xvm_config *cfg);
/* => the library's version, "MAJOR.MINOR.PATCH". */
XVM_API const char *xvm_version(void);
/* Sets every advice's window to back = forward = n (0 disables fault-ahead);
 * random stays 0/0 as in UVM. */
XVM_API void xvm_config_fault_ahead(struct xvm_config *cfg, unsigned n);

/*
 * => 0; EINVAL for an unknown profile or a bad configuration (RAM not in
 *    whole pages, fault-ahead windows above 64) or CPU profile (see
 *    xvm_cpu_profile_check); ERANGE for more RAM than the profile allows
 *    (xvm_profile_ram_max); ENOMEM.
 */
XVM_API int xvm_machine_create(const struct xvm_config *cfg, xvm_machine **out);
/* => the most RAM a machine of the profile may have (sgimips: 3 GiB, so
 *    that RAM and the flash window fit the 4 GiB its 4-byte PTEs reach;
 *    amd64: 8 TiB), or 0 for an unknown profile. */
XVM_API uint64_t xvm_profile_ram_max(const char *profile);
/* => the least RAM a machine of the profile may have (4 pages: the page
 *    daemon's targets need them), or 0 for an unknown profile. */
XVM_API uint64_t xvm_profile_ram_min(const char *profile);
XVM_API void xvm_machine_destroy(xvm_machine *m);
XVM_API uint32_t xvm_page_size(const xvm_machine *m);

/*
 * Walks the whole machine and verifies every invariant.  Returns 0, or
 * EINVAL with a description of the first violation in msg.
 */
XVM_API int xvm_machine_check(xvm_machine *m, char *msg, size_t msglen);

/*
 * Fault injection (tests, fuzzers): the alloc_n-th host allocation and the
 * frame_n-th frame allocation from now fail once (ENOMEM); 0 disables.
 * xvm_alloc_counts gives the machine's running totals of both.  The same
 * as xvm_inject() on XVM_INJECT_ALLOC and XVM_INJECT_FRAME (below), which
 * names more sites.
 */
XVM_API void xvm_inject_failures(xvm_machine *m, uint64_t alloc_n,
                                 uint64_t frame_n);
XVM_API void xvm_alloc_counts(const xvm_machine *m, uint64_t *allocs,
                              uint64_t *frames);

/* Frame use, for accounting. */
enum xvm_use {
    XVM_USE_FREE,
    XVM_USE_ANON,      /* private copies and zero-fills (anons) */
    XVM_USE_AOBJ,      /* shared anonymous memory */
    XVM_USE_PAGECACHE, /* file pages copied into RAM */
    XVM_USE_PAGETABLE, /* page-table pages */
    XVM_USE_ZERO,      /* the shared zero page */
    XVM_USE_BUFFER,    /* file-system metadata buffers */
    XVM_USE_KERNEL,    /* kernel memory: slabs of kernel objects, u-areas */
    XVM_USE_MD,        /* memory disks' images (paper §11.6): RAM outside
                          the managed pages, without vm_pages */
    XVM_USE_LOAN,      /* pages only loans hold (§11.3): their owner wrote
                          or freed them during the I/O */
    XVM_USE_COUNT
};

/*
 * Kernel memory: the kernel's data structures, charged to simulated RAM
 * (use XVM_USE_KERNEL) at the profile's size of each (NetBSD's; the
 * sizes and their sources are in doc/kernel-memory.md).  Arrays count
 * one unit per slot.
 */
enum xvm_kmem_type {
    XVM_KMEM_MAP_ENTRY,  /* struct vm_map_entry */
    XVM_KMEM_AMAP,       /* struct vm_amap */
    XVM_KMEM_AMAP_SLOTS, /* an amap's int arrays (am_slots, am_bckptr,
                            am_ppref): one int per slot each */
    XVM_KMEM_AMAP_ANONS, /* an amap's am_anon: one pointer per slot */
    XVM_KMEM_ANON,       /* struct vm_anon */
    XVM_KMEM_PV,         /* struct pv_entry, beyond the one a RAM page's
                            vm_page holds */
    XVM_KMEM_VMSPACE,    /* struct vmspace (with its vm_map) + struct pmap */
    XVM_KMEM_AOBJ,       /* struct uvm_aobj */
    XVM_KMEM_VNODE,      /* vnode + inode + in-core dinode */
    XVM_KMEM_PROC,       /* struct proc + struct lwp */
    XVM_KMEM_USPACE,     /* u-area and kernel stack (USPACE), whole pages */
    XVM_KMEM_DEVICE_VM_PAGE, /* struct vm_page of device pages: one per
                                page of each device segment, only in the
                                vm_page design (an array) */
    XVM_KMEM_TYPES
};
/* "map_entry", "amap", "amap_slots", ... */
XVM_API const char *xvm_kmem_type_name(enum xvm_kmem_type type);

/*
 * The machine's counters.  Every figure has one name and one meaning,
 * the same in this header, in `xipvm run --json` and in doc/figures.md,
 * which defines each of them.
 */
struct xvm_stats {
    uint64_t page_size;
    uint64_t ram_pages;                 /* frames of RAM managed: configured,
                                           less memory disks' */
    uint64_t md_pages;                  /* frames of RAM memory disks hold */
    uint64_t pages[XVM_USE_COUNT];      /* frames in use now, by use */
    uint64_t pages_peak[XVM_USE_COUNT]; /* each use's own maximum */
    uint64_t ram_used_peak;             /* frames in use (not free) at most */
    uint64_t vm_page_bytes;             /* modelled sizeof(struct vm_page) */
    uint64_t vm_page_metadata_bytes;    /* the kernel's vm_page array for
                                               the RAM configured: ram_pages *
                                               vm_page_bytes */
    uint64_t device_pages;              /* pages in device segments */
    uint64_t
        device_pages_mapped_peak; /* device pages mapped at once, at most */
    /* faults */
    uint64_t faults, faults_read, faults_write, faults_exec;
    uint64_t faults_upper, faults_lower;
    uint64_t zero_fills, cow_promotions, cow_from_device, zero_page_maps;
    uint64_t neighbour_maps, device_maps;
    uint64_t amap_copies, enomem;
    /* beyond the paper (doc/beyond-the-paper.md) */
    uint64_t neighbour_skipped; /* fault-ahead mappings the reserve skipped */
    uint64_t forks;             /* address spaces forked */
    uint64_t amap_slots_copied; /* slots of amaps copied (fork's eager
                                    copies under amap-copy, needs-copy) */
    uint64_t sharer_scans;      /* amap-copy: promotions of a device page
                                    in an amap shared by minherit, whose
                                    sharers were found by their maps */
    uint64_t device_metadata_bytes; /* vm_pages of device segments (the
                                       vm_page design), bytes */
    uint64_t loans;                 /* loans made (xvm_loan_start), §11.3 */
    uint64_t loans_active;          /* loans not yet ended */
    uint64_t loan_pages;            /* pages lent, RAM and device */
    uint64_t loan_device_pages;     /* of those, device pages (kept per I/O) */
    uint64_t loan_breaks;           /* writes during a loan that copied */
    uint64_t oom_kills;             /* processes killed for lack of memory */
    /* the page daemon (doc/sizing.md) */
    uint64_t freemin, freetarg;            /* its free targets, pages */
    uint64_t pages_active, pages_inactive; /* its queues now */
    uint64_t pd_runs;                      /* scans run */
    uint64_t pd_scanned;                   /* inactive pages looked at */
    uint64_t pd_reactivated; /* found referenced (or kept), requeued */
    uint64_t pd_deactivated; /* moved to the inactive queue */
    uint64_t pd_freed;       /* pages freed */
    uint64_t reclaimed;      /* of those, page-cache pages */
    uint64_t refaults;       /* page-cache fills of pages it had freed */
    uint64_t readahead_used, readahead_unused; /* read-ahead pages used,
                                                  and freed unused */
    /* swap */
    uint64_t swap_pages;                /* size of the swap area */
    uint64_t swap_used, swap_used_peak; /* slots in use */
    uint64_t swap_outs, swap_ins;       /* pages written, read */
    uint64_t swap_ns;                   /* their simulated time */
    uint64_t io_ns;                     /* flash_ns + swap_ns */
    /* pmap and the simulator's software TLB */
    uint64_t pv_entries, pv_entries_peak, pv_device, pv_device_peak;
    uint64_t soft_tlb_hits, soft_tlb_misses, soft_tlb_flushes;
    uint64_t superpages, superpage_demotions; /* large mappings of text */
    /* the CPU model: time (ns rounded) and its breakdown, which adds up */
    uint64_t cycles, time_ns;
    uint64_t time_ns_exec, stall_ns_ram, stall_ns_flash, time_ns_tlb;
    uint64_t time_ns_kernel;
    uint64_t i1_refs, i1_misses, d1_refs, d1_misses, ll_misses;
    uint64_t tlb_misses, tlb_refills; /* the modelled TLB */
    uint64_t ram_line_fills, ram_writebacks, nor_line_fills;
    /* flash, by path: the block interface and in place (XIP) */
    uint64_t flash_block_reads, flash_block_bytes_read;
    uint64_t flash_xip_reads, flash_xip_bytes_read;
    uint64_t flash_bytes_read; /* block + in place */
    uint64_t flash_block_ns;   /* the block interface's time */
    uint64_t flash_ns;         /* stall_ns_flash + flash_block_ns */
    uint64_t pagecache_fills, readahead_pages, fallback_pages;
    uint64_t xip_hole_maps;
    uint64_t buf_hits, buf_misses;
    uint64_t buf_drained; /* buffers the page daemon freed */
    /* kernel memory: per type, units live now and at most, bytes a unit */
    uint64_t kmem_units[XVM_KMEM_TYPES];
    uint64_t kmem_units_peak[XVM_KMEM_TYPES];
    uint64_t kmem_unit_bytes[XVM_KMEM_TYPES];
    uint64_t kmem_bytes;      /* sum of units x their size, now */
    uint64_t kmem_bytes_peak; /* its maximum */
    uint64_t kmem_refused;    /* kernel allocations RAM could not serve */
};
XVM_API void xvm_machine_stats(const xvm_machine *m, struct xvm_stats *st);
/* "anon", "aobj", "page_cache", "page_table", "zero", "buffer", "kernel",
 * "md", "loan" ("free"). */
XVM_API const char *xvm_use_name(enum xvm_use use);

/*
 * The counters of struct xvm_stats as a table, in declaration order (but
 * io_ns, which follows its part flash_ns): each scalar's name (its field
 * name, and its JSON key) and where it is.
 * The arrays are not in it: pages[] and pages_peak[] (one value per
 * use), kmem_units[], kmem_units_peak[] and kmem_unit_bytes[] (one per
 * type).
 */
struct xvm_figure {
    const char *name;
    size_t offset; /* of its uint64_t in struct xvm_stats */
};
XVM_API const struct xvm_figure *xvm_stats_figures(size_t *n);

/*
 * RAM by kind, the rows of every report: the frames of each use, and the
 * kernel's vm_page array for the frames in use (what a RAM sized to the
 * run would pay).  The rows add up to the total.
 */
enum xvm_ram_kind {
    XVM_RAM_ANON, /* = XVM_USE_ANON ... */
    XVM_RAM_AOBJ,
    XVM_RAM_PAGECACHE,
    XVM_RAM_PAGETABLE,
    XVM_RAM_ZERO,
    XVM_RAM_BUFFER,
    XVM_RAM_KERNEL,  /* = XVM_USE_KERNEL */
    XVM_RAM_MD,      /* = XVM_USE_MD: memory-disk images */
    XVM_RAM_LOAN,    /* ... = XVM_USE_LOAN: pages only loans hold */
    XVM_RAM_VM_PAGE, /* vm_page metadata of the (managed) frames in use */
    XVM_RAM_KINDS
};
XVM_API const char *xvm_ram_kind_name(enum xvm_ram_kind kind);

/* The figures users read, computed by the library (doc/figures.md). */
struct xvm_report {
    struct xvm_stats st;             /* every counter */
    uint64_t ram_now[XVM_RAM_KINDS]; /* bytes by kind now */
    uint64_t ram_now_total;
    uint64_t ram_peak[XVM_RAM_KINDS]; /* bytes by kind when the total
                                               peaked: they add up to it */
    uint64_t ram_peak_total;          /* the most RAM in use at once */
    double vm_page_share_percent;     /* vm_page_bytes of page_size */
    uint64_t device_vm_page_bytes;    /* what the device pages mapped
                                               at peak would have cost in
                                               vm_pages as RAM pages */
};
XVM_API void xvm_report(const xvm_machine *m, struct xvm_report *r);

/* What one run (XIP) saves against another (copy): copy minus xip;
 * and what it costs: its time over the other's. */
struct xvm_savings {
    int64_t ram_peak[XVM_RAM_KINDS];
    int64_t ram_peak_total;
    double ram_peak_total_percent; /* of copy's total; 0 if it is 0 */
    double slowdown;               /* time_ns xip / copy; 0 if copy's is 0 */
    /* ram_peak[k] as a share of copy's ram_peak[k]; 0 if that is 0 */
    double ram_peak_percent[XVM_RAM_KINDS];
};
XVM_API void xvm_report_savings(const struct xvm_report *xip,
                                const struct xvm_report *copy,
                                struct xvm_savings *s);

/*
 * The timeline: RAM by kind over a run, at a bounded number of samples
 * that always cover the whole run (the first near its start), each with
 * the most RAM in use since the sample before it, so no peak is lost;
 * and marks, labelled points with the whole report.  The caller's clock
 * (`at`, events for a replay) only ever grows.
 */
#define XVM_TIMELINE_MAX 512
#define XVM_MARKS_MAX    4096
#define XVM_LABEL_MAX    64

struct xvm_sample {
    uint64_t at;
    uint64_t ram[XVM_RAM_KINDS]; /* bytes by kind at `at` */
    uint64_t ram_total;
    uint64_t ram_total_max; /* the most since the last sample */
};

struct xvm_mark {
    char label[XVM_LABEL_MAX];
    uint64_t event;
    struct xvm_report rep;
};

struct xvm_timeline {
    const struct xvm_sample *samples; /* valid until the next call */
    size_t nsamples;
    const struct xvm_mark *marks;
    size_t nmarks;
};
/* Takes a sample when one is due at `at` (cheap when none is). */
XVM_API void xvm_timeline_tick(xvm_machine *m, uint64_t at);
/* => the event count at which xvm_timeline_tick takes its next sample. */
XVM_API uint64_t xvm_timeline_due(const xvm_machine *m);
/* Takes a sample at `at` now (the end of a run). */
XVM_API void xvm_timeline_sample(xvm_machine *m, uint64_t at);
/* A mark under label (cut to XVM_LABEL_MAX - 1 bytes; one an earlier
 * mark has becomes label#2, label#3, ...: each mark its own label).
 * => 0, E2BIG past XVM_MARKS_MAX marks, ENOMEM. */
XVM_API int xvm_timeline_mark(xvm_machine *m, const char *label, uint64_t at);
XVM_API void xvm_timeline_get(const xvm_machine *m, struct xvm_timeline *t);

/*
 * CPU profiles: a machine's caches, TLB and latencies, the parameters of
 * its time model (doc/time-model.md).  A profile is text, `key = value`
 * lines with `#` comments; the built-in ones (sgimips, amd64, cortex-a7)
 * are files installed under DATADIR/xipvm/cpu and compiled in.
 */
/* => the i-th built-in profile's name; NULL past the last. */
XVM_API const char *xvm_cpu_builtin(size_t i);
/* => the built-in profile's file, or NULL when there is none of name. */
XVM_API const char *xvm_cpu_builtin_text(const char *name);
/* A new profile holding the built-in's values, or (builtin NULL) none
 * set.  => 0, ENOENT (no such built-in), ENOMEM. */
XVM_API int xvm_cpu_profile_create(const char *builtin, xvm_cpu_profile **out);
XVM_API void xvm_cpu_profile_destroy(xvm_cpu_profile *p);
/* Reads a profile's text over p (later keys override earlier ones).
 * => 0, or EINVAL with "ORIGIN:LINE: KEY: problem" in err (an unknown
 *    key, a bad value, a zero clock, a bad cache geometry); p is then
 *    unchanged, even by the lines before the bad one. */
XVM_API int xvm_cpu_profile_parse(xvm_cpu_profile *p, const char *text,
                                  const char *origin, char *err, size_t errlen);
/* Sets one key, as a line `key = value` would (cache geometries take
 * cachegrind's SIZE,ASSOC,LINE).  => 0, or EINVAL with "KEY: problem". */
XVM_API int xvm_cpu_profile_set(xvm_cpu_profile *p, const char *key,
                                const char *value, char *err, size_t errlen);
/* Is p whole and consistent (a clock, valid caches and TLB, super page
 * sizes the TLB holds)?  => 0, or EINVAL with "KEY: problem". */
XVM_API int xvm_cpu_profile_check(const xvm_cpu_profile *p, char *err,
                                  size_t errlen);

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
/* A process's space (xvm_proc_vmspace) is its process's: destroying it
 * does nothing (xvm_exit frees it). */
XVM_API void xvm_vmspace_destroy(xvm_vmspace *vs);
/* => the machine the address space belongs to. */
XVM_API xvm_machine *xvm_vmspace_machine(const xvm_vmspace *vs);

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
XVM_API int xvm_mprotect(xvm_vmspace *vs, uint64_t addr, uint64_t len,
                         int prot);
XVM_API int xvm_minherit(xvm_vmspace *vs, uint64_t addr, uint64_t len,
                         enum xvm_inherit inh);
XVM_API int xvm_madvise(xvm_vmspace *vs, uint64_t addr, uint64_t len,
                        enum xvm_advice adv);
/* Wires pages (faults them in, they stay resident); refused with EINVAL
 * for device pages (paper §11.4), with EAGAIN when more than a third of
 * RAM would be wired (NetBSD's wiredmax).  Out of RAM: ENOMEM, nothing
 * left wired, and no process killed. */
XVM_API int xvm_mlock(xvm_vmspace *vs, uint64_t addr, uint64_t len);
XVM_API int xvm_munlock(xvm_vmspace *vs, uint64_t addr, uint64_t len);

/*
 * Access n bytes at va, any alignment, crossing pages.  A TLB miss walks
 * the page tables; a missing or insufficient mapping runs the fault
 * handler and retries.  EFAULT: nothing mapped; EACCES: protection;
 * EINVAL: vs NULL, or buf NULL with n > 0; or the fault's error (ENOMEM,
 * a pager's EIO).  An access that fails part way has moved the bytes of
 * the pages before the one that failed; no count is returned.
 */
XVM_API int xvm_read(xvm_vmspace *vs, uint64_t va, void *buf, size_t n);
XVM_API int xvm_write(xvm_vmspace *vs, uint64_t va, const void *buf, size_t n);
XVM_API int xvm_fetch(xvm_vmspace *vs, uint64_t va, void *buf, size_t n);

/* One access of a batch: what xvm_fetch, xvm_read or xvm_write makes. */
enum xvm_access_kind { XVM_ACCESS_FETCH, XVM_ACCESS_READ, XVM_ACCESS_WRITE };
struct xvm_access {
    uint64_t va;
    uint32_t len;
    uint32_t kind; /* enum xvm_access_kind */
};
/*
 * n accesses in order, each with the faults, counts and costs that
 * xvm_fetch, xvm_read or xvm_write would give it, but no bytes: a read
 * discards what it reads, a write stores zeros.  A trace's replay at
 * speed: no call per access, no copy.
 * => 0 with *done (if not NULL) = n; else the error of access a[*done]
 *    (those before it were made; it was not, or in part as xvm_write's
 *    would be).  EINVAL: vs NULL, a NULL with n > 0, a kind out of range.
 */
XVM_API int xvm_access_batch(xvm_vmspace *vs, const struct xvm_access *a,
                             size_t n, size_t *done);

/*
 * Page loaning (UVM's uvm_loan to kernel pages, paper §11.3): a zero-copy
 * send.  The pages of [va, va+len) are lent to the kernel for the
 * duration of an I/O: faulted in for reading, and write-protected in
 * every address space.  The I/O reads them in place (xvm_loan_read; a
 * device page is read straight from flash).  A process that writes a
 * loaned page meanwhile gets a copy (a loan break): the I/O still sends
 * the bytes of the loan.  RAM pages count their loans in their vm_page;
 * device pages have none, so their loan state lives in the loan, per I/O,
 * as the paper proposes.  Loans outlive the mapping and the process; a
 * page nobody else holds is freed when its last loan ends.
 * => 0 and *out; EINVAL (len 0 or above XVM_LOAN_MAX), EFAULT (a page
 *    not mapped), EACCES (not readable), EBUSY (a page lent 65535 times
 *    at once), ENOMEM.  On error nothing is lent.
 */
typedef struct xvm_loan xvm_loan;
#define XVM_LOAN_MAX (UINT64_C(1) << 32) /* bytes of one loan, at most */
XVM_API int xvm_loan_start(xvm_vmspace *vs, uint64_t va, uint64_t len,
                           xvm_loan **out);
/* The I/O reads n bytes at off of the loaned range.  => 0, or EINVAL past
 * its end. */
XVM_API int xvm_loan_read(const xvm_loan *ln, uint64_t off, void *buf,
                          size_t n);
/* The I/O is done: the loan ends.  NULL is ignored. */
XVM_API void xvm_loan_end(xvm_loan *ln);

/*
 * Resolves va to a physical address through the page tables (no fault).
 * => EFAULT: nothing is mapped at va; ENOENT: va is mapped but the page
 *    tables hold no translation for it yet (not faulted in, or dropped);
 *    an access would fault it in.  xvm_page_info() says more.
 */
XVM_API int xvm_extract(xvm_vmspace *vs, uint64_t va, uint64_t *pa);

/*
 * NOR flash: a memory-mappable device holding a read-only file-system
 * image.  Its window is registered as a device segment at phys_base, so
 * its pages are device pages; a block interface serves the file system's
 * metadata and the copy-mode page cache.  Run-time writes are refused
 * (EROFS): to update the image, unmount, close, open the new image, mount.
 */
typedef struct xvm_flash xvm_flash;

/* The block device an image lives on. */
enum xvm_device {
    XVM_DEVICE_NOR, /* NOR flash: its own address range, no RAM */
    XVM_DEVICE_MD   /* a memory disk (md(4)): the image in RAM (§11.6) */
};

struct xvm_flash_config {
    uint64_t phys_base;     /* 0: the first free 16 MiB boundary after RAM */
    uint32_t ns_per_access; /* block-interface cost model: each read ... */
    uint32_t ns_per_byte;   /* ... plus each byte (default 90 + 13/B) */
    int xip_capable;        /* memory-mappable (NOR); default 1 */
    enum xvm_device device; /* default XVM_DEVICE_NOR */
};
/* A NULL config to xvm_flash_open/attach takes these defaults but the
 * block-interface cost of the machine's CPU profile (block_access_ns,
 * block_byte_ns).  Reads in place (XIP) cost what the CPU model says:
 * line fills from NOR at the profile's nor_* latencies. */
XVM_API void xvm_flash_config_init(struct xvm_flash_config *cfg);
/*
 * A memory disk (paper §11.6): the image is loaded into the top of the
 * machine's RAM, as a boot loader loads an md(4) root.  Those frames
 * leave the managed pages (no vm_page; reported as use and kind `md`)
 * and, xip_capable, become a device segment at their own address, so an
 * XIP mount maps the image's pages in place and copy mode holds a
 * second copy in the page cache.  Costs: block reads RAM's (60 ns +
 * 1 ns/B); in place, the CPU model fills its lines at the profile's RAM
 * latency (ram_line_ns), not NOR's.
 * xvm_flash_open and _attach then answer EBUSY when those frames were
 * ever allocated (open it right after xvm_machine_create), ENOMEM when
 * the rest of RAM would not exceed the page daemon's free target (its
 * own, unless configured), and EINVAL for a phys_base (it is the RAM's).
 * The default free targets follow the rest of RAM.  xvm_flash_close
 * gives the frames back to RAM.
 */
XVM_API void xvm_md_config_init(struct xvm_flash_config *cfg);
/* Maps the image file read-only; the file is never modified. */
XVM_API int xvm_flash_open(xvm_machine *m, const char *path,
                           const struct xvm_flash_config *cfg, xvm_flash **out);
/* Uses the caller's buffer (which must outlive the flash) as the image. */
XVM_API int xvm_flash_attach(xvm_machine *m, const void *buf, uint64_t len,
                             const struct xvm_flash_config *cfg,
                             xvm_flash **out);
/* EBUSY while mounted, while any of its pages is mapped or lent, or
 * while a device object (xvm_devobj_create) covers any of its window. */
XVM_API int xvm_flash_close(xvm_flash *f);
XVM_API uint64_t xvm_flash_phys_base(const xvm_flash *f);
XVM_API uint64_t xvm_flash_size(const xvm_flash *f);
/* The block interface (strategy-style reads), counted and costed. */
XVM_API int xvm_flash_read(xvm_flash *f, uint64_t off, void *buf, size_t len);
XVM_API int xvm_flash_write(xvm_flash *f, uint64_t off, const void *buf,
                            size_t len);

/*
 * Swap (optional; most NOR products have none): a swap area on a block
 * device with its own cost model, like swapctl -a.  Without swap, a fault
 * that cannot get memory after the page daemon has run kills its process
 * (xvm_oom_next).  With swap, the page daemon pages anons and shared
 * anonymous memory out, and faults page them back in.
 */
struct xvm_swap_config {
    uint64_t bytes;           /* size: whole pages */
    uint32_t ns_read_access;  /* page-in: each transfer ...        */
    uint32_t ns_read_byte;    /* ... plus each byte                */
    uint32_t ns_write_access; /* page-out: each transfer ...       */
    uint32_t ns_write_byte;   /* ... plus each byte (doc/sizing.md)  */
};
/* Fills *cfg with an eMMC-class device's costs and no size. */
XVM_API void xvm_swap_config_init(struct xvm_swap_config *cfg);
/* => EINVAL for a bad size, EBUSY when the machine has swap already. */
XVM_API int xvm_swapon(xvm_machine *m, const struct xvm_swap_config *cfg);
/* => the largest swap area a machine of the profile takes (2^32 - 2
 *    pages: slots have 32-bit numbers), or 0 for an unknown profile. */
XVM_API uint64_t xvm_profile_swap_max(const char *profile);

/* Read-only FFS on a flash, mounted with or without XIP (paper §4.4). */
typedef struct xvm_mount xvm_mount;
typedef struct xvm_file xvm_file;

#define XVM_MOUNT_XIP 0x1

struct xvm_mount_config {
    int flags;          /* XVM_MOUNT_XIP */
    unsigned readahead; /* pages read ahead by the vnode pager; default 4 */
    unsigned buffers;   /* metadata buffer cache, in pages; default 16 */
};
XVM_API void xvm_mount_config_init(struct xvm_mount_config *cfg);
/* => EINVAL for a bad image, EIO for a valid superblock on a device too
 *    short for its file system (a truncated image); EOPNOTSUPP for xip on
 *    a device that is not memory-mappable. */
XVM_API int xvm_mount_flash(xvm_flash *f, const struct xvm_mount_config *cfg,
                            xvm_mount **out);
/* EBUSY while files are open or mapped. */
XVM_API int xvm_unmount(xvm_mount *mp);
XVM_API int xvm_mount_is_xip(const xvm_mount *mp);

#define XVM_O_RDONLY 0
#define XVM_O_WRONLY 1
#define XVM_O_RDWR   2

/* Regular files only: EISDIR for a directory, EACCES for anything else
 * that is not a regular file; writing modes: EROFS.  (spawn, exec and a
 * trace's mmap PATH refuse every non-regular file with EACCES.) */
XVM_API int xvm_open(xvm_mount *mp, const char *path, int oflags,
                     xvm_file **out);
XVM_API void xvm_close(xvm_file *f);
XVM_API uint64_t xvm_file_size(const xvm_file *f);
/* read(): through the same object as mmap, so both see the same bytes. */
XVM_API int xvm_pread(xvm_file *f, uint64_t off, void *buf, size_t len,
                      size_t *done);
/*
 * mmap of a file: max_protection follows the open mode (a read-only open
 * allows no writable shared mapping: EACCES, as Linux and NetBSD answer).
 * Private mappings are copy-on-write.
 */
XVM_API int xvm_mmap_file(xvm_vmspace *vs, uint64_t *addr, uint64_t len,
                          int prot, int flags, xvm_file *f, uint64_t off);

/*
 * Processes: a table of pids in the machine.  Programs are ELF binaries
 * (ELF32/ELF64, either byte order, ET_EXEC or ET_DYN placed at
 * 0x01000000) read from a mount; text and data map the file private, bss
 * and the brk heap are anonymous zero-fill, and a stack with argv and the
 * auxiliary vector sits at the top of the address space.  A dynamically
 * linked program (PT_INTERP) gets its interpreter from the same mount,
 * mapped too (an ET_DYN one at 0x20000000, or above a program reaching
 * there), and starts in it, as NetBSD's exec_elf does; the libraries are
 * then the interpreter's own mmaps.
 * Errors: ESRCH (no such pid), EEXIST (pid in use), ENOENT (no such
 * program or interpreter), ENOEXEC (not a loadable ELF, or a bad
 * interpreter), E2BIG (more than 1024 arguments, or more than 256 KiB
 * of them with their NULs: NetBSD's ARG_MAX); the caller's process is
 * left as it was.
 */
struct xvm_proc_info {
    uint64_t entry; /* where execution starts: the interpreter's entry
                       when there is one, else the program's */
    uint64_t stack_top, stack_pointer;
    uint64_t brk_base, brk;
    uint64_t load_base;     /* 0 for ET_EXEC */
    uint64_t program_entry; /* the program's entry (AT_ENTRY) */
    uint64_t interp_base;   /* the interpreter's first page (AT_BASE), or 0 */
};
XVM_API int xvm_spawn(xvm_machine *m, xvm_mount *mp, uint32_t pid,
                      const char *path, unsigned argc, const char *const *argv);
XVM_API int xvm_fork(xvm_machine *m, uint32_t ppid, uint32_t cpid);
XVM_API int xvm_exec(xvm_machine *m, uint32_t pid, const char *path,
                     unsigned argc, const char *const *argv);
XVM_API int xvm_exit(xvm_machine *m, uint32_t pid);
/*
 * Out of memory.  A process whose fault (or mmap, brk) cannot get memory
 * after the page daemon has run is killed, as NetBSD kills it ("killed:
 * out of swap"); so is one whose spawn or exec cannot get memory, and
 * the child of a fork that cannot (the parent gets ENOMEM and goes on).
 * The call that ran out returns ENOMEM; the kill happens at the next
 * spawn, fork, exec, exit, brk or xvm_oom_next.  Only a full RAM kills:
 * injected failures and a lack of address space only fail their call,
 * as do munmap, mprotect, minherit, madvise, mlock and munlock when they
 * cannot split a map entry.
 * => 0 and the pid of the next process killed (in order), or ENOENT.
 */
XVM_API int xvm_oom_next(xvm_machine *m, uint32_t *pid);
/* Moves the break: grows or shrinks the anonymous heap (page granular). */
XVM_API int xvm_brk(xvm_machine *m, uint32_t pid, uint64_t addr);
/* => the process's address space, or NULL. */
XVM_API xvm_vmspace *xvm_proc_vmspace(xvm_machine *m, uint32_t pid);
XVM_API int xvm_proc_info(xvm_machine *m, uint32_t pid,
                          struct xvm_proc_info *info);

/* How a file's pages would be mapped under XIP (paper §11.5). */
struct xvm_file_info {
    const char *path;
    int type; /* 1 file, 2 directory, 3 symlink, 4 other */
    uint64_t size;
    uint64_t alloc_bytes;
    uint64_t pages;          /* file pages */
    uint64_t xip_pages;      /* map straight from flash */
    uint64_t hole_pages;     /* map the zero page */
    uint64_t fallback_pages; /* need a page-cache copy */
    /* of those, why: the first test of the XIP pager's rule each fails
     * (doc/figures.md, "fsinfo") */
    uint64_t spanning_pages;   /* blocks smaller than a page: a page spans
                                  several (never with 4 KiB pages: FFS
                                  blocks are 4 KiB or more) */
    uint64_t unaligned_pages;  /* starts off a page boundary on flash: a
                                  fragment tail makefs put at a fragment
                                  boundary */
    uint64_t tail_short_pages; /* in a fragment tail that ends before the
                                  page does: other files' bytes follow */
    uint64_t past_eof_pages;   /* bytes past EOF not zero on flash */
    uint64_t ino;              /* its inode number (as the entry says) */
    int error;                 /* 0, or why the entry could not be read */
    const char *problem;       /* with error: "corrupt directory entry",
                                "unreadable inode", "bad block map",
                                "directory loop", ... */
    int first_link;            /* 1 at a regular file's first path told:
                                  its inode's figures are new there (hard
                                  links repeat them) */
};
/*
 * Calls fn for every file, directory and link, depth first.  Each regular
 * file's inode is classified once (hard links share it), holes cost
 * nothing: linear in the image's size.  Damage does not stop the walk: an
 * entry that cannot be read (a corrupt directory record, its inode, its
 * block map, a loop) comes to fn with error and problem set and its path
 * (a corrupt record's name as far as it reads, bytes shown as \xNN), and
 * the walk goes on.  => 0; the first entry's error once all are told;
 * fn's non-zero value (which stops the walk); ENOMEM.
 */
XVM_API int xvm_fsinfo(xvm_mount *mp,
                       int (*fn)(void *arg, const struct xvm_file_info *fi),
                       void *arg);

/*
 * The totals of an xvm_fsinfo walk, summed as it tells each entry
 * (xvm_fsinfo_add; zero the struct first).  `paths` sums the regular
 * files' counts over their paths (a hard link under each, as `files`
 * lists them); `inodes_sum` over their inodes, each once: what the
 * image holds, as du(1) counts (doc/figures.md, "fsinfo").  The sums'
 * path, type, ino, error and problem stay zero.
 */
struct xvm_fsinfo_totals {
    uint64_t regular_files;      /* paths of regular files told */
    uint64_t inodes;             /* their distinct inodes */
    uint64_t inodes_with_copies; /* of those, with fallback pages */
    uint64_t damaged;            /* entries told with an error */
    struct xvm_file_info paths;
    struct xvm_file_info inodes_sum;
};
/* Adds one entry xvm_fsinfo told (directories and links count nothing;
 * a damaged entry counts in `damaged` only). */
XVM_API void xvm_fsinfo_add(struct xvm_fsinfo_totals *t,
                            const struct xvm_file_info *fi);

/*
 * The per-file report: what the run did with each regular file of a
 * mount, counted by the file system and the fault handler as it ran
 * (doc/figures.md, "Files").  Page figures are distinct pages of the
 * file, over the whole run.
 */
struct xvm_file_report {
    const char *path;           /* in the image (valid during the call) */
    uint64_t size;              /* bytes */
    uint64_t file_pages;        /* pages the file spans */
    uint64_t pages_touched;     /* asked of its pager by a fault or read() */
    uint64_t pages_in_place;    /* of those, mapped from flash (XIP) */
    uint64_t pages_cached;      /* read into the page cache (copy mode,
                                   read-ahead, XIP fallbacks) */
    uint64_t pages_copied;      /* copy-on-write copies of its pages
                                   into anons (data, relocations): one
                                   per process that wrote the page */
    uint64_t text_pages_copied; /* of those, in mappings that were ever
                                   executable: writes to text */
    uint64_t processes;         /* address spaces that mapped the file
                                   (exec's own mappings included) */
    int textrel;                /* an ELF asking for text relocations
                                   (DT_TEXTREL, DF_TEXTREL) that some
                                   process mapped */
    uint64_t ino;               /* its inode: hard links share it */
    uint64_t pages_written;     /* distinct pages copied on write */
};
/* Calls fn for every regular file of the mount, depth first; a non-zero
 * return from fn stops the walk and is returned.  Reads nothing that
 * counts (inspection is quiet).  An entry that cannot be read (a corrupt
 * image) is passed over: once every other file is told, its error
 * (EINVAL, EIO) is returned; xvm_fsinfo names each.  ENOMEM. */
XVM_API int xvm_file_report(xvm_mount *mp,
                            int (*fn)(void *arg,
                                      const struct xvm_file_report *fr),
                            void *arg);

/*
 * The per-page report: one page of a file as the run used it (what an
 * XIP advisor weighs, doc/figures.md "Pages").  Counted with the file's
 * figures above, over the whole run.
 */
struct xvm_page_report {
    uint64_t page;    /* index of the page in the file */
    uint64_t touches; /* faults and read()s that asked the file's pager
                         for it (at most 2^28 - 1) */
    uint64_t copies;  /* copy-on-write copies of it into anons (at most
                         2^28 - 1) */
    int in_place;     /* given as a device page (XIP) at least once */
    int cached;       /* read into the page cache at least once
                         (read-ahead too) */
    int written;      /* copied on write at least once: written */
};
/* Calls fn for every page of the regular file with inode ino
 * (xvm_file_report's ino) that the run touched, cached or copied, in
 * page order.  => 0; ENOENT when ino is no regular file of the mount;
 * fn's non-zero value (which stops the walk); EINVAL; ENOMEM. */
XVM_API int xvm_file_pages(xvm_mount *mp, uint64_t ino,
                           int (*fn)(void *arg,
                                     const struct xvm_page_report *pr),
                           void *arg);

/* ==================================================================
 * For VM developers: introspection, user pagers, targeted fault
 * injection.  (doc/libxipvm.3 is the tour; doc/design.md the decisions.)
 * ================================================================== */

/* ---- Introspection: what one page, one address space holds ---- */

/* What a virtual address shows. */
enum xvm_page_kind {
    XVM_PAGE_UNMAPPED,     /* no mapping: an access is EFAULT */
    XVM_PAGE_NOT_RESIDENT, /* mapped, but no page yet: an access faults */
    XVM_PAGE_RAM,          /* a frame of RAM (anon, object page) */
    XVM_PAGE_DEVICE,       /* a device page (XIP flash, device object) */
    XVM_PAGE_ZERO,         /* the machine's shared zero page */
    XVM_PAGE_KINDS
};

/* Who supplies the page at an address. */
enum xvm_owner {
    XVM_OWNER_NONE,   /* anonymous memory with no anon yet (zero-fill) */
    XVM_OWNER_ANON,   /* an anon: a private page in the entry's amap */
    XVM_OWNER_OBJECT, /* the mapped object's pager */
};

/* The pager behind an object. */
enum xvm_object_kind {
    XVM_OBJECT_NONE,   /* anonymous memory: no object */
    XVM_OBJECT_AOBJ,   /* shared anonymous memory */
    XVM_OBJECT_DEVICE, /* xvm_devobj_create */
    XVM_OBJECT_VNODE,  /* a file through the page cache (copy mode) */
    XVM_OBJECT_XIP,    /* a file on an XIP mount: in place from flash */
    XVM_OBJECT_USER,   /* xvm_object_create: the caller's pager */
};

struct xvm_page_info {
    enum xvm_page_kind kind;
    uint64_t pa;          /* the page's physical address (RAM, DEVICE,
                                ZERO); else 0 */
    int mapped;           /* this space's page tables translate va now */
    int writable;         /* ... and that translation allows writes */
    unsigned prot;        /* what it allows, XVM_PROT_* (0 unmapped) */
    unsigned pv_count;    /* mappings of the page, all spaces (0 for a
                             device page under the amap-copy design,
                             which tracks none) */
    uint32_t wired;       /* wired mappings of the page (mlock) */
    int modified;         /* some mapping of the page wrote it */
    int referenced;       /* some mapping of the page accessed it (0,
                             as pv_count, for a device page under the
                             amap-copy design) */
    enum xvm_owner owner; /* who supplies it */
    uint32_t anon_refs;   /* ANON: amap slots sharing the anon */
    uint32_t object_refs; /* OBJECT: references to the object */
    enum xvm_object_kind object_kind; /* the entry's object, or NONE */
    uint64_t object_offset;           /* the object's offset of va's page */
    enum xvm_use use; /* RAM and ZERO: what the frame is used for */
    uint32_t loans;   /* RAM and ZERO: loans holding the page (§11.3) */
};
/*
 * Describes the page at va in vs: the map entry, the amap, the object's
 * resident pages and the page tables, without faulting, counting or
 * changing anything.  A page the VM holds but this space's tables do not
 * translate yet (after a fork, or a resident page-cache page) has its
 * kind with mapped = 0; XIP device pages are always there to be mapped.
 * => 0 (kind UNMAPPED when nothing is mapped), EINVAL for NULL arguments.
 */
XVM_API int xvm_page_info(xvm_vmspace *vs, uint64_t va,
                          struct xvm_page_info *out);

struct xvm_map_entry_info {
    uint64_t start, end;     /* [start, end), page aligned */
    unsigned prot, max_prot; /* XVM_PROT_* */
    enum xvm_inherit inherit;
    enum xvm_advice advice;
    int shared;     /* MAP_SHARED; else private, copy-on-write */
    int needs_copy; /* its amap is copied before its next write */
    int wired;      /* mlock'ed */
    int has_amap;   /* holds private pages (anons), or will share them */
    enum xvm_object_kind object_kind; /* NONE: anonymous memory */
    uint64_t object_offset;           /* of start */
};
/*
 * The map entry containing addr or, if none, the first one after it.
 * Walk a space with
 *   for (uint64_t a = 0; xvm_map_entry_next(vs, a, &ei) == 0; a = ei.end)
 * => 0, ENOENT past the last entry, EINVAL for NULL arguments.
 */
XVM_API int xvm_map_entry_next(xvm_vmspace *vs, uint64_t addr,
                               struct xvm_map_entry_info *out);

/* One address space's pages, by what its page tables translate now. */
struct xvm_vmspace_stats {
    uint64_t map_entries;
    uint64_t virtual_bytes; /* the entries' sizes, added */
    uint64_t resident;      /* pages translated: the sum of resident_kind */
    uint64_t resident_kind[XVM_PAGE_KINDS]; /* RAM, DEVICE, ZERO */
    uint64_t resident_use[XVM_USE_COUNT];   /* RAM and ZERO, by frame use */
    uint64_t writable;    /* of them, translations allowing writes */
    uint64_t wired;       /* of them, wired translations */
    uint64_t page_tables; /* table pages of this space, root included */
};
XVM_API int xvm_vmspace_stats(xvm_vmspace *vs, struct xvm_vmspace_stats *st);

/* ---- User pagers: objects whose pages come from the caller ---- */

/*
 * A page handle (paper §6.2): a RAM page the pager allocated for its
 * object (xvm_object_page_alloc), a device page (xvm_device_page), or the
 * zero page (xvm_zero_page).  Handles name pages; they are not addresses.
 */
typedef uint64_t xvm_page_handle;
#define XVM_PAGE_HANDLE_NONE UINT64_MAX

/* get flags: resident pages only, no I/O, no allocation (the fault's
 * neighbours and the checker ask so). */
#define XVM_PGO_LOCKED 0x1

/*
 * get and put run inside a fault or a page-daemon scan that holds map
 * entries and pages (UVM holds the map's lock): from them, the calls
 * that fault or change address spaces (mmap, munmap, mprotect, minherit,
 * madvise, mlock, munlock, an access that misses, fork, loans, process
 * calls) fail with EDEADLK and change nothing; xvm_vmspace_destroy does
 * nothing.  The xvm_object_* calls and xvm_device_page are theirs.
 */
struct xvm_pager_ops {
    const char *name;
    /*
     * => off: page aligned, below the object's size; *pg holds
     *    XVM_PAGE_HANDLE_NONE (a 0 that leaves it so names no page: EIO).
     * => 0 and *pg: a page holding the object's bytes at off: a RAM page
     *    of this object at off, a device page, or the zero page.
     * => ENOENT with XVM_PGO_LOCKED when nothing is resident at off;
     *    ENOMEM (the page daemon frees memory and the fault is retried),
     *    EIO, or any errno: the access that faulted returns it.
     */
    int (*get)(xvm_object *obj, uint64_t off, unsigned flags,
               xvm_page_handle *pg);
    /*
     * Frees the resident page at off so that it can be had again
     * (xvm_object_page_free, after writing it back if the pager keeps its
     * data elsewhere); the page daemon calls it for the victims its
     * policy chose (UVM's pgo_put with PGO_FREE).  => 0 freed; EBUSY not
     * now; ENOSPC nowhere to write it.  NULL: its pages never go.  A 0
     * that leaves the page resident counts as EBUSY: kept, not freed;
     * an error after freeing it counts as 0: freed.
     */
    int (*put)(xvm_object *obj, uint64_t off);
    /* The last reference is gone: the object's RAM pages are already
     * freed; free the pager's own state.  May be NULL.  The objects left
     * at xvm_machine_destroy are detached in no set order, but none is
     * freed before all are: a detach may release objects it holds. */
    void (*detach)(xvm_object *obj);
};

/* The object allows no writable shared mapping (as a read-only file). */
#define XVM_OBJECT_READONLY 0x1

/*
 * An object of size bytes (rounded up to pages) whose pages come from
 * ops; priv is the pager's (xvm_object_private).  Map it with xvm_mmap;
 * drop the creator's reference with xvm_object_release.  ops must outlive
 * the object.  The RAM pages it allocates count as XVM_USE_PAGECACHE.
 * A pager that hands out device or zero pages must be XVM_OBJECT_READONLY
 * or see writes through shared mappings refused (EACCES): those pages are
 * never writable.  Handles that are none of the three make the access
 * EIO.  => 0, EINVAL (bad size, flags, ops without get), ENOMEM.
 */
XVM_API int xvm_object_create(xvm_machine *m, const struct xvm_pager_ops *ops,
                              uint64_t size, int flags, void *priv,
                              xvm_object **out);
XVM_API void *xvm_object_private(const xvm_object *obj);
XVM_API uint64_t xvm_object_size(const xvm_object *obj);
XVM_API xvm_machine *xvm_object_machine(const xvm_object *obj);
/* One more reference (each is dropped with xvm_object_release). */
XVM_API void xvm_object_ref(xvm_object *obj);

/* For pagers: a RAM frame entered as the object's page at off, with
 * *data its page_size bytes to fill (not cleared).  => EEXIST when a page
 * is resident there, EINVAL, ENOMEM. */
XVM_API int xvm_object_page_alloc(xvm_object *obj, uint64_t off,
                                  xvm_page_handle *pg, uint8_t **data);
/* => the object's resident RAM page at off, or XVM_PAGE_HANDLE_NONE. */
XVM_API xvm_page_handle xvm_object_page_lookup(const xvm_object *obj,
                                               uint64_t off);
/* Unmaps and frees the resident page at off.  => 0, ENOENT (none), EBUSY
 * (wired by mlock). */
XVM_API int xvm_object_page_free(xvm_object *obj, uint64_t off);
/* A put for pagers whose pages are all clean (read-only data): the page
 * goes, and a later fill of it counts as a refault. */
XVM_API int xvm_pager_put_clean(xvm_object *obj, uint64_t off);
/* => 0 and the device page at pa (page aligned, in a device segment:
 *    xvm_physload_device, a flash window), or EINVAL. */
XVM_API int xvm_device_page(xvm_machine *m, uint64_t pa, xvm_page_handle *pg);
XVM_API xvm_page_handle xvm_zero_page(xvm_machine *m);

/* ---- Page-replacement policies: the page daemon's, or yours ---- */

/*
 * The page daemon (UVM's, doc/sizing.md) decides when pages must go and
 * frees them; a policy decides which.  It is told which pages are
 * pageable (anons, shared anonymous memory, page-cache and user-pager
 * pages) and when they are used, and is asked for victims.  Pages are
 * named by frame index, below env->npages, so a policy can keep its own
 * per-page state in arrays of that size.  Pick one with
 * xvm_config.policy (a built-in's name) or .policy_ops (yours).
 */
#define XVM_PDP_NONE      UINT32_MAX /* no page */
#define XVM_PDP_READAHEAD 0x1        /* enqueue: read ahead, not asked for */

/* What a page holds (the clock's usage thresholds). */
enum xvm_pdp_class {
    XVM_PDP_ANON, /* anons and shared anonymous memory: swap-backed */
    XVM_PDP_FILE, /* page-cache pages of files not mapped executable */
    XVM_PDP_EXEC, /* page-cache pages of files mapped executable */
};

/* What the machine offers a policy.  Calls take `arg`. */
struct xvm_pdpolicy_env {
    void *arg;
    uint32_t npages; /* frames of RAM: every page index is below it */
    void *builtin;   /* the built-in policies' own access; others ignore it */
    /* pmap_is_referenced / pmap_clear_reference of the page's mappings */
    bool (*referenced)(void *arg, uint32_t pg);
    void (*clear_reference)(void *arg, uint32_t pg);
    enum xvm_pdp_class (*page_class)(void *arg, uint32_t pg);
    /* pages in use by class, and free pages */
    void (*counts)(void *arg, uint64_t *anon, uint64_t *file, uint64_t *exec,
                   uint64_t *free);
    bool (*swap_full)(void *arg); /* true also when there is no swap */
};

/* A policy's counters (in struct xvm_stats: pages_active, ...). */
struct xvm_pdpolicy_stats {
    uint64_t active, inactive; /* pages on each queue now */
    uint64_t scans;            /* inactive pages looked at (pdscans) */
    uint64_t reactivations;    /* found referenced, or kept (pdreact) */
    uint64_t deactivations;    /* moved to the inactive queue (pddeact) */
};

/*
 * A policy.  create, enqueue, activate, dequeue and select_victim are
 * required; the others may be NULL (nothing to do; never a scan due; no
 * counters; nothing to check).  The daemon stops a scan at XVM_PDP_NONE,
 * at a page index that is not a queued page, and after 2 x npages picks.
 */
struct xvm_pdpolicy_ops {
    const char *name;
    /* => the policy's state for one machine, or NULL (no memory). */
    void *(*create)(const struct xvm_pdpolicy_env *env);
    void (*destroy)(void *st);
    /* A page became pageable (filled, promoted, paged in); flags:
     * XVM_PDP_READAHEAD. */
    void (*enqueue)(void *st, uint32_t pg, unsigned flags);
    /* The page was used (a fault mapped it, read() copied it), or a
     * victim could not go (wired, busy, no swap): keep it. */
    void (*activate)(void *st, uint32_t pg);
    /* The page leaves the queues (it is being freed). */
    void (*dequeue)(void *st, uint32_t pg);
    /* Before a scan: the free target the daemon works towards. */
    void (*tune)(void *st, uint64_t freetarg);
    /* => true while the queues are out of balance (a scan is due). */
    bool (*needs_scan)(void *st);
    void (*scan_init)(void *st);
    /* => the next page to free, or XVM_PDP_NONE when the scan is over.
     *    Pages passed over (referenced ones) are the policy's to requeue;
     *    the page returned is freed (dequeue) or kept (activate). */
    uint32_t (*select_victim)(void *st);
    /* After the scan: refill the inactive queue to its target. */
    void (*balance)(void *st);
    void (*stats)(const void *st, struct xvm_pdpolicy_stats *out);
    /* => 0, or EINVAL with a message when the queues are inconsistent
     *    (xvm_machine_check asks). */
    int (*check)(const void *st, char *msg, size_t len);
};

/* => the built-in policy called name ("clock"), or NULL. */
XVM_API const struct xvm_pdpolicy_ops *xvm_pdpolicy_builtin(const char *name);

/* ---- Targeted fault injection ---- */

/* Named places that can be made to fail; each counts its occurrences. */
enum xvm_inject_site {
    XVM_INJECT_ALLOC,      /* host memory of the simulation: ENOMEM */
    XVM_INJECT_FRAME,      /* a frame of simulated RAM (any use): ENOMEM */
    XVM_INJECT_PAGETABLE,  /* a page-table page: ENOMEM */
    XVM_INJECT_PV,         /* a PV entry (a new mapping): ENOMEM */
    XVM_INJECT_AMAP,       /* a new amap, or a copy of one: ENOMEM */
    XVM_INJECT_ANON,       /* an anon (zero-fill or copy): ENOMEM */
    XVM_INJECT_COW,        /* a copy-on-write promotion (a copy): ENOMEM */
    XVM_INJECT_FLASH_READ, /* a read through a flash's block interface:
                              metadata, page-cache fills: EIO */
    XVM_INJECT_SITES
};
/*
 * The n-th occurrence of site from now fails, once; n = 0 disarms it.
 * Sites are independent: a page-table page is also a frame, but arming
 * one does not move the other.  An injected failure reaches the caller
 * of the access or call that met it (the page daemon does not retry it)
 * and leaves the machine consistent; one met by a page-out reaches no
 * caller: the page stays resident.  Inspection (the checker,
 * xvm_page_info, fsinfo) neither counts nor fails.
 * => 0, EINVAL for a bad site or NULL machine.
 */
XVM_API int xvm_inject(xvm_machine *m, enum xvm_inject_site site, uint64_t n);
/* => how many times site occurred on m so far (0 for a bad site). */
XVM_API uint64_t xvm_inject_count(const xvm_machine *m,
                                  enum xvm_inject_site site);
/* "alloc", "frame", "pagetable", "pv", "amap", "anon", "cow",
 * "flash_read"; NULL for a bad site. */
XVM_API const char *xvm_inject_site_name(enum xvm_inject_site site);

#ifdef __cplusplus
}
#endif
#endif /* XIPVM_H */
