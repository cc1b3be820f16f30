/*
 * finished_jobs.h - the jobs this worker finished lately, to tell a replay
 * from a redelivery.  A job's messages for one target all go to one
 * partition, so the same job id arriving again at another offset was
 * written again (a signed job copied off the topic and replayed), while the
 * same partition and offset again is Kafka redelivering a message whose
 * offset was not committed yet (a rebalance), which must run as usual.
 *
 * Bounded: past capacity the oldest entries are forgotten (jobs expire
 * anyway: serve --job-expiry-seconds).  Kept in memory: a worker that
 * restarts, or another worker of the group, has not seen them.  Not
 * thread-safe: the caller holds its lock.
 */
#ifndef DROVER_FINISHED_JOBS_H
#define DROVER_FINISHED_JOBS_H

#include <stddef.h>
#include <stdint.h>

typedef struct dr_finished_jobs dr_finished_jobs;

/* A window of at most capacity job ids (at least 1); NULL when out of memory. */
dr_finished_jobs *dr_finished_jobs_new(size_t capacity);
void dr_finished_jobs_free(dr_finished_jobs *jobs); /* NULL is fine */

/*
 * Record job_id as finished from the message at partition and offset (a
 * later finish of the same id replaces where it came from).  0, or -1 when
 * out of memory (nothing recorded).
 */
int dr_finished_jobs_add(dr_finished_jobs *jobs, const char *job_id, int32_t partition, int64_t offset);

/* 1 when job_id was finished from another message than (partition, offset): a replay. */
int dr_finished_jobs_is_replay(const dr_finished_jobs *jobs, const char *job_id, int32_t partition, int64_t offset);

size_t dr_finished_jobs_count(const dr_finished_jobs *jobs);

#endif
