#include "api.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "messages.h"
#include "page.h"
#include "sse.h"
#include "strbuf.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define PROMETHEUS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Hand sb's text to the response (a failed buffer becomes the server's 500). */
static void respond(dr_http_response *resp, int status, const char *content_type, dr_strbuf *sb)
{
    resp->status = status;
    if (content_type)
        resp->content_type = content_type;
    int failed = sb->failed;
    resp->body = dr_strbuf_detach(sb, &resp->body_len);
    if (failed || !resp->body) {
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
        resp->status = 500; /* out of memory: nothing half-written goes out */
    }
}

static void respond_text(dr_http_response *resp, int status, const char *content_type, const char *text)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    dr_strbuf_puts(&sb, text);
    respond(resp, status, content_type, &sb);
}

/* ---- JSON ---- */

static void json_counts(dr_strbuf *sb, const uint64_t *counts)
{
    dr_strbuf_puts(sb, "{");
    for (int s = 1; s < DR_ROLLUP_STATE_SLOTS; s++)
        dr_strbuf_printf(sb, "%s\"%s\": %llu", s > 1 ? ", " : "", dr_job_state_name((Drover__V1__JobState)s),
                         (unsigned long long)counts[s]);
    dr_strbuf_puts(sb, "}");
}

/* The summary's fields, each after sep (", " on one line, ",\n  " pretty). */
static void json_summary_fields(dr_strbuf *sb, const dr_rollup_summary *s, const char *sep)
{
    dr_strbuf_puts(sb, "\"deployment_id\": ");
    dr_strbuf_json_string(sb, s->deployment_id);
    dr_strbuf_printf(sb, "%s\"package\": ", sep);
    dr_strbuf_json_string(sb, s->package);
    dr_strbuf_printf(sb, "%s\"version\": ", sep);
    dr_strbuf_json_string(sb, s->version);
    dr_strbuf_printf(sb, "%s\"status\": \"%s\"", sep, dr_deployment_status_name(s->status));
    dr_strbuf_printf(sb, "%s\"total\": %llu", sep, (unsigned long long)s->total);
    dr_strbuf_printf(sb, "%s\"counts\": ", sep);
    json_counts(sb, s->counts);
    dr_strbuf_printf(sb, "%s\"failed_total\": %llu", sep, (unsigned long long)s->failed_total);
    /* complete: false when the deployment has more jobs than the events still in Kafka name. */
    dr_strbuf_printf(sb, "%s\"expected_total\": %llu%s\"complete\": %s", sep, (unsigned long long)s->expected_total,
                     sep, s->expected_total > s->total ? "false" : "true");
    dr_strbuf_printf(sb, "%s\"started_at_ms\": %lld%s\"updated_at_ms\": %lld%s\"finished_at_ms\": %lld", sep,
                     (long long)s->started_at_ms, sep, (long long)s->updated_at_ms, sep, (long long)s->finished_at_ms);
}

/* The i-th entry of a "locations" array: account, region, their total and counts. */
static void json_location(dr_strbuf *sb, size_t i, const char *account, const char *region, const uint64_t *counts)
{
    uint64_t total = 0;
    for (int st = 0; st < DR_ROLLUP_STATE_SLOTS; st++)
        total += counts[st];
    dr_strbuf_puts(sb, i ? ",\n    {\"account\": " : "\n    {\"account\": ");
    dr_strbuf_json_string(sb, account);
    dr_strbuf_puts(sb, ", \"region\": ");
    dr_strbuf_json_string(sb, region);
    dr_strbuf_printf(sb, ", \"total\": %llu, \"counts\": ", (unsigned long long)total);
    json_counts(sb, counts);
    dr_strbuf_puts(sb, "}");
}

void dr_api_summary_json(dr_strbuf *sb, const dr_rollup_summary *s)
{
    dr_strbuf_puts(sb, "{");
    json_summary_fields(sb, s, ", ");
    dr_strbuf_puts(sb, "}");
}

