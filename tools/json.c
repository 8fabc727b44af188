/*
 * The --json form of a run: the library's report, member for member.
 * Keys are the names of the library's fields (doc/figures.md).
 */
#include "cli.h"

/* => the length of the well-formed UTF-8 sequence at s (RFC 3629: no
 *    over-long forms, no surrogates, at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0], n, min, cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    for (unsigned i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/*
 * Labels come from the trace: any bytes but whitespace.  Escape what JSON
 * requires; a byte that is not part of well-formed UTF-8 becomes \u00XX
 * (its Latin-1 reading), so the output is always valid JSON in UTF-8.
 */
void json_string(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', out);
    while (*s) {
        size_t n = utf8_len(s);
        if (n == 0 || *s < 0x20) {
            fprintf(out, "\\u%04x", *s++);
        } else if (*s == '"' || *s == '\\') {
            fprintf(out, "\\%c", *s++);
        } else {
            fwrite(s, 1, n, out);
            s += n;
        }
    }
    fputc('"', out);
}

/*
 * s as the text of an SVG (XML) element or attribute: the markup
 * characters as entities; a byte that is not part of well-formed UTF-8 as
 * its Latin-1 reading (as json_string); the C0 controls, which XML 1.0
 * does not allow even as references, as their Control Pictures (U+24xx).
 */
void xml_text(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        size_t n = utf8_len(s);
        if (*s < 0x20)
            fprintf(out, "&#x%x;", 0x2400u + *s++);
        else if (n == 0)
            fprintf(out, "&#x%x;", *s++);
        else if (*s == '&')
            fputs("&amp;", out), s++;
        else if (*s == '<')
            fputs("&lt;", out), s++;
        else if (*s == '>')
            fputs("&gt;", out), s++;
        else if (*s == '"')
            fputs("&quot;", out), s++;
        else {
            fwrite(s, 1, n, out);
            s += n;
        }
    }
}

void print_json_ram(FILE *out, const uint64_t *ram)
{
    fputc('{', out);
    for (int k = 0; k < XVM_RAM_KINDS; k++)
        fprintf(out, "%s\"%s\": %llu", k ? ", " : "",
                xvm_ram_kind_name((enum xvm_ram_kind)k),
                (unsigned long long)ram[k]);
    fputc('}', out);
}

static void uses(FILE *out, const char *name, const uint64_t *pages,
                 const char *ind)
{
    fprintf(out, ",\n%s\"%s\": {", ind, name);
    for (int u = 1; u < XVM_USE_COUNT; u++)
        fprintf(out, "%s\"%s\": %llu", u > 1 ? ", " : "",
                xvm_use_name((enum xvm_use)u), (unsigned long long)pages[u]);
    fputc('}', out);
}

void print_json_report(FILE *out, const struct xvm_report *rep, const char *ind)
{
    size_t n;
    const struct xvm_figure *fig = xvm_stats_figures(&n);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s\"%s\": %llu", i ? ",\n" : "", ind, fig[i].name,
                (unsigned long long)*(
                    const uint64_t *)(const void *)((const char *)&rep->st +
                                                    fig[i].offset));
    fprintf(out, ",\n%s\"kmem\": {", ind);
    for (int t = 0; t < XVM_KMEM_TYPES; t++)
        fprintf(out,
                "%s\"%s\": {\"units\": %llu, \"units_peak\": %llu, "
                "\"unit_bytes\": %llu}",
                t ? ", " : "", xvm_kmem_type_name((enum xvm_kmem_type)t),
                (unsigned long long)rep->st.kmem_units[t],
                (unsigned long long)rep->st.kmem_units_peak[t],
                (unsigned long long)rep->st.kmem_unit_bytes[t]);
    fputc('}', out);
    uses(out, "pages", rep->st.pages, ind);
    uses(out, "pages_peak", rep->st.pages_peak, ind);
    fprintf(out, ",\n%s\"ram_now\": ", ind);
    print_json_ram(out, rep->ram_now);
    fprintf(out, ",\n%s\"ram_now_total\": %llu,\n%s\"ram_peak\": ", ind,
            (unsigned long long)rep->ram_now_total, ind);
    print_json_ram(out, rep->ram_peak);
    fprintf(out,
            ",\n%s\"ram_peak_total\": %llu,\n"
            "%s\"vm_page_share_percent\": %.3f,\n"
            "%s\"device_vm_page_bytes\": %llu",
            ind, (unsigned long long)rep->ram_peak_total, ind,
            rep->vm_page_share_percent, ind,
            (unsigned long long)rep->device_vm_page_bytes);
}

void print_json_files(FILE *out, const struct run_result *r, const char *ind)
{
    fputc('{', out);
    for (size_t i = 0; i < r->nfiles; i++) {
        const struct xvm_file_report *f = &r->files[i];
        fprintf(out, "%s\n%s  ", i ? "," : "", ind);
        json_string(out, f->path);
        fprintf(out,
                ": {\"size\": %llu, \"file_pages\": %llu, "
                "\"pages_touched\": %llu, \"pages_in_place\": %llu, "
                "\"pages_cached\": %llu, \"pages_copied\": %llu, "
                "\"text_pages_copied\": %llu, \"processes\": %llu, "
                "\"textrel\": %d, \"pages_written\": %llu}",
                (unsigned long long)f->size, (unsigned long long)f->file_pages,
                (unsigned long long)f->pages_touched,
                (unsigned long long)f->pages_in_place,
                (unsigned long long)f->pages_cached,
                (unsigned long long)f->pages_copied,
                (unsigned long long)f->text_pages_copied,
                (unsigned long long)f->processes, f->textrel,
                (unsigned long long)f->pages_written);
    }
    fprintf(out, "%s%s}", r->nfiles ? "\n" : "", r->nfiles ? ind : "");
}

