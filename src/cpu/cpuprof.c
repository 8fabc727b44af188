/*
 * CPU profiles: `key = value` text files (doc/time-model.md lists every
 * key), parsed into struct cpu_params.  The built-in ones are the files
 * of src/cpu/profiles/, compiled in (cpu_builtin.c is generated from
 * them).
 */
#include "cpu.h"
#include "check.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cpu_params_init(struct cpu_params *p)
{
    memset(p, 0, sizeof(*p));
    p->caches = true;
    p->instr_cycles = 1;
    p->nor_word_bytes = 4;
    tlbm_config_default(&p->tlb, TLBM_R4K);
}

const struct cpu_builtin *cpu_builtin_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < cpu_nbuiltins; i++)
        if (strcmp(cpu_builtins[i].name, name) == 0)
            return &cpu_builtins[i];
    return NULL;
}

/* ---- values ---- */

/* Plain decimal, no sign, no blanks; => 0, or -1. */
static int dec(const char *s, uint64_t max, uint64_t *v)
{
    uint64_t x = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    for (; isdigit((unsigned char)*s); s++) {
        x = x * 10 + (uint64_t)(*s - '0');
        if (x > max)
            return -1;
    }
    *v = x;
    return *s == '\0' ? 0 : -1;
}

/* A decimal with up to three digits after the point, times 1000. */
static int milli(const char *s, uint64_t max, uint64_t *v)
{
    char ip[32];
    const char *dot = strchr(s, '.');
    size_t n = dot ? (size_t)(dot - s) : strlen(s);
    uint64_t whole, frac = 0;
    if (n == 0 || n >= sizeof(ip))
        return -1;
    memcpy(ip, s, n);
    ip[n] = '\0';
    if (dec(ip, max, &whole))
        return -1;
    if (dot) {
        const char *f = dot + 1;
        size_t k = strlen(f);
        if (k == 0 || k > 3 || dec(f, 999, &frac))
            return -1;
        for (; k < 3; k++)
            frac *= 10;
    }
    if (whole * 1000 + frac > max * 1000)
        return -1;
    *v = whole * 1000 + frac;
    return 0;
}

/* A size: decimal bytes, or K or M. */
static int size_of(const char *s, uint64_t *v)
{
    char b[32];
    size_t n = strlen(s);
    unsigned shift = 0;
    if (n == 0 || n >= sizeof(b))
        return -1;
    memcpy(b, s, n + 1);
    if (b[n - 1] == 'K' || b[n - 1] == 'k')
        shift = 10;
    else if (b[n - 1] == 'M' || b[n - 1] == 'm')
        shift = 20;
    if (shift)
        b[n - 1] = '\0';
    if (dec(b, UINT64_C(1) << 30, v))
        return -1;
    *v <<= shift;
    return 0;
}

static int log2_exact(uint64_t x)
{
    if (x == 0 || (x & (x - 1)))
        return -1;
    int n = 0;
    while (x > 1)
        x >>= 1, n++;
    return n;
}

static int boolean(const char *s, bool *v)
{
    if (!strcmp(s, "on") || !strcmp(s, "yes") || !strcmp(s, "true"))
        return *v = true, 0;
    if (!strcmp(s, "off") || !strcmp(s, "no") || !strcmp(s, "false"))
        return *v = false, 0;
    return -1;
}

/* "ENTRIES,WAYS" of a TLB array. */
static int shape(const char *s, struct tlbm_shape *sh)
{
    char b[48];
    const char *comma = strchr(s, ',');
    uint64_t e, w;
    if (comma == NULL || (size_t)(comma - s) >= sizeof(b))
        return -1;
    memcpy(b, s, (size_t)(comma - s));
    b[comma - s] = '\0';
    if (dec(b, 1u << 20, &e) || dec(comma + 1, 1u << 20, &w))
        return -1;
    sh->entries = (uint32_t)e;
    sh->ways = (uint32_t)w;
    return 0;
}

/* ---- keys ---- */

enum vkind {
    V_CYC,   /* cycles, uint32 */
    V_NS,    /* ns with decimals, stored as ps (uint64) */
    V_NSI,   /* whole ns, uint32 */
    V_SHAPE, /* TLB array shape */
    V_TLBU,  /* a uint32 of the TLB config */
};

#define MAX_CYCLES UINT64_C(1000000)
#define MAX_NS     UINT64_C(1000000)

