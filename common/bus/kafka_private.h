/*
 * kafka_private.h - what kafka_handle.c gives kafka.c, kafka_read.c and
 * kafka_admin.c: building a librdkafka handle with Drover's settings and
 * callbacks, metadata look-ups, and the clock.  Not for use outside the bus
 * library's kafka*.c.
 */
#ifndef DROVER_KAFKA_PRIVATE_H
#define DROVER_KAFKA_PRIVATE_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "error.h"
#include "kafka.h"

/* Kafka's own limit is 249 characters; the rest is room for the NUL. */
#define TOPIC_NAME_MAX 256

typedef struct kafka_property {
    const char *name;
    const char *value;
} kafka_property;

#define PROPERTY_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/*
 * A configuration with the brokers, the client id and the callbacks.
 * defaults come before the user's kafka-property items (which may change
 * them); fixed come after, because Drover's guarantees rest on them.
 */
dr_status dr_kafka_new_conf(const dr_kafka_options *opt, void *opaque, const kafka_property *defaults,
                            size_t default_count, const kafka_property *fixed, size_t fixed_count,
                            rd_kafka_conf_t **out, dr_error *err);
/* rd_kafka_new; it owns conf only when it succeeds (conf is destroyed either way). */
dr_status dr_kafka_new_handle(rd_kafka_type_t type, rd_kafka_conf_t *conf, rd_kafka_t **out, dr_error *err);
/* origin says where the property came from, so the error points at what to fix. */
dr_status dr_kafka_set_property(rd_kafka_conf_t *conf, const char *origin, const char *name, const char *value,
                                dr_error *err);
/* An error event from a consumer queue, logged (data loss loudly); partition EOF is silent. */
void dr_kafka_report_consumer_error(const rd_kafka_message_t *msg);

/* The topic prefix opt names, or the default "drover.". */
const char *dr_kafka_topic_prefix(const dr_kafka_options *opt);
/* The topic named name in md, or NULL. */
const rd_kafka_metadata_topic_t *dr_kafka_find_topic(const rd_kafka_metadata_t *md, const char *name);
/* The number of partitions of topic_name (DR_ERR_KAFKA when it does not exist). */
dr_status dr_kafka_partition_count(rd_kafka_t *rk, const char *topic_name, int timeout_ms, int *out, dr_error *err);
/*
 * rd_kafka_query_watermark_offsets, but a partition whose leader moved is
 * asked again once after refreshing the handle's metadata (a handle that
 * only queries never learns of the move otherwise).
 */
rd_kafka_resp_err_t dr_kafka_query_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *low,
                                              int64_t *high, int timeout_ms);

/* Milliseconds left before deadline (dr_monotonic_ms), never negative. */
int dr_kafka_remaining_ms(int64_t deadline);

#endif
