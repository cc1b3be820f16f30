/*
 * targets.c - targets from flags and files, checked and encoded; the
 * inventory read back.
 */
#include "targets.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "messages.h"
#include "names.h"
#include "platform.h"
#include "strbuf.h"
#include "table.h"
#include "request_signing.h"

#define MAX_TAGS 64
#define MAX_FAMILY DR_PLATFORM_FAMILY_MAX
#define MAX_ADDRESS 4096
#define MAX_FILE_BYTES ((size_t)512 * 1024 * 1024)

/* ---- one target ---- */

/* A platform part: 1-63 of [A-Za-z0-9_.-] (what a manifest key can match). */
static dr_status check_platform_part(const char *where, const char *what, const char *value, dr_error *err)
{
    size_t len = strlen(value);
    size_t ok = strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
    if (len == 0 || len > 63 || ok != len)
        return dr_error_set(err, DR_ERR_USAGE, "%s: %s '%.64s' must be 1-63 of A-Z a-z 0-9 _ . -", where, what, value);
    return DR_OK;
}

static dr_status require(const char *where, const char *what, const char *value, dr_error *err)
{
    if (!value || !value[0])
        return dr_error_set(err, DR_ERR_USAGE, "%s: %s is missing", where, what);
    return DR_OK;
}

/* Split id_like on whitespace into words (pointers into copy, which the caller owns). */
static size_t split_words(char *copy, char **words, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *word = strtok_r(copy, " \t", &save); word && n < max; word = strtok_r(NULL, " \t", &save))
        words[n++] = word;
    return n;
}

static dr_status check_fields(const dr_target_fields *f, const char *where, dr_error *err)
{
    dr_status status;
    char what[256];
    if ((status = require(where, "id", f->id, err)) != DR_OK ||
        (status = require(where, "account", f->account, err)) != DR_OK ||
        (status = require(where, "region", f->region, err)) != DR_OK ||
        (status = require(where, "platform", f->platform, err)) != DR_OK ||
        (status = require(where, "platform_version", f->platform_version, err)) != DR_OK ||
        (status = require(where, "arch", f->arch, err)) != DR_OK)
        return status;
    snprintf(what, sizeof what, "%s: id", where);
    if ((status = dr_check_id(what, f->id, err)) != DR_OK)
        return status;
    snprintf(what, sizeof what, "%s: account", where);
    if ((status = dr_check_id(what, f->account, err)) != DR_OK)
        return status;
    snprintf(what, sizeof what, "%s: region", where);
    if ((status = dr_check_id(what, f->region, err)) != DR_OK)
        return status;
    if ((status = check_platform_part(where, "platform", f->platform, err)) != DR_OK ||
        (status = check_platform_part(where, "platform_version", f->platform_version, err)) != DR_OK ||
        (status = check_platform_part(where, "arch", f->arch, err)) != DR_OK)
        return status;
    if (f->id_like) {
        size_t len = strlen(f->id_like);
        size_t ok = strspn(f->id_like, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.- \t");
        if (len > 512 || ok != len)
            return dr_error_set(err, DR_ERR_USAGE, "%s: id_like '%.64s' must be platform names separated by spaces",
                                where, f->id_like);
    }
    dr_platform platform;
    status = dr_platform_init(&platform, f->platform, f->platform_version, f->arch, f->id_like, err);
    if (status != DR_OK) {
        dr_error_wrap(err, "%s", where);
        return status;
    }
    if (f->executor && f->executor[0] && strcmp(f->executor, "local") != 0 && strcmp(f->executor, "ssh") != 0 &&
        strcmp(f->executor, "agent") != 0)
        return dr_error_set(err, DR_ERR_USAGE, "%s: executor '%.32s' is not local, ssh or agent", where, f->executor);
    if (f->address) {
        size_t len = strlen(f->address);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)f->address[i] < 0x20 || f->address[i] == 0x7f)
                len = MAX_ADDRESS + 1;
        if (len > MAX_ADDRESS)
            return dr_error_set(err, DR_ERR_USAGE, "%s: address must be at most %d printable characters", where,
                                MAX_ADDRESS);
    }
    if (f->tag_count > MAX_TAGS)
        return dr_error_set(err, DR_ERR_USAGE, "%s: %zu tags; at most %d are allowed", where, f->tag_count, MAX_TAGS);
    for (size_t i = 0; i < f->tag_count; i++) {
        size_t key_len;
        if ((status = dr_check_tag(where, f->tags[i], &key_len, err)) != DR_OK)
            return status;
        for (size_t j = 0; j < i; j++)
            if (strncmp(f->tags[j], f->tags[i], key_len + 1) == 0)
                return dr_error_set(err, DR_ERR_USAGE, "%s: tag %.*s is given twice", where, (int)key_len, f->tags[i]);
    }
    return DR_OK;
}

