/*
 * The cache hierarchy model: geometry rules, the tag arrays, and the part
 * of an access that is not an inline MRU hit.  The counting rules are
 * cachegrind's (see cache.h and doc/cpu-model.md); write-backs are ours.
 */
#include "cache.h"
#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static unsigned log2u(uint64_t x)
{
    unsigned n = 0;
    while (x > 1) {
        x >>= 1;
        n++;
    }
    return n;
}

int cache_geom_check(const char *opt, const struct cache_geom *g, char *err,
                     size_t errlen)
{
    if (g->size == 0 || g->assoc == 0 || g->line == 0)
        return errf(err, errlen,
                    "%s: size, associativity and line size "
                    "must all be above zero (got %u,%u,%u)",
                    opt, g->size, g->assoc, g->line);
    if (g->size > INT32_MAX)
        return errf(err, errlen,
                    "%s: size %u is too large (at most %d "
                    "bytes)",
                    opt, g->size, INT32_MAX);
    if (!pow2(g->line))
        return errf(err, errlen, "%s: line size %u is not a power of two", opt,
                    g->line);
    if (g->line < CACHE_MIN_LINE)
        return errf(err, errlen,
                    "%s: line size %u is below %u bytes (an "
                    "access could span three lines)",
                    opt, g->line, CACHE_MIN_LINE);
    if (g->size <= g->line)
        return errf(err, errlen,
                    "%s: size %u is not larger than the line "
                    "size %u",
                    opt, g->size, g->line);
    if (g->assoc > g->size / g->line)
        return errf(err, errlen,
                    "%s: associativity %u is larger than the "
                    "%u lines of the cache",
                    opt, g->assoc, g->size / g->line);
    if (g->size % ((uint64_t)g->line * g->assoc) != 0)
        return errf(err, errlen,
                    "%s: line size %u times associativity %u "
                    "does not divide the size %u",
                    opt, g->line, g->assoc, g->size);
    uint64_t sets = g->size / ((uint64_t)g->line * g->assoc);
    if (!pow2(sets))
        return errf(err, errlen,
                    "%s: set count %llu (size / (line * "
                    "associativity)) is not a power of two",
                    opt, (unsigned long long)sets);
    return 0;
}

/* One decimal field; => the position after it, or NULL. */
static const char *number(const char *s, uint64_t *v)
{
    uint64_t n = 0;
    if (*s < '0' || *s > '9')
        return NULL;
    for (; *s >= '0' && *s <= '9'; s++) {
        n = n * 10 + (uint64_t)(*s - '0');
        if (n > UINT32_MAX)
            return NULL;
    }
    *v = n;
    return s;
}

int cache_geom_parse(const char *opt, const char *val, struct cache_geom *g,
                     char *err, size_t errlen)
{
    uint64_t v[3];
    const char *s = val;
    for (int i = 0; i < 3; i++) {
        s = number(s, &v[i]);
        if (s == NULL)
            return errf(err, errlen,
                        "%s: '%s' is not SIZE,ASSOC,LINE "
                        "(decimal numbers below 2^32, e.g. 32768,8,64)",
                        opt, val);
        if (i == 0 && (*s == 'K' || *s == 'k' || *s == 'M' || *s == 'm')) {
            v[0] <<= (*s == 'K' || *s == 'k') ? 10 : 20;
            s++;
            if (v[0] > UINT32_MAX)
                return errf(err, errlen, "%s: size in '%s' is too large", opt,
                            val);
        }
        if (*s != (i < 2 ? ',' : '\0'))
            return errf(err, errlen,
                        "%s: '%s' is not SIZE,ASSOC,LINE "
                        "(e.g. 32768,8,64 or 32K,8,64)",
                        opt, val);
        s++;
    }
    struct cache_geom n = { (uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2] };
    int e = cache_geom_check(opt, &n, err, errlen);
    if (e == 0)
        *g = n;
    return e;
}

