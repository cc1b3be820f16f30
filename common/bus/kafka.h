/*
 * kafka.h - Drover's one way to Kafka (librdkafka): topic names, producers,
 * consumers, and reading a compacted topic as a table.
 *
 * Every program takes the same Kafka settings (DR_KAFKA_SETTINGS): the
 * bootstrap servers, the topic prefix, and any librdkafka property passed
 * through as "kafka-property KEY=VALUE" (security.protocol, sasl.*, ssl.*,
 * ...), so pointing Drover at a real cluster is configuration only.
 *
 * Producers are idempotent with acks=all: a message is either written once
 * or its delivery fails and the caller hears about it.  Consumers never
 * auto-commit: the caller commits an offset only when the work for that
 * message is done (for the worker: when its terminal status is acknowledged).
 * A consumer whose committed offset no longer exists (the embedded broker
 * drops a partition's oldest data past 5 MiB; a real cluster's retention
 * can too) logs an error naming the topic, partition and offsets as DATA
 * LOSS instead of silently skipping ahead.
 */
#ifndef DROVER_KAFKA_H
#define DROVER_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

/* The settings every Kafka program has; put them in its dr_setting table. */
/* A settings table, laid out by hand. */
// clang-format off
#define DR_KAFKA_SETTINGS                                                                                 \
    {"brokers", DR_SETTING_STRING, "127.0.0.1:9092", "Kafka bootstrap servers, host:port[,host:port...]"}, \
    {"topic-prefix", DR_SETTING_STRING, "drover.", "prefix of every Drover topic name"},                  \
    {"kafka-property", DR_SETTING_LIST, NULL,                                                              \
     "librdkafka property KEY=VALUE passed through as is (e.g. security.protocol=SASL_SSL); repeatable"}
// clang-format on

typedef enum dr_topic {
    DR_TOPIC_JOBS = 0,     /* key target id, Job */
    DR_TOPIC_STATUS,       /* key deployment id, StatusEvent */
    DR_TOPIC_ROLLUPS,      /* key deployment id, Rollup (compacted) */
    DR_TOPIC_INVENTORY,    /* key target id, Target (compacted) */
    DR_TOPIC_EVENTS,       /* key target id, TargetEvent */
    DR_TOPIC_PACKAGES,     /* key package name, PackageVersions (compacted) */
    DR_TOPIC_ASSOCIATIONS, /* key association id, Association (compacted) */
    DR_TOPIC_DEPLOYMENTS,  /* key deployment id, Deployment */
    DR_TOPIC_CONTROL,      /* key deployment id, Cancel */
    DR_TOPIC_RELEASES,     /* key deployment id, Release: the control plane's release log */
    DR_TOPIC_AUDIT,        /* key the request's subject, AuditRecord: every decision on a request */
    DR_TOPIC_CHECKPOINTS,  /* key READER/PARTITION/INDEX, CheckpointChunk (compacted): folds to resume from */
    DR_TOPIC_AWS_EVENTS,   /* JSON events as EventBridge delivers them (written by AWS's side, not Drover's) */
    DR_TOPIC_FLEET,        /* key TARGET/PACKAGE, FleetEntry (compacted): what is installed where */
    DR_TOPIC_COUNT
} dr_topic;

/* "jobs", "status", ...: the name after the prefix. */
const char *dr_topic_suffix(dr_topic topic);
/* Whether the topic is read as a table (latest value per key wins). */
int dr_topic_is_compacted(dr_topic topic);

typedef struct dr_kafka_options {
    const char *brokers;
    const char *topic_prefix;
    char *const *properties; /* KEY=VALUE */
    size_t property_count;
    const char *client_id; /* e.g. "drover-worker"; NULL: "drover" */
    /* The aws-events topic's whole name, when not prefix + "aws-events" (EventBridge's side may choose it). */
    const char *aws_events_topic;
} dr_kafka_options;

/* Fill opt from a config whose table has DR_KAFKA_SETTINGS (strings stay owned by cfg). */
void dr_kafka_options_from_config(dr_kafka_options *opt, const dr_config *cfg, const char *client_id);

/* prefix + suffix into buf (the aws-events topic: its own name, when set). */
void dr_kafka_topic_name(const dr_kafka_options *opt, dr_topic topic, char *buf, size_t size);

/* ---- producing ---- */

typedef struct dr_kafka_producer dr_kafka_producer;

/*
 * Called once per message from dr_kafka_producer_poll/flush (on the calling
 * thread) when the broker acknowledged it (status DR_OK) or it failed for
 * good (DR_ERR_KAFKA, detail in message).
 */
typedef void (*dr_kafka_delivered_fn)(void *opaque, dr_status status, const char *message);

dr_status dr_kafka_producer_new(const dr_kafka_options *opt, dr_kafka_producer **out, dr_error *err);
void dr_kafka_producer_free(dr_kafka_producer *p); /* flushes for up to 10 s first */