/* Encode f (already checked) as a Target; NULL when out of memory. */
static uint8_t *encode_target(const dr_target_fields *f, size_t *len)
{
    uint8_t *bytes = NULL;
    char *id_like = f->id_like ? strdup(f->id_like) : NULL;
    char *family[MAX_FAMILY];
    size_t family_count = 0;
    Drover__V1__KeyValue *tags = calloc(f->tag_count + 1, sizeof *tags);
    Drover__V1__KeyValue **tag_pointers = calloc(f->tag_count + 1, sizeof *tag_pointers);
    char **keys = calloc(f->tag_count + 1, sizeof *keys);
    if (!tags || !tag_pointers || !keys || (f->id_like && !id_like))
        goto cleanup;
    if (id_like)
        family_count = split_words(id_like, family, MAX_FAMILY);
    for (size_t i = 0; i < f->tag_count; i++) {
        const char *eq = strchr(f->tags[i], '=');
        keys[i] = strndup(f->tags[i], (size_t)(eq - f->tags[i]));
        if (!keys[i])
            goto cleanup;
        drover__v1__key_value__init(&tags[i]);
        tags[i].key = keys[i];
        tags[i].value = (char *)(eq + 1);
        tag_pointers[i] = &tags[i];
    }
    Drover__V1__Target target = DROVER__V1__TARGET__INIT;
    target.schema_version = DR_SCHEMA_VERSION;
    target.target_id = (char *)f->id;
    target.account = (char *)f->account;
    target.region = (char *)f->region;
    target.platform_name = (char *)f->platform;
    target.platform_version = (char *)f->platform_version;
    target.arch = (char *)f->arch;
    target.n_tags = f->tag_count;
    target.tags = tag_pointers;
    target.n_platform_family = family_count;
    target.platform_family = family;
    target.executor = (char *)(f->executor ? f->executor : "");
    target.address = (char *)(f->address ? f->address : "");
    target.updated_at_ms = dr_now_ms();
    bytes = dr_message_encode(&target.base, len);

cleanup:
    for (size_t i = 0; keys && i < f->tag_count; i++)
        free(keys[i]);
    free(keys);
    free(tag_pointers);
    free(tags);
    free(id_like);
    return bytes;
}

dr_status dr_target_batch_add(dr_target_batch *batch, const dr_target_fields *fields, const char *where, dr_error *err)
{
    dr_status status = check_fields(fields, where, err);
    dr_target_record record = {0};
    if (status != DR_OK)
        goto cleanup;
    if (batch->count == batch->alloc) {
        size_t alloc = batch->alloc ? batch->alloc * 2 : 64;
        dr_target_record *grown = realloc(batch->items, alloc * sizeof *grown);
        if (!grown) {
            status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
        batch->items = grown;
        batch->alloc = alloc;
    }
    record.id = strdup(fields->id);
    record.bytes = encode_target(fields, &record.len);
    if (!record.id || !record.bytes) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    batch->items[batch->count++] = record;
    memset(&record, 0, sizeof record); /* now owned by batch */

cleanup:
    free(record.id);
    free(record.bytes);
    return status;
}

static int compare_records_by_id(const void *a, const void *b)
{
    return strcmp((*(const dr_target_record *const *)a)->id, (*(const dr_target_record *const *)b)->id);
}

dr_status dr_target_batch_check_unique(const dr_target_batch *batch, dr_error *err)
{
    dr_status status = DR_OK;
    const dr_target_record **sorted = calloc(batch->count + 1, sizeof *sorted);
    if (!sorted)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < batch->count; i++)
        sorted[i] = &batch->items[i];
    qsort(sorted, batch->count, sizeof *sorted, compare_records_by_id);
    for (size_t i = 1; i < batch->count; i++) {
        if (strcmp(sorted[i - 1]->id, sorted[i]->id) == 0) {
            status = dr_error_set(err, DR_ERR_USAGE, "target %s is given more than once", sorted[i]->id);
            break;
        }
    }
    free(sorted);
    return status;
}

