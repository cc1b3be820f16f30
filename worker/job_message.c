#include "job_message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "names.h"
#include "proto_wire.h"
#include "sha256.h"
#include "state.h"

/* Copy a length-delimited field if it is printable text. */
static void copy_text(const uint8_t *data, uint64_t len, char *out, size_t size)
{
    if (len >= size)
        return;
    for (uint64_t i = 0; i < len; i++)
        if (data[i] < 0x20 || data[i] == 0x7f)
            return;
    memcpy(out, data, len);
    out[len] = '\0';
}

/* Walk one message's top-level fields (until damage); string fields wanted[i] go to outs[i]. */
static void salvage_fields(const uint8_t *p, size_t len, const uint32_t *wanted, char **outs, const size_t *sizes,
                           size_t count, uint32_t nested_field, const uint8_t **nested, uint64_t *nested_len)
{
    size_t at = 0;
    dr_wire_field f;
    while (dr_wire_next(p, len, &at, &f) == 1) {
        if (f.wire_type != 2)
            continue;
        for (size_t i = 0; i < count; i++)
            if (f.number == wanted[i])
                copy_text(f.data, f.len, outs[i], sizes[i]);
        if (nested && f.number == nested_field) {
            *nested = f.data;
            *nested_len = f.len;
        }
    }
}

int dr_job_salvage_ids(const void *data, size_t len, char *deployment_id, size_t deployment_size, char *job_id,
                       size_t job_size, char *target_id, size_t target_size)
{
    deployment_id[0] = job_id[0] = target_id[0] = '\0';
    const uint8_t *start = data, *target = NULL;
    uint64_t target_len = 0;
    const uint32_t job_fields[] = {3, 2};
    char *job_outs[] = {deployment_id, job_id};
    const size_t job_sizes[] = {deployment_size, job_size};
    salvage_fields(start, len, job_fields, job_outs, job_sizes, 2, 4, &target, &target_len);
    if (target) {
        const uint32_t target_fields[] = {2};
        char *target_outs[] = {target_id};
        const size_t target_sizes[] = {target_size};
        salvage_fields(target, (size_t)target_len, target_fields, target_outs, target_sizes, 1, 0, NULL, NULL);
    }
    return deployment_id[0] != '\0';
}

void dr_job_inputs_free(dr_job_inputs *in)
{
    for (size_t i = 0; i < in->arg_count; i++)
        free(in->args[i]);
    free(in->args);
    in->args = NULL;
    in->arg_count = 0;
    dr_executor_free(in->executor);
    in->executor = NULL;
}

static char *text(const char *s)
{
    return (char *)(s ? s : "");
}

static int present(const char *s)
{
    return s && s[0];
}

/* Where the job's target is: its root, and the executor that reaches it (NULL: local). */
static dr_status place_target(dr_job_inputs *in, const Drover__V1__Target *target, const dr_job_placement *placement,
                              dr_error *err)
{
    const char *executor = target->executor ? target->executor : "";
    if (placement->self_root) {
        if (snprintf(in->target_root, sizeof in->target_root, "%s", placement->self_root) >=
            (int)sizeof in->target_root)
            return dr_error_set(err, DR_ERR_USAGE, "self-root path too long");
        return DR_OK;
    }
    if (strcmp(executor, "ssh") == 0) {
        if (!placement->ssh)
            return dr_error_set(err, DR_ERR_USAGE, "target %s is reached over ssh, but this worker has no ssh-key",
                                target->target_id);
        dr_ssh_address address;
        dr_status status = dr_ssh_address_parse(target->address, &address, err);
        if (status != DR_OK)
            return dr_error_wrap(err, "target %s", target->target_id);
        snprintf(in->target_root, sizeof in->target_root, "%s", address.root);
        return dr_executor_ssh_new(placement->ssh, &address, &in->executor, err);
    }
    if (executor[0] && strcmp(executor, "local") != 0)
        return dr_error_set(err, DR_ERR_USAGE, "target %s has executor '%.32s', which this worker does not run",
                            target->target_id, executor);
    if (snprintf(in->target_root, sizeof in->target_root, "%s/%s", placement->targets_root, target->target_id) >=
        (int)sizeof in->target_root)
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "target root path too long");
    return dr_make_directories(in->target_root, err);
}

