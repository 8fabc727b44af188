/*
 * Fuzz target 2: FFS images.  Mounts a mutated image in copy mode and
 * with XIP, and reads every file (up to MAX_FILES, MAX_BYTES each) both
 * with read() and through a private mapping: the two must agree wherever
 * both succeed, and the machine checker must pass afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffops.h"
#include "ffs.h"
#include "vfs.h"
#include "xipvm.h"

#define MAX_IMAGE (4u << 20)
#define MAX_FILES 32
#define MAX_DEPTH 8
#define MAX_BYTES (64u << 10)
#define PG        4096u

struct listing {
    struct ffs *fs;
    unsigned n, depth;
    char at[1024];
    char path[MAX_FILES][256];
};

/* Depth-first, bounded: corrupt directories may loop. */
static int collect(void *arg, const char *name, uint32_t ino,
                   enum ffs_type type)
{
    struct listing *l = arg;
    size_t len = strlen(l->at);
    if (l->n == MAX_FILES || len + 1 + strlen(name) >= sizeof(l->path[0]))
        return 0;
    snprintf(l->at + len, sizeof(l->at) - len, "/%s", name);
    if (type == FFS_REG)
        strcpy(l->path[l->n++], l->at);
    else if (type == FFS_DIR && l->depth < MAX_DEPTH) {
        l->depth++;
        ffs_readdir(l->fs, ino, collect, l);
        l->depth--;
    }
    l->at[len] = '\0';
    return 0;
}

static int count_entry(void *arg, const struct xvm_file_info *fi)
{
    unsigned *n = arg;
    (void)fi;
    return ++*n > 4096; /* enough: stop the walk */
}

static void check(xvm_machine *m, const char *when)
{
    char msg[256];
    if (xvm_machine_check(m, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "fuzz_ffs: machine check after %s: %s\n", when, msg);
        abort();
    }
}

/* read() and a mapping of [off, off + len) see the same bytes. */
static void compare_range(xvm_vmspace *vs, xvm_file *f, uint64_t off,
                          uint64_t len)
{
    static uint8_t a[PG], b[PG];
    uint64_t addr = 0;
    if (len == 0 || xvm_mmap_file(vs, &addr, len, XVM_PROT_READ,
                                  XVM_MAP_PRIVATE, f, off) != 0)
        return;
    for (uint64_t at = 0; at < len; at += PG) {
        size_t n = len - at < PG ? (size_t)(len - at) : PG, done = 0;
        int e1 = xvm_pread(f, off + at, a, n, &done);
        int e2 = xvm_read(vs, addr + at, b, n);
        if (e1 == 0 && e2 == 0 && done == n && memcmp(a, b, n) != 0) {
            fprintf(stderr, "fuzz_ffs: read() and mmap differ at 0x%llx\n",
                    (unsigned long long)(off + at));
            abort();
        }
    }
    xvm_munmap(vs, addr, len);
}

/* The head of the file, and its last page when it is larger. */
static void read_file(xvm_vmspace *vs, xvm_file *f)
{
    uint64_t size = xvm_file_size(f);
    compare_range(vs, f, 0, size < MAX_BYTES ? size : MAX_BYTES);
    if (size > MAX_BYTES) {
        uint64_t last = (size - 1) & ~(uint64_t)(PG - 1);
        compare_range(vs, f, last, size - last);
    }
}

static void run(const uint8_t *data, size_t size, int xip)
{
    struct xvm_config cfg;
    struct xvm_mount_config mc;
    xvm_machine *m;
    xvm_flash *fl;
    xvm_mount *mp;
    xvm_vmspace *vs;
    static struct listing l;
    xvm_config_init(&cfg);
    cfg.ram_bytes = 1u << 20; /* small: the page daemon runs */
    if (diff_machine_create(&cfg, &m) != 0)
        abort();
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    if (xvm_flash_attach(m, data, size, NULL, &fl) == 0 &&
        xvm_mount_flash(fl, &mc, &mp) == 0) {
        memset(&l, 0, sizeof(l));
        l.fs = mp->fs;
        ffs_readdir(l.fs, ffs_root(l.fs), collect, &l);
        unsigned entries = 0;
        (void)xvm_fsinfo(mp, count_entry, &entries); /* any errno, no hang */
        if (xvm_vmspace_create(m, &vs) == 0) {
            for (unsigned i = 0; i < l.n; i++) {
                xvm_file *f;
                if (xvm_open(mp, l.path[i], XVM_O_RDONLY, &f) == 0) {
                    read_file(vs, f);
                    xvm_close(f);
                }
            }
            check(m, "reading");
            xvm_vmspace_destroy(vs);
        }
        if (xvm_unmount(mp) != 0) {
            fprintf(stderr, "fuzz_ffs: unmount refused with nothing open\n");
            abort();
        }
    }
    check(m, "unmount");
    xvm_machine_destroy(m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_IMAGE)
        return 0;
    run(data, size, 0);
    run(data, size, 1);
    return 0;
}