struct key {
    const char *name;
    enum vkind kind;
    size_t off;
};

#define P(f) offsetof(struct cpu_params, f)
#define T(f)                                                                   \
    (offsetof(struct cpu_params, tlb) + offsetof(struct tlbm_config, f))

static const struct key keys[] = {
    { "instr_cycles", V_CYC, P(instr_cycles) },
    { "l1_hit_cycles", V_CYC, P(l1_hit_cycles) },
    { "ll_hit_cycles", V_CYC, P(ll_hit_cycles) },
    { "ram_line_ns", V_NS, P(ram_line_ps) },
    { "nor_first_ns", V_NS, P(nor_first_ps) },
    { "nor_word_ns", V_NS, P(nor_word_ps) },
    { "block_access_ns", V_NSI, P(block_access_ns) },
    { "block_byte_ns", V_NSI, P(block_byte_ns) },
    { "tlb_walk_cycles", V_CYC, P(walk_cycles) },
    { "fault_cycles", V_CYC, P(fault_cycles) },
    { "fault_ahead_cycles", V_CYC, P(fault_ahead_cycles) },
    { "zero_fill_cycles", V_CYC, P(zero_fill_cycles) },
    { "cow_copy_cycles", V_CYC, P(cow_copy_cycles) },
    { "pagecache_cycles", V_CYC, P(pagecache_cycles) },
    { "tlb_entries", V_TLBU, T(entries) },
    { "tlb_wired", V_TLBU, T(wired) },
    { "tlb_refill_cycles", V_CYC, T(refill_cycles) },
    { "tlb_stlb_cycles", V_CYC, T(stlb_cycles) },
    { "tlb_itlb", V_SHAPE, T(itlb) },
    { "tlb_dtlb", V_SHAPE, T(dtlb) },
    { "tlb_itlb_large", V_SHAPE, T(itlb_large) },
    { "tlb_dtlb_large", V_SHAPE, T(dtlb_large) },
    { "tlb_stlb", V_SHAPE, T(stlb) },
};

static int set_table(struct cpu_params *p, const struct key *k,
                     const char *value, char *err, size_t errlen)
{
    void *f = (char *)p + k->off;
    uint64_t v;
    switch (k->kind) {
    case V_CYC:
        if (dec(value, MAX_CYCLES, &v))
            return errf(err, errlen,
                        "%s: expected whole cycles from 0 to %llu, got '%s'",
                        k->name, (unsigned long long)MAX_CYCLES, value);
        *(uint32_t *)f = (uint32_t)v;
        return 0;
    case V_NS:
        if (milli(value, MAX_NS, &v))
            return errf(err, errlen,
                        "%s: expected ns from 0 to %llu (at most three "
                        "decimals), got '%s'",
                        k->name, (unsigned long long)MAX_NS, value);
        *(uint64_t *)f = v;
        return 0;
    case V_NSI:
        if (dec(value, MAX_NS, &v))
            return errf(err, errlen,
                        "%s: expected whole ns from 0 to %llu, got '%s'",
                        k->name, (unsigned long long)MAX_NS, value);
        *(uint32_t *)f = (uint32_t)v;
        return 0;
    case V_SHAPE:
        if (shape(value, f))
            return errf(err, errlen, "%s: expected ENTRIES,WAYS, got '%s'",
                        k->name, value);
        return 0;
    case V_TLBU:
        if (dec(value, 1u << 24, &v))
            return errf(err, errlen,
                        "%s: expected a whole number up to 2^24, got '%s'",
                        k->name, value);
        *(uint32_t *)f = (uint32_t)v;
        return 0;
    }
    return EINVAL;
}

static int set_sizes(struct cpu_params *p, const char *value, char *err,
                     size_t errlen)
{
    char b[256];
    uint64_t mask = 0;
    if (strlen(value) >= sizeof(b))
        return errf(err, errlen, "superpage_sizes: too long");
    strcpy(b, value);
    if (strcmp(b, "none") != 0) {
        /* Not strtok: it would skip the empty entries of "16K,,64K". */
        for (char *tok = b, *next; tok; tok = next) {
            uint64_t sz;
            int sh;
            if ((next = strchr(tok, ',')) != NULL)
                *next++ = '\0';
            if (*tok == '\0')
                return errf(err, errlen,
                            "superpage_sizes: an empty size in '%s' "
                            "(sizes are separated by single commas)",
                            value);
            if (size_of(tok, &sz) || (sh = log2_exact(sz)) < 13 || sh > 40)
                return errf(err, errlen,
                            "superpage_sizes: '%s' is not a power of two "
                            "from 8K to 1024G",
                            tok);
            mask |= UINT64_C(1) << sh;
        }
    }
    p->superpage_sizes = mask;
    return 0;
}