dr_status dr_job_inputs_init(dr_job_inputs *in, const Drover__V1__Job *job, const dr_job_placement *placement,
                             dr_error *err)
{
    memset(in, 0, sizeof *in);
    const Drover__V1__Target *target = job->target;
    if (!present(job->deployment_id) || !present(job->job_id))
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "the job has no deployment or job id");
    if (!target || !present(target->target_id))
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "the job names no target");
    /*
     * Ids by the rules deploy checks them with (names.h): the target id names
     * a directory, and the job id is exactly DEPLOYMENT/TARGET, so a status
     * can only ever speak for the job it came from.
     */
    dr_error check = {0};
    char want_job_id[2 * DR_NAME_MAX + 2];
    if (dr_check_id("target id", target->target_id, &check) != DR_OK ||
        dr_check_id("deployment id", job->deployment_id, &check) != DR_OK)
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "%s", check.detail);
    dr_job_id_format(want_job_id, sizeof want_job_id, job->deployment_id, target->target_id);
    if (strcmp(job->job_id, want_job_id) != 0)
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "job id '%.64s' is not %s", job->job_id, want_job_id);
    if (!present(job->package))
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "the job names no package");
    if (job->action != DROVER__V1__ACTION__ACTION_INSTALL && job->action != DROVER__V1__ACTION__ACTION_UNINSTALL)
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "unknown action %d", (int)job->action);
    if (job->action == DROVER__V1__ACTION__ACTION_INSTALL &&
        (!present(job->manifest_url) || !present(job->artifacts_base_url)))
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "an install job needs a manifest and artifacts URL");
    /* The hash is what ties the manifest to what was published: without it, anything served would do. */
    if (present(job->manifest_url) && !dr_sha256_is_hex(job->manifest_sha256 ? job->manifest_sha256 : ""))
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "the job names a manifest without its sha256");
    /* Arguments become the scripts' environment: the rule deploy checks them with (a shell name, not reserved). */
    for (size_t i = 0; i < job->n_additional_arguments; i++) {
        const Drover__V1__KeyValue *kv = job->additional_arguments[i];
        if (dr_check_argument_key(kv->key ? kv->key : "", &check) != DR_OK)
            return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "%s", check.detail);
    }

    /* Platform family from the target's ID_LIKE list, nearest first. */
    char id_like[512] = "";
    for (size_t i = 0; i < target->n_platform_family; i++) {
        size_t used = strlen(id_like);
        snprintf(id_like + used, sizeof id_like - used, "%s%s", used ? " " : "", target->platform_family[i]);
    }
    dr_status status =
        dr_platform_init(&in->platform, target->platform_name, target->platform_version, target->arch, id_like, err);
    if (status != DR_OK)
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "target platform: %s", err ? err->detail : "invalid");
    status = place_target(in, target, placement, err);
    if (status != DR_OK)
        return status;

    in->args = calloc(job->n_additional_arguments ? job->n_additional_arguments : 1, sizeof *in->args);
    if (!in->args)
        return dr_error_set(err, DR_ERR_NOMEM, "job arguments");
    for (size_t i = 0; i < job->n_additional_arguments; i++) {
        const Drover__V1__KeyValue *kv = job->additional_arguments[i];
        if (asprintf(&in->args[i], "%s=%s", kv->key ? kv->key : "", kv->value ? kv->value : "") < 0) {
            dr_job_inputs_free(in);
            return dr_error_set(err, DR_ERR_NOMEM, "job arguments");
        }
        in->arg_count++;
    }

    dr_job_request *r = &in->request;
    r->job_id = job->job_id;
    r->deployment_id = job->deployment_id;
    r->package = job->package;
    r->version = present(job->version) ? job->version : NULL;
    r->action = job->action == DROVER__V1__ACTION__ACTION_UNINSTALL ? DR_ACTION_UNINSTALL : DR_ACTION_INSTALL;
    r->installation_type = job->installation_type == DROVER__V1__INSTALLATION_TYPE__INSTALLATION_TYPE_IN_PLACE_UPDATE
                               ? DR_INSTALL_IN_PLACE
                               : DR_INSTALL_REINSTALL;
    r->manifest_source = present(job->manifest_url) ? job->manifest_url : NULL;
    /* Never NULL with a manifest: NULL is "no check", and a job's manifest is always checked. */
    r->manifest_sha256 = present(job->manifest_url) ? text(job->manifest_sha256) : NULL;
    r->artifacts_base = job->artifacts_base_url;
    r->platform = &in->platform;
    r->target_id = target->target_id;
    r->account = target->account;
    r->region = target->region;
    r->target_root = in->target_root;
    r->args = in->args;
    r->arg_count = in->arg_count;
    r->script_timeout_seconds = (long)job->script_timeout_seconds;
    r->executor = in->executor;
    return DR_OK;
}