int cache_parse_option(struct cache_config *cfg, const char *arg, char *err,
                       size_t errlen)
{
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        { "--I1", offsetof(struct cache_config, i1) },
        { "--D1", offsetof(struct cache_config, d1) },
        { "--LL", offsetof(struct cache_config, ll) },
        { "--L2",
          offsetof(struct cache_config, ll) }, /* cachegrind's old name */
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        size_t n = strlen(opts[i].name);
        if (strncmp(arg, opts[i].name, n) != 0 || arg[n] != '=')
            continue;
        struct cache_geom *g = (struct cache_geom *)((char *)cfg + opts[i].off);
        return cache_geom_parse(opts[i].name, arg + n + 1, g, err, errlen);
    }
    return ENOENT;
}

void cache_config_default(struct cache_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->i1 = (struct cache_geom){ 32768, 8, 64 };
    cfg->d1 = (struct cache_geom){ 32768, 8, 64 };
    cfg->ll = (struct cache_geom){ 2097152, 16, 64 };
}

static size_t lines_of(const struct cache_geom *g)
{
    return g->size ? g->size / g->line : 0;
}

static size_t sets_of(const struct cache_geom *g)
{
    return g->size ? g->size / ((size_t)g->line * g->assoc) : 0;
}

/* Per level: tags and stamps (8 bytes each per line), mru (4 per set),
 * rounded to 8 so that the next level's tags stay aligned. */
static size_t level_bytes(const struct cache_geom *g)
{
    size_t n =
        lines_of(g) * 2 * sizeof(uint64_t) + sets_of(g) * sizeof(uint32_t);
    return (n + 7) & ~(size_t)7;
}

size_t cache_host_bytes(const struct cache_config *cfg)
{
    return level_bytes(&cfg->i1) + level_bytes(&cfg->d1) +
           level_bytes(&cfg->ll);
}

/* Carves l's arrays out of *mem (8-byte parts first keep alignment). */
static void level_init(struct cache_level *l, const struct cache_geom *g,
                       char **mem)
{
    size_t lines = lines_of(g), sets = sets_of(g);
    memset(l, 0, sizeof *l);
    l->geom = *g;
    l->tags = (uint64_t *)(void *)*mem;
    l->stamp = l->tags + lines;
    l->mru = (uint32_t *)(void *)(l->stamp + lines);
    (void)sets; /* the allocator zeroed everything: empty, never used */
    *mem += level_bytes(g);
    l->assoc = g->assoc;
    l->line_bits = log2u(g->line);
    l->set_mask = sets - 1;
}

/* Zeroed: a large calloc is fresh pages, touched only when used, so a
 * large LL costs nothing until the lines fill. */
static void *default_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return calloc(1, n);
}

static void default_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

int cache_init(struct cache *c, const struct cache_config *cfg, char *err,
               size_t errlen)
{
    int e;
    memset(c, 0, sizeof *c);
    if ((e = cache_geom_check("--I1", &cfg->i1, err, errlen)) != 0 ||
        (e = cache_geom_check("--D1", &cfg->d1, err, errlen)) != 0)
        return e;
    bool has_ll = cfg->ll.size != 0 || cfg->ll.assoc != 0 || cfg->ll.line != 0;
    if (has_ll && (e = cache_geom_check("--LL", &cfg->ll, err, errlen)) != 0)
        return e;

    void *(*alloc)(void *, size_t) = cfg->alloc ? cfg->alloc : default_alloc;
    size_t bytes = cache_host_bytes(cfg);
    char *mem = alloc(cfg->alloc_ctx, bytes);
    if (mem == NULL) {
        errf(err, errlen, "cache: no memory for %zu bytes of tags", bytes);
        return ENOMEM;
    }
    level_init(&c->i1, &cfg->i1, &mem);
    level_init(&c->d1, &cfg->d1, &mem);
    if (has_ll)
        level_init(&c->ll, &cfg->ll, &mem);
    c->has_ll = has_ll;
    c->min_line = cfg->i1.line < cfg->d1.line ? cfg->i1.line : cfg->d1.line;
    if (has_ll && cfg->ll.line < c->min_line)
        c->min_line = cfg->ll.line;
    c->free = cfg->alloc ? cfg->free : default_free;
    c->alloc_ctx = cfg->alloc_ctx;
    return 0;
}

void cache_fini(struct cache *c)
{
    if (c->i1.tags != NULL && c->free != NULL)
        c->free(c->alloc_ctx, c->i1.tags);
    memset(c, 0, sizeof *c);
}

