/*
 * xipvm advise: from a copy-mode replay of traces on an image, each file's
 * and each page's use and compressed size, the best choice of pages to
 * keep XIP for every flash size (the curve of RAM saved against flash
 * spent), and the choice for a flash or RAM budget (doc/advise.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "advise_cli.h"

static const struct cli_opt advise_opts[] = {
    CLI_RUN_OPTS,
    { "--flash-budget", "SIZE", "none",
      "the flash the files' data may take: the choice saves the most RAM "
      "within it" },
    { "--ram-budget", "SIZE", "none",
      "the RAM the pages left compressed may cost in copy mode: the choice "
      "spends the least flash within it" },
    { "--codec", "NAME", "zlib",
      "the compression the choice counts: zlib (level 9, as mkcramfs) or "
      "zstd (level 15)" },
    { "--pages", NULL, NULL, "list every page the run used (text)" },
    { "--svg", "FILE", NULL,
      "draw the curve of RAM saved against flash spent as SVG" },
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd advise_cmd = {
    .name = "advise",
    .synopsis = "--image IMG [--flash-budget SIZE|--ram-budget SIZE] "
                "[OPTIONS] TRACE...",
    .summary = "which pages to keep XIP, which to compress, for a flash or "
               "RAM budget",
    .opts = advise_opts,
    .details =
        "Replays the TRACEs in copy mode and weighs every page of the "
        "image's\nfiles: kept XIP (uncompressed and page-aligned: a page of "
        "flash, no\nRAM) or compressed (each 4 KiB block alone, as cramfs: "
        "less flash, a\npage of RAM when used).  Prints each file's pages "
        "touched, written and\ntheir sizes, the RAM saved against the flash "
        "spent by the best choice\nat every flash size, and the choice for "
        "the budget (doc/advise.md).\n--csv prints the curve, --json "
        "everything (per page too).  Exit\nstatus: 0; 1 when the traces' "
        "expectations are not met, the replay\ndoes not fit its RAM or the "
        "flash budget is below every page\ncompressed; 2 for a usage "
        "error.\n",
    .fn = cmd_advise,
};

struct adv_opts {
    enum adv_codec codec;
    int budget; /* 0 none, 'f' flash, 'r' RAM */
    uint64_t limit;
    bool pages;
};

/* advise's own options, beside run's. */
static int advise_opt(void *arg, const char *a, const char *v)
{
    struct adv_opts *ao = arg;
    if (strcmp(a, "--pages") == 0) {
        ao->pages = true;
    } else if (strcmp(a, "--codec") == 0) {
        if (strcmp(v, "zlib") != 0 && strcmp(v, "zstd") != 0) {
            fprintf(stderr,
                    "xipvm advise: --codec: expected zlib or zstd, "
                    "got %s\n",
                    v);
            return 2;
        }
        ao->codec = v[1] == 's' ? ADV_ZSTD : ADV_ZLIB;
    } else {
        /* --flash-budget, --ram-budget: the same one again replaces it,
         * as other options do */
        int which = a[2] == 'f' ? 'f' : 'r';
        if (ao->budget && ao->budget != which) {
            fprintf(stderr, "xipvm advise: --flash-budget and --ram-budget "
                            "conflict: give one\n");
            return 2;
        }
        if (parse_size(v, &ao->limit)) {
            fprintf(stderr, "xipvm advise: %s: not a size: %s\n", a, v);
            return 2;
        }
        ao->budget = which;
    }
    return 0;
}

/* Everything the outputs read. */
struct advice {
    const struct run_opts *o;
    const struct adv_opts *a;
    const struct run_result *r;
    struct adv_profile p;
    struct adv_page *pages;
    struct adv_plan plan;
    size_t k;            /* the choice: the first k of plan.order, or */
    bool chosen;         /* no choice (no budget) */
    bool *keep;          /* [npages]: kept XIP by the choice */
    uint64_t *file_keep; /* [nfiles]: pages of each kept XIP */
    uint64_t flash_zlib, flash_zstd;
};

static double kib(uint64_t b)
{
    return (double)b / 1024.0;
}

static const char *codec_name(enum adv_codec c)
{
    return c == ADV_ZSTD ? "zstd" : "zlib";
}

/* A file the run did something with. */
static bool used(const struct adv_file *f)
{
    return f->pages_touched || f->pages_cached || f->pages_written;
}

