/*
 * lkproc.c - one process of a lackey recording: its address space and
 * open files as the log tells them, host addresses turned into trace
 * addresses, and log items into trace events.
 *
 * Addresses.  The program and its interpreter stay where exec puts them
 * in the simulator (ET_DYN at ELF_DYN_BASE, the interpreter at
 * elf_interp_bias): where valgrind placed them is read off the log (the
 * interpreter's first instruction is its entry; the first instruction
 * outside it and every mapping is the program's).  The brk heap follows
 * exec's break.  Everything else (mmap'd files and anonymous memory, and
 * memory no system call mapped: the stack) is relocated per 1 MiB host
 * chunk into trace chunks from TRACE_ANON_BASE, so any trace fits the
 * 32-bit sgimips profile; memory no call mapped is announced as
 * anonymous, a whole chunk at a time, or a page in a chunk that also
 * holds mappings.  valgrind's own preload (vgpreload_*.so) is left out.
 */
#include "lk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PAGE          TRACE_PAGE
#define PAGE_MASK     (TRACE_PAGE - 1)
#define CHUNK_MASK    (TRACE_ANON_CHUNK - 1)
#define USER_TOP      UINT64_C(0x80000000) /* 32-bit profiles */
#define AT_FDCWD      UINT64_C(4294967196) /* -100 as valgrind prints it */
#define MAP_SHARED    0x01
#define MAP_ANON      0x20
#define MADV_DONTNEED 4
#define O_CLOEXEC_    0x80000
#define MFD_CLOEXEC_  1
#define SCAN_MAPS     256 /* mmaps the layout scan remembers */

static uint64_t pg_trunc(uint64_t a)
{
    return a & ~PAGE_MASK;
}

static uint64_t pg_round(uint64_t a)
{
    return (a + PAGE_MASK) & ~PAGE_MASK;
}

/* ---------- strings ---------- */

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int str_grow(struct strtab *t)
{
    uint32_t ncap = t->hcap ? t->hcap * 2 : 256;
    uint32_t *nh = calloc(ncap, sizeof(*nh));
    if (nh == NULL)
        return ENOMEM;
    for (uint32_t id = 1; id < t->n; id++) {
        uint32_t i = fnv(t->s[id]) & (ncap - 1);
        while (nh[i] != 0)
            i = (i + 1) & (ncap - 1);
        nh[i] = id;
    }
    free(t->hash);
    t->hash = nh;
    t->hcap = ncap;
    return 0;
}

uint32_t str_intern(struct lkimp *im, const char *s)
{
    struct strtab *t = &im->strs;
    if (t->n == 0)
        t->n = 1; /* id 0 is none */
    if (t->hcap == 0 || 2 * (t->n + 1) > t->hcap) {
        if (str_grow(t) != 0)
            return 0;
    }
    uint32_t i = fnv(s) & (t->hcap - 1);
    for (; t->hash[i] != 0; i = (i + 1) & (t->hcap - 1))
        if (strcmp(t->s[t->hash[i]], s) == 0)
            return t->hash[i];
    if (t->n >= t->cap) {
        uint32_t ncap = t->cap ? t->cap * 2 : 256;
        char **ns = realloc(t->s, ncap * sizeof(*ns));
        uint8_t *nu = realloc(im->used, ncap);
        if (ns != NULL)
            t->s = ns;
        if (nu != NULL)
            im->used = nu;
        if (ns == NULL || nu == NULL)
            return 0;
        memset(im->used + t->cap, 0, ncap - t->cap);
        t->cap = ncap;
    }
    if ((t->s[t->n] = strdup(s)) == NULL)
        return 0;
    t->hash[i] = t->n;
    return t->n++;
}

const char *str_of(const struct lkimp *im, uint32_t id)
{
    return id && id < im->strs.n ? im->strs.s[id] : "";
}

void str_fini(struct strtab *t)
{
    for (uint32_t i = 1; i < t->n; i++)
        free(t->s[i]);
    free(t->s);
    free(t->hash);
    memset(t, 0, sizeof(*t));
}

/* A path the trace names: its file goes into the root. */
static void use(struct lkimp *im, uint32_t id)
{
    if (id && !im->used[id]) {
        im->used[id] = 1;
        im->st->files++;
    }
}

static int nomem(struct lkimp *im)
{
    return trace_fail(im->e, ENOMEM, "out of memory");
}

/* ---------- host ranges ---------- */

/* => index of the first interval ending after a. */
static size_t iv_find(const struct ivals *v, uint64_t a)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v->v[mid].hi <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int iv_insert_at(struct ivals *v, size_t i, const struct ival *x)
{
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 16;
        struct ival *nv = realloc(v->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return ENOMEM;
        v->v = nv;
        v->cap = ncap;
    }
    memmove(&v->v[i + 1], &v->v[i], (v->n - i) * sizeof(*x));
    v->v[i] = *x;
    v->n++;
    return 0;
}

/* Splits interval i at address at (inside it) into two. */
static int iv_split(struct ivals *v, size_t i, uint64_t at)
{
    struct ival right = v->v[i];
    right.off += at - right.lo;
    right.lo = at;
    v->v[i].hi = at;
    return iv_insert_at(v, i + 1, &right);
}

/* Removes [lo, hi) from v, splitting what straddles it. */
static int iv_remove(struct ivals *v, uint64_t lo, uint64_t hi)
{
    size_t i = iv_find(v, lo);
    while (i < v->n && v->v[i].lo < hi) {
        struct ival *x = &v->v[i];
        if (x->lo < lo && x->hi > hi) { /* the middle goes: two remain */
            if (iv_split(v, i, hi) != 0)
                return ENOMEM;
            v->v[i].hi = lo;
            return 0;
        }
        if (x->lo < lo) {
            x->hi = lo;
            i++;
        } else if (x->hi > hi) {
            x->off += hi - x->lo;
            x->lo = hi;
            return 0;
        } else {
            memmove(x, x + 1, (v->n - i - 1) * sizeof(*x));
            v->n--;
        }
    }
    return 0;
}

/* Adds x (replacing whatever was in its range). */
static int iv_add(struct ivals *v, const struct ival *x)
{
    int r = iv_remove(v, x->lo, x->hi);
    return r ? r : iv_insert_at(v, iv_find(v, x->lo), x);
}

/* => the interval holding a, or NULL. */
static struct ival *iv_at(const struct ivals *v, uint64_t a)
{
    size_t i = iv_find(v, a);
    return i < v->n && v->v[i].lo <= a ? &v->v[i] : NULL;
}

