/*
 * The advisor's profile (doc/advise.md): every page of every file of the
 * image, with what a copy-mode replay did with it (the library's
 * per-page report) and what it takes on flash compressed, each 4 KiB
 * block alone as cramfs compresses it, with zlib and with zstd.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "advise_cli.h"

#define ZLIB_LEVEL Z_BEST_COMPRESSION /* mkcramfs's */
#define ZSTD_LEVEL 15                 /* squashfs-tools' default */

/* The page reports of the run's i-th file, or none. */
static const struct file_pages *pages_of(const struct run_result *r, size_t i)
{
    static const struct file_pages none;
    return r->pages ? &r->pages[i] : &none;
}

struct by_ino {
    uint64_t ino;
    size_t i;
};

static int cmp_ino(const void *x, const void *y)
{
    const struct by_ino *a = x, *b = y;
    if (a->ino != b->ino)
        return a->ino < b->ino ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* => dup[i] set for every file of the report whose inode an earlier one
 *    has (hard links), in O(n log n). */
static bool *hard_links(const struct run_result *r)
{
    struct by_ino *v = malloc((r->nfiles ? r->nfiles : 1) * sizeof(*v));
    bool *dup = calloc(r->nfiles ? r->nfiles : 1, sizeof(*dup));
    if (v == NULL || dup == NULL) {
        free(v);
        free(dup);
        return NULL;
    }
    for (size_t i = 0; i < r->nfiles; i++)
        v[i] = (struct by_ino){ r->files[i].ino, i };
    qsort(v, r->nfiles, sizeof(*v), cmp_ino);
    for (size_t k = 1; k < r->nfiles; k++)
        dup[v[k].i] = v[k].ino == v[k - 1].ino;
    free(v);
    return dup;
}

struct codecs {
    ZSTD_CCtx *zc;
    uint8_t *out;
    size_t cap;
};

/* Compressed sizes of one block of n bytes. */
static int compress_block(struct codecs *cd, const uint8_t *b, size_t n,
                          uint32_t *zlib_bytes, uint32_t *zstd_bytes)
{
    uLongf zl = (uLongf)cd->cap;
    if (compress2(cd->out, &zl, b, (uLong)n, ZLIB_LEVEL) != Z_OK)
        return EIO;
    size_t zs = ZSTD_compressCCtx(cd->zc, cd->out, cd->cap, b, n, ZSTD_LEVEL);
    if (ZSTD_isError(zs))
        return EIO;
    *zlib_bytes = (uint32_t)zl;
    *zstd_bytes = (uint32_t)zs;
    return 0;
}

/* Reads file f's pages through the machine and compresses each. */
static int compress_file(struct world *w, struct codecs *cd,
                         struct adv_file *af, struct adv_profile *p,
                         uint8_t *buf)
{
    xvm_file *f;
    int error = xvm_open(w->mp, af->path, XVM_O_RDONLY, &f);
    if (error)
        return error;
    for (uint64_t pg = 0; pg < af->file_pages && error == 0; pg++) {
        struct adv_page_info *pi = &p->info[af->first + pg];
        uint64_t off = pg * p->page_size, left = af->size - off;
        size_t n = left < p->page_size ? (size_t)left : p->page_size, done;
        if ((error = xvm_pread(f, off, buf, n, &done)) == 0 && done != n)
            error = EIO;
        if (error == 0)
            error =
                compress_block(cd, buf, n, &pi->zlib_bytes, &pi->zstd_bytes);
        pi->block_bytes = (uint32_t)n;
    }
    xvm_close(f);
    return error;
}

/* Pages a file may claim beyond the image's own (sparse files): more
 * means a corrupt size, refused rather than allocated. */
#define SPARSE_MAX 64

/* One record per inode and one per page, the run's counts in them. */
static int lay_out(const struct run_result *r, uint64_t image_pages,
                   struct adv_profile *p)
{
    size_t nf = 0;
    uint64_t np = 0, cap = SPARSE_MAX * image_pages + 1024;
    bool *dup = hard_links(r);
    if (dup == NULL)
        return ENOMEM;
    for (size_t i = 0; i < r->nfiles; i++)
        if (!dup[i]) {
            nf++;
            if ((np += r->files[i].file_pages) > cap) {
                fprintf(stderr,
                        "xipvm: %s: %llu pages, more than an image of %llu "
                        "pages can hold\n",
                        r->files[i].path,
                        (unsigned long long)r->files[i].file_pages,
                        (unsigned long long)image_pages);
                free(dup);
                return EFBIG;
            }
        }
    if ((p->files = calloc(nf ? nf : 1, sizeof(*p->files))) == NULL ||
        (p->info = calloc(np ? np : 1, sizeof(*p->info))) == NULL) {
        free(dup);
        return ENOMEM;
    }
    for (size_t i = 0; i < r->nfiles; i++) {
        const struct xvm_file_report *fr = &r->files[i];
        if (dup[i])
            continue;
        struct adv_file *af = &p->files[p->nfiles++];
        const struct file_pages *fp = pages_of(r, i);
        af->path = fr->path;
        af->ino = fr->ino;
        af->size = fr->size;
        af->file_pages = fr->file_pages;
        af->first = p->npages;
        af->pages_touched = fr->pages_touched;
        af->pages_cached = fr->pages_cached;
        af->pages_written = fr->pages_written;
        for (size_t k = 0; k < fp->n; k++) {
            const struct xvm_page_report *pr = &fp->v[k];
            if (pr->page >= af->file_pages)
                continue;
            p->info[af->first + pr->page].rep = *pr;
            af->touches += pr->touches;
        }
        p->npages += af->file_pages;
    }
    free(dup);
    return 0;
}

int adv_profile_make(const struct run_opts *o, const struct run_result *r,
                     struct adv_profile *p)
{
    struct world w;
    struct codecs cd = { 0 };
    uint8_t *buf = NULL;
    int error;
    memset(p, 0, sizeof(*p));
    p->page_size = (uint32_t)r->rep.st.page_size;
    p->frame_bytes = (uint32_t)(r->rep.st.page_size + r->rep.st.vm_page_bytes);
    /* The bytes, read in place (an XIP mount needs no RAM for them). */
    if (world_open(o, 1, &w) != 0)
        return EIO; /* said */
    error = lay_out(r, xvm_flash_size(w.flash) / p->page_size, p);
    cd.cap = ZSTD_compressBound(p->page_size);
    if (compressBound(p->page_size) > cd.cap)
        cd.cap = compressBound(p->page_size);
    cd.zc = ZSTD_createCCtx();
    cd.out = malloc(cd.cap);
    buf = malloc(p->page_size);
    if (error == 0 && (cd.zc == NULL || cd.out == NULL || buf == NULL))
        error = ENOMEM;
    for (size_t i = 0; i < p->nfiles && error == 0; i++) {
        error = compress_file(&w, &cd, &p->files[i], p, buf);
        if (error && error != ENOMEM)
            fprintf(stderr, "xipvm: %s: %s: %s\n", o->image, p->files[i].path,
                    strerror(error));
    }
    world_close(&w);
    if (error == ENOMEM)
        fprintf(stderr, "xipvm: out of memory\n");
    ZSTD_freeCCtx(cd.zc);
    free(cd.out);
    free(buf);
    if (error)
        adv_profile_free(p);
    return error;
}

/* The codec's size of a page, stored raw when that is no larger (cramfs
 * and AXFS keep incompressible blocks uncompressed). */
uint32_t adv_packed(const struct adv_page_info *pi, enum adv_codec codec)
{
    uint32_t c = codec == ADV_ZSTD ? pi->zstd_bytes : pi->zlib_bytes;
    return c < pi->block_bytes ? c : pi->block_bytes;
}

int adv_profile_pages(const struct adv_profile *p, enum adv_codec codec,
                      struct adv_page **out)
{
    struct adv_page *v = calloc(p->npages ? p->npages : 1, sizeof(*v));
    if (v == NULL)
        return ENOMEM;
    for (size_t i = 0; i < p->nfiles; i++) {
        const struct adv_file *af = &p->files[i];
        for (uint64_t pg = 0; pg < af->file_pages; pg++) {
            const struct adv_page_info *pi = &p->info[af->first + pg];
            v[af->first + pg] = (struct adv_page){
                .file = (uint32_t)i,
                .page = pg,
                .xip_bytes = p->page_size,
                .packed_bytes = adv_packed(pi, codec),
                .ram_bytes = pi->rep.cached ? p->frame_bytes : 0,
                .touches = pi->rep.touches,
            };
        }
    }
    *out = v;
    return 0;
}

void adv_profile_free(struct adv_profile *p)
{
    free(p->files);
    free(p->info);
    memset(p, 0, sizeof(*p));
}
