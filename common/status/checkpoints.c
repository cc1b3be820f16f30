#include "checkpoints.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "clock.h"
#include "log.h"
#include "messages.h"
#include "sha256.h"
#include "strmap.h"

/* Pieces one checkpoint may have. */
#define PIECES_MAX (DR_CHECKPOINT_MAX_BYTES / DR_CHECKPOINT_PIECE_BYTES + 1)
/* Bytes of the largest record read (a piece with its header). */
#define RECORD_MAX (DR_CHECKPOINT_PIECE_BYTES + 4096)

/* ---- writing ---- */

int dr_checkpoint_due(int64_t checkpointed, int64_t position, int64_t next_due_ms, int64_t now_ms)
{
    if (position == checkpointed)
        return 0;
    return now_ms >= next_due_ms || (checkpointed >= 0 && position - checkpointed >= DR_CHECKPOINT_EVENTS);
}

static void on_piece_delivered(void *opaque, dr_status status, const char *message)
{
    (void)opaque;
    if (status != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "checkpoint.write_failed", "msg=%s (the reader resumes from an earlier one)",
               dr_log_quote(quoted, sizeof quoted, message));
    }
}

dr_status dr_checkpoint_pack(const dr_rollup_table *table, int32_t partition, int64_t next_offset, uint8_t **bytes,
                             size_t *len, dr_error *err)
{
    dr_status status = DR_OK;
    Drover__V1__FoldCheckpoint *fold = dr_rollup_checkpoint(table, partition, next_offset, dr_now_ms());
    size_t packed_len = fold ? drover__v1__fold_checkpoint__get_packed_size(fold) : 0;
    *bytes = NULL;
    *len = 0;
    if (!fold || !(*bytes = malloc(packed_len ? packed_len : 1))) {
        status =
            dr_error_set(err, DR_ERR_NOMEM, "out of memory writing the checkpoint of partition %d", (int)partition);
        goto cleanup;
    }
    if (packed_len > DR_CHECKPOINT_MAX_BYTES) {
        status = dr_error_set(err, DR_ERR_USAGE, "the checkpoint of partition %d would be %zu bytes (at most %d)",
                              (int)partition, packed_len, DR_CHECKPOINT_MAX_BYTES);
        free(*bytes);
        *bytes = NULL;
        goto cleanup;
    }
    *len = drover__v1__fold_checkpoint__pack(fold, *bytes);
cleanup:
    dr_rollup_checkpoint_free(fold);
    return status;
}

dr_status dr_checkpoint_send(dr_kafka_producer *producer, const char *reader, int32_t partition, int64_t next_offset,
                             const uint8_t *packed, size_t packed_len, size_t *bytes, dr_error *err)
{
    dr_status status = DR_OK;
    uLongf deflated_len = compressBound((uLong)packed_len);
    uint8_t *deflated = malloc(deflated_len);
    uint8_t *record = malloc(RECORD_MAX);
    char digest[DR_SHA256_HEX_SIZE];
    if (!deflated || !record) {
        status =
            dr_error_set(err, DR_ERR_NOMEM, "out of memory writing the checkpoint of partition %d", (int)partition);
        goto cleanup;
    }
    if (compress2(deflated, &deflated_len, packed, (uLong)packed_len, Z_BEST_SPEED) != Z_OK) {
        status = dr_error_set(err, DR_ERR_INTERNAL, "deflating the checkpoint of partition %d failed", (int)partition);
        goto cleanup;
    }
    dr_sha256_buffer_hex(deflated, deflated_len, digest);
    uint32_t count = (uint32_t)((deflated_len + DR_CHECKPOINT_PIECE_BYTES - 1) / DR_CHECKPOINT_PIECE_BYTES);
    if (count == 0)
        count = 1;
    for (uint32_t i = 0; i < count && status == DR_OK; i++) {
        size_t from = (size_t)i * DR_CHECKPOINT_PIECE_BYTES;
        size_t len = deflated_len - from < DR_CHECKPOINT_PIECE_BYTES ? deflated_len - from : DR_CHECKPOINT_PIECE_BYTES;
        Drover__V1__CheckpointChunk piece = DROVER__V1__CHECKPOINT_CHUNK__INIT;
        piece.schema_version = DR_SCHEMA_VERSION;
        piece.reader = (char *)reader;
        piece.partition = partition;
        piece.next_offset = next_offset;
        piece.index = i;
        piece.count = count;
        piece.deflated_size = deflated_len;
        piece.inflated_size = packed_len;
        piece.sha256 = digest;
        piece.data.data = deflated + from;
        piece.data.len = len;
        size_t piece_len = drover__v1__checkpoint_chunk__pack(&piece, record);
        char key[400];
        snprintf(key, sizeof key, "%s/%d/%u", reader, (int)partition, i);
        status =
            dr_kafka_produce(producer, DR_TOPIC_CHECKPOINTS, key, record, piece_len, on_piece_delivered, NULL, err);
    }
    if (bytes)
        *bytes = deflated_len;
cleanup:
    free(record);
    free(deflated);
    return status;
}

