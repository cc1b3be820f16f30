#include "messages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Decode and check the schema version: the one path every message takes. */
static dr_status decode(const ProtobufCMessageDescriptor *descriptor, const void *data, size_t len,
                        ProtobufCMessage **out, dr_error *err)
{
    *out = protobuf_c_message_unpack(descriptor, NULL, len, data);
    if (!*out)
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "%zu bytes are not a valid %s", len, descriptor->short_name);
    /* Every Drover message has schema_version as field 1. */
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field(descriptor, 1);
    uint32_t version = 0;
    if (field && field->type == PROTOBUF_C_TYPE_UINT32)
        memcpy(&version, (const char *)*out + field->offset, sizeof version);
    if (version > DR_SCHEMA_VERSION) {
        protobuf_c_message_free_unpacked(*out, NULL);
        *out = NULL;
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "%s has schema version %u; this build reads up to %u",
                            descriptor->short_name, version, DR_SCHEMA_VERSION);
    }
    return DR_OK;
}

#define DEFINE_DECODER(function, type, descriptor)                                                                     \
    dr_status function(const void *data, size_t len, type **out, dr_error *err)                                        \
    {                                                                                                                  \
        return decode(&descriptor, data, len, (ProtobufCMessage **)out, err);                                          \
    }

DEFINE_DECODER(dr_job_decode, Drover__V1__Job, drover__v1__job__descriptor)
DEFINE_DECODER(dr_status_event_decode, Drover__V1__StatusEvent, drover__v1__status_event__descriptor)
DEFINE_DECODER(dr_rollup_decode, Drover__V1__Rollup, drover__v1__rollup__descriptor)
DEFINE_DECODER(dr_target_decode, Drover__V1__Target, drover__v1__target__descriptor)
DEFINE_DECODER(dr_target_event_decode, Drover__V1__TargetEvent, drover__v1__target_event__descriptor)
DEFINE_DECODER(dr_package_versions_decode, Drover__V1__PackageVersions, drover__v1__package_versions__descriptor)
DEFINE_DECODER(dr_deployment_decode, Drover__V1__Deployment, drover__v1__deployment__descriptor)
DEFINE_DECODER(dr_association_decode, Drover__V1__Association, drover__v1__association__descriptor)
DEFINE_DECODER(dr_cancel_decode, Drover__V1__Cancel, drover__v1__cancel__descriptor)
DEFINE_DECODER(dr_release_decode, Drover__V1__Release, drover__v1__release__descriptor)
DEFINE_DECODER(dr_audit_record_decode, Drover__V1__AuditRecord, drover__v1__audit_record__descriptor)

uint8_t *dr_message_encode(const ProtobufCMessage *message, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(message);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf)
        protobuf_c_message_pack(message, buf);
    return buf;
}

static const char *const job_state_names[] = {
    [DROVER__V1__JOB_STATE__JOB_STATE_UNSPECIFIED] = "UNSPECIFIED",
    [DROVER__V1__JOB_STATE__JOB_STATE_PENDING] = "PENDING",
    [DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS] = "IN_PROGRESS",
    [DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS] = "SUCCESS",
    [DROVER__V1__JOB_STATE__JOB_STATE_FAILED] = "FAILED",
    [DROVER__V1__JOB_STATE__JOB_STATE_TIMED_OUT] = "TIMED_OUT",
    [DROVER__V1__JOB_STATE__JOB_STATE_CANCELLED] = "CANCELLED",
    [DROVER__V1__JOB_STATE__JOB_STATE_SKIPPED] = "SKIPPED",
    [DROVER__V1__JOB_STATE__JOB_STATE_REJECTED] = "REJECTED",
};
#define JOB_STATE_COUNT (sizeof job_state_names / sizeof job_state_names[0])

const char *dr_job_state_name(Drover__V1__JobState state)
{
    return (size_t)state < JOB_STATE_COUNT && job_state_names[state] ? job_state_names[state] : "UNSPECIFIED";
}

int dr_job_state_parse(const char *name)
{
    for (size_t i = 1; i < JOB_STATE_COUNT; i++)
        if (strcmp(job_state_names[i], name) == 0)
            return (int)i;
    return -1;
}

int dr_job_state_is_terminal(Drover__V1__JobState state)
{
    return state >= DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS && state <= DROVER__V1__JOB_STATE__JOB_STATE_REJECTED;
}