/* => the first interval start above a, or UINT64_MAX. */
static uint64_t iv_next(const struct ivals *v, uint64_t a)
{
    size_t i = iv_find(v, a);
    if (i < v->n && v->v[i].lo <= a)
        i++;
    return i < v->n ? v->v[i].lo : UINT64_MAX;
}

static int iv_copy(struct ivals *to, const struct ivals *from)
{
    to->n = to->cap = 0;
    to->v = NULL;
    if (from->n == 0)
        return 0;
    if ((to->v = malloc(from->n * sizeof(*to->v))) == NULL)
        return ENOMEM;
    memcpy(to->v, from->v, from->n * sizeof(*to->v));
    to->n = to->cap = from->n;
    return 0;
}

/* Sets prot over [lo, hi), splitting intervals at the edges. */
static int iv_protect(struct ivals *v, uint64_t lo, uint64_t hi, uint8_t prot)
{
    for (size_t i = iv_find(v, lo); i < v->n && v->v[i].lo < hi; i++) {
        if (v->v[i].lo < lo) { /* the left part keeps its prot */
            if (iv_split(v, i, lo) != 0)
                return ENOMEM;
            continue;
        }
        if (v->v[i].hi > hi && iv_split(v, i, hi) != 0)
            return ENOMEM;
        v->v[i].prot = prot;
    }
    return 0;
}

/* ---------- trace chunks ---------- */

static size_t slot(uint64_t key)
{
    return (size_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 53) & (LK_CTAB - 1);
}

/* => the trace base of host chunk c, or 0. */
static uint64_t chunk_of(const struct lkproc *p, uint64_t c)
{
    uint64_t key = c + 1;
    for (size_t i = slot(key); p->cm->key[i] != 0; i = (i + 1) & (LK_CTAB - 1))
        if (p->cm->key[i] == key)
            return p->cm->base[i];
    return 0;
}

/* => *base for host chunk c, a new trace chunk if it has none. */
static int chunk_get(struct lkimp *im, struct lkproc *p, uint64_t c,
                     uint64_t line, uint64_t *base)
{
    uint64_t key = c + 1;
    size_t i = slot(key);
    for (; p->cm->key[i] != 0; i = (i + 1) & (LK_CTAB - 1))
        if (p->cm->key[i] == key) {
            *base = p->cm->base[i];
            return 0;
        }
    if (p->next_anon + TRACE_ANON_CHUNK > TRACE_ANON_LIMIT)
        return trace_fail(
            im->e, ERANGE,
            "line %llu: more memory than fits below 0x%llx (%u chunks of "
            "1 MiB): the trace would not fit a 32-bit profile",
            (unsigned long long)line, (unsigned long long)TRACE_ANON_LIMIT,
            p->cm->n);
    p->cm->key[i] = key;
    p->cm->base[i] = *base = p->next_anon;
    p->cm->n++;
    p->next_anon += TRACE_ANON_CHUNK;
    return 0;
}

/* ---------- events ---------- */

static int emit(struct lkimp *im, struct xvm_trace_event *ev)
{
    return tw_event(im->w, ev);
}

static void ev_init(struct xvm_trace_event *ev, enum xvm_trace_op op,
                    const struct lkproc *p)
{
    xvm_trace_event_reset(ev);
    ev->op = op;
    ev->pid = p->tpid;
}

static int emit_mmap(struct lkimp *im, const struct lkproc *p, uint64_t t,
                     uint64_t len, int prot, int shared, uint32_t path,
                     uint64_t off)
{
    struct xvm_trace_event ev;
    ev_init(&ev, XVM_T_MMAP, p);
    ev.addr = t;
    ev.len = len;
    ev.prot = prot;
    ev.shared = shared;
    ev.fixed = 1;
    if (path) {
        ev.path = str_of(im, path);
        ev.off = off;
    }
    im->st->ev_mmap++;
    return emit(im, &ev);
}

static int emit_range(struct lkimp *im, const struct lkproc *p,
                      enum xvm_trace_op op, uint64_t t, uint64_t len, int prot)
{
    struct xvm_trace_event ev;
    ev_init(&ev, op, p);
    ev.addr = t;
    ev.len = len;
    ev.prot = prot;
    return emit(im, &ev);
}

/* ---------- where a host address is ---------- */

enum cls { C_DROP, C_ELF, C_BRK, C_MAPPED, C_INFERRED, C_HOLE };

static int in_image(const struct image *img, uint64_t a, uint64_t *end)
{
    if (!img->known)
        return 0;
    for (unsigned i = 0; i < img->nseg; i++)
        if (a >= img->lo[i] && a < img->hi[i]) {
            *end = img->hi[i];
            return 1;
        }
    return 0;
}

static uint64_t brk_end(const struct lkproc *p)
{
    return pg_round(p->hbrk);
}

/* => the first start of an image segment, the brk or a dropped range
 *    above a: a run of mapped memory stops there. */
static uint64_t next_region(const struct lkproc *p, uint64_t a)
{
    uint64_t n = iv_next(&p->drop, a);
    const struct image *imgs[2] = { &p->prog, &p->interp };
    for (int k = 0; k < 2; k++) {
        if (!imgs[k]->known)
            continue;
        for (unsigned i = 0; i < imgs[k]->nseg; i++)
            if (imgs[k]->lo[i] > a && imgs[k]->lo[i] < n)
                n = imgs[k]->lo[i];
    }
    if (p->brk_known && p->hbrk0 > a && p->hbrk0 < n)
        n = p->hbrk0;
    return n;
}

/*
 * What holds host address a, and the run [a, *end) of that kind (end may
 * pass `limit`; callers clip); *t the trace address of a (not for
 * C_DROP, C_HOLE).
 */
static enum cls classify(const struct lkproc *p, uint64_t a, uint64_t *t,
                         uint64_t *end)
{
    const struct ival *x = iv_at(&p->drop, a);
    if (x != NULL) {
        *end = x->hi;
        return C_DROP;
    }
    if (in_image(&p->prog, a, end)) {
        *t = a + p->prog.delta;
        return C_ELF;
    }
    if (in_image(&p->interp, a, end)) {
        *t = a + p->interp.delta;
        return C_ELF;
    }
    if (p->brk_known && a >= p->hbrk0 && a < brk_end(p)) {
        *end = brk_end(p);
        *t = a - p->hbrk0 + p->tbrk0;
        return C_BRK;
    }
    uint64_t cend = (a | CHUNK_MASK) + 1, next = next_region(p, a);
    if (cend == 0)
        cend = UINT64_MAX;
    x = iv_at(&p->maps, a);
    if (x != NULL) {
        *end = x->hi < cend ? x->hi : cend;
        if (next < *end)
            *end = next;
        *t = chunk_of(p, a >> 20) + (a & CHUNK_MASK);
        return x->inferred ? C_INFERRED : C_MAPPED;
    }
    *end = iv_next(&p->maps, a);
    if (cend < *end)
        *end = cend;
    if (next < *end)
        *end = next;
    return C_HOLE;
}

