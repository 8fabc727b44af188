/*
 * synth: synthetic traces of a real static ELF.  The program's PT_LOADs
 * are laid out as exec places them; each process maps a heap chunk and a
 * stack chunk first; a text walker with a working set of hot pages
 * fetches instructions, and a model of tracked 8-byte words (a few per
 * data, heap and stack page, copied on fork) lets every read carry the
 * bytes it must see.  All randomness comes from one splitmix64 stream
 * seeded by the options, so a seed always gives the same trace.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"
#include "synth.h"
#include "util.h"
#include "xipvm_trace.h"

#define PAGE_MASK   (TRACE_PAGE - 1)
#define SLOTS       4u    /* tracked words per page */
#define HEAP_PAGES  256u  /* the whole heap chunk */
#define STACK_PAGES 16u   /* the stack window, at the top of its chunk */
#define HOT_HEAP    16u   /* heap pages used with high probability */
#define TOUCH_HEAP  64u   /* fork-storm: heap pages the first process writes */
#define SLICE_MAX   256u  /* events a process runs before another is picked */
#define RUN_MAX     32u   /* instructions in a sequential run */
#define LINE_CAP    9216u /* a spawn PATH plus slack; data is 8 bytes at most */

struct range {
    uint64_t lo, hi; /* trace addresses, page aligned, [lo, hi) */
};

/* A PT_LOAD as loaded: v is the relocated vaddr; r the pages it owns. */
struct seg {
    uint64_t v, fsz, msz, off;
    uint64_t bss_zeroed; /* bytes exec zeroes from v + fsz */
    int prot;
    struct range r;
};

/* Pages of some segments, numbered in address order. */
struct pageset {
    struct range r[ELF_MAX_LOAD];
    unsigned n;
    uint64_t pages;
};

struct proc {
    int live;
    uint64_t budget; /* background steps left */
    uint64_t pc;     /* text walker */
    unsigned run;
    const struct range *in;
    uint8_t *val, *known; /* tracked words: 8 bytes each, known flag */
    uint32_t *pick;       /* data-writers: data pages to write */
    uint64_t npick, nwritten;
};

struct gen {
    xvm_trace_writer *w; /* either form, by the caller */
    const struct synth_opts *o;
    struct synth_stats st;
    uint64_t rng;
    const char *path;
    uint8_t *file;
    size_t flen;
    struct seg seg[ELF_MAX_LOAD];
    unsigned nseg;
    struct pageset text, ro, data;
    uint64_t anon;         /* heap chunk; the stack chunk follows */
    uint64_t *hot, *rohot; /* page numbers in text and ro */
    uint64_t nhot, nrohot;
    uint64_t ntrack;        /* tracked pages: data, then heap, then stack */
    uint64_t *track;        /* their addresses */
    uint8_t *tval, *tknown; /* a fresh process's tracked words */
    struct proc *p;         /* p[i] is pid i + 1 */
    unsigned np;
    int data_ops; /* background traffic: 0 none, 1 heap, 2 data and heap */
    struct trace_err e; /* e.code: the first error stops the writing */
    char line[LINE_CAP];
    struct xvm_trace_event ev;
};

static const char *const kind_names[SYNTH_KIND_COUNT] = {
    "spawn-many",
    "fork-storm",
    "data-writers",
    "text-walk",
};

void synth_opts_init(struct synth_opts *o, enum synth_kind kind)
{
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->seed = 1;
    o->events = 100000;
    o->procs = 16;
    o->hot_pages = 32;
    o->locality = SYNTH_ONE / 10 * 9;
    o->write_fraction =
        kind == SYNTH_DATA_WRITERS ? SYNTH_ONE / 2 : SYNTH_ONE / 4;
}

int synth_kind_from_name(const char *name, enum synth_kind *kind)
{
    for (int k = 0; k < SYNTH_KIND_COUNT; k++)
        if (name && strcmp(name, kind_names[k]) == 0) {
            *kind = (enum synth_kind)k;
            return 0;
        }
    return EINVAL;
}

const char *synth_kind_name(enum synth_kind kind)
{
    return (unsigned)kind < SYNTH_KIND_COUNT ? kind_names[kind] : NULL;
}

/* ---------- randomness: splitmix64, integers only ---------- */

