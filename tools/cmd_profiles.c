/*
 * xipvm profiles [NAME]: the built-in CPU profiles, and one's file.
 */
#include <string.h>

#include "cli.h"

/* A profile's first comment line, without the "# NAME: " in front. */
static void summary(const char *text, char *out, size_t cap)
{
    const char *s = text, *nl;
    out[0] = '\0';
    if (s[0] != '#')
        return;
    for (s++; *s == ' '; s++)
        ;
    const char *colon = strstr(s, ": ");
    nl = strchr(s, '\n');
    if (colon && (nl == NULL || colon < nl))
        s = colon + 2;
    size_t n = nl ? (size_t)(nl - s) : strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
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
        char line[200];
        summary(xvm_cpu_builtin_text(xvm_cpu_builtin(i)), line, sizeof(line));
        printf("  %-10s %s\n", xvm_cpu_builtin(i), line);
    }
    return 0;
}
