/*
 * xipvm run and xipvm compare.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_opt run_opts[] = {
    CLI_RUN_OPTS,
    CLI_BEYOND_OPTS,
    CLI_CPU_OPTS,
    { "--xip", NULL, NULL,
      "mount the image XIP: file pages map in place (the default)" },
    { "--copy", NULL, NULL,
      "mount without XIP: file pages are copied into "
      "the page cache" },
    { NULL, NULL, NULL, NULL },
};

static const char trace_details[] =
    "TRACE is a trace (doc/trace-format.md): plain, .gz or .zst, or - for\n"
    "standard input.  Several traces run at once, as a product runs several\n"
    "programs: their processes apart, in turns of --slice events.  Exit\n"
    "status: 0, 1 when the traces' expectations (=HEX, !ERR) are not all met\n"
    "or a file cannot be read, 2 for a usage error.  --fault-ahead 0\n"
    "--readahead 0: no page is touched that the trace does not.  Time is\n"
    "the CPU model's estimate (caches, TLB, latencies of the --cpu profile,\n"
    "xipvm profiles; doc/time-model.md).\n";

const struct cli_cmd run_cmd = {
    .name = "run",
    .synopsis = "--image IMG [--xip|--copy] [OPTIONS] TRACE...",
    .summary = "replay a trace on an image, XIP or copy mode",
    .opts = run_opts,
    .details = trace_details,
    .fn = cmd_run,
};

static const struct cli_opt compare_opts[] = {
    CLI_RUN_OPTS,
    CLI_BEYOND_OPTS,
    CLI_CPU_OPTS,
    { "--svg", "FILE", NULL,
      "draw RAM over the replay and both modes' time, as SVG" },
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd compare_cmd = {
    .name = "compare",
    .synopsis = "--image IMG [OPTIONS] [--svg FILE] TRACE...",
    .summary = "replay a trace in both modes: RAM saved and time lost by XIP",
    .opts = compare_opts,
    .details = trace_details,
    .fn = cmd_compare,
};

/* A file the run did something with. */
static int active(const struct xvm_file_report *f)
{
    return f->pages_touched || f->pages_cached || f->processes ||
           f->pages_copied;
}

/* path, cut at the front to fit width. */
static void put_path(const char *path, int width)
{
    int n = (int)strlen(path);
    if (n <= width)
        printf("  %-*s", width, path);
    else
        printf("  ...%s", path + n - (width - 3));
}

/* Text relocations and writes to text, called out. */
static void text_notes(const struct run_result *r, const char *mode)
{
    for (size_t i = 0; i < r->nfiles; i++) {
        const struct xvm_file_report *f = &r->files[i];
        if (f->textrel)
            printf("  TEXTREL: %s asks for text relocations (%s: %llu text "
                   "pages copied)\n",
                   f->path, mode, (unsigned long long)f->text_pages_copied);
        else if (f->text_pages_copied)
            printf("  writes to text: %s (%s: %llu text pages copied)\n",
                   f->path, mode, (unsigned long long)f->text_pages_copied);
    }
}

static void print_files(const struct run_result *r)
{
    int any = 0;
    for (size_t i = 0; i < r->nfiles; i++) {
        const struct xvm_file_report *f = &r->files[i];
        if (!active(f))
            continue;
        if (!any++)
            printf("\n  %-44s %7s %8s %8s %7s %7s %5s %6s\n", "files, pages",
                   "pages", "touched", "in place", "cached", "copied", "text",
                   "procs");
        put_path(f->path, 44);
        printf(" %7llu %8llu %8llu %7llu %7llu %5llu %6llu\n",
               (unsigned long long)f->file_pages,
               (unsigned long long)f->pages_touched,
               (unsigned long long)f->pages_in_place,
               (unsigned long long)f->pages_cached,
               (unsigned long long)f->pages_copied,
               (unsigned long long)f->text_pages_copied,
               (unsigned long long)f->processes);
    }
    text_notes(r, "this run");
}

static double kib(uint64_t bytes)
{
    return bytes / 1024.0;
}