static void deployments_json(const dr_rollup_table *table, dr_strbuf *sb)
{
    size_t count = 0;
    const dr_rollup_deployment **all = dr_rollup_table_list(table, &count);
    if (!all) {
        sb->failed = 1;
        return;
    }
    dr_strbuf_puts(sb, "[");
    for (size_t i = 0; i < count; i++) {
        dr_rollup_summary s;
        dr_rollup_summarize(all[i], &s);
        dr_strbuf_puts(sb, i ? ",\n  {" : "\n  {");
        json_summary_fields(sb, &s, ", ");
        dr_strbuf_puts(sb, "}");
    }
    dr_strbuf_puts(sb, count ? "\n]\n" : "]\n");
    free(all);
}

/* A failed job's object, left open for the caller's fields: {"target_id", "job_id", "state", "reason", "message". */
static void failed_target_fields(dr_strbuf *sb, const dr_rollup_job *j)
{
    dr_strbuf_puts(sb, "{\"target_id\": ");
    dr_strbuf_json_string(sb, j->target_id);
    dr_strbuf_puts(sb, ", \"job_id\": ");
    dr_strbuf_json_string(sb, j->job_id);
    dr_strbuf_printf(sb, ", \"state\": \"%s\", \"reason\": ", dr_job_state_name(j->state));
    dr_strbuf_json_string(sb, j->reason);
    dr_strbuf_puts(sb, ", \"message\": ");
    dr_strbuf_json_string(sb, j->message);
}

/* The detail, with the first max_failed failed targets (0: none; the console pages them instead). */
static void deployment_json(const dr_rollup_deployment *d, size_t max_failed, dr_strbuf *sb)
{
    dr_rollup_summary s;
    dr_rollup_summarize(d, &s);
    size_t location_count = 0, failed_count = 0;
    const dr_rollup_location **locations = dr_rollup_locations(d, &location_count);
    const dr_rollup_job **failed =
        max_failed ? dr_rollup_failed_jobs(d, max_failed, &failed_count) : calloc(1, sizeof *failed);
    if (!locations || !failed) {
        sb->failed = 1;
        goto cleanup;
    }
    dr_strbuf_puts(sb, "{\n  ");
    json_summary_fields(sb, &s, ",\n  ");
    dr_strbuf_printf(sb, ",\n  \"partition\": %d,\n  \"locations\": [", (int)s.partition);
    for (size_t i = 0; i < location_count; i++)
        json_location(sb, i, locations[i]->account, locations[i]->region, locations[i]->counts);
    dr_strbuf_puts(sb, location_count ? "\n  ],\n  \"failed_targets\": [" : "],\n  \"failed_targets\": [");
    size_t shown = failed_count;
    for (size_t i = 0; i < shown; i++) {
        const dr_rollup_job *j = failed[i];
        dr_strbuf_puts(sb, i ? ",\n    " : "\n    ");
        failed_target_fields(sb, j);
        dr_strbuf_printf(sb, ", \"attempt\": %u, \"at_ms\": %lld}", (unsigned)j->attempt, (long long)j->at_ms);
    }
    dr_strbuf_puts(sb, shown ? "\n  ]\n}\n" : "]\n}\n");
cleanup:
    free(locations);
    free(failed);
}

/* The latest value under one key of a topic read to its end. */
typedef struct latest_value {
    const char *key;
    uint8_t *value;
    size_t len;
} latest_value;

static int keep_latest(void *ctx, const char *key, size_t key_len, const void *value, size_t value_len,
                       int64_t timestamp_ms)
{
    latest_value *l = ctx;
    (void)timestamp_ms;
    if (key_len != strlen(l->key) || memcmp(key, l->key, key_len) != 0)
        return 0;
    free(l->value);
    l->value = NULL;
    l->len = 0;
    if (value && (l->value = malloc(value_len ? value_len : 1))) {
        memcpy(l->value, value, value_len);
        l->len = value_len;
    }
    return 0;
}

/* A Rollup message's counts as the table keeps them: one slot per state. */
static void counts_to_slots(Drover__V1__StateCount *const *counts, size_t n, uint64_t slots[DR_ROLLUP_STATE_SLOTS])
{
    memset(slots, 0, DR_ROLLUP_STATE_SLOTS * sizeof *slots);
    for (size_t i = 0; i < n; i++)
        if (counts[i]->state > 0 && counts[i]->state < DR_ROLLUP_STATE_SLOTS)
            slots[counts[i]->state] = counts[i]->count;
}

