#include "associations.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "schedule.h"
#include "strmap.h"

#define KEY_MAX 512

struct dr_associations {
    pthread_mutex_t lock;
    dr_strmap *table; /* association id -> Drover__V1__Association (owned) */
    uint64_t generation;
    dr_kafka_follower *follower; /* NULL: fed by hand */
};

dr_associations *dr_associations_new(void)
{
    dr_associations *a = calloc(1, sizeof *a);
    if (!a || !(a->table = dr_strmap_new())) {
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

dr_status dr_associations_start(const dr_kafka_options *kafka, int timeout_ms, dr_associations **out, dr_error *err)
{
    static const dr_topic topics[] = {DR_TOPIC_ASSOCIATIONS};
    *out = NULL;
    dr_associations *a = dr_associations_new();
    if (!a)
        return dr_error_set(err, DR_ERR_NOMEM, "the associations: out of memory");
    dr_status status = dr_kafka_follower_new(kafka, topics, 1, timeout_ms, &a->follower, err);
    if (status != DR_OK) {
        dr_associations_free(a);
        return status;
    }
    *out = a;
    return DR_OK;
}

int dr_associations_apply(dr_associations *a, const char *key, size_t key_len, const void *value, size_t len)
{
    char id[KEY_MAX];
    if (!key || key_len == 0 || key_len >= sizeof id || memchr(key, '\0', key_len))
        return -1; /* a NUL would cut the id short and name another association */
    memcpy(id, key, key_len);
    id[key_len] = '\0';
    Drover__V1__Association *m = NULL;
    if (value && dr_association_decode(value, len, &m, NULL) != DR_OK)
        return -1;
    if (m && (m->deleted || !m->association_id || strcmp(m->association_id, id) != 0)) {
        int deleted = m->deleted;
        drover__v1__association__free_unpacked(m, NULL);
        m = NULL;
        if (!deleted)
            return -1; /* an association must sit under its own id */
    }
    pthread_mutex_lock(&a->lock);
    Drover__V1__Association *old = m ? dr_strmap_get(a->table, id) : dr_strmap_remove(a->table, id);
    int rc = 0;
    if (m && dr_strmap_put(a->table, id, m) != 0) {
        drover__v1__association__free_unpacked(m, NULL);
        old = NULL;
        rc = -1;
    }
    if (old)
        drover__v1__association__free_unpacked(old, NULL);
    a->generation++;
    pthread_mutex_unlock(&a->lock);
    return rc;
}

void dr_associations_poll(dr_associations *a, int max)
{
    if (!a || !a->follower)
        return;
    dr_topic topic;
    rd_kafka_message_t *msg;
    for (int i = 0; i < max && (msg = dr_kafka_follower_poll(a->follower, 0, &topic)); i++) {
        dr_associations_apply(a, msg->key, msg->key_len, msg->payload, msg->len);
        rd_kafka_message_destroy(msg);
    }
}

uint64_t dr_associations_generation(dr_associations *a)
{
    pthread_mutex_lock(&a->lock);
    uint64_t generation = a->generation;
    pthread_mutex_unlock(&a->lock);
    return generation;
}

/* "all", or the criteria ANDed: "targets a,b; tag env=prod|dev; accounts 1,2; regions r". */
static void selection_text(dr_strbuf *sb, const Drover__V1__TargetSelection *s)
{
    if (!s || s->all) {
        dr_strbuf_puts(sb, "all");
        return;
    }
    const char *sep = "";
    struct {
        const char *name;
        char **values;
        size_t n;
    } lists[] = {{"targets", s->target_ids, s->n_target_ids},
                 {"accounts", s->accounts, s->n_accounts},
                 {"regions", s->regions, s->n_regions}};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        if (!lists[l].n)
            continue;
        dr_strbuf_printf(sb, "%s%s ", sep, lists[l].name);
        for (size_t i = 0; i < lists[l].n; i++)
            dr_strbuf_printf(sb, "%s%s", i ? "," : "", lists[l].values[i]);
        sep = "; ";
    }
    for (size_t t = 0; t < s->n_tags; t++) {
        dr_strbuf_printf(sb, "%stag %s=", sep, s->tags[t]->key);
        for (size_t i = 0; i < s->tags[t]->n_values; i++)
            dr_strbuf_printf(sb, "%s%s", i ? "|" : "", s->tags[t]->values[i]);
        sep = "; ";
    }
}

typedef struct listed {
    const Drover__V1__Association **items;
    size_t count;
} listed;

static int list_visit(void *ctx, const char *key, void *value)
{
    (void)key;
    listed *l = ctx;
    l->items[l->count++] = value;
    return 0;
}

static int by_id(const void *x, const void *y)
{
    const Drover__V1__Association *a = *(const Drover__V1__Association *const *)x;
    const Drover__V1__Association *b = *(const Drover__V1__Association *const *)y;
    return strcmp(a->association_id, b->association_id);
}

static void string_field(dr_strbuf *sb, const char *name, const char *value)
{
    dr_strbuf_printf(sb, ", \"%s\": ", name);
    dr_strbuf_json_string(sb, value ? value : "");
}

static void one_json(dr_strbuf *sb, const Drover__V1__Association *a, int64_t now_ms)
{
    dr_strbuf_puts(sb, "{\"association_id\": ");
    dr_strbuf_json_string(sb, a->association_id);
    string_field(sb, "name", a->name);
    string_field(sb, "package", a->package);
    string_field(sb, "version", a->version);
    dr_strbuf_printf(sb, ", \"action\": \"%s\", \"selection\": ",
                     a->action == DROVER__V1__ACTION__ACTION_UNINSTALL ? "uninstall" : "install");
    dr_strbuf text = DR_STRBUF_INIT;
    selection_text(&text, a->selection);
    dr_strbuf_json_string(sb, text.buf ? text.buf : "");
    dr_strbuf_free(&text);
    string_field(sb, "schedule", a->schedule);
    int64_t next = -1;
    const char *error = "";
    dr_schedule schedule;
    dr_error err = {0};
    if (a->schedule && a->schedule[0]) {
        if (dr_schedule_parse(a->schedule, &schedule, &err) == DR_OK)
            next = dr_schedule_next(&schedule, a->last_run_at_ms > 0 ? a->last_run_at_ms : a->created_at_ms);
        else
            error = err.detail;
    }
    string_field(sb, "schedule_error", error);
    if (next >= 0)
        dr_strbuf_printf(sb, ", \"next_run_ms\": %lld, \"due\": %s", (long long)next,
                         next <= now_ms ? "true" : "false");
    else
        dr_strbuf_puts(sb, ", \"next_run_ms\": null, \"due\": false");
    dr_strbuf_printf(sb, ", \"run_on_create\": %s, \"run_on_default_change\": %s, \"run_on_launch\": %s",
                     a->run_on_create ? "true" : "false", a->run_on_default_change ? "true" : "false",
                     a->run_on_launch ? "true" : "false");
    dr_strbuf_printf(sb, ", \"created_at_ms\": %lld, \"last_run_ms\": %lld", (long long)a->created_at_ms,
                     (long long)a->last_run_at_ms);
    string_field(sb, "last_deployment_id", a->last_deployment_id);
    string_field(sb, "last_run_version", a->last_run_version);
    dr_strbuf_puts(sb, "}");
}

void dr_associations_json(dr_associations *a, int64_t now_ms, dr_strbuf *sb)
{
    pthread_mutex_lock(&a->lock);
    listed l = {calloc(dr_strmap_count(a->table) + 1, sizeof *l.items), 0};
    if (!l.items) {
        pthread_mutex_unlock(&a->lock);
        sb->failed = 1;
        return;
    }
    dr_strmap_each(a->table, list_visit, &l);
    qsort(l.items, l.count, sizeof *l.items, by_id);
    dr_strbuf_printf(sb, "{\"now_ms\": %lld, \"associations\": [", (long long)now_ms);
    for (size_t i = 0; i < l.count; i++) {
        dr_strbuf_puts(sb, i ? ",\n  " : "\n  ");
        one_json(sb, l.items[i], now_ms);
    }
    dr_strbuf_puts(sb, l.count ? "\n]}" : "]}");
    pthread_mutex_unlock(&a->lock);
    free(l.items);
}

static int free_visit(void *ctx, const char *key, void *value)
{
    (void)ctx;
    (void)key;
    drover__v1__association__free_unpacked(value, NULL);
    return 0;
}

void dr_associations_free(dr_associations *a)
{
    if (!a)
        return;
    dr_kafka_follower_free(a->follower);
    dr_strmap_each(a->table, free_visit, NULL);
    dr_strmap_free(a->table);
    pthread_mutex_destroy(&a->lock);
    free(a);
}