static const struct adv_page_info *info(const struct advice *ad, size_t i,
                                        uint64_t pg)
{
    return &ad->p.info[ad->p.files[i].first + pg];
}

/* Sums over a file's pages: its two codecs' sizes and copy mode's RAM. */
static void file_sums(const struct advice *ad, size_t i, uint64_t *zl,
                      uint64_t *zs, uint64_t *ram)
{
    *zl = *zs = *ram = 0;
    for (uint64_t pg = 0; pg < ad->p.files[i].file_pages; pg++) {
        const struct adv_page_info *pi = info(ad, i, pg);
        *zl += adv_packed(pi, ADV_ZLIB);
        *zs += adv_packed(pi, ADV_ZSTD);
        *ram += pi->rep.cached ? ad->p.frame_bytes : 0;
    }
}

static double pct(uint64_t x, uint64_t of)
{
    return of ? 100.0 * ((double)x - (double)of) / (double)of : 0.0;
}

/* ---- text ---- */

static void curve_row(const struct advice *ad, size_t k)
{
    const struct adv_plan *pl = &ad->plan;
    printf("  %12.0f %14.0f %14zu %14.0f %14.0f\n", kib(pl->flash[k]),
           kib(pl->flash[k] - pl->flash[0]), k, kib(pl->saved[k]),
           kib(pl->ram_copy - pl->saved[k]));
}

static void print_choice(const struct advice *ad)
{
    const struct adv_plan *pl = &ad->plan;
    const char *what = ad->a->budget == 'f' ? "--flash-budget" : "--ram-budget";
    printf("\nchoice for %s %.0f KiB: keep %zu pages XIP, compress the rest "
           "(%s)\n",
           what, kib(ad->a->limit), ad->k, codec_name(ad->a->codec));
    printf("  flash %.0f KiB (%.0f KiB over every page compressed), RAM saved "
           "%.0f KiB, RAM left %.0f KiB\n",
           kib(pl->flash[ad->k]), kib(pl->flash[ad->k] - pl->flash[0]),
           kib(pl->saved[ad->k]), kib(pl->ram_copy - pl->saved[ad->k]));
    if (ad->a->budget == 'f' && ad->k == pl->n && pl->n > 0)
        printf("  every page the run used is XIP: more flash saves no "
               "RAM\n");
}

static void print_pages(const struct advice *ad)
{
    printf("\n  %-40s %8s %8s %7s %6s %9s %9s %5s\n", "pages the run used",
           "page", "touches", "written", "cached", "zlib B", "zstd B", "XIP");
    for (size_t i = 0; i < ad->p.nfiles; i++)
        for (uint64_t pg = 0; pg < ad->p.files[i].file_pages; pg++) {
            const struct adv_page_info *pi = info(ad, i, pg);
            if (!pi->rep.touches && !pi->rep.cached && !pi->rep.written)
                continue;
            const char *path = ad->p.files[i].path;
            size_t n = strlen(path);
            printf("  %s%-*s %8llu %8llu %7d %6d %9u %9u %5s\n",
                   n > 40 ? "..." : "", n > 40 ? 37 : 40,
                   n > 40 ? path + n - 37 : path, (unsigned long long)pg,
                   (unsigned long long)pi->rep.touches, pi->rep.written,
                   pi->rep.cached, adv_packed(pi, ADV_ZLIB),
                   adv_packed(pi, ADV_ZSTD),
                   ad->keep[ad->p.files[i].first + pg] ? "yes" : "-");
        }
}

