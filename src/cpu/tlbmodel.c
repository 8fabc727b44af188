/*
 * TLB cost models: direct mapped, MIPS R4000 joint TLB, amd64 split
 * first level + STLB.  See tlbmodel.h for what each one models and the
 * replacement policies.
 */
#include "tlbmodel.h"
#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY(vpn, shift) ((vpn) << 6 | (uint64_t)(shift))
#define KEY_VPN(k)      ((k) >> 6)
#define KEY_SHIFT(k)    ((unsigned)((k)&63))

static bool pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

void tlbm_config_default(struct tlbm_config *cfg, enum tlbm_kind kind)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    switch (kind) {
    case TLBM_DIRECT:
        cfg->entries = 256;
        cfg->refill_cycles = 20;
        cfg->walk_reads = 2;
        break;
    case TLBM_R4K:
        cfg->entries = 48;
        cfg->refill_cycles = 20;
        cfg->walk_reads = 3;
        break;
    case TLBM_AMD64:
        cfg->itlb = (struct tlbm_shape){ 128, 8 };
        cfg->dtlb = (struct tlbm_shape){ 64, 4 };
        cfg->itlb_large = (struct tlbm_shape){ 8, 8 };
        cfg->dtlb_large = (struct tlbm_shape){ 32, 4 };
        cfg->stlb = (struct tlbm_shape){ 1536, 12 };
        cfg->stlb_large = true;
        cfg->stlb_cycles = 9;
        cfg->walk_reads = 4;
        cfg->large_shift = 21;
        break;
    }
}

static void memo_forget(struct tlbm *t)
{
    for (int i = 0; i < 2; i++)
        t->memo[i] = (struct tlbm_memo){ 0, TLBM_NONE, 63 };
}

static int shape_check(const char *name, const struct tlbm_shape *s, char *err,
                       size_t errlen)
{
    if (s->entries == 0 || s->ways == 0)
        return errf(err, errlen,
                    "tlb %s: entries and ways must be above "
                    "zero (got %u, %u)",
                    name, s->entries, s->ways);
    if (s->ways > s->entries || s->entries % s->ways != 0)
        return errf(err, errlen, "tlb %s: %u ways do not divide %u entries",
                    name, s->ways, s->entries);
    if (!pow2(s->entries / s->ways))
        return errf(err, errlen, "tlb %s: set count %u is not a power of two",
                    name, s->entries / s->ways);
    return 0;
}

static int array_init(struct tlbm_array *a, uint32_t entries, uint32_t ways)
{
    a->ent = malloc((size_t)entries * sizeof *a->ent);
    if (a->ent == NULL)
        return ENOMEM;
    for (uint32_t i = 0; i < entries; i++)
        a->ent[i] = (struct tlbm_ent){ 0, TLBM_NONE };
    a->ways = ways;
    a->set_mask = entries / ways - 1;
    return 0;
}

int tlbm_init(struct tlbm *t, const struct tlbm_config *cfg, char *err,
              size_t errlen)
{
    int e = 0;
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    memo_forget(t);
    switch (cfg->kind) {
    case TLBM_DIRECT:
        if (!pow2(cfg->entries) || cfg->entries > (1u << 24))
            return errf(err, errlen,
                        "tlb entries: %u is not a power of two "
                        "from 1 to 2^24",
                        cfg->entries);
        e = array_init(&t->arr[0], cfg->entries, 1);
        t->l1[0][0] = t->l1[0][1] = t->l1[1][0] = t->l1[1][1] = &t->arr[0];
        break;
    case TLBM_R4K:
        if (cfg->entries == 0 || cfg->entries > 255)
            return errf(err, errlen, "tlb entries: %u is not from 1 to 255",
                        cfg->entries);
        if (cfg->wired >= cfg->entries)
            return errf(err, errlen,
                        "tlb wired: %u leaves none of the %u "
                        "entries to replace",
                        cfg->wired, cfg->entries);
        t->pair = malloc(cfg->entries * sizeof *t->pair);
        if (t->pair == NULL) {
            e = ENOMEM;
            break;
        }
        for (uint32_t i = 0; i < cfg->entries; i++)
            t->pair[i] = (struct tlbm_pair){ 0, TLBM_NONE, 12 };
        t->victim = cfg->entries - 1;
        break;
    case TLBM_AMD64: {
        static const char *const names[5] = { "itlb", "dtlb", "itlb_large",
                                              "dtlb_large", "stlb" };
        const struct tlbm_shape *sh[5] = { &cfg->itlb, &cfg->dtlb,
                                           &cfg->itlb_large, &cfg->dtlb_large,
                                           &cfg->stlb };
        for (int i = 0; i < 5; i++)
            if ((e = shape_check(names[i], sh[i], err, errlen)) != 0)
                return e;
        if (cfg->walk_reads < 2)
            return errf(err, errlen,
                        "tlb walk_reads: %u is below 2 (a large-page "
                        "walk reads one fewer)",
                        cfg->walk_reads);
        if (cfg->large_shift <= 12 || cfg->large_shift > 40)
            return errf(err, errlen, "tlb large_shift: %u is not from 13 to 40",
                        cfg->large_shift);
        for (int i = 0; i < 5 && e == 0; i++)
            e = array_init(&t->arr[i], sh[i]->entries, sh[i]->ways);
        t->l1[0][0] = &t->arr[TLBM_DTLB];
        t->l1[0][1] = &t->arr[TLBM_DTLB2M];
        t->l1[1][0] = &t->arr[TLBM_ITLB];
        t->l1[1][1] = &t->arr[TLBM_ITLB2M];
        break;
    }
    default: return errf(err, errlen, "tlb kind: unknown (%d)", (int)cfg->kind);
    }
    if (e != 0) {
        tlbm_fini(t);
        errf(err, errlen, "tlb: no memory");
    }
    return e;
}