/* The summary a Rollup message gives, as dr_rollup_summarize gives a table's deployment. */
static void summarize_message(const Drover__V1__Rollup *r, dr_rollup_summary *s)
{
    *s = (dr_rollup_summary){.deployment_id = r->deployment_id,
                             .package = r->package,
                             .version = r->version,
                             .status = r->status,
                             .total = r->total_jobs,
                             .expected_total = r->expected_jobs,
                             .started_at_ms = r->started_at_ms,
                             .updated_at_ms = r->updated_at_ms,
                             .finished_at_ms = r->finished_at_ms,
                             .partition = -1};
    counts_to_slots(r->counts, r->n_counts, s->counts);
    for (int st = 0; st < DR_ROLLUP_STATE_SLOTS; st++)
        if (dr_rollup_state_is_failure((Drover__V1__JobState)st))
            s->failed_total += s->counts[st];
}

/*
 * An expired deployment as its final Rollup on the rollups topic says: the
 * same shape as deployment_json, with "archived": true.  Returns 1 when
 * found, 0 when the topic holds none; -1 when Kafka could not be read.
 */
static int archived_json(const dr_api *api, const char *id, dr_strbuf *sb)
{
    latest_value latest = {.key = id};
    dr_error err = {0};
    Drover__V1__Rollup *r = NULL;
    int found = -1;
    /* The key's partition first; the whole topic when a producer with another partitioner put it elsewhere. */
    if (dr_kafka_read_key_partition(api->kafka, DR_TOPIC_ROLLUPS, id, keep_latest, &latest, api->kafka_timeout_ms,
                                    &err) != DR_OK ||
        (!latest.value &&
         dr_kafka_read_topic(api->kafka, DR_TOPIC_ROLLUPS, keep_latest, &latest, api->kafka_timeout_ms, &err) != DR_OK))
        goto cleanup;
    found = 0;
    if (!latest.value || dr_rollup_decode(latest.value, latest.len, &r, &err) != DR_OK)
        goto cleanup;
    found = 1;
    dr_rollup_summary summary;
    summarize_message(r, &summary);
    dr_strbuf_puts(sb, "{\n  ");
    json_summary_fields(sb, &summary, ",\n  ");
    dr_strbuf_puts(sb, ",\n  \"archived\": true,\n  \"locations\": [");
    for (size_t i = 0; i < r->n_locations; i++) {
        uint64_t counts[DR_ROLLUP_STATE_SLOTS];
        counts_to_slots(r->locations[i]->counts, r->locations[i]->n_counts, counts);
        json_location(sb, i, r->locations[i]->account, r->locations[i]->region, counts);
    }
    dr_strbuf_puts(sb, r->n_locations ? "\n  ],\n  \"failed_targets\": [" : "],\n  \"failed_targets\": [");
    for (size_t i = 0; i < r->n_failed_targets; i++) {
        const Drover__V1__FailedTarget *f = r->failed_targets[i];
        dr_strbuf_puts(sb, i ? ",\n    {\"target_id\": " : "\n    {\"target_id\": ");
        dr_strbuf_json_string(sb, f->target_id);
        dr_strbuf_printf(sb, ", \"state\": \"%s\", \"reason\": ", dr_job_state_name(f->state));
        dr_strbuf_json_string(sb, f->reason);
        dr_strbuf_puts(sb, ", \"message\": ");
        dr_strbuf_json_string(sb, f->message);
        dr_strbuf_puts(sb, "}");
    }
    dr_strbuf_puts(sb, r->n_failed_targets ? "\n  ]\n}\n" : "]\n}\n");
cleanup:
    if (found < 0) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "api.archive_failed", "deployment=%s msg=%s", dr_log_quote(quoted, 300, id),
               dr_log_quote(quoted + 300, sizeof quoted - 300, err.detail));
    }
    if (r)
        drover__v1__rollup__free_unpacked(r, NULL);
    free(latest.value);
    return found;
}

/* "/deployments/a%2Fb" -> "a/b"; a malformed escape stays as it is. */
static void percent_decode(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; in[i] && o + 1 < size; i++) {
        unsigned hi, lo;
        if (in[i] == '%' && in[i + 1] && in[i + 2] && sscanf(in + i + 1, "%1x%1x", &hi, &lo) == 2) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
}