static void print_text(const struct advice *ad)
{
    const struct run_result *r = ad->r;
    const struct adv_plan *pl = &ad->plan;
    const struct adv_profile *p = &ad->p;
    uint64_t nused = 0, other = 0, other_pages = 0;
    printf("advise: copy mode on %s, %llu KiB RAM: %llu events, %llu "
           "mismatches, %.2f s\n",
           ad->o->machine, (unsigned long long)(ad->o->ram >> 10),
           (unsigned long long)r->events, (unsigned long long)r->mismatches,
           r->seconds);
    for (size_t i = 0; i < p->nfiles; i++)
        nused += used(&p->files[i]);
    printf("  the image's files: %zu (%llu pages); the run used %llu of "
           "them, %zu pages cost RAM in copy mode\n",
           p->nfiles, (unsigned long long)p->npages, (unsigned long long)nused,
           pl->n);
    printf("\n  flash for the files' data                       KiB\n");
    printf("    every page XIP (a plain XIP image)    %10.0f  %+6.1f%%\n",
           kib(pl->flash_xip), pct(pl->flash_xip, pl->flash[0]));
    printf("    every page compressed, zlib           %10.0f  %+6.1f%%\n",
           kib(ad->flash_zlib), pct(ad->flash_zlib, pl->flash[0]));
    printf("    every page compressed, zstd           %10.0f  %+6.1f%%\n",
           kib(ad->flash_zstd), pct(ad->flash_zstd, pl->flash[0]));
    printf("    the pages used XIP, the rest %s     %10.0f  %+6.1f%%\n",
           codec_name(ad->a->codec), kib(pl->flash[pl->n]),
           pct(pl->flash[pl->n], pl->flash[0]));
    printf("  (percentages over every page compressed with %s)\n",
           codec_name(ad->a->codec));
    printf("  RAM the files cost in copy mode: %.0f KiB (%zu pages, %u bytes "
           "each with its vm_page)\n",
           kib(pl->ram_copy), pl->n, (unsigned)p->frame_bytes);

    printf("\n  %-34s %6s %7s %7s %7s %8s %8s %8s %8s %7s\n", "files used",
           "pages", "touched", "written", "touches", "xip KiB", "zlib KiB",
           "zstd KiB", "RAM KiB", "keep XIP");
    for (size_t i = 0; i < p->nfiles; i++) {
        const struct adv_file *f = &p->files[i];
        uint64_t zl, zs, ram;
        if (!used(f)) {
            other++;
            other_pages += f->file_pages;
            continue;
        }
        file_sums(ad, i, &zl, &zs, &ram);
        size_t n = strlen(f->path);
        char keep[24] = "-";
        if (ad->chosen)
            snprintf(keep, sizeof(keep), "%llu",
                     (unsigned long long)ad->file_keep[i]);
        printf("  %s%-*s %6llu %7llu %7llu %7llu %8.0f %8.0f %8.0f %8.0f "
               "%7s\n",
               n > 34 ? "..." : "", n > 34 ? 31 : 34,
               n > 34 ? f->path + n - 31 : f->path,
               (unsigned long long)f->file_pages,
               (unsigned long long)f->pages_touched,
               (unsigned long long)f->pages_written,
               (unsigned long long)f->touches,
               kib(f->file_pages * p->page_size), kib(zl), kib(zs), kib(ram),
               keep);
    }
    if (other)
        printf("  and %llu files the run did not use (%llu pages: compress "
               "them)\n",
               (unsigned long long)other, (unsigned long long)other_pages);
    if (ad->a->pages)
        print_pages(ad);

    printf("\nRAM saved against flash spent (%s; the best choice for each "
           "flash size)\n",
           codec_name(ad->a->codec));
    printf("  %12s %14s %14s %14s %14s\n", "flash KiB", "+flash KiB",
           "kept XIP pages", "RAM saved KiB", "RAM left KiB");
    size_t last = SIZE_MAX;
    for (int step = 0; step <= 10; step++) {
        size_t k = pl->n * (size_t)step / 10;
        if (k != last)
            curve_row(ad, k);
        last = k;
    }
    if (ad->chosen)
        print_choice(ad);
}

/* ---- JSON (keys in doc/figures.md, "The XIP advisor") ---- */

static void json_budget(FILE *out, const struct advice *ad, int which)
{
    if (ad->a->budget == which)
        fprintf(out, "%llu", (unsigned long long)ad->a->limit);
    else
        fputs("null", out);
}

static void json_pages(FILE *out, const struct advice *ad, size_t i)
{
    int any = 0;
    fputs("[", out);
    for (uint64_t pg = 0; pg < ad->p.files[i].file_pages; pg++) {
        const struct adv_page_info *pi = info(ad, i, pg);
        if (!pi->rep.touches && !pi->rep.cached && !pi->rep.written)
            continue;
        fprintf(out,
                "%s\n      {\"page\": %llu, \"touches\": %llu, \"copies\": "
                "%llu, \"written\": %d, \"cached\": %d, \"zlib_bytes\": %u, "
                "\"zstd_bytes\": %u, \"keep_xip\": %s}",
                any++ ? "," : "", (unsigned long long)pg,
                (unsigned long long)pi->rep.touches,
                (unsigned long long)pi->rep.copies, pi->rep.written,
                pi->rep.cached, adv_packed(pi, ADV_ZLIB),
                adv_packed(pi, ADV_ZSTD),
                !ad->chosen                           ? "null"
                : ad->keep[ad->p.files[i].first + pg] ? "1"
                                                      : "0");
    }
    fputs(any ? "\n    ]" : "]", out);
}

