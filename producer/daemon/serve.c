#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "associations.h"
#include "audit_log.h"
#include "aws_intake.h"
#include "checkpoints.h"
#include "deploy.h"
#include "job_signing.h"
#include "log.h"
#include "messages.h"
#include "names.h"
#include "packages.h"
#include "program.h"
#include "publish.h"
#include "rollout.h"
#include "rollup.h"
#include "sha256.h"
#include "strmap.h"
#include "table.h"
#include "targets.h"

/* Messages taken from the followed topics per turn of the loop, so owned deployments move between them. */
#define FOLLOW_BATCH 5000
/* How long one turn waits for a followed message when there is nothing to do. */
#define IDLE_POLL_MS 20
/* How long after a failed one a sync point is taken again. */
#define SYNC_RETRY_MS 500
/* How often finished deployments are looked at for retention. */
#define EXPIRY_INTERVAL_MS 1000

/* A deployment this replica owns. */
typedef struct owned_deployment {
    dr_rollout *rollout;   /* borrowed from serve.rollouts */
    int32_t partition;     /* of the deployments topic */
    int64_t offset;        /* of the Deployment message taken */
    int64_t written_at_ms; /* the message's timestamp (when it was read, when it has none) */
    int adopted;           /* in-doubt jobs resolved after the sync point */
    int in_doubt;          /* the last release's Jobs may not all be written */
    uint8_t *request;      /* the Deployment message as read: what the authority checks */
    size_t request_len;
    char request_id[65]; /* as the message claims it (checked with the rest) */
    int authorized;      /* the authority decided on it (once per owner) */
    int allowed;         /* and allowed it: later messages for the id are ignored */
} owned_deployment;

typedef struct serve {
    const dr_serve_settings *s;
    dr_kafka_consumer *deployments;
    dr_kafka_consumer *events;                    /* the events topic, from the offsets its group committed */
    dr_aws_intake *aws;                           /* AWS events become TargetEvents; NULL without templates */
    rd_kafka_topic_partition_list_t *event_parts; /* the events partitions that consumer holds */
    dr_kafka_follower *follower;
    dr_kafka_producer *producer;
    dr_rollup_table *fold;
    dr_strmap *rollouts;         /* deployment id -> dr_rollout: every deployment owned or named by a Release */
    dr_strmap *owned;            /* deployment id -> owned_deployment */
    dr_strmap *cancelled;        /* deployment id -> CANCEL_ALLOWED or CANCEL_CONFIRMED */
    dr_strmap *audited;          /* "package@version#request", "target#request" -> marker: decisions audited */
    dr_strmap *verified_targets; /* target id -> verified_target: the inventory record last allowed */
    int sync_wanted;             /* partitions were assigned since the last sync point */
    int sync_taken;              /* a sync point was taken (after the group's first assignment) */
    int synced;                  /* read up to the last sync point */
    long long next_sync_ms;      /* a failed sync point is taken again from then (monotonic) */
    dr_inventory inventory;
    dr_table packages;
    int tables_loaded;
    long long inventory_changed_ms; /* the inventory topic was written to then, since the tables were warmed; 0: not */
    long long tables_warmed_ms;     /* when warm_tables last read them */
    long releases_written;          /* for the fault injection setting */
    int synced_once;                /* live target events count from the first time it caught up */
    int associations_read;          /* the associations partitions held are read to their end (since assignment) */
    int64_t *associations_end;      /* their ends, taken once per assignment; NULL until then */
    size_t associations_end_count;
    dr_associations *associations;
    dr_audit_log audit; /* where the authority's decisions go */
    char associations_topic[256];
    char deployments_topic[256];
    long long next_expiry_ms; /* monotonic: when finished deployments are looked at for retention next */
    char reader[300];         /* whose checkpoints: "control-plane:GROUP" */
    int32_t *held;            /* the deployments topic's partitions this replica is assigned */
    size_t held_count;
    size_t status_partitions; /* followed status partitions (checkpointed: the held ones) */
    int64_t *checkpointed;    /* per status partition: the offset its last checkpoint covers up to; -1 none */
    long long *next_checkpoint_ms;
    unsigned long long status_events; /* read since start: what a restart cost (a checkpoint saves) */
} serve;

/*
 * A cancel is allowed once the authority allows an operator's Cancel; it is
 * confirmed once a Cancel signed by the control plane's own key is on the
 * control topic, which is what workers act on (they hold that key, not the
 * operators').  Markers in serve.cancelled.
 */
static char cancel_allowed_mark, cancel_confirmed_mark;
#define CANCEL_ALLOWED ((void *)&cancel_allowed_mark)
#define CANCEL_CONFIRMED ((void *)&cancel_confirmed_mark)

/* ---- small helpers ---- */

static void describe_metrics(dr_metrics *m)
{
    if (!m)
        return;
    dr_aws_intake_describe(m);
    dr_metrics_describe(m, "drover_control_plane_jobs_released_total", DR_METRIC_COUNTER,
                        "jobs released to the workers by this replica", NULL, 0);
    dr_metrics_describe(m, "drover_control_plane_jobs_ended_total", DR_METRIC_COUNTER,
                        "jobs this replica ended without releasing them, by reason", NULL, 0);
    dr_metrics_describe(m, "drover_control_plane_deployments_owned", DR_METRIC_GAUGE,
                        "unfinished deployments this replica owns", NULL, 0);
    dr_metrics_describe(m, "drover_control_plane_caught_up", DR_METRIC_GAUGE,
                        "1 while this replica has read up to its last sync point", NULL, 0);
    dr_metrics_describe(m, "drover_control_plane_deployments_known", DR_METRIC_GAUGE,
                        "deployments in this replica's status fold: active or finished within the retention", NULL, 0);
    dr_metrics_describe(m, "drover_control_plane_deployments_expired_total", DR_METRIC_COUNTER,
                        "finished deployments that left this replica's memory past the retention", NULL, 0);
    dr_audit_log_describe(m);
}

static void count_ended(serve *sv, dr_status reason, size_t n)
{
    char labels[64];
    snprintf(labels, sizeof labels, "reason=\"%s\"", dr_status_name(reason));
    if (sv->s->metrics && n)
        dr_metrics_counter_add(sv->s->metrics, "drover_control_plane_jobs_ended_total", labels, (double)n);
}

/* A job onto the jobs topic, signed when the replica has a key. */
/*
 * A release's jobs are encoded and signed a burst at a time, then handed to
 * Kafka together.  Produced one by one between signatures, each linger.ms
 * window held a job or two per partition; a broker that answers a fetch
 * with one batch per partition (the embedded one does) then fed each
 * worker a few jobs per round trip, and that, not the work, set the pace.
 */
#define JOB_BURST 512

typedef struct job_burst {
    size_t count;
    uint8_t *bytes[JOB_BURST];
    size_t len[JOB_BURST];
    char *key[JOB_BURST]; /* the target id, copied: a table reload mid-release frees the inventory's */
} job_burst;

/* Empty the burst, freeing what it holds (queued or not: the producer copied what it took). */
static void drop_burst(job_burst *burst)
{
    for (size_t i = 0; burst && i < burst->count; i++) {
        free(burst->bytes[i]);
        free(burst->key[i]);
    }
    if (burst)
        burst->count = 0;
}

/* Queue the burst's jobs (up to the first that fails), and empty it whatever happens. */
static dr_status send_burst(serve *sv, job_burst *burst, dr_publish_count *count, dr_error *err)
{
    dr_status status = DR_OK;
    for (size_t i = 0; i < burst->count && status == DR_OK; i++)
        status =
            dr_publish_bytes(sv->producer, DR_TOPIC_JOBS, burst->key[i], burst->bytes[i], burst->len[i], count, err);
    drop_burst(burst);
    return status;
}

/* Encode (and sign) one job into the burst, sending the burst when it is full. */
static dr_status publish_job(serve *sv, job_burst *burst, const Drover__V1__Job *job, const char *target_id,
                             dr_publish_count *count, dr_error *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    dr_status status = DR_OK;
    if (sv->s->signing_key)
        status = dr_job_encode_signed(sv->s->signing_key, job, &bytes, &len, err);
    else if (!(bytes = dr_message_encode(&job->base, &len)))
        status = dr_error_set(err, DR_ERR_NOMEM, "encoding a job");
    char *key = status == DR_OK ? strdup(target_id) : NULL;
    if (status == DR_OK && !key)
        status = dr_error_set(err, DR_ERR_NOMEM, "encoding a job");
    if (status != DR_OK) {
        free(bytes);
        return status;
    }
    burst->bytes[burst->count] = bytes;
    burst->len[burst->count] = len;
    burst->key[burst->count] = key;
    if (++burst->count == JOB_BURST)
        return send_burst(sv, burst, count, err);
    return DR_OK;
}

static dr_rollout *get_rollout(serve *sv, const char *id)
{
    dr_rollout *r = dr_strmap_get(sv->rollouts, id);
    if (r)
        return r;
    r = dr_rollout_new(id);
    if (r && dr_strmap_put(sv->rollouts, id, r) != 0) {
        dr_rollout_free(r);
        r = NULL;
    }
    if (!r)
        dr_log(DR_LOG_ERROR, "serve.nomem", "deployment=%s", id);
    return r;
}

static void free_owned(owned_deployment *o)
{
    if (o)
        free(o->request);
    free(o);
}

static void forget_deployment(serve *sv, const char *id)
{
    owned_deployment *o = dr_strmap_remove(sv->owned, id);
    free_owned(o);
    dr_rollout_free(dr_strmap_remove(sv->rollouts, id));
}

/* Flush what count queued; DR_ERR_KAFKA unless expected messages were all acknowledged. */
static dr_status flush_all(serve *sv, const dr_publish_count *count, size_t expected, dr_error *err)
{
    dr_status status = dr_publish_flush(sv->producer, count, sv->s->timeout_ms, err);
    if (status == DR_OK && count->acknowledged != expected)
        status = dr_error_set(err, DR_ERR_KAFKA, "%zu of %zu messages acknowledged", count->acknowledged, expected);
    return status;
}

