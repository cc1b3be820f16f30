/*
 * deploy.c - publish a deployment (the Deployment and its PENDING events);
 * the control plane (serve) releases its jobs.
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
#include "publish.h"
#include "request_signing.h"
#include "table.h"

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
    if ((status = dr_rate_control_check("--max-concurrency", r->max_concurrency, 0, err)) != DR_OK ||
        (status = dr_rate_control_check("--max-errors", r->max_errors, 1, err)) != DR_OK)
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

static int compare_ids(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int dr_targets_digest(const char *const *ids, size_t n, char out[DR_SHA256_HEX_SIZE])
{
    const char **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return -1;
    memcpy(sorted, ids, n * sizeof *sorted);
    dr_sha256 *ctx = dr_sha256_new();
    if (!ctx) {
        free(sorted);
        return -1;
    }
    qsort(sorted, n, sizeof *sorted, compare_ids);
    for (size_t i = 0; i < n; i++) {
        dr_sha256_update(ctx, sorted[i], strlen(sorted[i]));
        dr_sha256_update(ctx, "\n", 1);
    }
    dr_sha256_final_hex(ctx, out);
    dr_sha256_free(ctx);
    free(sorted);
    return 0;
}

/* The Deployment with its targets digest, signed by the plan's operator key. */
static dr_status publish_deployment(dr_kafka_producer *producer, const dr_deploy_plan *plan, dr_publish_count *count,
                                    dr_error *err)
{
    Drover__V1__Deployment d = *plan->deployment;
    char digest[DR_SHA256_HEX_SIZE];
    const char **ids = malloc((plan->target_count ? plan->target_count : 1) * sizeof *ids);
    uint8_t *bytes = NULL;
    size_t len = 0;
    dr_status status = DR_OK;
    if (!ids)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < plan->target_count; i++)
        ids[i] = plan->targets[i]->target_id;
    if (dr_targets_digest(ids, plan->target_count, digest) != 0)
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    d.targets_sha256 = digest;
    if (status == DR_OK && (status = dr_request_encode(plan->operator_key, &d.base, &bytes, &len, err)) == DR_OK)
        status = dr_publish_bytes(producer, DR_TOPIC_DEPLOYMENTS, d.deployment_id, bytes, len, count, err);
    free(bytes);
    free(ids);
    return status;
}

/* A PENDING event per job, then the Deployment: what the aggregator and the control plane need. */
static dr_status announce(dr_kafka_producer *producer, const dr_deploy_plan *plan, int timeout_ms, size_t *acknowledged,
                          dr_error *err)
{
    const Drover__V1__Deployment *d = plan->deployment;
    const char *max_errors = d->rate_controls && d->rate_controls->max_errors ? d->rate_controls->max_errors : "";
    dr_publish_count count = {0};
    char job_id[512];
    dr_status status = DR_OK;
    int64_t now = dr_now_ms();
    for (size_t i = 0; status == DR_OK && i < plan->target_count; i++) {
        const Drover__V1__Target *target = plan->targets[i];
        Drover__V1__StatusEvent event;
        dr_job_id_format(job_id, sizeof job_id, d->deployment_id, target->target_id);
        dr_status_event_start(&event, d->deployment_id, job_id, target->target_id, target->account, target->region,
                              d->package, d->version, DROVER__V1__JOB_STATE__JOB_STATE_PENDING, now);
        event.max_errors = (char *)max_errors;
        event.attempt = 1;
        event.deployment_job_count = (uint32_t)plan->target_count;
        status = dr_publish_message(producer, DR_TOPIC_STATUS, d->deployment_id, &event.base, &count, err);
    }
    if (status == DR_OK)
        status = publish_deployment(producer, plan, &count, err);
    /* Flush even after a failed produce: what was queued is reported, not guessed. */
    dr_error flush_err = {0};
    dr_status flushed = dr_publish_flush(producer, &count, timeout_ms, &flush_err);
    if (status == DR_OK && flushed != DR_OK) {
        status = flushed;
        if (err)
            *err = flush_err;
    }
    *acknowledged = count.acknowledged;
    if (status == DR_OK && count.acknowledged != plan->target_count + 1)
        status = dr_error_set(err, DR_ERR_KAFKA, "%zu of %zu messages acknowledged", count.acknowledged,
                              plan->target_count + 1);
    if (status != DR_OK)
        dr_error_wrap(err, "announcing deployment %s", d->deployment_id);
    return status;
}