void dr_target_batch_free(dr_target_batch *batch)
{
    for (size_t i = 0; i < batch->count; i++) {
        free(batch->items[i].id);
        free(batch->items[i].bytes);
    }
    free(batch->items);
    memset(batch, 0, sizeof *batch);
}

/* Deliveries of one registration. */
typedef struct register_count {
    size_t acknowledged;
} register_count;

static void on_target_delivered(void *opaque, dr_status status, const char *message)
{
    (void)message;
    if (status == DR_OK)
        ((register_count *)opaque)->acknowledged++;
}

/* Produce every target, then flush once: thousands take one round trip, not thousands. */
/* One target's record as written: signed by operator_key, or as encoded when it is NULL. */
static dr_status produce_target(dr_kafka_producer *producer, const dr_target_record *record, const dr_key *operator_key,
                                register_count *count, dr_error *err)
{
    if (!operator_key)
        return dr_kafka_produce(producer, DR_TOPIC_INVENTORY, record->id, record->bytes, record->len,
                                on_target_delivered, count, err);
    Drover__V1__Target *target = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    dr_status status = dr_target_decode(record->bytes, record->len, &target, err);
    if (status == DR_OK && (status = dr_request_encode(operator_key, &target->base, &bytes, &len, err)) == DR_OK)
        status =
            dr_kafka_produce(producer, DR_TOPIC_INVENTORY, record->id, bytes, len, on_target_delivered, count, err);
    free(bytes);
    if (target)
        drover__v1__target__free_unpacked(target, NULL);
    return status;
}

dr_status dr_target_batch_write(const dr_kafka_options *kafka, const dr_target_batch *batch, const dr_key *operator_key,
                                int timeout_ms, size_t *acknowledged, dr_error *err)
{
    register_count count = {0};
    dr_kafka_producer *producer = NULL;
    dr_status status = dr_kafka_producer_new(kafka, &producer, err);
    for (size_t i = 0; status == DR_OK && i < batch->count; i++)
        status = produce_target(producer, &batch->items[i], operator_key, &count, err);
    if (producer) {
        dr_error flush_err = {0};
        dr_status flushed = dr_kafka_producer_flush(producer, timeout_ms, &flush_err);
        if (status == DR_OK && flushed != DR_OK) {
            status = flushed;
            if (err)
                *err = flush_err;
        }
    }
    *acknowledged = count.acknowledged;
    if (status == DR_OK && count.acknowledged != batch->count)
        status = dr_error_set(err, DR_ERR_KAFKA, "%zu of %zu targets acknowledged", count.acknowledged, batch->count);
    if (producer)
        dr_kafka_producer_free(producer);
    return status;
}

/* ---- files ---- */

/* A JSON string member, or NULL when absent; DR_ERR_USAGE when present but not a string. */
static dr_status json_text(json_t *object, const char *name, const char *where, const char **out, dr_error *err)
{
    json_t *value = json_object_get(object, name);
    *out = NULL;
    if (!value || json_is_null(value))
        return DR_OK;
    if (!json_is_string(value))
        return dr_error_set(err, DR_ERR_USAGE, "%s: %s must be a string", where, name);
    *out = json_string_value(value);
    return DR_OK;
}

/* "rhel fedora" or ["rhel", "fedora"] as one space-separated string in buf. */
static dr_status json_id_like(json_t *object, const char *where, char *buf, size_t size, const char **out,
                              dr_error *err)
{
    json_t *value = json_object_get(object, "id_like");
    *out = NULL;
    if (!value || json_is_null(value))
        return DR_OK;
    if (json_is_string(value)) {
        *out = json_string_value(value);
        return DR_OK;
    }
    if (!json_is_array(value))
        return dr_error_set(err, DR_ERR_USAGE, "%s: id_like must be a string or an array of strings", where);
    buf[0] = '\0';
    size_t index;
    json_t *item;
    json_array_foreach(value, index, item)
    {
        size_t used = strlen(buf);
        if (!json_is_string(item) || used + json_string_length(item) + 2 > size)
            return dr_error_set(err, DR_ERR_USAGE, "%s: id_like must be a short array of strings", where);
        snprintf(buf + used, size - used, "%s%s", used ? " " : "", json_string_value(item));
    }
    *out = buf;
    return DR_OK;
}

