#include "job_signing.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "messages.h"
#include "proto_wire.h"

#define SIGNATURE_FIELD 18u /* Job.signature in proto/drover.proto */
#define RELOAD_INTERVAL_MS 5000

dr_status dr_job_encode_signed(const dr_key *key, const Drover__V1__Job *job, uint8_t **out, size_t *len, dr_error *err)
{
    Drover__V1__Job unsigned_job = *job;
    unsigned_job.key_id = (char *)dr_key_id(key);
    unsigned_job.signature.data = NULL;
    unsigned_job.signature.len = 0;
    size_t body_len = 0;
    uint8_t signature[DR_SIGNATURE_SIZE];
    uint8_t *body = dr_message_encode(&unsigned_job.base, &body_len);
    uint8_t *signed_bytes = NULL;
    dr_status status = DR_OK;
    *out = NULL;
    if (!body) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory encoding a job");
        goto cleanup;
    }
    if ((status = dr_key_sign(key, body, body_len, signature, err)) != DR_OK)
        goto cleanup;
    size_t total = body_len + dr_wire_bytes_field_size(SIGNATURE_FIELD, sizeof signature);
    if (!(signed_bytes = malloc(total))) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory for a signed job");
        goto cleanup;
    }
    memcpy(signed_bytes, body, body_len);
    dr_wire_put_bytes_field(signed_bytes + body_len, SIGNATURE_FIELD, signature, sizeof signature);
    *out = signed_bytes;
    *len = total;
cleanup:
    free(body);
    return status;
}

int dr_job_claims_signature(const Drover__V1__Job *job)
{
    return (job->key_id && job->key_id[0]) || job->signature.len > 0;
}

/* ---- the trust store ---- */

struct dr_trust_store {
    char *spec;
    dr_key **keys;
    size_t count;
    int64_t loaded_at_ms;
    uint64_t fingerprint; /* of the spec's files and directories when loaded (spec_fingerprint) */
};

/*
 * Call fn for each item of the comma-separated spec (leading spaces cut,
 * empty items skipped) with its stat, or st NULL and errno set when it has
 * none.  Stops at fn's first failure.  The one walk of a spec: loading and
 * the on-disk fingerprint stat each item once, the same way.
 */
typedef dr_status (*spec_item_fn)(void *ctx, const char *path, const struct stat *st, dr_error *err);

static dr_status each_spec_item(const char *spec, spec_item_fn fn, void *ctx, dr_error *err)
{
    dr_status status = DR_OK;
    for (const char *item = spec; *item && status == DR_OK;) {
        size_t len = strcspn(item, ",");
        char path[4096];
        snprintf(path, sizeof path, "%.*s", (int)len, item);
        const char *trimmed = path + strspn(path, " ");
        item += len + (item[len] == ',');
        if (!*trimmed)
            continue;
        struct stat st;
        status = fn(ctx, trimmed, stat(trimmed, &st) == 0 ? &st : NULL, err);
    }
    return status;
}

/*
 * Fold what an item looks like on disk into *hash: its inode, size and
 * change and modification times (a key added to a directory changes the
 * directory's).  A different fingerprint means the keys may differ.
 */
static void fingerprint_add(uint64_t *hash, const struct stat *st)
{
    const uint64_t parts[] = {(uint64_t)st->st_ino,         (uint64_t)st->st_size,
                              (uint64_t)st->st_mtim.tv_sec, (uint64_t)st->st_mtim.tv_nsec,
                              (uint64_t)st->st_ctim.tv_sec, (uint64_t)st->st_ctim.tv_nsec};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        *hash = (*hash ^ parts[i]) * 1099511628211ULL;
}

#define FINGERPRINT_START 1469598103934665603ULL

static dr_status fingerprint_item(void *ctx, const char *path, const struct stat *st, dr_error *err)
{
    (void)path, (void)err;
    if (st)
        fingerprint_add(ctx, st);
    return DR_OK;
}

/* The spec's fingerprint as it is on disk now. */
static uint64_t spec_fingerprint(const char *spec)
{
    uint64_t hash = FINGERPRINT_START;
    each_spec_item(spec, fingerprint_item, &hash, NULL);
    return hash;
}

static void drop_keys(dr_trust_store *store)
{
    for (size_t i = 0; i < store->count; i++)
        dr_key_free(store->keys[i]);
    free(store->keys);
    store->keys = NULL;
    store->count = 0;
}

static dr_status add_key_file(dr_trust_store *store, const char *path, dr_error *err)
{
    dr_key *key = NULL;
    dr_status status = dr_key_load_public(path, &key, err);
    if (status != DR_OK)
        return status;
    for (size_t i = 0; i < store->count; i++)
        if (strcmp(dr_key_id(store->keys[i]), dr_key_id(key)) == 0) {
            dr_key_free(key); /* the same key twice (a .key and its .pub): once is enough */
            return DR_OK;
        }
    dr_key **grown = realloc(store->keys, (store->count + 1) * sizeof *grown);
    if (!grown) {
        dr_key_free(key);
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory for trusted keys");
    }
    store->keys = grown;
    store->keys[store->count++] = key;
    return DR_OK;
}