#define AUDITED_MAX 4096

/* An inventory record allowed: its bytes' digest (not verified again while unchanged) and when it was signed. */
typedef struct verified_target {
    char digest[DR_SHA256_HEX_SIZE];
    int64_t created_at_ms;
} verified_target;

/* Whether key was audited already, remembering it if not (at most AUDITED_MAX at once; then forgotten). */
static int audited_before(serve *sv, const char *key)
{
    if (sv->audited && dr_strmap_count(sv->audited) >= AUDITED_MAX) {
        dr_strmap_free(sv->audited); /* forgotten: each is audited once more at most */
        sv->audited = dr_strmap_new();
    }
    if (sv->audited && dr_strmap_get(sv->audited, key))
        return 1;
    if (sv->audited)
        dr_strmap_put(sv->audited, key, sv);
    return 0;
}

/*
 * Whether an inventory record may stand for its target: registered by an
 * operator allowed to register it (target.register, the target in scope),
 * or written by the control plane itself (from a launch event it allowed),
 * and not signed before the record this replica last allowed for the
 * target (an old registration written again: refused as replayed, so the
 * target is left out rather than rolled back).  A record allowed once is
 * not verified again while its bytes stay the same.  A refused one is left
 * out of the inventory (its jobs end REJECTED, unknown-target) and audited
 * once.
 */
static int inventory_record_allowed(void *ctx, const uint8_t *record, size_t len, const Drover__V1__Target *target)
{
    serve *sv = ctx;
    char digest[DR_SHA256_HEX_SIZE], key[400];
    dr_sha256_buffer_hex(record, len, digest);
    verified_target *verified = sv->verified_targets ? dr_strmap_get(sv->verified_targets, target->target_id) : NULL;
    if (verified && strcmp(verified->digest, digest) == 0)
        return 1;
    const Drover__V1__Target *scope = target;
    dr_authority_request q = {
        .action = DR_ACTION_TARGET_REGISTER, .bytes = record, .len = len, .targets = &scope, .target_count = 1};
    dr_authority_decision decision;
    dr_authority_check(sv->s->authority, &q, dr_now_ms(), &decision);
    if (decision.allowed && verified && strcmp(decision.operator_name, DR_AUTHORITY_UNSIGNED) != 0 &&
        decision.origin.created_at_ms < verified->created_at_ms) {
        decision.allowed = 0;
        decision.reason = DR_ERR_REPLAYED;
        snprintf(decision.rule, sizeof decision.rule, "not-replayed");
        snprintf(decision.message, sizeof decision.message,
                 "the record was signed before the registration of %s taken last: a copy written again",
                 target->target_id);
    }
    snprintf(key, sizeof key, "%s#%s", target->target_id, decision.origin.request_id);
    if (!decision.allowed && !audited_before(sv, key))
        dr_audit_log_write(&sv->audit, &decision, DR_ACTION_TARGET_REGISTER, target->target_id, "inventory record");
    if (decision.allowed && sv->verified_targets) {
        if (!verified && (verified = calloc(1, sizeof *verified)) &&
            dr_strmap_put(sv->verified_targets, target->target_id, verified) != 0) {
            free(verified);
            verified = NULL;
        }
        if (verified) {
            snprintf(verified->digest, sizeof verified->digest, "%s", digest);
            verified->created_at_ms = decision.origin.created_at_ms;
        }
    }
    return decision.allowed;
}

static dr_status load_tables(serve *sv, dr_error *err)
{
    dr_inventory_free(&sv->inventory);
    dr_table_free(&sv->packages);
    sv->tables_loaded = 0;
    dr_status status =
        dr_inventory_read_checked(&sv->s->kafka, sv->s->timeout_ms, inventory_record_allowed, sv, &sv->inventory, err);
    if (status == DR_OK)
        status = dr_table_read(&sv->s->kafka, DR_TOPIC_PACKAGES, sv->s->timeout_ms, &sv->packages, err);
    sv->tables_loaded = status == DR_OK;
    return status;
}

/* A status event the control plane writes for a job it ends itself (never released, or not releasable). */
static dr_status produce_job_end(serve *sv, const dr_rollout *r, const dr_rollup_job *job, Drover__V1__JobState state,
                                 dr_status reason, const char *message, dr_publish_count *count, dr_error *err)
{
    const Drover__V1__Deployment *d = dr_rollout_deployment(r);
    Drover__V1__StatusEvent e;
    dr_status_event_start(&e, d->deployment_id, job->job_id, job->target_id, job->location->account,
                          job->location->region, d->package, d->version, state, dr_now_ms());
    e.reason = (char *)dr_status_name(reason);
    e.message = (char *)message;
    e.worker_id = (char *)sv->s->replica_id;
    e.attempt = job->attempt ? job->attempt : 1;
    e.deployment_job_count = d->job_count;
    return dr_publish_message(sv->producer, DR_TOPIC_STATUS, d->deployment_id, &e.base, count, err);
}

/* ---- writing jobs ---- */

/*
 * Whether d's package version v may be used: its publish request (the
 * version's own signature) must pass the authority as a package.publish of
 * d's package, and name that package.  Audited once per version and
 * publish request (per replica, until AUDITED_MAX are remembered).
 */
static int check_version(serve *sv, const Drover__V1__Deployment *d, const Drover__V1__PackageVersion *v,
                         dr_authority_decision *decision)
{
    const dr_table_row *row = dr_table_get(&sv->packages, d->package);
    const uint8_t *bytes = NULL;
    size_t len = 0;
    if (!row || dr_package_version_bytes(row->value, row->value_len, d->version, &bytes, &len) != 0) {
        memset(decision, 0, sizeof *decision);
        decision->reason = DR_ERR_REQUEST_SIGNATURE;
        snprintf(decision->rule, sizeof decision->rule, "signature");
        snprintf(decision->message, sizeof decision->message, "the published bytes of the version were not found");
        return 0;
    }
    dr_authority_request q = {.action = DR_ACTION_PACKAGE_PUBLISH, .bytes = bytes, .len = len, .package = d->package};
    dr_authority_check(sv->s->authority, &q, dr_now_ms(), decision);
    if (decision->allowed && strcmp(decision->operator_name, DR_AUTHORITY_UNSIGNED) != 0 &&
        (!v->package || strcmp(v->package, d->package) != 0)) {
        decision->allowed = 0;
        decision->reason = DR_ERR_REQUEST_SIGNATURE;
        snprintf(decision->rule, sizeof decision->rule, "signature");
        snprintf(decision->message, sizeof decision->message, "the version was signed as one of package %.128s",
                 v->package ? v->package : "(none)");
    }
    char key[768];
    snprintf(key, sizeof key, "%s@%s#%s", d->package, d->version, decision->origin.request_id);
    if (!audited_before(sv, key))
        dr_audit_log_write(&sv->audit, decision, DR_ACTION_PACKAGE_PUBLISH, d->package, d->version);
    return decision->allowed;
}

/*
 * Write the Job of each target (or, for one that cannot be built, a
 * terminal status saying why), then flush.  DR_ERR_KAFKA when not all were
 * acknowledged: they are then in doubt.
 */
static dr_status write_jobs(serve *sv, dr_rollout *r, const dr_rollup_job *const *jobs, size_t n, dr_error *err)
{
    const Drover__V1__Deployment *d = dr_rollout_deployment(r);
    Drover__V1__PackageVersions *package = NULL;
    const Drover__V1__PackageVersion *version = NULL;
    dr_publish_count count = {0};
    dr_status status = DR_OK;
    char job_id[512], message[1024];
    int reloaded = 0, version_allowed = 0;
    dr_authority_decision version_decision;
    int64_t now = dr_now_ms();
    job_burst *burst = calloc(1, sizeof *burst);

    if (!burst)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    if (!sv->tables_loaded && (status = load_tables(sv, err)) != DR_OK)
        goto cleanup;
    for (size_t i = 0; i < n && status == DR_OK; i++) {
        const Drover__V1__Target *target = dr_inventory_find(&sv->inventory, jobs[i]->target_id);
        if ((!target || !version) && !reloaded) {
            /* Registered or published after the tables were read: read them again, once per batch. */
            reloaded = 1;
            if ((status = load_tables(sv, err)) != DR_OK)
                goto cleanup;
            target = dr_inventory_find(&sv->inventory, jobs[i]->target_id);
        }
        if (!version) {
            if (package)
                drover__v1__package_versions__free_unpacked(package, NULL);
            package = NULL;
            dr_error lookup_err = {0};
            if (dr_package_lookup(&sv->packages, d->package, &package, &lookup_err) == DR_OK && package)
                version = dr_package_find_version(package, d->version);
            if (version)
                version_allowed = check_version(sv, d, version, &version_decision);
        }
        if (!target || !version) {
            snprintf(message, sizeof message,
                     !target ? "target %s is not in the inventory; nothing ran"
                             : "package %s has no published version %s; nothing ran",
                     !target ? jobs[i]->target_id : d->package, d->version);
            status = produce_job_end(sv, r, jobs[i], DROVER__V1__JOB_STATE__JOB_STATE_REJECTED,
                                     !target ? DR_ERR_UNKNOWN_TARGET : DR_ERR_VERSION_MISMATCH, message, &count, err);
            count_ended(sv, !target ? DR_ERR_UNKNOWN_TARGET : DR_ERR_VERSION_MISMATCH, 1);
            continue;
        }
        if (!version_allowed) {
            snprintf(message, sizeof message, "package %s version %s may not be used (%s): %s; nothing ran", d->package,
                     d->version, version_decision.rule, version_decision.message);
            status = produce_job_end(sv, r, jobs[i], DROVER__V1__JOB_STATE__JOB_STATE_REJECTED, version_decision.reason,
                                     message, &count, err);
            count_ended(sv, version_decision.reason, 1);
            continue;
        }
        Drover__V1__Job job;
        dr_job_fill(&job, d, version, (Drover__V1__Target *)target, job_id, sizeof job_id, now, sv->s->job_expiry_ms);
        job.publisher_key_id = version_decision.origin.key_id;
        status = publish_job(sv, burst, &job, target->target_id, &count, err);
    }
    if (status == DR_OK)
        status = send_burst(sv, burst, &count, err);
    if (status == DR_OK)
        status = flush_all(sv, &count, n, err);
cleanup:
    drop_burst(burst);
    free(burst);
    if (package)
        drover__v1__package_versions__free_unpacked(package, NULL);
    return status;
}

