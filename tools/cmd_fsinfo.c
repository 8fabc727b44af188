/*
 * xipvm fsinfo [--json] IMAGE: each file's size, allocated blocks, and how
 * many of its pages map in place, are holes, or need a page-cache copy
 * (§11.5), and why makefs's layout makes a page need a copy.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_opt fsinfo_opts[] = {
    { "--json", NULL, NULL,
      "print the files and totals (by path and by inode) as JSON "
      "(doc/figures.md, \"fsinfo\")" },
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd fsinfo_cmd = {
    .name = "fsinfo",
    .synopsis = "[--json] IMAGE",
    .summary = "how each file of an image maps under XIP, and why not",
    .opts = fsinfo_opts,
    .details =
        "One line per file, directory and link: type, size and allocated "
        "bytes;\nfor files, pages, then how many map in place from flash "
        "(xip), map\nthe zero page (holes) and need a page-cache copy "
        "(copies), and under a\nfile with copies why makefs's layout makes "
        "them (a fragment tail off a\npage boundary or ending before the "
        "page, bytes past EOF not zero,\nblocks smaller than a page); then "
        "the totals, each inode once (hard\nlinks repeat a line, not its "
        "bytes).  Exit status: 0, 1 when\nIMAGE cannot be read or is "
        "not an FFS image or an entry of it is corrupt\n(named; the rest "
        "still listed in text, no JSON), 2 for a usage error.\n",
    .fn = cmd_fsinfo,
};

struct totals {
    const char *image;
    FILE *json; /* the JSON document as it is made, or NULL: text */
    struct xvm_fsinfo_totals sum; /* the library's (xvm_fsinfo_add) */
};

/* Each reason a file's pages need copies, in words. */
static const struct why {
    const char *key; /* the JSON key (doc/figures.md, "fsinfo") */
    size_t off;      /* its count in struct xvm_file_info */
    const char *words;
} whys[] = {
    { "spanning_pages", offsetof(struct xvm_file_info, spanning_pages),
      "spanning several blocks (blocks smaller than a page)" },
    { "unaligned_pages", offsetof(struct xvm_file_info, unaligned_pages),
      "off a page boundary on flash (a fragment tail at a fragment "
      "boundary)" },
    { "tail_short_pages", offsetof(struct xvm_file_info, tail_short_pages),
      "in a fragment tail that ends before the page (other files' bytes "
      "follow)" },
    { "past_eof_pages", offsetof(struct xvm_file_info, past_eof_pages),
      "with bytes past EOF that are not zero on flash" },
};
#define NWHYS (sizeof(whys) / sizeof(whys[0]))

static uint64_t why_count(const struct xvm_file_info *fi, size_t k)
{
    return *(const uint64_t *)(const void *)((const char *)fi + whys[k].off);
}

static const char *type_name(int type)
{
    static const char *const types[] = { "?", "file", "dir", "link", "other" };
    return type >= 1 && type <= 4 ? types[type] : "?";
}

static void json_counts(FILE *out, const struct xvm_file_info *fi)
{
    fprintf(out,
            "\"size\": %llu, \"alloc_bytes\": %llu, \"file_pages\": %llu, "
            "\"xip_pages\": %llu, \"hole_pages\": %llu, \"fallback_pages\": "
            "%llu",
            (unsigned long long)fi->size, (unsigned long long)fi->alloc_bytes,
            (unsigned long long)fi->pages, (unsigned long long)fi->xip_pages,
            (unsigned long long)fi->hole_pages,
            (unsigned long long)fi->fallback_pages);
    for (size_t k = 0; k < NWHYS; k++)
        fprintf(out, ", \"%s\": %llu", whys[k].key,
                (unsigned long long)why_count(fi, k));
}

/* The path as a trace writes it (a newline or control byte in a name
 * would break the one line per entry), then the line's end. */
static void print_path(const char *path)
{
    size_t cap = 4 * strlen(path) + 3;
    char *buf = malloc(cap);
    if (buf && xvm_trace_escape(path, buf, cap) >= 0)
        fputs(buf, stdout);
    else
        fputs("?", stdout); /* no memory for it */
    free(buf);
    putchar('\n');
}

static int show(void *arg, const struct xvm_file_info *fi)
{
    struct totals *t = arg;
    if (fi->error) {
        /* Told, and the rest listed. */
        fflush(stdout);
        world_damaged(t->image, fi);
        xvm_fsinfo_add(&t->sum, fi);
        return 0;
    }
    const char *type = type_name(fi->type);
    if (t->json) {
        if (fi->type != 1)
            return 0;
        fprintf(t->json, "%s\n    ", t->sum.regular_files ? "," : "");
        json_string(t->json, fi->path);
        fprintf(t->json, ": {");
        json_counts(t->json, fi);
        fputc('}', t->json);
        xvm_fsinfo_add(&t->sum, fi);
        return 0;
    }
    if (fi->type != 1) {
        printf("%-5s %10llu %10llu %7s %7s %7s %7s  ", type,
               (unsigned long long)fi->size,
               (unsigned long long)fi->alloc_bytes, "-", "-", "-", "-");
        print_path(fi->path);
        return 0;
    }
    printf("%-5s %10llu %10llu %7llu %7llu %7llu %7llu  ", type,
           (unsigned long long)fi->size, (unsigned long long)fi->alloc_bytes,
           (unsigned long long)fi->pages, (unsigned long long)fi->xip_pages,
           (unsigned long long)fi->hole_pages,
           (unsigned long long)fi->fallback_pages);
    print_path(fi->path);
    if (fi->hole_pages)
        printf("%52s holes: %llu page%s map the zero page (no copy)\n", "",
               (unsigned long long)fi->hole_pages,
               fi->hole_pages == 1 ? "" : "s");
    /* why the copies: one line per reason, under the file */
    for (size_t k = 0; k < NWHYS; k++)
        if (why_count(fi, k))
            printf("%52s copies: %llu page%s %s\n", "",
                   (unsigned long long)why_count(fi, k),
                   why_count(fi, k) == 1 ? "" : "s", whys[k].words);
    xvm_fsinfo_add(&t->sum, fi);
    return 0;
}

