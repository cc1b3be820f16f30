/*
 * offsets.h - which offsets of a partition may be committed.
 *
 * The worker runs jobs out of order (several at once, different targets),
 * but may commit a partition only up to the first job that is not finished:
 * committing past it would lose that job if the worker died.  The tracker
 * records every offset handed out and every offset finished, and answers
 * "commit up to here" (the next offset after the finished prefix).
 * Not thread-safe: the caller holds its own lock.
 */
#ifndef DROVER_OFFSETS_H
#define DROVER_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

typedef struct dr_offsets dr_offsets;

dr_offsets *dr_offsets_new(void);
void dr_offsets_free(dr_offsets *t);

/* A message at offset was taken from partition (offsets of one partition arrive in order). */
int dr_offsets_taken(dr_offsets *t, const char *topic, int32_t partition, int64_t offset);
/* Its work is finished (its terminal status acknowledged). */
void dr_offsets_finished(dr_offsets *t, const char *topic, int32_t partition, int64_t offset);

/*
 * The offset to commit for partition (next offset after the finished
 * prefix), or -1 when nothing new can be committed since the last call that
 * returned it.  Call dr_offsets_committed after committing it.
 */
int64_t dr_offsets_committable(dr_offsets *t, const char *topic, int32_t partition);
void dr_offsets_committed(dr_offsets *t, const char *topic, int32_t partition, int64_t next_offset);

/* Number of taken-but-unfinished offsets of the partition (all partitions when partition < 0). */
size_t dr_offsets_pending(const dr_offsets *t, const char *topic, int32_t partition);

/* Forget a partition (revoked): its unfinished offsets will be redelivered to its next owner. */
void dr_offsets_forget(dr_offsets *t, const char *topic, int32_t partition);

/* Visit every known partition (for periodic commits). */
typedef void (*dr_offsets_visit_fn)(void *ctx, const char *topic, int32_t partition);
void dr_offsets_each(const dr_offsets *t, dr_offsets_visit_fn fn, void *ctx);

#endif