/* ---- one deployment's turn ---- */

static void release(serve *sv, owned_deployment *o, const dr_rollup_deployment *fold, size_t want)
{
    dr_rollout *r = o->rollout;
    const dr_rollup_job **jobs = calloc(want ? want : 1, sizeof *jobs);
    char **ids = calloc(want ? want : 1, sizeof *ids);
    int64_t *floors = NULL;
    size_t floor_count = 0;
    dr_error err = {0};
    dr_status status = DR_OK;
    if (!jobs || !ids) {
        status = dr_error_set(&err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    size_t n = dr_rollout_next_targets(r, fold, jobs, want);
    if (n == 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        ids[i] = jobs[i]->target_id;
    status = dr_kafka_high_watermarks(&sv->s->kafka, dr_kafka_producer_handle(sv->producer), DR_TOPIC_JOBS,
                                      sv->s->timeout_ms, &floors, &floor_count, &err);
    if (status != DR_OK)
        goto cleanup;

    Drover__V1__Release rel = DROVER__V1__RELEASE__INIT;
    rel.schema_version = DR_SCHEMA_VERSION;
    rel.deployment_id = (char *)dr_rollout_id(r);
    rel.n_target_ids = n;
    rel.target_ids = ids;
    rel.n_jobs_floor = floor_count;
    rel.jobs_floor = floors;
    rel.replica_id = (char *)sv->s->replica_id;
    rel.at_ms = dr_now_ms();
    dr_publish_count count = {0};
    if ((status = dr_publish_message(sv->producer, DR_TOPIC_RELEASES, rel.deployment_id, &rel.base, &count, &err)) !=
            DR_OK ||
        (status = flush_all(sv, &count, 1, &err)) != DR_OK)
        goto cleanup; /* nothing released: the next turn tries again */
    if (sv->s->exit_after_releases > 0 && ++sv->releases_written == sv->s->exit_after_releases) {
        dr_log(DR_LOG_WARN, "serve.fault_exit", "deployment=%s jobs=%zu (exit-after-releases)", rel.deployment_id, n);
        _exit(DR_EXIT_TEST_ABORT);
    }
    if ((status = dr_rollout_record_release(r, &rel, &err)) != DR_OK)
        goto cleanup;
    /* From here the jobs are released on record; a failed write leaves them in doubt, resolved next turn. */
    status = write_jobs(sv, r, jobs, n, &err);
    o->in_doubt = status != DR_OK;
    if (sv->s->metrics)
        dr_metrics_counter_add(sv->s->metrics, "drover_control_plane_jobs_released_total", "", (double)n);
    dr_log(status == DR_OK ? DR_LOG_INFO : DR_LOG_WARN, "serve.released", "deployment=%s jobs=%zu first=%s%s%s",
           rel.deployment_id, n, ids[0],
           status == DR_OK ? "" : " in_doubt=true error=", status == DR_OK ? "" : err.detail);
    status = DR_OK;
cleanup:
    if (status != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "serve.release_failed", "deployment=%s msg=%s", dr_rollout_id(r),
               dr_log_quote(quoted, sizeof quoted, err.detail));
    }
    free(floors);
    free(ids);
    free(jobs);
}

/*
 * End every job of r not released yet (at most max) with state, reason and
 * message, then mark r stopped: nothing more of it is released.  On a
 * failed write nothing is marked, and the next turn tries again.
 */
static dr_status end_unreleased(serve *sv, dr_rollout *r, const dr_rollup_deployment *fold, size_t max,
                                Drover__V1__JobState state, dr_status reason, const char *message, size_t *ended,
                                dr_error *err)
{
    const dr_rollup_job **jobs = calloc(max ? max : 1, sizeof *jobs);
    dr_status status = DR_OK;
    dr_publish_count count = {0};
    *ended = 0;
    if (!jobs)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    size_t n = dr_rollout_next_targets(r, fold, jobs, max);
    for (size_t i = 0; i < n && status == DR_OK; i++)
        status = produce_job_end(sv, r, jobs[i], state, reason, message, &count, err);
    if (status == DR_OK)
        status = flush_all(sv, &count, n, err);
    if (status == DR_OK) {
        dr_rollout_mark_stopped(r);
        count_ended(sv, reason, n);
        *ended = n;
    }
    free(jobs);
    return status;
}

/* End every unreleased job as CANCELLED (reason: the cancel, or the error limit). */
static void stop(serve *sv, owned_deployment *o, const dr_rollup_deployment *fold, const dr_rollout_plan *plan)
{
    dr_rollout *r = o->rollout;
    dr_error err = {0};
    char message[256];
    size_t n = 0;
    if (plan->reason == DR_ERR_CANCELLED)
        snprintf(message, sizeof message, "the deployment was cancelled before this job was released; nothing ran");
    else
        snprintf(message, sizeof message,
                 "the deployment passed its max errors (%lld) before this job was released; nothing ran",
                 plan->max_errors);
    if (end_unreleased(sv, r, fold, plan->count, DROVER__V1__JOB_STATE__JOB_STATE_CANCELLED, plan->reason, message, &n,
                       &err) == DR_OK) {
        dr_log(DR_LOG_INFO, "serve.stopped", "deployment=%s reason=%s cancelled_jobs=%zu", dr_rollout_id(r),
               dr_status_name(plan->reason), n);
    } else {
        char quoted[700];
        dr_log(DR_LOG_WARN, "serve.stop_failed", "deployment=%s msg=%s", dr_rollout_id(r),
               dr_log_quote(quoted, sizeof quoted, err.detail));
    }
}

/* End every unreleased job of a refused deployment REJECTED, saying why; nothing of it runs. */
static dr_status refuse_deployment(serve *sv, owned_deployment *o, const dr_rollup_deployment *fold,
                                   const dr_authority_decision *decision)
{
    dr_error err = {0};
    char message[1024];
    size_t n = 0;
    dr_rollup_summary summary;
    dr_rollup_summarize(fold, &summary);
    snprintf(message, sizeof message, "the control plane refused the deployment (%s): %s; nothing ran", decision->rule,
             decision->message);
    dr_status status = end_unreleased(sv, o->rollout, fold, (size_t)summary.total,
                                      DROVER__V1__JOB_STATE__JOB_STATE_REJECTED, decision->reason, message, &n, &err);
    if (status != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "serve.refuse_failed", "deployment=%s msg=%s", dr_rollout_id(o->rollout),
               dr_log_quote(quoted, sizeof quoted, err.detail));
    }
    return status;
}

/* The deployment's scope for the audit trail: "package@version, N targets". */
static void describe_scope(const Drover__V1__Deployment *d, size_t targets, char *buf, size_t size)
{
    snprintf(buf, size, "%s@%s %s, %zu target%s", d->package, d->version, dr_action_name(d->action), targets,
             targets == 1 ? "" : "s");
}

/*
 * The authority's decision on an owned deployment, made once every PENDING
 * event is folded (the targets are known) and before anything is released:
 * 1 when it may go on; 0 when it waits, or was refused now (its jobs end
 * REJECTED).  The targets its PENDING events name must be the ones it
 * signed (targets_sha256).  Expiry applies only to a deployment nothing
 * of which has started: one taken over half-way was allowed before.
 */
static int authorize(serve *sv, owned_deployment *o, const dr_rollup_deployment *fold)
{
    dr_rollout *r = o->rollout;
    const Drover__V1__Deployment *d = dr_rollout_deployment(r);
    dr_rollout_action next = d && fold ? dr_rollout_decide(r, fold, 0).action : DR_ROLLOUT_WAIT;
    if (next == DR_ROLLOUT_WAIT)
        return 0;
    size_t total = 0, known = 0;
    const dr_rollup_job **jobs = dr_rollup_jobs(fold, &total);
    const char **ids = calloc(total ? total : 1, sizeof *ids);
    const Drover__V1__Target **targets = calloc(total ? total : 1, sizeof *targets);
    dr_authority_decision decision;
    dr_error err = {0};
    int started = dr_rollout_released_count(r) > 0, allowed = 0;
    char digest[DR_SHA256_HEX_SIZE], scope[512];
    if (!jobs || !ids || !targets || (!sv->tables_loaded && load_tables(sv, &err) != DR_OK))
        goto cleanup; /* tried again next turn */
    for (size_t i = 0; i < total; i++) {
        ids[i] = jobs[i]->target_id;
        started |= jobs[i]->state != DROVER__V1__JOB_STATE__JOB_STATE_PENDING;
        const Drover__V1__Target *t = dr_inventory_find(&sv->inventory, jobs[i]->target_id);
        if (t) /* an unknown target ends REJECTED (unknown-target) at its release */
            targets[known++] = t;
    }
    if (dr_targets_digest(ids, total, digest) != 0)
        goto cleanup;
    const Drover__V1__RateControls *rc = d->rate_controls;
    dr_authority_request q = {.action = DR_ACTION_DEPLOY,
                              .bytes = o->request,
                              .len = o->request_len,
                              .must_be_fresh = !started,
                              .check_replay = 1,
                              .partition = o->partition,
                              .offset = o->offset,
                              .package = d->package,
                              .targets = targets,
                              .target_count = known,
                              .has_limits = 1,
                              .job_count = total,
                              .max_concurrency = rc && rc->max_concurrency ? rc->max_concurrency : "",
                              .max_errors = rc && rc->max_errors ? rc->max_errors : ""};
    dr_authority_check(sv->s->authority, &q, dr_now_ms(), &decision);
    int signed_request = strcmp(decision.operator_name, DR_AUTHORITY_UNSIGNED) != 0;
    if (decision.allowed && (signed_request || (d->targets_sha256 && d->targets_sha256[0])) &&
        (!d->targets_sha256 || strcmp(d->targets_sha256, digest) != 0)) {
        decision.allowed = 0;
        decision.reason = DR_ERR_REQUEST_SIGNATURE;
        snprintf(decision.rule, sizeof decision.rule, "targets");
        snprintf(decision.message, sizeof decision.message,
                 "its PENDING events name %zu targets whose digest is not the one the request signed", total);
    }
    describe_scope(d, total, scope, sizeof scope);
    if (next == DR_ROLLOUT_DONE && decision.reason != DR_ERR_REPLAYED) {
        /* Nothing left to release (a finished deployment read again): decided before, by whoever ran it. */
        o->authorized = o->allowed = 1;
        allowed = 1;
        goto cleanup;
    }
    dr_audit_log_write(&sv->audit, &decision, DR_ACTION_DEPLOY, d->deployment_id, scope);
    /* Decided: allowed, or refused and its jobs ended (a failed write decides again next turn). */
    o->authorized = decision.allowed || refuse_deployment(sv, o, fold, &decision) == DR_OK;
    o->allowed = decision.allowed;
    allowed = decision.allowed;
cleanup:
    free(targets);
    free(ids);
    free(jobs);
    return allowed;
}

/* What finding the last release's Jobs on the jobs topic collects. */
typedef struct doubt_scan {
    const char *deployment_id;
    dr_strmap *wanted; /* target id -> marker; found ones are removed */
} doubt_scan;

static int doubt_scan_record(void *ctx, const char *key, size_t key_len, const void *value, size_t value_len,
                             int64_t timestamp_ms)
{
    doubt_scan *scan = ctx;
    (void)timestamp_ms;
    char target[256];
    if (!value || key_len == 0 || key_len >= sizeof target)
        return 0;
    memcpy(target, key, key_len);
    target[key_len] = '\0';
    if (!dr_strmap_get(scan->wanted, target))
        return 0;
    Drover__V1__Job *job = NULL;
    dr_error err = {0};
    if (dr_job_decode(value, value_len, &job, &err) == DR_OK && job->deployment_id &&
        strcmp(job->deployment_id, scan->deployment_id) == 0)
        dr_strmap_remove(scan->wanted, target);
    if (job)
        drover__v1__job__free_unpacked(job, NULL);
    return dr_strmap_count(scan->wanted) == 0;
}

/*
 * The last Release record's jobs that no worker reported on yet may never
 * have been written (see serve.h): find them on the jobs topic from the
 * record's floors, and write those that are not there.
 */
static void resolve_in_doubt(serve *sv, owned_deployment *o, const dr_rollup_deployment *fold)
{
    dr_rollout *r = o->rollout;
    char *const *targets;
    const int64_t *floors;
    size_t target_count, floor_count;
    dr_error err = {0};
    dr_status status = DR_OK;
    doubt_scan scan = {.deployment_id = dr_rollout_id(r), .wanted = dr_strmap_new()};
    const dr_rollup_job **missing = NULL;
    size_t missing_count = 0;
    char job_id[512];
    dr_rollout_last_release(r, &targets, &target_count, &floors, &floor_count);
    if (!scan.wanted || !(missing = calloc(target_count + 1, sizeof *missing))) {
        status = dr_error_set(&err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < target_count; i++) {
        dr_job_id_format(job_id, sizeof job_id, dr_rollout_id(r), targets[i]);
        const dr_rollup_job *job = fold ? dr_rollup_find_job(fold, job_id) : NULL;
        /* Only a job no one reported on since PENDING can be missing. */
        if (job && job->state == DROVER__V1__JOB_STATE__JOB_STATE_PENDING &&
            dr_strmap_put(scan.wanted, targets[i], r)) {
            status = dr_error_set(&err, DR_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
    }
    size_t candidates = dr_strmap_count(scan.wanted);
    if (candidates == 0)
        goto cleanup;
    status = dr_kafka_read_topic_from(&sv->s->kafka, DR_TOPIC_JOBS, floors, floor_count, doubt_scan_record, &scan,
                                      sv->s->timeout_ms, &err);
    if (status != DR_OK)
        goto cleanup;
    for (size_t i = 0; i < target_count; i++)
        if (dr_strmap_get(scan.wanted, targets[i])) {
            dr_job_id_format(job_id, sizeof job_id, dr_rollout_id(r), targets[i]);
            missing[missing_count++] = dr_rollup_find_job(fold, job_id);
        }
    if (missing_count)
        status = write_jobs(sv, r, missing, missing_count, &err);
    dr_log(DR_LOG_INFO, "serve.in_doubt_resolved", "deployment=%s candidates=%zu found=%zu written=%zu%s",
           dr_rollout_id(r), candidates, candidates - missing_count, status == DR_OK ? missing_count : 0,
           status == DR_OK ? "" : " (write failed; retried)");
cleanup:
    if (status != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "serve.in_doubt_failed", "deployment=%s msg=%s", dr_rollout_id(r),
               dr_log_quote(quoted, sizeof quoted, err.detail));
    }
    o->in_doubt = status != DR_OK;
    if (status == DR_OK)
        o->adopted = 1;
    dr_strmap_free(scan.wanted);
    free(missing);
}

/* One owned deployment's turn; returns 1 when it is finished and can be forgotten. */
static int advance(serve *sv, owned_deployment *o)
{
    dr_rollout *r = o->rollout;
    const dr_rollup_deployment *fold = dr_rollup_find(sv->fold, dr_rollout_id(r));
    if (!o->adopted || o->in_doubt) {
        resolve_in_doubt(sv, o, fold);
        if (!o->adopted || o->in_doubt)
            return 0;
    }
    if (!o->authorized && !authorize(sv, o, fold) && !o->authorized)
        return 0;
    int cancelled = dr_strmap_get(sv->cancelled, dr_rollout_id(r)) != NULL;
    dr_rollout_plan plan = dr_rollout_decide(r, fold, cancelled);
    switch (plan.action) {
    case DR_ROLLOUT_RELEASE:
        release(sv, o, fold, plan.count);
        break;
    case DR_ROLLOUT_STOP:
        stop(sv, o, fold, &plan);
        break;
    case DR_ROLLOUT_DONE:
        dr_log(DR_LOG_INFO, "serve.finished", "deployment=%s released=%zu", dr_rollout_id(r),
               dr_rollout_released_count(r));
        return 1;
    case DR_ROLLOUT_WAIT:
    case DR_ROLLOUT_IDLE:
        break;
    }
    return 0;
}

/* ---- what is read ---- */

/*
 * Write the control plane's confirmation of an allowed cancel: the Cancel
 * again, signed with its own key.  Marked confirmed when it is read back.
 * A control plane without a key (a demo's) confirms nothing: its workers
 * take unsigned jobs, and unsigned cancels with them.
 */
static void confirm_cancel(serve *sv, const char *deployment_id)
{
    if (!sv->s->signing_key)
        return;
    Drover__V1__Cancel c = DROVER__V1__CANCEL__INIT;
    char requested_by[300];
    uint8_t *bytes = NULL;
    size_t len = 0;
    dr_error err = {0};
    dr_publish_count count = {0};
    snprintf(requested_by, sizeof requested_by, "control plane %s, for an allowed request", sv->s->replica_id);
    c.schema_version = DR_SCHEMA_VERSION;
    c.deployment_id = (char *)deployment_id;
    c.reason = "confirmed";
    c.requested_by = requested_by;
    c.at_ms = dr_now_ms();
    if (dr_request_encode(sv->s->signing_key, &c.base, &bytes, &len, &err) != DR_OK ||
        dr_publish_bytes(sv->producer, DR_TOPIC_CONTROL, deployment_id, bytes, len, &count, &err) != DR_OK ||
        flush_all(sv, &count, 1, &err) != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "serve.cancel_confirm_failed", "deployment=%s msg=%s (tried again at the next sync)",
               deployment_id, dr_log_quote(quoted, sizeof quoted, err.detail));
    }
    free(bytes);
}

static int confirm_visit(void *ctx, const char *key, void *value)
{
    if (value == CANCEL_ALLOWED)
        confirm_cancel(ctx, key);
    return 0;
}

/*
 * Whether a Cancel may stop its deployment: the authority's decision, as a
 * cancel of the deployment's package when this replica knows it.  Cancels
 * do not expire (a cancel only ever stops work, and is idempotent), so a
 * replica reading the control topic from its start takes old ones alike.
 * *confirmation is set for the control plane's own confirmations (not
 * audited: the operator's request was).
 */
static int cancel_allowed(serve *sv, const rd_kafka_message_t *msg, const Drover__V1__Cancel *c, int *confirmation)
{
    dr_rollout *r = dr_strmap_get(sv->rollouts, c->deployment_id);
    const Drover__V1__Deployment *d = r ? dr_rollout_deployment(r) : NULL;
    dr_authority_request q = {.action = DR_ACTION_CANCEL,
                              .bytes = msg->payload,
                              .len = msg->len,
                              .check_replay = 1,
                              .partition = msg->partition,
                              .offset = msg->offset,
                              .package = d ? d->package : NULL};
    dr_authority_decision decision;
    dr_authority_check(sv->s->authority, &q, dr_now_ms(), &decision);
    *confirmation = decision.allowed && strcmp(decision.operator_name, DR_AUTHORITY_CONTROL_PLANE) == 0;
    if (!*confirmation)
        dr_audit_log_write(&sv->audit, &decision, DR_ACTION_CANCEL, c->deployment_id, d ? d->package : "");
    return decision.allowed;
}

/*
 * Whether a TargetEvent may change the inventory and start on-launch runs:
 * the authority's decision on it as target.launch (launched, tags changed)
 * or target.terminate, fresh and not replayed, for the target it names
 * (a terminated one as the inventory knows it).  The message's key must be
 * that target's id.
 */
static int event_allowed(serve *sv, const rd_kafka_message_t *msg, const Drover__V1__TargetEvent *e)
{
    const Drover__V1__Target *t = e->target;
    dr_error err = {0};
    int terminated = e->kind == DROVER__V1__TARGET_EVENT__KIND__KIND_TERMINATED;
    if (!t || !t->target_id || dr_check_id("event: target id", t->target_id, &err) != DR_OK ||
        msg->key_len != strlen(t->target_id) || memcmp(msg->key, t->target_id, msg->key_len) != 0) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "serve.skipped_event", "partition=%d offset=%lld msg=%s", (int)msg->partition,
               (long long)msg->offset,
               dr_log_quote(quoted, sizeof quoted, err.detail[0] ? err.detail : "the key is not the target's id"));
        return 0;
    }
    const Drover__V1__Target *known =
        terminated && sv->tables_loaded ? dr_inventory_find(&sv->inventory, t->target_id) : NULL;
    const Drover__V1__Target *scope = terminated ? known : t;
    dr_authority_request q = {.action = terminated ? DR_ACTION_TARGET_TERMINATE : DR_ACTION_TARGET_LAUNCH,
                              .bytes = msg->payload,
                              .len = msg->len,
                              .must_be_fresh = 1,
                              .check_replay = 1,
                              .partition = msg->partition,
                              .offset = msg->offset,
                              .targets = scope ? &scope : NULL,
                              .target_count = scope ? 1 : 0};
    dr_authority_decision decision;
    dr_authority_check(sv->s->authority, &q, dr_now_ms(), &decision);
    dr_audit_log_write(&sv->audit, &decision, q.action, t->target_id, terminated ? "terminated" : "launched");
    return decision.allowed;
}