/* The image's figures: each inode once, hard links or not. */
static void print_totals(const struct xvm_fsinfo_totals *t)
{
    const struct xvm_file_info *f = &t->inodes_sum;
    printf("\n%llu files", (unsigned long long)t->regular_files);
    if (t->inodes != t->regular_files)
        printf(" (%llu inode%s: hard links counted once)",
               (unsigned long long)t->inodes, t->inodes == 1 ? "" : "s");
    printf(", %llu bytes (%llu allocated), %llu pages: %llu in place "
           "(%.1f%%), %llu holes, %llu need a copy\n",
           (unsigned long long)f->size, (unsigned long long)f->alloc_bytes,
           (unsigned long long)f->pages, (unsigned long long)f->xip_pages,
           f->pages ? 100.0 * (double)f->xip_pages / (double)f->pages : 0.0,
           (unsigned long long)f->hole_pages,
           (unsigned long long)f->fallback_pages);
    if (f->fallback_pages == 0)
        return;
    printf("copies in %llu file%s:", (unsigned long long)t->inodes_with_copies,
           t->inodes_with_copies == 1 ? "" : "s");
    for (size_t k = 0, first = 1; k < NWHYS; k++)
        if (why_count(f, k)) {
            printf("%s %llu %s", first ? "" : ";",
                   (unsigned long long)why_count(f, k), whys[k].words);
            first = 0;
        }
    putchar('\n');
    if (f->unaligned_pages + f->tail_short_pages)
        printf("(fragments smaller than a page let makefs put a file's tail "
               "anywhere;\n xipvm mkimage --bsize 32768, or makefs -o "
               "fsize=4096, keeps every tail on whole pages)\n");
}

static void print_json_totals(FILE *out, const char *image,
                              const struct xvm_fsinfo_totals *t)
{
    fprintf(out, "%s},\n  \"totals\": {\"regular_files\": %llu, ",
            t->regular_files ? "\n  " : "",
            (unsigned long long)t->regular_files);
    json_counts(out, &t->paths);
    fprintf(out, "},\n  \"inode_totals\": {\"inodes\": %llu, ",
            (unsigned long long)t->inodes);
    json_counts(out, &t->inodes_sum);
    fprintf(out, "},\n  \"image\": ");
    json_string(out, image);
    fprintf(out, "\n}\n");
}

int cmd_fsinfo(int argc, char **argv)
{
    struct run_opts o;
    struct world w;
    struct totals t = { 0 };
    struct cli_args args = { &fsinfo_cmd, argc, 1, argv, false };
    const struct cli_opt *opt;
    const char *v, *image = NULL;
    bool json = false;
    char *doc = NULL;
    size_t doclen = 0;
    int kind;
    while ((kind = cli_next(&args, &opt, &v)) == CLI_OPT ||
           (kind == CLI_ARG && image == NULL)) {
        if (kind == CLI_ARG)
            image = v;
        else
            json = true; /* the one option */
    }
    if (kind != CLI_END || image == NULL) {
        if (kind == CLI_ARG)
            fprintf(stderr, "xipvm fsinfo: one IMAGE only\n");
        cli_usage(stderr, &fsinfo_cmd);
        return 2;
    }
    memset(&o, 0, sizeof(o));
    o.image = t.image = image;
    o.machine = "amd64"; /* room for any image's physical window */
    o.ram = UINT64_C(16) << 20;
    o.fault_ahead = o.readahead = -1;
    if (world_open(&o, 1, &w) != 0)
        return 1;
    /* JSON is printed whole once the walk succeeds, or not at all; text
     * lists what reads, damaged entries named on stderr */
    if (json && (t.json = open_memstream(&doc, &doclen)) == NULL) {
        fprintf(stderr, "xipvm: out of memory\n");
        world_close(&w);
        return 1;
    }
    if (json)
        fprintf(t.json, "{\n  \"page_size\": %u,\n  \"files\": {",
                (unsigned)xvm_page_size(w.m));
    else
        printf("%-5s %10s %10s %7s %7s %7s %7s  %s\n", "type", "size",
               "allocated", "pages", "xip", "holes", "copies", "path");
    int error = xvm_fsinfo(w.mp, show, &t);
    if (error == 0 && json)
        print_json_totals(t.json, image, &t.sum);
    if (json && fclose(t.json) != 0 && error == 0)
        error = ENOMEM;
    if (error && (json || t.sum.damaged == 0)) {
        if (!json || t.sum.damaged == 0)
            fprintf(stderr, "xipvm: %s: %s\n", o.image, strerror(error));
        free(doc);
        world_close(&w);
        return 1;
    }
    if (json)
        fwrite(doc, 1, doclen, stdout);
    else
        print_totals(&t.sum);
    if (t.sum.damaged)
        printf("%llu entries could not be read (see above)\n",
               (unsigned long long)t.sum.damaged);
    free(doc);
    world_close(&w);
    return error ? 1 : 0;
}
