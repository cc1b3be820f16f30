#include "kafka_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cancelled_deployments.h"
#include "request_signing.h"
#include "seen_messages.h"
#include "job_message.h"
#include "log.h"
#include "messages.h"
#include "names.h"
#include "offsets.h"

/*
 * Jobs taken from Kafka ahead of a free thread.  Enough that a thread never
 * waits for the main loop; more only adds its wait to each job's slot time
 * (librdkafka's prefetch holds the rest).
 */
#define QUEUE_HIGH_WATER_PER_THREAD 2

/* A job taken from Kafka and not yet finished. */
typedef struct pending_job {
    struct pending_job *next;
    Drover__V1__Job *job; /* owned; NULL when the message was not a Job */
    char topic[256];
    int32_t partition;
    int64_t offset;
    int64_t taken_at_ms;
    int is_unsigned; /* runs only because allow_unsigned is set */
    char target_id[130];
} pending_job;

/* What a terminal status's delivery report needs to finish the job's offset. */
typedef struct delivery_note {
    dr_kafka_worker *worker;
    char topic[256];
    int32_t partition;
    int64_t offset;
    int64_t taken_at_ms; /* when the job arrived: its slot time ends with this report */
    char job_id[300];
} delivery_note;

struct dr_kafka_worker {
    dr_kafka_worker_settings settings;
    dr_kafka_consumer *consumer;
    dr_kafka_producer *producer;
    pthread_mutex_t lock;
    pthread_cond_t work_ready;
    pthread_cond_t job_done;
    pending_job *queue_head;
    pending_job *queue_tail;
    size_t queued;
    char (*busy_targets)[130]; /* targets with a job running, at most concurrency */
    int busy_count;
    dr_offsets *offsets;
    int threads_stop;
    pthread_t *threads;
    int thread_count;
    pthread_t poller;
    volatile int poller_stop;
    int poller_started;
    int paused;
    long long full_since_ms;             /* when the queue became full; 0 while it is not (main thread only) */
    dr_kafka_follower *control;          /* the control topic: Cancels */
    dr_cancelled_deployments *cancelled; /* deployments cancelled lately; under lock */
    dr_seen_messages *finished;          /* jobs finished lately, to refuse replays; under lock */
};

/* How many finished job ids a worker remembers to refuse a replay of (about 20 MB at most). */
#define FINISHED_JOBS_REMEMBERED 65536
/* How many cancelled deployments a worker remembers (cancelled_deployments.h: under 16 MB). */
#define CANCELLED_DEPLOYMENTS_REMEMBERED 65536

/*
 * A job's ids and names as log values: everything a Job carries came from
 * Kafka, so each goes through dr_log_quote (a plain id is printed as it is,
 * anything else quoted and escaped: a newline in an id cannot forge a line).
 */
typedef struct logged_job {
    char deployment[300];
    char job[600];
    char target[300];
    char package[300];
    char version[300];
} logged_job;

static const logged_job *log_values(logged_job *out, const Drover__V1__Job *job)
{
    const Drover__V1__Target *target = job->target;
    dr_log_quote(out->deployment, sizeof out->deployment, job->deployment_id ? job->deployment_id : "");
    dr_log_quote(out->job, sizeof out->job, job->job_id ? job->job_id : "");
    dr_log_quote(out->target, sizeof out->target, target && target->target_id ? target->target_id : "");
    dr_log_quote(out->package, sizeof out->package, job->package ? job->package : "");
    dr_log_quote(out->version, sizeof out->version, job->version ? job->version : "");
    return out;
}

/* A message for msg=: always quoted, escaped. */
#define LOGGED_MESSAGE_MAX 1600

/*
 * A finished job in the metrics: the counter by state and reason (an error
 * token, dr_status_name: a bounded set, so alerts can tell a signature that
 * did not verify from a platform no file matches), the duration by state.
 */
static void count_job(dr_kafka_worker *w, Drover__V1__JobState state, const char *reason, double seconds)
{
    if (!w->settings.metrics)
        return;
    char by_state[64], by_reason[128];
    snprintf(by_state, sizeof by_state, "state=\"%s\"", dr_job_state_name(state));
    snprintf(by_reason, sizeof by_reason, "%s,reason=\"%s\"", by_state,
             reason && strcmp(dr_status_name(dr_status_from_name(reason)), reason) == 0 ? reason : "none");
    dr_metrics_counter_add(w->settings.metrics, "drover_worker_jobs_total", by_reason, 1);
    if (seconds >= 0)
        dr_metrics_histogram_observe(w->settings.metrics, "drover_worker_job_duration_seconds", by_state, seconds);
}