/*
 * Target events reach a replica two ways (see serve.h): through the events
 * group, which gives each partition to one replica and resumes from the
 * offsets it committed, so an event written while no replica ran is acted
 * on when one comes back; and live, through the follower, for the on-launch
 * associations of replicas that do not hold the event's partition.  The
 * holder writes the inventory (owner = 1); the others only run their own
 * associations for it.
 */
static int holds_event_partition(const serve *sv, int32_t partition)
{
    const rd_kafka_topic_partition_list_t *parts = sv->event_parts;
    for (int i = 0; parts && i < parts->cnt; i++)
        if (parts->elems[i].partition == partition)
            return 1;
    return 0;
}

static void take_event(serve *sv, const rd_kafka_message_t *msg, int owner)
{
    Drover__V1__TargetEvent *e = NULL;
    dr_error err = {0};
    if (msg->payload && dr_target_event_decode(msg->payload, msg->len, &e, &err) == DR_OK && event_allowed(sv, msg, e))
        dr_associations_target_event(sv->associations, e, owner);
    else if (err.status != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "serve.skipped_event", "partition=%d offset=%lld msg=%s", (int)msg->partition,
               (long long)msg->offset, dr_log_quote(quoted, sizeof quoted, err.detail));
    }
    if (e)
        drover__v1__target_event__free_unpacked(e, NULL);
}

