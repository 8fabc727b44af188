/*
 * xipvm sweep --merge: what the jobs of a sweep wrote (DIR/jobs/NNNNNN.csv,
 * each a header and one row), collected in job order into results.csv,
 * results.json and a chart per metric against RAM, with the smallest RAM
 * each mode needs: to fit (no process killed, no mismatch), and to stay
 * within P % of the time it takes with the grid's largest RAM.
 *
 * The time is time_ns, the CPU model's estimate of the whole run
 * (doc/time-model.md; before it, io_ns: doc/sizing.md).  The merge reads
 * nothing but the rows and DIR/sweep.args, so jobs may have run anywhere.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sweep.h"

#define TIME_METRIC "time_ns"

struct table {
    char *header; /* the header line, as the jobs wrote it */
    char **lines; /* each job's row, in job order */
    size_t n;
    char **cols; /* the header's fields */
    unsigned ncols;
};

/* One run, as the minimum-RAM question needs it. */
struct rec {
    size_t line;     /* its row */
    const char *key; /* every axis but RAM and mode, as text */
    int xip;
    uint64_t ram;
    bool ok; /* fits, and no mismatch */
    double metric[4];
};

static const char *const metrics[4] = { TIME_METRIC, "faults", "refaults",
                                        "flash_bytes_read" };
static const char *const metric_titles[4] = {
    "time: the CPU model's estimate (time_ns), ms", "faults", "refaults",
    "flash bytes read, MiB"
};
static const double metric_scale[4] = { 1e-6, 1, 1, 1.0 / 1048576 };

/* ---- reading the jobs' rows ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* => a record of f without its newline (malloc'd), or NULL at the end:
 * a line, and the lines after it while a quoted field (csv_field quotes
 * a newline) is open. */
static char *read_line(FILE *f)
{
    char *line = NULL;
    size_t len = 0;
    bool quoted = false;
    for (;;) {
        char *more = NULL;
        size_t mcap = 0;
        ssize_t n = getline(&more, &mcap, f);
        if (n <= 0) {
            free(more);
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            quoted ^= more[i] == '"';
        char *grown = realloc(line, len + (size_t)n + 1);
        if (grown == NULL) {
            free(more);
            free(line);
            return NULL;
        }
        line = grown;
        memcpy(line + len, more, (size_t)n + 1);
        len += (size_t)n;
        free(more);
        if (!quoted)
            break;
    }
    if (len == 0) {
        free(line);
        return NULL;
    }
    if (line[len - 1] == '\n')
        line[len - 1] = '\0';
    return line;
}

/* Splits a CSV line (RFC 4180 quoting) into at most max fields, in place
 * into a copy; => the count, fields[] pointing into *copy. */
static unsigned split(const char *line, char **copy, char **fields,
                      unsigned max)
{
    char *s = *copy = strdup(line), *w = s;
    unsigned n = 0;
    if (s == NULL)
        return 0;
    while (n < max) {
        fields[n++] = w;
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == '"' && s[1] == '"')
                    *w++ = '"', s += 2;
                else if (*s == '"' || *s == '\0')
                    break;
                else
                    *w++ = *s++;
            }
            if (*s == '"')
                s++;
        } else {
            while (*s && *s != ',')
                *w++ = *s++;
        }
        if (*s != ',') {
            *w = '\0';
            break;
        }
        s++;
        *w++ = '\0';
    }
    return n;
}

static void table_free(struct table *t)
{
    free(t->header);
    for (size_t i = 0; i < t->n; i++)
        free(t->lines[i]);
    free(t->lines);
    free(t->cols ? t->cols[0] : NULL);
    free(t->cols);
    memset(t, 0, sizeof(*t));
}

/* => 0 when idx[0..n) (sorted) are jobs 0 to njobs-1, every one; else
 * 1 after naming the jobs missing or foreign.  njobs < 0: unknown. */