/* ---- Prometheus ---- */

/* drover_jobs and drover_deployments, from the table as it is now. */
static void table_metrics(const dr_rollup_table *table, dr_strbuf *sb)
{
    uint64_t by_status[8] = {0};
    size_t count = 0;
    const dr_rollup_deployment **all = dr_rollup_table_list(table, &count);
    if (!all) {
        sb->failed = 1;
        return;
    }
    dr_strbuf_puts(sb,
                   "# HELP drover_jobs jobs of each deployment by latest state (each job counted once)\n"
                   "# TYPE drover_jobs gauge\n");
    for (size_t i = 0; i < count; i++) {
        dr_rollup_summary s;
        dr_rollup_summarize(all[i], &s);
        if ((size_t)s.status < sizeof by_status / sizeof by_status[0])
            by_status[s.status]++;
        char deployment[512], package[512];
        dr_metrics_label_escape(s.deployment_id, deployment, sizeof deployment);
        dr_metrics_label_escape(s.package, package, sizeof package);
        size_t location_count = 0;
        const dr_rollup_location **locations = dr_rollup_locations(all[i], &location_count);
        if (!locations) {
            sb->failed = 1;
            break;
        }
        for (size_t l = 0; l < location_count; l++) {
            char account[512], region[512];
            dr_metrics_label_escape(locations[l]->account, account, sizeof account);
            dr_metrics_label_escape(locations[l]->region, region, sizeof region);
            for (int st = 1; st < DR_ROLLUP_STATE_SLOTS; st++)
                if (locations[l]->counts[st])
                    dr_strbuf_printf(sb,
                                     "drover_jobs{deployment=\"%s\",state=\"%s\",account=\"%s\",region=\"%s\","
                                     "package=\"%s\"} %llu\n",
                                     deployment, dr_job_state_name((Drover__V1__JobState)st), account, region, package,
                                     (unsigned long long)locations[l]->counts[st]);
        }
        free(locations);
    }
    free(all);
    dr_strbuf_puts(sb,
                   "# HELP drover_deployments deployments known, by overall status\n"
                   "# TYPE drover_deployments gauge\n");
    for (int st = DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_PENDING;
         st <= DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_REJECTED; st++)
        dr_strbuf_printf(sb, "drover_deployments{status=\"%s\"} %llu\n",
                         dr_deployment_status_name((Drover__V1__DeploymentStatus)st),
                         (unsigned long long)by_status[st]);
}

/* The percent-decoded value of NAME in a query string ("a=1&package=x"), or "" when absent. */
static void query_value(const char *query, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            char raw[1024];
            snprintf(raw, sizeof raw, "%.*s", (int)(len - n - 1), p + n + 1);
            percent_decode(raw, out, size);
            return;
        }
        p = end ? end + 1 : NULL;
    }
}

/* ---- the failed targets of a deployment, a page at a time ---- */

/* A decimal query parameter in [0, max]: 0 when absent (def), -1 when malformed. */
static long long query_number(const char *query, const char *name, long long def, long long max)
{
    char text[32];
    query_value(query, name, text, sizeof text);
    if (!text[0])
        return def;
    if (strspn(text, "0123456789") != strlen(text) || strlen(text) > 12)
        return -1;
    long long n = atoll(text);
    return n > max ? max : n;
}

typedef struct failed_filter {
    char state[32], reason[128], account[128], region[128], q[256];
} failed_filter;

static int job_matches(const dr_rollup_job *j, const failed_filter *f)
{
    if (f->state[0] && strcmp(dr_job_state_name(j->state), f->state) != 0)
        return 0;
    if (f->reason[0] && strcmp(j->reason, f->reason) != 0)
        return 0;
    if (f->account[0] && (!j->location || strcmp(j->location->account, f->account) != 0))
        return 0;
    if (f->region[0] && (!j->location || strcmp(j->location->region, f->region) != 0))
        return 0;
    if (f->q[0] && !strcasestr(j->target_id, f->q) && !strcasestr(j->message, f->q) && !strcasestr(j->reason, f->q))
        return 0;
    return 1;
}

