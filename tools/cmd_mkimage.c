/*
 * xipvm mkimage: an FFS image of a directory (xipvm record --root), made
 * by makefs, ready for run and compare.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

extern char **environ;

int cmd_mkimage(int argc, char **argv);

static const struct cli_opt mkimage_opts[] = {
    { "--ufs1", NULL, NULL, "UFS1 (the default)" },
    { "--ufs2", NULL, NULL, "UFS2" },
    { "--be", NULL, NULL, "big-endian (the default)" },
    { "--le", NULL, NULL, "little-endian" },
    { "--bsize", "N", "16384",
      "block size, a power of two from 4096 to 65536; fragments are an "
      "eighth" },
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd mkimage_cmd = {
    .name = "mkimage",
    .synopsis = "DIR IMAGE [--ufs1|--ufs2] [--be|--le] [--bsize N]",
    .summary = "make an FFS image of a directory (makefs)",
    .opts = mkimage_opts,
    .details = "Makes an FFS image of DIR with makefs (Debian package "
               "makefs), written\naside and renamed: never a partial image.  "
               "Blocks of at least a page let\nfiles map in place (XIP).  Exit "
               "status: 0, 1 when DIR is not a directory\nor makefs fails, 2 "
               "for a usage error.\n",
    .fn = cmd_mkimage,
};

/* => makefs's path: $MAKEFS, then $PATH, then /usr/sbin/makefs. */
static const char *makefs_path(char *buf, size_t cap)
{
    const char *env = getenv("MAKEFS"), *path = getenv("PATH");
    if (env && *env)
        return env;
    for (const char *d = path ? path : ""; *d;) {
        size_t n = strcspn(d, ":");
        snprintf(buf, cap, "%.*s/makefs", (int)n, d);
        if (n > 0 && access(buf, X_OK) == 0)
            return buf;
        d += n + (d[n] == ':');
    }
    return access("/usr/sbin/makefs", X_OK) == 0 ? "/usr/sbin/makefs" : NULL;
}

/* => 0; 1 when makefs failed (it said why); 2 when it could not be run
 * (said here); -1 with errno. */
static int run_makefs(const char *makefs, const char *const *argv)
{
    pid_t pid;
    int st, null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    if (null >= 0)
        posix_spawn_file_actions_adddup2(&fa, null, 1); /* its chatter */
    int r = posix_spawn(&pid, makefs, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (null >= 0)
        close(null);
    if (r != 0) { /* makefs's fault, not the image's: said so here */
        fprintf(stderr, "xipvm: cannot run %s: %s\n", makefs, strerror(r));
        return 2;
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

int cmd_mkimage(int argc, char **argv)
{
    const char *dir = NULL, *img = NULL, *endian = "big";
    int version = 1;
    uint64_t bsize = 16384;
    struct cli_args args = { &mkimage_cmd, argc, 1, argv, false };
    const struct cli_opt *opt;
    const char *v;
    int kind, versions = 0, endians = 0;
    while ((kind = cli_next(&args, &opt, &v)) != CLI_END) {
        if (kind == CLI_ERR) {
            cli_usage(stderr, &mkimage_cmd);
            return 2;
        }
        if (kind == CLI_ARG) {
            if (dir == NULL) {
                dir = v;
            } else if (img == NULL) {
                img = v;
            } else {
                fprintf(stderr, "xipvm mkimage: unexpected argument %s\n", v);
                cli_usage(stderr, &mkimage_cmd);
                return 2;
            }
            continue;
        }
        const char *a = opt->name;
        if (strcmp(a, "--ufs1") == 0 || strcmp(a, "--ufs2") == 0) {
            versions |= 1 << (a[5] - '0');
            version = a[5] - '0';
        } else if (strcmp(a, "--be") == 0 || strcmp(a, "--le") == 0) {
            endians |= a[2] == 'b' ? 1 : 2;
            endian = a[2] == 'b' ? "big" : "little";
        } else if (strcmp(a, "--bsize") == 0) {
            if (parse_uint(v, 65536, &bsize) || bsize < 4096 ||
                (bsize & (bsize - 1))) {
                fprintf(stderr, "xipvm mkimage: --bsize: expected a power of "
                                "two from 4096 to 65536\n");
                return 2;
            }
        }
    }
    if (versions == 6 || endians == 3 || dir == NULL || img == NULL) {
        if (versions == 6 || endians == 3)
            fprintf(stderr, "xipvm mkimage: %s conflict: give one\n",
                    versions == 6 ? "--ufs1 and --ufs2" : "--be and --le");
        cli_usage(stderr, &mkimage_cmd);
        return 2;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "xipvm: %s: not a directory\n", dir);
        return 1;
    }
    char mbuf[4096], opts[128], *tmp = malloc(strlen(img) + 16);
    const char *makefs = makefs_path(mbuf, sizeof(mbuf));
    if (makefs == NULL) {
        fprintf(stderr, "xipvm: makefs not found (Debian: apt-get install "
                        "makefs)\n");
        free(tmp);
        return 1;
    }
    if (tmp == NULL)
        return 1;
    /* written next to the image and renamed: never a partial image */
    sprintf(tmp, "%s.tmp%ld", img, (long)getpid());
    snprintf(opts, sizeof(opts), "version=%d,bsize=%llu,fsize=%llu", version,
             (unsigned long long)bsize, (unsigned long long)(bsize / 8));
    const char *av[] = { makefs, "-t",   "ffs", "-M", "1m", "-b", "10%",
                         "-B",   endian, "-o",  opts, tmp,  dir,  NULL };
    int r = run_makefs(makefs, av);
    if (r == 0 && rename(tmp, img) != 0)
        r = -1;
    if (r != 0) {
        if (r < 0)
            fprintf(stderr, "xipvm: %s: %s\n", img, strerror(errno));
        else if (r == 1)
            fprintf(stderr, "xipvm: makefs failed on %s (see above)\n", dir);
        unlink(tmp);
        free(tmp);
        return 1;
    }
    free(tmp);
    fprintf(stderr, "xipvm: %s: UFS%d, %s-endian, %llu-byte blocks\n", img,
            version, endian, (unsigned long long)bsize);
    return 0;
}
