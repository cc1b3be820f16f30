/*
 * messages.h - the protobuf messages of proto/drover.proto as Drover's code
 * uses them: the schema version written, decoding with the checks every
 * reader needs, and the names of enum values for logs, JSON and metrics.
 *
 * Decoding refuses (DR_ERR_MALFORMED_MESSAGE, with a detail that says why):
 * bytes that are not the message, and a schema_version newer than this
 * build knows (a newer writer may have changed what fields mean).  Version 0
 * (unset) is read as 1.  Unknown fields are ignored, as protobuf does.
 */
#ifndef DROVER_MESSAGES_H
#define DROVER_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "drover.pb-c.h"
#include "error.h"

#define DR_SCHEMA_VERSION 1u

/* Decoders: *out is freed with the matching drover__v1__X__free_unpacked(*out, NULL). */
dr_status dr_job_decode(const void *data, size_t len, Drover__V1__Job **out, dr_error *err);
dr_status dr_status_event_decode(const void *data, size_t len, Drover__V1__StatusEvent **out, dr_error *err);
dr_status dr_rollup_decode(const void *data, size_t len, Drover__V1__Rollup **out, dr_error *err);
dr_status dr_target_decode(const void *data, size_t len, Drover__V1__Target **out, dr_error *err);
dr_status dr_target_event_decode(const void *data, size_t len, Drover__V1__TargetEvent **out, dr_error *err);
dr_status dr_package_versions_decode(const void *data, size_t len, Drover__V1__PackageVersions **out, dr_error *err);
dr_status dr_deployment_decode(const void *data, size_t len, Drover__V1__Deployment **out, dr_error *err);
dr_status dr_association_decode(const void *data, size_t len, Drover__V1__Association **out, dr_error *err);
dr_status dr_cancel_decode(const void *data, size_t len, Drover__V1__Cancel **out, dr_error *err);
dr_status dr_release_decode(const void *data, size_t len, Drover__V1__Release **out, dr_error *err);
dr_status dr_audit_record_decode(const void *data, size_t len, Drover__V1__AuditRecord **out, dr_error *err);

/*
 * Everything a request may ask for: the actions of a control plane's policy
 * and of the audit trail (AuditRecord.action), named by dr_request_action_name.
 */
typedef enum dr_request_action {
    DR_ACTION_PACKAGE_PUBLISH,     /* "package.publish" */
    DR_ACTION_PACKAGE_SET_DEFAULT, /* "package.set-default" */
    DR_ACTION_TARGET_REGISTER,     /* "target.register" (and deregister) */
    DR_ACTION_TARGET_LAUNCH,       /* "target.launch" (a launch or tags-changed event) */
    DR_ACTION_TARGET_TERMINATE,    /* "target.terminate" */
    DR_ACTION_DEPLOY,              /* "deploy" */
    DR_ACTION_CANCEL,              /* "cancel" */
    DR_ACTION_ASSOCIATION_CREATE,  /* "association.create" */
    DR_ACTION_ASSOCIATION_DELETE,  /* "association.delete" */
    DR_ACTION_COUNT
} dr_request_action;

const char *dr_request_action_name(dr_request_action action); /* "unknown" out of range */
/* The action named name; DR_ACTION_COUNT when none is. */
dr_request_action dr_request_action_from_name(const char *name);

/*
 * Encode any message into a malloc'd buffer (*len set); NULL when out of
 * memory.  The caller frees it.
 */
uint8_t *dr_message_encode(const ProtobufCMessage *message, size_t *len);

/* "SUCCESS", "IN_PROGRESS", ... (the enum value without its prefix); "UNSPECIFIED" for unknown. */
const char *dr_job_state_name(Drover__V1__JobState state);
/* Inverse of dr_job_state_name; -1 for an unknown name. */
int dr_job_state_parse(const char *name);
/* Terminal: SUCCESS, FAILED, TIMED_OUT, CANCELLED, SKIPPED, REJECTED. */
int dr_job_state_is_terminal(Drover__V1__JobState state);
/*
 * Whether a job's state counts against its deployment's max errors:
 * FAILED, TIMED_OUT, and REJECTED unless the reason is "no file for this
 * platform" (no-platform-match), which is a fact about the fleet, not an
 * error of the rollout.
 */
int dr_job_counts_as_error(Drover__V1__JobState state, const char *reason);
/*
 * Start a status event about one job: the schema version, its ids and where
 * it runs, the package and version, the state and the time.  Every writer of
 * status events starts here (the producer's PENDING events, the control
 * plane's statuses for jobs it ends, a worker's); the rest (reason, message,
 * worker, attempt, results) is the caller's to add.  Strings are borrowed
 * (the event must not outlive them); NULL becomes "".
 */
void dr_status_event_start(Drover__V1__StatusEvent *event, const char *deployment_id, const char *job_id,
                           const char *target_id, const char *account, const char *region, const char *package,
                           const char *version, Drover__V1__JobState state, int64_t at_ms);

/*
 * A job's id, "DEPLOYMENT/TARGET": the one format every program writes (the
 * producer's PENDING events, the control plane's jobs, a worker's status for
 * a damaged job) and the fold counts jobs by.  Cut to fit size.
 */
void dr_job_id_format(char *buf, size_t size, const char *deployment_id, const char *target_id);

/*
 * The one grammar of a rate control (max concurrency, max errors), for the
 * producer that checks a request and the control plane and aggregator that
 * read it off Kafka: a count "10" (at most 9 digits) or a percentage "10%"
 * (at most "100%"), with no leading zero; "0" and "0%" only when
 * zero_allowed.  DR_ERR_USAGE names `what` (a flag, a field).
 */
dr_status dr_rate_control_check(const char *what, const char *value, int zero_allowed, dr_error *err);
/*
 * A rate control as a count of total jobs: percentages are rounded up, and
 * the result is at least at_least (1 for max concurrency, 0 for max errors).
 * An empty value gives fallback; one dr_rate_control_check refuses, -1.
 */
long long dr_rate_limit(const char *value, uint64_t total, long long at_least, long long fallback);
const char *dr_deployment_status_name(Drover__V1__DeploymentStatus status);
const char *dr_action_name(Drover__V1__Action action);                 /* "install", "uninstall" */
const char *dr_installation_type_name(Drover__V1__InstallationType t); /* "reinstall", "in-place" */

/* dr_now_ms and dr_monotonic_ms, which most users of messages need. */
#include "clock.h"

#endif
