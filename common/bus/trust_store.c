#include "trust_store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"

#define RELOAD_INTERVAL_MS 5000

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

const dr_key *dr_trust_store_find(dr_trust_store *store, const char *key_id)
{
    const dr_key *key = find_key(store, key_id);
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
        key = find_key(store, key_id);
    }
    return key;
}