int dr_job_counts_as_error(Drover__V1__JobState state, const char *reason)
{
    if (state == DROVER__V1__JOB_STATE__JOB_STATE_REJECTED)
        return !reason || strcmp(reason, dr_status_name(DR_ERR_NO_PLATFORM_MATCH)) != 0;
    return state == DROVER__V1__JOB_STATE__JOB_STATE_FAILED || state == DROVER__V1__JOB_STATE__JOB_STATE_TIMED_OUT;
}

/* protobuf-c packs a NULL string as a crash, not as "". */
static char *or_empty(const char *s)
{
    return (char *)(s ? s : "");
}

void dr_status_event_start(Drover__V1__StatusEvent *event, const char *deployment_id, const char *job_id,
                           const char *target_id, const char *account, const char *region, const char *package,
                           const char *version, Drover__V1__JobState state, int64_t at_ms)
{
    drover__v1__status_event__init(event);
    event->schema_version = DR_SCHEMA_VERSION;
    event->deployment_id = or_empty(deployment_id);
    event->job_id = or_empty(job_id);
    event->target_id = or_empty(target_id);
    event->account = or_empty(account);
    event->region = or_empty(region);
    event->package = or_empty(package);
    event->version = or_empty(version);
    event->state = state;
    event->at_ms = at_ms;
}

void dr_job_id_format(char *buf, size_t size, const char *deployment_id, const char *target_id)
{
    snprintf(buf, size, "%s/%s", deployment_id, target_id);
}

dr_status dr_rate_control_check(const char *what, const char *value, int zero_allowed, dr_error *err)
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
        return dr_error_set(err, DR_ERR_USAGE, "%s: '%.32s' is not a count (%s) or a percentage (%s-100%%)", what,
                            value, zero_allowed ? "0, 1, 2, ..." : "1, 2, ...", zero_allowed ? "0%" : "1%");
    return DR_OK;
}

long long dr_rate_limit(const char *value, uint64_t total, long long at_least, long long fallback)
{
    if (!value || !value[0])
        return fallback;
    if (dr_rate_control_check("rate control", value, 1, NULL) != DR_OK)
        return -1;
    long long n = atoll(value);
    if (value[strspn(value, "0123456789")] == '%')
        n = (long long)((total * (uint64_t)n + 99) / 100);
    return n < at_least ? at_least : n;
}

const char *dr_deployment_status_name(Drover__V1__DeploymentStatus status)
{
    static const char *const names[] = {"UNSPECIFIED", "PENDING",    "IN_PROGRESS", "SUCCESS",
                                        "FAILED",      "INCOMPLETE", "CANCELLED",   "REJECTED"};
    return (size_t)status < sizeof names / sizeof names[0] ? names[status] : "UNSPECIFIED";
}

const char *dr_action_name(Drover__V1__Action action)
{
    return action == DROVER__V1__ACTION__ACTION_UNINSTALL ? "uninstall" : "install";
}

const char *dr_installation_type_name(Drover__V1__InstallationType t)
{
    return t == DROVER__V1__INSTALLATION_TYPE__INSTALLATION_TYPE_IN_PLACE_UPDATE ? "in-place" : "reinstall";
}

static const char *const action_names[DR_ACTION_COUNT] = {
    [DR_ACTION_PACKAGE_PUBLISH] = "package.publish",
    [DR_ACTION_PACKAGE_SET_DEFAULT] = "package.set-default",
    [DR_ACTION_TARGET_REGISTER] = "target.register",
    [DR_ACTION_TARGET_LAUNCH] = "target.launch",
    [DR_ACTION_TARGET_TERMINATE] = "target.terminate",
    [DR_ACTION_DEPLOY] = "deploy",
    [DR_ACTION_CANCEL] = "cancel",
    [DR_ACTION_ASSOCIATION_CREATE] = "association.create",
    [DR_ACTION_ASSOCIATION_DELETE] = "association.delete",
};

const char *dr_request_action_name(dr_request_action action)
{
    return (int)action >= 0 && action < DR_ACTION_COUNT ? action_names[action] : "unknown";
}

dr_request_action dr_request_action_from_name(const char *name)
{
    int a = 0;
    while (a < DR_ACTION_COUNT && (!name || strcmp(action_names[a], name) != 0))
        a++;
    return (dr_request_action)a;
}
