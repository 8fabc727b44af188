/*
 * Charts of a comparison, as SVG: RAM in use over the replay, XIP against
 * copy mode, with what XIP saves and what it costs in the title; below,
 * the time of both runs by part, and the page cache of each file in both
 * modes.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define W      800
#define H      420
#define LEFT   70
#define RIGHT  20
#define TOP    56
#define BOTTOM 50
#define TIME_H 120 /* the time panel, below the RAM chart */

/* The most in use over each sample's span: no peak falls between samples. */
static uint64_t used(const struct xvm_sample *s)
{
    return s->ram_total_max > s->ram_total ? s->ram_total_max : s->ram_total;
}

static void series(FILE *f, const struct run_result *r, uint64_t xmax,
                   double ymax_mib, const char *colour)
{
    fprintf(
        f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
        colour);
    for (size_t i = 0; i < r->nsamples; i++) {
        double x =
            LEFT + (double)r->samples[i].at / (double)xmax * (W - LEFT - RIGHT);
        double mib = (double)used(&r->samples[i]) / 1048576.0;
        double y = H - BOTTOM - mib / ymax_mib * (H - TOP - BOTTOM);
        fprintf(f, "%.1f,%.1f ", x, y);
    }
    fprintf(f, "\"/>\n");
}

#define FILES_MAX 16 /* files in the per-file chart */
#define BAR       9
#define ROW       26

/* The file of the copy run named like xip's i-th, or NULL. */
static const struct xvm_file_report *copy_of(const struct run_result *copy,
                                             const char *path)
{
    for (size_t k = 0; k < copy->nfiles; k++)
        if (strcmp(copy->files[k].path, path) == 0)
            return &copy->files[k];
    return NULL;
}

/* => how many files go into the chart, their indexes (in xip's files) in
 *    idx, biggest copy-mode page cache first. */
static size_t pick_files(const struct run_result *xip,
                         const struct run_result *copy, size_t *idx)
{
    size_t n = 0;
    for (size_t i = 0; i < xip->nfiles; i++) {
        const struct xvm_file_report *c = copy_of(copy, xip->files[i].path);
        uint64_t v = c ? c->pages_cached : 0;
        if (v == 0 && xip->files[i].pages_in_place == 0)
            continue;
        size_t at = n < FILES_MAX ? n++ : FILES_MAX;
        /* insertion into the top list */
        while (at > 0) {
            const struct xvm_file_report *p =
                copy_of(copy, xip->files[idx[at - 1]].path);
            if ((p ? p->pages_cached : 0) >= v)
                break;
            if (at < FILES_MAX)
                idx[at] = idx[at - 1];
            at--;
        }
        if (at < FILES_MAX)
            idx[at] = i;
    }
    return n;
}

/* Per file: copy mode's page cache against XIP's, pages in place noted. */
static void file_chart(FILE *f, const struct run_result *xip,
                       const struct run_result *copy, int y0)
{
    size_t idx[FILES_MAX], n = pick_files(xip, copy, idx);
    uint64_t max = 1, pg = xip->rep.st.page_size;
    for (size_t k = 0; k < n; k++) {
        const struct xvm_file_report *c =
            copy_of(copy, xip->files[idx[k]].path);
        if (c && c->pages_cached > max)
            max = c->pages_cached;
        if (xip->files[idx[k]].pages_cached > max)
            max = xip->files[idx[k]].pages_cached;
    }
    int x0 = 330, span = W - RIGHT - x0 - 90;
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" font-size=\"15\">Page cache by file "
            "(KiB): copy mode against XIP; pages XIP maps in place need "
            "none</text>\n",
            LEFT, y0);
    for (size_t k = 0; k < n; k++) {
        const struct xvm_file_report *x = &xip->files[idx[k]];
        const struct xvm_file_report *c = copy_of(copy, x->path);
        uint64_t cc = c ? c->pages_cached : 0;
        int y = y0 + 16 + (int)k * ROW;
        const char *name = x->path;
        size_t len = strlen(name);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s", x0 - 6,
                y + BAR + 4, len > 44 ? "..." : "");
        xml_text(f, len > 44 ? name + len - 41 : name);
        fputs("</text>\n", f);
        fprintf(f,
                "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                "fill=\"#d95f02\"/>\n",
                x0, y, (double)cc / (double)max * span, BAR);
        fprintf(f,
                "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                "fill=\"#1b9e77\"/>\n",
                x0, y + BAR + 1, (double)x->pages_cached / (double)max * span,
                BAR);
        fprintf(f,
                "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%.0f / %.0f KiB, "
                "%llu in place%s</text>\n",
                x0 + (double)cc / (double)max * span + 4, y + BAR + 2,
                (double)(cc * pg) / 1024.0,
                (double)(x->pages_cached * pg) / 1024.0,
                (unsigned long long)x->pages_in_place,
                x->textrel ? ", TEXTREL" : "");
    }
}

