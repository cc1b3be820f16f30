#include "console.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "clock.h"
#include "strmap.h"

#define ASSOCIATIONS_REFRESH_MS 30000 /* the associations are rendered again at least this often */

/* What was last sent of one deployment. */
typedef struct sent {
    uint64_t fingerprint;
    uint64_t round; /* the last round that saw it in the table */
} sent;

struct dr_console {
    dr_console_settings s;
    dr_strmap *sent; /* deployment id -> sent */
    uint64_t round;
    uint64_t fleet_generation;
    int64_t fleet_next_ms;
    char *fleet_json; /* as last sent (or rendered for a snapshot); NULL: never */
    uint64_t associations_generation;
    int64_t associations_next_ms;
    char *associations_json;
    int ready; /* as last sent; -1: never */
    uint64_t dropped_counted;
    pthread_t thread;
    int running;
    int owns_hub;
    int stopping;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
};

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* Changes whenever anything the summary's JSON shows changes. */
static uint64_t fingerprint(const dr_rollup_summary *s)
{
    uint64_t h = 14695981039346656037ULL;
    int64_t numbers[] = {s->status,        (int64_t)s->total, (int64_t)s->expected_total, (int64_t)s->failed_total,
                         s->started_at_ms, s->updated_at_ms,  s->finished_at_ms};
    h = fnv(h, numbers, sizeof numbers);
    h = fnv(h, s->counts, sizeof s->counts);
    h = fnv(h, s->package, strlen(s->package) + 1);
    return fnv(h, s->version, strlen(s->version) + 1);
}

dr_console *dr_console_new(const dr_console_settings *settings)
{
    dr_console *c = calloc(1, sizeof *c);
    if (!c || !(c->sent = dr_strmap_new())) {
        free(c);
        return NULL;
    }
    c->s = *settings;
    if (c->s.interval_ms <= 0)
        c->s.interval_ms = 250;
    if (c->s.fleet_interval_ms <= 0)
        c->s.fleet_interval_ms = 1000;
    c->ready = -1;
    pthread_mutex_init(&c->stop_lock, NULL);
    pthread_cond_init(&c->stop_cond, NULL);
    dr_metrics_describe(c->s.metrics, "drover_aggregator_event_streams", DR_METRIC_GAUGE,
                        "clients of GET /events (the console) connected now", NULL, 0);
    dr_metrics_describe(c->s.metrics, "drover_aggregator_event_streams_dropped_total", DR_METRIC_COUNTER,
                        "GET /events clients dropped for falling behind (a full queue or a stalled socket)", NULL, 0);
    return c;
}

typedef struct gone {
    uint64_t round;
    char **ids;
    size_t count, alloc;
    int failed;
} gone;

static int collect_gone(void *ctx, const char *key, void *value)
{
    gone *g = ctx;
    const sent *e = value;
    if (e->round == g->round)
        return 0;
    if (g->count == g->alloc) {
        size_t alloc = g->alloc ? g->alloc * 2 : 16;
        char **grown = realloc(g->ids, alloc * sizeof *grown);
        if (!grown) {
            g->failed = 1;
            return 1;
        }
        g->ids = grown;
        g->alloc = alloc;
    }
    if (!(g->ids[g->count] = strdup(key))) {
        g->failed = 1;
        return 1;
    }
    g->count++;
    return 0;
}

/*
 * The deployments: a "deployment" event in update for each new or changed
 * one, and (snapshot non-NULL) every summary into the snapshot's array.
 * Returns 0, or -1 when out of memory (what was sent is then forgotten, so
 * the next round sends it all again).
 */
