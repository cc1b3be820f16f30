/*
 * table.c - fold a topic by key while it is read: the one string map
 * (strmap.h) from key to the latest value, sorted into rows at the end.
 */
#include "table.h"

#include <stdlib.h>
#include <string.h>

#include "strmap.h"

typedef struct fold {
    dr_strmap *rows; /* key -> dr_table_row (value NULL: tombstoned) */
    int out_of_memory;
} fold;

/* dr_kafka_record_fn: keep the latest value per key; a tombstone keeps the key with no value. */
static int on_record(void *ctx, const char *key, size_t key_len, const void *value, size_t value_len,
                     int64_t timestamp_ms)
{
    fold *f = ctx;
    if (!key || key_len == 0)
        return 0;
    uint8_t *copy = NULL;
    char *name = strndup(key, key_len);
    if (!name)
        goto out_of_memory;
    if (value) {
        if (!(copy = malloc(value_len ? value_len : 1)))
            goto out_of_memory;
        memcpy(copy, value, value_len);
    }
    dr_table_row *row = dr_strmap_get(f->rows, name);
    if (!row) {
        if (!(row = calloc(1, sizeof *row)) || dr_strmap_put(f->rows, name, row) != 0) {
            free(row);
            goto out_of_memory;
        }
        row->key = name;
        name = NULL;
    }
    free(name);
    free(row->value);
    row->value = copy;
    row->value_len = value ? value_len : 0;
    row->timestamp_ms = timestamp_ms;
    return 0;

out_of_memory:
    free(name);
    free(copy);
    f->out_of_memory = 1;
    return 1;
}

static int compare_rows(const void *a, const void *b)
{
    return strcmp(((const dr_table_row *)a)->key, ((const dr_table_row *)b)->key);
}

/* dr_strmap_visit_fn: move a live row into the table; free what is left of every row. */
static int take_row(void *ctx, const char *key, void *value)
{
    (void)key;
    dr_table *out = ctx;
    dr_table_row *row = value;
    if (out && row->value) {
        out->rows[out->count++] = *row;
    } else {
        free(row->key);
        free(row->value);
    }
    free(row);
    return 0;
}

dr_status dr_table_read(const dr_kafka_options *opt, dr_topic topic, int timeout_ms, dr_table *out, dr_error *err)
{
    fold f = {.rows = dr_strmap_new()};
    memset(out, 0, sizeof *out);
    dr_status status = f.rows ? dr_kafka_read_topic(opt, topic, on_record, &f, timeout_ms, err) : DR_ERR_NOMEM;
    if (status == DR_OK && f.out_of_memory)
        status = DR_ERR_NOMEM;
    if (status == DR_OK && !(out->rows = calloc(dr_strmap_count(f.rows) + 1, sizeof *out->rows)))
        status = DR_ERR_NOMEM;
    if (status == DR_ERR_NOMEM)
        dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the %s topic", dr_topic_suffix(topic));
    /* Live rows move over (tombstoned keys are dropped here); after a failure, every row is freed. */
    if (f.rows)
        dr_strmap_each(f.rows, take_row, status == DR_OK ? out : NULL);
    dr_strmap_free(f.rows);
    if (status == DR_OK)
        qsort(out->rows, out->count, sizeof *out->rows, compare_rows);
    return status;
}

const dr_table_row *dr_table_get(const dr_table *table, const char *key)
{
    dr_table_row probe = {.key = (char *)key};
    if (table->count == 0)
        return NULL;
    return bsearch(&probe, table->rows, table->count, sizeof *table->rows, compare_rows);
}

void dr_table_free(dr_table *table)
{
    for (size_t i = 0; i < table->count; i++) {
        free(table->rows[i].key);
        free(table->rows[i].value);
    }
    free(table->rows);
    table->rows = NULL;
    table->count = 0;
}

dr_status dr_table_put(const dr_kafka_options *opt, dr_topic topic, const char *key, const void *value, size_t len,
                       int timeout_ms, dr_error *err)
{
    dr_kafka_producer *producer = NULL;
    dr_status status = dr_kafka_producer_new(opt, &producer, err);
    if (status != DR_OK)
        goto cleanup;
    status = dr_kafka_produce(producer, topic, key, value, len, NULL, NULL, err);
    if (status != DR_OK)
        goto cleanup;
    status = dr_kafka_producer_flush(producer, timeout_ms, err);

cleanup:
    if (status != DR_OK)
        dr_error_wrap(err, "writing %s to the %s topic", key, dr_topic_suffix(topic));
    if (producer)
        dr_kafka_producer_free(producer);
    return status;
}