/*
 * Memory no system call mapped, touched at a: the whole host chunk is
 * announced as anonymous when nothing else lies in it, else the page.
 */
static int infer(struct lkimp *im, struct lkproc *p, uint64_t a, uint64_t line)
{
    uint64_t c = a >> 20, base;
    if (c == UINT64_MAX >> 20) /* its [lo, hi) would end at 2^64, as 0 */
        return trace_fail(im->e, ERANGE,
                          "line %llu: memory at 0x%llx, in the last MiB "
                          "below 2^64: no process has any there",
                          (unsigned long long)line, (unsigned long long)a);
    int fresh = chunk_of(p, c) == 0;
    int r = chunk_get(im, p, c, line, &base);
    if (r)
        return r;
    struct ival x = { .prot = XVM_PROT_READ | XVM_PROT_WRITE, .inferred = 1 };
    if (fresh) {
        x.lo = c << 20;
        x.hi = x.lo + TRACE_ANON_CHUNK;
        im->st->chunks++;
        r = emit_mmap(im, p, base, TRACE_ANON_CHUNK, x.prot, 0, 0, 0);
    } else {
        x.lo = pg_trunc(a);
        x.hi = x.lo + PAGE;
        r = emit_mmap(im, p, base + (x.lo & CHUNK_MASK), PAGE, x.prot, 0, 0, 0);
    }
    if (r == 0 && fresh) {
        /* under what else the chunk holds, the chunk stays theirs */
        for (uint64_t at = x.lo; at < x.hi;) {
            uint64_t t, end;
            enum cls k = classify(p, at, &t, &end);
            if (end > x.hi)
                end = x.hi;
            if (k == C_HOLE) {
                struct ival piece = x;
                piece.lo = at, piece.hi = end;
                if (iv_add(&p->maps, &piece) != 0)
                    return nomem(im);
            }
            at = end;
        }
        return 0;
    }
    if (r == 0 && iv_add(&p->maps, &x) != 0)
        return nomem(im);
    return r;
}

/* ---------- accesses ---------- */

static int put_access(struct lkimp *im, const struct lkproc *p,
                      enum xvm_trace_op op, uint64_t t, uint64_t n)
{
    struct xvm_trace_event ev;
    ev_init(&ev, op, p);
    ev.addr = t;
    ev.len = n;
    if (op == XVM_T_EXEC_FETCH)
        im->st->ev_x++;
    else if (op == XVM_T_READ)
        im->st->ev_r++;
    else
        im->st->ev_w++;
    return emit(im, &ev);
}

static void count(struct lkimp *im, enum cls k, uint64_t n)
{
    if (k == C_ELF)
        im->st->elf_bytes += n;
    else if (k == C_INFERRED)
        im->st->inferred_bytes += n;
    else
        im->st->mapped_bytes += n;
}

/* One access, piece by piece: each piece in one kind of memory. */
static int access_slow(struct lkimp *im, struct lkproc *p, enum xvm_trace_op op,
                       uint64_t a, uint64_t n, uint64_t line)
{
    while (n > 0) {
        uint64_t t = 0, end;
        enum cls k = classify(p, a, &t, &end);
        int r;
        if (k == C_HOLE) {
            if ((r = infer(im, p, a, line)) != 0)
                return r;
            continue;
        }
        uint64_t piece = end - a < n ? end - a : n;
        if (k == C_DROP) {
            im->st->dropped_bytes += piece;
        } else {
            count(im, k, piece);
            p->hit_lo = a, p->hit_hi = end, p->hit_delta = t - a;
            p->hit_cls = (int)k;
            if ((r = put_access(im, p, op, t, piece)) != 0)
                return r;
        }
        a += piece;
        n -= piece;
    }
    return 0;
}

static int access1(struct lkimp *im, struct lkproc *p, enum xvm_trace_op op,
                   uint64_t a, uint64_t n, uint64_t line)
{
    if (a >= p->hit_lo && a + (n - 1) < p->hit_hi) {
        count(im, (enum cls)p->hit_cls, n);
        return put_access(im, p, op, a + p->hit_delta, n);
    }
    return access_slow(im, p, op, a, n, line);
}

static int do_access(struct lkimp *im, struct lkproc *p,
                     const struct lk_item *it)
{
    int r;
    switch (it->acc) {
    case 'I':
        return access1(im, p, XVM_T_EXEC_FETCH, it->addr, it->size, it->line);
    case 'L': return access1(im, p, XVM_T_READ, it->addr, it->size, it->line);
    case 'S': return access1(im, p, XVM_T_WRITE, it->addr, it->size, it->line);
    default:
        if ((r = access1(im, p, XVM_T_READ, it->addr, it->size, it->line)) != 0)
            return r;
        return access1(im, p, XVM_T_WRITE, it->addr, it->size, it->line);
    }
}

static void forget_hit(struct lkproc *p)
{
    p->hit_lo = p->hit_hi = 0;
}

/* ---------- files ---------- */

static void of_put(struct ofile *of)
{
    if (of != NULL && --of->refs == 0)
        free(of);
}

static void fd_set_(struct lkproc *p, uint64_t fd, struct ofile *of,
                    int cloexec)
{
    if (fd >= LK_MAXFD)
        return;
    if (of != NULL)
        of->refs++;
    of_put(p->fds->fd[fd]);
    p->fds->fd[fd] = of;
    p->fds->cloexec[fd] = (uint8_t)cloexec;
}

static struct ofile *fd_get(const struct lkproc *p, uint64_t fd)
{
    return fd < LK_MAXFD ? p->fds->fd[fd] : NULL;
}

/* Files whose bytes can be in an image: regular, and not of the kernel. */
static int is_regular(const char *path, uint64_t *size)
{
    struct stat sb;
    static const char *const virt[] = { "/proc/", "/sys/", "/dev/" };
    for (size_t i = 0; i < sizeof(virt) / sizeof(virt[0]); i++)
        if (strncmp(path, virt[i], strlen(virt[i])) == 0)
            return 0;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    if (size)
        *size = (uint64_t)sb.st_size;
    return 1;
}

