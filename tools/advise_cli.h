/*
 * xipvm advise, the command's side: the profile of an image's pages from a
 * replay and their compressed sizes (advise_profile.c), its output
 * (cmd_advise.c).  The choice itself is advise.h's.
 */
#ifndef XVM_ADVISE_CLI_H
#define XVM_ADVISE_CLI_H

#include "advise.h"
#include "cli.h"

enum adv_codec { ADV_ZLIB, ADV_ZSTD };

/* One page of a file: the run's report of it and its block's sizes. */
struct adv_page_info {
    struct xvm_page_report rep;      /* zero when the run did nothing with it */
    uint32_t block_bytes;            /* bytes of the file in the page */
    uint32_t zlib_bytes, zstd_bytes; /* the block compressed alone */
};

/* One file of the image (hard links once: by inode). */
struct adv_file {
    const char *path; /* the run's report's (it owns it) */
    uint64_t ino, size, file_pages;
    uint64_t first; /* its first page in the profile's info */
    uint64_t pages_touched, pages_cached, pages_written, touches;
};

struct adv_profile {
    struct adv_file *files;
    size_t nfiles;
    struct adv_page_info *info; /* every file's pages, file after file */
    uint64_t npages;
    uint32_t page_size;
    uint32_t frame_bytes; /* a page of RAM and its vm_page */
};

/* The profile of the image o names from the copy-mode run r (made with
 * run_opts.pages).  => 0, or an error said on stderr. */
int adv_profile_make(const struct run_opts *o, const struct run_result *r,
                     struct adv_profile *p);
void adv_profile_free(struct adv_profile *p);
/* The flash a page takes compressed with codec (raw when no larger). */
uint32_t adv_packed(const struct adv_page_info *pi, enum adv_codec codec);
/* The pages as the choice weighs them (adv_plan_make's input), in the
 * profile's order.  => 0 or ENOMEM. */
int adv_profile_pages(const struct adv_profile *p, enum adv_codec codec,
                      struct adv_page **out);

int cmd_advise(int argc, char **argv);

#endif
