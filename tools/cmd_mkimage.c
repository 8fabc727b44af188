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

static const char usage[] =
    "usage: xipvm mkimage DIR IMAGE [--ufs1|--ufs2] [--be|--le] [--bsize N]\n"
    "  Makes an FFS image of DIR with makefs (default: UFS1, big-endian,\n"
    "  16384-byte blocks and 2048-byte fragments, as the experiments use).\n"
    "  Blocks of at least a page let files map in place (XIP).\n";

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
    if (r != 0) {
        errno = r;
        return -1;
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
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--ufs1") == 0 || strcmp(a, "--ufs2") == 0) {
            version = a[5] - '0';
        } else if (strcmp(a, "--be") == 0 || strcmp(a, "--le") == 0) {
            endian = a[2] == 'b' ? "big" : "little";
        } else if (strcmp(a, "--bsize") == 0) {
            if (i + 1 >= argc || parse_uint(argv[++i], 65536, &bsize) ||
                bsize < 4096 || (bsize & (bsize - 1))) {
                fprintf(stderr, "xipvm: --bsize: expected a power of two "
                                "from 4096 to 65536\n");
                return 2;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "xipvm: unknown option %s\n", a);
            fputs(usage, stderr);
            return 2;
        } else if (dir == NULL) {
            dir = a;
        } else if (img == NULL) {
            img = a;
        } else {
            fprintf(stderr, "xipvm: unexpected argument %s\n", a);
            fputs(usage, stderr);
            return 2;
        }
    }
    if (dir == NULL || img == NULL) {
        fputs(usage, stderr);
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
        else
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
