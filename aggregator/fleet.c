#include "fleet.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "metrics.h"
#include "strmap.h"

/* Drift entries listed by GET /fleet per package. */
#define DRIFTED_LISTED_MAX 1000
/* A fleet entry is small; anything larger on the topic is not one of ours. */
#define ENTRY_MAX_BYTES (16 * 1024)

struct dr_fleet {
    pthread_mutex_t lock;
    dr_strmap *entries;  /* "TARGET/PACKAGE" -> Drover__V1__FleetEntry (unpacked, owned) */
    uint64_t generation; /* moves on each change of entries (the console's cue to send the fleet again) */
};

static void free_entry(Drover__V1__FleetEntry *e)
{
    if (e)
        drover__v1__fleet_entry__free_unpacked(e, NULL);
}

static int free_visit(void *ctx, const char *key, void *value)
{
    (void)ctx;
    (void)key;
    free_entry(value);
    return 0;
}

dr_fleet *dr_fleet_new(void)
{
    dr_fleet *f = calloc(1, sizeof *f);
    if (!f || !(f->entries = dr_strmap_new())) {
        free(f);
        return NULL;
    }
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

void dr_fleet_free(dr_fleet *f)
{
    if (!f)
        return;
    dr_strmap_each(f->entries, free_visit, NULL);
    dr_strmap_free(f->entries);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static int count_installed(void *ctx, const char *key, void *value)
{
    (void)key;
    const Drover__V1__FleetEntry *e = value;
    *(size_t *)ctx += e->version[0] != '\0';
    return 0;
}

size_t dr_fleet_count(const dr_fleet *f)
{
    dr_fleet *m = (dr_fleet *)f;
    size_t n = 0;
    pthread_mutex_lock(&m->lock);
    dr_strmap_each(f->entries, count_installed, &n);
    pthread_mutex_unlock(&m->lock);
    return n;
}

uint64_t dr_fleet_generation(const dr_fleet *f)
{
    dr_fleet *m = (dr_fleet *)f;
    pthread_mutex_lock(&m->lock);
    uint64_t generation = f->generation;
    pthread_mutex_unlock(&m->lock);
    return generation;
}

/* Replace key's entry (NULL: remove it). Under lock.  -1 out of memory (nothing changed). */
static int store(dr_fleet *f, const char *key, Drover__V1__FleetEntry *entry)
{
    Drover__V1__FleetEntry *old = dr_strmap_get(f->entries, key);
    f->generation++;
    if (!entry) {
        free_entry(dr_strmap_remove(f->entries, key));
        return 0;
    }
    if (dr_strmap_put(f->entries, key, entry) != 0)
        return -1;
    free_entry(old);
    return 0;
}

typedef struct load_ctx {
    dr_fleet *fleet;
    size_t skipped;
} load_ctx;

static int load_record(void *ctx, const char *key, size_t key_len, const void *value, size_t value_len,
                       int64_t timestamp_ms)
{
    (void)timestamp_ms;
    load_ctx *c = ctx;
    char k[300];
    if (!key || key_len == 0 || key_len >= sizeof k) {
        c->skipped++;
        return 0;
    }
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    Drover__V1__FleetEntry *e = NULL;
    if (value && value_len <= ENTRY_MAX_BYTES)
        e = drover__v1__fleet_entry__unpack(NULL, value_len, value);
    if (value && !e) {
        c->skipped++;
        return 0;
    }
    char expected[300] = "";
    if (e)
        snprintf(expected, sizeof expected, "%s/%s", e->target_id, e->package);
    if (e && strcmp(expected, k) != 0) { /* an entry must sit under its own key */
        c->skipped++;
        free_entry(e);
        return 0;
    }
    if (store(c->fleet, k, e) != 0)
        free_entry(e);
    return 0;
}

dr_status dr_fleet_load(dr_fleet *f, const dr_kafka_options *kafka, int timeout_ms, size_t *skipped, dr_error *err)
{
    load_ctx ctx = {.fleet = f};
    pthread_mutex_lock(&f->lock);
    dr_status status = dr_kafka_read_topic(kafka, DR_TOPIC_FLEET, load_record, &ctx, timeout_ms, err);
    pthread_mutex_unlock(&f->lock);
    *skipped = ctx.skipped;
    return status;
}

static int is_terminal(Drover__V1__JobState s)
{
    return s == DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS || s == DROVER__V1__JOB_STATE__JOB_STATE_FAILED ||
           s == DROVER__V1__JOB_STATE__JOB_STATE_TIMED_OUT || s == DROVER__V1__JOB_STATE__JOB_STATE_REJECTED;
}

static const char *text(const char *s)
{
    return s ? s : "";
}

/* The entry e makes of old (NULL: none), unpacked from its own encoding so the table owns one kind of object. */
static Drover__V1__FleetEntry *next_entry(const Drover__V1__FleetEntry *old, const Drover__V1__StatusEvent *e,
                                          uint8_t **bytes, size_t *len)
{
    Drover__V1__FleetEntry n = DROVER__V1__FLEET_ENTRY__INIT;
    /* Kept as it was: the same version, found where the table said (not put back after a drift). */
    int same_version =
        old && strcmp(old->version, e->installed_version) == 0 && strcmp(old->version, text(e->previous_version)) == 0;
    n.schema_version = DR_SCHEMA_VERSION;
    n.target_id = (char *)e->target_id;
    n.package = (char *)e->package;
    n.version = (char *)e->installed_version;
    n.account = (char *)text(e->account);
    n.region = (char *)text(e->region);
    n.deployment_id = same_version ? old->deployment_id : (char *)e->deployment_id;
    n.installed_at_ms = same_version ? old->installed_at_ms : e->at_ms;
    n.updated_at_ms = e->at_ms;
    if (old) { /* a drift found before stays on record until another is found */
        n.drift_expected = old->drift_expected;
        n.drift_found = old->drift_found;
        n.drift_at_ms = old->drift_at_ms;
        n.drift_repaired = old->drift_repaired;
    }
    if (old && old->version[0] && strcmp(text(e->previous_version), old->version) != 0) {
        n.drift_expected = old->version;
        n.drift_found = (char *)text(e->previous_version);
        n.drift_at_ms = e->at_ms;
        n.drift_repaired = strcmp(e->installed_version, old->version) == 0;
    }
    *bytes = dr_message_encode(&n.base, len);
    return *bytes ? drover__v1__fleet_entry__unpack(NULL, *len, *bytes) : NULL;
}

/* Whether n says anything old does not (the time of the last status aside). */
static int differs(const Drover__V1__FleetEntry *old, const Drover__V1__FleetEntry *n)
{
    return !old || strcmp(old->version, n->version) != 0 || strcmp(old->account, n->account) != 0 ||
           strcmp(old->region, n->region) != 0 || strcmp(old->deployment_id, n->deployment_id) != 0 ||
           old->drift_at_ms != n->drift_at_ms;
}

int dr_fleet_fold(dr_fleet *f, const Drover__V1__StatusEvent *e, char **key, uint8_t **value, size_t *len)
{
    *key = NULL;
    *value = NULL;
    *len = 0;
    if (!e->installed_known || !is_terminal(e->state) || !e->target_id || !e->target_id[0] || !e->package ||
        !e->package[0] || !e->installed_version)
        return 0;
    char k[300];
    if (snprintf(k, sizeof k, "%s/%s", e->target_id, e->package) >= (int)sizeof k)
        return 0;
    int changed = 0;
    pthread_mutex_lock(&f->lock);
    Drover__V1__FleetEntry *old = dr_strmap_get(f->entries, k);
    /* A late copy, or history replayed (the status the entry was made of, too): the table knows better. */
    if (old && e->at_ms <= old->updated_at_ms)
        goto done;
    if (!e->installed_version[0] && !old)
        goto done; /* nothing there, nothing known of it */
    uint8_t *bytes = NULL;
    Drover__V1__FleetEntry *n = next_entry(old, e, &bytes, len);
    if (!n) {
        free(bytes);
        changed = -1;
        goto done;
    }
    changed = differs(old, n);
    if (store(f, k, n) != 0) {
        free_entry(n);
        free(bytes);
        changed = -1;
        goto done;
    }
    if (changed)
        *value = bytes;
    else
        free(bytes);
done:
    pthread_mutex_unlock(&f->lock);
    if (changed == 1 && !(*key = strdup(k))) {
        free(*value);
        *value = NULL;
        return -1;
    }
    return changed;
}

/* ---- reading it ---- */

typedef struct collected {
    const Drover__V1__FleetEntry **items;
    size_t count, alloc;
    const char *package; /* only this one; NULL: all */
    int failed;
} collected;

static int collect_visit(void *ctx, const char *key, void *value)
{
    (void)key;
    collected *c = ctx;
    const Drover__V1__FleetEntry *e = value;
    if (!e->version[0] || (c->package && strcmp(c->package, e->package) != 0))
        return 0; /* a removed package: kept only for its time */
    if (c->count == c->alloc) {
        size_t alloc = c->alloc ? c->alloc * 2 : 64;
        const Drover__V1__FleetEntry **items = realloc(c->items, alloc * sizeof *items);
        if (!items) {
            c->failed = 1;
            return 1;
        }
        c->items = items;
        c->alloc = alloc;
    }
    c->items[c->count++] = e;
    return 0;
}

static int by_package_version(const void *a, const void *b)
{
    const Drover__V1__FleetEntry *x = *(const Drover__V1__FleetEntry *const *)a;
    const Drover__V1__FleetEntry *y = *(const Drover__V1__FleetEntry *const *)b;
    int c = strcmp(x->package, y->package);
    if (!c)
        c = strcmp(x->version, y->version);
    if (!c)
        c = strcmp(x->account, y->account);
    if (!c)
        c = strcmp(x->region, y->region);
    if (!c)
        c = strcmp(x->target_id, y->target_id);
    return c;
}

static int by_package_location(const void *a, const void *b)
{
    const Drover__V1__FleetEntry *x = *(const Drover__V1__FleetEntry *const *)a;
    const Drover__V1__FleetEntry *y = *(const Drover__V1__FleetEntry *const *)b;
    int c = strcmp(x->package, y->package);
    if (!c)
        c = strcmp(x->account, y->account);
    if (!c)
        c = strcmp(x->region, y->region);
    if (!c)
        c = strcmp(x->version, y->version);
    return c;
}

/* The entries, sorted by cmp; the caller holds f's lock and frees c->items. */
static void collect(const dr_fleet *f, const char *package, int (*cmp)(const void *, const void *), collected *c)
{
    memset(c, 0, sizeof *c);
    c->package = package;
    dr_strmap_each(f->entries, collect_visit, c);
    if (c->count)
        qsort(c->items, c->count, sizeof *c->items, cmp);
}

/* {"V": n, ...} for items[from, to) of one package sorted by version. */
static void versions_json(const Drover__V1__FleetEntry **items, size_t from, size_t to, dr_strbuf *sb)
{
    dr_strbuf_puts(sb, "{");
    for (size_t i = from; i < to;) {
        size_t j = i;
        while (j < to && strcmp(items[j]->version, items[i]->version) == 0)
            j++;
        if (i > from)
            dr_strbuf_puts(sb, ", ");
        dr_strbuf_json_string(sb, items[i]->version);
        dr_strbuf_printf(sb, ": %zu", j - i);
        i = j;
    }
    dr_strbuf_puts(sb, "}");
}

static void drifted_json(const Drover__V1__FleetEntry **items, size_t from, size_t to, dr_strbuf *sb)
{
    size_t listed = 0;
    dr_strbuf_puts(sb, "[");
    for (size_t i = from; i < to && listed < DRIFTED_LISTED_MAX; i++) {
        const Drover__V1__FleetEntry *e = items[i];
        if (!e->drift_at_ms)
            continue;
        dr_strbuf_puts(sb, listed++ ? ", {\"target_id\": " : "{\"target_id\": ");
        dr_strbuf_json_string(sb, e->target_id);
        dr_strbuf_puts(sb, ", \"expected\": ");
        dr_strbuf_json_string(sb, e->drift_expected);
        dr_strbuf_puts(sb, ", \"found\": ");
        dr_strbuf_json_string(sb, e->drift_found);
        dr_strbuf_printf(sb, ", \"at_ms\": %lld, \"repaired\": %s, \"version\": ", (long long)e->drift_at_ms,
                         e->drift_repaired ? "true" : "false");
        dr_strbuf_json_string(sb, e->version);
        dr_strbuf_puts(sb, "}");
    }
    dr_strbuf_puts(sb, "]");
}

static void locations_json(const Drover__V1__FleetEntry **items, size_t from, size_t to, dr_strbuf *sb)
{
    dr_strbuf_puts(sb, "[");
    for (size_t i = from; i < to;) {
        size_t j = i;
        while (j < to && strcmp(items[j]->account, items[i]->account) == 0 &&
               strcmp(items[j]->region, items[i]->region) == 0)
            j++;
        dr_strbuf_puts(sb, i > from ? ", {\"account\": " : "{\"account\": ");
        dr_strbuf_json_string(sb, items[i]->account);
        dr_strbuf_puts(sb, ", \"region\": ");
        dr_strbuf_json_string(sb, items[i]->region);
        dr_strbuf_puts(sb, ", \"versions\": ");
        versions_json(items, i, j, sb);
        dr_strbuf_puts(sb, "}");
        i = j;
    }
    dr_strbuf_puts(sb, "]");
}

/* [from, to) of the run of items with items[from]'s package. */
static size_t package_end(const Drover__V1__FleetEntry **items, size_t from, size_t count)
{
    size_t to = from;
    while (to < count && strcmp(items[to]->package, items[from]->package) == 0)
        to++;
    return to;
}

void dr_fleet_json(const dr_fleet *f, const char *package, dr_strbuf *sb)
{
    dr_fleet *m = (dr_fleet *)f;
    collected by_version, by_location;
    pthread_mutex_lock(&m->lock);
    collect(f, package, by_package_version, &by_version);
    /* The same entries once more, ordered by place: a copy, not a second walk of the table. */
    by_location = by_version;
    by_location.items = by_version.count ? malloc(by_version.count * sizeof *by_version.items) : NULL;
    if (by_version.count && !by_location.items)
        by_location.failed = 1;
    else if (by_version.count) {
        memcpy(by_location.items, by_version.items, by_version.count * sizeof *by_version.items);
        qsort(by_location.items, by_location.count, sizeof *by_location.items, by_package_location);
    }
    dr_strbuf_puts(sb, "{\"packages\": {");
    for (size_t i = 0, l = 0; !by_version.failed && !by_location.failed && i < by_version.count;) {
        size_t end = package_end(by_version.items, i, by_version.count);
        size_t lend = package_end(by_location.items, l, by_location.count);
        dr_strbuf_puts(sb, i ? ", " : "");
        dr_strbuf_json_string(sb, by_version.items[i]->package);
        dr_strbuf_printf(sb, ": {\"targets\": %zu, \"versions\": ", end - i);
        versions_json(by_version.items, i, end, sb);
        dr_strbuf_puts(sb, ", \"locations\": ");
        locations_json(by_location.items, l, lend, sb);
        dr_strbuf_puts(sb, ", \"drifted\": ");
        drifted_json(by_version.items, i, end, sb);
        dr_strbuf_puts(sb, "}");
        i = end;
        l = lend;
    }
    dr_strbuf_puts(sb, "}}\n");
    if (by_version.failed || by_location.failed)
        sb->failed = 1;
    pthread_mutex_unlock(&m->lock);
    free(by_version.items);
    free(by_location.items);
}

void dr_fleet_metrics(const dr_fleet *f, dr_strbuf *sb)
{
    dr_fleet *m = (dr_fleet *)f;
    collected c;
    pthread_mutex_lock(&m->lock);
    collect(f, NULL, by_package_version, &c);
    dr_strbuf_puts(sb,
                   "# HELP drover_fleet_targets targets whose install record holds the package at the version\n"
                   "# TYPE drover_fleet_targets gauge\n");
    for (size_t i = 0; !c.failed && i < c.count;) {
        size_t j = i;
        while (j < c.count && strcmp(c.items[j]->package, c.items[i]->package) == 0 &&
               strcmp(c.items[j]->version, c.items[i]->version) == 0)
            j++;
        char package[300], version[300];
        dr_strbuf_printf(sb, "drover_fleet_targets{package=\"%s\",version=\"%s\"} %zu\n",
                         dr_metrics_label_escape(c.items[i]->package, package, sizeof package),
                         dr_metrics_label_escape(c.items[i]->version, version, sizeof version), j - i);
        i = j;
    }
    if (c.failed)
        sb->failed = 1;
    pthread_mutex_unlock(&m->lock);
    free(c.items);
}
