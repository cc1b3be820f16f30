/*
 * deploy.h - publishing a deployment: one PENDING status event per job,
 * then the Deployment.  The control plane (drover-producer serve, serve.h)
 * takes it from the deployments topic and releases its Jobs under its rate
 * controls.
 *
 * Order matters.  The PENDING events (status topic, key deployment id) are
 * written before the Deployment, all in one flush: the aggregator knows a
 * deployment's total before any job can run, and the control plane, which
 * waits for Deployment.job_count PENDING events, knows every job it has to
 * release.  The PENDING events carry the deployment's max errors, so the
 * aggregator can tell FAILED from INCOMPLETE.
 *
 * Publishing is idempotent per message (the producer is idempotent,
 * acks=all) and the whole deployment may be published again under the same
 * id: the fold counts each job id once, and the control plane releases
 * each job once.  A deployment whose messages were not all acknowledged is
 * reported as such, never passed off as published.
 */
#ifndef DROVER_PRODUCER_DEPLOY_H
#define DROVER_PRODUCER_DEPLOY_H

#include <stddef.h>

#include "drover.pb-c.h"
#include "error.h"
#include "kafka.h"
#include "keys.h"
#include "sha256.h"

/* A deployment as asked for on the command line; every pointer is borrowed. */
typedef struct dr_deploy_request {
    const char *deployment_id;
    const char *package;
    const char *version; /* resolved: the default is looked up before this */
    Drover__V1__Action action;
    Drover__V1__InstallationType installation_type;
    char *const *arguments; /* KEY=VALUE */
    size_t argument_count;
    const Drover__V1__TargetSelection *selection;
    const char *max_concurrency; /* a count or a percentage */
    const char *max_errors;
    long long deadline_seconds;       /* from now; 0: none */
    long long script_timeout_seconds; /* 0: the worker's default */
    const char *created_by;
} dr_deploy_request;

/* The Deployment message and what it points to (owned). */
typedef struct dr_deployment {
    Drover__V1__Deployment message;
    Drover__V1__RateControls rate_controls;
    Drover__V1__KeyValue *argument_values;
    Drover__V1__KeyValue **argument_pointers;
    char **argument_keys;
} dr_deployment;

/*
 * Check what the command line alone decides: DR_ERR_USAGE names the flag at
 * fault (see dr_deployment_build).
 */
dr_status dr_deploy_request_check(const dr_deploy_request *request, dr_error *err);

/*
 * Check request and build its Deployment (created now; the deadline counts
 * from now).  DR_ERR_USAGE names the flag at fault: an argument that is not
 * KEY=VALUE with KEY a shell name (or is reserved), a rate control that is
 * not a count or percentage, a deadline or script timeout out of range.
 * Free with dr_deployment_free, also on error.
 */
dr_status dr_deployment_build(dr_deployment *out, const dr_deploy_request *request, dr_error *err);
void dr_deployment_free(dr_deployment *deployment);

/* "install" / "uninstall"; DR_ERR_USAGE otherwise. */
dr_status dr_action_parse(const char *text, Drover__V1__Action *out, dr_error *err);
/* "reinstall" / "in-place"; DR_ERR_USAGE otherwise. */
dr_status dr_installation_type_parse(const char *text, Drover__V1__InstallationType *out, dr_error *err);

/* What a deployment publishes; every pointer is borrowed. */
typedef struct dr_deploy_plan {
    const dr_kafka_options *options;           /* the producer's (for topic names) */
    const Drover__V1__Deployment *deployment;  /* id, package, version, action, ... as written */
    const Drover__V1__PackageVersion *version; /* where the jobs' manifest and artifacts are */
    const Drover__V1__Target *const *targets;  /* one job each */
    size_t target_count;
    const dr_key *operator_key; /* signs the Deployment (request_signing.h); NULL: unsigned */
} dr_deploy_plan;

/* How far publishing got. */
typedef struct dr_deploy_progress {
    size_t acknowledged; /* messages (PENDING events and the Deployment) the broker acknowledged */
    int announced;       /* all of them were */
} dr_deploy_progress;

/*
 * The digest a Deployment carries of the targets it names (targets_sha256):
 * the SHA-256, in hex, of the ids sorted bytewise, each followed by a
 * newline.  The control plane computes it again from the PENDING events
 * and refuses a deployment whose events name other targets.  -1 when out
 * of memory.
 */
int dr_targets_digest(const char *const *ids, size_t n, char out[DR_SHA256_HEX_SIZE]);

/*
 * Publish plan with producer, waiting up to timeout_ms for the flush.  The
 * Deployment is written with its targets digest, signed by the plan's
 * operator key.
 * DR_ERR_KAFKA when any message was not acknowledged; *progress then says
 * how far it got.  (plan->version is not used here: serve looks it up.)
 */
dr_status dr_deploy_publish(dr_kafka_producer *producer, const dr_deploy_plan *plan, int timeout_ms,
                            dr_deploy_progress *progress, dr_error *err);

/*
 * Fill job (initialised here) with target's share of deployment d, whose
 * package version is v: every pointer is borrowed from d, v and target;
 * the job id is written into job_id ("DEPLOYMENT/TARGET").  The job's
 * deadline is the deployment's, or now_ms + expiry_ms if that comes first
 * (expiry_ms 0: the deployment's alone): a job copied off the topic and
 * written again later is refused by the workers once it has expired.
 */
void dr_job_fill(Drover__V1__Job *job, const Drover__V1__Deployment *d, const Drover__V1__PackageVersion *v,
                 Drover__V1__Target *target, char *job_id, size_t job_id_size, int64_t now_ms, int64_t expiry_ms);

/* A fresh deployment id: "d-YYYYMMDDhhmmss-" (UTC) and 6 random hex digits. */
void dr_deployment_id_generate(char *buf, size_t size);

/*
 * Write a Cancel for deployment_id to the control topic (the control plane
 * stops releasing its jobs; workers skip those not started), after checking
 * in the deployments topic that it exists (DR_ERR_USAGE when not).
 */
dr_status dr_deploy_cancel(const dr_kafka_options *kafka, int timeout_ms, const char *deployment_id, const char *reason,
                           const dr_key *operator_key, dr_error *err);

#endif
