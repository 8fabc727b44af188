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

int cmd_profiles(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: xipvm profiles [NAME]\n");
        return 2;
    }
    if (argc == 2) {
        const char *text = xvm_cpu_builtin_text(argv[1]);
        if (text == NULL) {
            fprintf(stderr,
                    "xipvm: no built-in CPU profile '%s' (xipvm profiles "
                    "lists them)\n",
                    argv[1]);
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
