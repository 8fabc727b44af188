/*
 * xipvm run and xipvm compare.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char run_usage[] =
    "usage: xipvm run --image IMG [--xip|--copy] [--machine sgimips|amd64]\n"
    "                 [--ram SIZE] [--fault-ahead N] [--readahead N] [--json] TRACE\n";
static const char compare_usage[] =
    "usage: xipvm compare --image IMG [--machine sgimips|amd64] [--ram SIZE]\n"
    "                 [--fault-ahead N] [--readahead N] [--json] [--svg FILE] TRACE\n";

static double kib(uint64_t bytes)
{
    return bytes / 1024.0;
}

static void print_summary(const struct run_opts *o, int xip,
                          const struct run_result *r)
{
    const struct xvm_stats *st = &r->st;
    uint64_t pg = st->page_size;
    printf("%s mode on %s, %llu MiB RAM: %llu events, %llu mismatches, %.2f s "
           "(%.2f M events/s)\n", xip ? "XIP" : "copy", o->machine,
           (unsigned long long)(o->ram >> 20), (unsigned long long)r->events,
           (unsigned long long)r->mismatches, r->seconds,
           r->seconds > 0 ? r->events / r->seconds / 1e6 : 0.0);
    printf("  RAM peak          %10.0f KiB  (page cache %llu, anon %llu, "
           "page tables %llu pages)\n", kib(st->ram_used_peak * pg),
           (unsigned long long)st->pages_peak[XVM_USE_PAGECACHE],
           (unsigned long long)st->pages_peak[XVM_USE_ANON],
           (unsigned long long)st->pages_peak[XVM_USE_PAGETABLE]);
    printf("  vm_page metadata  %10.0f KiB  (%llu bytes per page)\n",
           kib(st->ram_used_peak * st->vm_page_bytes),
           (unsigned long long)st->vm_page_bytes);
    printf("  faults            %10llu      (COW %llu, from device %llu, zero-fill %llu)\n",
           (unsigned long long)st->faults, (unsigned long long)st->cow_promotions,
           (unsigned long long)st->cow_from_device, (unsigned long long)st->zero_fills);
    printf("  device pages      %10llu      mapped; fallback pages %llu\n",
           (unsigned long long)st->device_maps, (unsigned long long)st->fallback_pages);
    printf("  flash read        %10.0f KiB  (%.3f ms simulated)\n",
           kib(flash_bytes(st)), st->flash_ns / 1e6);
    printf("  PV entries peak   %10llu      TLB hits %llu, misses %llu\n",
           (unsigned long long)st->pv_entries_peak, (unsigned long long)st->tlb_hits,
           (unsigned long long)st->tlb_misses);
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o;
    struct run_result r;
    int rc = parse_run_opts(argc, argv, &o, true);
    if (rc == 0 && o.svg) {
        /* run draws no chart: a silently ignored --svg hides a mistake. */
        fprintf(stderr, "xipvm: --svg is an option of compare, not run\n");
        rc = 2;
    }
    if (rc) {
        fputs(run_usage, stderr);
        return rc;
    }
    if (replay_file(&o, o.xip, &r) != 0)
        return 1;
    if (o.json) {
        print_json_run(stdout, &o, o.xip, &r);
        putchar('\n');
    } else {
        print_summary(&o, o.xip, &r);
    }
    rc = r.mismatches ? 1 : 0;
    run_result_free(&r);
    return rc;
}

/* RAM by kind, in bytes, for the comparison. */
struct ram_kinds {
    uint64_t page_cache, anon, page_tables, metadata, total;
};

static struct ram_kinds kinds(const struct xvm_stats *st)
{
    uint64_t pg = st->page_size;
    struct ram_kinds k = {
        .page_cache = st->pages_peak[XVM_USE_PAGECACHE] * pg,
        .anon = (st->pages_peak[XVM_USE_ANON] + st->pages_peak[XVM_USE_AOBJ]) * pg,
        .page_tables = st->pages_peak[XVM_USE_PAGETABLE] * pg,
        .metadata = st->ram_used_peak * st->vm_page_bytes,
    };
    k.total = st->ram_used_peak * pg + k.metadata;
    return k;
}

static void row(const char *name, uint64_t x, uint64_t c)
{
    double saved = (double)c - (double)x;
    printf("  %-18s %12.0f %12.0f %12.0f %7.1f%%\n", name, kib(x), kib(c),
           saved / 1024.0, c ? 100.0 * saved / (double)c : 0.0);
}