static int ends_with(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

static dr_status add_directory(dr_trust_store *store, const char *dir, dr_error *err)
{
    struct dirent **entries = NULL;
    int n = scandir(dir, &entries, NULL, alphasort);
    dr_status status = DR_OK;
    if (n < 0)
        return dr_error_set(err, DR_ERR_IO, "cannot read trusted keys directory %s: %s", dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        if (status == DR_OK && entries[i]->d_name[0] != '.' && ends_with(entries[i]->d_name, ".pub")) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, entries[i]->d_name);
            status = add_key_file(store, path, err);
        }
        free(entries[i]);
    }
    free(entries);
    return status;
}

/* Read every key the spec names into store (emptied first). */
/* Add an item's keys (a key file, or every key of a directory) and fold it into the fingerprint. */
static dr_status load_item(void *ctx, const char *path, const struct stat *st, dr_error *err)
{
    dr_trust_store *store = ctx;
    if (!st)
        return dr_error_set(err, DR_ERR_IO, "trusted key %s: %s", path, strerror(errno));
    fingerprint_add(&store->fingerprint, st);
    return S_ISDIR(st->st_mode) ? add_directory(store, path, err) : add_key_file(store, path, err);
}

static dr_status load_spec(dr_trust_store *store, dr_error *err)
{
    drop_keys(store);
    store->loaded_at_ms = dr_monotonic_ms();
    store->fingerprint = FINGERPRINT_START;
    dr_status status = each_spec_item(store->spec, load_item, store, err);
    /* A load that stopped part-way covers the whole spec all the same: it is retried when the spec changes. */
    if (status != DR_OK)
        store->fingerprint = spec_fingerprint(store->spec);
    return status;
}

dr_status dr_trust_store_load(const char *spec, dr_trust_store **out, dr_error *err)
{
    dr_trust_store *store = calloc(1, sizeof *store);
    dr_status status = DR_OK;
    *out = NULL;
    if (!store || !(store->spec = strdup(spec ? spec : ""))) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory for trusted keys");
        goto fail;
    }
    if ((status = load_spec(store, err)) != DR_OK)
        goto fail;
    *out = store;
    return DR_OK;
fail:
    dr_trust_store_free(store);
    return status;
}

void dr_trust_store_free(dr_trust_store *store)
{
    if (!store)
        return;
    drop_keys(store);
    free(store->spec);
    free(store);
}

size_t dr_trust_store_count(const dr_trust_store *store)
{
    return store->count;
}

void dr_trust_store_describe(const dr_trust_store *store, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < store->count && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "," : "", dr_key_id(store->keys[i]));
    if (store->count == 0)
        snprintf(buf, size, "none");
}

static const dr_key *find_key(const dr_trust_store *store, const char *id)
{
    for (size_t i = 0; i < store->count; i++)
        if (strcmp(dr_key_id(store->keys[i]), id) == 0)
            return store->keys[i];
    return NULL;
}

dr_status dr_trust_verify_job(dr_trust_store *store, const uint8_t *bytes, size_t len, const Drover__V1__Job *job,
                              dr_error *err)
{
    char trusted[256];
    const char *id = job->key_id && job->key_id[0] ? job->key_id : NULL;
    if (!id || job->signature.len == 0) {
        dr_trust_store_describe(store, trusted, sizeof trusted);
        return dr_error_set(err, DR_ERR_SIGNATURE,
                            "the job is unsigned (%s); this worker runs only jobs signed by a trusted key (%s)",
                            !id && job->signature.len == 0 ? "no key id, no signature"
                            : !id                          ? "a signature without a key id"
                                                           : "a key id without a signature",
                            trusted);
    }
    const dr_key *key = find_key(store, id);
    /* Unknown key: read the spec again if it changed on disk, and in any case every RELOAD_INTERVAL_MS. */
    if (!key && store->spec[0] &&
        (spec_fingerprint(store->spec) != store->fingerprint ||
         dr_monotonic_ms() - store->loaded_at_ms >= RELOAD_INTERVAL_MS)) {
        /* A key added since: read the spec again, keeping the old set if that fails. */
        dr_trust_store fresh = {.spec = store->spec};
        dr_error reload_err = {0};
        if (load_spec(&fresh, &reload_err) == DR_OK) {
            drop_keys(store);
            store->keys = fresh.keys;
            store->count = fresh.count;
        } else {
            drop_keys(&fresh);
        }
        store->loaded_at_ms = fresh.loaded_at_ms;
        store->fingerprint = fresh.fingerprint;
        key = find_key(store, id);
    }
    if (!key) {
        dr_trust_store_describe(store, trusted, sizeof trusted);
        return dr_error_set(err, DR_ERR_SIGNATURE,
                            "the job is signed by key %.64s, which this worker does not trust "
                            "(trusted: %s)",
                            id, trusted);
    }
    uint8_t *body = malloc(len ? len : 1);
    size_t body_len = 0;
    dr_status status = DR_OK;
    if (!body)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory verifying a job");
    if (dr_wire_strip_field(bytes, len, SIGNATURE_FIELD, body, &body_len) != 0)
        status = dr_error_set(err, DR_ERR_SIGNATURE, "the job signed by key %s is not well-formed protobuf", id);
    else if (!dr_key_verify(key, body, body_len, job->signature.data, job->signature.len))
        status = dr_error_set(err, DR_ERR_SIGNATURE,
                              "the signature by key %s does not verify: the job was altered "
                              "after it was signed, or signed by another key",
                              id);
    free(body);
    return status;
}
