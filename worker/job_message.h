/*
 * job_message.h - between the wire and the engine: a Job message becomes an
 * engine request (after checks, since a job is untrusted input), and an
 * engine result becomes a StatusEvent.
 */
#ifndef DROVER_JOB_MESSAGE_H
#define DROVER_JOB_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "drover.pb-c.h"
#include "engine.h"
#include "error.h"
#include "executor_ssh.h"
#include "platform.h"

/* What an engine request points into; owned by this struct. */
typedef struct dr_job_inputs {
    dr_job_request request;
    dr_platform platform;
    char target_root[4096];
    char **args; /* "KEY=VALUE", malloc'd */
    size_t arg_count;
    dr_executor *executor; /* the ssh executor when the target is reached over ssh; owned */
} dr_job_inputs;

/* Where this worker's jobs run. */
typedef struct dr_job_placement {
    const char *targets_root;   /* local targets: targets_root/<target id>, created when missing */
    const dr_ssh_settings *ssh; /* targets with executor "ssh"; NULL: this worker has no ssh key */
    const char *self_root;      /* agent mode: every job runs here (the worker is its target) */
} dr_job_placement;

/*
 * Check job and build the engine request for it, with the target reached
 * as its executor field says: "ssh" through the ssh executor at its address
 * ([user@]host[:port][/root]), "local" or "" under targets_root, and
 * anything in agent mode at self_root.  DR_ERR_MALFORMED_MESSAGE says what
 * is wrong with the job (no target, unsafe target id, unknown action, ...),
 * DR_ERR_USAGE what is wrong with its target's registration (a bad ssh
 * address, ssh with no ssh key here): the job is REJECTED, nothing runs.
 */
dr_status dr_job_inputs_init(dr_job_inputs *in, const Drover__V1__Job *job, const dr_job_placement *placement,
                             dr_error *err);
void dr_job_inputs_free(dr_job_inputs *in);

/*
 * From bytes that do not decode as a Job (truncated, damaged), recover what
 * can be read of its ids by walking the protobuf wire format up to the
 * first damage: the deployment id (field 3), job id (2) and target id
 * (field 2 of the Target in field 4).  Returns 1 when a deployment id was
 * found (so the damage can be reported to that deployment), else 0.
 * Outputs are NUL-terminated, "" when not found.
 */
int dr_job_salvage_ids(const void *data, size_t len, char *deployment_id, size_t deployment_size, char *job_id,
                       size_t job_size, char *target_id, size_t target_size);

/* The JobState an engine outcome reports. */
Drover__V1__JobState dr_outcome_job_state(dr_outcome outcome);

/*
 * A status event for job in state (strings borrowed from job: keep it alive
 * until the event is encoded).  started_at_ms is when the worker took it.
 */
void dr_status_event_for_job(Drover__V1__StatusEvent *event, const Drover__V1__Job *job, Drover__V1__JobState state,
                             const char *worker_id, int64_t started_at_ms);
/* How much of each output tail a status event carries (its end); the worker's log and result keep more. */
#define DR_STATUS_TAIL_BYTES 4096
/* Fill the outcome fields from an engine result (strings borrowed from result; each tail cut to its end). */
void dr_status_event_add_result(Drover__V1__StatusEvent *event, const dr_job_result *result);

#endif