static const char *const known_json_fields[] = {"id",   "account", "region",  "platform", "platform_version",
                                                "arch", "tags",    "id_like", "executor", "address"};

static dr_status add_json_target(dr_target_batch *batch, json_t *object, const char *where, dr_error *err)
{
    dr_status status = DR_OK;
    char **tags = NULL;
    size_t tag_count = 0;
    char id_like_buf[512];
    dr_target_fields f = {0};
    if (!json_is_object(object)) {
        status = dr_error_set(err, DR_ERR_USAGE, "%s: not an object", where);
        goto cleanup;
    }
    const char *name;
    json_t *value;
    json_object_foreach(object, name, value)
    {
        size_t known = 0;
        while (known < sizeof known_json_fields / sizeof known_json_fields[0] && strcmp(known_json_fields[known], name))
            known++;
        if (known == sizeof known_json_fields / sizeof known_json_fields[0]) {
            status = dr_error_set(err, DR_ERR_USAGE,
                                  "%s: unknown field '%.64s' (fields: id, account, region, platform, "
                                  "platform_version, arch, tags, id_like, executor, address)",
                                  where, name);
            goto cleanup;
        }
    }
    if ((status = json_text(object, "id", where, &f.id, err)) != DR_OK ||
        (status = json_text(object, "account", where, &f.account, err)) != DR_OK ||
        (status = json_text(object, "region", where, &f.region, err)) != DR_OK ||
        (status = json_text(object, "platform", where, &f.platform, err)) != DR_OK ||
        (status = json_text(object, "platform_version", where, &f.platform_version, err)) != DR_OK ||
        (status = json_text(object, "arch", where, &f.arch, err)) != DR_OK ||
        (status = json_text(object, "executor", where, &f.executor, err)) != DR_OK ||
        (status = json_text(object, "address", where, &f.address, err)) != DR_OK ||
        (status = json_id_like(object, where, id_like_buf, sizeof id_like_buf, &f.id_like, err)) != DR_OK)
        goto cleanup;
    json_t *tag_object = json_object_get(object, "tags");
    if (tag_object && !json_is_null(tag_object)) {
        if (!json_is_object(tag_object)) {
            status = dr_error_set(err, DR_ERR_USAGE, "%s: tags must be an object of strings", where);
            goto cleanup;
        }
        tags = calloc(json_object_size(tag_object) + 1, sizeof *tags);
        if (!tags) {
            status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
        json_object_foreach(tag_object, name, value)
        {
            if (!json_is_string(value)) {
                status = dr_error_set(err, DR_ERR_USAGE, "%s: tag %.64s must be a string", where, name);
                goto cleanup;
            }
            /* Checked apart first: a key holding '=' would otherwise split differently once joined. */
            if ((status = dr_check_tag_parts(where, name, json_string_value(value), err)) != DR_OK)
                goto cleanup;
            if (asprintf(&tags[tag_count], "%s=%s", name, json_string_value(value)) < 0) {
                tags[tag_count] = NULL;
                status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
                goto cleanup;
            }
            tag_count++;
        }
    }
    f.tags = tags;
    f.tag_count = tag_count;
    status = dr_target_batch_add(batch, &f, where, err);

cleanup:
    for (size_t i = 0; i < tag_count; i++)
        free(tags[i]);
    free(tags);
    return status;
}

static dr_status read_json_targets(dr_target_batch *batch, const char *path, const char *text, size_t len,
                                   dr_error *err)
{
    dr_status status = DR_OK;
    json_error_t json_err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &json_err);
    if (!root) {
        status = dr_error_set(err, DR_ERR_USAGE, "%s: line %d column %d: %s", path, json_err.line, json_err.column,
                              json_err.text);
        goto cleanup;
    }
    if (!json_is_array(root)) {
        status = dr_error_set(err, DR_ERR_USAGE, "%s: expected an array of targets", path);
        goto cleanup;
    }
    size_t index;
    json_t *item;
    json_array_foreach(root, index, item)
    {
        char where[512];
        snprintf(where, sizeof where, "%s item %zu", path, index + 1);
        status = add_json_target(batch, item, where, err);
        if (status != DR_OK)
            goto cleanup;
    }

cleanup:
    json_decref(root);
    return status;
}

