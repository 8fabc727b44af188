/*
 * Fuzz target 4: traces.  Parses and replays a mutated trace (at most
 * MAX_LINES lines) on a small machine whose mount holds the driver's two
 * programs and three data files; accesses larger than MAX_ACCESS and
 * mappings or breaks beyond MAX_MAP are skipped to bound time and
 * memory.  The machine checker must pass at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffops.h"
#include "xipvm.h"
#include "xipvm_trace.h"

#define MAX_INPUT  (64u << 10)
#define MAX_LINES  256
#define MAX_ACCESS (64u << 10)
#define MAX_MAP    (UINT64_C(1) << 40) /* amaps come by the chunk */

static struct diff_image image;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc;
    (void)argv;
    if (diff_image_build(&image, 2, "little", 4096, 512, err, sizeof(err))) {
        fprintf(stderr, "fuzz_trace: %s\n", err);
        abort();
    }
    return 0;
}

/* => whether the line is cheap enough to replay (parsed on a copy). */
static int bounded(const char *line)
{
    static char copy[MAX_INPUT + 1];
    static struct xvm_trace_event ev;
    strcpy(copy, line);
    if (xvm_trace_parse_line(copy, &ev, NULL) != 1)
        return 1; /* the replayer reports it */
    if (ev.op == XVM_T_READ || ev.op == XVM_T_WRITE ||
        ev.op == XVM_T_EXEC_FETCH)
        return ev.len <= MAX_ACCESS;
    /* An amap spans its whole entry: a huge mapping costs host memory
     * in proportion on its first write. */
    if (ev.op == XVM_T_MMAP)
        return ev.len <= MAX_MAP;
    if (ev.op == XVM_T_BRK)
        return ev.addr <= MAX_MAP;
    return 1;
}

static void replay(xvm_machine *m, xvm_mount *mp, char *text)
{
    xvm_replay *r;
    char msg[256];
    int mismatch;
    if (xvm_replay_create(m, mp, &r) != 0)
        return;
    char *line = text;
    for (unsigned n = 0; line && n < MAX_LINES; n++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (n == 0 || bounded(line))
            xvm_replay_line(r, line, &mismatch, msg, sizeof(msg));
        line = nl ? nl + 1 : NULL;
    }
    xvm_replay_destroy(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[MAX_INPUT + 1];
    struct xvm_config cfg;
    struct xvm_mount_config mc;
    xvm_machine *m;
    xvm_flash *fl;
    xvm_mount *mp;
    char msg[256];
    if (size > MAX_INPUT)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    xvm_config_init(&cfg);
    cfg.profile = size & 1 ? "amd64" : "sgimips";
    cfg.ram_bytes = 1u << 20;
    if (diff_machine_create(&cfg, &m) != 0)
        abort();
    xvm_mount_config_init(&mc);
    mc.flags = size & 2 ? XVM_MOUNT_XIP : 0;
    if (xvm_flash_attach(m, image.img, image.img_size, NULL, &fl) ||
        xvm_mount_flash(fl, &mc, &mp))
        abort();
    replay(m, mp, text);
    if (xvm_machine_check(m, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "fuzz_trace: machine check: %s\n", msg);
        abort();
    }
    xvm_machine_destroy(m);
    return 0;
}