void tlbm_fini(struct tlbm *t)
{
    for (int i = 0; i < 5; i++)
        free(t->arr[i].ent);
    free(t->pair);
    memset(t, 0, sizeof *t);
}

bool tlbm_page_ok(const struct tlbm *t, unsigned shift)
{
    switch (t->cfg.kind) {
    case TLBM_R4K: return shift >= 12 && shift <= 24 && shift % 2 == 0;
    case TLBM_AMD64: return shift == 12 || shift == t->cfg.large_shift;
    default: return shift >= 12 && shift <= 40;
    }
}

unsigned tlbm_walk_reads(const struct tlbm *t, unsigned shift)
{
    if (t->cfg.kind == TLBM_AMD64 && shift == t->cfg.large_shift)
        return t->cfg.walk_reads - 1;
    return t->cfg.walk_reads;
}

/* --- set-associative arrays, each set MRU first ------------------------ */

static struct tlbm_ent *set_of(const struct tlbm_array *a, uint64_t vpn)
{
    return a->ent + (vpn & a->set_mask) * a->ways;
}

/* => hit (the entry becomes MRU)? */
static bool array_lookup(struct tlbm_array *a, uint64_t asid, uint64_t key)
{
    struct tlbm_ent *set = set_of(a, KEY_VPN(key));
    if (set[0].key == key && set[0].asid == asid) {
        a->hits++;
        return true;
    }
    for (uint32_t i = 1; i < a->ways; i++) {
        if (set[i].key == key && set[i].asid == asid) {
            struct tlbm_ent e = set[i];
            memmove(set + 1, set, i * sizeof *set);
            set[0] = e;
            a->hits++;
            return true;
        }
    }
    a->misses++;
    return false;
}

/* Inserts as MRU, evicting the LRU way. */
static void array_insert(struct tlbm_array *a, uint64_t asid, uint64_t key)
{
    struct tlbm_ent *set = set_of(a, KEY_VPN(key));
    memmove(set + 1, set, (a->ways - 1) * sizeof *set);
    set[0] = (struct tlbm_ent){ asid, key };
}

/* Drops way i of a set, keeping the empty ways last. */
static void set_remove(struct tlbm_array *a, struct tlbm_ent *set, uint32_t i)
{
    memmove(set + i, set + i + 1, (a->ways - 1 - i) * sizeof *set);
    set[a->ways - 1] = (struct tlbm_ent){ 0, TLBM_NONE };
}

static void memo_set(struct tlbm *t, bool exec, uint64_t asid, uint64_t vpn,
                     unsigned shift)
{
    t->memo[exec] = (struct tlbm_memo){ asid, vpn, shift };
}

/* --- the three models --------------------------------------------------- */

static unsigned direct_access(struct tlbm *t, uint64_t asid, uint64_t va,
                              bool exec, unsigned shift)
{
    struct tlbm_array *a = &t->arr[0];
    uint64_t vpn = va >> shift, key = KEY(vpn, shift);
    struct tlbm_ent *e = set_of(a, vpn);
    unsigned r = TLBM_HIT;
    if (e->key == key && e->asid == asid) {
        a->hits++;
    } else {
        a->misses++;
        t->st.misses[exec]++;
        t->st.refills++;
        *e = (struct tlbm_ent){ asid, key };
        t->shifts_seen |= UINT64_C(1) << shift;
        t->memo[!exec].vpn = TLBM_NONE; /* the slot may be its */
        r = TLBM_REFILL;
    }
    memo_set(t, exec, asid, vpn, shift);
    return r;
}

