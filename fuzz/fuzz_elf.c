/*
 * Fuzz target 3: ELF files.  The input becomes the contents of /prog (a
 * file of fixed size in a makefs image built once), which is spawned,
 * executed at its entry, forked and exec'd again, on an XIP or a copy
 * mount; the machine checker must pass and every process exit cleanly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffops.h"
#include "machine.h"
#include "vfs.h"
#include "xipvm.h"

#define PROG_SIZE (16u << 10) /* the input is cut or padded to this */
#define PG        4096u

static uint8_t *base; /* the image, /prog zeroed */
static uint64_t base_size;
static uint64_t block_off[PROG_SIZE / 512];
static unsigned nblocks, bsize;

/* Finds where /prog's blocks are in the image. */
static void locate(void)
{
    xvm_machine *m;
    xvm_flash *fl;
    xvm_mount *mp;
    uint32_t ino;
    if (xvm_machine_create(NULL, &m) ||
        xvm_flash_attach(m, base, base_size, NULL, &fl) ||
        xvm_mount_flash(fl, NULL, &mp) || ffs_namei(mp->fs, "prog", 1, &ino))
        abort();
    bsize = ffs_bsize(mp->fs);
    nblocks = PROG_SIZE / bsize;
    for (unsigned k = 0; k < nblocks; k++) {
        uint32_t len;
        if (ffs_bmap(mp->fs, ino, k, &block_off[k], &len) || len < bsize ||
            block_off[k] > base_size - bsize)
            abort();
    }
    xvm_unmount(mp);
    xvm_machine_destroy(m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static uint8_t prog[PROG_SIZE];
    struct rm_file f = { "prog", prog, PROG_SIZE, 0 };
    (void)argc;
    (void)argv;
    memset(prog, 0xa5, sizeof(prog)); /* no zero blocks: no holes */
    if (diff_make_image(&f, 1, 2, "little", 4096, 512, &base, &base_size) !=
        0) {
        fprintf(stderr, "fuzz_elf: cannot build the image\n");
        abort();
    }
    locate();
    return 0;
}

static void check(xvm_machine *m)
{
    char msg[256];
    if (xvm_machine_check(m, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "fuzz_elf: machine check: %s\n", msg);
        abort();
    }
}

/* Touches what a program touches first: its entry, stack and break. */
static void touch(xvm_machine *m, uint32_t pid)
{
    struct xvm_proc_info in;
    uint8_t buf[64];
    xvm_vmspace *vs = xvm_proc_vmspace(m, pid);
    if (vs == NULL || xvm_proc_info(m, pid, &in) != 0)
        return;
    xvm_fetch(vs, in.entry, buf, sizeof(buf));
    xvm_read(vs, in.stack_pointer, buf, sizeof(buf));
    xvm_write(vs, in.stack_pointer - 16, buf, 16);
    if (in.brk > in.brk_base)
        xvm_read(vs, in.brk - 1, buf, 1);
    if (xvm_brk(m, pid, in.brk + 3 * PG) == 0)
        xvm_write(vs, in.brk + PG, buf, 8);
}

static void run(const uint8_t *img, int xip)
{
    struct xvm_config cfg;
    struct xvm_mount_config mc;
    xvm_machine *m;
    xvm_flash *fl;
    xvm_mount *mp;
    static const char *const argv[] = { "prog", "-v" };
    xvm_config_init(&cfg);
    cfg.profile = xip ? "amd64" : "sgimips";
    cfg.ram_bytes = 2u << 20;
    if (diff_machine_create(&cfg, &m) != 0)
        abort();
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    if (xvm_flash_attach(m, img, base_size, NULL, &fl) ||
        xvm_mount_flash(fl, &mc, &mp))
        abort();
    if (xvm_spawn(m, mp, 1, "prog", 2, argv) == 0) {
        touch(m, 1);
        if (xvm_fork(m, 1, 2) == 0) {
            touch(m, 2);
            if (xvm_exec(m, 2, "/prog", 1, argv) == 0)
                touch(m, 2);
            check(m);
            xvm_exit(m, 2);
        }
        check(m);
        xvm_exit(m, 1);
    }
    check(m);
    if (xvm_unmount(mp) != 0 || xvm_flash_close(fl) != 0) {
        fprintf(stderr, "fuzz_elf: mount busy after every process exited\n");
        abort();
    }
    xvm_machine_destroy(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *img = malloc(base_size);
    if (img == NULL)
        return 0;
    memcpy(img, base, base_size);
    for (unsigned k = 0; k < nblocks; k++) {
        uint8_t *blk = img + block_off[k];
        size_t at = (size_t)k * bsize;
        size_t n = size > at ? (size - at < bsize ? size - at : bsize) : 0;
        memcpy(blk, data + at, n);
        memset(blk + n, 0, bsize - n);
    }
    run(img, 0);
    run(img, 1);
    free(img);
    return 0;
}