/* Delivery report of a terminal status: the job is done, its offset may be committed. */
static void terminal_delivered(void *opaque, dr_status status, const char *message)
{
    delivery_note *note = opaque;
    dr_kafka_worker *w = note->worker;
    if (status == DR_OK) {
        pthread_mutex_lock(&w->lock);
        dr_offsets_finished(w->offsets, note->topic, note->partition, note->offset);
        pthread_mutex_unlock(&w->lock);
        if (w->settings.metrics)
            dr_metrics_histogram_observe(w->settings.metrics, "drover_worker_job_slot_seconds", "",
                                         (double)(dr_now_ms() - note->taken_at_ms) / 1000.0);
    } else {
        /* Not committed: the job is redelivered after a restart or rebalance and reported then. */
        char job[600], quoted[LOGGED_MESSAGE_MAX];
        dr_log(DR_LOG_ERROR, "status.lost", "job=%s partition=%d offset=%lld msg=%s",
               dr_log_quote(job, sizeof job, note->job_id), (int)note->partition, (long long)note->offset,
               dr_quote(quoted, sizeof quoted, message ? message : ""));
    }
    free(note);
}

/* The offset of a message that reports to nobody is done at once. */
static void finish_silently(dr_kafka_worker *w, const pending_job *p)
{
    pthread_mutex_lock(&w->lock);
    dr_offsets_finished(w->offsets, p->topic, p->partition, p->offset);
    pthread_mutex_unlock(&w->lock);
}

static void emit(dr_kafka_worker *w, const pending_job *p, Drover__V1__StatusEvent *event, int terminal)
{
    size_t len = 0;
    uint8_t *bytes = dr_message_encode(&event->base, &len);
    delivery_note *note = terminal ? calloc(1, sizeof *note) : NULL;
    dr_error err = {0};
    dr_status status = DR_ERR_NOMEM;
    char job[600];
    dr_log_quote(job, sizeof job, event->job_id);
    if (bytes && (!terminal || note)) {
        if (note) {
            pthread_mutex_lock(&w->lock);
            if (dr_seen_messages_add(w->finished, event->job_id, p->partition, p->offset) != 0)
                dr_log(DR_LOG_WARN, "job.not_remembered", "job=%s msg=\"out of memory: a replay of it would run\"",
                       job);
            pthread_mutex_unlock(&w->lock);
            note->worker = w;
            snprintf(note->topic, sizeof note->topic, "%s", p->topic);
            note->partition = p->partition;
            note->offset = p->offset;
            note->taken_at_ms = p->taken_at_ms;
            snprintf(note->job_id, sizeof note->job_id, "%s", event->job_id);
        }
        status = dr_kafka_produce(w->producer, DR_TOPIC_STATUS, event->deployment_id, bytes, len,
                                  terminal ? terminal_delivered : NULL, note, &err);
    }
    if (status != DR_OK) {
        char quoted[LOGGED_MESSAGE_MAX];
        dr_log(DR_LOG_ERROR, "status.produce_failed", "job=%s state=%s msg=%s", job, dr_job_state_name(event->state),
               dr_quote(quoted, sizeof quoted, err.detail));
        free(note);
    }
    free(bytes);
}

/* Report a job that will not run. */
static void reject(dr_kafka_worker *w, const pending_job *p, Drover__V1__JobState state, const char *reason,
                   const char *message)
{
    Drover__V1__StatusEvent event;
    dr_status_event_for_job(&event, p->job, state, w->settings.worker_id, p->taken_at_ms);
    event.reason = (char *)reason;
    event.message = (char *)message;
    event.exit_code = -1;
    logged_job ids;
    char quoted[LOGGED_MESSAGE_MAX];
    log_values(&ids, p->job);
    dr_log(DR_LOG_WARN, "job.rejected", "deployment=%s job=%s state=%s reason=%s msg=%s", ids.deployment, ids.job,
           dr_job_state_name(state), reason, dr_quote(quoted, sizeof quoted, message));
    emit(w, p, &event, 1);
    count_job(w, state, reason, -1);
}

typedef struct job_start {
    dr_kafka_worker *worker;
    const pending_job *pending;
    const logged_job *ids;
} job_start;

/*
 * The job reaches its target: IN_PROGRESS, and the start line.  A job the
 * engine decides before that (most often: no file for the target's
 * platform) goes straight to its terminal status, one event instead of two.
 */
static void announce_start(void *ctx)
{
    const job_start *start = ctx;
    const Drover__V1__Job *job = start->pending->job;
    Drover__V1__StatusEvent event;
    dr_status_event_for_job(&event, job, DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS,
                            start->worker->settings.worker_id, start->pending->taken_at_ms);
    emit(start->worker, start->pending, &event, 0);
    dr_log(DR_LOG_INFO, "job.start", "deployment=%s job=%s target=%s action=%s package=%s version=%s",
           start->ids->deployment, start->ids->job, start->ids->target, dr_action_name(job->action),
           start->ids->package, start->ids->version);
}