/*
 * Queue one message (key and value are copied; value NULL with len 0 is a
 * tombstone).  on_delivered (may be NULL) gets its outcome later.  Fails at
 * once only when the local queue is full past a 10 s wait or the topic is
 * unknown.
 */
dr_status dr_kafka_produce(dr_kafka_producer *p, dr_topic topic, const char *key, const void *value, size_t len,
                           dr_kafka_delivered_fn on_delivered, void *opaque, dr_error *err);

/*
 * Learn now where the topics' partitions are, before the first message to
 * them: librdkafka asks for an unknown topic's metadata when a message to it
 * is queued, but a topic first produced to while another topic's request is
 * in flight waits for its next topic scan, up to a second.  A command that
 * writes a short burst to two topics (deploy: the PENDING events, then the
 * Deployment) would spend most of its time in that wait.  Best effort: a
 * failure is logged at debug level and left to the first produce to report.
 */
void dr_kafka_producer_prepare(dr_kafka_producer *p, const dr_topic *topics, size_t count, int timeout_ms);

/* Serve delivery reports for up to timeout_ms. */
void dr_kafka_producer_poll(dr_kafka_producer *p, int timeout_ms);

/*
 * Wait until every queued message is acknowledged or failed.  DR_ERR_KAFKA
 * when the timeout passed or any message failed since the last flush (the
 * detail counts them and names the first error).
 */
dr_status dr_kafka_producer_flush(dr_kafka_producer *p, int timeout_ms, dr_error *err);

/* The librdkafka handle, for what this module does not wrap. */
rd_kafka_t *dr_kafka_producer_handle(dr_kafka_producer *p);

/* ---- consuming ---- */

typedef struct dr_kafka_consumer dr_kafka_consumer;

/*
 * A consumer-group member subscribed to topics.  New groups start at the
 * earliest offset.  Commits are manual (dr_kafka_consumer_commit).
 */
dr_status dr_kafka_consumer_new(const dr_kafka_options *opt, const char *group_id, const dr_topic *topics,
                                size_t topic_count, dr_kafka_consumer **out, dr_error *err);

/*
 * A consumer of the one partition of topic that key's messages go to (the
 * producers' partitioner is fixed for this), from group_id's committed
 * offset (earliest for a new group).  No rebalances: it owns the partition
 * alone, and reads every key in it (the caller skips the others).  For the
 * worker's agent mode: one target reads only its own share of the jobs.
 */
dr_status dr_kafka_consumer_new_for_key(const dr_kafka_options *opt, const char *group_id, dr_topic topic,
                                        const char *key, dr_kafka_consumer **out, dr_error *err);

/*
 * Next message, or NULL after timeout_ms.  Errors that are not about one
 * message (partition EOF, transient broker errors) are logged and skipped;
 * the returned message has err == 0.  Free it with rd_kafka_message_destroy.
 */
rd_kafka_message_t *dr_kafka_consumer_poll(dr_kafka_consumer *c, int timeout_ms);

/* Commit "everything before next_offset" on one partition (asynchronously). */
dr_status dr_kafka_consumer_commit(dr_kafka_consumer *c, const char *topic, int32_t partition, int64_t next_offset,
                                   dr_error *err);

/*
 * Leave the group cleanly (commits what was committed, revokes partitions),
 * then free.  NULL is fine.
 */
void dr_kafka_consumer_close(dr_kafka_consumer *c);

rd_kafka_t *dr_kafka_consumer_handle(dr_kafka_consumer *c);

/*
 * From a rebalance hook with assigned partitions: read them again from
 * their beginning, whatever offsets the group holds (for state rebuilt by
 * folding a whole partition: the aggregator, the control plane).
 */
void dr_kafka_consumer_rewind(dr_kafka_consumer *c, const rd_kafka_topic_partition_list_t *partitions);
/* The same, each partition from offsets[i] instead (negative: its beginning): a checkpoint's offset. */
void dr_kafka_consumer_assign_from(dr_kafka_consumer *c, const rd_kafka_topic_partition_list_t *partitions,
                                   const int64_t *offsets);
/*
 * Called when the group moves partitions: once assigned partitions are
 * assigned, and when
 * partitions are revoked, before they are unassigned, so work finished on
 * them can still be committed.
 */
typedef void (*dr_kafka_rebalance_fn)(void *opaque, const rd_kafka_topic_partition_list_t *partitions, int assigned);
void dr_kafka_consumer_on_rebalance(dr_kafka_consumer *c, dr_kafka_rebalance_fn fn, void *opaque);

/* ---- reading a topic as a table ---- */

