/*
 * drover_test_status - writes status events and reads rollups, for the
 * aggregator's tests and benchmark.
 *
 *   drover_test_status --brokers B produce < LINES
 *       One StatusEvent per line, keyed by deployment id, onto the status
 *       topic:  DEPLOYMENT TARGET ACCOUNT REGION STATE [attempt=N]
 *               [reason=TOKEN] [duration-ms=N] [at-ms=N] [message=REST OF LINE]
 *       The job id is DEPLOYMENT/TARGET; STATE is PENDING, IN_PROGRESS,
 *       SUCCESS, ...; at-ms defaults to now and started_at_ms to at-ms minus
 *       duration-ms (default 1000) for states past PENDING.  Blank lines and
 *       lines starting with '#' are skipped.
 *   drover_test_status --brokers B raw KEY TEXT
 *       One message of TEXT's bytes ("\xNN" escapes allowed) keyed KEY.
 *   drover_test_status --brokers B generate DEPLOYMENTS TARGETS
 *       For each of DEPLOYMENTS deployments (bench-1, ...) and TARGETS targets
 *       spread over 3 accounts x 2 regions: PENDING for every job, then
 *       IN_PROGRESS and SUCCESS per job.  Prints the number of events.
 *   drover_test_status --brokers B rollup DEPLOYMENT
 *       Reads the rollups topic, folds it by key, and prints the latest Rollup
 *       of DEPLOYMENT as lines ("status=SUCCESS", "count SUCCESS=8",
 *       "location 111/eu-west-1 SUCCESS=3", "failed t3 FAILED reason=...").
 *       Exit 1 when there is none.
 * Every verb flushes before it exits; exit 1 on any delivery failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "kafka.h"
#include "log.h"
#include "messages.h"

static const dr_setting settings[] = {
    DR_COMMON_SETTINGS,
    DR_KAFKA_SETTINGS,
    {"package", DR_SETTING_STRING, "acme-agent", "package named in produced events"},
    {"version", DR_SETTING_STRING, "1.0", "version named in produced events"},
};

static const char usage[] =
    "usage: drover_test_status --brokers B (produce < LINES | raw KEY TEXT | "
    "generate DEPLOYMENTS TARGETS | rollup DEPLOYMENT)";

typedef struct context {
    dr_kafka_options kafka;
    const char *package;
    const char *version;
    dr_kafka_producer *producer;
    size_t produced;
} context;

static dr_status send_event(context *c, const Drover__V1__StatusEvent *e, dr_error *err)
{
    size_t len = 0;
    uint8_t *bytes = dr_message_encode(&e->base, &len);
    if (!bytes)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    dr_status status = dr_kafka_produce(c->producer, DR_TOPIC_STATUS, e->deployment_id, bytes, len, NULL, NULL, err);
    free(bytes);
    if (status == DR_OK)
        c->produced++;
    return status;
}

/* DEPLOYMENT TARGET ACCOUNT REGION STATE [key=value ...]: fills e (pointing into line). */
static dr_status parse_line(context *c, char *line, Drover__V1__StatusEvent *e, char *job_id, size_t job_id_size,
                            dr_error *err)
{
    char *fields[5];
    char *rest = line;
    for (int i = 0; i < 5; i++) {
        fields[i] = strtok_r(rest, " \t", &rest);
        if (!fields[i])
            return dr_error_set(err, DR_ERR_USAGE, "want DEPLOYMENT TARGET ACCOUNT REGION STATE, got '%s'", line);
    }
    int state = dr_job_state_parse(fields[4]);
    if (state < 0)
        return dr_error_set(err, DR_ERR_USAGE, "unknown state '%s'", fields[4]);
    e->schema_version = DR_SCHEMA_VERSION;
    e->deployment_id = fields[0];
    e->target_id = fields[1];
    dr_job_id_format(job_id, job_id_size, fields[0], fields[1]);
    e->job_id = job_id;
    e->account = fields[2];
    e->region = fields[3];
    e->state = (Drover__V1__JobState)state;
    e->package = (char *)c->package;
    e->version = (char *)c->version;
    e->worker_id = "drover_test_status";
    e->attempt = 1;
    e->at_ms = dr_now_ms();
    long long duration = 1000;
    while (rest && *rest) {
        rest += strspn(rest, " \t");
        if (strncmp(rest, "message=", 8) == 0) {
            e->message = rest + 8;
            break;
        }
        char *token = strtok_r(rest, " \t", &rest);
        if (!token)
            break;
        char *eq = strchr(token, '=');
        if (!eq)
            return dr_error_set(err, DR_ERR_USAGE, "want key=value, got '%s'", token);
        *eq = '\0';
        const char *value = eq + 1;
        if (strcmp(token, "attempt") == 0)
            e->attempt = (uint32_t)strtoul(value, NULL, 10);
        else if (strcmp(token, "reason") == 0)
            e->reason = (char *)value;
        else if (strcmp(token, "duration-ms") == 0)
            duration = strtoll(value, NULL, 10);
        else if (strcmp(token, "at-ms") == 0)
            e->at_ms = strtoll(value, NULL, 10);
        else if (strcmp(token, "jobs") == 0)
            e->deployment_job_count = (uint32_t)strtoul(value, NULL, 10);
        else
            return dr_error_set(err, DR_ERR_USAGE, "unknown key '%s'", token);
    }
    if (e->state != DROVER__V1__JOB_STATE__JOB_STATE_PENDING)
        e->started_at_ms = e->at_ms - duration;
    return DR_OK;
}

