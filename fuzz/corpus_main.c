/*
 * A plain main() for the fuzz targets: replays every file of the
 * directories (or the files) given as arguments through
 * LLVMFuzzerTestOneInput, so gcc builds run every corpus as a regression
 * test.  Fails when nothing was replayed.
 */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (len == cap &&
            (buf = realloc(buf, cap = cap ? 2 * cap : 65536)) == NULL)
            return fclose(f), -1;
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

/* Entries sorted, so runs are reproducible. */
static int run_dir(const char *dir, unsigned *count)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        return -1;
    int error = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(path) != 0)
                error = -1;
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return error;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int error = stat(argv[i], &st) != 0 ? -1
                    : S_ISDIR(st.st_mode)   ? run_dir(argv[i], &count)
                                            : (count++, run_file(argv[i]));
        if (error) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            return 1;
        }
    }
    printf("%u inputs replayed\n", count);
    return count ? 0 : 1;
}