/* Runs inside dr_kafka_consumer_poll of the events consumer. */
static void on_events_rebalance(void *opaque, const rd_kafka_topic_partition_list_t *partitions, int assigned)
{
    serve *sv = opaque;
    rd_kafka_topic_partition_list_t *held =
        rd_kafka_topic_partition_list_new(sv->event_parts ? sv->event_parts->cnt : 0);
    for (int i = 0; sv->event_parts && i < sv->event_parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &sv->event_parts->elems[i];
        if (!rd_kafka_topic_partition_list_find(partitions, p->topic, p->partition))
            rd_kafka_topic_partition_list_add(held, p->topic, p->partition);
    }
    for (int i = 0; assigned && i < partitions->cnt; i++)
        rd_kafka_topic_partition_list_add(held, partitions->elems[i].topic, partitions->elems[i].partition);
    if (sv->event_parts)
        rd_kafka_topic_partition_list_destroy(sv->event_parts);
    sv->event_parts = held;
    dr_log(DR_LOG_INFO, assigned ? "serve.events_assigned" : "serve.events_revoked", "partitions=%d held=%d",
           partitions->cnt, held->cnt);
}

/*
 * The events the group gives this replica, once it has caught up (the
 * authority's replay window and the tables are then current): each acted
 * on, then its offset committed, so it is not acted on again.  A replica
 * that dies between the two acts on it again when it comes back: the
 * inventory record is the same, and the run's id is the event's, so the
 * same deployment is published again and ignored (at least once).
 */
static void take_group_events(serve *sv)
{
    rd_kafka_message_t *msg;
    for (int i = 0; i < FOLLOW_BATCH && (msg = dr_kafka_consumer_poll(sv->events, 0)); i++) {
        take_event(sv, msg, 1);
        dr_error err = {0};
        if (dr_kafka_consumer_commit(sv->events, rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset + 1,
                                     &err) != DR_OK)
            dr_log(DR_LOG_WARN, "serve.event_commit_failed", "partition=%d offset=%lld msg=\"%s\"", (int)msg->partition,
                   (long long)msg->offset, err.detail);
        rd_kafka_message_destroy(msg);
    }
}

static void take_followed(serve *sv, const rd_kafka_message_t *msg, dr_topic topic)
{
    dr_error err = {0};
    if (topic == DR_TOPIC_INVENTORY) { /* read again, and checked, once it settles (warm_tables) */
        sv->inventory_changed_ms = dr_monotonic_ms();
        return;
    }
    if (!msg->payload) /* a tombstone: nothing on these topics means anything by one */
        return;
    if (topic == DR_TOPIC_STATUS) {
        Drover__V1__StatusEvent *e = NULL;
        dr_rollup_fold_result result;
        sv->status_events++;
        if (dr_status_event_decode(msg->payload, msg->len, &e, &err) == DR_OK)
            dr_rollup_fold(sv->fold, e, msg->partition, &result, &err);
        if (e)
            drover__v1__status_event__free_unpacked(e, NULL);
    } else if (topic == DR_TOPIC_RELEASES) {
        Drover__V1__Release *rel = NULL;
        if (dr_release_decode(msg->payload, msg->len, &rel, &err) == DR_OK && rel->deployment_id &&
            rel->deployment_id[0] && !dr_rollup_table_is_expired(sv->fold, rel->deployment_id)) {
            dr_rollout *r = get_rollout(sv, rel->deployment_id);
            if (r)
                dr_rollout_record_release(r, rel, &err);
        }
        if (rel)
            drover__v1__release__free_unpacked(rel, NULL);
    } else if (topic == DR_TOPIC_PACKAGES) {
        dr_associations_packages_changed(sv->associations);
    } else if (topic == DR_TOPIC_EVENTS) {
        /* A partition this replica holds in the events group is acted on there (take_event), once. */
        if (sv->synced_once && !holds_event_partition(sv, msg->partition))
            take_event(sv, msg, 0);
    } else if (topic == DR_TOPIC_CONTROL) {
        Drover__V1__Cancel *c = NULL;
        int confirmation = 0;
        /* An id deploy would refuse names no deployment: not kept (the set would grow on anyone's writes). */
        if (dr_cancel_decode(msg->payload, msg->len, &c, &err) == DR_OK &&
            dr_check_id("cancel: deployment id", c->deployment_id ? c->deployment_id : "", &err) == DR_OK &&
            dr_strmap_get(sv->cancelled, c->deployment_id) != CANCEL_CONFIRMED &&
            cancel_allowed(sv, msg, c, &confirmation)) {
            int known = dr_strmap_get(sv->cancelled, c->deployment_id) != NULL;
            dr_strmap_put(sv->cancelled, c->deployment_id, confirmation ? CANCEL_CONFIRMED : CANCEL_ALLOWED);
            if (!known)
                dr_log(DR_LOG_INFO, "serve.cancel_seen", "deployment=%s", c->deployment_id);
            /* Confirmed now, or, while reading history at start, after it (it may be confirmed further on). */
            if (!confirmation && sv->synced_once)
                confirm_cancel(sv, c->deployment_id);
        }
        if (c)
            drover__v1__cancel__free_unpacked(c, NULL);
    }
    if (err.status != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "serve.skipped_message", "topic=%s partition=%d offset=%lld msg=%s", dr_topic_suffix(topic),
               (int)msg->partition, (long long)msg->offset, dr_log_quote(quoted, sizeof quoted, err.detail));
    }
}

/*
 * A Deployment off Kafka, checked by the rules deploy checks a request with
 * (names.h): its id becomes a key and a log value, and a target named twice
 * would be waited for forever (one job, counted twice).
 */
static dr_status check_deployment(const Drover__V1__Deployment *d, dr_error *err)
{
    dr_status status = dr_check_id("deployment id", d->deployment_id ? d->deployment_id : "", err);
    if (status == DR_OK)
        status = dr_check_package_token("package", d->package ? d->package : "", err);
    if (status != DR_OK || !d->selection)
        return status;
    dr_strmap *seen = dr_strmap_new();
    if (!seen)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < d->selection->n_target_ids && status == DR_OK; i++) {
        const char *id = d->selection->target_ids[i];
        if ((status = dr_check_id("target id", id ? id : "", err)) != DR_OK)
            break;
        if (dr_strmap_get(seen, id))
            status = dr_error_set(err, DR_ERR_USAGE, "deployment %s names target %s twice", d->deployment_id, id);
        else if (dr_strmap_put(seen, id, (void *)id) != 0)
            status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    }
    dr_strmap_free(seen);
    return status;
}

