/*
 * table.c - fold a topic by key while it is read: an open-addressing hash
 * map from key to the latest value, sorted into rows at the end.
 */
#include "table.h"

#include <stdlib.h>
#include <string.h>

typedef struct fold {
    dr_table_row *slots; /* key NULL: empty slot */
    size_t capacity;     /* a power of two */
    size_t used;         /* slots with a key, tombstoned or not */
    int out_of_memory;
} fold;

/* FNV-1a: keys are short ids; anything that spreads them will do. */
static uint64_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

static dr_table_row *find_slot(dr_table_row *slots, size_t capacity, const char *key)
{
    size_t i = (size_t)hash_key(key) & (capacity - 1);
    while (slots[i].key && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (capacity - 1);
    return &slots[i];
}

static int grow(fold *f)
{
    size_t capacity = f->capacity ? f->capacity * 2 : 1024;
    dr_table_row *slots = calloc(capacity, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < f->capacity; i++)
        if (f->slots[i].key)
            *find_slot(slots, capacity, f->slots[i].key) = f->slots[i];
    free(f->slots);
    f->slots = slots;
    f->capacity = capacity;
    return 0;
}

/* dr_kafka_record_fn: keep the latest value per key; a tombstone keeps the key with no value. */
static int on_record(void *ctx, const char *key, size_t key_len, const void *value, size_t value_len,
                     int64_t timestamp_ms)
{
    fold *f = ctx;
    if (!key || key_len == 0)
        return 0;
    /* Load factor at most 1/2 keeps probes short. */
    if ((f->used + 1) * 2 > f->capacity && grow(f) != 0)
        goto out_of_memory;
    char *name = strndup(key, key_len);
    if (!name)
        goto out_of_memory;
    uint8_t *copy = NULL;
    if (value) {
        copy = malloc(value_len ? value_len : 1);
        if (!copy) {
            free(name);
            goto out_of_memory;
        }
        memcpy(copy, value, value_len);
    }
    dr_table_row *slot = find_slot(f->slots, f->capacity, name);
    if (slot->key) {
        free(name);
        free(slot->value);
    } else {
        slot->key = name;
        f->used++;
    }
    slot->value = copy;
    slot->value_len = value ? value_len : 0;
    slot->timestamp_ms = timestamp_ms;
    return 0;

out_of_memory:
    f->out_of_memory = 1;
    return 1;
}

static int compare_rows(const void *a, const void *b)
{
    return strcmp(((const dr_table_row *)a)->key, ((const dr_table_row *)b)->key);
}

static void fold_free(fold *f)
{
    for (size_t i = 0; i < f->capacity; i++) {
        free(f->slots[i].key);
        free(f->slots[i].value);
    }
    free(f->slots);
    memset(f, 0, sizeof *f);
}

dr_status dr_table_read(const dr_kafka_options *opt, dr_topic topic, int timeout_ms, dr_table *out, dr_error *err)
{
    fold f = {0};
    memset(out, 0, sizeof *out);
    dr_status status = dr_kafka_read_topic(opt, topic, on_record, &f, timeout_ms, err);
    if (status == DR_OK && f.out_of_memory)
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the %s topic", dr_topic_suffix(topic));
    if (status != DR_OK)
        goto cleanup;
    out->rows = calloc(f.used ? f.used : 1, sizeof *out->rows);
    if (!out->rows) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the %s topic", dr_topic_suffix(topic));
        goto cleanup;
    }
    /* Move the live rows over; tombstoned keys are dropped here. */
    for (size_t i = 0; i < f.capacity; i++) {
        dr_table_row *slot = &f.slots[i];
        if (slot->key && slot->value) {
            out->rows[out->count++] = *slot;
            slot->key = NULL;
            slot->value = NULL;
        }
    }
    qsort(out->rows, out->count, sizeof *out->rows, compare_rows);

cleanup:
    fold_free(&f);
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