static int jobs_complete(const char *dir, const uint32_t *idx, size_t n,
                         long njobs)
{
    if (njobs < 0) {
        fprintf(stderr,
                "xipvm: %s/sweep.args: no job count (an older sweep): "
                "a missing job's row goes unnoticed\n",
                dir);
        return 0;
    }
    if (n > 0 && idx[n - 1] >= (unsigned long)njobs) {
        fprintf(stderr,
                "xipvm: %s/jobs/%06u.csv: not a job of this grid "
                "(%ld jobs)\n",
                dir, idx[n - 1], njobs);
        return 1;
    }
    if (n == (size_t)njobs)
        return 0;
    /* A missing row changes the answers: name the jobs to run again. */
    fprintf(stderr,
            "xipvm: %s: %ld of %ld jobs have not written their row:", dir,
            njobs - (long)n, njobs);
    int said = 0;
    for (size_t k = 0, j = 0; j < (unsigned long)njobs && said < 10; j++) {
        if (k < n && idx[k] == j)
            k++;
        else
            fprintf(stderr, " %06zu", j), said++;
    }
    fprintf(stderr, "%s\n", njobs - (long)n > said ? " ..." : "");
    return 1;
}

static int table_read(const char *dir, long njobs, struct table *t)
{
    char path[PATH_MAX];
    uint32_t *idx = NULL;
    size_t n = 0, cap = 0;
    memset(t, 0, sizeof(*t));
    snprintf(path, sizeof(path), "%s/jobs", dir);
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "xipvm: %s: %s\n", path, strerror(errno));
        return 1;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        unsigned i;
        if (strlen(e->d_name) != 10 || strcmp(e->d_name + 6, ".csv") != 0 ||
            sscanf(e->d_name, "%6u", &i) != 1)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            uint32_t *ni = realloc(idx, cap * sizeof(*ni));
            if (ni == NULL) {
                closedir(d);
                free(idx);
                fprintf(stderr, "xipvm: out of memory\n");
                return 1;
            }
            idx = ni;
        }
        idx[n++] = i;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "xipvm: %s: no job has written its row yet\n", path);
        free(idx);
        return 1;
    }
    qsort(idx, n, sizeof(*idx), cmp_u32);
    if (jobs_complete(dir, idx, n, njobs) != 0) {
        free(idx);
        return 1;
    }
    t->lines = calloc(n, sizeof(*t->lines));
    if (t->lines == NULL) {
        free(idx);
        return 1;
    }
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        snprintf(path, sizeof(path), "%s/jobs/%06u.csv", dir, idx[k]);
        FILE *f = fopen(path, "r");
        char *h = f ? read_line(f) : NULL, *row = f ? read_line(f) : NULL;
        if (f)
            fclose(f);
        if (h == NULL || row == NULL) {
            fprintf(stderr, "xipvm: %s: not a job's row\n", path);
            rc = 1;
        } else if (t->header && strcmp(h, t->header) != 0) {
            fprintf(stderr,
                    "xipvm: %s: other columns than job %06u's: rows of "
                    "another version or sweep\n",
                    path, idx[0]);
            rc = 1;
        }
        if (t->header == NULL && rc == 0) {
            t->header = h;
            h = NULL;
        }
        free(h);
        if (rc == 0)
            t->lines[t->n++] = row;
        else
            free(row);
    }
    free(idx);
    if (rc == 0) {
        t->cols = calloc(256, sizeof(*t->cols));
        char *copy;
        if (t->cols == NULL)
            rc = 1;
        else
            t->ncols = split(t->header, &copy, t->cols, 256);
    }
    if (rc)
        table_free(t);
    return rc;
}

static int col(const struct table *t, const char *name)
{
    for (unsigned c = 0; c < t->ncols; c++)
        if (strcmp(t->cols[c], name) == 0)
            return (int)c;
    return -1;
}

/* ---- writing ---- */

/* A CSV field as a JSON value: numbers and booleans as such. */
static void json_value(FILE *f, const char *s)
{
    char *end;
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        fputs(s, f);
        return;
    }
    if (*s >= '0' && *s <= '9') {
        errno = 0;
        (void)strtoull(s, &end, 10);
        if (errno == 0 && *end == '\0') {
            fputs(s, f);
            return;
        }
    }
    json_string(f, s);
}

static void ram_text(char *buf, size_t len, uint64_t ram)
{
    if (ram >= (UINT64_C(1) << 20) && ram % (UINT64_C(1) << 20) == 0)
        snprintf(buf, len, "%lluM", (unsigned long long)(ram >> 20));
    else if (ram % 1024 == 0)
        snprintf(buf, len, "%lluK", (unsigned long long)(ram >> 10));
    else
        snprintf(buf, len, "%llu", (unsigned long long)ram);
}