static int compare_locations(const dr_rollup_location *a, const dr_rollup_location *b)
{
    int c = strcmp(a->account, b->account);
    return c ? c : strcmp(a->region, b->region);
}

/* Distinct values and their counts, for the page's filter lists (at most DR_API_FACETS_MAX values). */
typedef struct facet {
    const char *value[DR_API_FACETS_MAX];
    uint64_t count[DR_API_FACETS_MAX];
    size_t n;
    uint64_t other; /* jobs whose value did not fit */
} facet;

static void facet_add(facet *f, const char *value)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->value[i], value) == 0) {
            f->count[i]++;
            return;
        }
    if (f->n == DR_API_FACETS_MAX) {
        f->other++;
        return;
    }
    f->value[f->n] = value;
    f->count[f->n++] = 1;
}

static void facet_json(dr_strbuf *sb, const facet *f)
{
    dr_strbuf_puts(sb, "{");
    for (size_t i = 0; i < f->n; i++) {
        dr_strbuf_puts(sb, i ? ", " : "");
        dr_strbuf_json_string(sb, f->value[i]);
        dr_strbuf_printf(sb, ": %llu", (unsigned long long)f->count[i]);
    }
    dr_strbuf_puts(sb, "}");
}

/*
 * GET /deployments/{id}/failed: the failed targets matching the filters,
 * sorted by target id, from offset, at most limit of them, with how many
 * match and, over all the deployment's failed targets, how many there are
 * of each state, reason and account/region.  Returns the HTTP status.
 */
static int failed_page_json(const dr_rollup_deployment *d, const char *query, dr_strbuf *sb)
{
    long long offset = query_number(query, "offset", 0, 1LL << 40);
    long long limit = query_number(query, "limit", DR_API_FAILED_PAGE_DEFAULT, DR_API_FAILED_PAGE_MAX);
    if (offset < 0 || limit < 0) {
        dr_strbuf_puts(sb, "{\"error\": \"offset and limit are whole numbers\"}\n");
        return 400;
    }
    failed_filter f;
    query_value(query, "state", f.state, sizeof f.state);
    query_value(query, "reason", f.reason, sizeof f.reason);
    query_value(query, "account", f.account, sizeof f.account);
    query_value(query, "region", f.region, sizeof f.region);
    query_value(query, "q", f.q, sizeof f.q);
    size_t count = 0;
    const dr_rollup_job **failed = dr_rollup_failed_jobs(d, 0, &count);
    facet *facets = calloc(2, sizeof *facets); /* states, reasons */
    const dr_rollup_location *places[DR_API_FACETS_MAX];
    uint64_t place_count[DR_API_FACETS_MAX] = {0};
    size_t places_n = 0;
    uint64_t places_other = 0; /* failed targets of the places past DR_API_FACETS_MAX */
    if (!failed || !facets) {
        sb->failed = 1;
        free(failed);
        free(facets);
        return 500;
    }
    dr_rollup_summary s;
    dr_rollup_summarize(d, &s);
    dr_strbuf_puts(sb, "{\"deployment_id\": ");
    dr_strbuf_json_string(sb, s.deployment_id);
    dr_strbuf_printf(sb, ", \"failed_total\": %llu, \"offset\": %lld, \"limit\": %lld, \"targets\": [",
                     (unsigned long long)count, offset, limit);
    size_t matched = 0, listed = 0;
    for (size_t i = 0; i < count; i++) {
        const dr_rollup_job *j = failed[i];
        facet_add(&facets[0], dr_job_state_name(j->state));
        facet_add(&facets[1], j->reason);
        /* Locations by pointer: a deployment has one record per (account, region). */
        size_t k = 0;
        while (k < places_n && places[k] != j->location)
            k++;
        if (k < DR_API_FACETS_MAX) {
            if (k == places_n)
                places[places_n++] = j->location;
            place_count[k]++;
        } else {
            places_other++;
        }
        if (!job_matches(j, &f))
            continue;
        if (matched++ < (size_t)offset || listed >= (size_t)limit)
            continue;
        dr_strbuf_puts(sb, listed++ ? ",\n  " : "\n  ");
        failed_target_fields(sb, j);
        dr_strbuf_puts(sb, ", \"account\": ");
        dr_strbuf_json_string(sb, j->location ? j->location->account : "");
        dr_strbuf_puts(sb, ", \"region\": ");
        dr_strbuf_json_string(sb, j->location ? j->location->region : "");
        dr_strbuf_printf(sb, ", \"attempt\": %u, \"at_ms\": %lld}", (unsigned)j->attempt, (long long)j->at_ms);
    }
    dr_strbuf_printf(sb, "%s], \"matched\": %zu, \"next_offset\": ", listed ? "\n" : "", matched);
    if (limit > 0 && (size_t)offset + listed < matched) /* limit=0 asks for the counts only: no next page */
        dr_strbuf_printf(sb, "%lld", offset + (long long)listed);
    else
        dr_strbuf_puts(sb, "null");
    dr_strbuf_puts(sb, ", \"by_state\": ");
    facet_json(sb, &facets[0]);
    dr_strbuf_puts(sb, ", \"by_reason\": ");
    facet_json(sb, &facets[1]);
    /* By account, then region (an insertion sort: a hundred at most). */
    for (size_t k = 1; k < places_n; k++)
        for (size_t m = k; m > 0 && places[m - 1] && places[m] && compare_locations(places[m - 1], places[m]) > 0;
             m--) {
            const dr_rollup_location *p = places[m];
            uint64_t n = place_count[m];
            places[m] = places[m - 1];
            place_count[m] = place_count[m - 1];
            places[m - 1] = p;
            place_count[m - 1] = n;
        }
    dr_strbuf_puts(sb, ", \"by_location\": [");
    for (size_t k = 0; k < places_n; k++) {
        dr_strbuf_puts(sb, k ? ", {\"account\": " : "{\"account\": ");
        dr_strbuf_json_string(sb, places[k] ? places[k]->account : "");
        dr_strbuf_puts(sb, ", \"region\": ");
        dr_strbuf_json_string(sb, places[k] ? places[k]->region : "");
        dr_strbuf_printf(sb, ", \"count\": %llu}", (unsigned long long)place_count[k]);
    }
    /* What did not fit in the facets is counted, so that their sums always add up to failed_total. */
    dr_strbuf_printf(sb, "], \"by_reason_other\": %llu, \"by_location_other\": %llu}\n",
                     (unsigned long long)facets[1].other, (unsigned long long)places_other);
    free(failed);
    free(facets);
    return 200;
}