static void print_json(FILE *out, const struct advice *ad)
{
    const struct adv_plan *pl = &ad->plan;
    const struct run_result *r = ad->r;
    fprintf(out, "{\n  \"params\": ");
    print_json_params(out, ad->o, 0);
    fprintf(out, ",\n  \"codec\": \"%s\",\n  \"flash_budget\": ",
            codec_name(ad->a->codec));
    json_budget(out, ad, 'f');
    fprintf(out, ",\n  \"ram_budget\": ");
    json_budget(out, ad, 'r');
    fprintf(
        out,
        ",\n  \"events\": %llu,\n  \"mismatches\": %llu,\n  \"fits\": "
        "%s,\n  \"page_size\": %u,\n  \"frame_bytes\": %u,\n"
        "  \"flash_all_xip\": %llu,\n  \"flash_all_zlib\": %llu,\n"
        "  \"flash_all_zstd\": %llu,\n  \"flash_used_xip\": %llu,\n"
        "  \"ram_copy\": %llu,\n  \"files\": {",
        (unsigned long long)r->events, (unsigned long long)r->mismatches,
        run_fits(r) ? "true" : "false", (unsigned)ad->p.page_size,
        (unsigned)ad->p.frame_bytes, (unsigned long long)pl->flash_xip,
        (unsigned long long)ad->flash_zlib, (unsigned long long)ad->flash_zstd,
        (unsigned long long)pl->flash[pl->n], (unsigned long long)pl->ram_copy);
    for (size_t i = 0; i < ad->p.nfiles; i++) {
        const struct adv_file *f = &ad->p.files[i];
        uint64_t zl, zs, ram;
        file_sums(ad, i, &zl, &zs, &ram);
        fprintf(out, "%s\n    ", i ? "," : "");
        json_string(out, f->path);
        fprintf(out,
                ": {\"ino\": %llu, \"size\": %llu, \"file_pages\": %llu, "
                "\"pages_touched\": %llu, \"pages_cached\": %llu, "
                "\"pages_written\": %llu, \"touches\": %llu, \"xip_bytes\": "
                "%llu, \"zlib_bytes\": %llu, \"zstd_bytes\": %llu, "
                "\"ram_copy\": %llu, \"keep_xip_pages\": ",
                (unsigned long long)f->ino, (unsigned long long)f->size,
                (unsigned long long)f->file_pages,
                (unsigned long long)f->pages_touched,
                (unsigned long long)f->pages_cached,
                (unsigned long long)f->pages_written,
                (unsigned long long)f->touches,
                (unsigned long long)(f->file_pages * ad->p.page_size),
                (unsigned long long)zl, (unsigned long long)zs,
                (unsigned long long)ram);
        if (ad->chosen)
            fprintf(out, "%llu", (unsigned long long)ad->file_keep[i]);
        else
            fputs("null", out);
        fputs(", \"pages\": ", out);
        json_pages(out, ad, i);
        fputs("}", out);
    }
    fprintf(out, "%s},\n  \"curve\": [", ad->p.nfiles ? "\n  " : "");
    for (size_t k = 0; k <= pl->n; k++)
        fprintf(out,
                "%s\n    {\"keep_xip_pages\": %zu, \"flash\": %llu, "
                "\"ram_saved\": %llu}",
                k ? "," : "", k, (unsigned long long)pl->flash[k],
                (unsigned long long)pl->saved[k]);
    fprintf(out, "\n  ],\n  \"choice\": ");
    if (!ad->chosen) {
        fputs("null\n}\n", out);
        return;
    }
    fprintf(out,
            "{\"keep_xip_pages\": %zu, \"flash\": %llu, \"ram_saved\": %llu, "
            "\"ram_left\": %llu}\n}\n",
            ad->k, (unsigned long long)pl->flash[ad->k],
            (unsigned long long)pl->saved[ad->k],
            (unsigned long long)(pl->ram_copy - pl->saved[ad->k]));
}