static void timeline(FILE *out, const struct run_result *r)
{
    fprintf(out, "  \"timeline\": [");
    for (size_t i = 0; i < r->nsamples; i++) {
        const struct xvm_sample *s = &r->samples[i];
        fprintf(out, "%s\n    {\"at\": %llu, \"ram\": ", i ? "," : "",
                (unsigned long long)s->at);
        print_json_ram(out, s->ram);
        fprintf(out, ", \"ram_total\": %llu, \"ram_total_max\": %llu}",
                (unsigned long long)s->ram_total,
                (unsigned long long)s->ram_total_max);
    }
    fprintf(out, "%s]", r->nsamples ? "\n  " : "");
}

void print_json_params(FILE *out, const struct run_opts *o, int xip)
{
    fprintf(out, "{\"image\": ");
    json_string(out, o->image);
    fprintf(out, ", \"trace\": ");
    json_string(out, o->trace ? o->trace : "");
    /* Several TRACEs run at once: every one, in order. */
    fprintf(out, ", \"traces\": [");
    if (o->ntraces > 0)
        for (int k = 0; k < o->ntraces; k++) {
            fputs(k ? ", " : "", out);
            json_string(out, o->traces[k]);
        }
    else
        json_string(out, o->trace ? o->trace : "");
    fputc(']', out);
    fprintf(out, ", \"mode\": \"%s\", \"machine\": ", xip ? "xip" : "copy");
    json_string(out, o->machine);
    fprintf(out, ", \"cpu\": ");
    json_string(out, o->cpu ? o->cpu : o->machine);
    fprintf(out, ", \"cpu_hash\": \"%016llx\"",
            (unsigned long long)o->cpu_hash);
    fprintf(out, ", \"ram\": %llu, \"swap\": %llu, \"readahead\": %d, ",
            (unsigned long long)o->ram, (unsigned long long)o->swap,
            run_readahead(o));
    if (o->fault_ahead >= 0)
        fprintf(out, "\"fault_ahead\": %d, ", o->fault_ahead);
    else
        fprintf(out, "\"fault_ahead\": \"uvm\", ");
    fprintf(out,
            "\"buffers\": %d, \"policy\": \"clock\", \"device\": \"%s\", "
            "\"device_design\": \"%s\", \"neighbour_reserve\": %llu, "
            "\"neighbour_pv_limit\": %llu, \"version\": ",
            run_buffers(o), device_name(o->device),
            xvm_device_design_name((enum xvm_device_design)o->design),
            (unsigned long long)o->neighbour_reserve,
            (unsigned long long)o->neighbour_pv_limit);
    json_string(out, xvm_version());
    /* The CPU options and --slice change figures too. */
    static const char *const geo[3] = { "i1", "d1", "ll" };
    for (int k = 0; k < 3; k++) {
        fprintf(out, ", \"%s\": ", geo[k]);
        json_string(out, run_geom(o, k));
    }
    fprintf(out,
            ", \"no_cache\": %s, \"superpages\": \"%s\", "
            "\"slice\": %llu}",
            o->no_cache ? "true" : "false", run_superpages(o),
            (unsigned long long)o->slice);
}

void print_json_run(FILE *out, const struct run_opts *o, int xip,
                    const struct run_result *r)
{
    fprintf(out,
            "{\n  \"mode\": \"%s\",\n  \"machine\": ", xip ? "xip" : "copy");
    json_string(out, o->machine);
    fprintf(out, ",\n  \"params\": ");
    print_json_params(out, o, xip);
    fprintf(out, ",\n  \"events\": %llu,\n  \"mismatches\": %llu,\n",
            (unsigned long long)r->events, (unsigned long long)r->mismatches);
    fprintf(out, "  \"fits\": %s,\n  \"events_skipped\": %llu,\n  \"oom\": [",
            run_fits(r) ? "true" : "false", (unsigned long long)r->skipped);
    for (size_t i = 0; i < r->nooms; i++)
        fprintf(out,
                "%s{\"pid\": %u, \"event\": %llu, \"line\": %llu, "
                "\"trace\": %u, \"pid_trace\": %u, \"trace_pid\": %u}",
                i ? ", " : "", (unsigned)r->ooms[i].pid,
                (unsigned long long)r->ooms[i].event,
                (unsigned long long)r->ooms[i].line, r->ooms[i].trace,
                r->ooms[i].pid_trace, (unsigned)r->ooms[i].trace_pid);
    fprintf(out, "],\n");
    print_json_report(out, &r->rep, "  ");
    fprintf(out, ",\n  \"marks\": {");
    for (size_t i = 0; i < r->nmarks; i++) {
        fprintf(out, "%s\n    ", i ? "," : "");
        json_string(out, r->marks[i].label);
        fprintf(out, ": {\n      \"event\": %llu,\n",
                (unsigned long long)r->marks[i].event);
        print_json_report(out, &r->marks[i].rep, "      ");
        fprintf(out, "\n    }");
    }
    fprintf(out, "%s},\n  \"files\": ", r->nmarks ? "\n  " : "");
    print_json_files(out, r, "  ");
    fprintf(out, ",\n");
    timeline(out, r);
    fprintf(out, "\n}");
}