dr_status dr_deploy_publish(dr_kafka_producer *producer, const dr_deploy_plan *plan, int timeout_ms,
                            dr_deploy_progress *progress, dr_error *err)
{
    memset(progress, 0, sizeof *progress);
    dr_status status = announce(producer, plan, timeout_ms, &progress->acknowledged, err);
    progress->announced = status == DR_OK;
    return status;
}

void dr_job_fill(Drover__V1__Job *job, const Drover__V1__Deployment *d, const Drover__V1__PackageVersion *v,
                 Drover__V1__Target *target, char *job_id, size_t job_id_size, int64_t now_ms, int64_t expiry_ms)
{
    drover__v1__job__init(job);
    dr_job_id_format(job_id, job_id_size, d->deployment_id, target->target_id);
    job->schema_version = DR_SCHEMA_VERSION;
    job->job_id = job_id;
    job->deployment_id = d->deployment_id;
    job->target = target;
    job->package = d->package;
    job->version = d->version;
    job->action = d->action;
    job->installation_type = d->installation_type;
    job->n_additional_arguments = d->n_additional_arguments;
    job->additional_arguments = d->additional_arguments;
    job->manifest_url = v->manifest_url;
    job->manifest_sha256 = v->manifest_sha256;
    job->artifacts_base_url = v->artifacts_base_url;
    int64_t expires = expiry_ms > 0 ? now_ms + expiry_ms : 0;
    job->deadline_ms = d->deadline_ms > 0 && (!expires || d->deadline_ms < expires) ? d->deadline_ms : expires;
    job->script_timeout_seconds = d->script_timeout_seconds;
    job->released_at_ms = now_ms;
    job->attempt = 1;
    job->deployment_job_count = d->job_count;
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

dr_status dr_deploy_cancel(const dr_kafka_options *kafka, int timeout_ms, const char *deployment_id, const char *reason,
                           const dr_key *operator_key, dr_error *err)
{
    dr_table deployments = {0};
    uint8_t *bytes = NULL;
    dr_status status;
    if ((status = dr_table_read(kafka, DR_TOPIC_DEPLOYMENTS, timeout_ms, &deployments, err)) != DR_OK)
        goto cleanup;
    if (!dr_table_get(&deployments, deployment_id)) {
        status = dr_error_set(err, DR_ERR_USAGE, "no deployment has the id '%.128s'", deployment_id);
        goto cleanup;
    }
    char who[300] = "";
    const char *user = getenv("USER");
    gethostname(who, 255);
    if (user && strlen(user) < 40) {
        size_t used = strlen(who);
        snprintf(who + used, sizeof who - used, "%s%s", used ? "/" : "", user);
    }
    Drover__V1__Cancel cancel = DROVER__V1__CANCEL__INIT;
    cancel.schema_version = DR_SCHEMA_VERSION;
    cancel.deployment_id = (char *)deployment_id;
    cancel.reason = (char *)(reason ? reason : "");
    cancel.requested_by = who;
    cancel.at_ms = dr_now_ms();
    size_t len;
    if ((status = dr_request_encode(operator_key, &cancel.base, &bytes, &len, err)) != DR_OK)
        goto cleanup;
    status = dr_table_put(kafka, DR_TOPIC_CONTROL, deployment_id, bytes, len, timeout_ms, err);
cleanup:
    free(bytes);
    dr_table_free(&deployments);
    return status;
}