/* ", "NAME": [v, ...]": the distinct values of column NAME, first seen
 * first (an axis has at most GRID_MAX). */
static void axis_values(FILE *f, const struct table *t, const char *name)
{
    int c = col(t, name);
    if (c < 0)
        return;
    char *vals[GRID_MAX];
    unsigned nvals = 0;
    fprintf(f, ", ");
    json_string(f, name);
    fputs(": [", f);
    for (size_t i = 0; i < t->n && nvals < GRID_MAX; i++) {
        char *fld[256], *copy;
        unsigned nf = split(t->lines[i], &copy, fld, 256);
        bool seen = (unsigned)c >= nf;
        for (unsigned k = 0; k < nvals && !seen; k++)
            seen = strcmp(vals[k], fld[c]) == 0;
        if (!seen && (vals[nvals] = strdup(fld[c])) != NULL) {
            fputs(nvals ? ", " : "", f);
            json_value(f, vals[nvals++]);
        }
        free(copy);
    }
    fputc(']', f);
    for (unsigned k = 0; k < nvals; k++)
        free(vals[k]);
}

/* ---- the minimum RAM ---- */

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    if (x->xip != y->xip)
        return x->xip < y->xip ? 1 : -1; /* xip first */
    return x->ram < y->ram ? -1 : x->ram > y->ram;
}

/*
 * Over runs [lo, hi) of one key and mode, by RAM: the smallest RAM from
 * which every larger RAM of the grid fits (*fit), and from which every
 * one also takes at most (1 + pct/100) times the time of the largest
 * (*within; not computed when pct < 0).  0: none.
 */
static void min_ram(const struct rec *r, size_t lo, size_t hi, double pct,
                    uint64_t *fit, uint64_t *within)
{
    *fit = *within = 0;
    if (hi == lo || !r[hi - 1].ok)
        return; /* not even the largest RAM is enough */
    double base = r[hi - 1].metric[0];
    double limit = base + base * pct / 100.0;
    bool fits = true, fast = pct >= 0;
    for (size_t i = hi; i-- > lo;) {
        fits = fits && r[i].ok;
        fast = fast && fits && r[i].metric[0] <= limit;
        if (fits)
            *fit = r[i].ram;
        if (fast)
            *within = r[i].ram;
    }
}

struct answer {
    const char *key;
    uint64_t fit[2], within[2]; /* [0] copy, [1] xip; 0: none */
    bool seen[2];
};

static void json_ram(FILE *f, uint64_t ram)
{
    if (ram)
        fprintf(f, "%llu", (unsigned long long)ram);
    else
        fputs("null", f);
}

static void json_saved(FILE *f, uint64_t copy, uint64_t xip)
{
    if (copy && xip)
        fprintf(f, "%lld", (long long)copy - (long long)xip);
    else
        fputs("null", f);
}

/* "XIP saves 896K" (copy's minus XIP's), when both have an answer. */
static void print_saved(uint64_t copy, uint64_t xip)
{
    if (copy && xip) {
        char s[32];
        int64_t d = (int64_t)copy - (int64_t)xip;
        ram_text(s, sizeof(s), (uint64_t)(d < 0 ? -d : d));
        printf("XIP saves %s%s", d < 0 ? "-" : "", s);
    }
    printf("\n");
}

/* Closes a file written at path: => 0, or 1 after saying why and
 * removing what was written of it. */
static int close_written(FILE *f, const char *path)
{
    errno = 0;
    if (fclose(f) == 0)
        return 0;
    fprintf(stderr, "xipvm: %s: %s\n", path,
            errno ? strerror(errno) : "write error");
    unlink(path);
    return 1;
}

/* ---- charts ---- */

#define W      860
#define H      460
#define LEFT   80
#define RIGHT  240
#define TOP    40
#define BOTTOM 50

static const char *const colours[] = { "#1b9e77", "#d95f02", "#7570b3",
                                       "#e7298a", "#66a61e", "#e6ab02",
                                       "#a6761d", "#666666" };

static int chart(const char *dir, int m, const struct rec *r, size_t n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s.svg", dir, metrics[m]);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "xipvm: %s: %s\n", path, strerror(errno));
        return 1;
    }
    double xlo = INFINITY, xhi = -INFINITY, ymax = 0;
    for (size_t i = 0; i < n; i++) {
        double x = log2((double)r[i].ram), y = r[i].metric[m] * metric_scale[m];
        xlo = x < xlo ? x : xlo;
        xhi = x > xhi ? x : xhi;
        ymax = y > ymax ? y : ymax;
    }
    if (xhi <= xlo)
        xhi = xlo + 1;
    ymax = ymax > 0 ? ymax * 1.1 : 1;
    const double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