Drover__V1__JobState dr_outcome_job_state(dr_outcome outcome)
{
    switch (outcome) {
    case DR_OUTCOME_SUCCESS:
        return DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS;
    case DR_OUTCOME_TIMED_OUT:
        return DROVER__V1__JOB_STATE__JOB_STATE_TIMED_OUT;
    case DR_OUTCOME_REJECTED:
        return DROVER__V1__JOB_STATE__JOB_STATE_REJECTED;
    case DR_OUTCOME_FAILED:
    default:
        return DROVER__V1__JOB_STATE__JOB_STATE_FAILED;
    }
}

void dr_status_event_for_job(Drover__V1__StatusEvent *event, const Drover__V1__Job *job, Drover__V1__JobState state,
                             const char *worker_id, int64_t started_at_ms)
{
    const Drover__V1__Target *target = job->target;
    dr_status_event_start(event, job->deployment_id, job->job_id, target ? target->target_id : NULL,
                          target ? target->account : NULL, target ? target->region : NULL, job->package, job->version,
                          state, dr_now_ms());
    event->worker_id = text(worker_id);
    event->started_at_ms = started_at_ms;
    event->attempt = job->attempt;
    event->deployment_job_count = job->deployment_job_count;
}

/*
 * The last DR_STATUS_TAIL_BYTES of an output tail, starting on a UTF-8
 * character: a status event is read by everyone following the topic, and
 * a partition of the embedded broker keeps only 5 MiB, so two 24 KiB tails
 * on every event would crowd out the events themselves.
 */
static char *status_tail(const char *tail)
{
    const char *t = text(tail);
    size_t len = strlen(t);
    if (len <= DR_STATUS_TAIL_BYTES)
        return (char *)t;
    t += len - DR_STATUS_TAIL_BYTES;
    while ((*t & 0xC0) == 0x80)
        t++;
    return (char *)t;
}

void dr_status_event_add_result(Drover__V1__StatusEvent *event, const dr_job_result *result)
{
    event->state = dr_outcome_job_state(result->outcome);
    if (result->outcome != DR_OUTCOME_SUCCESS) {
        event->reason = (char *)dr_status_name(result->error.status);
        event->message = (char *)result->error.detail;
    } else {
        event->message = (char *)result->summary;
    }
    event->step = (char *)result->failed_step;
    event->exit_code = result->exit_code;
    event->reboot_required = result->reboot_required;
    event->stdout_tail = status_tail(result->stdout_tail);
    event->stderr_tail = status_tail(result->stderr_tail);
    if (result->installed_version[0] && result->outcome == DR_OUTCOME_SUCCESS)
        event->version = (char *)result->installed_version;
    if (result->installed_known) {
        event->installed_known = 1;
        event->installed_version = (char *)result->installed_version;
        event->previous_version = (char *)result->previous_version;
    }
}
