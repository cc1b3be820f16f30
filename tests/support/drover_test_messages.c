/*
 * drover_test_messages - what drover-producer wrote, as text, and rollups
 * as an aggregator would publish them, for the producer's tests.
 *
 *   drover_test_messages --brokers B dump jobs|status|deployments
 *       Every message of the topic, in partition order, one line each:
 *       "key=K field=value ..." (see dump_* below for the fields).
 *   drover_test_messages --brokers B rollup DEPLOYMENT STATUS TOTAL [STATE=N ...]
 *                        [failed=TARGET:STATE:REASON:MESSAGE ...]
 *       Publishes one Rollup keyed DEPLOYMENT: STATUS is PENDING,
 *       IN_PROGRESS, SUCCESS, FAILED, INCOMPLETE or CANCELLED; each STATE=N
 *       a count; each failed= a failed target.
 * Exit 1 on any error, with the reason on stderr.
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
};

static const char usage[] =
    "usage: drover_test_messages --brokers B (dump jobs|status|deployments | "
    "rollup DEPLOYMENT STATUS TOTAL [STATE=N ...] [failed=TARGET:STATE:REASON:MESSAGE ...])";

static void print_arguments(Drover__V1__KeyValue *const *items, size_t n)
{
    printf(" args=");
    for (size_t i = 0; i < n; i++)
        printf("%s%s=%s", i ? ";" : "", items[i]->key, items[i]->value);
}

static void dump_job(const Drover__V1__Job *j)
{
    const Drover__V1__Target *t = j->target;
    printf(
        " job_id=%s deployment=%s target=%s account=%s region=%s platform=%s platform_version=%s arch=%s "
        "package=%s version=%s action=%s type=%s manifest_url=%s manifest_sha256=%s artifacts=%s deadline_ms=%lld "
        "script_timeout=%u released_at_ms=%lld attempt=%u schema=%u key_id=%s signature_bytes=%zu",
        j->job_id, j->deployment_id, t ? t->target_id : "-", t ? t->account : "-", t ? t->region : "-",
        t ? t->platform_name : "-", t ? t->platform_version : "-", t ? t->arch : "-", j->package, j->version,
        dr_action_name(j->action), dr_installation_type_name(j->installation_type), j->manifest_url, j->manifest_sha256,
        j->artifacts_base_url, (long long)j->deadline_ms, j->script_timeout_seconds, (long long)j->released_at_ms,
        j->attempt, j->schema_version, j->key_id[0] ? j->key_id : "-", j->signature.len);
    print_arguments(j->additional_arguments, j->n_additional_arguments);
}

static void dump_status(const Drover__V1__StatusEvent *e)
{
    printf(" job_id=%s deployment=%s target=%s account=%s region=%s package=%s version=%s state=%s attempt=%u",
           e->job_id, e->deployment_id, e->target_id, e->account, e->region, e->package, e->version,
           dr_job_state_name(e->state), e->attempt);
}

static void print_list(const char *name, char *const *items, size_t n)
{
    printf(" %s=", name);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? "," : "", items[i]);
}

static void dump_deployment(const Drover__V1__Deployment *d)
{
    printf(
        " deployment=%s package=%s version=%s action=%s type=%s deadline_ms=%lld script_timeout=%u "
        "max_concurrency=%s max_errors=%s",
        d->deployment_id, d->package, d->version, dr_action_name(d->action),
        dr_installation_type_name(d->installation_type), (long long)d->deadline_ms, d->script_timeout_seconds,
        d->rate_controls ? d->rate_controls->max_concurrency : "-",
        d->rate_controls ? d->rate_controls->max_errors : "-");
    print_arguments(d->additional_arguments, d->n_additional_arguments);
    if (d->selection) {
        print_list("targets", d->selection->target_ids, d->selection->n_target_ids);
        print_list("accounts", d->selection->accounts, d->selection->n_accounts);
        print_list("regions", d->selection->regions, d->selection->n_regions);
        printf(" tags=");
        for (size_t i = 0; i < d->selection->n_tags; i++) {
            printf("%s%s=", i ? ";" : "", d->selection->tags[i]->key);
            for (size_t v = 0; v < d->selection->tags[i]->n_values; v++)
                printf("%s%s", v ? "|" : "", d->selection->tags[i]->values[v]);
        }
        printf(" all=%d", d->selection->all);
    }
}

static int on_record(void *ctx, const char *key, size_t key_len, const void *value, size_t value_len,
                     int64_t timestamp_ms)
{
    const char *topic = ctx;
    dr_error err = {0};
    (void)timestamp_ms;
    printf("key=%.*s", (int)key_len, key);
    if (strcmp(topic, "jobs") == 0) {
        Drover__V1__Job *job = NULL;
        if (dr_job_decode(value, value_len, &job, &err) == DR_OK) {
            dump_job(job);
            drover__v1__job__free_unpacked(job, NULL);
        }
    } else if (strcmp(topic, "status") == 0) {
        Drover__V1__StatusEvent *event = NULL;
        if (dr_status_event_decode(value, value_len, &event, &err) == DR_OK) {
            dump_status(event);
            drover__v1__status_event__free_unpacked(event, NULL);
        }
    } else {
        Drover__V1__Deployment *deployment = NULL;
        if (dr_deployment_decode(value, value_len, &deployment, &err) == DR_OK) {
            dump_deployment(deployment);
            drover__v1__deployment__free_unpacked(deployment, NULL);
        }
    }
    if (err.status != DR_OK)
        printf(" damaged=\"%s\"", err.detail);
    printf("\n");
    return 0;
}

static dr_status dump(const dr_kafka_options *kafka, const char *topic_name, dr_error *err)
{
    dr_topic topic;
    if (strcmp(topic_name, "jobs") == 0)
        topic = DR_TOPIC_JOBS;
    else if (strcmp(topic_name, "status") == 0)
        topic = DR_TOPIC_STATUS;
    else if (strcmp(topic_name, "deployments") == 0)
        topic = DR_TOPIC_DEPLOYMENTS;
    else
        return dr_error_set(err, DR_ERR_USAGE, "dump: unknown topic '%s'", topic_name);
    return dr_kafka_read_topic(kafka, topic, on_record, (void *)topic_name, 30000, err);
}

static int parse_deployment_status(const char *name)
{
    for (int s = 1; s <= DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_REJECTED; s++)
        if (strcmp(dr_deployment_status_name((Drover__V1__DeploymentStatus)s), name) == 0)
            return s;
    return -1;
}

/* Build the rollup from the arguments after "rollup" and publish it. */
static dr_status publish_rollup(const dr_kafka_options *kafka, char *const *args, size_t n, dr_error *err)
{
    dr_status status = DR_OK;
    dr_kafka_producer *producer = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    Drover__V1__StateCount counts[16], *count_pointers[16];
    Drover__V1__FailedTarget failed[16], *failed_pointers[16];
    char failed_text[16][512];
    Drover__V1__Rollup rollup = DROVER__V1__ROLLUP__INIT;
    if (n < 3) {
        status = dr_error_set(err, DR_ERR_USAGE, "%s", usage);
        goto cleanup;
    }
    int deployment_status = parse_deployment_status(args[1]);
    if (deployment_status < 0) {
        status = dr_error_set(err, DR_ERR_USAGE, "unknown deployment status '%s'", args[1]);
        goto cleanup;
    }
    rollup.schema_version = DR_SCHEMA_VERSION;
    rollup.deployment_id = args[0];
    rollup.package = "acme-agent";
    rollup.version = "1.0";
    rollup.status = (Drover__V1__DeploymentStatus)deployment_status;
    rollup.total_jobs = strtoull(args[2], NULL, 10);
    rollup.updated_at_ms = dr_now_ms();
    rollup.counts = count_pointers;
    rollup.failed_targets = failed_pointers;
    for (size_t i = 3; i < n; i++) {
        if (strncmp(args[i], "failed=", 7) == 0 && rollup.n_failed_targets < 16) {
            char *text = failed_text[rollup.n_failed_targets], *rest;
            snprintf(text, sizeof failed_text[0], "%s", args[i] + 7);
            Drover__V1__FailedTarget *f = &failed[rollup.n_failed_targets];
            drover__v1__failed_target__init(f);
            f->target_id = strtok_r(text, ":", &rest);
            const char *state_name = strtok_r(NULL, ":", &rest);
            int state = state_name ? dr_job_state_parse(state_name) : -1;
            f->state = state > 0 ? (Drover__V1__JobState)state : DROVER__V1__JOB_STATE__JOB_STATE_FAILED;
            f->reason = strtok_r(NULL, ":", &rest);
            if (!f->reason)
                f->reason = "";
            f->message = rest ? rest : "";
            failed_pointers[rollup.n_failed_targets++] = f;
            continue;
        }
        char *eq = strchr(args[i], '=');
        char state_name[64];
        snprintf(state_name, sizeof state_name, "%.*s", eq ? (int)(eq - args[i]) : 0, args[i]);
        int state = dr_job_state_parse(state_name);
        if (!eq || state < 0 || rollup.n_counts >= 16) {
            status = dr_error_set(err, DR_ERR_USAGE, "'%s' is not STATE=N or failed=...", args[i]);
            goto cleanup;
        }
        Drover__V1__StateCount *c = &counts[rollup.n_counts];
        drover__v1__state_count__init(c);
        c->state = (Drover__V1__JobState)state;
        c->count = strtoull(eq + 1, NULL, 10);
        count_pointers[rollup.n_counts++] = c;
    }
    bytes = dr_message_encode(&rollup.base, &len);
    if (!bytes) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if ((status = dr_kafka_producer_new(kafka, &producer, err)) != DR_OK ||
        (status = dr_kafka_produce(producer, DR_TOPIC_ROLLUPS, args[0], bytes, len, NULL, NULL, err)) != DR_OK)
        goto cleanup;
    status = dr_kafka_producer_flush(producer, 10000, err);

cleanup:
    if (producer)
        dr_kafka_producer_free(producer);
    free(bytes);
    return status;
}

int main(int argc, char **argv)
{
    dr_error err = {0};
    dr_status status = DR_OK;
    dr_config *cfg = dr_config_new(settings, sizeof settings / sizeof settings[0]);
    if (!cfg || dr_config_load(cfg, argc - 1, argv + 1, &err) != DR_OK) {
        fprintf(stderr, "drover_test_messages: %s\n", cfg ? err.detail : "out of memory");
        dr_config_free(cfg);
        return 1;
    }
    dr_log_init("drover_test_messages", DR_LOG_WARN);
    dr_kafka_options kafka;
    dr_kafka_options_from_config(&kafka, cfg, "drover_test_messages");
    char *const *args;
    size_t n = dr_config_positional(cfg, &args);
    if (n == 2 && strcmp(args[0], "dump") == 0)
        status = dump(&kafka, args[1], &err);
    else if (n >= 1 && strcmp(args[0], "rollup") == 0)
        status = publish_rollup(&kafka, args + 1, n - 1, &err);
    else
        status = dr_error_set(&err, DR_ERR_USAGE, "%s", usage);
    if (status != DR_OK)
        fprintf(stderr, "drover_test_messages: %s\n", err.detail);
    dr_config_free(cfg);
    return status == DR_OK ? 0 : 1;
}
