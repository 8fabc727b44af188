/*
 * CSV of runs: one header, one row per run (a mode of a trace on one
 * machine), the same columns for run --csv, compare --csv and sweep's
 * results.csv.  Parameters first, then the figures, named as in
 * doc/figures.md (RAM at peak by kind as ram_peak_KIND).
 */
#include <string.h>

#include "cli.h"

/* s inside a quoted field: its quotes doubled. */
static void csv_quoted(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
}

void csv_field(FILE *out, const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    csv_quoted(out, s);
    fputc('"', out);
}

/* The figures of a row, in order: each a stats field. */
#define STAT(f)                                                                \
    {                                                                          \
#f, offsetof(struct xvm_stats, f)                                      \
    }
static const struct {
    const char *name;
    size_t off;
} stats[] = {
    STAT(faults),
    STAT(refaults),
    STAT(reclaimed),
    STAT(pd_freed),
    STAT(pd_runs),
    STAT(readahead_unused),
    STAT(pagecache_fills),
    STAT(flash_bytes_read),
    STAT(flash_ns),
    STAT(swap_outs),
    STAT(swap_ins),
    STAT(swap_ns),
    STAT(io_ns),
    STAT(kmem_bytes_peak),
    STAT(cow_promotions),
    STAT(device_maps),
    STAT(pv_entries_peak),
    STAT(neighbour_maps),
    STAT(neighbour_skipped),
    STAT(time_ns),
    STAT(cycles),
    STAT(stall_ns_ram),
    STAT(stall_ns_flash),
    STAT(tlb_misses),
};

void csv_header(FILE *out)
{
    fputs("mode,machine,cpu,cpu_hash,image,trace,ram,swap,readahead,fault_"
          "ahead,buffers,"
          "device,device_design,neighbour_reserve,neighbour_pv_limit,i1,d1,ll,"
          "no_cache,superpages,slice,version,"
          "events,mismatches,oom_kills,fits,ram_peak_total",
          out);
    for (int k = 0; k < XVM_RAM_KINDS; k++)
        fprintf(out, ",ram_peak_%s", xvm_ram_kind_name((enum xvm_ram_kind)k));
    for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
        fprintf(out, ",%s", stats[i].name);
    fputc('\n', out);
}

void csv_row(FILE *out, const struct run_opts *o, int xip,
             const struct run_result *r)
{
    const struct xvm_report *rep = &r->rep;
    char fa[16];
    if (o->fault_ahead >= 0)
        snprintf(fa, sizeof(fa), "%d", o->fault_ahead);
    else
        snprintf(fa, sizeof(fa), "uvm");
    fprintf(out, "%s,%s,", xip ? "xip" : "copy", o->machine);
    csv_field(out, o->cpu ? o->cpu : o->machine);
    fprintf(out, ",%016llx,", (unsigned long long)o->cpu_hash);
    csv_field(out, o->image);
    fputc(',', out);
    if (o->ntraces > 1) {
        /* Several TRACEs run at once: all of them, a line each (a
         * newline: quoted). */
        fputc('"', out);
        for (int k = 0; k < o->ntraces; k++) {
            if (k)
                fputc('\n', out);
            csv_quoted(out, o->traces[k]);
        }
        fputc('"', out);
    } else {
        csv_field(out, o->trace);
    }
    fprintf(out, ",%llu,%llu,%d,%s,%d,%s,%s,%llu,%llu,",
            (unsigned long long)o->ram, (unsigned long long)o->swap,
            run_readahead(o), fa, run_buffers(o), device_name(o->device),
            xvm_device_design_name((enum xvm_device_design)o->design),
            (unsigned long long)o->neighbour_reserve,
            (unsigned long long)o->neighbour_pv_limit);
    for (int k = 0; k < 3; k++) { /* "SIZE,ASSOC,LINE": quoted */
        csv_field(out, run_geom(o, k));
        fputc(',', out);
    }
    fprintf(out, "%s,%s,%llu,%s,%llu,%llu,%llu,%s,%llu",
            o->no_cache ? "true" : "false", run_superpages(o),
            (unsigned long long)o->slice, xvm_version(),
            (unsigned long long)r->events, (unsigned long long)r->mismatches,
            (unsigned long long)r->oom_kills, run_fits(r) ? "true" : "false",
            (unsigned long long)rep->ram_peak_total);
    for (int k = 0; k < XVM_RAM_KINDS; k++)
        fprintf(out, ",%llu", (unsigned long long)rep->ram_peak[k]);
    for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++) {
        const char *at = (const char *)&rep->st + stats[i].off;
        fprintf(out, ",%llu",
                (unsigned long long)*(const uint64_t *)(const void *)at);
    }
    fputc('\n', out);
}