static uint64_t rnd(struct gen *g)
{
    uint64_t z = (g->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t below(struct gen *g, uint64_t n)
{
    return n ? rnd(g) % n : 0;
}

/* => 1 with probability p / SYNTH_ONE. */
static int chance(struct gen *g, uint64_t p)
{
    return (rnd(g) >> 32) < p;
}

/* Partial Fisher-Yates: the first k of idx[0..n) become a random k-subset. */
static void pick_subset(struct gen *g, uint64_t *idx, uint64_t n, uint64_t k)
{
    for (uint64_t i = 0; i < k && i < n; i++) {
        uint64_t j = i + below(g, n - i), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/* ---------- output ---------- */

/* Clears the scalar fields only: data[] is 4 KiB and written per use. */
static struct xvm_trace_event *ev_new(struct gen *g, enum xvm_trace_op op,
                                      uint32_t pid)
{
    struct xvm_trace_event *ev = &g->ev;
    xvm_trace_event_reset(ev);
    ev->op = op;
    ev->pid = pid;
    return ev;
}

static void count(struct synth_stats *st, enum xvm_trace_op op)
{
    switch (op) {
    case XVM_T_EXEC_FETCH: st->x++; break;
    case XVM_T_READ: st->r++; break;
    case XVM_T_WRITE: st->w++; break;
    case XVM_T_SPAWN: st->spawns++; break;
    case XVM_T_FORK: st->forks++; break;
    case XVM_T_EXIT: st->exits++; break;
    case XVM_T_MMAP: st->mmaps++; break;
    case XVM_T_MARK: st->marks++; break;
    default: break;
    }
}

static void emit(struct gen *g)
{
    if (g->e.code)
        return;
    int rc = xvm_trace_write(g->w, &g->ev);
    if (rc == EINVAL) {
        trace_fail(&g->e, EINVAL, "cannot write a %s event (path '%s')",
                   g->ev.op == XVM_T_SPAWN ? "spawn" : "trace", g->path);
        return;
    }
    if (rc) {
        trace_fail(&g->e, rc, "write error");
        return;
    }
    g->st.lines++;
    g->st.events++;
    count(&g->st, g->ev.op);
}

static void mark(struct gen *g, const char *label)
{
    ev_new(g, XVM_T_MARK, 0)->label = label;
    emit(g);
}

/* ---------- the program's layout ---------- */

static void pageset_add(struct pageset *s, struct range r)
{
    if (r.hi <= r.lo)
        return;
    if (s->n > 0 && s->r[s->n - 1].hi == r.lo)
        s->r[s->n - 1].hi = r.hi; /* one run: fetches may cross */
    else
        s->r[s->n++] = r;
    s->pages += (r.hi - r.lo) / TRACE_PAGE;
}

/* => the address of page i of s (i < s->pages). */
static uint64_t pageset_addr(const struct pageset *s, uint64_t i)
{
    for (unsigned k = 0;; k++) {
        uint64_t n = (s->r[k].hi - s->r[k].lo) / TRACE_PAGE;
        if (i < n)
            return s->r[k].lo + i * TRACE_PAGE;
        i -= n;
    }
}

static const struct range *pageset_find(const struct pageset *s, uint64_t a)
{
    for (unsigned k = 0; k < s->n; k++)
        if (a >= s->r[k].lo && a < s->r[k].hi)
            return &s->r[k];
    return NULL;
}

/*
 * Segment i owns its pages but the first page of segment i + 1, which exec
 * maps later over the shared page (MAP_FIXED replaces it).
 */
static int take_segment(struct gen *g, const struct elf_image *im, unsigned i,
                        uint64_t bias)
{
    const struct elf_load *l = &im->load[i];
    struct seg *s = &g->seg[i];
    s->v = l->vaddr + bias;
    s->fsz = l->filesz;
    s->msz = l->memsz;
    s->off = l->offset;
    s->prot = l->prot;
    s->bss_zeroed = elf_bss_partial_page(l, TRACE_PAGE);
    if ((s->v - s->off) & PAGE_MASK)
        return trace_fail(&g->e, ENOEXEC,
                          "%s: segment %u: address and file offset do not "
                          "share a page offset",
                          g->o->exec_host_path, i);
    uint64_t end = s->v + s->msz;
    if (end < s->v || end > TRACE_ANON_LIMIT)
        return trace_fail(&g->e, ERANGE,
                          "%s: segments end at 0x%llx, above 0x%llx: the "
                          "trace would not fit a 32-bit profile",
                          g->o->exec_host_path, (unsigned long long)end,
                          (unsigned long long)TRACE_ANON_LIMIT);
    s->r.lo = s->v & ~PAGE_MASK;
    s->r.hi = (end + PAGE_MASK) & ~PAGE_MASK;
    if (i + 1 < im->nload) {
        uint64_t next = (im->load[i + 1].vaddr + bias) & ~PAGE_MASK;
        if (s->r.hi > next)
            s->r.hi = next;
    }
    return 0;
}

/* Rodata: read-only segments; without any, the readable text. */
static void take_rodata(struct gen *g)
{
    for (unsigned i = 0; i < g->nseg; i++)
        if (g->seg[i].prot == ELF_PROT_READ)
            pageset_add(&g->ro, g->seg[i].r);
    for (unsigned i = 0; i < g->nseg && g->ro.pages == 0; i++)
        if (g->seg[i].prot == (ELF_PROT_READ | ELF_PROT_EXEC))
            pageset_add(&g->ro, g->seg[i].r);
}

static int layout(struct gen *g, const struct elf_image *im)
{
    uint64_t bias = im->is_dyn ? ELF_DYN_BASE - (im->lo & ~PAGE_MASK) : 0;
    g->nseg = im->nload;
    for (unsigned i = 0; i < im->nload; i++) {
        if (take_segment(g, im, i, bias))
            return g->e.code;
        if (g->seg[i].prot & ELF_PROT_EXEC)
            pageset_add(&g->text, g->seg[i].r);
        if (g->seg[i].prot & ELF_PROT_WRITE)
            pageset_add(&g->data, g->seg[i].r);
    }
    take_rodata(g);
    if (g->text.pages == 0)
        return trace_fail(&g->e, ENOEXEC, "%s: no executable segment to walk",
                          g->o->exec_host_path);
    if (g->o->kind == SYNTH_DATA_WRITERS && g->data.pages == 0)
        return trace_fail(&g->e, ENOEXEC, "%s: no writable segment to write",
                          g->o->exec_host_path);
    g->anon = trace_anon_start(g->seg[g->nseg - 1].v + g->seg[g->nseg - 1].msz);
    if (g->anon + 2 * TRACE_ANON_CHUNK > TRACE_ANON_LIMIT)
        return trace_fail(
            &g->e, ERANGE, "%s: no room for heap and stack chunks below 0x%llx",
            g->o->exec_host_path, (unsigned long long)TRACE_ANON_LIMIT);
    return 0;
}

static int load_elf(struct gen *g)
{
    struct elf_image im;
    if (trace_load_elf(&g->e, g->o->exec_host_path, &g->file, &g->flen, &im))
        return g->e.code;
    /* the model knows one image: a dynamic program's libraries would be
     * its interpreter's mmaps, which it does not model */
    if (im.has_interp)
        return trace_fail(&g->e, ENOEXEC,
                          "%s: dynamically linked (PT_INTERP); synthetic "
                          "traces model static programs (-static, "
                          "-static-pie); record a dynamic one instead",
                          g->o->exec_host_path);
    return layout(g, &im);
}

/* ---------- the image's bytes, as exec leaves them ---------- */

/* => 1 and *b when the byte at trace address a of s is known. */
static int image_byte(const struct gen *g, const struct seg *s, uint64_t a,
                      uint8_t *b)
{
    uint64_t fend = s->v + s->fsz;
    *b = 0;
    if (s->fsz == 0 || a >= ((fend + PAGE_MASK) & ~PAGE_MASK))
        return 1; /* anonymous zero-fill */
    if (a >= fend && a - fend < s->bss_zeroed)
        return 1; /* exec zeroes the bss in the last file page */
    uint64_t off = s->off + (a - s->v); /* a may lie below v: wraps back */
    if (off >= g->flen)
        return 0; /* past the end of the file: the image decides */
    *b = g->file[off];
    return 1;
}

/* => 1 with the n bytes at a in buf when all are known. */
static int image_bytes(const struct gen *g, uint64_t a, unsigned n,
                       uint8_t *buf)
{
    for (unsigned i = 0; i < g->nseg; i++) {
        const struct seg *s = &g->seg[i];
        if (a < s->r.lo || a >= s->r.hi)
            continue;
        for (unsigned k = 0; k < n; k++)
            if (!image_byte(g, s, a + k, &buf[k]))
                return 0;
        return 1;
    }
    return 0;
}

/* ---------- tracked words ---------- */

/* Spread over the page so different lines and offsets are exercised. */
static uint64_t slot_off(uint64_t page, unsigned j)
{
    return j * (TRACE_PAGE / SLOTS) + ((page * 7 + j * 13) % 128) * 8;
}

static uint64_t stack_page_addr(const struct gen *g, unsigned i)
{
    return g->anon + 2 * TRACE_ANON_CHUNK - (STACK_PAGES - i) * TRACE_PAGE;
}

static int tracking(struct gen *g)
{
    uint64_t nd = g->data.pages;
    g->ntrack = nd + HEAP_PAGES + STACK_PAGES;
    g->track = calloc(g->ntrack, sizeof(*g->track));
    g->tval = calloc(g->ntrack * SLOTS, 8);
    g->tknown = calloc(g->ntrack * SLOTS, 1);
    if (!g->track || !g->tval || !g->tknown)
        return trace_fail(&g->e, ENOMEM, "out of memory");
    for (uint64_t i = 0; i < nd; i++)
        g->track[i] = pageset_addr(&g->data, i);
    for (unsigned i = 0; i < HEAP_PAGES; i++)
        g->track[nd + i] = g->anon + i * TRACE_PAGE;
    for (unsigned i = 0; i < STACK_PAGES; i++)
        g->track[nd + HEAP_PAGES + i] = stack_page_addr(g, i);
    memset(g->tknown, 1, g->ntrack * SLOTS);
    for (uint64_t i = 0; i < nd; i++)
        for (unsigned j = 0; j < SLOTS; j++)
            g->tknown[i * SLOTS + j] =
                (uint8_t)image_bytes(g, g->track[i] + slot_off(i, j), 8,
                                     g->tval + (i * SLOTS + j) * 8);
    return 0;
}

/* Reads a tracked word (with its bytes when known) or writes a new value. */
static void word_op(struct gen *g, struct proc *p, uint64_t page, unsigned j,
                    int write)
{
    size_t k = page * SLOTS + j;
    uint8_t *v = p->val + k * 8;
    struct xvm_trace_event *ev =
        ev_new(g, write ? XVM_T_WRITE : XVM_T_READ, (uint32_t)(p - g->p) + 1);
    ev->addr = g->track[page] + slot_off(page, j);
    ev->len = 8;
    if (write) {
        uint64_t x = rnd(g);
        for (unsigned i = 0; i < 8; i++)
            v[i] = (uint8_t)(x >> (8 * i));
        p->known[k] = 1;
    }
    if (p->known[k]) {
        ev->has_data = 1;
        ev->ndata = 8;
        memcpy(ev->data, v, 8);
    }
    emit(g);
}

/* ---------- the text walker and the background mix ---------- */

static void jump(struct gen *g, struct proc *p)
{
    uint64_t page = chance(g, g->o->locality) ? g->hot[below(g, g->nhot)]
                                              : below(g, g->text.pages);
    p->pc = pageset_addr(&g->text, page) + below(g, TRACE_PAGE);
    p->in = pageset_find(&g->text, p->pc);
    p->run = 1 + (unsigned)below(g, RUN_MAX);
}

/* Sequential runs of 1-15 byte instructions, never past the text's end. */
static void fetch(struct gen *g, struct proc *p)
{
    if (p->run == 0 || p->pc >= p->in->hi)
        jump(g, p);
    uint64_t n = 1 + below(g, 15);
    if (n > p->in->hi - p->pc)
        n = p->in->hi - p->pc;
    struct xvm_trace_event *ev =
        ev_new(g, XVM_T_EXEC_FETCH, (uint32_t)(p - g->p) + 1);
    ev->addr = p->pc;
    ev->len = n;
    emit(g);
    p->pc += n;
    p->run--;
}

static void stack_op(struct gen *g, struct proc *p, int write)
{
    uint64_t down =
        chance(g, g->o->locality) ? below(g, 2) : below(g, STACK_PAGES);
    uint64_t page = g->data.pages + HEAP_PAGES + (STACK_PAGES - 1 - down);
    word_op(g, p, page, (unsigned)below(g, SLOTS), write);
}

static void rodata_read(struct gen *g, struct proc *p)
{
    if (g->ro.pages == 0) {
        stack_op(g, p, 0);
        return;
    }
    uint64_t page = chance(g, g->o->locality) ? g->rohot[below(g, g->nrohot)]
                                              : below(g, g->ro.pages);
    unsigned n = 1u << below(g, 4);
    struct xvm_trace_event *ev =
        ev_new(g, XVM_T_READ, (uint32_t)(p - g->p) + 1);
    ev->addr = pageset_addr(&g->ro, page) +
               (below(g, TRACE_PAGE) & ~(uint64_t)(n - 1));
    ev->len = n;
    if (image_bytes(g, ev->addr, n, ev->data)) {
        ev->has_data = 1;
        ev->ndata = n;
    }
    emit(g);
}

/*
 * A heap page (mostly the first few) or, with data traffic, a data page;
 * data-writers writes only the data pages it picked, so writes go to the heap.
 */
static uint64_t data_page(struct gen *g, int write)
{
    int writers = g->o->kind == SYNTH_DATA_WRITERS;
    if (g->data_ops == 2 && g->data.pages && below(g, 2) && !(write && writers))
        return below(g, g->data.pages);
    uint64_t h =
        chance(g, g->o->locality) ? below(g, HOT_HEAP) : below(g, HEAP_PAGES);
    return g->data.pages + h;
}

/* One background event: mostly fetches, some rodata, stack and data. */
static void step(struct gen *g, struct proc *p)
{
    uint64_t r = below(g, 100);
    if (r < 74)
        fetch(g, p);
    else if (r < 84)
        rodata_read(g, p);
    else if (r < 88)
        stack_op(g, p, 1);
    else if (r < 94 || !g->data_ops)
        stack_op(g, p, 0);
    else
        word_op(g, p, data_page(g, r >= 97), (unsigned)below(g, SLOTS),
                r >= 97);
}

/* ---------- processes ---------- */

static int proc_alloc(struct gen *g, struct proc *p, const struct proc *from)
{
    size_t n = g->ntrack * SLOTS;
    p->val = malloc(n * 8);
    p->known = malloc(n);
    if (!p->val || !p->known)
        return trace_fail(&g->e, ENOMEM, "out of memory");
    memcpy(p->val, from ? from->val : g->tval, n * 8);
    memcpy(p->known, from ? from->known : g->tknown, n);
    p->live = 1;
    return 0;
}

static void map_chunk(struct gen *g, uint32_t pid, uint64_t addr)
{
    struct xvm_trace_event *ev = ev_new(g, XVM_T_MMAP, pid);
    ev->addr = addr;
    ev->len = TRACE_ANON_CHUNK;
    ev->prot = XVM_PROT_READ | XVM_PROT_WRITE;
    ev->fixed = 1;
    emit(g);
}

static void spawn(struct gen *g, struct proc *p)
{
    uint32_t pid = (uint32_t)(p - g->p) + 1;
    if (proc_alloc(g, p, NULL))
        return;
    ev_new(g, XVM_T_SPAWN, pid)->path = g->path;
    emit(g);
    map_chunk(g, pid, g->anon);
    map_chunk(g, pid, g->anon + TRACE_ANON_CHUNK);
}

/* The child goes on where its parent is, with a copy of its words. */
static void fork_proc(struct gen *g, struct proc *parent, struct proc *child)
{
    if (proc_alloc(g, child, parent))
        return;
    child->pc = parent->pc;
    child->run = parent->run;
    child->in = parent->in;
    struct xvm_trace_event *ev =
        ev_new(g, XVM_T_FORK, (uint32_t)(parent - g->p) + 1);
    ev->pid2 = (uint32_t)(child - g->p) + 1;
    emit(g);
}

static void exit_proc(struct gen *g, struct proc *p)
{
    ev_new(g, XVM_T_EXIT, (uint32_t)(p - g->p) + 1);
    emit(g);
    free(p->val);
    free(p->known);
    free(p->pick);
    p->val = p->known = NULL;
    p->pick = NULL;
    p->live = 0;
}

static void run_steps(struct gen *g, struct proc *p, uint64_t n)
{
    for (uint64_t i = 0; i < n && !g->e.code; i++)
        step(g, p);
}

/* Splits the event budget evenly over procs [first, first + n). */
static void share_budget(struct gen *g, unsigned first, unsigned n,
                         uint64_t events)
{
    for (unsigned i = 0; i < n; i++)
        g->p[first + i].budget = events / n + (i < events % n);
}

/* ---------- the kinds ---------- */

static void kind_text_walk(struct gen *g)
{
    spawn(g, &g->p[0]);
    mark(g, "spawned");
    run_steps(g, &g->p[0], g->o->events);
    mark(g, "peak");
    exit_proc(g, &g->p[0]);
    mark(g, "end");
}

/* data-writers: writes of the picked pages are spread over the budget. */
static void writer_step(struct gen *g, struct proc *p)
{
    uint64_t left = p->npick - p->nwritten;
    if (left && below(g, p->budget) < left)
        word_op(g, p, p->pick[p->nwritten++], (unsigned)below(g, SLOTS), 1);
    else
        step(g, p);
}

/*
 * Runs random slices of random processes until each has used its budget;
 * done (if not NULL) is called as each one finishes.
 */
static void schedule(struct gen *g, void (*done)(struct gen *, struct proc *))
{
    unsigned *run = malloc(g->np * sizeof(*run)), nrun = 0;
    if (run == NULL) {
        trace_fail(&g->e, ENOMEM, "out of memory");
        return;
    }
    for (unsigned i = 0; i < g->np; i++)
        run[nrun++] = i;
    while (nrun > 0 && !g->e.code) {
        unsigned k = (unsigned)below(g, nrun);
        struct proc *p = &g->p[run[k]];
        for (uint64_t s = 1 + below(g, SLICE_MAX); s > 0 && p->budget > 0;
             s--) {
            if (g->o->kind == SYNTH_DATA_WRITERS)
                writer_step(g, p);
            else
                step(g, p);
            p->budget--;
        }
        if (p->budget == 0) {
            run[k] = run[--nrun];
            if (done)
                done(g, p);
        }
    }
    free(run);
}

static void spawn_many_done(struct gen *g, struct proc *p)
{
    if (g->o->keep)
        return;
    if (g->st.exits == 0)
        mark(g, "peak");
    exit_proc(g, p);
}

static void kind_spawn_many(struct gen *g)
{
    g->data_ops = 1;
    for (unsigned i = 0; i < g->np && !g->e.code; i++)
        spawn(g, &g->p[i]);
    mark(g, "spawned");
    share_budget(g, 0, g->np, g->o->events);
    schedule(g, spawn_many_done);
    if (g->o->keep)
        mark(g, "peak");
    mark(g, "end");
}

/* Each child writes a fraction of the pages the first process wrote and reads the rest. */
static void child_work(struct gen *g, struct proc *c, uint64_t ntouch)
{
    for (uint64_t t = 0; t < ntouch && !g->e.code; t++)
        word_op(g, c, t, (unsigned)below(g, SLOTS),
                chance(g, g->o->write_fraction));
    run_steps(g, c, c->budget);
}

static uint64_t touched_pages(const struct gen *g)
{
    return g->data.pages + TOUCH_HEAP; /* tracked pages are data, then heap */
}

static void kind_fork_storm(struct gen *g)
{
    uint64_t ntouch = touched_pages(g), setup = ntouch * g->np;
    uint64_t rest = g->o->events > setup ? g->o->events - setup : 0;
    g->data_ops = 2;
    spawn(g, &g->p[0]);
    for (uint64_t t = 0; t < ntouch && !g->e.code; t++)
        word_op(g, &g->p[0], t, (unsigned)below(g, SLOTS), 1);
    mark(g, "spawned");
    if (g->np == 1)
        g->p[0].budget = rest;
    else
        share_budget(g, 1, g->np - 1, rest);
    run_steps(g, &g->p[0], g->p[0].budget);
    for (unsigned k = 1; k < g->np && !g->e.code; k++) {
        fork_proc(g, &g->p[below(g, k)], &g->p[k]);
        child_work(g, &g->p[k], ntouch);
    }
    mark(g, "peak");
    /* children have higher pids than their parents: exit them first */
    for (unsigned k = g->np; k-- > 0 && !g->e.code;)
        exit_proc(g, &g->p[k]);
    mark(g, "end");
}

static int pick_pages(struct gen *g, struct proc *p, uint64_t *idx)
{
    uint64_t n = g->data.pages;
    p->npick = (n * g->o->write_fraction + SYNTH_ONE / 2) >> 32;
    p->pick = malloc((p->npick ? p->npick : 1) * sizeof(*p->pick));
    if (p->pick == NULL)
        return trace_fail(&g->e, ENOMEM, "out of memory");
    for (uint64_t i = 0; i < n; i++)
        idx[i] = i;
    pick_subset(g, idx, n, p->npick);
    for (uint64_t i = 0; i < p->npick; i++)
        p->pick[i] = (uint32_t)idx[i];
    return 0;
}

/* order[0..n) becomes a random permutation of 0..n-1. */
static void shuffle(struct gen *g, unsigned *order, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        order[i] = i;
    for (unsigned i = n; i-- > 1;) {
        unsigned j = (unsigned)below(g, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Reads back every word of the pages it wrote: its own bytes, nobody else's. */
static void read_back(struct gen *g, struct proc *p)
{
    for (uint64_t k = 0; k < p->npick && !g->e.code; k++)
        for (unsigned j = 0; j < SLOTS; j++)
            word_op(g, p, p->pick[k], j, 0);
}

/* Each process writes its pages among other events, then reads them back. */
static void kind_data_writers(struct gen *g)
{
    uint64_t *idx = malloc((g->data.pages + 1) * sizeof(*idx));
    unsigned *order = malloc(g->np * sizeof(*order));
    if (idx == NULL || order == NULL) {
        free(idx);
        free(order);
        trace_fail(&g->e, ENOMEM, "out of memory");
        return;
    }
    g->data_ops = 2;
    for (unsigned i = 0; i < g->np && !g->e.code; i++) {
        spawn(g, &g->p[i]);
        if (!g->e.code)
            pick_pages(g, &g->p[i], idx);
    }
    mark(g, "spawned");
    share_budget(g, 0, g->np, g->o->events);
    for (unsigned i = 0; i < g->np; i++) {
        struct proc *p = &g->p[i];
        uint64_t back = SLOTS * p->npick;
        p->budget = p->budget > back + p->npick ? p->budget - back : p->npick;
    }
    schedule(g, NULL);
    mark(g, "peak");
    shuffle(g, order, g->np);
    for (unsigned i = 0; i < g->np && !g->e.code; i++) {
        read_back(g, &g->p[order[i]]);
        exit_proc(g, &g->p[order[i]]);
    }
    mark(g, "end");
    free(idx);
    free(order);
}

/* ---------- putting it together ---------- */

static int check_opts(struct gen *g, const struct synth_opts *o)
{
    if ((unsigned)o->kind >= SYNTH_KIND_COUNT)
        return trace_fail(&g->e, EINVAL, "unknown kind %d", (int)o->kind);
    if (o->procs < 1 || o->procs > SYNTH_MAX_PROCS)
        return trace_fail(&g->e, EINVAL, "procs must be 1 to %u",
                          SYNTH_MAX_PROCS);
    if (o->hot_pages < 1)
        return trace_fail(&g->e, EINVAL, "hot pages must be at least 1");
    if (o->locality > SYNTH_ONE || o->write_fraction > SYNTH_ONE)
        return trace_fail(&g->e, EINVAL,
                          "locality and write fraction must be 0 to 1");
    return 0;
}

/* The working sets: hot text pages, and a quarter as many rodata pages. */
static int working_sets(struct gen *g)
{
    uint64_t n = g->text.pages > g->ro.pages ? g->text.pages : g->ro.pages;
    uint64_t *idx = malloc(n * sizeof(*idx));
    g->nhot = g->o->hot_pages < g->text.pages ? g->o->hot_pages : g->text.pages;
    g->nrohot = g->o->hot_pages / 4 + 1 < g->ro.pages ? g->o->hot_pages / 4 + 1
                                                      : g->ro.pages;
    g->hot = malloc(g->nhot * sizeof(*g->hot));
    g->rohot = malloc((g->nrohot ? g->nrohot : 1) * sizeof(*g->rohot));
    if (!idx || !g->hot || !g->rohot) {
        free(idx);
        return trace_fail(&g->e, ENOMEM, "out of memory");
    }
    for (uint64_t i = 0; i < g->text.pages; i++)
        idx[i] = i;
    pick_subset(g, idx, g->text.pages, g->nhot);
    memcpy(g->hot, idx, g->nhot * sizeof(*idx));
    for (uint64_t i = 0; i < g->ro.pages; i++)
        idx[i] = i;
    pick_subset(g, idx, g->ro.pages, g->nrohot);
    memcpy(g->rohot, idx, g->nrohot * sizeof(*idx));
    free(idx);
    return 0;
}

static int prepare(struct gen *g)
{
    if (check_opts(g, g->o) || load_elf(g) || tracking(g) || working_sets(g))
        return g->e.code;
    g->np = g->o->kind == SYNTH_TEXT_WALK ? 1 : g->o->procs;
    g->p = calloc(g->np, sizeof(*g->p));
    if (g->p == NULL)
        return trace_fail(&g->e, ENOMEM, "out of memory");
    /* refuse a path the trace cannot hold before writing anything */
    ev_new(g, XVM_T_SPAWN, 1)->path = g->path;
    if (xvm_trace_format_event(&g->ev, g->line, sizeof(g->line)) < 0)
        return trace_fail(&g->e, EINVAL,
                          "'%s' cannot be a trace path (empty, blanks, "
                          "a leading '!' or too long)",
                          g->path);
    return 0;
}

static void generate(struct gen *g)
{
    g->st.lines = 1; /* the writer's header */
    switch (g->o->kind) {
    case SYNTH_SPAWN_MANY: kind_spawn_many(g); break;
    case SYNTH_FORK_STORM: kind_fork_storm(g); break;
    case SYNTH_DATA_WRITERS: kind_data_writers(g); break;
    default: kind_text_walk(g); break;
    }
}

static void cleanup(struct gen *g)
{
    for (unsigned i = 0; g->p && i < g->np; i++) {
        free(g->p[i].val);
        free(g->p[i].known);
        free(g->p[i].pick);
    }
    free(g->p);
    free(g->hot);
    free(g->rohot);
    free(g->track);
    free(g->tval);
    free(g->tknown);
    free(g->file);
    free(g);
}

int synth_write_trace(const struct synth_opts *o, synth_open_fn open, void *arg,
                      xvm_trace_writer **w, struct synth_stats *st, char *err,
                      size_t errlen)
{
    struct gen *g = calloc(1, sizeof(*g));
    struct trace_err e;
    *w = NULL;
    if (st)
        memset(st, 0, sizeof(*st));
    trace_err_init(&e, err, errlen);
    if (g == NULL)
        return trace_fail(&e, ENOMEM, "out of memory");
    g->o = o;
    g->e = e;
    g->path = o->path_in_image ? o->path_in_image : o->exec_host_path;
    /* the seed is mixed once so that seeds 1 and 2 share no stream */
    g->rng = o->seed;
    g->rng = rnd(g) ^ (uint64_t)o->kind;
    /* The output is opened once the program is known good: a refused
     * one leaves nothing behind, not even a header. */
    if (prepare(g) == 0) {
        int rc = open(arg, w, err, errlen);
        if (rc)
            g->e.code = rc; /* open said why in err */
        else {
            g->w = *w;
            generate(g);
        }
    }
    if (st)
        *st = g->st;
    int error = g->e.code;
    cleanup(g);
    return error;
}

static int to_file(void *ctx, const void *buf, size_t len)
{
    return fwrite(buf, 1, len, ctx) == len ? 0 : errno ? errno : EIO;
}

/* synth_write's output: plain text on its FILE. */
static int open_file(void *arg, xvm_trace_writer **w, char *err, size_t errlen)
{
    struct xvm_trace_writer_config cfg = { XVM_TRACE_TEXT, XVM_TRACE_PLAIN, 0 };
    int rc = xvm_trace_writer_create(&cfg, to_file, arg, w);
    if (rc)
        snprintf(err, errlen, "cannot write the trace: %s", strerror(rc));
    return rc;
}

int synth_write(FILE *out, const struct synth_opts *o, struct synth_stats *st,
                char *err, size_t errlen)
{
    struct trace_err e;
    xvm_trace_writer *w;
    int rc = synth_write_trace(o, open_file, out, &w, st, err, errlen);
    if (w == NULL)
        return rc;
    int wrc = xvm_trace_writer_close(w);
    if (rc == 0 && (wrc != 0 || fflush(out) != 0 || ferror(out))) {
        trace_err_init(&e, err, errlen);
        rc = trace_fail(&e, wrc ? wrc : errno ? errno : EIO, "write error");
    }
    return rc;
}
