/*
 * deploy.c - publish a deployment: announce it, then release its jobs.
 */
#include "deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "messages.h"
#include "names.h"

/* A deadline or script timeout beyond a year is a typo, not a plan. */
#define MAX_SECONDS (366LL * 24 * 3600)

dr_status dr_action_parse(const char *text, Drover__V1__Action *out, dr_error *err)
{
    if (strcmp(text, "install") == 0)
        *out = DROVER__V1__ACTION__ACTION_INSTALL;
    else if (strcmp(text, "uninstall") == 0)
        *out = DROVER__V1__ACTION__ACTION_UNINSTALL;
    else
        return dr_error_set(err, DR_ERR_USAGE, "--action: '%.32s' is not install or uninstall", text);
    return DR_OK;
}

dr_status dr_installation_type_parse(const char *text, Drover__V1__InstallationType *out, dr_error *err)
{
    if (strcmp(text, "reinstall") == 0)
        *out = DROVER__V1__INSTALLATION_TYPE__INSTALLATION_TYPE_UNINSTALL_REINSTALL;
    else if (strcmp(text, "in-place") == 0)
        *out = DROVER__V1__INSTALLATION_TYPE__INSTALLATION_TYPE_IN_PLACE_UPDATE;
    else
        return dr_error_set(err, DR_ERR_USAGE, "--installation-type: '%.32s' is not reinstall or in-place", text);
    return DR_OK;
}

dr_status dr_deploy_request_check(const dr_deploy_request *r, dr_error *err)
{
    for (size_t i = 0; i < r->argument_count; i++) {
        dr_status status = dr_check_argument(r->arguments[i], err);
        if (status != DR_OK)
            return status;
        size_t key_len = (size_t)(strchr(r->arguments[i], '=') - r->arguments[i]);
        for (size_t j = 0; j < i; j++)
            if (strncmp(r->arguments[j], r->arguments[i], key_len + 1) == 0)
                return dr_error_set(err, DR_ERR_USAGE, "--arg %.*s is given twice", (int)key_len, r->arguments[i]);
    }
    dr_status status;
    if ((status = dr_check_rate_control("--max-concurrency", r->max_concurrency, 0, err)) != DR_OK ||
        (status = dr_check_rate_control("--max-errors", r->max_errors, 1, err)) != DR_OK)
        return status;
    if (r->deadline_seconds < 0 || r->deadline_seconds > MAX_SECONDS)
        return dr_error_set(err, DR_ERR_USAGE, "--deadline-seconds: %lld is not between 0 and %lld",
                            r->deadline_seconds, MAX_SECONDS);
    if (r->script_timeout_seconds < 0 || r->script_timeout_seconds > MAX_SECONDS)
        return dr_error_set(err, DR_ERR_USAGE, "--script-timeout: %lld is not between 0 and %lld",
                            r->script_timeout_seconds, MAX_SECONDS);
    return DR_OK;
}

/* The (checked) arguments as KeyValues: keys copied, values pointing into the request's strings. */
static dr_status build_arguments(dr_deployment *d, const dr_deploy_request *r, dr_error *err)
{
    size_t n = r->argument_count;
    d->argument_values = calloc(n + 1, sizeof *d->argument_values);
    d->argument_pointers = calloc(n + 1, sizeof *d->argument_pointers);
    d->argument_keys = calloc(n + 1, sizeof *d->argument_keys);
    if (!d->argument_values || !d->argument_pointers || !d->argument_keys)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(r->arguments[i], '=');
        d->argument_keys[i] = strndup(r->arguments[i], (size_t)(eq - r->arguments[i]));
        if (!d->argument_keys[i])
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        drover__v1__key_value__init(&d->argument_values[i]);
        d->argument_values[i].key = d->argument_keys[i];
        d->argument_values[i].value = (char *)(eq + 1);
        d->argument_pointers[i] = &d->argument_values[i];
    }
    d->message.n_additional_arguments = n;
    d->message.additional_arguments = d->argument_pointers;
    return DR_OK;
}