/* ---- CSV: the curve, a row per point ---- */

static void print_csv(FILE *out, const struct advice *ad)
{
    const struct adv_plan *pl = &ad->plan;
    fprintf(out, "keep_xip_pages,flash,flash_extra,ram_saved,ram_left,path,"
                 "page\n");
    for (size_t k = 0; k <= pl->n; k++) {
        fprintf(out, "%zu,%llu,%llu,%llu,%llu,", k,
                (unsigned long long)pl->flash[k],
                (unsigned long long)(pl->flash[k] - pl->flash[0]),
                (unsigned long long)pl->saved[k],
                (unsigned long long)(pl->ram_copy - pl->saved[k]));
        if (k > 0) {
            const struct adv_page *pg = &ad->pages[pl->order[k - 1]];
            csv_field(out, ad->p.files[pg->file].path);
            fprintf(out, ",%llu", (unsigned long long)pg->page);
        } else {
            fputc(',', out);
        }
        fputc('\n', out);
    }
}

/* ---- SVG: RAM saved against flash spent ---- */

#define SW 800
#define SH 460
#define SL 80
#define SR 30
#define ST 50
#define SB 60

static double sx(double flash, double x0, double x1)
{
    return SL + (flash - x0) / (x1 - x0) * (SW - SL - SR);
}

static double sy(double saved, double ymax)
{
    return SH - SB - saved / ymax * (SH - ST - SB);
}

static int write_curve_svg(const char *path, const struct advice *ad)
{
    const struct adv_plan *pl = &ad->plan;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    double x0 = kib(pl->flash[0]), x1 = kib(pl->flash_xip);
    double ymax = kib(pl->saved[pl->n]) * 1.1;
    if (x1 <= x0)
        x1 = x0 + 1;
    if (ymax <= 0)
        ymax = 1;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"24\" font-size=\"15\">RAM saved against "
            "flash spent: the best pages kept XIP, the rest compressed "
            "(%s)</text>\n",
            SW, SH, SL, codec_name(ad->a->codec));
    fprintf(f,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>"
            "\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
            "stroke=\"black\"/>\n",
            SL, SH - SB, SW - SR, SH - SB, SL, ST, SL, SH - SB);
    for (int t = 0; t <= 4; t++) {
        double fx = x0 + (x1 - x0) * t / 4.0, fy = ymax * t / 4.0;
        fprintf(f,
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>"
                "\n<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n"
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                "stroke=\"#ddd\"/>\n",
                sx(fx, x0, x1), SH - SB + 16, fx, SL - 6, sy(fy, ymax) + 4, fy,
                SL, sy(fy, ymax), SW - SR, sy(fy, ymax));
    }
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">flash for the "
            "files' data, KiB</text>\n<text x=\"16\" y=\"%d\" "
            "transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">RAM "
            "saved, KiB</text>\n",
            (SW + SL) / 2, SH - 16, (SH + ST - SB) / 2, (SH + ST - SB) / 2);
    /* the frontier: a step up at each page kept XIP; at most ~2 points
     * per pixel column */
    size_t stride = pl->n / 2000 + 1;
    fprintf(f, "<polyline fill=\"none\" stroke=\"#1b9e77\" "
               "stroke-width=\"2\" points=\"");
    for (size_t k = 0; k <= pl->n; k += stride)
        fprintf(f, "%.1f,%.1f ", sx(kib(pl->flash[k]), x0, x1),
                sy(kib(pl->saved[k]), ymax));
    fprintf(f, "%.1f,%.1f %.1f,%.1f\"/>\n", sx(kib(pl->flash[pl->n]), x0, x1),
            sy(kib(pl->saved[pl->n]), ymax), sx(x1, x0, x1),
            sy(kib(pl->saved[pl->n]), ymax));
    fprintf(f,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#d95f02\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
            "fill=\"#d95f02\">every page XIP</text>\n",
            sx(x1, x0, x1), sy(kib(pl->saved[pl->n]), ymax), sx(x1, x0, x1) - 6,
            sy(kib(pl->saved[pl->n]), ymax) + 18);
    fprintf(f,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#7570b3\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" fill=\"#7570b3\">every page "
            "compressed</text>\n",
            sx(x0, x0, x1), sy(0, ymax), sx(x0, x0, x1) + 6, sy(0, ymax) - 8);
    if (ad->chosen) {
        double cx = sx(kib(pl->flash[ad->k]), x0, x1);
        double cy = sy(kib(pl->saved[ad->k]), ymax);
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"none\" "
                "stroke=\"black\" stroke-width=\"2\"/>\n<text x=\"%.1f\" "
                "y=\"%.1f\">the choice: %zu pages XIP, %.0f KiB saved</text>\n",
                cx, cy, cx + 8, cy + 16, ad->k, kib(pl->saved[ad->k]));
    }
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- the command ---- */

