/*
 * ns per access of the CPU model (see cpumodel.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "tlbmodel.h"
#include "cpumodel.h"

struct ev {
    uint64_t addr;
    uint32_t size;
    uint32_t kind; /* 'I', 'L', 'S', 'M' */
};

struct evs {
    struct ev *v;
    size_t n, cap;
};

static int push(struct evs *e, uint32_t kind, uint64_t addr, uint32_t size)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 1 << 16;
        struct ev *v = realloc(e->v, cap * sizeof *v);
        if (v == NULL)
            return ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = (struct ev){ addr, size, kind };
    return 0;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

/* Skewed pick in [0, n): small indices much more often (hot code/data). */
static uint64_t skew(uint64_t *s, uint64_t n)
{
    uint64_t a = rnd(s) % n, b = rnd(s) % n, c = rnd(s) % n;
    uint64_t m = a < b ? a : b;
    return m < c ? m : c;
}

static int synth(struct evs *e, size_t n)
{
    uint64_t s = 0x2545f4914f6cdd1du;
    uint64_t sp = 0x7ff000800;
    while (e->n < n) {
        uint64_t pc = 0x400000 + skew(&s, 256) * 512 + rnd(&s) % 64 * 4;
        unsigned len = 4 + (unsigned)(rnd(&s) % 9);
        unsigned reps = rnd(&s) % 4 == 0 ? 1 + (unsigned)(rnd(&s) % 20) : 1;
        for (unsigned r = 0; r < reps; r++) {
            uint64_t a = pc;
            for (unsigned i = 0; i < len; i++) {
                uint32_t isz = 1 + (uint32_t)(rnd(&s) % 7);
                if (push(e, 'I', a, isz))
                    return ENOMEM;
                a += isz;
                if (rnd(&s) % 10 >= 4)
                    continue;
                uint64_t k = rnd(&s) % 100, d;
                if (k < 65)
                    d = sp - rnd(&s) % 256 * 8;
                else if (k < 95)
                    d = 0x10000000 + skew(&s, 256) * 64 + rnd(&s) % 8 * 8;
                else if (k < 99)
                    d = 0x10000000 + skew(&s, 4096) * 64 + rnd(&s) % 8 * 8;
                else
                    d = 0x20000000 + rnd(&s) % (32u << 20);
                uint64_t kk = rnd(&s) % 100;
                uint32_t kind = kk < 65 ? 'L' : kk < 95 ? 'S' : 'M';
                static const uint32_t sizes[8] = { 8, 8, 8, 8, 4, 1, 16, 32 };
                uint32_t sz = sizes[rnd(&s) % 8];
                if (push(e, kind, d & ~(uint64_t)(sz - 1), sz))
                    return ENOMEM;
            }
        }
        if (rnd(&s) % 8 == 0) /* calls and returns move the stack */
            sp += (rnd(&s) % 2 ? 64 : -64);
    }
    return 0;
}

static int from_lackey(struct evs *e, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno;
    char line[256];
    while (fgets(line, sizeof line, f) != NULL) {
        uint32_t kind;
        if (line[0] == 'I' && line[1] == ' ')
            kind = 'I';
        else if (line[0] == ' ' && strchr("LSM", line[1]) && line[1] != 0)
            kind = (uint32_t)line[1];
        else
            continue;
        char *end;
        uint64_t a = strtoull(line + 2, &end, 16);
        if (*end != ',')
            continue;
        uint32_t sz = (uint32_t)strtoul(end + 1, NULL, 10);
        if (push(e, kind, a, sz)) {
            fclose(f);
            return ENOMEM;
        }
    }
    fclose(f);
    return 0;
}

/* One pass; => ns per event.  tlb may be NULL; the checksum defeats
 * dead-code elimination of the bare loop. */
static double pass(const struct evs *e, struct cache *c, struct tlbm *t,
                   uint64_t *sum)
{
    double t0 = bench_now_ns();
    uint64_t acc = 0;
    for (size_t i = 0; i < e->n; i++) {
        const struct ev *v = &e->v[i];
        bool x = v->kind == 'I';
        if (t != NULL)
            acc += tlbm_access(t, 1, v->addr, x, 12);
        if (c == NULL) {
            acc += v->addr ^ v->size;
            continue;
        }
        uint32_t sz = cache_cg_size(c, v->size);
        switch (v->kind) {
        case 'I': acc += cache_fetch(c, v->addr, v->size); break;
        case 'L': acc += cache_load(c, v->addr, sz); break;
        case 'S': acc += cache_store(c, v->addr, sz); break;
        default: acc += cache_modify(c, v->addr, sz); break;
        }
    }
    *sum += acc;
    return (bench_now_ns() - t0) / (double)e->n;
}

/* A fresh model each run, so every run starts cold. */
static double run(const struct evs *e, int tlb_kind, uint64_t *sum,
                  struct cpumodel_results *r)
{
    struct cache_config cfg;
    struct cache c;
    struct tlbm t;
    struct tlbm_config tc;
    cache_config_default(&cfg);
    if (cache_init(&c, &cfg, NULL, 0) != 0)
        return -1;
    if (tlb_kind >= 0) {
        tlbm_config_default(&tc, (enum tlbm_kind)tlb_kind);
        if (tlbm_init(&t, &tc, NULL, 0) != 0) {
            cache_fini(&c);
            return -1;
        }
    }
    double ns = pass(e, &c, tlb_kind >= 0 ? &t : NULL, sum);
    if (tlb_kind < 0) {
        uint64_t dr = c.d1.refs[CACHE_R] + c.d1.refs[CACHE_W];
        r->i1_miss =
            100.0 * (double)c.i1.misses[CACHE_I] / (double)c.i1.refs[CACHE_I];
        r->d1_miss = 100.0 *
                     (double)(c.d1.misses[CACHE_R] + c.d1.misses[CACHE_W]) /
                     (double)dr;
        r->ll_miss =
            100.0 * (double)(c.ll.misses[0] + c.ll.misses[1] + c.ll.misses[2]) /
            (double)(c.i1.refs[CACHE_I] + dr);
    }
    if (tlb_kind == TLBM_R4K)
        r->r4k_refills = t.st.refills;
    if (tlb_kind == TLBM_AMD64)
        r->amd64_walks = t.st.walks;
    if (tlb_kind >= 0)
        tlbm_fini(&t);
    cache_fini(&c);
    return ns;
}

int bench_cpumodel(const struct bench_opts *o, const char *lackey,
                   struct cpumodel_results *r)
{
    struct evs e = { 0 };
    int err = lackey ? from_lackey(&e, lackey)
                     : synth(&e, o->quick ? 1u << 20 : 8u << 20);
    if (err == 0 && e.n == 0)
        err = EINVAL;
    if (err != 0) {
        free(e.v);
        return err;
    }
    unsigned runs = o->runs < 1                ? 1
                    : o->runs > BENCH_MAX_RUNS ? BENCH_MAX_RUNS
                                               : o->runs;
    uint64_t sum = 0;
    memset(r, 0, sizeof *r);
    r->events = e.n;
    MEDIAN(r->loop_ns, runs, pass(&e, NULL, NULL, &sum));
    MEDIAN(r->cache_ns, runs, run(&e, -1, &sum, r) - r->loop_ns);
    MEDIAN(r->cache_r4k_ns, runs, run(&e, TLBM_R4K, &sum, r) - r->loop_ns);
    MEDIAN(r->cache_amd64_ns, runs, run(&e, TLBM_AMD64, &sum, r) - r->loop_ns);
    if (sum == 42) /* keeps the loops; never true in practice */
        fputs("", stderr);
    free(e.v);
    return 0;
}