/* ---- routing ---- */

void dr_api_handle(void *ctx, const dr_http_request *req, dr_http_response *resp)
{
    const dr_api *api = ctx;
    dr_strbuf sb = DR_STRBUF_INIT;
    const char *path = req->path;
    static const char prefix[] = "/deployments/";

    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        respond_text(resp, 200, "text/html; charset=utf-8", dr_aggregator_page());
        resp->headers = dr_aggregator_page_headers();
    } else if (strcmp(path, "/events") == 0) {
        if (!api->events) {
            respond_text(resp, 404, NULL, "not found\n");
        } else if (!dr_sse_hub_has_room(api->events)) {
            respond_text(resp, 503, JSON_TYPE, "{\"error\": \"too many event streams; try again later\"}\n");
        } else {
            resp->content_type = "text/event-stream";
            resp->headers = "X-Accel-Buffering: no\r\n"; /* nginx (an ingress) passes each event on at once */
            resp->stream = dr_sse_hub_take;
            resp->stream_ctx = api->events;
        }
    } else if (strcmp(path, "/healthz") == 0) {
        respond_text(resp, 200, NULL, "ok\n");
    } else if (strcmp(path, "/readyz") == 0) {
        int ready = !api->ready || atomic_load(api->ready);
        respond_text(resp, ready ? 200 : 503, NULL, ready ? "ready\n" : "catching up\n");
    } else if (strcmp(path, "/deployments") == 0 || strcmp(path, prefix) == 0) {
        pthread_mutex_lock(api->lock);
        deployments_json(api->table, &sb);
        pthread_mutex_unlock(api->lock);
        respond(resp, 200, JSON_TYPE, &sb);
    } else if (strncmp(path, prefix, sizeof prefix - 1) == 0) {
        char id[1024];
        percent_decode(path + sizeof prefix - 1, id, sizeof id);
        /* /deployments/{id}/failed: the failed targets a page at a time (an id with a '/' comes encoded). */
        static const char failed_suffix[] = "/failed";
        size_t id_len = strlen(id);
        if (id_len > sizeof failed_suffix - 1 && strcmp(id + id_len - (sizeof failed_suffix - 1), failed_suffix) == 0) {
            int status = 404;
            pthread_mutex_lock(api->lock);
            const dr_rollup_deployment *whole = dr_rollup_find(api->table, id);
            id[id_len - (sizeof failed_suffix - 1)] = '\0';
            const dr_rollup_deployment *d = whole ? NULL : dr_rollup_find(api->table, id);
            if (d)
                status = failed_page_json(d, req->query, &sb);
            int expired = !whole && !d && dr_rollup_table_is_expired(api->table, id);
            pthread_mutex_unlock(api->lock);
            if (!whole) {
                if (status == 404) {
                    dr_strbuf_puts(&sb, expired ? "{\"error\": \"deployment archived: GET /deployments/{id} lists the "
                                                  "failed targets its final rollup kept\", \"deployment_id\": "
                                                : "{\"error\": \"no such deployment\", \"deployment_id\": ");
                    dr_strbuf_json_string(&sb, id);
                    dr_strbuf_puts(&sb, "}\n");
                }
                respond(resp, status, JSON_TYPE, &sb);
                return;
            }
            id[id_len - (sizeof failed_suffix - 1)] = '/'; /* a deployment named ".../failed" */
        }
        int found = 0, expired = 0;
        pthread_mutex_lock(api->lock);
        const dr_rollup_deployment *d = dr_rollup_find(api->table, id);
        if (d) {
            found = 1;
            /* ?failed=N lists at most N failed targets (default and most: DR_API_FAILED_TARGETS_MAX). */
            long long max_failed =
                query_number(req->query, "failed", DR_API_FAILED_TARGETS_MAX, DR_API_FAILED_TARGETS_MAX);
            deployment_json(d, max_failed < 0 ? DR_API_FAILED_TARGETS_MAX : (size_t)max_failed, &sb);
        }
        expired = !d && dr_rollup_table_is_expired(api->table, id);
        pthread_mutex_unlock(api->lock);
        if (expired && api->kafka) { /* outside the lock: folding goes on meanwhile */
            int archived = archived_json(api, id, &sb);
            if (archived < 0) {
                dr_strbuf_reset(&sb);
                dr_strbuf_puts(&sb, "{\"error\": \"the rollups topic could not be read\", \"deployment_id\": ");
                dr_strbuf_json_string(&sb, id);
                dr_strbuf_puts(&sb, "}\n");
                respond(resp, 503, JSON_TYPE, &sb);
                return;
            }
            found = archived;
        }
        if (!found) {
            dr_strbuf_puts(&sb, "{\"error\": \"no such deployment\", \"deployment_id\": ");
            dr_strbuf_json_string(&sb, id);
            dr_strbuf_puts(&sb, "}\n");
        }
        respond(resp, found ? 200 : 404, JSON_TYPE, &sb);
    } else if (strcmp(path, "/associations") == 0 && api->associations) {
        dr_associations_json(api->associations, dr_now_ms(), &sb);
        dr_strbuf_puts(&sb, "\n");
        respond(resp, 200, JSON_TYPE, &sb);
    } else if (strcmp(path, "/fleet") == 0 && api->fleet) {
        char package[256] = "";
        query_value(req->query, "package", package, sizeof package);
        dr_fleet_json(api->fleet, package[0] ? package : NULL, &sb);
        respond(resp, 200, JSON_TYPE, &sb);
    } else if (strcmp(path, "/metrics") == 0) {
        size_t len = 0;
        char *registry = dr_metrics_render(api->metrics, &len);
        if (registry)
            dr_strbuf_append(&sb, registry, len);
        else
            sb.failed = 1;
        free(registry);
        pthread_mutex_lock(api->lock);
        table_metrics(api->table, &sb);
        pthread_mutex_unlock(api->lock);
        if (api->fleet)
            dr_fleet_metrics(api->fleet, &sb);
        respond(resp, 200, PROMETHEUS_TYPE, &sb);
    } else {
        respond_text(resp, 404, NULL, "not found\n");
    }
}