int lkproc_path(struct lkimp *im, const struct lkproc *p, const char *path,
                char *out, size_t cap)
{
    char tmp[2 * LK_PATH_MAX];
    const char *cwd = str_of(im, p->cwd);
    int n = path[0] == '/'
                ? snprintf(tmp, sizeof(tmp), "%s", path)
                : snprintf(tmp, sizeof(tmp), "%s/%s", cwd[0] ? cwd : "", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return trace_fail(im->e, ENAMETOOLONG, "%s: path too long", path);
    /* lexically: no "", "." or ".." components (links are the image's) */
    size_t o = 0;
    for (char *s = tmp; *s;) {
        while (*s == '/')
            s++;
        size_t len = strcspn(s, "/");
        if (len == 0)
            break;
        if (len == 1 && s[0] == '.') {
        } else if (len == 2 && s[0] == '.' && s[1] == '.') {
            while (o > 0 && out[--o] != '/')
                ;
        } else {
            if (o + 1 + len + 1 > cap)
                return trace_fail(im->e, ENAMETOOLONG, "%s: path too long",
                                  path);
            out[o++] = '/';
            memcpy(out + o, s, len);
            o += len;
        }
        s += len;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return 0;
}

static int do_open(struct lkimp *im, struct lkproc *p, const struct lk_sys *s,
                   struct lklog *l)
{
    char full[LK_PATH_MAX];
    uint64_t flags = s->sc == SC_OPEN ? s->arg[1] : s->arg[2];
    if (!s->has_path || s->res >= LK_MAXFD)
        return 0;
    fd_set_(p, s->res, NULL, 0);
    if (s->sc == SC_OPENAT && s->arg[0] != AT_FDCWD && s->path[0] != '/') {
        struct ofile *dir = fd_get(p, s->arg[0]);
        if (dir == NULL)
            return lklog_bad(l, s->line,
                             "openat relative to an fd this process never "
                             "opened");
        char rel[2 * LK_PATH_MAX];
        snprintf(rel, sizeof(rel), "%s/%s", str_of(im, dir->path), s->path);
        if (strlen(rel) >= LK_PATH_MAX)
            return trace_fail(im->e, ENAMETOOLONG, "%s: path too long", rel);
        int r = lkproc_path(im, p, rel, full, sizeof(full));
        if (r)
            return r;
    } else {
        int r = lkproc_path(im, p, s->path, full, sizeof(full));
        if (r)
            return r;
    }
    struct ofile *of = calloc(1, sizeof(*of));
    if (of == NULL || (of->path = str_intern(im, full)) == 0) {
        free(of);
        return nomem(im);
    }
    const char *base = strrchr(full, '/');
    of->vg = strncmp(base + 1, "vgpreload_", 10) == 0;
    of->shm = strncmp(full, "/dev/shm/", 9) == 0; /* shm_open's */
    of->regular = -1;
    fd_set_(p, s->res, of, (flags & O_CLOEXEC_) != 0);
    return 0;
}

/* memfd_create: an fd of tmpfs memory that no path names. */
static int do_memfd(struct lkimp *im, struct lkproc *p, const struct lk_sys *s)
{
    if (s->res >= LK_MAXFD)
        return 0;
    struct ofile *of = calloc(1, sizeof(*of));
    if (of == NULL)
        return nomem(im);
    of->shm = 1;
    of->regular = 0; /* its reads are no file's */
    fd_set_(p, s->res, of, (s->arg[1] & MFD_CLOEXEC_) != 0);
    return 0;
}

static int regular(struct ofile *of, const struct lkimp *im)
{
    if (of->regular < 0)
        of->regular = (int8_t)is_regular(str_of(im, of->path), NULL);
    return of->regular;
}

/* What pieces() does with a hole: infers its memory first, hands it to
 * fn a chunk at a time (a chunk's trace place is its own), or whole, however
 * many chunks it spans (for an fn that ignores holes). */
enum holes { HOLES_INFER, HOLES_BY_CHUNK, HOLES_WHOLE };

/* Classifies [a, a+n) into pieces: fn(arg, piece class, host, trace, len). */
typedef int (*piece_fn)(struct lkimp *im, struct lkproc *p, enum cls k,
                        uint64_t a, uint64_t t, uint64_t n, void *arg);

static int pieces(struct lkimp *im, struct lkproc *p, uint64_t a, uint64_t n,
                  enum holes holes, uint64_t line, piece_fn fn, void *arg)
{
    uint64_t stop = a + n < a ? UINT64_MAX : a + n;
    while (a < stop) {
        uint64_t t = 0, end;
        enum cls k = classify(p, a, &t, &end);
        int r;
        if (k == C_HOLE && holes == HOLES_INFER) {
            if ((r = infer(im, p, a, line)) != 0)
                return r;
            continue;
        }
        if (k == C_HOLE && holes == HOLES_WHOLE) {
            uint64_t next = next_region(p, a);
            end = iv_next(&p->maps, a);
            if (next < end)
                end = next;
        }
        if (end > stop)
            end = stop;
        if ((r = fn(im, p, k, a, t, end - a, arg)) != 0)
            return r;
        a = end;
    }
    return 0;
}

struct pread_arg {
    uint32_t path;
    uint64_t off;
};

static int pread_piece(struct lkimp *im, struct lkproc *p, enum cls k,
                       uint64_t a, uint64_t t, uint64_t n, void *arg)
{
    struct pread_arg *pa = arg;
    struct xvm_trace_event ev;
    (void)a;
    if (k == C_DROP) {
        pa->off += n;
        return 0;
    }
    ev_init(&ev, XVM_T_PREAD, p);
    ev.addr = t;
    ev.len = n;
    ev.path = str_of(im, pa->path);
    ev.off = pa->off;
    pa->off += n;
    im->st->reads++;
    return emit(im, &ev);
}

static int do_read(struct lkimp *im, struct lkproc *p, const struct lk_sys *s)
{
    struct ofile *of = fd_get(p, s->arg[0]);
    if (of == NULL || s->res == 0 || s->res > XVM_TRACE_MAX_SIZE)
        return 0;
    uint64_t off = s->sc == SC_PREAD ? s->arg[3] : of->pos;
    if (s->sc == SC_READ)
        of->pos += s->res;
    if (of->vg)
        return 0;
    if (!regular(of, im)) {
        im->st->reads_skipped++;
        return 0;
    }
    use(im, of->path);
    struct pread_arg pa = { of->path, off };
    return pieces(im, p, s->arg[1], s->res, HOLES_INFER, s->line, pread_piece,
                  &pa);
}

/* ---------- mappings ---------- */

struct map_arg {
    int prot, shared;
    uint32_t path;        /* 0: anonymous */
    uint64_t off;         /* file offset at the mapping's start */
    uint64_t start, fend; /* host start; host end of the file's pages */
    uint64_t line;
};

static int map_piece(struct lkimp *im, struct lkproc *p, enum cls k, uint64_t a,
                     uint64_t t, uint64_t n, void *arg)
{
    struct map_arg *m = arg;
    int r;
    if (k == C_HOLE || k == C_MAPPED || k == C_INFERRED || k == C_DROP) {
        uint64_t base;
        if ((r = chunk_get(im, p, a >> 20, m->line, &base)) != 0)
            return r;
        t = base + (a & CHUNK_MASK);
    }
    /* the file's part, then anonymous memory past its last page (a
     * kernel would raise SIGBUS there; ld.so maps bss over it) */
    uint64_t fn = 0;
    if (m->path && a < m->fend)
        fn = m->fend - a < n ? m->fend - a : n;
    if (fn > 0 && (r = emit_mmap(im, p, t, fn, m->prot, m->shared, m->path,
                                 m->off + (a - m->start))) != 0)
        return r;
    if (n > fn && (r = emit_mmap(im, p, t + fn, n - fn, m->prot,
                                 m->path ? 0 : m->shared, 0, 0)) != 0)
        return r;
    if (k == C_ELF || k == C_BRK)
        return 0;
    struct ival x = { .lo = a,
                      .hi = a + n,
                      .prot = (uint8_t)m->prot,
                      .shared = (uint8_t)m->shared };
    if (fn > 0) {
        x.path = m->path;
        x.off = m->off + (a - m->start);
    }
    if (iv_add(&p->maps, &x) != 0)
        return nomem(im);
    return 0;
}

static int map_host(struct lkimp *im, struct lkproc *p, uint64_t a, uint64_t n,
                    struct map_arg *m)
{
    if (iv_remove(&p->drop, a, a + n) != 0 || iv_remove(&p->maps, a, a + n))
        return nomem(im);
    forget_hit(p);
    return pieces(im, p, a, n, HOLES_BY_CHUNK, m->line, map_piece, m);
}

static int do_mmap(struct lkimp *im, struct lkproc *p, const struct lk_sys *s,
                   struct lklog *l)
{
    uint64_t a = s->res, n = pg_round(s->arg[1]), flags = s->arg[3];
    int64_t fd = (int32_t)(uint32_t)s->arg[4];
    struct map_arg m = {
        .prot = (int)(s->arg[2] & 7),
        .shared = (flags & MAP_SHARED) != 0,
        .off = s->arg[5],
        .start = a,
        .line = s->line,
    };
    if (!s->ok || n == 0 || a + n < a)
        return 0;
    if (!(flags & MAP_ANON) && fd >= 0) {
        struct ofile *of = fd_get(p, (uint64_t)fd);
        char what[64];
        if (of == NULL) {
            snprintf(what, sizeof(what),
                     "mmap of fd %lld, which this process never opened",
                     (long long)fd);
            return lklog_bad(l, s->line, what);
        }
        if (of->vg) { /* valgrind's own: not the program's */
            struct ival x = { .lo = a, .hi = a + n };
            if (iv_remove(&p->maps, a, a + n) != 0 || iv_add(&p->drop, &x))
                return nomem(im);
            forget_hit(p);
            return 0;
        }
        const char *path = str_of(im, of->path);
        uint64_t size = 0;
        /* tmpfs memory (memfd, /dev/shm) and /dev/zero's: anonymous */
        if (!of->shm && strcmp(path, "/dev/zero") != 0) {
            if (!is_regular(path, &size))
                return trace_fail(
                    im->e, EINVAL,
                    "%s: line %llu: mmap of %s, which is not a regular file "
                    "that can go into an image (gone, a device, or the "
                    "kernel's)",
                    l->name ? l->name : "log", (unsigned long long)s->line,
                    path);
            m.path = of->path;
            m.fend = a + (pg_round(size) > m.off ? pg_round(size) - m.off : 0);
            if (m.fend < a)
                m.fend = UINT64_MAX;
            use(im, of->path);
            /* the image is read-only: a shared writable mapping is
             * copy-on-write in the trace */
            if (m.shared && (m.prot & XVM_PROT_WRITE))
                m.shared = 0;
        }
    }
    /* shared anonymous memory (and /dev/zero's, a memfd's, /dev/shm's)
     * stays shared: one object for the processes that fork with it */
    return map_host(im, p, a, n, &m);
}

static int unmap_piece(struct lkimp *im, struct lkproc *p, enum cls k,
                       uint64_t a, uint64_t t, uint64_t n, void *arg)
{
    (void)arg;
    if (k == C_HOLE)
        return 0;
    if (k == C_DROP)
        return iv_remove(&p->drop, a, a + n) ? nomem(im) : 0;
    if ((k == C_MAPPED || k == C_INFERRED) &&
        iv_remove(&p->maps, a, a + n) != 0)
        return nomem(im);
    return emit_range(im, p, XVM_T_MUNMAP, t, n, 0);
}

static int protect_piece(struct lkimp *im, struct lkproc *p, enum cls k,
                         uint64_t a, uint64_t t, uint64_t n, void *arg)
{
    int prot = *(int *)arg;
    if (k == C_HOLE || k == C_DROP)
        return 0;
    if ((k == C_MAPPED || k == C_INFERRED) &&
        iv_protect(&p->maps, a, a + n, (uint8_t)prot) != 0)
        return nomem(im);
    return emit_range(im, p, XVM_T_MPROTECT, t, n, prot);
}

static int do_munmap(struct lkimp *im, struct lkproc *p, uint64_t a, uint64_t n,
                     uint64_t line)
{
    forget_hit(p);
    return pieces(im, p, a, pg_round(n), HOLES_WHOLE, line, unmap_piece, NULL);
}

/* MADV_DONTNEED: private pages go, the next access reads the file or
 * zeros again, as a new mapping of the same would give. */
static int dontneed_piece(struct lkimp *im, struct lkproc *p, enum cls k,
                          uint64_t a, uint64_t t, uint64_t n, void *arg)
{
    (void)arg;
    if (k == C_BRK)
        return emit_mmap(im, p, t, n, XVM_PROT_READ | XVM_PROT_WRITE, 0, 0, 0);
    if (k != C_MAPPED && k != C_INFERRED)
        return 0; /* the images' own pages are kept: see the doc */
    const struct ival *x = iv_at(&p->maps, a);
    if (x == NULL || x->shared)
        return 0; /* shared memory keeps its contents */
    return emit_mmap(im, p, t, n, x->prot, 0, x->path, x->off + (a - x->lo));
}

/* mremap: in place, the tail grows (mapped like the rest) or goes;
 * moved, the old range goes and the new one is mapped like it (its pages
 * come back by faults: the trace cannot move them). */
static int do_mremap(struct lkimp *im, struct lkproc *p, const struct lk_sys *s)
{
    uint64_t old = s->arg[0], oldn = pg_round(s->arg[1]);
    uint64_t n = pg_round(s->arg[2]), a = s->res;
    const struct ival *x = iv_at(&p->maps, old);
    struct map_arg m = { .prot = XVM_PROT_READ | XVM_PROT_WRITE,
                         .start = a,
                         .line = s->line };
    if (!s->ok || n == 0 || a + n < a)
        return 0;
    if (x != NULL) {
        m.prot = x->prot;
        m.shared = x->shared;
        if (x->path) {
            uint64_t size = 0;
            m.path = x->path;
            m.off = x->off + (old - x->lo);
            if (!is_regular(str_of(im, x->path), &size))
                m.path = 0;
            m.fend = pg_round(size) > m.off ? a + pg_round(size) - m.off : a;
        }
    }
    if (a == old && n <= oldn)
        return n < oldn ? do_munmap(im, p, a + n, oldn - n, s->line) : 0;
    if (a == old) /* map_piece: the file's offset follows from start */
        return map_host(im, p, a + oldn, n - oldn, &m);
    int r = do_munmap(im, p, old, oldn, s->line);
    return r ? r : map_host(im, p, a, n, &m);
}

static int do_brk(struct lkimp *im, struct lkproc *p, const struct lk_sys *s)
{
    uint64_t b = s->res;
    if (!s->ok)
        return 0;
    if (!p->brk_known) {
        p->brk_known = 1;
        p->hbrk0 = p->hbrk = b;
        forget_hit(p);
        return 0;
    }
    if (b == p->hbrk || b < p->hbrk0)
        return 0;
    if (b - p->hbrk0 > p->tbrk_max - p->tbrk0)
        return trace_fail(im->e, ERANGE,
                          "line %llu: brk to 0x%llx: a heap of 0x%llx bytes "
                          "runs into what the trace has above it at 0x%llx",
                          (unsigned long long)s->line, (unsigned long long)b,
                          (unsigned long long)(b - p->hbrk0),
                          (unsigned long long)p->tbrk_max);
    p->hbrk = b;
    forget_hit(p);
    struct xvm_trace_event ev;
    ev_init(&ev, XVM_T_BRK, p);
    ev.addr = b - p->hbrk0 + p->tbrk0;
    return emit(im, &ev);
}

/* ---------- system calls ---------- */

static int do_syscall(struct lkimp *im, struct lkproc *p, struct lklog *l,
                      const struct lk_sys *s, struct lk_event *ev)
{
    struct ofile *of;
    int prot;
    if (im->single && (s->sc == SC_FORK || s->sc == SC_EXECVE ||
                       s->sc == SC_WAIT4 || s->sc == SC_EXIT))
        return 0; /* one process: its tree is not followed */
    switch (s->sc) {
    case SC_MMAP: return do_mmap(im, p, s, l);
    case SC_MUNMAP:
        return s->ok ? do_munmap(im, p, s->arg[0], s->arg[1], s->line) : 0;
    case SC_MPROTECT:
        prot = (int)(s->arg[2] & 7);
        forget_hit(p);
        return s->ok ? pieces(im, p, s->arg[0], pg_round(s->arg[1]),
                              HOLES_WHOLE, s->line, protect_piece, &prot)
                     : 0;
    case SC_MREMAP: return do_mremap(im, p, s);
    case SC_MADVISE:
        forget_hit(p);
        return s->ok && s->arg[2] == MADV_DONTNEED
                   ? pieces(im, p, s->arg[0], pg_round(s->arg[1]), HOLES_WHOLE,
                            s->line, dontneed_piece, NULL)
                   : 0;
    case SC_BRK: return do_brk(im, p, s);
    case SC_OPEN:
    case SC_OPENAT: return s->ok ? do_open(im, p, s, l) : 0;
    case SC_MEMFD: return s->ok ? do_memfd(im, p, s) : 0;
    case SC_CLOSE:
        if (s->ok)
            fd_set_(p, s->arg[0], NULL, 0);
        return 0;
    case SC_DUP:
    case SC_DUP2:
    case SC_DUP3:
        if (s->ok && s->res != s->arg[0])
            fd_set_(p, s->res, fd_get(p, s->arg[0]),
                    s->sc == SC_DUP3 && (s->arg[2] & O_CLOEXEC_));
        return 0;
    case SC_FCNTL:
        if (s->ok && (s->arg[1] == 0 || s->arg[1] == 1030))
            fd_set_(p, s->res, fd_get(p, s->arg[0]), s->arg[1] == 1030);
        else if (s->ok && s->arg[1] == 2 && s->arg[0] < LK_MAXFD)
            p->fds->cloexec[s->arg[0]] = (uint8_t)(s->arg[2] & 1);
        return 0;
    case SC_READ:
    case SC_PREAD: return s->ok ? do_read(im, p, s) : 0;
    case SC_LSEEK:
        if (s->ok && (of = fd_get(p, s->arg[0])) != NULL)
            of->pos = s->res;
        return 0;
    case SC_CHDIR:
        if (s->ok && s->has_path) {
            char full[LK_PATH_MAX];
            int r = lkproc_path(im, p, s->path, full, sizeof(full));
            if (r == 0 && (p->cwd = str_intern(im, full)) == 0)
                r = nomem(im);
            return r;
        }
        return 0;
    case SC_FCHDIR:
        if (s->ok && (of = fd_get(p, s->arg[0])) != NULL)
            p->cwd = of->path;
        return 0;
    case SC_FORK:
        if (s->done && !s->ok)
            return 0;
        ev->sync = LS_FORK;
        ev->hpid = s->child;
        return 0;
    case SC_EXECVE:
        if (s->done && !s->ok)
            return 0;
        if (!s->has_path)
            return lklog_bad(l, s->line, "execve without its path");
        ev->sync = LS_EXEC;
        ev->partial = s->partial;
        if ((ev->path = str_intern(im, s->path)) == 0)
            return nomem(im);
        return 0;
    case SC_WAIT4:
        /* a blocking wait for a child (or any), at its call; or one that
         * returned at once: the child it reaped had exited */
        if (!s->done && !s->completion) {
            int32_t who = (int32_t)(uint32_t)s->arg[0];
            ev->sync = LS_WAIT;
            ev->hpid = who > 0 ? (uint32_t)who : 0;
        } else if (s->done && !s->completion && s->ok && s->res > 0 &&
                   s->res <= UINT32_MAX) {
            ev->sync = LS_WAIT;
            ev->hpid = (uint32_t)s->res;
        }
        return 0;
    case SC_EXIT: ev->sync = LS_EXIT; return 0;
    case SC_OTHER: return 0;
    }
    return 0;
}

int lkproc_step(struct lkimp *im, struct lkproc *p, struct lk_event *ev)
{
    struct lk_item it;
    int r;
    ev->sync = LS_NONE;
    ev->partial = 0;
    for (;;) {
        if ((r = lklog_next(&p->log, &it)) != 0)
            return r;
        ev->line = it.line;
        if (it.type == LKI_EOF) {
            ev->sync = LS_EXIT;
            return 0;
        }
        if (it.type == LKI_ACCESS)
            r = do_access(im, p, &it);
        else
            r = do_syscall(im, p, &p->log, it.sys, ev);
        if (r != 0 || ev->sync != LS_NONE)
            return r;
    }
}

/* ---------- processes ---------- */

int lkproc_new(struct lkimp *im, struct lkproc **out)
{
    struct lkproc *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->cm = calloc(1, sizeof(*p->cm))) == NULL ||
        (p->fds = calloc(1, sizeof(*p->fds))) == NULL) {
        if (p)
            free(p->cm);
        free(p);
        return nomem(im);
    }
    *out = p;
    return 0;
}