/* One record; value is NULL for a tombstone.  Return non-zero to stop early. */
typedef int (*dr_kafka_record_fn)(void *ctx, const char *key, size_t key_len, const void *value, size_t value_len,
                                  int64_t timestamp_ms);

/*
 * Read every partition of topic from its beginning to its end as of the call
 * (high watermarks), calling fn for each record in partition order, with no
 * consumer group.  The reader folds by key (latest wins): the embedded
 * broker does not compact, and a real cluster compacts only eventually.
 */
dr_status dr_kafka_read_topic(const dr_kafka_options *opt, dr_topic topic, dr_kafka_record_fn fn, void *ctx,
                              int timeout_ms, dr_error *err);

/*
 * The same read from given offsets: from[i] for the partition with id i
 * (from_count entries; a partition past them, or an offset below the
 * partition's first, starts at its beginning).  For reading what was
 * written after a known point, e.g. the Jobs a crashed replica released.
 */
dr_status dr_kafka_read_topic_from(const dr_kafka_options *opt, dr_topic topic, const int64_t *from, size_t from_count,
                                   dr_kafka_record_fn fn, void *ctx, int timeout_ms, dr_error *err);

/*
 * The same read, of the one partition Drover's producers put key in
 * (librdkafka's default partitioner, consistent_random: CRC32 of the key):
 * a record looked up by key without reading the whole topic.  A producer
 * configured with another partitioner puts it elsewhere: the caller that
 * does not find it there reads the topic (dr_kafka_read_topic).
 */
dr_status dr_kafka_read_key_partition(const dr_kafka_options *opt, dr_topic topic, const char *key,
                                      dr_kafka_record_fn fn, void *ctx, int timeout_ms, dr_error *err);

/*
 * The high watermark of every partition of topic: a malloc'd array indexed
 * by partition id, *count entries.  DR_ERR_KAFKA when the topic does not
 * exist or a broker does not answer within timeout_ms.
 */
dr_status dr_kafka_high_watermarks(const dr_kafka_options *opt, rd_kafka_t *rk, dr_topic topic, int timeout_ms,
                                   int64_t **out, size_t *count, dr_error *err);

/* ---- following topics without a group ---- */

/*
 * A consumer with no group that reads every partition of some topics from
 * its beginning and then keeps following them: for state every process
 * needs in full (the cancel set of the control topic; the control plane's
 * view of the status and releases topics).  Nothing is committed.
 *
 * Synced: a sync point is every followed partition's high watermark at the
 * time of dr_kafka_follower_sync; the follower is synced once it has read
 * every partition up to its sync point, i.e. it has seen everything written
 * before the sync.  Partitions added to a topic later are not followed.
 */
typedef struct dr_kafka_follower dr_kafka_follower;

dr_status dr_kafka_follower_new(const dr_kafka_options *opt, const dr_topic *topics, size_t topic_count, int timeout_ms,
                                dr_kafka_follower **out, dr_error *err);
/*
 * The same, with some partitions started at given offsets instead of their
 * beginning (a checkpoint's): a start outside the partition's offsets now is
 * not used (the partition starts at its beginning).
 */
typedef struct dr_kafka_start {
    dr_topic topic;
    int32_t partition;
    int64_t offset;
} dr_kafka_start;
dr_status dr_kafka_follower_new_from(const dr_kafka_options *opt, const dr_topic *topics, size_t topic_count,
                                     const dr_kafka_start *starts, size_t start_count, int timeout_ms,
                                     dr_kafka_follower **out, dr_error *err);
/* The next offset poll returns of a followed partition; -1 when it is not followed. */
int64_t dr_kafka_follower_position(const dr_kafka_follower *f, dr_topic topic, int32_t partition);
/* A follower of one topic from its end as of the call: only what is written from now on (a rollup watch). */
dr_status dr_kafka_follower_new_from_end(const dr_kafka_options *opt, dr_topic topic, int timeout_ms,
                                         dr_kafka_follower **out, dr_error *err);
/*
 * Next message (error events are logged and skipped), or NULL after
 * timeout_ms.  *topic says which followed topic it came from.  Free it with
 * rd_kafka_message_destroy.
 */
rd_kafka_message_t *dr_kafka_follower_poll(dr_kafka_follower *f, int timeout_ms, dr_topic *topic);
/*
 * Take a sync point now: a watermark query per partition, made with query,
 * another handle (e.g. a producer's).  The follower's own consumer handle
 * is not used: seen on the embedded broker, its queries can wait behind its
 * fetches until they time out.
 */
dr_status dr_kafka_follower_sync(dr_kafka_follower *f, rd_kafka_t *query, int timeout_ms, dr_error *err);
/* Whether everything before the last sync point has been returned by poll (1 before any sync). */
int dr_kafka_follower_synced(const dr_kafka_follower *f);
void dr_kafka_follower_free(dr_kafka_follower *f); /* NULL is fine */

#endif