/* One CSV record's fields, pointing into the file's buffer. */
typedef struct csv_row {
    char **fields;
    size_t count;
    size_t alloc;
} csv_row;

static int csv_push(csv_row *row, char *field)
{
    if (row->count == row->alloc) {
        size_t alloc = row->alloc ? row->alloc * 2 : 16;
        char **grown = realloc(row->fields, alloc * sizeof *grown);
        if (!grown)
            return -1;
        row->fields = grown;
        row->alloc = alloc;
    }
    row->fields[row->count++] = field;
    return 0;
}

/*
 * Parse the record at *cursor in place (RFC 4180: fields may be quoted, ""
 * is a quote inside quotes, quoted fields may span lines; CRLF or LF ends a
 * record).  Each field becomes NUL-terminated in the buffer, which needs one
 * spare byte past end.  *line counts newlines consumed.
 */
static dr_status csv_next_row(char **cursor, char *end, csv_row *row, size_t *line, const char *path, dr_error *err)
{
    char *r = *cursor;
    size_t start_line = *line;
    row->count = 0;
    for (;;) {
        char *field = r, *w = r;
        char terminator;
        if (r < end && *r == '"') {
            r++;
            for (;;) {
                if (r >= end)
                    return dr_error_set(err, DR_ERR_USAGE, "%s line %zu: a quoted field is not closed", path,
                                        start_line);
                if (*r == '"' && r + 1 < end && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    if (*r == '\n')
                        (*line)++;
                    *w++ = *r++;
                }
            }
            if (r < end && *r == '\r')
                r++;
            if (r < end && *r != ',' && *r != '\n')
                return dr_error_set(err, DR_ERR_USAGE, "%s line %zu: text after a closing quote", path, *line);
        } else {
            while (r < end && *r != ',' && *r != '\n')
                r++;
            w = r;
            if (w > field && w[-1] == '\r')
                w--;
        }
        terminator = r < end ? *r : '\0';
        *w = '\0';
        if (csv_push(row, field) != 0)
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory reading %s", path);
        if (terminator == ',') {
            r++;
            continue;
        }
        if (terminator == '\n') {
            r++;
            (*line)++;
        }
        break;
    }
    *cursor = r;
    return DR_OK;
}

enum {
    COL_ID,
    COL_ACCOUNT,
    COL_REGION,
    COL_PLATFORM,
    COL_PLATFORM_VERSION,
    COL_ARCH,
    COL_TAGS,
    COL_ID_LIKE,
    COL_EXECUTOR,
    COL_ADDRESS,
    COL_COUNT
};
static const char *const csv_columns[COL_COUNT] = {"id",   "account", "region",  "platform", "platform_version",
                                                   "arch", "tags",    "id_like", "executor", "address"};

/* Which column of the row each known column is (-1: absent), from the header. */
static dr_status csv_header(const csv_row *header, long *columns, const char *path, dr_error *err)
{
    for (size_t c = 0; c < COL_COUNT; c++)
        columns[c] = -1;
    for (size_t i = 0; i < header->count; i++) {
        const char *name = header->fields[i];
        /* A UTF-8 byte order mark from a spreadsheet export is not part of the name. */
        if (i == 0 && strncmp(name, "\xEF\xBB\xBF", 3) == 0)
            name += 3;
        size_t c = 0;
        while (c < COL_COUNT && strcmp(csv_columns[c], name) != 0)
            c++;
        if (c == COL_COUNT)
            return dr_error_set(err, DR_ERR_USAGE,
                                "%s line 1: unknown column '%.64s' (columns: id, account, region, platform, "
                                "platform_version, arch, tags, id_like, executor, address)",
                                path, name);
        if (columns[c] >= 0)
            return dr_error_set(err, DR_ERR_USAGE, "%s line 1: column %s is given twice", path, name);
        columns[c] = (long)i;
    }
    for (size_t c = 0; c <= COL_ARCH; c++)
        if (columns[c] < 0)
            return dr_error_set(err, DR_ERR_USAGE,
                                "%s line 1: no %s column; the header must name id, account, region, platform, "
                                "platform_version and arch",
                                path, csv_columns[c]);
    return DR_OK;
}

