/*
 * xipvm profiles [NAME]: the built-in CPU profiles, and one's file.
 */
#include <string.h>

#include "cli.h"

/* A profile's first sentence, as its leading comment lines write it
 * (up to a "#" line alone), without the "# NAME: " in front. */
static void summary(const char *text, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *s = text; *s == '#';) {
        const char *nl = strchr(s, '\n');
        const char *e = nl ? nl : s + strlen(s);
        for (s++; s < e && (*s == ' ' || *s == '\t'); s++)
            ;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (s == e)
            break;
        if (n == 0) {
            const char *colon = strstr(s, ": ");
            if (colon && colon < e)
                s = colon + 2;
        } else if (n + 1 < cap) {
            out[n++] = ' ';
        }
        size_t k = (size_t)(e - s);
        if (k > cap - 1 - n)
            k = cap - 1 - n;
        memcpy(out + n, s, k);
        out[n += k] = '\0';
        if (nl == NULL)
            break;
        s = nl + 1;
    }
    for (char *d = strchr(out, '.'); d; d = strchr(d + 1, '.'))
        if (d[1] == ' ' || d[1] == '\0') {
            d[1] = '\0';
            break;
        }
}

static const struct cli_opt profiles_opts[] = {
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd profiles_cmd = {
    .name = "profiles",
    .synopsis = "[NAME]",
    .summary = "the built-in CPU profiles (caches, TLB, latencies)",
    .opts = profiles_opts,
    .details = "Without NAME, lists them; with NAME, prints that profile's "
               "file: copy it,\nedit it and give it to run, compare or sweep "
               "with --cpu FILE.  Every key\nand its source: "
               "doc/time-model.md.\n",
    .fn = cmd_profiles,
};

int cmd_profiles(int argc, char **argv)
{
    struct cli_args args = { &profiles_cmd, argc, 1, argv, false };
    const struct cli_opt *opt;
    const char *v, *name = NULL;
    int kind;
    while ((kind = cli_next(&args, &opt, &v)) == CLI_ARG && name == NULL)
        name = v;
    if (kind != CLI_END) {
        if (kind == CLI_ARG)
            fprintf(stderr, "xipvm profiles: one NAME only\n");
        cli_usage(stderr, &profiles_cmd);
        return 2;
    }
    if (name) {
        const char *text = xvm_cpu_builtin_text(name);
        if (text == NULL) {
            fprintf(stderr,
                    "xipvm: no built-in CPU profile '%s' (xipvm profiles "
                    "lists them)\n",
                    name);
            return 2;
        }
        fputs(text, stdout);
        return 0;
    }
    printf("built-in CPU profiles (xipvm profiles NAME prints one; copy it, "
           "edit it,\nuse it with --cpu FILE; doc/time-model.md describes "
           "every key):\n");
    for (size_t i = 0; xvm_cpu_builtin(i) != NULL; i++) {
        char line[1024];
        summary(xvm_cpu_builtin_text(xvm_cpu_builtin(i)), line, sizeof(line));
        /* "  NAME       words...", wrapped under the words */
        int col = printf("  %-10s ", xvm_cpu_builtin(i));
        cli_wrapped(stdout, line, col, col);
    }
    return 0;
}