static dr_status produce_lines(context *c, dr_error *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    dr_status status = DR_OK;
    size_t number = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        number++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        const char *start = line + strspn(line, " \t");
        if (!*start || *start == '#')
            continue;
        Drover__V1__StatusEvent e = DROVER__V1__STATUS_EVENT__INIT;
        char job_id[512];
        if ((status = parse_line(c, line, &e, job_id, sizeof job_id, err)) != DR_OK) {
            dr_error_wrap(err, "line %zu", number);
            break;
        }
        if ((status = send_event(c, &e, err)) != DR_OK)
            break;
    }
    free(line);
    return status;
}

/* TEXT with "\xNN" escapes into bytes; returns the length. */
static size_t unescape(const char *text, char *out)
{
    size_t o = 0;
    for (size_t i = 0; text[i]; i++) {
        unsigned byte;
        if (text[i] == '\\' && text[i + 1] == 'x' && sscanf(text + i + 2, "%2x", &byte) == 1) {
            out[o++] = (char)byte;
            i += 3;
        } else {
            out[o++] = text[i];
        }
    }
    return o;
}

static dr_status produce_raw(context *c, const char *key, const char *text, dr_error *err)
{
    char *bytes = malloc(strlen(text) + 1);
    if (!bytes)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    size_t len = unescape(text, bytes);
    dr_status status = dr_kafka_produce(c->producer, DR_TOPIC_STATUS, key, bytes, len, NULL, NULL, err);
    free(bytes);
    if (status == DR_OK)
        c->produced++;
    return status;
}

static dr_status generate(context *c, long deployments, long targets, dr_error *err)
{
    static const char *const accounts[] = {"111111111111", "222222222222", "333333333333"};
    static const char *const regions[] = {"eu-west-1", "us-east-1"};
    dr_status status = DR_OK;
    int64_t now = dr_now_ms();
    for (long d = 1; d <= deployments && status == DR_OK; d++) {
        char deployment[64];
        snprintf(deployment, sizeof deployment, "bench-%ld", d);
        /* Pass 0: every job PENDING (the producer's first write); 1: IN_PROGRESS; 2: SUCCESS. */
        for (int pass = 0; pass < 3 && status == DR_OK; pass++) {
            for (long t = 0; t < targets && status == DR_OK; t++) {
                char target[64], job_id[160];
                snprintf(target, sizeof target, "target-%06ld", t);
                dr_job_id_format(job_id, sizeof job_id, deployment, target);
                Drover__V1__StatusEvent e = DROVER__V1__STATUS_EVENT__INIT;
                e.schema_version = DR_SCHEMA_VERSION;
                e.deployment_id = deployment;
                e.job_id = job_id;
                e.target_id = target;
                e.account = (char *)accounts[t % 3];
                e.region = (char *)regions[(t / 3) % 2];
                e.package = (char *)c->package;
                e.version = (char *)c->version;
                e.worker_id = "drover_test_status";
                e.attempt = 1;
                e.state = pass == 0   ? DROVER__V1__JOB_STATE__JOB_STATE_PENDING
                          : pass == 1 ? DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS
                                      : DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS;
                e.started_at_ms = pass ? now + t : 0;
                e.at_ms = now + t + pass * 100;
                status = send_event(c, &e, err);
            }
        }
    }
    return status;
}

/* ---- reading a Rollup ---- */

typedef struct rollup_search {
    const char *deployment_id;
    void *latest;
    size_t latest_len;
    int tombstoned;
} rollup_search;

static int keep_latest(void *ctx, const char *key, size_t key_len, const void *value, size_t value_len,
                       int64_t timestamp_ms)
{
    (void)timestamp_ms;
    rollup_search *s = ctx;
    if (key_len != strlen(s->deployment_id) || memcmp(key, s->deployment_id, key_len) != 0)
        return 0;
    free(s->latest);
    s->latest = NULL;
    s->latest_len = 0;
    s->tombstoned = value == NULL;
    if (value) {
        s->latest = malloc(value_len ? value_len : 1);
        if (s->latest) {
            memcpy(s->latest, value, value_len);
            s->latest_len = value_len;
        }
    }
    return 0;
}