/* "in 512 KiB of RAM": RAM sizes below a MiB are not 0 MiB. */
/* Whether the run fits its RAM, in words. */
static void print_fit(const struct run_opts *o, int xip,
                      const struct run_result *r)
{
    char ram[32];
    fmt_size(ram, sizeof(ram), o->ram);
    if (run_fits(r))
        return;
    printf("  DOES NOT FIT      %s mode in %s of RAM%s: %llu process%s "
           "killed (out of memory), %llu events of them skipped\n",
           xip ? "XIP" : "copy", ram, o->swap ? " and its swap" : "",
           (unsigned long long)r->oom_kills, r->oom_kills == 1 ? "" : "es",
           (unsigned long long)r->skipped);
}

static void print_summary(const struct run_opts *o, int xip,
                          const struct run_result *r)
{
    const struct xvm_report *rep = &r->rep;
    const struct xvm_stats *st = &rep->st;
    char ram[32];
    fmt_size(ram, sizeof(ram), o->ram);
    printf("%s mode on %s, %s RAM: %llu events, %llu mismatches, %.2f s "
           "(%.2f M events/s)\n",
           xip ? "XIP" : "copy", o->machine, ram, (unsigned long long)r->events,
           (unsigned long long)r->mismatches, r->seconds,
           r->seconds > 0 ? r->events / r->seconds / 1e6 : 0.0);
    print_fit(o, xip, r);
    /* The rows add up to the total (doc/figures.md, ram_peak). */
    printf("  RAM at peak, KiB\n");
    for (int k = 0; k < XVM_RAM_KINDS; k++)
        printf("    %-16s %10.0f\n", xvm_ram_kind_name((enum xvm_ram_kind)k),
               kib(rep->ram_peak[k]));
    printf("    %-16s %10.0f\n", "total", kib(rep->ram_peak_total));
    printf("  faults            %10llu      (COW %llu, from device %llu, "
           "zero-fill %llu)\n",
           (unsigned long long)st->faults,
           (unsigned long long)st->cow_promotions,
           (unsigned long long)st->cow_from_device,
           (unsigned long long)st->zero_fills);
    printf("  device maps       %10llu      fallback pages %llu\n",
           (unsigned long long)st->device_maps,
           (unsigned long long)st->fallback_pages);
    printf("  flash read        %10.0f KiB  (%.3f ms simulated)\n",
           kib(st->flash_bytes_read), st->flash_ns / 1e6);
    printf("  PV entries peak   %10llu      software TLB hits %llu, misses "
           "%llu\n",
           (unsigned long long)st->pv_entries_peak,
           (unsigned long long)st->soft_tlb_hits,
           (unsigned long long)st->soft_tlb_misses);
    printf("  time              %10.3f ms   (%.2f M cycles, CPU %s)\n"
           "    execution %.3f, stalls on RAM %.3f, on flash %.3f, TLB %.3f, "
           "kernel %.3f ms\n",
           st->time_ns / 1e6, st->cycles / 1e6, o->cpu ? o->cpu : o->machine,
           st->time_ns_exec / 1e6, st->stall_ns_ram / 1e6,
           st->stall_ns_flash / 1e6, st->time_ns_tlb / 1e6,
           st->time_ns_kernel / 1e6);
    printf("  caches            I1 %llu misses of %llu, D1 %llu of %llu, LL "
           "%llu\n",
           (unsigned long long)st->i1_misses, (unsigned long long)st->i1_refs,
           (unsigned long long)st->d1_misses, (unsigned long long)st->d1_refs,
           (unsigned long long)st->ll_misses);
    printf("  TLB (modelled)    %10llu misses, %llu refills or walks; %llu "
           "super pages\n",
           (unsigned long long)st->tlb_misses,
           (unsigned long long)st->tlb_refills,
           (unsigned long long)st->superpages);
    printf("  page daemon       %10llu runs (%llu pages freed, %llu refaults, "
           "%llu read ahead and unused)\n",
           (unsigned long long)st->pd_runs, (unsigned long long)st->pd_freed,
           (unsigned long long)st->refaults,
           (unsigned long long)st->readahead_unused);
    printf("  kernel objects    %10.0f KiB  at peak\n",
           kib(st->kmem_bytes_peak));
    if (st->swap_pages)
        printf("  swap              %10llu pages out, %llu in (%.3f ms "
               "simulated), %llu KiB used at peak\n",
               (unsigned long long)st->swap_outs,
               (unsigned long long)st->swap_ins, st->swap_ns / 1e6,
               (unsigned long long)(st->swap_used_peak * st->page_size >> 10));
    print_files(r);
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o;
    struct run_result r;
    int rc = parse_run_opts(argc, argv, &o, true);
    if (rc)
        return rc;
    rc = replay_file(&o, o.xip, &r);
    if (rc != 0) {
        run_opts_free(&o);
        return 1;
    }
    if (o.json) {
        print_json_run(stdout, &o, o.xip, &r);
        putchar('\n');
    } else if (o.csv) {
        csv_header(stdout);
        csv_row(stdout, &o, o.xip, &r);
    } else {
        print_summary(&o, o.xip, &r);
    }
    rc = r.mismatches ? 1 : 0;
    run_result_free(&r);
    run_opts_free(&o);
    return rc;
}

