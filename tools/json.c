/*
 * The --json form of a run's figures.
 */
#include "cli.h"

static void stats_fields(FILE *out, const struct xvm_stats *st, const char *ind)
{
    fprintf(out,
            "%s\"ram_pages\": %llu,\n"
            "%s\"ram_pages_peak\": %llu,\n"
            "%s\"page_cache_pages_peak\": %llu,\n"
            "%s\"anon_pages_peak\": %llu,\n"
            "%s\"aobj_pages_peak\": %llu,\n"
            "%s\"page_table_pages_peak\": %llu,\n"
            "%s\"buffer_pages_peak\": %llu,\n"
            "%s\"page_size\": %llu,\n"
            "%s\"vm_page_bytes\": %llu,\n"
            "%s\"vm_page_share_percent\": %.3f,\n"
            "%s\"device_pages\": %llu,\n"
            "%s\"vm_page_metadata_bytes\": %llu,\n"
            "%s\"faults\": %llu,\n"
            "%s\"faults_read\": %llu,\n"
            "%s\"faults_write\": %llu,\n"
            "%s\"faults_exec\": %llu,\n"
            "%s\"cow_promotions\": %llu,\n"
            "%s\"cow_from_device\": %llu,\n"
            "%s\"zero_fills\": %llu,\n"
            "%s\"neighbour_maps\": %llu,\n"
            "%s\"device_pages_mapped\": %llu,\n"
            "%s\"fallback_pages\": %llu,\n"
            "%s\"flash_bytes_read\": %llu,\n"
            "%s\"flash_block_bytes_read\": %llu,\n"
            "%s\"flash_xip_bytes_read\": %llu,\n"
            "%s\"flash_ns\": %llu,\n"
            "%s\"pv_entries_peak\": %llu,\n"
            "%s\"pv_device_peak\": %llu,\n"
            "%s\"tlb_hits\": %llu,\n"
            "%s\"tlb_misses\": %llu",
            ind, (unsigned long long)st->ram_pages,
            ind, (unsigned long long)st->ram_used_peak,
            ind, (unsigned long long)st->pages_peak[XVM_USE_PAGECACHE],
            ind, (unsigned long long)st->pages_peak[XVM_USE_ANON],
            ind, (unsigned long long)st->pages_peak[XVM_USE_AOBJ],
            ind, (unsigned long long)st->pages_peak[XVM_USE_PAGETABLE],
            ind, (unsigned long long)st->pages_peak[XVM_USE_BUFFER],
            ind, (unsigned long long)st->page_size,
            ind, (unsigned long long)st->vm_page_bytes,
            ind, 100.0 * st->vm_page_bytes / st->page_size,
            ind, (unsigned long long)st->device_pages,
            ind, (unsigned long long)(st->ram_used_peak * st->vm_page_bytes),
            ind, (unsigned long long)st->faults,
            ind, (unsigned long long)st->faults_read,
            ind, (unsigned long long)st->faults_write,
            ind, (unsigned long long)st->faults_exec,
            ind, (unsigned long long)st->cow_promotions,
            ind, (unsigned long long)st->cow_from_device,
            ind, (unsigned long long)st->zero_fills,
            ind, (unsigned long long)st->neighbour_maps,
            ind, (unsigned long long)st->device_maps,
            ind, (unsigned long long)st->fallback_pages,
            ind, (unsigned long long)flash_bytes(st),
            ind, (unsigned long long)st->flash_bytes_read,
            ind, (unsigned long long)st->xip_bytes_read,
            ind, (unsigned long long)st->flash_ns,
            ind, (unsigned long long)st->pv_entries_peak,
            ind, (unsigned long long)st->pv_device_peak,
            ind, (unsigned long long)st->tlb_hits,
            ind, (unsigned long long)st->tlb_misses);
}

/* Labels come from the trace: escape what JSON requires. */
static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* RAM by kind over the replay: at most TIMELINE_MAX of the samples. */
#define TIMELINE_MAX 256

static void timeline(FILE *out, const struct run_result *r)
{
    size_t step = (r->nsamples + TIMELINE_MAX - 1) / TIMELINE_MAX;
    fprintf(out, "  \"timeline\": [");
    for (size_t i = 0, n = 0; i < r->nsamples; i += step ? step : 1, n++) {
        const struct sample *s = &r->samples[i];
        fprintf(out, "%s\n    {\"event\": %llu", n ? "," : "",
                (unsigned long long)s->event);
        for (int u = 1; u < XVM_USE_COUNT; u++)
            fprintf(out, ", \"%s\": %llu", xvm_use_name(u),
                    (unsigned long long)s->pages[u]);
        fputc('}', out);
    }
    fprintf(out, "%s]", r->nsamples ? "\n  " : "");
}

void print_json_run(FILE *out, const struct run_opts *o, int xip,
                    const struct run_result *r)
{
    fprintf(out, "{\n  \"mode\": \"%s\",\n  \"machine\": ", xip ? "xip" : "copy");
    json_string(out, o->machine);
    fprintf(out, ",\n  \"events\": %llu,\n  \"mismatches\": %llu,\n",
            (unsigned long long)r->events, (unsigned long long)r->mismatches);
    stats_fields(out, &r->st, "  ");
    fprintf(out, ",\n  \"marks\": {");
    for (unsigned i = 0; i < r->nmarks; i++) {
        fprintf(out, "%s\n    ", i ? "," : "");
        json_string(out, r->marks[i].label);
        fprintf(out, ": {\n      \"event\": %llu,\n",
                (unsigned long long)r->marks[i].event);
        stats_fields(out, &r->marks[i].st, "      ");
        fprintf(out, "\n    }");
    }
    fprintf(out, "%s},\n", r->nmarks ? "\n  " : "");
    timeline(out, r);
    fprintf(out, "\n}");
}
