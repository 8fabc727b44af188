/*
 * A chart of RAM in use over the replay, XIP against copy mode, as SVG.
 */
#include <stdio.h>

#include "cli.h"

#define W      800
#define H      420
#define LEFT   70
#define RIGHT  20
#define TOP    40
#define BOTTOM 50

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

int write_svg(const char *path, const struct run_result *xip,
              const struct run_result *copy)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
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
        W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f,
            "<text x=\"%d\" y=\"24\" font-size=\"15\">RAM in use during the "
            "replay</text>\n",
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
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? 0 : -1;
}