int lkproc_fork(struct lkimp *im, const struct lkproc *pp, struct lkproc **out)
{
    struct lkproc *c = NULL;
    int r = lkproc_new(im, &c);
    if (r)
        return r;
    struct chunkmap *cm = c->cm;
    struct fdtab *fds = c->fds;
    *c = *pp;
    c->maps = c->drop = (struct ivals){ 0 };
    memset(&c->log, 0, sizeof(c->log));
    c->log_open = 0;
    c->cm = cm;
    c->fds = fds;
    *cm = *pp->cm;
    if (iv_copy(&c->maps, &pp->maps) != 0 || iv_copy(&c->drop, &pp->drop)) {
        lkproc_free(c);
        return nomem(im);
    }
    for (unsigned i = 0; i < LK_MAXFD; i++)
        fd_set_(c, i, pp->fds->fd[i], pp->fds->cloexec[i]);
    forget_hit(c);
    *out = c;
    return 0;
}

void lkproc_free(struct lkproc *p)
{
    if (p == NULL)
        return;
    if (p->log_open)
        lklog_close(&p->log);
    if (p->fds)
        for (unsigned i = 0; i < LK_MAXFD; i++)
            of_put(p->fds->fd[i]);
    free(p->fds);
    free(p->cm);
    free(p->maps.v);
    free(p->drop.v);
    free(p);
}