#define PX(x) (LEFT + ((x)-xlo) / (xhi - xlo) * pw)
#define PY(y) (H - BOTTOM - (y) / ymax * ph)
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"24\" font-size=\"15\">%s against RAM "
            "(x: does not fit)</text>\n",
            W, H, LEFT, metric_titles[m]);
    fprintf(f,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
            "stroke=\"black\"/>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
            "y2=\"%d\" stroke=\"black\"/>\n",
            LEFT, H - BOTTOM, W - RIGHT, H - BOTTOM, LEFT, TOP, LEFT,
            H - BOTTOM);
    for (int t = 0; t <= 4; t++) {
        double y = ymax * t / 4.0;
        fprintf(f,
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n"
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                "stroke=\"#ddd\"/>\n",
                LEFT - 6, PY(y) + 4, y, LEFT, PY(y), W - RIGHT, PY(y));
    }
    for (double x = ceil(xlo); x <= xhi; x++) {
        char ram[32];
        ram_text(ram, sizeof(ram), (uint64_t)pow(2, x));
        fprintf(f,
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                PX(x), H - BOTTOM + 16, ram);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">RAM</text>\n",
            LEFT + (int)pw / 2, H - 12);
    /* One series per key and mode: runs are sorted by both, then RAM. */
    unsigned s = 0;
    for (size_t lo = 0, hi; lo < n; lo = hi, s++) {
        for (hi = lo; hi < n && r[hi].xip == r[lo].xip &&
                      strcmp(r[hi].key, r[lo].key) == 0;
             hi++)
            ;
        const char *c = colours[s % (sizeof(colours) / sizeof(colours[0]))];
        fprintf(f,
                "<polyline fill=\"none\" stroke=\"%s\" "
                "stroke-width=\"2\" points=\"",
                c);
        for (size_t i = lo; i < hi; i++)
            if (r[i].ok)
                fprintf(f, "%.1f,%.1f ", PX(log2((double)r[i].ram)),
                        PY(r[i].metric[m] * metric_scale[m]));
        fprintf(f, "\"/>\n");
        for (size_t i = lo; i < hi; i++) {
            double x = PX(log2((double)r[i].ram)),
                   y = PY(r[i].metric[m] * metric_scale[m]);
            if (r[i].ok)
                fprintf(f,
                        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                        "fill=\"%s\"/>\n",
                        x, y, c);
            else
                fprintf(f,
                        "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c00\" "
                        "text-anchor=\"middle\">x</text>\n",
                        x, y + 4);
        }
        fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s ", W - RIGHT + 10,
                TOP + 16 * (int)s, c, r[lo].xip ? "xip" : "copy");
        xml_text(f, r[lo].key);
        fputs("</text>\n", f);
    }
#undef PX
#undef PY
    fprintf(f, "</svg>\n");
    return close_written(f, path);
}

/* ---- the merge ---- */

/* The sweep's options as recorded, its --max-slowdown, and its number
 * of jobs (write_conf's second line; -1 when there is none). */
static char *read_args(const char *dir, double *pct, long *njobs)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/sweep.args", dir);
    FILE *f = fopen(path, "r");
    char *line = f ? read_line(f) : NULL;
    char *count = line ? read_line(f) : NULL;
    if (f)
        fclose(f);
    const char *p = line ? strstr(line, " --max-slowdown ") : NULL;
    if (p && *pct < 0)
        *pct = strtod(p + strlen(" --max-slowdown "), NULL);
    if (count == NULL || sscanf(count, "# %ld jobs", njobs) != 1 || *njobs < 1)
        *njobs = -1;
    free(count);
    return line;
}