static void row(const char *name, uint64_t x, uint64_t c, int64_t saved,
                double percent)
{
    printf("  %-18s %12.0f %12.0f %12.0f %7.1f%%\n", name, kib(x), kib(c),
           (double)saved / 1024.0, percent);
}

/* A row of counts, and one of ns shown as ms, xip then copy. */
static void nrow(const char *name, uint64_t x, uint64_t c)
{
    printf("  %-22s %12llu %12llu\n", name, (unsigned long long)x,
           (unsigned long long)c);
}

static void trow(const char *name, uint64_t x, uint64_t c)
{
    printf("  %-22s %12.3f %12.3f\n", name, x / 1e6, c / 1e6);
}

/* The same file in the other run (both walked the same image). */
static const struct xvm_file_report *same_file(const struct run_result *r,
                                               size_t i, const char *path)
{
    if (i < r->nfiles && strcmp(r->files[i].path, path) == 0)
        return &r->files[i];
    for (size_t k = 0; k < r->nfiles; k++)
        if (strcmp(r->files[k].path, path) == 0)
            return &r->files[k];
    return NULL;
}

/* Per file: what XIP mapped in place, what copy mode cached. */
static void print_compare_files(const struct run_result *x,
                                const struct run_result *c)
{
    static const struct xvm_file_report none;
    int any = 0;
    for (size_t i = 0; i < x->nfiles; i++) {
        const struct xvm_file_report *fx = &x->files[i];
        const struct xvm_file_report *fc = same_file(c, i, fx->path);
        if (fc == NULL)
            fc = &none;
        if (!active(fx) && !active(fc))
            continue;
        if (!any++) {
            printf("\n  %-44s %8s %8s %8s %8s %9s %6s\n", "per file, pages",
                   "touched", "in place", "cached", "cached", "copied",
                   "procs");
            printf("  %-44s %8s %8s %8s %8s %9s %6s\n", "", "", "(xip)",
                   "(xip)", "(copy)", "xip/copy", "");
        }
        put_path(fx->path, 44);
        printf(" %8llu %8llu %8llu %8llu %4llu/%-4llu %6llu\n",
               (unsigned long long)fx->pages_touched,
               (unsigned long long)fx->pages_in_place,
               (unsigned long long)fx->pages_cached,
               (unsigned long long)fc->pages_cached,
               (unsigned long long)fx->pages_copied,
               (unsigned long long)fc->pages_copied,
               (unsigned long long)fc->processes);
    }
    if (any)
        printf("  (cached: pages read into the page cache over the whole "
               "run, not at peak)\n");
    text_notes(x, "xip");
    text_notes(c, "copy");
}

/* A saving (and a slowdown) means something only when both runs fit their
 * RAM. */