static int decide(struct advice *ad)
{
    struct adv_plan *pl = &ad->plan;
    ad->keep = calloc(ad->p.npages ? ad->p.npages : 1, sizeof(*ad->keep));
    ad->file_keep =
        calloc(ad->p.nfiles ? ad->p.nfiles : 1, sizeof(*ad->file_keep));
    if (ad->keep == NULL || ad->file_keep == NULL)
        return ENOMEM;
    for (uint64_t i = 0; i < ad->p.npages; i++) {
        ad->flash_zlib += adv_packed(&ad->p.info[i], ADV_ZLIB);
        ad->flash_zstd += adv_packed(&ad->p.info[i], ADV_ZSTD);
    }
    if (ad->a->budget == 0)
        return 0;
    ad->k = ad->a->budget == 'f' ? adv_plan_flash_budget(pl, ad->a->limit)
                                 : adv_plan_ram_budget(pl, ad->a->limit);
    if (ad->k == ADV_NONE) {
        /* The need in bytes: both rounded to KiB may read the same. */
        char b[32];
        fprintf(stderr,
                "xipvm: --flash-budget %s: the files need %llu bytes (%.0f "
                "KiB) with every page compressed (%s)\n",
                fmt_size(b, sizeof(b), ad->a->limit),
                (unsigned long long)pl->flash[0], kib(pl->flash[0]),
                codec_name(ad->a->codec));
        return ERANGE;
    }
    ad->chosen = true;
    for (size_t k = 0; k < ad->k; k++) {
        const struct adv_page *pg = &ad->pages[pl->order[k]];
        ad->keep[pl->order[k]] = true;
        ad->file_keep[pg->file]++;
    }
    return 0;
}

int cmd_advise(int argc, char **argv)
{
    struct run_opts o;
    struct adv_opts a = { .codec = ADV_ZLIB };
    struct run_result r;
    struct advice ad = { .o = &o, .a = &a, .r = &r };
    int rc = parse_run_opts_own(argc, argv, &o, true, advise_opt, &a);
    if (rc)
        return rc;
    o.pages = true;
    if (replay_file(&o, 0, &r) != 0) {
        run_opts_free(&o);
        return 1;
    }
    rc = 1;
    if (!run_fits(&r)) {
        fprintf(stderr,
                "xipvm: the replay does not fit %llu KiB of RAM in copy mode "
                "(%llu processes killed): its profile would miss their "
                "pages; give --ram more\n",
                (unsigned long long)(o.ram >> 10),
                (unsigned long long)r.oom_kills);
        goto out;
    }
    if (adv_profile_make(&o, &r, &ad.p) != 0)
        goto out;
    int error = adv_profile_pages(&ad.p, a.codec, &ad.pages);
    if (error == 0)
        error = adv_plan_make(ad.pages, ad.p.npages, &ad.plan);
    if (error == 0)
        error = decide(&ad);
    if (error) {
        if (error == ENOMEM)
            fprintf(stderr, "xipvm: out of memory\n");
        goto out;
    }
    if (o.json)
        print_json(stdout, &ad);
    else if (o.csv)
        print_csv(stdout, &ad);
    else
        print_text(&ad);
    if (o.svg && write_curve_svg(o.svg, &ad) != 0) {
        fprintf(stderr, "xipvm: cannot write %s\n", o.svg);
        goto out;
    }
    rc = r.mismatches ? 1 : 0;
out:
    free(ad.keep);
    free(ad.file_keep);
    free(ad.pages);
    adv_plan_free(&ad.plan);
    adv_profile_free(&ad.p);
    run_result_free(&r);
    run_opts_free(&o);
    return rc;
}
