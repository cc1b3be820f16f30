/*
 * output.c - -o table|wide|json, and the JSON shapes verbs share.  See output.h.
 */
#include "output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "messages.h"
#include "progress.h"
#include "rollup_text.h"
#include "strbuf.h"

dr_status dr_output_read(const dr_config *cfg, int wide_allowed, dr_output_format *out, dr_error *err)
{
    const char *text = dr_config_string(cfg, "output");
    if (strcmp(text, "table") == 0)
        *out = DR_OUTPUT_TABLE;
    else if (strcmp(text, "json") == 0)
        *out = DR_OUTPUT_JSON;
    else if (wide_allowed && strcmp(text, "wide") == 0)
        *out = DR_OUTPUT_WIDE;
    else
        return dr_error_set(err, DR_ERR_USAGE, "--output: '%.32s' is not %s", text,
                            wide_allowed ? "table, wide or json" : "table or json");
    return DR_OK;
}

void dr_output_json_line(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;
    if (text)
        printf("%s\n", text);
    else
        fprintf(stderr, "drover-producer: out of memory writing JSON\n");
    free(text);
    json_decref(o);
}

json_t *dr_json_text(const char *text)
{
    json_t *s = json_string(text ? text : "");
    if (s)
        return s;
    /* Not UTF-8: as the strbuf's JSON writer mends it (U+FFFD for each bad byte). */
    dr_strbuf quoted = DR_STRBUF_INIT;
    dr_strbuf_json_string(&quoted, text);
    json_t *mended = quoted.failed ? NULL : json_loads(dr_strbuf_str(&quoted), JSON_DECODE_ANY, NULL);
    dr_strbuf_free(&quoted);
    return mended;
}

json_t *dr_json_time(int64_t ms)
{
    char when[32];
    if (ms <= 0)
        return json_null();
    dr_format_utc_ms(ms, when, sizeof when);
    return json_string(when);
}

static json_t *text_array(char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, dr_json_text(items[i]));
    return a;
}

json_t *dr_json_selection(const Drover__V1__TargetSelection *s)
{
    if (!s)
        return json_null();
    json_t *tags = json_object();
    for (size_t i = 0; tags && i < s->n_tags; i++) {
        /* The key mended as any text is (a key off Kafka may not be UTF-8, which jansson refuses). */
        json_t *key = dr_json_text(s->tags[i]->key ? s->tags[i]->key : "");
        const char *name = json_string_value(key);
        json_t *values = name ? json_object_get(tags, name) : NULL;
        if (name && !values) {
            values = json_array();
            if (json_object_set_new(tags, name, values) != 0)
                values = NULL; /* freed by the failed set */
        }
        for (size_t v = 0; values && v < s->tags[i]->n_values; v++)
            json_array_append_new(values, dr_json_text(s->tags[i]->values[v]));
        json_decref(key);
    }
    return json_pack("{s:b, s:o, s:o, s:o, s:o}", "all", s->all, "target_ids",
                     text_array(s->target_ids, s->n_target_ids), "tags", tags, "accounts",
                     text_array(s->accounts, s->n_accounts), "regions", text_array(s->regions, s->n_regions));
}

json_t *dr_json_counts(Drover__V1__StateCount *const *counts, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        const char *state = dr_job_state_name(counts[i]->state);
        json_t *had = json_object_get(o, state);
        json_object_set_new(o, state,
                            json_integer((json_int_t)(counts[i]->count + (had ? json_integer_value(had) : 0))));
    }
    return o;
}

json_t *dr_json_key_values(Drover__V1__KeyValue *const *pairs, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++)
        json_object_set_new(o, pairs[i]->key ? pairs[i]->key : "", dr_json_text(pairs[i]->value));
    return o;
}

json_t *dr_json_rollup(const Drover__V1__Rollup *r)
{
    if (!r)
        return json_null();
    json_t *locations = json_array(), *failed = json_array();
    for (size_t i = 0; locations && i < r->n_locations; i++) {
        const Drover__V1__LocationRollup *l = r->locations[i];
        json_array_append_new(locations,
                              json_pack("{s:o, s:o, s:o}", "account", dr_json_text(l->account), "region",
                                        dr_json_text(l->region), "counts", dr_json_counts(l->counts, l->n_counts)));
    }
    for (size_t i = 0; failed && i < r->n_failed_targets; i++) {
        const Drover__V1__FailedTarget *f = r->failed_targets[i];
        json_array_append_new(failed, json_pack("{s:o, s:s, s:o, s:o}", "target_id", dr_json_text(f->target_id),
                                                "state", dr_job_state_name(f->state), "reason", dr_json_text(f->reason),
                                                "message", dr_json_text(f->message)));
    }
    uint64_t done = dr_rollup_done(r);
    return json_pack("{s:o, s:s, s:o, s:o, s:I, s:I, s:I, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "deployment_id",
                     dr_json_text(r->deployment_id), "status", dr_deployment_status_name(r->status), "package",
                     dr_json_text(r->package), "version", dr_json_text(r->version), "total_jobs",
                     (json_int_t)r->total_jobs, "expected_jobs", (json_int_t)r->expected_jobs, "done", (json_int_t)done,
                     "percent", (int)dr_progress_percent(done, r->total_jobs), "counts",
                     dr_json_counts(r->counts, r->n_counts), "started_at", dr_json_time(r->started_at_ms), "updated_at",
                     dr_json_time(r->updated_at_ms), "finished_at", dr_json_time(r->finished_at_ms), "locations",
                     locations, "failed_targets", failed);
}