/* ---------- a new image ---------- */

/* Reads an ELF from the host; => its headers, and the interpreter path. */
static int load(struct lkimp *im, const char *path, struct elf_image *el,
                char *interp, size_t cap)
{
    uint8_t *file = NULL;
    size_t len = 0;
    int r = trace_load_elf(im->e, path, &file, &len, el);
    if (r == 0 && interp != NULL && el->has_interp) {
        const char *s = (const char *)file + el->interp_off;
        if (elf_check_interp(s, (size_t)el->interp_len) != 0 ||
            el->interp_len > cap)
            r = trace_fail(im->e, ENOEXEC, "%s: a bad PT_INTERP", path);
        else
            memcpy(interp, s, (size_t)el->interp_len);
    }
    free(file);
    return r;
}

/* Page-rounded, merged PT_LOADs (ascending, as elf_parse checks). */
static int segments(struct lkimp *im, struct image *img, const char *path)
{
    img->nseg = 0;
    for (unsigned i = 0; i < img->elf.nload; i++) {
        uint64_t lo = pg_trunc(img->elf.load[i].vaddr);
        uint64_t end = img->elf.load[i].vaddr + img->elf.load[i].memsz;
        uint64_t hi = pg_round(end);
        if (hi < end)
            return trace_fail(im->e, ERANGE, "%s: segment ends above 2^64",
                              path);
        if (img->nseg > 0 && lo <= img->hi[img->nseg - 1]) {
            if (hi > img->hi[img->nseg - 1])
                img->hi[img->nseg - 1] = hi;
            continue;
        }
        img->lo[img->nseg] = lo;
        img->hi[img->nseg++] = hi;
    }
    return 0;
}