static void print_compare(const struct run_opts *o, const struct run_result *x,
                          const struct run_result *c)
{
    const struct xvm_report *rx = &x->rep, *rc = &c->rep;
    struct xvm_savings sv;
    xvm_report_savings(rx, rc, &sv);
    if (run_fits(x) && run_fits(c)) {
        char sd[64];
        printf("XIP saves %.0f KiB of RAM at peak (%.1f%%) and %s\n(%.3f ms "
               "against %.3f ms).\n\n",
               (double)sv.ram_peak_total / 1024.0, sv.ram_peak_total_percent,
               slowdown_text(sd, sizeof(sd), c, sv.slowdown),
               rx->st.time_ns / 1e6, rc->st.time_ns / 1e6);
        printf("RAM at peak, KiB        %12s %12s %12s %8s\n", "xip", "copy",
               "saved", "");
        for (int k = 0; k < XVM_RAM_KINDS; k++)
            row(xvm_ram_kind_name((enum xvm_ram_kind)k), rx->ram_peak[k],
                rc->ram_peak[k], sv.ram_peak[k], sv.ram_peak_percent[k]);
        row("total", rx->ram_peak_total, rc->ram_peak_total, sv.ram_peak_total,
            sv.ram_peak_total_percent);
    } else {
        print_fit(o, 1, x);
        print_fit(o, 0, c);
        printf("  no saving to report: a run that does not fit its RAM "
               "says nothing\n  of what XIP saves (try a larger --ram, or "
               "xipvm sweep)\n\nRAM at peak, KiB        %12s %12s\n",
               "xip", "copy");
        for (int k = 0; k < XVM_RAM_KINDS; k++)
            printf("  %-18s %12.0f %12.0f\n",
                   xvm_ram_kind_name((enum xvm_ram_kind)k),
                   kib(rx->ram_peak[k]), kib(rc->ram_peak[k]));
        printf("  %-18s %12.0f %12.0f\n", "total", kib(rx->ram_peak_total),
               kib(rc->ram_peak_total));
    }
    printf("\n%-24s %12s %12s\n", "", "xip", "copy");
    nrow("events", x->events, c->events);
    nrow("mismatches", x->mismatches, c->mismatches);
    nrow("processes killed (OOM)", x->oom_kills, c->oom_kills);
    nrow("faults", rx->st.faults, rc->st.faults);
    nrow("refaults", rx->st.refaults, rc->st.refaults);
    nrow("COW promotions", rx->st.cow_promotions, rc->st.cow_promotions);
    nrow("device maps", rx->st.device_maps, rc->st.device_maps);
    nrow("fallback pages", rx->st.fallback_pages, rc->st.fallback_pages);
    printf("  %-22s %12.0f %12.0f\n", "flash read, KiB",
           kib(rx->st.flash_bytes_read), kib(rc->st.flash_bytes_read));
    printf("  %-22s %12.3f %12.3f\n", "flash time, ms", rx->st.flash_ns / 1e6,
           rc->st.flash_ns / 1e6);
    printf("\n%-24s %12s %12s\n", "time, ms", "xip", "copy");
    trow("total", rx->st.time_ns, rc->st.time_ns);
    trow("execution", rx->st.time_ns_exec, rc->st.time_ns_exec);
    trow("stalls on RAM", rx->st.stall_ns_ram, rc->st.stall_ns_ram);
    trow("stalls on flash", rx->st.stall_ns_flash, rc->st.stall_ns_flash);
    trow("TLB refills", rx->st.time_ns_tlb, rc->st.time_ns_tlb);
    trow("kernel (faults, I/O)", rx->st.time_ns_kernel, rc->st.time_ns_kernel);
    if (run_fits(x) && run_fits(c) && rc->st.time_ns)
        printf("  %-22s %12.3f %12s\n", "slowdown (xip / copy)", sv.slowdown,
               "");
    nrow("I1 misses", rx->st.i1_misses, rc->st.i1_misses);
    nrow("D1 misses", rx->st.d1_misses, rc->st.d1_misses);
    nrow("LL misses", rx->st.ll_misses, rc->st.ll_misses);
    nrow("TLB misses (modelled)", rx->st.tlb_misses, rc->st.tlb_misses);
    nrow("PV entries, peak", rx->st.pv_entries_peak, rc->st.pv_entries_peak);
    printf("  %-22s %12.2f %12.2f\n", "replay, s", x->seconds, c->seconds);
    print_compare_files(x, c);
    printf("\nstruct vm_page: %llu bytes per %llu-byte page = %.2f%% of RAM "
           "(paper, §2: about 1.8%%);\n",
           (unsigned long long)rx->st.vm_page_bytes,
           (unsigned long long)rx->st.page_size, rx->vm_page_share_percent);
    /* Only the paper's design leaves device pages without vm_pages. */
    if (o->design == XVM_DESIGN_VM_PAGE)
        printf("under --device-design vm_page the device's %llu pages have "
               "vm_pages: %.0f KiB of kernel memory.\n",
               (unsigned long long)rx->st.device_pages,
               kib(rx->st.device_metadata_bytes));
    else if (o->design == XVM_DESIGN_AMAP_COPY)
        printf("under --device-design amap-copy the device pages mapped are "
               "not counted.\n");
    else
        printf("the %llu device pages mapped at peak cost none (as RAM pages "
               "their vm_pages would cost %.0f KiB).\n",
               (unsigned long long)rx->st.device_pages_mapped_peak,
               kib(rx->device_vm_page_bytes));
}

