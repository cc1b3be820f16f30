#include "publish.h"

#include <stdlib.h>

#include "messages.h"

static void on_delivered(void *opaque, dr_status status, const char *message)
{
    dr_publish_count *count = opaque;
    (void)message; /* the flush's error names the first failure */
    if (status == DR_OK)
        count->acknowledged++;
    else
        count->failed++;
}

dr_status dr_publish_message(dr_kafka_producer *producer, dr_topic topic, const char *key,
                             const ProtobufCMessage *message, dr_publish_count *count, dr_error *err)
{
    size_t len;
    uint8_t *bytes = dr_message_encode(message, &len);
    if (!bytes)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory encoding a %s", message->descriptor->short_name);
    dr_status status = dr_publish_bytes(producer, topic, key, bytes, len, count, err);
    free(bytes);
    return status;
}

dr_status dr_publish_bytes(dr_kafka_producer *producer, dr_topic topic, const char *key, const uint8_t *bytes,
                           size_t len, dr_publish_count *count, dr_error *err)
{
    dr_status status = dr_kafka_produce(producer, topic, key, bytes, len, on_delivered, count, err);
    if (status == DR_OK)
        count->queued++;
    return status;
}

dr_status dr_publish_flush(dr_kafka_producer *producer, const dr_publish_count *count, int timeout_ms, dr_error *err)
{
    dr_status status = dr_kafka_producer_flush(producer, timeout_ms, err);
    if (status == DR_OK && count->acknowledged != count->queued)
        status =
            dr_error_set(err, DR_ERR_KAFKA, "%zu of %zu messages acknowledged", count->acknowledged, count->queued);
    return status;
}
