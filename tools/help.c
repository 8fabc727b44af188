/*
 * The commands' self-description: --help and usage from each command's
 * table of options, the walk of argv against it, --version, and sizes
 * printed with their unit.  See struct cli_cmd in cli.h.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

/* The column where option help starts, and the width it wraps at. */
#define HELP_COL 24
#define WIDTH    79

void cli_usage(FILE *f, const struct cli_cmd *cmd)
{
    fprintf(f, "usage: xipvm %s %s\n'xipvm %s --help' lists its options.\n",
            cmd->name, cmd->synopsis, cmd->name);
}

void cli_wrapped(FILE *f, const char *text, int col, int indent)
{
    while (*text) {
        int room = WIDTH - col, n = (int)strlen(text);
        if (n > room) {
            n = room;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0) /* one long word: let it run over */
                for (n = room; text[n] && text[n] != ' ';)
                    n++;
        }
        fprintf(f, "%.*s\n", n, text);
        text += n;
        while (*text == ' ')
            text++;
        if (*text)
            fprintf(f, "%*s", indent, "");
        col = indent;
    }
}

static void opt_line(FILE *f, const char *name, const char *arg,
                     const char *def, const char *help)
{
    char head[64], text[512];
    snprintf(head, sizeof(head), "%s%s%s", name, arg ? " " : "",
             arg ? arg : "");
    snprintf(text, sizeof(text), "%s%s%s%s", help, def ? " (default: " : "",
             def ? def : "", def ? ")" : "");
    int col = fprintf(f, "  %-*s", HELP_COL - 2, head);
    /* A head that fills its column would run into the help: next line. */
    if (col > HELP_COL || (int)strlen(head) >= HELP_COL - 2) {
        fprintf(f, "\n%*s", HELP_COL, "");
        col = HELP_COL;
    }
    cli_wrapped(f, text, col, HELP_COL);
}

void cli_help(FILE *f, const struct cli_cmd *cmd)
{
    fprintf(f, "usage: xipvm %s %s\n%s\n", cmd->name, cmd->synopsis,
            cmd->summary);
    fprintf(f, "\noptions:\n");
    for (const struct cli_opt *o = cmd->opts; o && o->name; o++)
        opt_line(f, o->name, o->arg, o->def, o->help);
    opt_line(f, "-h, --help", NULL, NULL, "this help");
    if (cmd->details)
        fprintf(f, "\n%s", cmd->details);
    fprintf(f, "\nThe manual page xipvm(1) says more; every figure printed is "
               "defined in\ndoc/figures.md.\n");
}

const struct cli_opt *cli_opt_find(const struct cli_cmd *cmd, const char *name)
{
    for (const struct cli_opt *o = cmd->opts; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

void cli_version(FILE *f)
{
    fprintf(f, "xipvm %s (traces: \"%s\")\n", xvm_version(), XVM_TRACE_HEADER);
}

int cli_next(struct cli_args *a, const struct cli_opt **opt, const char **val)
{
    *opt = NULL;
    *val = NULL;
    if (a->i >= a->argc)
        return CLI_END;
    const char *s = a->argv[a->i++];
    if (strcmp(s, "--") == 0 && a->stop_at_dashdash)
        return CLI_END;
    /* "-" alone is standard input, a positional argument. */
    if (s[0] != '-' || s[1] == '\0') {
        *val = s;
        return CLI_ARG;
    }
    const struct cli_opt *o = cli_opt_find(a->cmd, s);
    /* --name=VALUE, as cachegrind writes its cache options (--I1=...):
     * for an option that takes a value. */
    const char *eq = strchr(s, '=');
    if (o == NULL && eq && s[1] == '-') {
        char name[64];
        size_t n = (size_t)(eq - s);
        if (n < sizeof(name)) {
            memcpy(name, s, n);
            name[n] = '\0';
            const struct cli_opt *w = cli_opt_find(a->cmd, name);
            if (w && w->arg) {
                *opt = w;
                *val = eq + 1;
                return CLI_OPT;
            }
        }
    }
    if (o == NULL) {
        fprintf(stderr, "xipvm %s: unknown option %s", a->cmd->name, s);
        /* A mistake worth naming: another command's option. */
        for (const struct cli_cmd *const *c = cli_commands; *c; c++)
            if (*c != a->cmd && cli_opt_find(*c, s)) {
                fprintf(stderr, " (an option of %s)", (*c)->name);
                break;
            }
        fputc('\n', stderr);
        return CLI_ERR;
    }
    if (o->arg) {
        if (a->i >= a->argc) {
            fprintf(stderr, "xipvm %s: %s needs a value (%s)\n", a->cmd->name,
                    s, o->arg);
            return CLI_ERR;
        }
        *val = a->argv[a->i++];
    }
    *opt = o;
    return CLI_OPT;
}

const char *fmt_size(char *buf, size_t len, uint64_t bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    if (bytes < 1024 || bytes % 1024) { /* exactly, when no unit fits */
        snprintf(buf, len, "%" PRIu64 " B", bytes);
        return buf;
    }
    unsigned u = 0;
    uint64_t scale = 1024;
    while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes >= scale * 1024)
        u++, scale *= 1024;
    if (bytes % scale == 0)
        snprintf(buf, len, "%" PRIu64 " %s", bytes / scale, units[u]);
    else
        snprintf(buf, len, "%.1f %s", (double)bytes / (double)scale, units[u]);
    return buf;
}
