/*
 * xipvm fsinfo IMAGE: each file's size, allocated blocks, and how many of
 * its pages map in place, are holes, or need a page-cache copy (§11.5).
 */
#include <string.h>

#include "cli.h"

static const struct cli_opt fsinfo_opts[] = { { NULL, NULL, NULL, NULL } };

const struct cli_cmd fsinfo_cmd = {
    .name = "fsinfo",
    .synopsis = "IMAGE",
    .summary = "how each file of an image maps under XIP",
    .opts = fsinfo_opts,
    .details =
        "One line per file, directory and link: type, size and allocated "
        "bytes;\nfor files, pages, then how many map in place from flash "
        "(xip), map\nthe zero page (holes) and need a page-cache copy "
        "(copies); then the\ntotals.  Exit status: 0, 1 when IMAGE cannot be "
        "read or is not an FFS\nimage, 2 for a usage error.\n",
    .fn = cmd_fsinfo,
};

struct totals {
    uint64_t files, size, alloc, pages, xip, holes, fallbacks;
};

static int show(void *arg, const struct xvm_file_info *fi)
{
    struct totals *t = arg;
    static const char *const types[] = { "?", "file", "dir", "link", "other" };
    const char *type = fi->type >= 1 && fi->type <= 4 ? types[fi->type] : "?";
    if (fi->type != 1) {
        printf("%-5s %10llu %10llu %7s %7s %7s %7s  %s\n", type,
               (unsigned long long)fi->size,
               (unsigned long long)fi->alloc_bytes, "-", "-", "-", "-",
               fi->path);
        return 0;
    }
    printf("%-5s %10llu %10llu %7llu %7llu %7llu %7llu  %s\n", type,
           (unsigned long long)fi->size, (unsigned long long)fi->alloc_bytes,
           (unsigned long long)fi->pages, (unsigned long long)fi->xip_pages,
           (unsigned long long)fi->hole_pages,
           (unsigned long long)fi->fallback_pages, fi->path);
    t->files++;
    t->size += fi->size;
    t->alloc += fi->alloc_bytes;
    t->pages += fi->pages;
    t->xip += fi->xip_pages;
    t->holes += fi->hole_pages;
    t->fallbacks += fi->fallback_pages;
    return 0;
}

int cmd_fsinfo(int argc, char **argv)
{
    struct run_opts o;
    struct world w;
    struct totals t = { 0 };
    struct cli_args args = { &fsinfo_cmd, argc, 1, argv, false };
    const struct cli_opt *opt;
    const char *v, *image = NULL;
    int kind;
    while ((kind = cli_next(&args, &opt, &v)) == CLI_ARG && image == NULL)
        image = v;
    if (kind != CLI_END || image == NULL) {
        if (kind == CLI_ARG)
            fprintf(stderr, "xipvm fsinfo: one IMAGE only\n");
        cli_usage(stderr, &fsinfo_cmd);
        return 2;
    }
    memset(&o, 0, sizeof(o));
    o.image = image;
    o.machine = "amd64"; /* room for any image's physical window */
    o.ram = UINT64_C(16) << 20;
    o.fault_ahead = o.readahead = -1;
    if (world_open(&o, 1, &w) != 0)
        return 1;
    printf("%-5s %10s %10s %7s %7s %7s %7s  %s\n", "type", "size", "allocated",
           "pages", "xip", "holes", "copies", "path");
    int error = xvm_fsinfo(w.mp, show, &t);
    if (error) {
        fprintf(stderr, "xipvm: %s: %s\n", o.image, strerror(error));
        world_close(&w);
        return 1;
    }
    printf(
        "\n%llu files, %llu bytes (%llu allocated), %llu pages: %llu in place "
        "(%.1f%%), %llu holes, %llu need a copy\n",
        (unsigned long long)t.files, (unsigned long long)t.size,
        (unsigned long long)t.alloc, (unsigned long long)t.pages,
        (unsigned long long)t.xip, t.pages ? 100.0 * t.xip / t.pages : 0.0,
        (unsigned long long)t.holes, (unsigned long long)t.fallbacks);
    world_close(&w);
    return 0;
}
