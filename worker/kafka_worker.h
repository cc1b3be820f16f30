/*
 * kafka_worker.h - the worker as a Kafka consumer-group member.
 *
 * It takes Jobs from the jobs topic and runs each with the install engine
 * on the target's root under targets_root (the local executor), up to
 * `concurrency` at once but never two of one target at once (jobs of one
 * target run in the order they arrived).  Per job it emits IN_PROGRESS and
 * one terminal StatusEvent; the job's offset is committed only after that
 * terminal status was acknowledged by Kafka and every earlier job of the
 * partition is done too, so a worker killed at any instant loses no job:
 * its uncommitted jobs are redelivered to another member, and running one
 * twice is harmless (the engine is idempotent and locks the package).
 *
 * Every Job must carry a signature by a trusted key (job_signing.h); one
 * that does not ends REJECTED with reason "signature" and the key id, and
 * nothing of it runs.  With allow_unsigned, a Job with no signature at all
 * runs, with a warning; a signature that does not verify is still refused.
 *
 * Where a job runs follows its target's executor field (job_message.h):
 * a local directory, a machine over ssh, or (agent mode) this machine.
 *
 * A message that is not a Job logs one line (it names nobody to report
 * to); a Job that cannot be run as it is (newer schema, no target, unsafe
 * target id, no package, ...) ends as REJECTED with the reason.  A job whose
 * deadline passed before it started ends as TIMED_OUT without running, and
 * one of a cancelled deployment (every Cancel on the control topic, read
 * from its beginning) as CANCELLED without running.  The cancelled
 * deployments are bounded (cancelled_deployments.h): the latest 65,536,
 * each for cancel_retention_seconds after its Cancel was written.
 *
 * Every id and name a Job carries is logged through dr_log_quote.
 */
#ifndef DROVER_KAFKA_WORKER_H
#define DROVER_KAFKA_WORKER_H

#include <signal.h>

#include "engine.h"
#include "executor_ssh.h"
#include "job_signing.h"
#include "error.h"
#include "kafka.h"
#include "metrics.h"

typedef struct dr_kafka_worker_settings {
    dr_kafka_options kafka;
    const char *group;          /* consumer group, e.g. "drover-workers" */
    const char *targets_root;   /* local executor: TARGETS_ROOT/<target id> */
    const dr_ssh_settings *ssh; /* targets registered with executor "ssh"; NULL: none here */
    /*
     * Agent mode (self_id set): this worker is the target self_id itself.
     * It reads only the jobs partition self_id's jobs go to, under its own
     * group (group), runs the jobs addressed to it whose target is
     * registered with executor "agent", at self_root, and skips every other
     * job in that partition.  Without it, jobs for "agent" targets are
     * skipped (their agents run them).
     */
    const char *self_id;
    const char *self_root;
    int concurrency;               /* jobs at once, >= 1 */
    long shutdown_timeout_seconds; /* how long SIGTERM waits for jobs in flight */
    const char *worker_id;         /* names this member in statuses, logs and locks */
    dr_engine_settings engine;
    dr_metrics *metrics;           /* may be NULL; not owned */
    dr_trust_store *trust;         /* keys jobs must be signed by; not owned, used by the consuming thread */
    int allow_unsigned;            /* demo only: run unsigned jobs too, with a warning each */
    long cancel_retention_seconds; /* a Cancel is remembered this long after it was written; 0: until pushed out */
} dr_kafka_worker_settings;

typedef struct dr_kafka_worker dr_kafka_worker;

/* Connect (consumer and producer) and start the job threads. Strings in settings must outlive the worker. */
dr_status dr_kafka_worker_start(const dr_kafka_worker_settings *settings, dr_kafka_worker **out, dr_error *err);

/*
 * Consume and run jobs until *stop becomes non-zero, then shut down
 * gracefully: take no more jobs, let queued-but-unstarted ones go back to the
 * group (uncommitted), wait up to the shutdown timeout for jobs in flight,
 * flush statuses, commit, and leave the group.
 */
dr_status dr_kafka_worker_run(dr_kafka_worker *worker, volatile sig_atomic_t *stop, dr_error *err);

/* Free a worker that was started (after run returned). NULL is fine. */
void dr_kafka_worker_free(dr_kafka_worker *worker);

#endif