static void print_compare_json(const struct run_opts *o,
                               const struct run_result *x,
                               const struct run_result *c)
{
    struct xvm_savings sv;
    xvm_report_savings(&x->rep, &c->rep, &sv);
    printf("{\n\"xip\": ");
    print_json_run(stdout, o, 1, x);
    printf(",\n\"copy\": ");
    print_json_run(stdout, o, 0, c);
    printf(",\n\"fits\": {\"xip\": %s, \"copy\": %s}",
           run_fits(x) ? "true" : "false", run_fits(c) ? "true" : "false");
    if (!run_fits(x) || !run_fits(c)) {
        /* No saving: a run that does not fit its RAM measures nothing. */
        printf(",\n\"saved\": null,\n\"slowdown\": null\n}\n");
        return;
    }
    printf(",\n\"saved\": {\n  \"ram_peak\": {");
    for (int k = 0; k < XVM_RAM_KINDS; k++)
        printf("%s\"%s\": %lld", k ? ", " : "",
               xvm_ram_kind_name((enum xvm_ram_kind)k),
               (long long)sv.ram_peak[k]);
    printf("},\n  \"ram_peak_percent\": {");
    for (int k = 0; k < XVM_RAM_KINDS; k++)
        printf("%s\"%s\": %.2f", k ? ", " : "",
               xvm_ram_kind_name((enum xvm_ram_kind)k), sv.ram_peak_percent[k]);
    printf("},\n  \"ram_peak_total\": %lld,\n  \"ram_peak_total_percent\": "
           "%.2f\n},\n\"slowdown\": ",
           (long long)sv.ram_peak_total, sv.ram_peak_total_percent);
    /* 0/0 when copy mode took no time: no ratio. */
    if (c->rep.st.time_ns)
        printf("%.4f\n}\n", sv.slowdown);
    else
        printf("null\n}\n");
}

int cmd_compare(int argc, char **argv)
{
    struct run_opts o;
    struct run_result x, c;
    int rc = parse_run_opts(argc, argv, &o, true);
    if (rc)
        return rc;
    for (int k = 0; k < o.ntraces; k++)
        if (strcmp(o.traces[k], "-") == 0) {
            fprintf(stderr,
                    "xipvm: compare reads the traces twice: give files\n");
            run_opts_free(&o);
            return 2;
        }
    if (replay_file(&o, 1, &x) != 0) {
        run_opts_free(&o);
        return 1;
    }
    if (replay_file(&o, 0, &c) != 0) {
        run_result_free(&x);
        run_opts_free(&o);
        return 1;
    }
    if (o.json) {
        print_compare_json(&o, &x, &c);
    } else if (o.csv) {
        csv_header(stdout);
        csv_row(stdout, &o, 1, &x);
        csv_row(stdout, &o, 0, &c);
    } else {
        print_compare(&o, &x, &c);
    }
    if (o.svg && write_svg(o.svg, &x, &c) != 0) {
        fprintf(stderr, "xipvm: cannot write %s\n", o.svg);
        rc = 1;
    }
    if (x.mismatches || c.mismatches)
        rc = 1;
    run_result_free(&x);
    run_result_free(&c);
    run_opts_free(&o);
    return rc;
}