static void run_job(dr_kafka_worker *w, pending_job *p)
{
    Drover__V1__Job *job = p->job;
    if (job->schema_version > DR_SCHEMA_VERSION) {
        char message[128];
        snprintf(message, sizeof message, "job schema version %u is newer than this worker reads (%u)",
                 job->schema_version, DR_SCHEMA_VERSION);
        reject(w, p, DROVER__V1__JOB_STATE__JOB_STATE_REJECTED, dr_status_name(DR_ERR_MALFORMED_MESSAGE), message);
        return;
    }
    pthread_mutex_lock(&w->lock);
    int cancelled =
        job->deployment_id && dr_cancelled_deployments_contains(w->cancelled, job->deployment_id, dr_now_ms());
    int replayed = job->job_id && dr_seen_messages_is_replay(w->finished, job->job_id, p->partition, p->offset);
    pthread_mutex_unlock(&w->lock);
    if (replayed) {
        /* No status: the job's own status stands, and a replay must not be able to change it. */
        logged_job ids;
        dr_log(DR_LOG_WARN, "job.replayed",
               "job=%s partition=%d offset=%lld msg=\"finished already from another "
               "message: the job was written again; nothing ran\"",
               log_values(&ids, job)->job, (int)p->partition, (long long)p->offset);
        finish_silently(w, p);
        return;
    }
    if (cancelled) {
        reject(w, p, DROVER__V1__JOB_STATE__JOB_STATE_CANCELLED, dr_status_name(DR_ERR_CANCELLED),
               "the deployment was cancelled before this job started; nothing ran");
        return;
    }
    if (job->deadline_ms > 0 && dr_now_ms() > job->deadline_ms) {
        reject(w, p, DROVER__V1__JOB_STATE__JOB_STATE_TIMED_OUT, dr_status_name(DR_ERR_DEADLINE),
               "the job's deadline passed before a worker could start it; nothing ran");
        return;
    }
    dr_job_inputs inputs;
    dr_error err = {0};
    dr_job_placement placement = {.targets_root = w->settings.targets_root,
                                  .ssh = w->settings.ssh,
                                  .self_root = w->settings.self_id ? w->settings.self_root : NULL};
    if (dr_job_inputs_init(&inputs, job, &placement, &err) != DR_OK) {
        reject(w, p, DROVER__V1__JOB_STATE__JOB_STATE_REJECTED, dr_status_name(err.status), err.detail);
        dr_job_inputs_free(&inputs);
        return;
    }
    logged_job ids;
    log_values(&ids, job);
    if (p->is_unsigned)
        dr_log(DR_LOG_WARN, "job.unsigned",
               "deployment=%s job=%s msg=\"running a job without a signature "
               "(allow-unsigned): whoever can write the jobs topic can run scripts here\"",
               ids.deployment, ids.job);
    job_start start = {.worker = w, .pending = p, .ids = &ids};
    inputs.request.reaching_target = announce_start;
    inputs.request.reaching_target_ctx = &start;

    dr_job_result result;
    dr_engine_run(&w->settings.engine, &inputs.request, &result);

    Drover__V1__StatusEvent event;
    dr_status_event_for_job(&event, job, DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS, w->settings.worker_id,
                            p->taken_at_ms);
    dr_status_event_add_result(&event, &result);
    char quoted[LOGGED_MESSAGE_MAX];
    dr_log(result.outcome == DR_OUTCOME_SUCCESS ? DR_LOG_INFO : DR_LOG_WARN, "job.done",
           "deployment=%s job=%s target=%s state=%s reason=%s msg=%s", ids.deployment, ids.job, ids.target,
           dr_job_state_name(event.state), event.reason ? event.reason : "-",
           dr_quote(quoted, sizeof quoted, event.message ? event.message : ""));
    emit(w, p, &event, 1);
    count_job(w, event.state, event.reason, (double)(event.at_ms - p->taken_at_ms) / 1000.0);
    dr_job_result_free(&result);
    dr_job_inputs_free(&inputs);
}

static void free_pending(pending_job *p)
{
    if (p->job)
        drover__v1__job__free_unpacked(p->job, NULL);
    free(p);
}

static int target_is_busy(const dr_kafka_worker *w, const char *target)
{
    for (int i = 0; i < w->busy_count; i++)
        if (strcmp(w->busy_targets[i], target) == 0)
            return 1;
    return 0;
}

