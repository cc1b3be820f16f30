/*
 * console.h - what the console's event stream (GET /events) says: a thread
 * that, every interval, compares the table, the fleet and readiness with
 * what it last sent and hands the differences to the SSE hub (sse.h).
 *
 * Events (each "event: NAME" with one JSON "data:" line):
 *   snapshot      {"ready", "deployments": [summary...], "fleet": {...},
 *                  "associations": {...} or null}: the whole state, to each
 *                  client once when it joins (and again after a reconnect)
 *   deployment    one summary (as GET /deployments lists them), new or changed
 *   removed       {"deployment_id"}: it left the table (retention, rebalance)
 *   fleet         the whole GET /fleet answer, when it changed (at most once a
 *                 second)
 *   associations  the associations and their next run (GET /associations), when
 *                 they changed, and again every 30 s (a next run comes due)
 *   ready         {"ready": bool}, when readiness changed
 *
 * A deployment that changes many times between two rounds is sent once,
 * as it is at the round.  Nothing is sent while nobody listens, and nothing
 * is rendered for a round that changed nothing but the unchanged
 * deployments' fingerprints (no JSON is built for them).
 */
#ifndef DROVER_AGGREGATOR_CONSOLE_H
#define DROVER_AGGREGATOR_CONSOLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "associations.h"
#include "error.h"
#include "fleet.h"
#include "metrics.h"
#include "rollup.h"
#include "sse.h"
#include "strbuf.h"

typedef struct dr_console dr_console;

typedef struct dr_console_settings {
    pthread_mutex_t *lock; /* guards table */
    const dr_rollup_table *table;
    const dr_fleet *fleet;   /* may be NULL */
    const atomic_int *ready; /* may be NULL: always ready */
    dr_sse_hub *hub;
    dr_metrics *metrics;           /* the stream's gauges and counters; may be NULL */
    int interval_ms;               /* between rounds; default 250 */
    int fleet_interval_ms;         /* the fleet is sent again at most this often; default 1000 */
    dr_associations *associations; /* polled each round; NULL: the snapshot says null */
} dr_console_settings;

/* A console (no thread yet); NULL when out of memory. */
dr_console *dr_console_new(const dr_console_settings *settings);
/* Run rounds on a thread of its own until dr_console_free. */
dr_status dr_console_start(dr_console *console, dr_error *err);
/* One round now (what the thread does each interval); the tests call it directly. */
void dr_console_round(dr_console *console);
/*
 * dr_console_new and dr_console_start in one, with a hub of its own when
 * settings->hub is NULL (dr_console_hub gives it: the API's /events).
 */
dr_status dr_console_open(const dr_console_settings *settings, dr_console **out, dr_error *err);
dr_sse_hub *dr_console_hub(const dr_console *console); /* NULL console: NULL */
/* Stop the thread (if any), and the hub when it is the console's own, and free.  NULL is fine.  Stop the HTTP server first. */
void dr_console_free(dr_console *console);

#endif
