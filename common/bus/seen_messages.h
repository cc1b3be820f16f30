/*
 * seen_messages.h - ids lately taken from Kafka messages, with the message
 * each came from, to tell a replay from a redelivery.  Messages with one
 * key all go to one partition, so the same id arriving again at another
 * offset was written again (a signed job or request copied off its topic
 * and replayed), while the same partition and offset again is Kafka
 * delivering the same message again (a rebalance, a re-read from the
 * start), which must be taken as usual.
 *
 * Users: a worker remembers the jobs it finished (a replayed job is
 * refused); the control plane remembers the requests it took (a replayed
 * request is refused).  Bounded: past capacity the oldest entries are
 * forgotten (jobs and requests expire anyway).  Kept in memory: a process
 * that restarts has not seen them.  Not thread-safe.
 */
#ifndef DROVER_SEEN_MESSAGES_H
#define DROVER_SEEN_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

typedef struct dr_seen_messages dr_seen_messages;

/* A window of at most capacity ids (at least 1); NULL when out of memory. */
dr_seen_messages *dr_seen_messages_new(size_t capacity);
void dr_seen_messages_free(dr_seen_messages *seen); /* NULL is fine */

/*
 * Record id as taken from the message at partition and offset (a later
 * add of the same id replaces where it came from).  0, or -1 when
 * out of memory (nothing recorded).
 */
int dr_seen_messages_add(dr_seen_messages *seen, const char *id, int32_t partition, int64_t offset);

/* 1 when id was taken from another message than (partition, offset): a replay. */
int dr_seen_messages_is_replay(const dr_seen_messages *seen, const char *id, int32_t partition, int64_t offset);

size_t dr_seen_messages_count(const dr_seen_messages *seen);

#endif