static void take_deployment(serve *sv, const rd_kafka_message_t *msg)
{
    Drover__V1__Deployment *d = NULL;
    dr_error err = {0};
    if (!msg->payload || dr_deployment_decode(msg->payload, msg->len, &d, &err) != DR_OK ||
        check_deployment(d, &err) != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "serve.skipped_deployment", "partition=%d offset=%lld msg=%s", (int)msg->partition,
               (long long)msg->offset, dr_log_quote(quoted, sizeof quoted, err.detail));
        if (d)
            drover__v1__deployment__free_unpacked(d, NULL);
        return;
    }
    if (dr_rollup_table_is_expired(sv->fold, d->deployment_id)) {
        /* Finished and gone past the retention: read again (a restart), it has nothing left to do. */
        drover__v1__deployment__free_unpacked(d, NULL);
        return;
    }
    dr_rollout *r = get_rollout(sv, d->deployment_id);
    owned_deployment *o = dr_strmap_get(sv->owned, d->deployment_id);
    dr_request_origin origin;
    dr_error claim_err = {0};
    dr_request_verify(NULL, msg->payload, msg->len, &origin, &claim_err); /* what it claims; checked later */
    if (o && o->request && (o->allowed || (origin.request_id[0] && strcmp(origin.request_id, o->request_id) == 0))) {
        /*
         * The request taken already, again (Kafka re-reading it, or a copy written again), or another
         * message for a deployment already allowed: the allowed one stands, whoever wrote this.
         */
        if (msg->offset != o->offset) {
            char quoted[300];
            dr_log(DR_LOG_WARN, "serve.request_copy_ignored",
                   "deployment=%s request=%s partition=%d offset=%lld msg=\"the deployment was taken already\"",
                   d->deployment_id, dr_log_quote(quoted, sizeof quoted, origin.request_id), (int)msg->partition,
                   (long long)msg->offset);
        }
        drover__v1__deployment__free_unpacked(d, NULL);
        return;
    }
    if (!o && r) {
        o = calloc(1, sizeof *o);
        if (o && dr_strmap_put(sv->owned, d->deployment_id, o) != 0) {
            free(o);
            o = NULL;
        }
    }
    uint8_t *request = malloc(msg->len ? msg->len : 1);
    if (!r || !o || !request) {
        dr_log(DR_LOG_ERROR, "serve.nomem", "deployment=%s", d->deployment_id);
        free(request);
        drover__v1__deployment__free_unpacked(d, NULL);
        return;
    }
    memcpy(request, msg->payload, msg->len);
    free(o->request);
    o->request = request;
    o->request_len = msg->len;
    snprintf(o->request_id, sizeof o->request_id, "%s", origin.request_id);
    o->rollout = r;
    o->partition = msg->partition;
    o->offset = msg->offset;
    o->written_at_ms = rd_kafka_message_timestamp(msg, NULL);
    if (o->written_at_ms <= 0)
        o->written_at_ms = dr_now_ms();
    o->authorized = 0;               /* another request for the id: decided afresh */
    dr_rollout_set_deployment(r, d); /* the same id published again: the later message wins */
}

typedef struct partition_search {
    int32_t partition;
    char *key; /* a copy of the key found (whatever its length); NULL when none was, or memory ran out */
} partition_search;

static int find_in_partition(void *ctx, const char *key, void *value)
{
    partition_search *search = ctx;
    if (((owned_deployment *)value)->partition != search->partition)
        return 0;
    search->key = strdup(key);
    return 1;
}

static int unadopt_visit(void *ctx, const char *key, void *value)
{
    (void)ctx, (void)key;
    ((owned_deployment *)value)->adopted = 0;
    return 0;
}

/* ---- retention and checkpoints ---- */

/* Remember (held) or forget that the deployments topic's partition id is assigned to this replica. */
static void hold_partition(serve *sv, int32_t id, int held)
{
    for (size_t i = 0; i < sv->held_count; i++)
        if (sv->held[i] == id) {
            if (!held)
                sv->held[i] = sv->held[--sv->held_count];
            return;
        }
    int32_t *grown = held ? realloc(sv->held, (sv->held_count + 1) * sizeof *grown) : NULL;
    if (grown) {
        sv->held = grown;
        sv->held[sv->held_count++] = id;
    }
}

static int holds_partition(const serve *sv, int32_t id)
{
    for (size_t i = 0; i < sv->held_count; i++)
        if (sv->held[i] == id)
            return 1;
    return 0;
}

/*
 * Write status partition id's checkpoint of the fold, covering it up to the
 * follower's position, when it moved since the last one.  Written by the
 * replica holding the deployments topic's partition of the same number
 * (the deployments and status topics share their key, the deployment id),
 * so each status partition has one writer; the reader "control-plane:GROUP"
 * is every replica of the group.
 */
static void write_checkpoint(serve *sv, int32_t id)
{
    if (!sv->synced || id < 0 || (size_t)id >= sv->status_partitions || !holds_partition(sv, id))
        return;
    int64_t position = dr_kafka_follower_position(sv->follower, DR_TOPIC_STATUS, id);
    if (position < 0 || position == sv->checkpointed[id])
        return;
    dr_error err = {0};
    size_t bytes = 0;
    sv->next_checkpoint_ms[id] = dr_monotonic_ms() + DR_CHECKPOINT_INTERVAL_MS;
    if (dr_checkpoint_write(sv->producer, sv->reader, sv->fold, id, position, &bytes, &err) != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "serve.checkpoint_failed", "partition=%d msg=%s", (int)id,
               dr_log_quote(quoted, sizeof quoted, err.detail));
        return;
    }
    sv->checkpointed[id] = position;
    dr_log(DR_LOG_DEBUG, "serve.checkpoint_written", "partition=%d next_offset=%lld bytes=%zu", (int)id,
           (long long)position, bytes);
}

static void write_due_checkpoints(serve *sv)
{
    long long now = dr_monotonic_ms();
    for (size_t i = 0; i < sv->status_partitions; i++) {
        int64_t position = dr_kafka_follower_position(sv->follower, DR_TOPIC_STATUS, (int32_t)i);
        if (dr_checkpoint_due(sv->checkpointed[i], position, sv->next_checkpoint_ms[i], now))
            write_checkpoint(sv, (int32_t)i);
    }
}

/*
 * Before following the status topic: restore the fold from the group's
 * checkpoints, and say where each status partition is to be read from
 * (*starts, malloc'd).  One past its partition's end (a broker started
 * afresh) is not used.  Any failure leaves the partition to be read from
 * its beginning, as without checkpoints.
 */
static void restore_checkpoints(serve *sv, dr_kafka_start **starts, size_t *start_count)
{
    int64_t *highs = NULL;
    size_t partitions = 0;
    dr_checkpoints *checkpoints = NULL;
    dr_error err = {0};
    *starts = NULL;
    *start_count = 0;
    if (dr_kafka_high_watermarks(&sv->s->kafka, dr_kafka_producer_handle(sv->producer), DR_TOPIC_STATUS,
                                 sv->s->timeout_ms, &highs, &partitions, &err) != DR_OK ||
        dr_checkpoints_read(&sv->s->kafka, sv->reader, sv->s->timeout_ms, &checkpoints, &err) != DR_OK ||
        !(*starts = calloc(partitions + 1, sizeof **starts))) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "serve.checkpoints_unread", "msg=%s (the status topic is read from its beginning)",
               dr_log_quote(quoted, sizeof quoted, err.detail[0] ? err.detail : "out of memory"));
        goto cleanup;
    }
    for (size_t p = 0; p < partitions; p++) {
        int found = 0;
        int64_t next = -1;
        err = (dr_error){0};
        if (dr_checkpoints_restore(checkpoints, (int32_t)p, sv->fold, &found, &next, &err) == DR_OK && found &&
            next > highs[p]) {
            dr_rollup_drop_partition(sv->fold, (int32_t)p);
            snprintf(err.detail, sizeof err.detail, "its offset %lld is past the partition's end", (long long)next);
            found = 0;
        }
        if (found) {
            (*starts)[(*start_count)++] = (dr_kafka_start){DR_TOPIC_STATUS, (int32_t)p, next};
            dr_log(DR_LOG_INFO, "serve.checkpoint_restored", "partition=%zu next_offset=%lld end=%lld", p,
                   (long long)next, (long long)highs[p]);
        } else if (strcmp(err.detail, "no checkpoint") != 0) {
            char quoted[700];
            dr_log(DR_LOG_WARN, "serve.checkpoint_not_used", "partition=%zu msg=%s (read from its beginning)", p,
                   dr_log_quote(quoted, sizeof quoted, err.detail));
        }
    }
cleanup:
    dr_checkpoints_free(checkpoints);
    free(highs);
}

/* The ids retention lets go of, collected during a walk (removed after it). */
typedef struct expiry_walk {
    serve *sv;
    int64_t cutoff_ms;
    char **ids;
    size_t count, capacity;
} expiry_walk;

static void walk_collect(expiry_walk *w, const char *id)
{
    if (w->count == w->capacity) {
        size_t capacity = w->capacity ? w->capacity * 2 : 16;
        char **grown = realloc(w->ids, capacity * sizeof *grown);
        if (!grown)
            return; /* let go of on a later walk */
        w->ids = grown;
        w->capacity = capacity;
    }
    if ((w->ids[w->count] = strdup(id)))
        w->count++;
}