/* The first queued job whose target is free, unlinked from the queue; NULL when none. Under lock. */
static pending_job *take_runnable(dr_kafka_worker *w)
{
    pending_job *prev = NULL;
    for (pending_job *p = w->queue_head; p; prev = p, p = p->next) {
        if (target_is_busy(w, p->target_id))
            continue;
        if (prev)
            prev->next = p->next;
        else
            w->queue_head = p->next;
        if (w->queue_tail == p)
            w->queue_tail = prev;
        p->next = NULL;
        w->queued--;
        return p;
    }
    return NULL;
}

static void *job_thread(void *arg)
{
    dr_kafka_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->threads_stop) {
        pending_job *p = take_runnable(w);
        if (!p) {
            pthread_cond_wait(&w->work_ready, &w->lock);
            continue;
        }
        snprintf(w->busy_targets[w->busy_count++], sizeof w->busy_targets[0], "%s", p->target_id);
        pthread_mutex_unlock(&w->lock);

        run_job(w, p);

        pthread_mutex_lock(&w->lock);
        for (int i = 0; i < w->busy_count; i++)
            if (strcmp(w->busy_targets[i], p->target_id) == 0) {
                memcpy(w->busy_targets[i], w->busy_targets[--w->busy_count], sizeof w->busy_targets[0]);
                break;
            }
        free_pending(p);
        /* A job of the same target may be waiting; and shutdown waits for this. */
        pthread_cond_broadcast(&w->work_ready);
        pthread_cond_broadcast(&w->job_done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Delivery reports arrive on this thread, so job threads never wait on the main loop. */
static void *poller_thread(void *arg)
{
    dr_kafka_worker *w = arg;
    while (!w->poller_stop)
        dr_kafka_producer_poll(w->producer, 100);
    return NULL;
}

typedef struct commit_pass {
    dr_kafka_worker *worker;
    int sync;
} commit_pass;

static void commit_partition(void *ctx, const char *topic, int32_t partition)
{
    commit_pass *pass = ctx;
    dr_kafka_worker *w = pass->worker;
    int64_t next = dr_offsets_committable(w->offsets, topic, partition);
    if (next < 0)
        return;
    dr_error err = {0};
    dr_status status;
    if (pass->sync) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, topic, partition)->offset = next;
        rd_kafka_resp_err_t kerr = rd_kafka_commit(dr_kafka_consumer_handle(w->consumer), list, 0);
        rd_kafka_topic_partition_list_destroy(list);
        status = kerr ? dr_error_set(&err, DR_ERR_KAFKA, "%s", rd_kafka_err2str(kerr)) : DR_OK;
    } else {
        status = dr_kafka_consumer_commit(w->consumer, topic, partition, next, &err);
    }
    if (status == DR_OK)
        dr_offsets_committed(w->offsets, topic, partition, next);
    else
        dr_log(DR_LOG_WARN, "commit.failed", "topic=%s partition=%d offset=%lld msg=\"%s\"", topic, (int)partition,
               (long long)next, err.detail);
}

/*
 * Revoked partitions: what finished on them is committed now (synchronously,
 * while this member still owns them), and their unstarted jobs go back to
 * the group, uncommitted.  A job still running finishes here, unreported to
 * the offsets: its next owner runs it again, and the engine finds it done.
 */
static void on_rebalance(void *opaque, const rd_kafka_topic_partition_list_t *partitions, int assigned)
{
    dr_kafka_worker *w = opaque;
    /*
     * librdkafka keeps a partition's pause across a revoke and a reassignment
     * to this same member: a partition paused for backpressure, revoked and
     * handed back would never be fetched again (seen as a deployment stalled
     * after a worker died).  Every partition moving either way is resumed;
     * backpressure pauses again what needs it.  Main thread only, like
     * apply_backpressure, so w->paused needs no lock.
     */
    rd_kafka_resume_partitions(dr_kafka_consumer_handle(w->consumer), (rd_kafka_topic_partition_list_t *)partitions);
    w->paused = 0;
    if (assigned) {
        char list[1024] = "";
        for (int i = 0; i < partitions->cnt; i++) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%d", i ? "," : "", (int)partitions->elems[i].partition);
        }
        dr_log(DR_LOG_INFO, "partitions.assigned", "topic=%s partitions=%s",
               partitions->cnt ? partitions->elems[0].topic : "-", list);
        return;
    }
    size_t returned = 0;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < partitions->cnt; i++) {
        const char *topic = partitions->elems[i].topic;
        int32_t partition = partitions->elems[i].partition;
        size_t dropped = 0;
        pending_job **link = &w->queue_head;
        w->queue_tail = NULL;
        while (*link) {
            pending_job *p = *link;
            if (p->partition == partition && strcmp(p->topic, topic) == 0) {
                *link = p->next;
                free_pending(p);
                w->queued--;
                dropped++;
            } else {
                w->queue_tail = p;
                link = &p->next;
            }
        }
        commit_pass pass = {.worker = w, .sync = 1};
        commit_partition(&pass, topic, partition);
        dr_offsets_forget(w->offsets, topic, partition);
        returned += dropped;
    }
    dr_log(DR_LOG_INFO, "partitions.revoked", "count=%d unstarted_jobs_returned=%zu", partitions->cnt, returned);
    pthread_mutex_unlock(&w->lock);
}

