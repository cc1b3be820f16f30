/*
 * publish.h - writing protobuf messages through one producer and knowing
 * exactly how many the broker acknowledged: what deploy and serve share.
 */
#ifndef DROVER_PRODUCER_PUBLISH_H
#define DROVER_PRODUCER_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "error.h"
#include "kafka.h"

/* Outcomes of the messages queued with one count (zero it before use). */
typedef struct dr_publish_count {
    size_t queued;
    size_t acknowledged;
    size_t failed;
} dr_publish_count;

/* Encode message and queue it (the producer copies it); count hears of its delivery. */
dr_status dr_publish_message(dr_kafka_producer *producer, dr_topic topic, const char *key,
                             const ProtobufCMessage *message, dr_publish_count *count, dr_error *err);

/* Queue bytes already encoded (a signed job); as dr_publish_message. */
dr_status dr_publish_bytes(dr_kafka_producer *producer, dr_topic topic, const char *key, const uint8_t *bytes,
                           size_t len, dr_publish_count *count, dr_error *err);

/*
 * Wait up to timeout_ms for every queued message; DR_ERR_KAFKA unless all
 * that count queued were acknowledged (the detail says how many were).
 */
dr_status dr_publish_flush(dr_kafka_producer *producer, const dr_publish_count *count, int timeout_ms, dr_error *err);

#endif