/* Split "K=V;K2=V2" in place into tags (a ';' right at the end is allowed). */
static dr_status csv_tags(char *cell, csv_row *tags, const char *path, dr_error *err)
{
    tags->count = 0;
    char *save = NULL;
    for (char *tag = strtok_r(cell, ";", &save); tag; tag = strtok_r(NULL, ";", &save))
        if (csv_push(tags, tag) != 0)
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory reading %s", path);
    return DR_OK;
}

static dr_status read_csv_targets(dr_target_batch *batch, const char *path, char *text, size_t len, dr_error *err)
{
    dr_status status = DR_OK;
    csv_row header = {0}, row = {0}, tags = {0};
    long columns[COL_COUNT];
    char *cursor = text, *end = text + len;
    size_t line = 1;
    status = csv_next_row(&cursor, end, &header, &line, path, err);
    if (status == DR_OK)
        status = csv_header(&header, columns, path, err);
    while (status == DR_OK && cursor < end) {
        size_t row_line = line;
        status = csv_next_row(&cursor, end, &row, &line, path, err);
        if (status != DR_OK)
            break;
        if (row.count == 1 && row.fields[0][0] == '\0')
            continue; /* a blank line */
        char where[512];
        snprintf(where, sizeof where, "%s line %zu", path, row_line);
        if (row.count != header.count) {
            status =
                dr_error_set(err, DR_ERR_USAGE, "%s: %zu fields; the header has %zu", where, row.count, header.count);
            break;
        }
        const char *cell[COL_COUNT];
        for (size_t c = 0; c < COL_COUNT; c++)
            cell[c] = columns[c] >= 0 ? row.fields[columns[c]] : NULL;
        tags.count = 0;
        if (cell[COL_TAGS] && (status = csv_tags(row.fields[columns[COL_TAGS]], &tags, path, err)) != DR_OK)
            break;
        dr_target_fields f = {
            .id = cell[COL_ID],
            .account = cell[COL_ACCOUNT],
            .region = cell[COL_REGION],
            .platform = cell[COL_PLATFORM],
            .platform_version = cell[COL_PLATFORM_VERSION],
            .arch = cell[COL_ARCH],
            .id_like = cell[COL_ID_LIKE] && cell[COL_ID_LIKE][0] ? cell[COL_ID_LIKE] : NULL,
            .executor = cell[COL_EXECUTOR],
            .address = cell[COL_ADDRESS] && cell[COL_ADDRESS][0] ? cell[COL_ADDRESS] : NULL,
            .tags = tags.fields,
            .tag_count = tags.count,
        };
        status = dr_target_batch_add(batch, &f, where, err);
    }
    free(header.fields);
    free(row.fields);
    free(tags.fields);
    return status;
}

dr_status dr_target_batch_read_file(dr_target_batch *batch, const char *path, dr_error *err)
{
    dr_strbuf file = DR_STRBUF_INIT;
    dr_status status = dr_strbuf_read_file(&file, path, MAX_FILE_BYTES, DR_ERR_USAGE, err);
    if (status != DR_OK)
        goto cleanup;
    /* NUL-terminated even when empty: the terminator is the spare byte the CSV parser needs. */
    dr_strbuf_puts(&file, "");
    if (file.failed) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory reading %s", path);
        goto cleanup;
    }
    char *text = file.buf;
    size_t len = file.len;
    size_t lead = strspn(text, " \t\r\n");
    if (text[lead] == '[')
        status = read_json_targets(batch, path, text, len, err);
    else
        status = read_csv_targets(batch, path, text, len, err);

cleanup:
    dr_strbuf_free(&file);
    return status;
}

/* ---- the inventory ---- */

static int compare_targets_by_id(const void *a, const void *b)
{
    return strcmp((*(Drover__V1__Target *const *)a)->target_id, (*(Drover__V1__Target *const *)b)->target_id);
}