/* Marks LL's copy of block b dirty, LRU order untouched; => held? */
static bool ll_mark_dirty(struct cache_level *ll, uint64_t b)
{
    uint64_t *set = ll->tags + (b & ll->set_mask) * ll->assoc;
    for (uint32_t i = 0; i < ll->assoc; i++) {
        if (set[i] >> 1 == b + 1) {
            set[i] |= 1;
            return true;
        }
    }
    return false;
}

/* A dirty line (block vb of level l) leaves l: into LL, or to memory. */
static void write_back(struct cache *c, struct cache_level *l, uint64_t vb,
                       uint64_t *wbs)
{
    l->writebacks++;
    if (l == &c->d1 && c->has_ll) {
        uint64_t first = vb << l->line_bits;
        uint64_t last = first + l->geom.line - 1;
        for (uint64_t b = first >> c->ll.line_bits;
             b <= last >> c->ll.line_bits; b++) {
            if (!ll_mark_dirty(&c->ll, b)) {
                /* LL dropped it (not inclusive): straight to memory. */
                c->mem_writebacks++;
                (*wbs)++;
            }
        }
        return;
    }
    c->mem_writebacks++;
    (*wbs)++;
}

/*
 * One line lookup: block b becomes the newest way of its set (dirty if
 * asked).  => true on a miss; the least recently used way was replaced
 * (written back if dirty).  Both scans run over every way without an
 * early exit: the compiler makes them branch-free.  Out of line (it runs
 * on an L1 miss only), so that the fuzz build can leave it out of its
 * coverage and sanitizer checks (fuzz/coverage-ignore.txt,
 * fuzz/sanitize-ignore.txt).
 */
XVM_NOINLINE
static bool set_ref(struct cache *c, struct cache_level *l, uint64_t b,
                    bool dirty, uint64_t *wbs)
{
    uint64_t set = b & l->set_mask;
    uint64_t *tags = l->tags + set * l->assoc;
    uint64_t *stamp = l->stamp + set * l->assoc;
    uint32_t w = l->assoc;
    for (uint32_t i = 0; i < l->assoc; i++)
        w = tags[i] >> 1 == b + 1 ? i : w;
    if (w < l->assoc) {
        tags[w] |= (uint64_t)dirty;
        stamp[w] = ++l->clock;
        l->mru[set] = w;
        return false;
    }
    uint32_t v = 0;
    for (uint32_t i = 1; i < l->assoc; i++)
        v = stamp[i] < stamp[v] ? i : v;
    uint64_t victim = tags[v];
    tags[v] = (b + 1) << 1 | (uint64_t)dirty;
    stamp[v] = ++l->clock;
    l->mru[set] = v;
    if (victim != CACHE_EMPTY && (victim & 1))
        write_back(c, l, (victim >> 1) - 1, wbs);
    return true;
}

uint64_t cache_access_slow(struct cache *c, struct cache_level *l,
                           unsigned kind, bool dirty, uint64_t addr,
                           uint32_t size)
{
    if (size == 0)
        size = 1;
    if (size > CACHE_MAX_ACCESS)
        size = CACHE_MAX_ACCESS;
    uint64_t last = addr + (size - 1);
    if (last < addr)
        last = UINT64_MAX; /* no wrap past the top */
    uint64_t wbs = 0;
    unsigned fills = 0, l1_missed = 0;

    l->refs[kind]++;
    /* Every line is looked up, even after a miss: the state changes. */
    for (uint64_t b = addr >> l->line_bits; b <= last >> l->line_bits; b++)
        l1_missed += set_ref(c, l, b, dirty, &wbs);
    if (l1_missed == 0)
        return 0;
    l->misses[kind]++;

    if (c->has_ll) {
        /* cachegrind looks up every LL line of the access, not only the
         * L1 lines that missed; the LL miss counts once. */
        struct cache_level *ll = &c->ll;
        ll->refs[kind]++;
        for (uint64_t b = addr >> ll->line_bits; b <= last >> ll->line_bits;
             b++)
            fills += set_ref(c, ll, b, false, &wbs);
        if (fills)
            ll->misses[kind]++;
    } else {
        fills = l1_missed;
    }
    c->mem_fills += fills;
    /* At most 257 lines (a page of 16-byte lines, misaligned).  Not so
     * write-backs: a 64 KiB D1 line goes out as 4096 16-byte LL lines. */
    if (fills > 0x3ff)
        fills = 0x3ff;
    if (l1_missed > 0x3ff)
        l1_missed = 0x3ff;
    return CACHE_L1_MISS | fills << 1 | l1_missed << 22 | wbs << 32;
}