static bool pair_covers(const struct tlbm_pair *p, uint64_t asid, uint64_t va)
{
    return p->vpn2 != TLBM_NONE && p->asid == asid &&
           va >> (p->shift + 1) == p->vpn2;
}

static unsigned r4k_access(struct tlbm *t, uint64_t asid, uint64_t va,
                           bool exec, unsigned shift)
{
    unsigned h = tlbm_hint(asid, va);
    struct tlbm_pair *p = &t->pair[t->hint[h]];
    if (!pair_covers(p, asid, va)) {
        p = NULL;
        for (uint32_t i = 0; i < t->cfg.entries; i++) {
            if (pair_covers(&t->pair[i], asid, va)) {
                p = &t->pair[i];
                t->hint[h] = (uint8_t)i;
                break;
            }
        }
    }
    if (p != NULL) {
        memo_set(t, exec, asid, p->vpn2, p->shift + 1);
        return TLBM_HIT;
    }

    /* The refill handler writes a pair of the mapping's size.  Entries
     * overlapping it (another size, left by a missed flush) go first: a
     * real R4000 takes a machine check on duplicate matches. */
    t->st.misses[exec]++;
    t->st.refills++;
    uint64_t vpn2 = va >> (shift + 1);
    for (uint32_t i = 0; i < t->cfg.entries; i++) {
        struct tlbm_pair *q = &t->pair[i];
        if (q->vpn2 == TLBM_NONE || q->asid != asid)
            continue;
        unsigned s = (q->shift > shift ? q->shift : shift) + 1;
        if (va >> s == (q->vpn2 << (q->shift + 1)) >> s)
            q->vpn2 = TLBM_NONE;
    }
    uint32_t v = t->victim;
    t->victim = v == t->cfg.wired ? t->cfg.entries - 1 : v - 1;
    t->pair[v] = (struct tlbm_pair){ asid, vpn2, shift };
    t->hint[h] = (uint8_t)v;
    t->memo[!exec].vpn = TLBM_NONE; /* the victim may be its */
    memo_set(t, exec, asid, vpn2, shift + 1);
    return TLBM_REFILL;
}

static unsigned amd64_access(struct tlbm *t, uint64_t asid, uint64_t va,
                             bool exec, unsigned shift)
{
    bool large = shift != 12;
    struct tlbm_array *l1 = &t->arr[exec ? (large ? TLBM_ITLB2M : TLBM_ITLB)
                                         : (large ? TLBM_DTLB2M : TLBM_DTLB)];
    struct tlbm_array *l2 = &t->arr[TLBM_STLB];
    uint64_t vpn = va >> shift, key = KEY(vpn, shift);
    unsigned r;

    t->shifts_seen |= UINT64_C(1) << shift;
    memo_set(t, exec, asid, vpn, shift);
    if (array_lookup(l1, asid, key))
        return TLBM_HIT;
    t->st.misses[exec]++;
    if (!large || t->cfg.stlb_large) {
        if (array_lookup(l2, asid, key)) {
            t->st.l2_hits++;
            array_insert(l1, asid, key);
            return TLBM_HIT_L2;
        }
        t->st.l2_misses++;
        array_insert(l2, asid, key);
    }
    r = TLBM_WALK;
    t->st.walks++;
    t->st.walk_reads += tlbm_walk_reads(t, shift);
    array_insert(l1, asid, key);
    return r;
}

unsigned tlbm_access_slow(struct tlbm *t, uint64_t asid, uint64_t va, bool exec,
                          unsigned shift)
{
    switch (t->cfg.kind) {
    case TLBM_R4K: return r4k_access(t, asid, va, exec, shift);
    case TLBM_AMD64: return amd64_access(t, asid, va, exec, shift);
    default: return direct_access(t, asid, va, exec, shift);
    }
}

/* --- flushes ------------------------------------------------------------ */

static size_t array_len(const struct tlbm_array *a)
{
    return (size_t)(a->set_mask + 1) * a->ways;
}