/*
 * Whether a deployment the fold does not hold is let go of: expired from it,
 * or last heard of (written_at_ms) before the retention while the fold,
 * read to the sync point, has no event of it: one that finished and
 * expired before this replica started.
 */
static int gone(const serve *sv, const char *id, int64_t written_at_ms, int64_t cutoff_ms)
{
    if (dr_rollup_table_is_expired(sv->fold, id))
        return 1;
    return !dr_rollup_find(sv->fold, id) && written_at_ms > 0 && written_at_ms < cutoff_ms;
}

/* Every owned deployment has its rollout (take_deployment makes it; both go together), so this walk covers both. */
static int expire_rollout_visit(void *ctx, const char *key, void *value)
{
    expiry_walk *w = ctx;
    owned_deployment *o = dr_strmap_get(w->sv->owned, key);
    int64_t written = o ? o->written_at_ms : dr_rollout_last_release_at_ms(value);
    if (gone(w->sv, key, written, w->cutoff_ms))
        walk_collect(w, key);
    return 0;
}

static int expire_cancel_visit(void *ctx, const char *key, void *value)
{
    (void)value;
    expiry_walk *w = ctx;
    if (dr_rollup_table_is_expired(w->sv->fold, key))
        walk_collect(w, key);
    return 0;
}

/*
 * Retention: deployments finished more than the retention ago leave the
 * fold, and with them what this replica kept of them (their rollouts, an
 * owned request, a cancel).  A deployment read again after a restart whose
 * events the fold no longer holds is let go of the same way.
 */
static void expire(serve *sv)
{
    expiry_walk w = {.sv = sv, .cutoff_ms = dr_now_ms() - sv->s->retention_ms};
    size_t expired = dr_rollup_table_expire(sv->fold, w.cutoff_ms, 0);
    dr_strmap_each(sv->rollouts, expire_rollout_visit, &w);
    size_t forgotten = w.count;
    for (size_t i = 0; i < w.count; i++) {
        forget_deployment(sv, w.ids[i]);
        free(w.ids[i]);
    }
    w.count = 0;
    dr_strmap_each(sv->cancelled, expire_cancel_visit, &w);
    for (size_t i = 0; i < w.count; i++) {
        dr_strmap_remove(sv->cancelled, w.ids[i]);
        free(w.ids[i]);
    }
    free(w.ids);
    if (!expired && !forgotten)
        return;
    if (sv->s->metrics)
        dr_metrics_counter_add(sv->s->metrics, "drover_control_plane_deployments_expired_total", "", (double)expired);
    dr_log(DR_LOG_INFO, "serve.expired", "deployments=%zu forgotten=%zu kept=%zu retention_s=%lld", expired, forgotten,
           dr_rollup_table_count(sv->fold), (long long)(sv->s->retention_ms / 1000));
}

/* Runs inside dr_kafka_consumer_poll. */
static void forget_associations_end(serve *sv)
{
    free(sv->associations_end);
    sv->associations_end = NULL;
    sv->associations_end_count = 0;
    sv->associations_read = 0;
}

/*
 * Whether every associations partition this replica holds has been read to
 * the end it had when it was assigned.  Target events (the group's, and AWS
 * events) wait for it: a launch read at start, before the associations it
 * should match are taken in, would match none of them, for good.
 */
