/*
 * api.h - the aggregator's HTTP face, as a dr_http_handler.
 *
 *   GET /                  the console: a self-contained live page (page.h), fed by /events
 *   GET /events            text/event-stream: a snapshot, then each change (console.h);
 *                          503 past the hub's client limit
 *   GET /deployments       JSON array of summaries, newest first
 *   GET /deployments/{id}  JSON: the summary, counts per (account, region), and
 *                          the failed targets with reason and message (up to
 *                          DR_API_FAILED_TARGETS_MAX; failed_total has them all);
 *                          404 with a JSON error for an unknown id.  A
 *                          deployment expired from the table (retention)
 *                          is answered from its final Rollup on the rollups
 *                          topic, with "archived": true (read from Kafka at
 *                          request time: the topic is read to its end)
 *   GET /metrics           Prometheus text: the registry's series (events,
 *                          durations, lag) plus, from the table at scrape time,
 *                          drover_jobs{deployment,state,account,region,package}
 *                          and drover_deployments{status}
 *   GET /deployments/{id}/failed?offset=&limit=&state=&reason=&account=&region=&q=
 *                          JSON: a page of the failed targets matching the filters
 *                          (at most DR_API_FAILED_PAGE_MAX), "matched", "next_offset"
 *                          (null at the end) and counts by state, reason and location
 *   GET /fleet[?package=P] JSON: what is installed where (fleet.h's dr_fleet_json);
 *                          /metrics adds drover_fleet_targets{package,version}
 *   GET /associations      JSON: the associations with their next run (associations.h)
 *   GET /healthz           200 "ok"
 *   GET /readyz            200 "ready" once caught up, 503 "catching up" before
 *
 * JSON shapes (every count object lists all eight states, zeros included):
 *   summary: {"deployment_id", "package", "version", "status", "total",
 *             "counts": {"PENDING": n, ...}, "failed_total", "started_at_ms",
 *             "updated_at_ms", "finished_at_ms"}
 *   detail:  summary + "partition", "locations": [{"account", "region",
 *            "total", "counts"}], "failed_targets": [{"target_id", "job_id",
 *            "state", "reason", "message", "attempt", "at_ms"}]
 *
 * The handler takes *lock while it reads the table, so it is safe on the
 * HTTP server's threads while ingest folds.
 */
#ifndef DROVER_AGGREGATOR_API_H
#define DROVER_AGGREGATOR_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "associations.h"
#include "fleet.h"
#include "http_server.h"
#include "kafka.h"
#include "metrics.h"
#include "rollup.h"
#include "sse.h"
#include "strbuf.h"

/* Failed targets listed by GET /deployments/{id}. */
#define DR_API_FAILED_TARGETS_MAX 1000
/* GET /deployments/{id}/failed: targets in one answer, by default and at most. */
#define DR_API_FAILED_PAGE_DEFAULT 100
#define DR_API_FAILED_PAGE_MAX 500
/* Distinct states, reasons and locations counted in that answer's by_* fields. */
#define DR_API_FACETS_MAX 100

typedef struct dr_api {
    pthread_mutex_t *lock; /* guards table */
    const dr_rollup_table *table;
    dr_metrics *metrics;     /* ingest's registry; may be NULL */
    const atomic_int *ready; /* non-zero once caught up; NULL: always ready */
    /* Where an expired deployment's final Rollup is read from (the rollups topic); NULL: nowhere (404). */
    const dr_kafka_options *kafka;
    int kafka_timeout_ms;
    const dr_fleet *fleet;         /* what is installed where (fleet.h); NULL: /fleet is 404 */
    dr_sse_hub *events;            /* GET /events' streams (console.h feeds them); NULL: /events is 404 */
    dr_associations *associations; /* GET /associations; NULL: 404 */
} dr_api;

/* The dr_http_handler; ctx is a dr_api that outlives the server. */
void dr_api_handle(void *ctx, const dr_http_request *req, dr_http_response *resp);

/* One deployment's summary as the JSON object GET /deployments lists (one line). */
void dr_api_summary_json(dr_strbuf *sb, const dr_rollup_summary *s);

#endif
