#define _DEFAULT_SOURCE
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAKEFS "/usr/sbin/makefs"

char *tree_new(void)
{
    char tmpl[] = "/tmp/xipvm-tree.XXXXXX";
    char *root = mkdtemp(tmpl);
    assert_non_null(root);
    return strdup(root);
}

void tree_remove(char *root)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
    free(root);
}

void tree_path(char *out, size_t cap, const char *root, const char *rel)
{
    assert_true((size_t)snprintf(out, cap, "%s/%s", root, rel) < cap);
}

/* mkdir -p of the parent directories of rel. */
static void parents(const char *root, const char *rel)
{
    char path[1024];
    tree_path(path, sizeof(path), root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
        *p = '/';
    }
}

void tree_file(const char *root, const char *rel, uint64_t size, uint32_t seed)
{
    char path[1024];
    parents(root, rel);
    tree_path(path, sizeof(path), root, rel);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint32_t x = seed | 1;
    for (uint64_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        fputc((int)(x & 0xff), f);
    }
    assert_int_equal(fclose(f), 0);
}

void tree_dir(const char *root, const char *rel)
{
    char path[1024];
    parents(root, rel);
    tree_path(path, sizeof(path), root, rel);
    assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

void tree_link(const char *root, const char *target, const char *rel)
{
    char path[1024];
    parents(root, rel);
    tree_path(path, sizeof(path), root, rel);
    assert_int_equal(symlink(target, path), 0);
}

void image_make_opts(const char *tree, const char *img, int version,
                     const char *endian, unsigned bsize, unsigned fsize,
                     const char *opts)
{
    char cmd[2048];
    assert_int_equal(access(MAKEFS, X_OK), 0);
    snprintf(cmd, sizeof(cmd),
             MAKEFS
             " -t ffs -M 1m %s -B %s -o version=%d,bsize=%u,fsize=%u '%s' '%s' "
             ">/dev/null 2>&1",
             opts, endian, version, bsize, fsize, img, tree);
    if (system(cmd) != 0)
        fail_msg("makefs failed: %s", cmd);
}

void image_make(const char *tree, const char *img, int version,
                const char *endian, unsigned bsize, unsigned fsize)
{
    image_make_opts(tree, img, version, endian, bsize, fsize, "-b 10%");
}

void image_make_in(char *img, size_t cap, const char *dir, const char *name,
                   const char *tree, int version, const char *endian,
                   unsigned bsize, unsigned fsize)
{
    tree_path(img, cap, dir, name);
    image_make(tree, img, version, endian, bsize, fsize);
}

uint8_t *file_slurp(const char *path, uint64_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (uint64_t)n;
    return buf;
}

void tree_copy(const char *root, const char *rel, const char *host)
{
    char path[1024];
    uint64_t n;
    uint8_t *buf = file_slurp(host, &n);
    parents(root, rel);
    tree_path(path, sizeof(path), root, rel);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, (size_t)n, f), (size_t)n);
    assert_int_equal(fclose(f), 0);
    free(buf);
}

uint8_t *tree_slurp(const char *root, const char *rel, uint64_t *size)
{
    char path[1024];
    tree_path(path, sizeof(path), root, rel);
    return file_slurp(path, size);
}

void file_spit(const char *path, const uint8_t *data, uint64_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, (size_t)size, f), (size_t)size);
    assert_int_equal(fclose(f), 0);
}

uint64_t file_hash(const char *path)
{
    uint64_t n, h = 0xcbf29ce484222325ULL;
    uint8_t *b = file_slurp(path, &n);
    for (uint64_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    free(b);
    return h;
}

struct one_file_image *one_file_image_new(const char *rel, uint64_t size,
                                          uint32_t seed)
{
    struct one_file_image *o = calloc(1, sizeof(*o));
    assert_non_null(o);
    o->tree = tree_new();
    o->dir = tree_new();
    tree_file(o->tree, rel, size, seed);
    image_make_in(o->img, sizeof(o->img), o->dir, "one.img", o->tree, 2,
                  "little", 16384, 2048);
    o->data = tree_slurp(o->tree, rel, &o->size);
    return o;
}

void tree_image_init(struct tree_image *t)
{
    t->tree = tree_new();
    t->dir = tree_new();
}

void tree_image_fini(struct tree_image *t)
{
    tree_remove(t->tree);
    tree_remove(t->dir);
}

struct tree_image *tree_image_new(void)
{
    struct tree_image *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    tree_image_init(t);
    return t;
}

int tree_image_teardown(void **state)
{
    tree_image_fini(*state);
    free(*state);
    return 0;
}

void one_file_image_free(struct one_file_image *o)
{
    if (o == NULL)
        return;
    tree_remove(o->tree);
    tree_remove(o->dir);
    free(o->data);
    free(o);
}
