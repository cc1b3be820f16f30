/*
 * table.h - a compacted Kafka topic read as a table: the latest value of
 * every key, tombstones removing their key.
 *
 * Neither the embedded broker nor (until it gets round to it) a real cluster
 * compacts, so a topic holds every value ever written for a key; the reader
 * must fold by key, latest wins, which is what this module does over
 * dr_kafka_read_topic.  Records without a key are skipped (no Drover writer
 * makes them).
 */
#ifndef DROVER_PRODUCER_TABLE_H
#define DROVER_PRODUCER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "kafka.h"

typedef struct dr_table_row {
    char *key;      /* NUL-terminated (a key holding a NUL byte is cut there) */
    uint8_t *value; /* the latest value; never NULL for a row (tombstones remove rows) */
    size_t value_len;
    int64_t timestamp_ms;
} dr_table_row;

/* Rows sorted by key; everything is owned by the table. */
typedef struct dr_table {
    dr_table_row *rows;
    size_t count;
} dr_table;

/*
 * Read topic from its beginning to its current end and fold it into *out
 * (which the caller frees with dr_table_free, also after a failure).
 * DR_ERR_KAFKA when the topic cannot be read within timeout_ms.
 */
dr_status dr_table_read(const dr_kafka_options *opt, dr_topic topic, int timeout_ms, dr_table *out, dr_error *err);

/* The row for key, or NULL. */
const dr_table_row *dr_table_get(const dr_table *table, const char *key);

void dr_table_free(dr_table *table);

/*
 * Write one row (value NULL with len 0: a tombstone) with a producer of its
 * own and wait up to timeout_ms for the broker to acknowledge it.
 * DR_ERR_KAFKA when it was not acknowledged: the row may or may not have
 * been written, and writing it again is harmless.
 */
dr_status dr_table_put(const dr_kafka_options *opt, dr_topic topic, const char *key, const void *value, size_t len,
                       int timeout_ms, dr_error *err);

#endif