/*
 * A message that does not decode as a Job.  When its deployment id can still
 * be read (a truncated or damaged Job), that deployment hears REJECTED;
 * otherwise (garbage) one log line says so.  Either way it is done.
 */
static void reject_damaged(dr_kafka_worker *w, pending_job *p, const rd_kafka_message_t *msg)
{
    char deployment_id[256], job_id[300], target_id[130];
    if (!dr_job_salvage_ids(msg->payload, msg->len, deployment_id, sizeof deployment_id, job_id, sizeof job_id,
                            target_id, sizeof target_id)) {
        dr_log(DR_LOG_ERROR, "job.malformed", "topic=%s partition=%d offset=%lld bytes=%zu reason=\"%s\"", p->topic,
               (int)p->partition, (long long)p->offset, msg->len, "not a Job message; no deployment id to report to");
        finish_silently(w, p);
        return;
    }
    if (!job_id[0])
        dr_job_id_format(job_id, sizeof job_id, deployment_id, target_id[0] ? target_id : "unknown");
    Drover__V1__Target target;
    drover__v1__target__init(&target);
    target.target_id = target_id;
    Drover__V1__Job job;
    drover__v1__job__init(&job);
    job.deployment_id = deployment_id;
    job.job_id = job_id;
    job.target = &target;
    char message[200];
    snprintf(message, sizeof message, "the job message is damaged: %zu bytes at %s/%d@%lld do not decode as a Job",
             msg->len, p->topic, (int)p->partition, (long long)p->offset);
    p->job = &job;
    reject(w, p, DROVER__V1__JOB_STATE__JOB_STATE_REJECTED, dr_status_name(DR_ERR_MALFORMED_MESSAGE), message);
    p->job = NULL; /* on the stack: not ours to free */
}

/* Whether the job may run: signed by a trusted key, or unsigned while allowed.  Otherwise it is REJECTED. */
static int signature_accepted(dr_kafka_worker *w, pending_job *p, const rd_kafka_message_t *msg)
{
    dr_error err = {0};
    if (w->settings.allow_unsigned && !dr_job_claims_signature(p->job)) {
        p->is_unsigned = 1;
        return 1;
    }
    if (w->settings.trust && dr_trust_verify_job(w->settings.trust, msg->payload, msg->len, p->job, &err) == DR_OK)
        return 1;
    if (!w->settings.trust)
        dr_error_set(&err, DR_ERR_SIGNATURE, "this worker has no trusted keys");
    reject(w, p, DROVER__V1__JOB_STATE__JOB_STATE_REJECTED, dr_status_name(DR_ERR_SIGNATURE), err.detail);
    return 0;
}

/*
 * Whether this worker runs the job at all: jobs of "agent" targets belong
 * to the agent on that target, and an agent shares its partition with
 * other targets' jobs.  Those are left alone, with no status: the one that
 * runs them reports.
 */
static int is_ours(dr_kafka_worker *w, const pending_job *p)
{
    const Drover__V1__Target *target = p->job->target;
    const char *id = target && target->target_id ? target->target_id : "";
    int agent_target = target && target->executor && strcmp(target->executor, "agent") == 0;
    logged_job ids;
    if (!w->settings.self_id) {
        if (agent_target)
            dr_log(DR_LOG_DEBUG, "job.for_agent", "deployment=%s job=%s target=%s",
                   log_values(&ids, p->job)->deployment, ids.job, ids.target);
        return !agent_target;
    }
    if (strcmp(id, w->settings.self_id) != 0)
        return 0;
    if (!agent_target) {
        char executor[100];
        dr_log(DR_LOG_WARN, "job.not_agent",
               "deployment=%s job=%s target=%s executor=%s msg=\"the target is registered with "
               "this executor, not agent: the workers run it, not this agent\"",
               log_values(&ids, p->job)->deployment, ids.job, ids.target,
               dr_log_quote(executor, sizeof executor, target && target->executor ? target->executor : ""));
    }
    return agent_target;
}