/* => whether img's segments at bias would end past 2^64. */
static bool past_2_64(const struct image *img, uint64_t bias)
{
    return bias > UINT64_MAX - img->hi[img->nseg - 1];
}

/* Places img at host bias hbias, trace bias tbias. */
static int place(struct lkimp *im, struct image *img, uint64_t hbias,
                 uint64_t tbias, uint64_t line)
{
    if (past_2_64(img, hbias))
        return trace_fail(im->e, EINVAL,
                          "line %llu: load bias 0x%llx puts %s above 2^64",
                          (unsigned long long)line, (unsigned long long)hbias,
                          str_of(im, img->path));
    for (unsigned i = 0; i < img->nseg; i++) {
        img->lo[i] += hbias;
        img->hi[i] += hbias;
    }
    img->delta = tbias - hbias;
    img->known = 1;
    return 0;
}

/* The trace side must fit a 32-bit profile. */
static int fits(struct lkimp *im, const struct image *img, uint64_t tbias)
{
    uint64_t top = img->hi[img->nseg - 1] + tbias;
    if (top > USER_TOP || top < tbias)
        return trace_fail(im->e, ERANGE,
                          "%s: segments end at 0x%llx, above 0x%llx: the "
                          "trace would not fit a 32-bit profile",
                          str_of(im, img->path), (unsigned long long)top,
                          (unsigned long long)USER_TOP);
    return 0;
}

static int in_ranges(const uint64_t (*r)[2], unsigned n, uint64_t a)
{
    for (unsigned i = 0; i < n; i++)
        if (a >= r[i][0] && a < r[i][1])
            return 1;
    return 0;
}

/*
 * The first pass over a new image's log: where valgrind put the
 * interpreter (its entry is the first instruction) and the program (the
 * first instruction outside the interpreter and every mapping is its
 * entry: on glibc the program's constructors run from its own _start).
 * => *ihb, *phb and *known (1: interpreter, 2: program placed).
 */