static int deployments_round(dr_console *c, dr_strbuf *update, dr_strbuf *snapshot)
{
    dr_strbuf one = DR_STRBUF_INIT;
    int failed = 0;
    pthread_mutex_lock(c->s.lock);
    size_t count = 0;
    const dr_rollup_deployment **all = dr_rollup_table_list(c->s.table, &count);
    failed = !all;
    for (size_t i = 0; all && i < count; i++) {
        dr_rollup_summary s;
        dr_rollup_summarize(all[i], &s);
        uint64_t fp = fingerprint(&s);
        sent *e = dr_strmap_get(c->sent, s.deployment_id);
        int changed = !e || e->fingerprint != fp;
        if (!e && (!(e = calloc(1, sizeof *e)) || dr_strmap_put(c->sent, s.deployment_id, e) != 0)) {
            free(e);
            failed = 1;
            break;
        }
        e->fingerprint = fp;
        e->round = c->round;
        if (!changed && !snapshot)
            continue;
        dr_strbuf_reset(&one);
        dr_api_summary_json(&one, &s);
        if (changed)
            dr_sse_event(update, "deployment", one.buf, one.len);
        if (snapshot) {
            if (i)
                dr_strbuf_puts(snapshot, ",");
            dr_strbuf_append(snapshot, one.buf, one.len);
        }
    }
    pthread_mutex_unlock(c->s.lock);
    free(all);
    failed |= one.failed;
    dr_strbuf_reset(&one);
    if (failed) {
        dr_strbuf_free(&one);
        return -1;
    }

    gone g = {.round = c->round};
    dr_strmap_each(c->sent, collect_gone, &g);
    for (size_t i = 0; i < g.count; i++) {
        free(dr_strmap_remove(c->sent, g.ids[i]));
        dr_strbuf_puts(&one, "{\"deployment_id\": ");
        dr_strbuf_json_string(&one, g.ids[i]);
        dr_strbuf_puts(&one, "}");
        dr_sse_event(update, "removed", one.buf, one.len);
        dr_strbuf_reset(&one);
        free(g.ids[i]);
    }
    free(g.ids);
    dr_strbuf_free(&one);
    return g.failed ? -1 : 0;
}

static int free_sent(void *ctx, const char *key, void *value)
{
    (void)ctx;
    (void)key;
    free(value);
    return 0;
}

/* Forget what was sent: a round that ran out of memory, so the next sends everything again. */
static void forget(dr_console *c)
{
    if (c->sent)
        dr_strmap_each(c->sent, free_sent, NULL);
    dr_strmap_free(c->sent);
    c->sent = dr_strmap_new(); /* NULL: the next round tries again */
}

/* Replace *held with text when it differs: 1 when it did (an event is due). */
static int replace_if_changed(char **held, dr_strbuf *text)
{
    if (text->failed || !text->buf)
        return 0;
    if (*held && strcmp(*held, text->buf) == 0)
        return 0;
    char *copy = strdup(text->buf);
    if (!copy)
        return 0;
    free(*held);
    *held = copy;
    return 1;
}

/* The fleet, when it changed (at most once a fleet_interval_ms), or the first time. */
static void fleet_round(dr_console *c, dr_strbuf *update)
{
    if (!c->s.fleet)
        return;
    int64_t now = dr_monotonic_ms();
    uint64_t generation = dr_fleet_generation(c->s.fleet);
    if (c->fleet_json && (generation == c->fleet_generation || now < c->fleet_next_ms))
        return;
    dr_strbuf text = DR_STRBUF_INIT;
    dr_fleet_json(c->s.fleet, NULL, &text);
    /* The fleet answer ends with a line break: an event's data is one line. */
    while (text.len && text.buf[text.len - 1] == '\n')
        text.buf[--text.len] = '\0';
    int had = c->fleet_json != NULL;
    if (replace_if_changed(&c->fleet_json, &text) && had)
        dr_sse_event(update, "fleet", text.buf, text.len);
    c->fleet_generation = generation;
    c->fleet_next_ms = now + c->s.fleet_interval_ms;
    dr_strbuf_free(&text);
}

/* The associations, when they changed or their next runs may have (every ASSOCIATIONS_REFRESH_MS). */
static void associations_round(dr_console *c, dr_strbuf *update)
{
    if (!c->s.associations)
        return;
    int64_t tick = dr_monotonic_ms(); /* the refresh is a period, immune to the wall clock stepping back */
    uint64_t generation = dr_associations_generation(c->s.associations);
    if (c->associations_json && generation == c->associations_generation && tick < c->associations_next_ms)
        return;
    dr_strbuf text = DR_STRBUF_INIT;
    dr_associations_json(c->s.associations, dr_now_ms(), &text);
    int had = c->associations_json != NULL;
    if (replace_if_changed(&c->associations_json, &text) && had)
        dr_sse_event(update, "associations", text.buf, text.len);
    c->associations_generation = generation;
    c->associations_next_ms = tick + ASSOCIATIONS_REFRESH_MS;
    dr_strbuf_free(&text);
}

static void count_streams(dr_console *c, const dr_sse_stats *stats)
{
    dr_metrics_gauge_set(c->s.metrics, "drover_aggregator_event_streams", "", (double)stats->clients);
    if (stats->dropped_slow > c->dropped_counted) {
        dr_metrics_counter_add(c->s.metrics, "drover_aggregator_event_streams_dropped_total", "",
                               (double)(stats->dropped_slow - c->dropped_counted));
        c->dropped_counted = stats->dropped_slow;
    }
}