dr_status dr_deployment_build(dr_deployment *out, const dr_deploy_request *r, dr_error *err)
{
    memset(out, 0, sizeof *out);
    Drover__V1__Deployment *m = &out->message;
    drover__v1__deployment__init(m);
    drover__v1__rate_controls__init(&out->rate_controls);
    dr_status status = dr_deploy_request_check(r, err);
    if (status == DR_OK)
        status = build_arguments(out, r, err);
    if (status != DR_OK)
        return status;
    int64_t now = dr_now_ms();
    m->schema_version = DR_SCHEMA_VERSION;
    m->deployment_id = (char *)r->deployment_id;
    m->package = (char *)r->package;
    m->version = (char *)r->version;
    m->action = r->action;
    m->installation_type = r->installation_type;
    m->selection = (Drover__V1__TargetSelection *)r->selection;
    out->rate_controls.max_concurrency = (char *)r->max_concurrency;
    out->rate_controls.max_errors = (char *)r->max_errors;
    m->rate_controls = &out->rate_controls;
    m->deadline_ms = r->deadline_seconds ? now + r->deadline_seconds * 1000 : 0;
    m->created_at_ms = now;
    m->created_by = (char *)(r->created_by ? r->created_by : "");
    m->script_timeout_seconds = (uint32_t)r->script_timeout_seconds;
    return DR_OK;
}

void dr_deployment_free(dr_deployment *d)
{
    /* The key array is NULL-terminated (calloc'd one longer), also after a failure half-way. */
    for (size_t i = 0; d->argument_keys && d->argument_keys[i]; i++)
        free(d->argument_keys[i]);
    free(d->argument_keys);
    free(d->argument_pointers);
    free(d->argument_values);
    memset(d, 0, sizeof *d);
}

/* Delivery outcomes of one batch, counted on the thread that flushes. */
typedef struct delivery_count {
    size_t acknowledged;
    size_t failed;
} delivery_count;

static void on_delivered(void *opaque, dr_status status, const char *message)
{
    delivery_count *count = opaque;
    (void)message; /* the flush's error names the first failure */
    if (status == DR_OK)
        count->acknowledged++;
    else
        count->failed++;
}

/* Encode message and queue it; the encoded copy is freed at once (the producer copies). */
static dr_status produce_message(dr_kafka_producer *producer, dr_topic topic, const char *key,
                                 const ProtobufCMessage *message, delivery_count *count, dr_error *err)
{
    size_t len;
    uint8_t *bytes = dr_message_encode(message, &len);
    if (!bytes)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory encoding a %s", message->descriptor->short_name);
    dr_status status = dr_kafka_produce(producer, topic, key, bytes, len, on_delivered, count, err);
    free(bytes);
    return status;
}

/* The Deployment and a PENDING event per job: what the aggregator needs before any job runs. */
static dr_status announce(dr_kafka_producer *producer, const dr_deploy_plan *plan, int timeout_ms, dr_error *err)
{
    const Drover__V1__Deployment *d = plan->deployment;
    delivery_count count = {0};
    char job_id[512];
    dr_status status =
        produce_message(producer, DR_TOPIC_DEPLOYMENTS, d->deployment_id, &d->base, &count, err);
    int64_t now = dr_now_ms();
    for (size_t i = 0; status == DR_OK && i < plan->target_count; i++) {
        const Drover__V1__Target *target = plan->targets[i];
        Drover__V1__StatusEvent event = DROVER__V1__STATUS_EVENT__INIT;
        snprintf(job_id, sizeof job_id, "%s/%s", d->deployment_id, target->target_id);
        event.schema_version = DR_SCHEMA_VERSION;
        event.job_id = job_id;
        event.deployment_id = d->deployment_id;
        event.target_id = target->target_id;
        event.account = target->account;
        event.region = target->region;
        event.package = d->package;
        event.version = d->version;
        event.state = DROVER__V1__JOB_STATE__JOB_STATE_PENDING;
        event.at_ms = now;
        event.attempt = 1;
        status = produce_message(producer, DR_TOPIC_STATUS, d->deployment_id, &event.base, &count, err);
    }
    if (status == DR_OK)
        status = dr_kafka_producer_flush(producer, timeout_ms, err);
    if (status == DR_OK && count.acknowledged != plan->target_count + 1)
        status = dr_error_set(err, DR_ERR_KAFKA, "%zu of %zu messages acknowledged", count.acknowledged,
                              plan->target_count + 1);
    if (status != DR_OK)
        dr_error_wrap(err, "announcing deployment %s", d->deployment_id);
    return status;
}