int cpu_params_set(struct cpu_params *p, const char *key, const char *value,
                   char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].name, key) == 0)
            return set_table(p, &keys[i], value, err, errlen);
    if (!strcmp(key, "name")) {
        size_t n = strlen(value);
        if (n == 0 || n >= CPU_NAME_MAX)
            return errf(err, errlen, "name: 1 to %d characters",
                        CPU_NAME_MAX - 1);
        memcpy(p->name, value, n + 1);
        return 0;
    }
    if (!strcmp(key, "clock_mhz")) {
        uint64_t v;
        if (milli(value, 1000000, &v))
            return errf(err, errlen,
                        "clock_mhz: expected MHz (up to three decimals), "
                        "got '%s'",
                        value);
        if (v == 0)
            return errf(err, errlen,
                        "clock_mhz: a zero clock runs nothing: give the "
                        "core's frequency in MHz");
        p->clock_mhz = (double)v / 1000.0;
        return 0;
    }
    if (!strcmp(key, "I1") || !strcmp(key, "D1") || !strcmp(key, "LL")) {
        struct cache_geom *g = key[0] == 'I'   ? &p->i1
                               : key[0] == 'D' ? &p->d1
                                               : &p->ll;
        if (key[0] == 'L' && !strcmp(value, "none")) {
            memset(g, 0, sizeof(*g));
            return 0;
        }
        return cache_geom_parse(key, value, g, err, errlen);
    }
    if (!strcmp(key, "caches") || !strcmp(key, "superpages") ||
        !strcmp(key, "tlb_stlb_large")) {
        bool *b = key[0] == 'c'   ? &p->caches
                  : key[0] == 's' ? &p->superpages
                                  : &p->tlb.stlb_large;
        if (boolean(value, b))
            return errf(err, errlen, "%s: expected on or off, got '%s'", key,
                        value);
        return 0;
    }
    if (!strcmp(key, "nor_word_bytes")) {
        uint64_t v;
        if (dec(value, 64, &v) || log2_exact(v) < 0)
            return errf(err, errlen,
                        "nor_word_bytes: expected 1, 2, 4 ... 64, got '%s'",
                        value);
        p->nor_word_bytes = (uint32_t)v;
        return 0;
    }
    if (!strcmp(key, "tlb")) {
        enum tlbm_kind k;
        if (!strcmp(value, "r4000"))
            k = TLBM_R4K;
        else if (!strcmp(value, "split"))
            k = TLBM_AMD64;
        else if (!strcmp(value, "direct"))
            k = TLBM_DIRECT;
        else
            return errf(err, errlen,
                        "tlb: expected r4000, split or direct, got '%s'",
                        value);
        tlbm_config_default(&p->tlb, k); /* the other tlb_ keys follow */
        return 0;
    }
    if (!strcmp(key, "tlb_large_page")) {
        uint64_t sz;
        int sh;
        if (size_of(value, &sz) || (sh = log2_exact(sz)) < 13 || sh > 40)
            return errf(err, errlen,
                        "tlb_large_page: '%s' is not a power of two from "
                        "8K to 1024G",
                        value);
        p->tlb.large_shift = (uint32_t)sh;
        return 0;
    }
    if (!strcmp(key, "superpage_sizes"))
        return set_sizes(p, value, err, errlen);
    return errf(err, errlen, "%s: unknown key", key);
}

/* Can the TLB hold a 2^shift mapping?  (tlbm_page_ok, before a tlbm.) */
static bool page_ok(const struct tlbm_config *t, unsigned shift)
{
    switch (t->kind) {
    case TLBM_R4K: return shift >= 12 && shift <= 24 && shift % 2 == 0;
    case TLBM_AMD64: return shift == 12 || shift == t->large_shift;
    default: return shift >= 12 && shift <= 40;
    }
}

