/*
 * checkpoints.h - folds of the status topic kept on the checkpoints topic,
 * so that a reader (the aggregator, the control plane) resumes from its
 * last checkpoint instead of reading the status topic from its start
 * (docs/pipeline.md, Checkpoints).
 *
 * A checkpoint is one status partition's part of a rollup table
 * (dr_rollup_checkpoint) with the offset it covers up to: encoded,
 * deflated, and cut into pieces of at most DR_CHECKPOINT_PIECE_BYTES, each
 * a CheckpointChunk keyed "READER/PARTITION/INDEX" on the compacted
 * checkpoints topic.  Every piece names the whole's size and SHA-256; a
 * checkpoint is restored only when all its pieces are there, agree and
 * hash right, so one half-written (its writer died) or mixed with an older
 * one is not used: the reader then reads the partition from its start, as
 * without checkpoints.
 *
 * What is read from the topic is an attacker's until checked: keys that do
 * not parse are ignored, piece counts and sizes are bounded, the whole is
 * inflated only up to its declared size (at most DR_CHECKPOINT_MAX_BYTES),
 * and the fold inside is checked as events are (dr_rollup_restore).  A
 * forged checkpoint can say no more than forged status events could.
 */
#ifndef DROVER_CHECKPOINTS_H
#define DROVER_CHECKPOINTS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "kafka.h"
#include "rollup.h"

/* The largest piece: well inside Kafka's default message size (1 MB). */
#define DR_CHECKPOINT_PIECE_BYTES (256 * 1024)
/* The largest checkpoint, inflated (about 600,000 jobs). */
#define DR_CHECKPOINT_MAX_BYTES (64 * 1024 * 1024)

/*
 * When a reader writes a partition's checkpoint: once the partition moved
 * and DR_CHECKPOINT_INTERVAL_MS passed since its last one, or sooner once
 * DR_CHECKPOINT_EVENTS events were read since.  On the embedded broker,
 * whose partitions keep 5 MiB (about 40,000 events), a checkpoint is then
 * always well inside what the partition still holds.
 */
#define DR_CHECKPOINT_INTERVAL_MS 5000
#define DR_CHECKPOINT_EVENTS 10000
/*
 * Whether it is due for a reader at position (the next offset it reads)
 * whose last checkpoint covers up to checkpointed (-1: none) and whose next
 * one is due at next_due_ms (monotonic; 0: at once).
 */
int dr_checkpoint_due(int64_t checkpointed, int64_t position, int64_t next_due_ms, int64_t now_ms);

/*
 * Queue partition's checkpoint of table, covering the status topic up to
 * next_offset, for the reader named reader (e.g. "aggregator:GROUP").
 * Queued only: delivery failures are logged as checkpoint.write_failed,
 * and the reader then resumes from an earlier one.  *bytes (may be NULL)
 * is set to the deflated size.
 */
dr_status dr_checkpoint_write(dr_kafka_producer *producer, const char *reader, const dr_rollup_table *table,
                              int32_t partition, int64_t next_offset, size_t *bytes, dr_error *err);

/*
 * The same in two steps, for a table shared under a lock: pack (reads the
 * table: under the lock; *bytes malloc'd, the caller frees it), then send
 * (deflates and queues: outside it).
 */
dr_status dr_checkpoint_pack(const dr_rollup_table *table, int32_t partition, int64_t next_offset, uint8_t **bytes,
                             size_t *len, dr_error *err);
dr_status dr_checkpoint_send(dr_kafka_producer *producer, const char *reader, int32_t partition, int64_t next_offset,
                             const uint8_t *packed, size_t packed_len, size_t *bytes, dr_error *err);

/* The checkpoints of one reader as read from the topic. */
typedef struct dr_checkpoints dr_checkpoints;

/* Read the checkpoints topic to its end, keeping reader's latest pieces. */
dr_status dr_checkpoints_read(const dr_kafka_options *opt, const char *reader, int timeout_ms, dr_checkpoints **out,
                              dr_error *err);
void dr_checkpoints_free(dr_checkpoints *checkpoints); /* NULL is fine */

/*
 * Restore partition's checkpoint into table (dr_rollup_restore).  *found is
 * 1 and *next_offset where to read the status partition from when one was
 * restored; *found is 0 when there is none, or none whole (the reason is
 * then in err's detail with status DR_OK, for the log).  An error status
 * when the one found could not be restored (table as dr_rollup_restore
 * leaves it).
 */
dr_status dr_checkpoints_restore(const dr_checkpoints *checkpoints, int32_t partition, dr_rollup_table *table,
                                 int *found, int64_t *next_offset, dr_error *err);

#endif