static void take_message(dr_kafka_worker *w, const rd_kafka_message_t *msg)
{
    pending_job *p = calloc(1, sizeof *p);
    if (!p) {
        dr_log(DR_LOG_ERROR, "job.nomem", "partition=%d offset=%lld", (int)msg->partition, (long long)msg->offset);
        return; /* not taken: redelivered after a restart */
    }
    snprintf(p->topic, sizeof p->topic, "%s", rd_kafka_topic_name(msg->rkt));
    p->partition = msg->partition;
    p->offset = msg->offset;
    p->taken_at_ms = dr_now_ms();
    pthread_mutex_lock(&w->lock);
    dr_offsets_taken(w->offsets, p->topic, p->partition, p->offset);
    pthread_mutex_unlock(&w->lock);

    p->job = drover__v1__job__unpack(NULL, msg->len, msg->payload);
    if (!p->job) {
        reject_damaged(w, p, msg);
        free_pending(p);
        return;
    }
    if (!p->job->deployment_id || !p->job->deployment_id[0] || !p->job->job_id || !p->job->job_id[0]) {
        /* Nobody to report to: one log line, and the message is done. */
        dr_log(DR_LOG_ERROR, "job.malformed", "topic=%s partition=%d offset=%lld bytes=%zu reason=\"%s\"", p->topic,
               (int)p->partition, (long long)p->offset, msg->len, "a Job with no deployment or job id");
        finish_silently(w, p);
        free_pending(p);
        return;
    }
    if (!is_ours(w, p)) {
        finish_silently(w, p);
        free_pending(p);
        return;
    }
    if (!signature_accepted(w, p, msg)) {
        free_pending(p);
        return;
    }
    const char *target = p->job->target && p->job->target->target_id ? p->job->target->target_id : "";
    snprintf(p->target_id, sizeof p->target_id, "%s", target);
    pthread_mutex_lock(&w->lock);
    if (w->queue_tail)
        w->queue_tail->next = p;
    else
        w->queue_head = p;
    w->queue_tail = p;
    w->queued++;
    pthread_cond_signal(&w->work_ready);
    pthread_mutex_unlock(&w->lock);
}

static void commit_finished(dr_kafka_worker *w, int sync)
{
    commit_pass pass = {.worker = w, .sync = sync};
    pthread_mutex_lock(&w->lock);
    dr_offsets_each(w->offsets, commit_partition, &pass);
    pthread_mutex_unlock(&w->lock);
}

/*
 * Backpressure while the queue is long.  The first answer is to stop taking
 * messages and wait for a job to finish: librdkafka's prefetch (bounded by
 * queued.min.messages) holds what arrives, and taking resumes the moment a
 * slot frees.  Pausing the partitions instead costs about a second a time
 * (librdkafka 2.0 discards the prefetched messages, and fetches again only
 * on its broker thread's next wakeup): with jobs decided in a millisecond
 * that second was the whole cost of a job.  But a member that stops
 * polling for max.poll.interval.ms leaves the group, and a rebalance waits
 * for the poll: so when the queue stays full for LONG_FULL_MS (jobs that
 * run for minutes), the partitions are paused and polling goes on.
 * Returns whether the loop may take a message now.
 */
#define LONG_FULL_MS 5000
#define FULL_WAIT_MS 100

static int apply_backpressure(dr_kafka_worker *w)
{
    size_t high = (size_t)w->settings.concurrency * QUEUE_HIGH_WATER_PER_THREAD;
    pthread_mutex_lock(&w->lock);
    if (w->queued >= high && !w->paused) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += FULL_WAIT_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&w->job_done, &w->lock, &until);
    }
    size_t queued = w->queued;
    pthread_mutex_unlock(&w->lock);
    int full = queued >= high;
    long long now = dr_monotonic_ms();
    if (!full)
        w->full_since_ms = 0;
    else if (!w->full_since_ms)
        w->full_since_ms = now;
    int pause = full && !w->paused && now - w->full_since_ms >= LONG_FULL_MS;
    int resume = w->paused && queued < high / 2;
    if (pause || resume) {
        rd_kafka_t *rk = dr_kafka_consumer_handle(w->consumer);
        rd_kafka_topic_partition_list_t *assignment = NULL;
        if (rd_kafka_assignment(rk, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (pause)
                rd_kafka_pause_partitions(rk, assignment);
            else
                rd_kafka_resume_partitions(rk, assignment);
            w->paused = pause;
            rd_kafka_topic_partition_list_destroy(assignment);
        }
    }
    return !full || w->paused;
}