static void print_counts(const char *prefix, Drover__V1__StateCount **counts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%s=%llu\n", prefix, dr_job_state_name(counts[i]->state), (unsigned long long)counts[i]->count);
}

static dr_status print_rollup(context *c, const char *deployment_id, dr_error *err)
{
    rollup_search s = {deployment_id, NULL, 0, 0};
    Drover__V1__Rollup *r = NULL;
    dr_status status = dr_kafka_read_topic(&c->kafka, DR_TOPIC_ROLLUPS, keep_latest, &s, 30000, err);
    if (status != DR_OK)
        goto cleanup;
    if (!s.latest) {
        status = dr_error_set(err, DR_ERR_USAGE, "no rollup for deployment %s", deployment_id);
        goto cleanup;
    }
    if ((status = dr_rollup_decode(s.latest, s.latest_len, &r, err)) != DR_OK)
        goto cleanup;
    printf("deployment_id=%s\npackage=%s\nversion=%s\nstatus=%s\ntotal_jobs=%llu\n", r->deployment_id, r->package,
           r->version, dr_deployment_status_name(r->status), (unsigned long long)r->total_jobs);
    printf("started_at_ms=%lld\nupdated_at_ms=%lld\nfinished_at_ms=%lld\n", (long long)r->started_at_ms,
           (long long)r->updated_at_ms, (long long)r->finished_at_ms);
    print_counts("count ", r->counts, r->n_counts);
    for (size_t i = 0; i < r->n_locations; i++) {
        char prefix[512];
        snprintf(prefix, sizeof prefix, "location %s/%s ", r->locations[i]->account, r->locations[i]->region);
        print_counts(prefix, r->locations[i]->counts, r->locations[i]->n_counts);
    }
    for (size_t i = 0; i < r->n_failed_targets; i++)
        printf("failed %s %s reason=%s message=%s\n", r->failed_targets[i]->target_id,
               dr_job_state_name(r->failed_targets[i]->state), r->failed_targets[i]->reason,
               r->failed_targets[i]->message);
cleanup:
    if (r)
        drover__v1__rollup__free_unpacked(r, NULL);
    free(s.latest);
    return status;
}

int main(int argc, char **argv)
{
    int exit_code = 2;
    dr_error err = {0};
    context c = {0};
    char *const *args = NULL;
    dr_config *cfg = dr_config_new(settings, sizeof settings / sizeof settings[0]);
    if (!cfg)
        return 1;
    if (dr_config_load(cfg, argc - 1, argv + 1, &err) != DR_OK) {
        fprintf(stderr, "drover_test_status: %s\n%s\n", err.detail, usage);
        goto done;
    }
    size_t nargs = dr_config_positional(cfg, &args);
    const char *verb = nargs ? args[0] : "produce";
    dr_log_init("drover_test_status", DR_LOG_WARN);
    dr_kafka_options_from_config(&c.kafka, cfg, "drover_test_status");
    c.package = dr_config_string(cfg, "package");
    c.version = dr_config_string(cfg, "version");

    dr_status status;
    if (strcmp(verb, "rollup") == 0 && nargs == 2) {
        status = print_rollup(&c, args[1], &err);
    } else if ((strcmp(verb, "produce") == 0 && nargs <= 1) || (strcmp(verb, "raw") == 0 && nargs == 3) ||
               (strcmp(verb, "generate") == 0 && nargs == 3)) {
        if ((status = dr_kafka_producer_new(&c.kafka, &c.producer, &err)) == DR_OK) {
            if (verb[0] == 'p')
                status = produce_lines(&c, &err);
            else if (verb[0] == 'r')
                status = produce_raw(&c, args[1], args[2], &err);
            else
                status = generate(&c, strtol(args[1], NULL, 10), strtol(args[2], NULL, 10), &err);
            dr_error flush_err = {0};
            dr_status flushed = dr_kafka_producer_flush(c.producer, 60000, &flush_err);
            if (status == DR_OK && flushed != DR_OK) {
                status = flushed;
                err = flush_err;
            }
            if (status == DR_OK)
                printf("produced %zu\n", c.produced);
        }
    } else {
        fprintf(stderr, "%s\n", usage);
        goto done;
    }
    if (status != DR_OK) {
        fprintf(stderr, "drover_test_status %s: %s\n", verb, err.detail);
        exit_code = 1;
    } else {
        exit_code = 0;
    }
done:
    dr_kafka_producer_free(c.producer);
    dr_config_free(cfg);
    return exit_code;
}
