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
/* Writes rel (creating parents) with size bytes from a seeded generator. */
void tree_file(const char *root, const char *rel, uint64_t size, uint32_t seed);
void tree_dir(const char *root, const char *rel);
void tree_link(const char *root, const char *target, const char *rel);
/* Runs makefs -t ffs; fails the test when makefs is missing or fails. */
void image_make(const char *tree, const char *img, int version,
                const char *endian, unsigned bsize, unsigned fsize);
/* => the whole file, malloc'd; fails the test if unreadable. */
uint8_t *file_slurp(const char *path, uint64_t *size);
void file_spit(const char *path, const uint8_t *data, uint64_t size);
/* FNV-1a of a file's bytes. */
uint64_t file_hash(const char *path);

#endif