dr_status dr_kafka_worker_start(const dr_kafka_worker_settings *settings, dr_kafka_worker **out, dr_error *err)
{
    *out = NULL;
    dr_kafka_worker *w = calloc(1, sizeof *w);
    if (!w)
        return dr_error_set(err, DR_ERR_NOMEM, "worker");
    w->settings = *settings;
    if (w->settings.concurrency < 1)
        w->settings.concurrency = 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work_ready, NULL);
    pthread_cond_init(&w->job_done, NULL);
    w->offsets = dr_offsets_new();
    w->busy_targets = calloc((size_t)w->settings.concurrency, sizeof *w->busy_targets);
    w->threads = calloc((size_t)w->settings.concurrency, sizeof *w->threads);
    w->cancelled = dr_cancelled_deployments_new(CANCELLED_DEPLOYMENTS_REMEMBERED,
                                                (int64_t)w->settings.cancel_retention_seconds * 1000);
    w->finished = dr_seen_messages_new(FINISHED_JOBS_REMEMBERED);
    dr_status status = DR_OK;
    if (!w->offsets || !w->busy_targets || !w->threads || !w->cancelled || !w->finished) {
        status = dr_error_set(err, DR_ERR_NOMEM, "worker");
        goto fail;
    }
    status = dr_kafka_producer_new(&w->settings.kafka, &w->producer, err);
    if (status != DR_OK)
        goto fail;
    /* Every Cancel ever written, before the first job: a restarted worker skips cancelled jobs too. */
    const dr_topic control[] = {DR_TOPIC_CONTROL};
    status = dr_kafka_follower_new(&w->settings.kafka, control, 1, 10000, &w->control, err);
    if (status != DR_OK)
        goto fail;
    const dr_topic topics[] = {DR_TOPIC_JOBS};
    if (w->settings.self_id)
        status = dr_kafka_consumer_new_for_key(&w->settings.kafka, w->settings.group, DR_TOPIC_JOBS,
                                               w->settings.self_id, &w->consumer, err);
    else
        status = dr_kafka_consumer_new(&w->settings.kafka, w->settings.group, topics, 1, &w->consumer, err);
    if (status != DR_OK)
        goto fail;
    dr_kafka_consumer_on_rebalance(w->consumer, on_rebalance, w);
    if (pthread_create(&w->poller, NULL, poller_thread, w) != 0) {
        status = dr_error_set(err, DR_ERR_INTERNAL, "cannot start the delivery thread");
        goto fail;
    }
    w->poller_started = 1;
    for (; w->thread_count < w->settings.concurrency; w->thread_count++)
        if (pthread_create(&w->threads[w->thread_count], NULL, job_thread, w) != 0) {
            status = dr_error_set(err, DR_ERR_INTERNAL, "cannot start job thread %d", w->thread_count);
            goto fail;
        }
    *out = w;
    return DR_OK;
fail:
    dr_kafka_worker_free(w);
    return status;
}

/*
 * Whether a Cancel counts: one the control plane confirmed (signed with its
 * key, a trusted one: serve checked the operator's request against its
 * policy first), or an unsigned one while unsigned jobs are allowed.  An
 * operator's own request (a key this worker does not hold) waits for that
 * confirmation, and is passed over without a word; anything else is
 * skipped with the reason in err.
 */
static int cancel_trusted(dr_kafka_worker *w, const rd_kafka_message_t *msg, dr_error *err)
{
    dr_request_origin origin;
    dr_error verify_err = {0};
    dr_status status = dr_request_verify(w->settings.trust, msg->payload, msg->len, &origin, &verify_err);
    if (status == DR_OK || (status == DR_ERR_UNSIGNED && w->settings.allow_unsigned))
        return 1;
    if (status != DR_ERR_UNKNOWN_OPERATOR)
        *err = verify_err;
    return 0;
}

/* Read the Cancels written since the last call into the cancelled set. */
static void take_cancels(dr_kafka_worker *w)
{
    rd_kafka_message_t *msg;
    dr_topic topic;
    while ((msg = dr_kafka_follower_poll(w->control, 0, &topic))) {
        Drover__V1__Cancel *cancel = NULL;
        dr_error err = {0};
        /* An id deploy would refuse names no deployment: not kept (the set would grow on anyone's writes). */
        if (msg->payload && dr_cancel_decode(msg->payload, msg->len, &cancel, &err) == DR_OK &&
            dr_check_id("cancel: deployment id", cancel->deployment_id ? cancel->deployment_id : "", &err) == DR_OK &&
            cancel_trusted(w, msg, &err)) {
            /* When it was written: the Cancel says, else Kafka's timestamp. */
            int64_t at_ms = cancel->at_ms > 0 ? cancel->at_ms : rd_kafka_message_timestamp(msg, NULL);
            int64_t now_ms = dr_now_ms();
            pthread_mutex_lock(&w->lock);
            int added =
                dr_cancelled_deployments_add(w->cancelled, cancel->deployment_id, at_ms > 0 ? at_ms : now_ms, now_ms);
            pthread_mutex_unlock(&w->lock);
            char deployment[300];
            if (added < 0)
                dr_error_set(&err, DR_ERR_NOMEM, "out of memory keeping a cancel");
            else if (added > 0)
                dr_log(DR_LOG_INFO, "worker.cancel_seen", "deployment=%s",
                       dr_log_quote(deployment, sizeof deployment, cancel->deployment_id));
        }
        if (err.status != DR_OK) {
            char quoted[700];
            dr_log(DR_LOG_WARN, "worker.control_skipped", "partition=%d offset=%lld msg=%s", (int)msg->partition,
                   (long long)msg->offset,
                   dr_log_quote(quoted, sizeof quoted, err.detail[0] ? err.detail : dr_status_message(err.status)));
        }
        if (cancel)
            drover__v1__cancel__free_unpacked(cancel, NULL);
        rd_kafka_message_destroy(msg);
    }
}