static void print_compare(const struct run_result *x, const struct run_result *c)
{
    struct ram_kinds kx = kinds(&x->st), kc = kinds(&c->st);
    printf("RAM at peak, KiB        %12s %12s %12s %8s\n", "xip", "copy", "saved", "");
    row("page cache", kx.page_cache, kc.page_cache);
    row("anon", kx.anon, kc.anon);
    row("page tables", kx.page_tables, kc.page_tables);
    row("vm_page metadata", kx.metadata, kc.metadata);
    row("total", kx.total, kc.total);
    printf("\n%-24s %12s %12s\n", "", "xip", "copy");
    printf("  %-22s %12llu %12llu\n", "events", (unsigned long long)x->events,
           (unsigned long long)c->events);
    printf("  %-22s %12llu %12llu\n", "mismatches", (unsigned long long)x->mismatches,
           (unsigned long long)c->mismatches);
    printf("  %-22s %12llu %12llu\n", "faults", (unsigned long long)x->st.faults,
           (unsigned long long)c->st.faults);
    printf("  %-22s %12llu %12llu\n", "COW promotions",
           (unsigned long long)x->st.cow_promotions, (unsigned long long)c->st.cow_promotions);
    printf("  %-22s %12llu %12llu\n", "device pages mapped",
           (unsigned long long)x->st.device_maps, (unsigned long long)c->st.device_maps);
    printf("  %-22s %12llu %12llu\n", "fallback pages",
           (unsigned long long)x->st.fallback_pages, (unsigned long long)c->st.fallback_pages);
    printf("  %-22s %12.0f %12.0f\n", "flash read, KiB", kib(flash_bytes(&x->st)),
           kib(flash_bytes(&c->st)));
    printf("  %-22s %12.3f %12.3f\n", "flash time, ms", x->st.flash_ns / 1e6,
           c->st.flash_ns / 1e6);
    printf("  %-22s %12llu %12llu\n", "PV entries, peak",
           (unsigned long long)x->st.pv_entries_peak, (unsigned long long)c->st.pv_entries_peak);
    printf("  %-22s %12.2f %12.2f\n", "replay, s", x->seconds, c->seconds);
    const struct xvm_stats *st = &x->st;
    printf("\nstruct vm_page: %llu bytes per %llu-byte page = %.2f%% of RAM "
           "(paper, §2: about 1.8%%);\nthe %llu flash pages are device pages "
           "and cost none (as RAM pages they would cost %llu KiB).\n",
           (unsigned long long)st->vm_page_bytes, (unsigned long long)st->page_size,
           100.0 * st->vm_page_bytes / st->page_size,
           (unsigned long long)st->device_pages,
           (unsigned long long)(st->device_pages * st->vm_page_bytes / 1024));
}

static void print_compare_json(const struct run_opts *o, const struct run_result *x,
                               const struct run_result *c)
{
    struct ram_kinds kx = kinds(&x->st), kc = kinds(&c->st);
    printf("{\n\"xip\": ");
    print_json_run(stdout, o, 1, x);
    printf(",\n\"copy\": ");
    print_json_run(stdout, o, 0, c);
    printf(",\n\"saved\": {\n"
           "  \"page_cache_bytes\": %lld,\n  \"anon_bytes\": %lld,\n"
           "  \"page_table_bytes\": %lld,\n  \"vm_page_metadata_bytes\": %lld,\n"
           "  \"total_bytes\": %lld,\n  \"total_percent\": %.2f\n}\n}\n",
           (long long)(kc.page_cache - kx.page_cache), (long long)(kc.anon - kx.anon),
           (long long)(kc.page_tables - kx.page_tables),
           (long long)(kc.metadata - kx.metadata), (long long)(kc.total - kx.total),
           kc.total ? 100.0 * ((double)kc.total - (double)kx.total) / (double)kc.total : 0.0);
}

int cmd_compare(int argc, char **argv)
{
    struct run_opts o;
    struct run_result x, c;
    int rc = parse_run_opts(argc, argv, &o, true);
    if (rc) {
        fputs(compare_usage, stderr);
        return rc;
    }
    if (o.mode_given) {
        fprintf(stderr, "xipvm: compare runs both modes: --xip and --copy are "
                        "options of run\n");
        return 2;
    }
    if (strcmp(o.trace, "-") == 0) {
        fprintf(stderr, "xipvm: compare reads the trace twice: give a file\n");
        return 2;
    }
    if (replay_file(&o, 1, &x) != 0)
        return 1;
    if (replay_file(&o, 0, &c) != 0) {
        run_result_free(&x);
        return 1;
    }
    if (o.json)
        print_compare_json(&o, &x, &c);
    else
        print_compare(&x, &c);
    if (o.svg && write_svg(o.svg, &x, &c, (uint32_t)x.st.page_size) != 0) {
        fprintf(stderr, "xipvm: cannot write %s\n", o.svg);
        rc = 1;
    }
    if (x.mismatches || c.mismatches)
        rc = 1;
    run_result_free(&x);
    run_result_free(&c);
    return rc;
}
