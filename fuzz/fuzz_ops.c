/*
 * Fuzz target 1: operation sequences against the reference model.  The
 * first byte chooses the configuration (profile, tiny or large RAM, XIP
 * or copy, fault-ahead, injected failures, image), the rest decodes into
 * at most MAX_OPS small operations on a fresh machine, destroyed at the
 * end.  Any divergence from the model aborts with the operation log.
 */
#include <stdio.h>
#include <stdlib.h>

#include "diffops.h"

#define MAX_INPUT 4096
#define MAX_OPS   200

static struct diff_image images[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc;
    (void)argv;
    if (diff_image_build(&images[0], 2, "little", 4096, 512, err,
                         sizeof(err)) ||
        diff_image_build(&images[1], 1, "big", 8192, 1024, err, sizeof(err))) {
        fprintf(stderr, "fuzz_ops: %s\n", err);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct diff_src src;
    struct diff_config cfg;
    static struct diff_result res;
    if (size == 0 || size > MAX_INPUT)
        return 0;
    diff_src_bytes(&src, data, size);
    diff_config_decode(&src, &cfg);
    cfg.max_ops = MAX_OPS;
    if (diff_run(&images[(data[0] >> 5) & 1], &cfg, &src, &res) != 0) {
        fprintf(stderr, "fuzz_ops: library and model differ\n%s", res.msg);
        abort();
    }
    return 0;
}