dr_status dr_checkpoint_write(dr_kafka_producer *producer, const char *reader, const dr_rollup_table *table,
                              int32_t partition, int64_t next_offset, size_t *bytes, dr_error *err)
{
    uint8_t *packed = NULL;
    size_t len = 0;
    dr_status status = dr_checkpoint_pack(table, partition, next_offset, &packed, &len, err);
    if (status == DR_OK)
        status = dr_checkpoint_send(producer, reader, partition, next_offset, packed, len, bytes, err);
    free(packed);
    return status;
}

/* ---- reading ---- */

struct dr_checkpoints {
    char *reader;
    dr_strmap *pieces; /* "PARTITION/INDEX" -> piece (Drover__V1__CheckpointChunk *), the latest read */
    size_t ignored;    /* records that were not a piece of this reader's */
};

static void free_piece(void *piece)
{
    if (piece)
        drover__v1__checkpoint_chunk__free_unpacked(piece, NULL);
}

static int free_piece_visit(void *ctx, const char *key, void *value)
{
    (void)ctx, (void)key;
    free_piece(value);
    return 0;
}

void dr_checkpoints_free(dr_checkpoints *c)
{
    if (!c)
        return;
    if (c->pieces) {
        dr_strmap_each(c->pieces, free_piece_visit, NULL);
        dr_strmap_free(c->pieces);
    }
    free(c->reader);
    free(c);
}

/*
 * One record of the topic: kept when its key is "READER/PARTITION/INDEX"
 * for this reader and its value a piece that says the same.  A tombstone
 * removes the piece.
 */
static int take_record(void *ctx, const char *key, size_t key_len, const void *value, size_t value_len,
                       int64_t timestamp_ms)
{
    (void)timestamp_ms;
    dr_checkpoints *c = ctx;
    size_t reader_len = strlen(c->reader);
    char rest[64];
    int partition = -1;
    unsigned index = 0;
    char tail = 0;
    if (key_len <= reader_len + 1 || key_len - reader_len - 1 >= sizeof rest ||
        memcmp(key, c->reader, reader_len) != 0 || key[reader_len] != '/')
        return 0; /* another reader's: not counted */
    memcpy(rest, key + reader_len + 1, key_len - reader_len - 1);
    rest[key_len - reader_len - 1] = '\0';
    if (sscanf(rest, "%d/%u%c", &partition, &index, &tail) != 2 || partition < 0 || partition > 100000 ||
        index >= PIECES_MAX) {
        c->ignored++;
        return 0;
    }
    void *old = dr_strmap_remove(c->pieces, rest);
    free_piece(old);
    if (!value)
        return 0;
    Drover__V1__CheckpointChunk *piece =
        value_len <= RECORD_MAX ? drover__v1__checkpoint_chunk__unpack(NULL, value_len, value) : NULL;
    if (!piece || !piece->reader || strcmp(piece->reader, c->reader) != 0 || piece->partition != partition ||
        piece->index != index || piece->count == 0 || piece->count > PIECES_MAX || piece->index >= piece->count ||
        piece->data.len > DR_CHECKPOINT_PIECE_BYTES || piece->deflated_size > DR_CHECKPOINT_MAX_BYTES ||
        piece->inflated_size > DR_CHECKPOINT_MAX_BYTES || !piece->sha256 || !dr_sha256_is_hex(piece->sha256) ||
        piece->next_offset < 0 || dr_strmap_put(c->pieces, rest, piece) != 0) {
        free_piece(piece);
        c->ignored++;
    }
    return 0;
}