/* The time of each run as a bar of its parts (doc/figures.md, time). */
static void time_panel(FILE *f, const struct run_result *xip,
                       const struct run_result *copy)
{
    static const char *const part[5] = { "execution", "stalls on RAM",
                                         "stalls on flash", "TLB refills",
                                         "kernel" };
    static const char *const colour[5] = { "#7570b3", "#e7298a", "#d95f02",
                                           "#66a61e", "#a6761d" };
    const struct run_result *runs[2] = { xip, copy };
    double tmax = 1;
    for (int k = 0; k < 2; k++)
        if ((double)runs[k]->rep.st.time_ns > tmax)
            tmax = (double)runs[k]->rep.st.time_ns;
    int y0 = H + 16;
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" font-size=\"13\">Estimated time "
            "(ms), by part</text>\n",
            LEFT, y0);
    for (int k = 0; k < 2; k++) {
        const struct xvm_stats *st = &runs[k]->rep.st;
        uint64_t v[5] = { st->time_ns_exec, st->stall_ns_ram,
                          st->stall_ns_flash, st->time_ns_tlb,
                          st->time_ns_kernel };
        double x = LEFT, y = y0 + 12 + 28 * k;
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                LEFT - 6, y + 14, k ? "copy" : "xip");
        for (int i = 0; i < 5; i++) {
            double w = (double)v[i] / tmax * (W - LEFT - RIGHT - 80);
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"20\" fill=\"%s\"><title>%s %.3f ms</title>"
                    "</rect>\n",
                    x, y, w, colour[i], part[i], v[i] / 1e6);
            x += w;
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%.3f</text>\n", x + 6, y + 14,
                st->time_ns / 1e6);
    }
    for (int i = 0; i < 5; i++) {
        int x = LEFT + i * 140, y = y0 + 80;
        fprintf(f,
                "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" "
                "fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
                x, y, colour[i], x + 14, y + 10, part[i]);
    }
}

int write_svg(const char *path, const struct run_result *xip,
              const struct run_result *copy)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    size_t idx[FILES_MAX], nfiles = pick_files(xip, copy, idx);
    int height = H + TIME_H + (nfiles ? 40 + (int)nfiles * ROW : 0);
    uint64_t xmax = 1, ymax = 1;
    const struct run_result *runs[2] = { xip, copy };
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < runs[k]->nsamples; i++) {
            if (runs[k]->samples[i].at > xmax)
                xmax = runs[k]->samples[i].at;
            if (used(&runs[k]->samples[i]) > ymax)
                ymax = used(&runs[k]->samples[i]);
        }
    double ymax_mib = (double)ymax / 1048576.0 * 1.1;
    fprintf(
        f,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n",
        W, height);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    struct xvm_savings sv;
    xvm_report_savings(&xip->rep, &copy->rep, &sv);
    fprintf(f,
            "<text x=\"%d\" y=\"22\" font-size=\"15\">RAM in use during the "
            "replay</text>\n",
            LEFT);
    char sd[64];
    if (run_fits(xip) && run_fits(copy))
        fprintf(f,
                "<text x=\"%d\" y=\"42\" font-size=\"13\">XIP saves %.0f KiB "
                "of RAM at peak (%.1f%%) and %s "
                "(%.3f ms against %.3f ms)</text>\n",
                LEFT, (double)sv.ram_peak_total / 1024.0,
                sv.ram_peak_total_percent,
                slowdown_text(sd, sizeof(sd), copy, sv.slowdown),
                xip->rep.st.time_ns / 1e6, copy->rep.st.time_ns / 1e6);
    else
        fprintf(f,
                "<text x=\"%d\" y=\"42\" font-size=\"13\">A run does not "
                "fit its RAM: no saving and no slowdown to report</text>\n",
                LEFT);
    fprintf(
        f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n",
        LEFT, H - BOTTOM, W - RIGHT, H - BOTTOM);
    fprintf(
        f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n",
        LEFT, TOP, LEFT, H - BOTTOM);
    for (int t = 0; t <= 4; t++) {
        double y = H - BOTTOM - t / 4.0 * (H - TOP - BOTTOM);
        double x = LEFT + t / 4.0 * (W - LEFT - RIGHT);
        fprintf(
            f,
            "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f MiB</text>\n",
            LEFT - 6, y + 4, ymax_mib * t / 4.0);
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                "stroke=\"#ddd\"/>\n",
                LEFT, y, W - RIGHT, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%llu</text>\n",
                x, H - BOTTOM + 16, t == 4 ? "end" : "middle",
                (unsigned long long)(xmax * (uint64_t)t / 4));
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">events</text>\n",
            (W + LEFT) / 2, H - 12);
    series(f, copy, xmax, ymax_mib, "#d95f02");
    series(f, xip, xmax, ymax_mib, "#1b9e77");
    fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#d95f02\">copy</text>\n",
            W - 120, TOP + 4);
    fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#1b9e77\">xip</text>\n", W - 120,
            TOP + 20);
    time_panel(f, xip, copy);
    if (nfiles)
        file_chart(f, xip, copy, H + TIME_H + 24);
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? 0 : -1;
}