dr_status dr_kafka_worker_run(dr_kafka_worker *w, volatile sig_atomic_t *stop, dr_error *err)
{
    (void)err;
    dr_log(DR_LOG_INFO, "worker.start", "worker=%s group=%s concurrency=%d targets_root=%s", w->settings.worker_id,
           w->settings.group, w->settings.concurrency, w->settings.targets_root);
    long long last_commit = 0;
    while (!*stop) {
        take_cancels(w);
        if (apply_backpressure(w)) {
            rd_kafka_message_t *msg = dr_kafka_consumer_poll(w->consumer, 100);
            if (msg) {
                take_message(w, msg);
                rd_kafka_message_destroy(msg);
            }
        }
        long long now = dr_monotonic_ms();
        if (now - last_commit >= 200) {
            commit_finished(w, 0);
            last_commit = now;
        }
        if (w->settings.metrics) {
            pthread_mutex_lock(&w->lock);
            dr_metrics_gauge_set(w->settings.metrics, "drover_worker_jobs_queued", "", (double)w->queued);
            dr_metrics_gauge_set(w->settings.metrics, "drover_worker_jobs_running", "", (double)w->busy_count);
            pthread_mutex_unlock(&w->lock);
        }
    }

    /* Graceful stop: unstarted jobs go back to the group; running ones may finish. */
    pthread_mutex_lock(&w->lock);
    size_t returned = w->queued;
    while (w->queue_head) {
        pending_job *p = w->queue_head;
        w->queue_head = p->next;
        free_pending(p);
    }
    w->queue_tail = NULL;
    w->queued = 0;
    dr_log(DR_LOG_INFO, "worker.stopping", "running=%d unstarted_jobs_returned=%zu timeout_s=%ld", w->busy_count,
           returned, w->settings.shutdown_timeout_seconds);
    long long deadline = dr_monotonic_ms() + w->settings.shutdown_timeout_seconds * 1000;
    while (w->busy_count > 0 && dr_monotonic_ms() < deadline) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&w->job_done, &w->lock, &until);
    }
    int still_running = w->busy_count;
    w->threads_stop = 1;
    pthread_cond_broadcast(&w->work_ready);
    pthread_mutex_unlock(&w->lock);
    if (still_running)
        dr_log(DR_LOG_WARN, "worker.stop_timeout",
               "running=%d msg=\"jobs still running are left uncommitted and "
               "will be redelivered\"",
               still_running);
    dr_error flush_err = {0};
    if (dr_kafka_producer_flush(w->producer, 10000, &flush_err) != DR_OK)
        dr_log(DR_LOG_ERROR, "status.flush_failed", "msg=\"%s\"", flush_err.detail);
    commit_finished(w, 1);
    return DR_OK;
}

void dr_kafka_worker_free(dr_kafka_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    int running = w->busy_count;
    w->threads_stop = 1;
    pthread_cond_broadcast(&w->work_ready);
    pthread_mutex_unlock(&w->lock);
    /* Threads still inside a job (stop timeout) are left to the process exit. */
    if (running == 0)
        for (int i = 0; i < w->thread_count; i++)
            pthread_join(w->threads[i], NULL);
    if (w->poller_started && running == 0) {
        w->poller_stop = 1;
        pthread_join(w->poller, NULL);
    }
    if (running)
        return;
    dr_kafka_consumer_close(w->consumer);
    dr_kafka_producer_free(w->producer);
    dr_kafka_follower_free(w->control);
    dr_cancelled_deployments_free(w->cancelled);
    dr_seen_messages_free(w->finished);
    while (w->queue_head) {
        pending_job *p = w->queue_head;
        w->queue_head = p->next;
        free_pending(p);
    }
    dr_offsets_free(w->offsets);
    free(w->busy_targets);
    free(w->threads);
    pthread_cond_destroy(&w->work_ready);
    pthread_cond_destroy(&w->job_done);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