dr_status dr_checkpoints_read(const dr_kafka_options *opt, const char *reader, int timeout_ms, dr_checkpoints **out,
                              dr_error *err)
{
    dr_checkpoints *c = calloc(1, sizeof *c);
    dr_status status = DR_OK;
    *out = NULL;
    if (!c || !(c->reader = strdup(reader)) || !(c->pieces = dr_strmap_new())) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory reading checkpoints");
        goto cleanup;
    }
    if ((status = dr_kafka_read_topic(opt, DR_TOPIC_CHECKPOINTS, take_record, c, timeout_ms, err)) != DR_OK)
        goto cleanup;
    if (c->ignored)
        dr_log(DR_LOG_WARN, "checkpoint.ignored_records", "reader=%s records=%zu msg=\"not a piece of a checkpoint\"",
               reader, c->ignored);
    *out = c;
    c = NULL;
cleanup:
    dr_checkpoints_free(c);
    return status;
}

/* The whole deflated checkpoint of partition from its pieces; *why says what is wrong when NULL. */
static uint8_t *gather_pieces(const dr_checkpoints *c, int32_t partition, const Drover__V1__CheckpointChunk **first,
                              const char **why)
{
    char key[64];
    snprintf(key, sizeof key, "%d/0", (int)partition);
    const Drover__V1__CheckpointChunk *head = dr_strmap_get(c->pieces, key);
    *first = head;
    *why = "no checkpoint";
    if (!head)
        return NULL;
    uint8_t *whole = malloc(head->deflated_size ? head->deflated_size : 1);
    size_t filled = 0;
    *why = "out of memory";
    if (!whole)
        return NULL;
    *why = "its pieces are not all there, or are of different checkpoints";
    for (uint32_t i = 0; i < head->count; i++) {
        snprintf(key, sizeof key, "%d/%u", (int)partition, i);
        const Drover__V1__CheckpointChunk *piece = dr_strmap_get(c->pieces, key);
        if (!piece || piece->count != head->count || strcmp(piece->sha256, head->sha256) != 0 ||
            piece->next_offset != head->next_offset || piece->deflated_size != head->deflated_size ||
            piece->data.len > head->deflated_size - filled) {
            free(whole);
            return NULL;
        }
        memcpy(whole + filled, piece->data.data, piece->data.len);
        filled += piece->data.len;
    }
    char digest[DR_SHA256_HEX_SIZE];
    dr_sha256_buffer_hex(whole, filled, digest);
    if (filled != head->deflated_size || strcmp(digest, head->sha256) != 0) {
        *why = "its pieces do not hash to the digest they name";
        free(whole);
        return NULL;
    }
    return whole;
}

dr_status dr_checkpoints_restore(const dr_checkpoints *c, int32_t partition, dr_rollup_table *table, int *found,
                                 int64_t *next_offset, dr_error *err)
{
    const Drover__V1__CheckpointChunk *head = NULL;
    const char *why = NULL;
    uint8_t *inflated = NULL;
    Drover__V1__FoldCheckpoint *fold = NULL;
    dr_status status = DR_OK;
    *found = 0;
    uint8_t *deflated = gather_pieces(c, partition, &head, &why);
    if (!deflated) {
        snprintf(err->detail, sizeof err->detail, "%s", why);
        return DR_OK;
    }
    uLongf inflated_len = (uLongf)head->inflated_size;
    if (!(inflated = malloc(inflated_len ? inflated_len : 1))) {
        status =
            dr_error_set(err, DR_ERR_NOMEM, "out of memory restoring the checkpoint of partition %d", (int)partition);
        goto cleanup;
    }
    if (uncompress(inflated, &inflated_len, deflated, (uLong)head->deflated_size) != Z_OK ||
        inflated_len != head->inflated_size ||
        !(fold = drover__v1__fold_checkpoint__unpack(NULL, inflated_len, inflated)) ||
        fold->next_offset != head->next_offset) {
        status = dr_error_set(err, DR_ERR_MALFORMED_MESSAGE,
                              "the checkpoint of partition %d does not inflate to the fold its pieces describe",
                              (int)partition);
        goto cleanup;
    }
    if ((status = dr_rollup_restore(table, fold, partition, err)) != DR_OK)
        goto cleanup;
    *found = 1;
    *next_offset = fold->next_offset;
cleanup:
    if (fold)
        drover__v1__fold_checkpoint__free_unpacked(fold, NULL);
    free(inflated);
    free(deflated);
    return status;
}