int sweep_merge(const char *dir, double pct)
{
    struct table t;
    char path[PATH_MAX];
    long njobs;
    char *args = read_args(dir, &pct, &njobs);
    if (table_read(dir, njobs, &t) != 0) {
        free(args);
        return 1;
    }
    int rc = 1;
    struct rec *r = calloc(t.n, sizeof(*r));
    char **copies = calloc(t.n, sizeof(*copies));
    char **keys = calloc(t.n, sizeof(*keys));
    struct answer *ans = calloc(t.n, sizeof(*ans));
    size_t nans = 0;
    FILE *f = NULL;
    int c_mode = col(&t, "mode"), c_ram = col(&t, "ram"),
        c_fits = col(&t, "fits"), c_mism = col(&t, "mismatches"), c_metric[4];
    static const char *const axes[] = { "trace",     "machine",     "swap",
                                        "readahead", "fault_ahead", "buffers",
                                        "device" };
    enum { NAXES = sizeof(axes) / sizeof(axes[0]) };
    int c_axes[NAXES];
    bool cols_ok = c_mode >= 0 && c_ram >= 0 && c_fits >= 0 && c_mism >= 0;
    for (int m = 0; m < 4; m++)
        cols_ok &= (c_metric[m] = col(&t, metrics[m])) >= 0;
    for (int a = 0; a < NAXES; a++)
        cols_ok &= (c_axes[a] = col(&t, axes[a])) >= 0;
    if (r == NULL || copies == NULL || keys == NULL || ans == NULL) {
        fprintf(stderr, "xipvm: out of memory\n");
        goto out;
    }
    if (!cols_ok) {
        fprintf(stderr, "xipvm: %s: the rows lack the sweep's columns\n", dir);
        goto out;
    }
    /* results.csv: the rows, in job order. */
    snprintf(path, sizeof(path), "%s/results.csv", dir);
    if ((f = fopen(path, "w")) == NULL) {
        fprintf(stderr, "xipvm: %s: %s\n", path, strerror(errno));
        goto out;
    }
    fprintf(f, "%s\n", t.header);
    for (size_t i = 0; i < t.n; i++)
        fprintf(f, "%s\n", t.lines[i]);
    int closed = close_written(f, path);
    f = NULL;
    if (closed != 0)
        goto out;
    /* The runs, grouped by every axis but RAM and mode. */
    for (size_t i = 0; i < t.n; i++) {
        char *fld[256];
        unsigned nf = split(t.lines[i], &copies[i], fld, 256);
        if (nf != t.ncols) {
            fprintf(stderr, "xipvm: %s: job row %zu has %u fields, not %u\n",
                    dir, i, nf, t.ncols);
            goto out;
        }
        size_t klen = 0;
        for (int a = 0; a < NAXES; a++)
            klen += strlen(fld[c_axes[a]]) + 16;
        if ((keys[i] = malloc(klen)) == NULL)
            goto out;
        snprintf(keys[i], klen, "%s %s swap=%s ra=%s fa=%s buf=%s dev=%s",
                 fld[c_axes[0]], fld[c_axes[1]], fld[c_axes[2]], fld[c_axes[3]],
                 fld[c_axes[4]], fld[c_axes[5]], fld[c_axes[6]]);
        r[i].line = i;
        r[i].key = keys[i];
        r[i].xip = strcmp(fld[c_mode], "xip") == 0;
        r[i].ram = strtoull(fld[c_ram], NULL, 10);
        r[i].ok =
            strcmp(fld[c_fits], "true") == 0 && strcmp(fld[c_mism], "0") == 0;
        for (int m = 0; m < 4; m++)
            r[i].metric[m] = strtod(fld[c_metric[m]], NULL);
    }
    qsort(r, t.n, sizeof(*r), cmp_rec);
    for (size_t lo = 0, hi; lo < t.n; lo = hi) {
        for (hi = lo; hi < t.n && r[hi].xip == r[lo].xip &&
                      strcmp(r[hi].key, r[lo].key) == 0;
             hi++)
            ;
        if (nans == 0 || strcmp(ans[nans - 1].key, r[lo].key) != 0)
            ans[nans++].key = r[lo].key;
        struct answer *a = &ans[nans - 1];
        a->seen[r[lo].xip] = true;
        min_ram(r, lo, hi, pct, &a->fit[r[lo].xip], &a->within[r[lo].xip]);
    }
    /* results.json: the parameters, every run, the answers. */
    snprintf(path, sizeof(path), "%s/results.json", dir);
    if ((f = fopen(path, "w")) == NULL) {
        fprintf(stderr, "xipvm: %s: %s\n", path, strerror(errno));
        goto out;
    }
    fprintf(f, "{\n\"params\": {\"sweep\": ");
    json_string(f, args ? args : "");
    /* Each axis's values, as the rows have them, in job order. */
    static const char *const grid[] = {
        "image", "trace",     "machine",     "mode",    "ram",
        "swap",  "readahead", "fault_ahead", "buffers", "device",
    };
    for (size_t g = 0; g < sizeof(grid) / sizeof(grid[0]); g++)
        axis_values(f, &t, grid[g]);
    fprintf(f, ", \"max_slowdown\": ");
    if (pct >= 0)
        fprintf(f, "%g", pct);
    else
        fputs("null", f);
    fprintf(f, ", \"time_metric\": \"%s\", \"version\": ", TIME_METRIC);
    json_string(f, xvm_version());
    fprintf(f, ", \"runs\": %zu},\n\"runs\": [", t.n);
    for (size_t i = 0; i < t.n; i++) {
        char *fld[256], *copy;
        unsigned nf = split(t.lines[i], &copy, fld, 256);
        fprintf(f, "%s\n  {", i ? "," : "");
        for (unsigned k = 0; k < nf; k++) {
            fprintf(f, "%s", k ? ", " : "");
            json_string(f, t.cols[k]);
            fputs(": ", f);
            json_value(f, fld[k]);
        }
        fputc('}', f);
        free(copy);
    }
    fprintf(f, "\n],\n\"min_ram\": [");
    for (size_t k = 0; k < nans; k++) {
        const struct answer *a = &ans[k];
        fprintf(f, "%s\n  {\"group\": ", k ? "," : "");
        json_string(f, a->key);
        for (int x = 1; x >= 0; x--) {
            if (!a->seen[x])
                continue;
            fprintf(f, ", \"%s\": {\"fits\": ", x ? "xip" : "copy");
            json_ram(f, a->fit[x]);
            fputs(", \"within_max_slowdown\": ", f);
            if (pct >= 0)
                json_ram(f, a->within[x]);
            else
                fputs("null", f);
            fputc('}', f);
        }
        fputs(", \"xip_saves\": {\"fits\": ", f);
        json_saved(f, a->fit[0], a->fit[1]);
        fputs(", \"within_max_slowdown\": ", f);
        if (pct >= 0)
            json_saved(f, a->within[0], a->within[1]);
        else
            fputs("null", f);
        fputs("}}", f);
    }
    fprintf(f, "\n]\n}\n");
    closed = close_written(f, path);
    f = NULL;
    if (closed != 0)
        goto out;
    for (int m = 0; m < 4; m++)
        if (chart(dir, m, r, t.n) != 0)
            goto out;
    /* The answer, in text. */
    printf("%zu runs in %s/results.csv, results.json; charts: %s.svg, "
           "faults.svg, refaults.svg, flash_bytes_read.svg\n\n",
           t.n, dir, TIME_METRIC);
    printf("smallest RAM for each mode: to fit (no process killed, no "
           "mismatch)");
    if (pct >= 0)
        printf(", and within %g %% of the time at the largest RAM\n(time: "
               "%s, the CPU model's estimate of the run)",
               pct, TIME_METRIC);
    printf("\n");
    for (size_t k = 0; k < nans; k++) {
        const struct answer *a = &ans[k];
        char xf[32] = "-", cf[32] = "-", xw[32] = "-", cw[32] = "-";
        if (a->fit[1])
            ram_text(xf, sizeof(xf), a->fit[1]);
        if (a->fit[0])
            ram_text(cf, sizeof(cf), a->fit[0]);
        if (a->within[1])
            ram_text(xw, sizeof(xw), a->within[1]);
        if (a->within[0])
            ram_text(cw, sizeof(cw), a->within[0]);
        printf("  %s\n    fits:          xip %-8s copy %-8s", a->key, xf, cf);
        print_saved(a->fit[0], a->fit[1]);
        if (pct >= 0) {
            printf("    within %g %%:  xip %-8s copy %-8s", pct, xw, cw);
            print_saved(a->within[0], a->within[1]);
        }
    }
    rc = 0;
out:
    if (f)
        fclose(f);
    for (size_t i = 0; i < t.n; i++) {
        free(copies ? copies[i] : NULL);
        free(keys ? keys[i] : NULL);
    }
    free(copies);
    free(keys);
    free(r);
    free(ans);
    free(args);
    table_free(&t);
    return rc;
}