void dr_console_round(dr_console *c)
{
    dr_sse_stats stats;
    dr_associations_poll(c->s.associations, 1000); /* whether anybody listens or not */
    dr_sse_hub_stats(c->s.hub, &stats);
    count_streams(c, &stats);
    if (stats.clients == 0)
        return; /* nobody listens; a client that joins gets a snapshot of the state then */
    if (!c->sent && !(c->sent = dr_strmap_new()))
        return;
    int waiting = dr_sse_hub_waiting(c->s.hub) > 0;
    c->round++;
    dr_strbuf update = DR_STRBUF_INIT, deployments = DR_STRBUF_INIT, snapshot = DR_STRBUF_INIT;
    if (deployments_round(c, &update, waiting ? &deployments : NULL) != 0) {
        forget(c);
        dr_strbuf_free(&update);
        dr_strbuf_free(&deployments);
        return; /* out of memory: nothing sent this round; the next sends all again */
    }
    fleet_round(c, &update);
    associations_round(c, &update);
    int ready = !c->s.ready || atomic_load(c->s.ready);
    if (c->ready >= 0 && ready != c->ready) {
        const char *text = ready ? "{\"ready\": true}" : "{\"ready\": false}";
        dr_sse_event(&update, "ready", text, strlen(text));
    }
    c->ready = ready;
    if (waiting) {
        dr_strbuf data = DR_STRBUF_INIT;
        dr_strbuf_printf(&data, "{\"ready\": %s, \"deployments\": [", ready ? "true" : "false");
        dr_strbuf_append(&data, deployments.buf ? deployments.buf : "", deployments.len);
        dr_strbuf_printf(&data, "], \"fleet\": %s, \"associations\": %s}",
                         c->fleet_json ? c->fleet_json : "{\"packages\": {}}",
                         c->associations_json ? c->associations_json : "null");
        if (!data.failed)
            dr_sse_event(&snapshot, "snapshot", data.buf, data.len);
        dr_strbuf_free(&data);
    }
    if (!update.failed && !snapshot.failed)
        dr_sse_hub_publish(c->s.hub, waiting && snapshot.len ? snapshot.buf : NULL, snapshot.len, update.buf,
                           update.len);
    else
        forget(c);
    dr_strbuf_free(&update);
    dr_strbuf_free(&deployments);
    dr_strbuf_free(&snapshot);
}

static void *console_main(void *arg)
{
    dr_console *c = arg;
    pthread_mutex_lock(&c->stop_lock);
    while (!c->stopping) {
        pthread_mutex_unlock(&c->stop_lock);
        dr_console_round(c);
        pthread_mutex_lock(&c->stop_lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += c->s.interval_ms / 1000;
        until.tv_nsec += (long)(c->s.interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!c->stopping && pthread_cond_timedwait(&c->stop_cond, &c->stop_lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&c->stop_lock);
    return NULL;
}

dr_status dr_console_start(dr_console *c, dr_error *err)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals are the main thread's */
    int rc = pthread_create(&c->thread, NULL, console_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return dr_error_set(err, DR_ERR_NOMEM, "the console's event thread: %s", strerror(rc));
    c->running = 1;
    return DR_OK;
}

dr_status dr_console_open(const dr_console_settings *settings, dr_console **out, dr_error *err)
{
    dr_console_settings s = *settings;
    *out = NULL;
    int owns_hub = !s.hub;
    if (owns_hub && dr_sse_hub_start(NULL, &s.hub, err) != DR_OK)
        return DR_ERR_NOMEM;
    dr_console *c = dr_console_new(&s);
    if (!c) {
        if (owns_hub)
            dr_sse_hub_stop(s.hub);
        return dr_error_set(err, DR_ERR_NOMEM, "the console: out of memory");
    }
    c->owns_hub = owns_hub;
    if (dr_console_start(c, err) != DR_OK) {
        dr_console_free(c);
        return DR_ERR_NOMEM;
    }
    *out = c;
    return DR_OK;
}

dr_sse_hub *dr_console_hub(const dr_console *c)
{
    return c ? c->s.hub : NULL;
}

void dr_console_free(dr_console *c)
{
    if (!c)
        return;
    if (c->running) {
        pthread_mutex_lock(&c->stop_lock);
        c->stopping = 1;
        pthread_cond_broadcast(&c->stop_cond);
        pthread_mutex_unlock(&c->stop_lock);
        pthread_join(c->thread, NULL);
    }
    if (c->owns_hub)
        dr_sse_hub_stop(c->s.hub);
    if (c->sent)
        dr_strmap_each(c->sent, free_sent, NULL);
    dr_strmap_free(c->sent);
    free(c->fleet_json);
    free(c->associations_json);
    pthread_mutex_destroy(&c->stop_lock);
    pthread_cond_destroy(&c->stop_cond);
    free(c);
}