int cpu_params_check(const struct cpu_params *p, char *err, size_t errlen)
{
    int e;
    if (!(p->clock_mhz > 0))
        return errf(err, errlen,
                    "clock_mhz: missing or zero: a profile needs the "
                    "core's frequency in MHz");
    if ((e = cache_geom_check("I1", &p->i1, err, errlen)) != 0 ||
        (e = cache_geom_check("D1", &p->d1, err, errlen)) != 0)
        return e;
    if (p->ll.size && (e = cache_geom_check("LL", &p->ll, err, errlen)) != 0)
        return e;
    if (p->nor_word_bytes == 0)
        return errf(err, errlen, "nor_word_bytes: zero");
    struct tlbm t;
    struct tlbm_config tc = p->tlb;
    if (tc.walk_reads < 2)
        tc.walk_reads = 2;
    if ((e = tlbm_init(&t, &tc, err, errlen)) != 0)
        return e;
    tlbm_fini(&t);
    for (unsigned s = 0; s < 64; s++)
        if ((p->superpage_sizes >> s & 1) && !page_ok(&p->tlb, s))
            return errf(err, errlen,
                        "superpage_sizes: %llu KiB pages do not fit this "
                        "TLB (tlb, tlb_large_page)",
                        (unsigned long long)(UINT64_C(1) << s) >> 10);
    return 0;
}

/* Strips blanks at both ends, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int cpu_params_parse(struct cpu_params *p, const char *text, const char *origin,
                     char *err, size_t errlen)
{
    char line[512], msg[256];
    unsigned lineno = 0;
    struct cpu_params q = *p; /* applied whole, when every line parses */
    if (origin == NULL)
        origin = "profile";
    for (const char *s = text; s != NULL && *s != '\0';) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        lineno++;
        if (n >= sizeof(line))
            return errf(err, errlen, "%s:%u: line too long", origin, lineno);
        memcpy(line, s, n);
        line[n] = '\0';
        s = nl ? nl + 1 : NULL;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *l = trim(line);
        if (*l == '\0')
            continue;
        char *eq = strchr(l, '=');
        if (eq == NULL)
            return errf(err, errlen, "%s:%u: expected KEY = VALUE, got '%s'",
                        origin, lineno, l);
        *eq = '\0';
        char *key = trim(l), *value = trim(eq + 1);
        if (*key == '\0' || *value == '\0')
            return errf(err, errlen, "%s:%u: expected KEY = VALUE", origin,
                        lineno);
        if (cpu_params_set(&q, key, value, msg, sizeof(msg)) != 0)
            return errf(err, errlen, "%s:%u: %s", origin, lineno, msg);
    }
    *p = q;
    return 0;
}

/* ---- the public API ---- */

const char *xvm_cpu_builtin(size_t i)
{
    return i < cpu_nbuiltins ? cpu_builtins[i].name : NULL;
}

const char *xvm_cpu_builtin_text(const char *name)
{
    const struct cpu_builtin *b = cpu_builtin_find(name);
    return b ? b->text : NULL;
}

int xvm_cpu_profile_create(const char *builtin, xvm_cpu_profile **out)
{
    const struct cpu_builtin *b = NULL;
    if (out == NULL)
        return EINVAL;
    if (builtin != NULL && (b = cpu_builtin_find(builtin)) == NULL)
        return ENOENT;
    struct xvm_cpu_profile *p = malloc(sizeof(*p));
    if (p == NULL)
        return ENOMEM;
    cpu_params_init(&p->p);
    if (b && cpu_params_parse(&p->p, b->text, b->name, NULL, 0) != 0) {
        free(p); /* a built-in that does not parse: a build defect */
        return EINVAL;
    }
    *out = p;
    return 0;
}

void xvm_cpu_profile_destroy(xvm_cpu_profile *p)
{
    free(p);
}

int xvm_cpu_profile_parse(xvm_cpu_profile *p, const char *text,
                          const char *origin, char *err, size_t errlen)
{
    if (p == NULL || text == NULL)
        return EINVAL;
    return cpu_params_parse(&p->p, text, origin, err, errlen);
}

int xvm_cpu_profile_set(xvm_cpu_profile *p, const char *key, const char *value,
                        char *err, size_t errlen)
{
    if (p == NULL || key == NULL || value == NULL)
        return EINVAL;
    return cpu_params_set(&p->p, key, value, err, errlen);
}

int xvm_cpu_profile_check(const xvm_cpu_profile *p, char *err, size_t errlen)
{
    if (p == NULL)
        return EINVAL;
    return cpu_params_check(&p->p, err, errlen);
}
