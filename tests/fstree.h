/*
 * Test fixtures on the host: directory trees with known contents and
 * real FFS images made from them by makefs.
 */
#ifndef XVM_FSTREE_H
#define XVM_FSTREE_H

#include <stddef.h>
#include <stdint.h>

/* A fresh directory under /tmp; the caller removes it with tree_remove. */
char *tree_new(void);
void tree_remove(char *root);
/* out = root/rel; fails the test if it does not fit. */
void tree_path(char *out, size_t cap, const char *root, const char *rel);
/* Writes rel (creating parents) with size bytes from a seeded generator. */
void tree_file(const char *root, const char *rel, uint64_t size, uint32_t seed);
void tree_dir(const char *root, const char *rel);
/* Copies the host file host to rel (creating parents), e.g. busybox. */
void tree_copy(const char *root, const char *rel, const char *host);
void tree_link(const char *root, const char *target, const char *rel);
/* Runs makefs -t ffs; fails the test when makefs is missing or fails. */
void image_make(const char *tree, const char *img, int version,
                const char *endian, unsigned bsize, unsigned fsize);
/* The same into img = dir/name (cap bytes). */
void image_make_in(char *img, size_t cap, const char *dir, const char *name,
                   const char *tree, int version, const char *endian,
                   unsigned bsize, unsigned fsize);
/* The same with opts (other makefs options) for image_make's "-b 10%". */
void image_make_opts(const char *tree, const char *img, int version,
                     const char *endian, unsigned bsize, unsigned fsize,
                     const char *opts);
/* => the whole file, malloc'd; fails the test if unreadable. */
uint8_t *file_slurp(const char *path, uint64_t *size);
/* => file_slurp of root/rel. */
uint8_t *tree_slurp(const char *root, const char *rel, uint64_t *size);
void file_spit(const char *path, const uint8_t *data, uint64_t size);
/* The fixture of tests that need one file on an image: a host tree with
 * rel of size bytes (tree_file's, seeded), its makefs image (UFS2, little
 * endian, 16 KiB blocks, 2 KiB fragments) and the file's bytes. */
struct one_file_image {
    char *tree, *dir;
    char img[1024];
    uint8_t *data;
    uint64_t size;
};
struct one_file_image *one_file_image_new(const char *rel, uint64_t size,
                                          uint32_t seed);
void one_file_image_free(struct one_file_image *o);

/* The fixture of tests that lay out their own tree: the host tree to fill,
 * a folder for images and the path of the one image_make_in writes. */
struct tree_image {
    char *tree, *dir;
    char img[1024];
};
void tree_image_init(struct tree_image *t);
void tree_image_fini(struct tree_image *t);
/* => a calloc'd, initialised tree_image; its teardown frees it. */
struct tree_image *tree_image_new(void);
int tree_image_teardown(void **state);

/* FNV-1a of a file's bytes. */
uint64_t file_hash(const char *path);

#endif
