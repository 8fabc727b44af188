/*
 * Fuzz target 1: operation sequences against the reference model.  The
 * first byte chooses the configuration (profile, tiny or large RAM, XIP
 * or copy, fault-ahead, injected failures, image), the rest decodes into
 * at most MAX_OPS small operations on a fresh machine, destroyed at the
 * end.  Any divergence from the model aborts with the operation log.
 *
 * The model is compared after every operation; the machine is checked
 * cheaply after each (machine_check_quick: counters, maps) and whole at
 * the end, so the fuzzer runs hundreds of inputs a second.  With
 * XVM_FUZZ_FULL_CHECK=1 in the environment the whole-machine checker runs
 * after every operation instead (slower; for short runs).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffops.h"

#define MAX_INPUT 4096
#define MAX_OPS   200

static struct diff_image images[2];
static bool full_check;

/*
 * libFuzzer's entropic scheduling spends most of this target's time on its
 * own bookkeeping (a feature-frequency update that grows with the many
 * features every run of a whole machine hits): unless asked otherwise,
 * -entropic=0.  libFuzzer reads its flags after this call.
 */
static void default_flags(int *argc, char ***argv)
{
#ifdef XVM_LIBFUZZER
    static char entropic[] = "-entropic=0";
    for (int i = 1; i < *argc; i++)
        if (strncmp((*argv)[i], "-entropic=", 10) == 0)
            return;
    char **args = malloc((size_t)(*argc + 2) * sizeof(*args));
    if (args == NULL)
        return;
    memcpy(args, *argv, (size_t)*argc * sizeof(*args));
    args[(*argc)++] = entropic;
    args[*argc] = NULL;
    *argv = args; /* kept for the process's life, as argv is */
#else
    (void)argc;
    (void)argv;
#endif
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    default_flags(argc, argv);
    const char *full = getenv("XVM_FUZZ_FULL_CHECK");
    full_check = full && strcmp(full, "0") != 0;
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
    cfg.full_check = full_check;
    if (diff_run(&images[(data[0] >> 5) & 1], &cfg, &src, &res) != 0) {
        fprintf(stderr, "fuzz_ops: library and model differ\n%s", res.msg);
        abort();
    }
    return 0;
}