static dr_status release_jobs(dr_kafka_producer *producer, const dr_deploy_plan *plan, int timeout_ms,
                              size_t *acknowledged, dr_error *err)
{
    const Drover__V1__Deployment *d = plan->deployment;
    const Drover__V1__PackageVersion *v = plan->version;
    delivery_count count = {0};
    char job_id[512];
    dr_status status = DR_OK;
    int64_t now = dr_now_ms();
    for (size_t i = 0; status == DR_OK && i < plan->target_count; i++) {
        Drover__V1__Target *target = (Drover__V1__Target *)plan->targets[i];
        Drover__V1__Job job = DROVER__V1__JOB__INIT;
        snprintf(job_id, sizeof job_id, "%s/%s", d->deployment_id, target->target_id);
        job.schema_version = DR_SCHEMA_VERSION;
        job.job_id = job_id;
        job.deployment_id = d->deployment_id;
        job.target = target;
        job.package = d->package;
        job.version = d->version;
        job.action = d->action;
        job.installation_type = d->installation_type;
        job.n_additional_arguments = d->n_additional_arguments;
        job.additional_arguments = d->additional_arguments;
        job.manifest_url = v->manifest_url;
        job.manifest_sha256 = v->manifest_sha256;
        job.artifacts_base_url = v->artifacts_base_url;
        job.deadline_ms = d->deadline_ms;
        job.script_timeout_seconds = d->script_timeout_seconds;
        job.released_at_ms = now;
        job.attempt = 1;
        status = produce_message(producer, DR_TOPIC_JOBS, target->target_id, &job.base, &count, err);
    }
    /* Flush even after a failed produce: what was queued is reported, not guessed. */
    dr_error flush_err = {0};
    dr_status flushed = dr_kafka_producer_flush(producer, timeout_ms, &flush_err);
    if (status == DR_OK && flushed != DR_OK) {
        status = flushed;
        if (err)
            *err = flush_err;
    }
    *acknowledged = count.acknowledged;
    if (status == DR_OK && count.acknowledged != plan->target_count)
        status = dr_error_set(err, DR_ERR_KAFKA, "%zu of %zu jobs acknowledged", count.acknowledged,
                              plan->target_count);
    return status;
}

dr_status dr_deploy_publish(dr_kafka_producer *producer, const dr_deploy_plan *plan, int timeout_ms,
                            dr_deploy_progress *progress, dr_error *err)
{
    memset(progress, 0, sizeof *progress);
    /*
     * A producer learns a topic's partitions when it first sees the topic;
     * one first named after the announce's flush waits for librdkafka's
     * 1-second topic scan.  Naming the jobs topic now has its metadata
     * fetched while the announce is in flight.
     */
    char jobs_topic[256];
    dr_kafka_topic_name(plan->options, DR_TOPIC_JOBS, jobs_topic, sizeof jobs_topic);
    rd_kafka_topic_t *jobs = rd_kafka_topic_new(dr_kafka_producer_handle(producer), jobs_topic, NULL);
    dr_status status = announce(producer, plan, timeout_ms, err);
    if (status == DR_OK) {
        progress->announced = 1;
        status = release_jobs(producer, plan, timeout_ms, &progress->jobs_acknowledged, err);
    }
    if (jobs)
        rd_kafka_topic_destroy(jobs);
    return status;
}

void dr_deployment_id_generate(char *buf, size_t size)
{
    unsigned char random[3];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        /* No entropy source: time and pid still tell two runs apart. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long mix = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 8);
        random[0] = (unsigned char)mix;
        random[1] = (unsigned char)(mix >> 8);
        random[2] = (unsigned char)(mix >> 16);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
    snprintf(buf, size, "d-%s-%02x%02x%02x", stamp, random[0], random[1], random[2]);
}

dr_status dr_check_rate_control(const char *flag, const char *value, int zero_allowed, dr_error *err)
{
    size_t len = strlen(value);
    size_t digits = strspn(value, "0123456789");
    int percent = digits > 0 && digits + 1 == len && value[digits] == '%';
    int count = digits > 0 && digits == len;
    int valid = 0;
    if (percent)
        valid = (digits <= 2 && (value[0] != '0' || (digits == 1 && zero_allowed))) || strcmp(value, "100%") == 0;
    else if (count)
        valid = digits <= 9 && (value[0] != '0' || (digits == 1 && zero_allowed));
    if (!valid)
        return dr_error_set(err, DR_ERR_USAGE, "%s: '%.32s' is not a count (%s) or a percentage (%s-100%%)", flag,
                            value, zero_allowed ? "0, 1, 2, ..." : "1, 2, ...", zero_allowed ? "0%" : "1%");
    return DR_OK;
}