void tlbm_flush_page(struct tlbm *t, uint64_t asid, uint64_t va)
{
    memo_forget(t);
    if (t->cfg.kind == TLBM_R4K) {
        for (uint32_t i = 0; i < t->cfg.entries; i++)
            if (pair_covers(&t->pair[i], asid, va))
                t->pair[i].vpn2 = TLBM_NONE;
        return;
    }
    /* One set per array and per page size ever entered. */
    for (int n = 0; n < 5; n++) {
        struct tlbm_array *a = &t->arr[n];
        if (a->ent == NULL)
            continue;
        for (uint64_t seen = t->shifts_seen; seen != 0; seen &= seen - 1) {
            unsigned s = (unsigned)__builtin_ctzll(seen);
            uint64_t key = KEY(va >> s, s);
            struct tlbm_ent *set = set_of(a, va >> s);
            for (uint32_t i = 0; i < a->ways; i++) {
                if (set[i].key == key && set[i].asid == asid) {
                    set_remove(a, set, i);
                    break;
                }
            }
        }
    }
}

void tlbm_flush_asid(struct tlbm *t, uint64_t asid)
{
    memo_forget(t);
    if (t->cfg.kind == TLBM_R4K) {
        for (uint32_t i = 0; i < t->cfg.entries; i++)
            if (t->pair[i].asid == asid)
                t->pair[i].vpn2 = TLBM_NONE;
        return;
    }
    for (int n = 0; n < 5; n++) {
        struct tlbm_array *a = &t->arr[n];
        for (size_t s = 0; a->ent != NULL && s <= a->set_mask; s++) {
            struct tlbm_ent *set = a->ent + s * a->ways;
            for (uint32_t i = 0; i < a->ways;) {
                if (set[i].key != TLBM_NONE && set[i].asid == asid)
                    set_remove(a, set, i);
                else
                    i++;
            }
        }
    }
}

void tlbm_flush_all(struct tlbm *t)
{
    memo_forget(t);
    if (t->cfg.kind == TLBM_R4K) {
        for (uint32_t i = 0; i < t->cfg.entries; i++)
            t->pair[i].vpn2 = TLBM_NONE;
        return;
    }
    for (int n = 0; n < 5; n++)
        for (size_t i = 0; t->arr[n].ent != NULL && i < array_len(&t->arr[n]);
             i++)
            t->arr[n].ent[i] = (struct tlbm_ent){ 0, TLBM_NONE };
}

/* --- invariants --------------------------------------------------------- */

int tlbm_check(const struct tlbm *t, char *err, size_t errlen)
{
    if (t->cfg.kind == TLBM_R4K) {
        for (uint32_t i = 0; i < t->cfg.entries; i++) {
            const struct tlbm_pair *p = &t->pair[i];
            if (p->vpn2 == TLBM_NONE)
                continue;
            uint64_t base = p->vpn2 << (p->shift + 1);
            for (uint32_t j = 0; j < i; j++) {
                const struct tlbm_pair *q = &t->pair[j];
                if (q->vpn2 == TLBM_NONE || q->asid != p->asid)
                    continue;
                unsigned sh = (p->shift > q->shift ? p->shift : q->shift) + 1;
                if (base >> sh == (q->vpn2 << (q->shift + 1)) >> sh)
                    return errf(err, errlen,
                                "tlb: R4K entries %u and %u "
                                "overlap at %#llx",
                                j, i, (unsigned long long)base);
            }
        }
        return 0;
    }
    for (int n = 0; n < 5; n++) {
        const struct tlbm_array *a = &t->arr[n];
        for (uint64_t s = 0; a->ent != NULL && s <= a->set_mask; s++) {
            const struct tlbm_ent *set = a->ent + s * a->ways;
            bool empty = false;
            for (uint32_t i = 0; i < a->ways; i++) {
                if (set[i].key == TLBM_NONE) {
                    empty = true;
                    continue;
                }
                if (empty)
                    return errf(err, errlen,
                                "tlb array %d set %llu: an entry "
                                "after an empty way",
                                n, (unsigned long long)s);
                if ((KEY_VPN(set[i].key) & a->set_mask) != s)
                    return errf(err, errlen,
                                "tlb array %d: page %#llx in set "
                                "%llu",
                                n, (unsigned long long)KEY_VPN(set[i].key),
                                (unsigned long long)s);
                for (uint32_t j = 0; j < i; j++)
                    if (set[j].key == set[i].key && set[j].asid == set[i].asid)
                        return errf(err, errlen,
                                    "tlb array %d: page %#llx "
                                    "twice",
                                    n, (unsigned long long)KEY_VPN(set[i].key));
            }
        }
    }
    return 0;
}