static int scan(struct lkimp *im, struct lkproc *p, uint64_t *ihb,
                uint64_t *phb, int *known)
{
    struct lklog *l = &p->log;
    const struct elf_image *pe = &p->prog.elf, *ie = &p->interp.elf;
    int dyn = pe->has_interp, first = 1, r;
    uint64_t(*maps)[2] = malloc(SCAN_MAPS * sizeof(*maps));
    unsigned nmaps = 0;
    struct lk_item it;
    *known = 0;
    if (maps == NULL)
        return nomem(im);
    while ((r = lklog_next(l, &it)) == 0 && it.type != LKI_EOF) {
        if (it.type == LKI_SYSCALL) {
            const struct lk_sys *s = it.sys;
            if (s->sc == SC_MMAP && s->ok && nmaps < SCAN_MAPS) {
                maps[nmaps][0] = s->res;
                maps[nmaps++][1] = s->res + pg_round(s->arg[1]);
            }
            continue;
        }
        uint64_t a = it.addr;
        if (first) {
            const struct elf_image *e = dyn ? ie : pe;
            const char *what = dyn ? "its interpreter's" : "the ELF";
            uint64_t bias = a - e->entry;
            char msg[256];
            first = 0;
            if (it.acc != 'I') {
                r = lklog_bad(l, it.line,
                              "data access before the first instruction");
                break;
            }
            if ((!dyn && !pe->is_dyn && a != pe->entry) ||
                ((dyn || pe->is_dyn) && (a < e->entry || (bias & PAGE_MASK)))) {
                snprintf(msg, sizeof(msg),
                         "first instruction at 0x%llx, not at %s entry "
                         "0x%llx%s: is %s the traced program?",
                         (unsigned long long)a, what,
                         (unsigned long long)e->entry,
                         e->is_dyn ? " at a page-aligned bias" : "",
                         str_of(im, p->prog.path));
                r = trace_fail(im->e, EINVAL, "%s%sline %llu: %s",
                               l->name ? l->name : "", l->name ? ": " : "",
                               (unsigned long long)it.line, msg);
                break;
            }
            const struct image *img = dyn ? &p->interp : &p->prog;
            if (past_2_64(img, bias)) {
                r = lklog_bad(l, it.line,
                              "a load bias that puts the image "
                              "above 2^64");
                break;
            }
            if (!dyn) {
                *phb = bias;
                *known = 2;
                break;
            }
            *ihb = bias;
            *known = 1;
            if (!pe->is_dyn) {
                *phb = 0;
                *known = 3;
                break;
            }
            continue;
        }
        if (it.acc != 'I')
            continue;
        uint64_t end;
        struct image tmp = p->interp;
        tmp.known = 1;
        for (unsigned i = 0; i < tmp.nseg; i++)
            tmp.lo[i] += *ihb, tmp.hi[i] += *ihb;
        if (in_image(&tmp, a, &end) || in_ranges(maps, nmaps, a))
            continue;
        if (a < pe->entry || ((a - pe->entry) & PAGE_MASK)) {
            char msg[200];
            snprintf(msg, sizeof(msg),
                     "the first instruction outside the interpreter and "
                     "every mapping, 0x%llx, is not %s's entry 0x%llx at a "
                     "page-aligned bias",
                     (unsigned long long)a, str_of(im, p->prog.path),
                     (unsigned long long)pe->entry);
            r = lklog_bad(l, it.line, msg);
            break;
        }
        if (past_2_64(&p->prog, a - pe->entry)) {
            r = lklog_bad(l, it.line,
                          "a load bias that puts the program "
                          "above 2^64");
            break;
        }
        *phb = a - pe->entry;
        *known = 3;
        break;
    }
    free(maps);
    return r;
}

static void close_on_exec(struct lkproc *p)
{
    for (unsigned i = 0; i < LK_MAXFD; i++)
        if (p->fds->cloexec[i])
            fd_set_(p, i, NULL, 0);
}

int lkproc_image(struct lkimp *im, struct lkproc *p, const char *prog, int exec)
{
    char interp[ELF_INTERP_MAX];
    int r;
    if (exec)
        close_on_exec(p);
    memset(&p->prog, 0, sizeof(p->prog));
    memset(&p->interp, 0, sizeof(p->interp));
    memset(p->cm, 0, sizeof(*p->cm));
    p->maps.n = p->drop.n = 0;
    p->brk_known = 0;
    forget_hit(p);
    if ((p->prog.path = str_intern(im, prog)) == 0)
        return nomem(im);
    use(im, p->prog.path);
    if ((r = load(im, prog, &p->prog.elf, interp, sizeof(interp))) != 0 ||
        (r = segments(im, &p->prog, prog)) != 0)
        return r;
    uint64_t ptb = elf_load_bias(&p->prog.elf, ELF_DYN_BASE, PAGE), itb = 0;
    uint64_t top = p->prog.hi[p->prog.nseg - 1] + ptb;
    if ((r = fits(im, &p->prog, ptb)) != 0)
        return r;
    p->tbrk0 = pg_round(p->prog.elf.hi + ptb);
    if (p->prog.elf.has_interp) {
        if ((p->interp.path = str_intern(im, interp)) == 0)
            return nomem(im);
        use(im, p->interp.path);
        if ((r = load(im, interp, &p->interp.elf, NULL, 0)) != 0 ||
            (r = segments(im, &p->interp, interp)) != 0)
            return r;
        itb = elf_interp_bias(&p->prog.elf, ptb, &p->interp.elf, PAGE);
        if ((r = fits(im, &p->interp, itb)) != 0)
            return r;
        if (p->interp.hi[p->interp.nseg - 1] + itb > top)
            top = p->interp.hi[p->interp.nseg - 1] + itb;
    }
    p->next_anon = p->tbrk_max = trace_anon_start(top);
    if (p->prog.elf.has_interp && p->interp.lo[0] + itb > p->tbrk0 &&
        p->interp.lo[0] + itb < p->tbrk_max)
        p->tbrk_max = p->interp.lo[0] + itb;
    /* where valgrind put them: a first pass, its counts undone */
    struct lackey_stats saved = *im->st;
    uint64_t ihb = 0, phb = 0;
    int known = 0;
    r = scan(im, p, &ihb, &phb, &known);
    *im->st = saved;
    if (r == 0 && known == 0 && im->single)
        r = trace_fail(im->e, EINVAL,
                       "line %llu: no lackey instruction lines: is this "
                       "the output of valgrind --tool=lackey "
                       "--trace-mem=yes?",
                       (unsigned long long)p->log.lineno);
    if (r == 0)
        r = lklog_rewind(&p->log);
    if (r)
        return r;
    if (known >= 1 && p->prog.elf.has_interp &&
        (r = place(im, &p->interp, ihb, itb, 0)) != 0)
        return r;
    if ((known == 3 || (known == 2 && !p->prog.elf.has_interp)) &&
        (r = place(im, &p->prog, phb, ptb, 0)) != 0)
        return r;
    return 0;
}