dr_status dr_inventory_read(const dr_kafka_options *opt, int timeout_ms, dr_inventory *out, dr_error *err)
{
    return dr_inventory_read_checked(opt, timeout_ms, NULL, NULL, out, err);
}

dr_status dr_inventory_read_checked(const dr_kafka_options *opt, int timeout_ms, dr_inventory_keep_fn keep, void *ctx,
                                    dr_inventory *out, dr_error *err)
{
    dr_table table = {0};
    memset(out, 0, sizeof *out);
    dr_status status = dr_table_read(opt, DR_TOPIC_INVENTORY, timeout_ms, &table, err);
    if (status != DR_OK)
        goto cleanup;
    out->targets = calloc(table.count + 1, sizeof *out->targets);
    if (!out->targets) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the inventory");
        goto cleanup;
    }
    for (size_t i = 0; i < table.count; i++) {
        const dr_table_row *row = &table.rows[i];
        Drover__V1__Target *target = NULL;
        dr_error decode_err = {0};
        char quoted[256];
        if (dr_target_decode(row->value, row->value_len, &target, &decode_err) != DR_OK) {
            dr_log(DR_LOG_WARN, "inventory.damaged", "target=%s msg=%s", dr_log_quote(quoted, sizeof quoted, row->key),
                   decode_err.detail);
            out->damaged++;
            continue;
        }
        /* The key is the id; a message that disagrees would make jobs for the wrong target. */
        if (!target->target_id || strcmp(target->target_id, row->key) != 0) {
            dr_log(DR_LOG_WARN, "inventory.damaged", "target=%s msg=\"the message names another target id\"",
                   dr_log_quote(quoted, sizeof quoted, row->key));
            drover__v1__target__free_unpacked(target, NULL);
            out->damaged++;
            continue;
        }
        if (keep && !keep(ctx, row->value, row->value_len, target)) {
            drover__v1__target__free_unpacked(target, NULL);
            out->refused++;
            continue;
        }
        out->targets[out->count++] = target;
    }
    /* Keys are sorted already; ids equal keys. */
    qsort(out->targets, out->count, sizeof *out->targets, compare_targets_by_id);

cleanup:
    dr_table_free(&table);
    return status;
}

const Drover__V1__Target *dr_inventory_find(const dr_inventory *inventory, const char *id)
{
    Drover__V1__Target probe = DROVER__V1__TARGET__INIT;
    probe.target_id = (char *)id;
    Drover__V1__Target *key = &probe;
    if (inventory->count == 0)
        return NULL;
    Drover__V1__Target **found =
        bsearch(&key, inventory->targets, inventory->count, sizeof *inventory->targets, compare_targets_by_id);
    return found ? *found : NULL;
}

const char *dr_target_tag(const Drover__V1__Target *target, const char *key)
{
    for (size_t i = 0; i < target->n_tags; i++)
        if (target->tags[i]->key && strcmp(target->tags[i]->key, key) == 0)
            return target->tags[i]->value ? target->tags[i]->value : "";
    return NULL;
}

void dr_inventory_free(dr_inventory *inventory)
{
    for (size_t i = 0; i < inventory->count; i++)
        drover__v1__target__free_unpacked(inventory->targets[i], NULL);
    free(inventory->targets);
    memset(inventory, 0, sizeof *inventory);
}

dr_status dr_target_event_encode(const dr_key *key, Drover__V1__TargetEvent__Kind kind, const char *target_id,
                                 Drover__V1__Target *target, uint8_t **out, size_t *len, dr_error *err)
{
    Drover__V1__Target only_id = DROVER__V1__TARGET__INIT;
    only_id.schema_version = DR_SCHEMA_VERSION;
    only_id.target_id = (char *)target_id;
    Drover__V1__TargetEvent event = DROVER__V1__TARGET_EVENT__INIT;
    event.schema_version = DR_SCHEMA_VERSION;
    event.kind = kind;
    event.target = kind == DROVER__V1__TARGET_EVENT__KIND__KIND_TERMINATED ? &only_id : target;
    event.at_ms = dr_now_ms();
    return dr_request_encode(key, &event.base, out, len, err);
}