static int associations_read(serve *sv)
{
    if (sv->associations_read)
        return 1;
    dr_error err = {0};
    if (!sv->associations_end &&
        dr_kafka_high_watermarks(&sv->s->kafka, dr_kafka_producer_handle(sv->producer), DR_TOPIC_ASSOCIATIONS,
                                 sv->s->timeout_ms, &sv->associations_end, &sv->associations_end_count, &err) != DR_OK)
        return 0; /* asked again at the next turn */
    rd_kafka_t *rk = dr_kafka_consumer_handle(sv->deployments);
    rd_kafka_topic_partition_list_t *held = NULL;
    if (rd_kafka_assignment(rk, &held) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    rd_kafka_position(rk, held);
    int read = 1;
    for (int i = 0; i < held->cnt && read; i++) {
        const rd_kafka_topic_partition_t *p = &held->elems[i];
        if (strcmp(p->topic, sv->associations_topic) != 0 || p->partition < 0 ||
            (size_t)p->partition >= sv->associations_end_count)
            continue;
        int64_t end = sv->associations_end[p->partition];
        read = end <= 0 || p->offset >= end;
    }
    rd_kafka_topic_partition_list_destroy(held);
    sv->associations_read = read;
    return read;
}

static void on_rebalance(void *opaque, const rd_kafka_topic_partition_list_t *partitions, int assigned)
{
    serve *sv = opaque;
    if (assigned) {
        dr_kafka_consumer_rewind(sv->deployments, partitions);
        for (int i = 0; i < partitions->cnt; i++)
            if (strcmp(partitions->elems[i].topic, sv->deployments_topic) == 0)
                hold_partition(sv, partitions->elems[i].partition, 1);
        /*
         * Not caught up from here until the sync point taken for this
         * assignment is reached: had a failed sync left synced set, a
         * deployment taken over would be adopted before its last Release
         * was read, and the jobs of that release, never written, would
         * count as in flight forever.
         */
        sv->sync_wanted = 1;
        sv->synced = 0;
        forget_associations_end(sv);
        for (int i = 0; i < partitions->cnt; i++)
            dr_log(DR_LOG_INFO, "serve.partition_assigned", "topic=%s partition=%d", partitions->elems[i].topic,
                   (int)partitions->elems[i].partition);
        return;
    }
    for (int i = 0; i < partitions->cnt; i++) {
        int32_t id = partitions->elems[i].partition;
        size_t dropped = 0;
        if (strcmp(partitions->elems[i].topic, sv->associations_topic) == 0) {
            dr_associations_drop_partition(sv->associations, id);
            continue;
        }
        write_checkpoint(sv, id); /* the next holder starts from here */
        hold_partition(sv, id, 0);
        for (;;) { /* a walk must not remove: find one, remove it, walk again */
            partition_search search = {.partition = id};
            dr_strmap_each(sv->owned, find_in_partition, &search);
            if (!search.key)
                break;
            free_owned(dr_strmap_remove(sv->owned, search.key));
            free(search.key);
            dropped++;
        }
        dr_log(DR_LOG_INFO, "serve.partition_revoked", "partition=%d deployments_dropped=%zu", (int)id, dropped);
    }
}

/* ---- the loop ---- */

static int free_value_visit(void *ctx, const char *key, void *value)
{
    (void)ctx, (void)key;
    free(value);
    return 0;
}

static int free_owned_visit(void *ctx, const char *key, void *value)
{
    (void)ctx, (void)key;
    free_owned(value);
    return 0;
}

static int free_rollout_visit(void *ctx, const char *key, void *value)
{
    (void)ctx, (void)key;
    dr_rollout_free(value);
    return 0;
}

/*
 * Read the tables again (checking every new inventory record's signature)
 * once the inventory topic has been quiet for WARM_QUIET_MS, at most every
 * WARM_EVERY_MS: targets are registered long before they are deployed to,
 * and checking 20,000 signatures took 1.6 s that a deployment's first
 * release would otherwise wait for.  The checks of records seen before are
 * remembered (verified_targets), so a read after a few changes costs the
 * read, not the signatures.
 */
#define WARM_QUIET_MS 300
#define WARM_EVERY_MS 5000

static void warm_tables(serve *sv)
{
    long long now = dr_monotonic_ms();
    if (!sv->inventory_changed_ms || now - sv->inventory_changed_ms < WARM_QUIET_MS ||
        now - sv->tables_warmed_ms < WARM_EVERY_MS)
        return;
    dr_error err = {0};
    sv->inventory_changed_ms = 0;
    sv->tables_warmed_ms = now;
    if (load_tables(sv, &err) != DR_OK)
        dr_log(DR_LOG_WARN, "serve.tables_failed", "msg=\"%s\"", err.detail); /* read when needed instead */
}

/* Collects the owned deployments that finished during a pass (removed after it). */
typedef struct pass {
    serve *sv;
    char **finished;
    size_t finished_count;
    size_t capacity;
} pass;

static int advance_visit(void *ctx, const char *key, void *value)
{
    pass *p = ctx;
    if (!advance(p->sv, value))
        return 0;
    if (p->finished_count == p->capacity) {
        size_t capacity = p->capacity ? p->capacity * 2 : 16;
        char **grown = realloc(p->finished, capacity * sizeof *grown);
        if (!grown)
            return 0; /* forgotten on a later pass */
        p->finished = grown;
        p->capacity = capacity;
    }
    if ((p->finished[p->finished_count] = strdup(key)))
        p->finished_count++;
    return 0;
}

static void advance_all(serve *sv)
{
    pass p = {.sv = sv};
    dr_strmap_each(sv->owned, advance_visit, &p);
    for (size_t i = 0; i < p.finished_count; i++) {
        forget_deployment(sv, p.finished[i]);
        free(p.finished[i]);
    }
    free(p.finished);
}

dr_status dr_serve_run(const dr_serve_settings *settings, volatile sig_atomic_t *stop_flag, dr_error *err)
{
    static const dr_topic group_topics[] = {DR_TOPIC_DEPLOYMENTS, DR_TOPIC_ASSOCIATIONS};
    static const dr_topic followed[] = {DR_TOPIC_STATUS,   DR_TOPIC_RELEASES, DR_TOPIC_CONTROL,
                                        DR_TOPIC_PACKAGES, DR_TOPIC_EVENTS,   DR_TOPIC_INVENTORY};
    serve sv = {.s = settings};
    dr_status status = DR_OK;
    sv.fold = dr_rollup_table_new();
    sv.rollouts = dr_strmap_new();
    sv.owned = dr_strmap_new();
    sv.cancelled = dr_strmap_new();
    sv.audited = dr_strmap_new();
    sv.verified_targets = dr_strmap_new();
    if (!sv.fold || !sv.rollouts || !sv.owned || !sv.cancelled || !sv.audited || !sv.verified_targets) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory starting the control plane");
        goto cleanup;
    }
    snprintf(sv.reader, sizeof sv.reader, "control-plane:%s", settings->group);
    dr_kafka_start *starts = NULL;
    size_t start_count = 0;
    if ((status = dr_kafka_producer_new(&settings->kafka, &sv.producer, err)) != DR_OK)
        goto cleanup;
    /* A release writes jobs, a release record and status events in one burst (see dr_kafka_producer_prepare). */
    static const dr_topic written[] = {DR_TOPIC_JOBS, DR_TOPIC_RELEASES, DR_TOPIC_STATUS, DR_TOPIC_CHECKPOINTS};
    dr_kafka_producer_prepare(sv.producer, written, sizeof written / sizeof written[0], settings->timeout_ms);
    restore_checkpoints(&sv, &starts, &start_count);
    status = dr_kafka_follower_new_from(&settings->kafka, followed, sizeof followed / sizeof followed[0], starts,
                                        start_count, settings->timeout_ms, &sv.follower, err);
    free(starts);
    if (status != DR_OK)
        goto cleanup;
    for (int32_t p = 0; dr_kafka_follower_position(sv.follower, DR_TOPIC_STATUS, p) >= 0; p++)
        sv.status_partitions = (size_t)p + 1;
    sv.checkpointed = malloc((sv.status_partitions + 1) * sizeof *sv.checkpointed);
    sv.next_checkpoint_ms = calloc(sv.status_partitions + 1, sizeof *sv.next_checkpoint_ms);
    if (!sv.checkpointed || !sv.next_checkpoint_ms) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory starting the control plane");
        goto cleanup;
    }
    for (size_t p = 0; p < sv.status_partitions; p++)
        sv.checkpointed[p] = dr_kafka_follower_position(sv.follower, DR_TOPIC_STATUS, (int32_t)p);
    if ((status = dr_kafka_consumer_new(&settings->kafka, settings->group, group_topics, 2, &sv.deployments, err)) !=
        DR_OK)
        goto cleanup;
    char events_group[300];
    snprintf(events_group, sizeof events_group, "%s-events", settings->group);
    static const dr_topic event_topics[] = {DR_TOPIC_EVENTS};
    if ((status = dr_kafka_consumer_new(&settings->kafka, events_group, event_topics, 1, &sv.events, err)) != DR_OK)
        goto cleanup;
    dr_kafka_consumer_on_rebalance(sv.events, on_events_rebalance, &sv);
    dr_kafka_topic_name(&settings->kafka, DR_TOPIC_ASSOCIATIONS, sv.associations_topic, sizeof sv.associations_topic);
    dr_kafka_topic_name(&settings->kafka, DR_TOPIC_DEPLOYMENTS, sv.deployments_topic, sizeof sv.deployments_topic);
    sv.audit = (dr_audit_log){.producer = sv.producer,
                              .replica_id = settings->replica_id,
                              .metrics = settings->metrics,
                              .timeout_ms = settings->timeout_ms};
    dr_associations_settings association_settings = {.options = &settings->kafka,
                                                     .producer = sv.producer,
                                                     .timeout_ms = settings->timeout_ms,
                                                     .signing_key = settings->signing_key,
                                                     .authority = settings->authority,
                                                     .audit = &sv.audit};
    if (!(sv.associations = dr_associations_new(&association_settings))) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory starting the control plane");
        goto cleanup;
    }
    if (settings->target_templates) {
        char aws_group[300];
        snprintf(aws_group, sizeof aws_group, "%s-aws-events", settings->group);
        dr_aws_intake_settings aws = {.kafka = &settings->kafka,
                                      .group = aws_group,
                                      .templates = settings->target_templates,
                                      .producer = sv.producer,
                                      .signing_key = settings->signing_key,
                                      .audit = &sv.audit,
                                      .metrics = settings->metrics,
                                      .timeout_ms = settings->timeout_ms,
                                      .max_age_ms = settings->aws_event_max_age_ms};
        if ((status = dr_aws_intake_new(&aws, &sv.aws, err)) != DR_OK)
            goto cleanup;
    }
    dr_kafka_consumer_on_rebalance(sv.deployments, on_rebalance, &sv);
    describe_metrics(settings->metrics);
    dr_log(DR_LOG_INFO, "serve.started", "replica=%s group=%s", settings->replica_id, settings->group);

    while (!*stop_flag) {
        /* The followed topics first: what the deployments' decisions rest on. */
        dr_topic topic;
        for (int i = 0; i < FOLLOW_BATCH; i++) {
            rd_kafka_message_t *msg = dr_kafka_follower_poll(sv.follower, i == 0 ? IDLE_POLL_MS : 0, &topic);
            if (!msg)
                break;
            take_followed(&sv, msg, topic);
            rd_kafka_message_destroy(msg);
        }
        rd_kafka_message_t *msg;
        while ((msg = dr_kafka_consumer_poll(sv.deployments, 0))) {
            if (strcmp(rd_kafka_topic_name(msg->rkt), sv.associations_topic) == 0)
                dr_associations_take(sv.associations, msg->key, msg->key_len, msg->payload, msg->len, msg->partition);
            else
                take_deployment(&sv, msg);
            rd_kafka_message_destroy(msg);
        }
        if (sv.sync_wanted && dr_monotonic_ms() >= sv.next_sync_ms) {
            dr_error sync_err = {0};
            if (dr_kafka_follower_sync(sv.follower, dr_kafka_producer_handle(sv.producer), settings->timeout_ms,
                                       &sync_err) == DR_OK) {
                sv.sync_wanted = 0;
                sv.sync_taken = 1;
                sv.synced = 0;
                /* Every owned deployment is looked at afresh, in-doubt jobs included. */
                dr_strmap_each(sv.owned, unadopt_visit, NULL);
                sv.tables_loaded = 0;
            } else {
                sv.next_sync_ms = dr_monotonic_ms() + SYNC_RETRY_MS; /* Kafka is not well: not every turn */
                dr_log(DR_LOG_WARN, "serve.sync_failed", "retry_ms=%d msg=\"%s\"", SYNC_RETRY_MS, sync_err.detail);
            }
        }
        /* Not before the group's first assignment: until then there is no sync point to have read up to. */
        if (!sv.synced && sv.sync_taken && !sv.sync_wanted && dr_kafka_follower_synced(sv.follower)) {
            sv.synced = 1;
            if (!sv.synced_once)
                dr_strmap_each(sv.cancelled, confirm_visit, &sv); /* allowed before any replica confirmed them */
            sv.synced_once = 1;
            if (settings->ready)
                atomic_store(settings->ready, 1);
            dr_log(DR_LOG_INFO, "serve.synced", "owned=%zu known=%zu status_events_read=%llu",
                   dr_strmap_count(sv.owned), dr_rollup_table_count(sv.fold), sv.status_events);
        }
        if (settings->metrics) {
            dr_metrics_gauge_set(settings->metrics, "drover_control_plane_deployments_owned", "",
                                 (double)dr_strmap_count(sv.owned));
            dr_metrics_gauge_set(settings->metrics, "drover_control_plane_caught_up", "", sv.synced ? 1 : 0);
            dr_metrics_gauge_set(settings->metrics, "drover_control_plane_deployments_known", "",
                                 (double)dr_rollup_table_count(sv.fold));
        }
        if (sv.synced) {
            if (settings->retention_ms > 0 && dr_monotonic_ms() >= sv.next_expiry_ms) {
                expire(&sv); /* before advancing: a deployment it lets go of is not looked at */
                sv.next_expiry_ms = dr_monotonic_ms() + EXPIRY_INTERVAL_MS;
            }
            write_due_checkpoints(&sv);
            warm_tables(&sv);
            if (associations_read(&sv)) {
                take_group_events(&sv);
                if (sv.aws)
                    dr_aws_intake_poll(sv.aws, FOLLOW_BATCH);
            }
            advance_all(&sv);
            dr_associations_tick(sv.associations, dr_now_ms() + settings->schedule_clock_offset_ms);
        }
    }
    dr_log(DR_LOG_INFO, "serve.stopping", "replica=%s owned=%zu", settings->replica_id, dr_strmap_count(sv.owned));
    for (size_t p = 0; p < sv.status_partitions; p++)
        write_checkpoint(&sv, (int32_t)p); /* the next start resumes from here */

cleanup:
    dr_kafka_consumer_close(sv.deployments); /* leaves the group: the others take the deployments over now */
    dr_kafka_consumer_close(sv.events);
    dr_aws_intake_free(sv.aws);
    forget_associations_end(&sv);
    if (sv.event_parts)
        rd_kafka_topic_partition_list_destroy(sv.event_parts);
    dr_kafka_follower_free(sv.follower);
    dr_associations_free(sv.associations); /* before the producer it writes with */
    if (sv.producer)
        dr_kafka_producer_free(sv.producer);
    if (sv.owned) {
        dr_strmap_each(sv.owned, free_owned_visit, NULL);
        dr_strmap_free(sv.owned);
    }
    if (sv.rollouts) {
        dr_strmap_each(sv.rollouts, free_rollout_visit, NULL);
        dr_strmap_free(sv.rollouts);
    }
    dr_strmap_free(sv.cancelled);
    dr_strmap_free(sv.audited);
    if (sv.verified_targets) {
        dr_strmap_each(sv.verified_targets, free_value_visit, NULL);
        dr_strmap_free(sv.verified_targets);
    }
    dr_rollup_table_free(sv.fold);
    free(sv.held);
    free(sv.checkpointed);
    free(sv.next_checkpoint_ms);
    dr_inventory_free(&sv.inventory);
    dr_table_free(&sv.packages);
    return status;
}