static void level_flush(struct cache *c, struct cache_level *l)
{
    uint64_t wbs = 0;
    if (l->tags == NULL)
        return;
    size_t n = (size_t)(l->set_mask + 1) * l->assoc;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = l->tags[i];
        l->tags[i] = CACHE_EMPTY;
        l->stamp[i] = 0;
        if (t != CACHE_EMPTY && (t & 1))
            write_back(c, l, (t >> 1) - 1, &wbs);
    }
    memset(l->mru, 0, (size_t)(l->set_mask + 1) * sizeof *l->mru);
}

void cache_flush(struct cache *c)
{
    level_flush(c, &c->i1);
    level_flush(c, &c->d1); /* into LL first, */
    if (c->has_ll)
        level_flush(c, &c->ll); /* then LL to memory */
}

void cache_reset_stats(struct cache *c)
{
    struct cache_level *lv[3] = { &c->i1, &c->d1, &c->ll };
    for (int i = 0; i < 3; i++) {
        memset(lv[i]->refs, 0, sizeof lv[i]->refs);
        memset(lv[i]->misses, 0, sizeof lv[i]->misses);
        lv[i]->writebacks = 0;
    }
    c->mem_fills = 0;
    c->mem_writebacks = 0;
}

static int level_check(const struct cache_level *l, const char *name,
                       bool clean, char *err, size_t errlen)
{
    for (uint64_t s = 0; s <= l->set_mask; s++) {
        const uint64_t *set = l->tags + s * l->assoc;
        const uint64_t *stamp = l->stamp + s * l->assoc;
        uint64_t newest = 0;
        if (l->mru[s] >= l->assoc)
            return errf(err, errlen, "cache %s: set %llu names way %u", name,
                        (unsigned long long)s, l->mru[s]);
        for (uint32_t i = 0; i < l->assoc; i++) {
            if ((set[i] == CACHE_EMPTY) != (stamp[i] == 0) ||
                stamp[i] > l->clock)
                return errf(err, errlen,
                            "cache %s: set %llu way %u: stamp "
                            "%llu does not fit its tag",
                            name, (unsigned long long)s, i,
                            (unsigned long long)stamp[i]);
            if (stamp[i] > newest)
                newest = stamp[i];
            if (set[i] == CACHE_EMPTY)
                continue;
            uint64_t b = (set[i] >> 1) - 1;
            if ((b & l->set_mask) != s)
                return errf(err, errlen,
                            "cache %s: block %#llx sits in set "
                            "%llu",
                            name, (unsigned long long)b, (unsigned long long)s);
            if (clean && (set[i] & 1))
                return errf(err, errlen, "cache %s: dirty line %#llx", name,
                            (unsigned long long)b);
            for (uint32_t j = 0; j < i; j++)
                if (set[j] != CACHE_EMPTY &&
                    ((set[j] >> 1) - 1 == b || stamp[j] == stamp[i]))
                    return errf(err, errlen,
                                "cache %s: set %llu holds block "
                                "%#llx twice or two ways of one age",
                                name, (unsigned long long)s,
                                (unsigned long long)b);
        }
        if (newest != 0 && stamp[l->mru[s]] != newest)
            return errf(err, errlen,
                        "cache %s: set %llu: mru is not the "
                        "newest way",
                        name, (unsigned long long)s);
    }
    return 0;
}

int cache_check_l1(const struct cache *c, char *err, size_t errlen)
{
    int e = level_check(&c->i1, "I1", true, err, errlen);
    return e ? e : level_check(&c->d1, "D1", false, err, errlen);
}

int cache_check(const struct cache *c, char *err, size_t errlen)
{
    int e = cache_check_l1(c, err, errlen);
    if (e == 0 && c->has_ll)
        e = level_check(&c->ll, "LL", false, err, errlen);
    return e;
}
