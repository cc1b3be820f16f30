/*
 * drover-aggregator: folds the status topic into per-deployment rollups,
 * publishes them to the rollups topic, and serves them over HTTP (JSON, a
 * live page, Prometheus /metrics).  A thin program over rollup.h (the fold),
 * ingest.h (Kafka) and api.h (HTTP).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "build_info.h"
#include "config.h"
#include "console.h"
#include "http_server.h"
#include "ingest.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "program.h"
#include "rollup.h"

static const dr_setting settings[] = {
    DR_COMMON_SETTINGS,
    DR_KAFKA_SETTINGS,
    {"http", DR_SETTING_STRING, "127.0.0.1:8080",
     "address to serve the page, JSON API, /metrics, /healthz and /readyz on (HOST:PORT; port 0: any free port; "
     "empty: none).  The bound address is logged as event=http.listening"},
    {"group", DR_SETTING_STRING, "drover-aggregator",
     "consumer group of the aggregators; several share the status topic's partitions"},
    {"publish-interval-ms", DR_SETTING_INT, "250",
     "shortest time in milliseconds between two Rollups of a changing deployment; a deployment that finishes is "
     "published at once"},
    {"retention-seconds", DR_SETTING_INT, "3600",
     "a finished deployment leaves memory, /deployments and /metrics this long after it finished (0: never); "
     "GET /deployments/{id} still answers for it from its final rollup on the rollups topic"},
    {"exit-when-caught-up", DR_SETTING_BOOL, "false",
     "benchmark mode: read the status topic up to its end, print the fold rate, publish the Rollups and exit"},
};

static const char usage[] =
    "usage: drover-aggregator --brokers HOST:PORT [--http ADDR] [--group NAME] [settings]\n"
    "       drover-aggregator completion bash   (the bash completion of these settings)\n"
    "Folds status events into rollups: publishes them to the rollups topic and serves\n"
    "GET / (live page), /deployments, /deployments/{id}, /metrics, /healthz, /readyz.\n"
    "SIGTERM or SIGINT: publish the last rollups, leave the group, exit 0.\n"
    "drover-aggregator --version prints the version and the commit it was built from.";

/* Serve HTTP on address (unless empty) and log where. */
static dr_status start_http(const char *address, dr_api *api, dr_http_server **out, dr_error *err)
{
    *out = NULL;
    if (!address || !address[0])
        return DR_OK;
    dr_status status = dr_http_server_start(address, dr_api_handle, api, out, err);
    if (status == DR_OK)
        dr_http_log_listening(address, *out);
    return status;
}

int main(int argc, char **argv)
{
    int exit_code = DR_EXIT_USAGE;
    dr_error err = {0};
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    atomic_int ready = 0;
    dr_rollup_table *table = NULL;
    dr_fleet *fleet = NULL;
    dr_metrics *metrics = NULL;
    dr_ingest *ingest = NULL;
    dr_refusals *refusals = NULL;
    dr_http_server *http = NULL;
    dr_console *console = NULL;
    dr_associations *associations = NULL;
    if (dr_build_version_requested(argc, argv))
        return dr_build_print_version("drover-aggregator");
    dr_config *cfg = dr_program_main("drover-aggregator", settings, sizeof settings / sizeof settings[0], argc, argv,
                                     usage, &exit_code);
    if (!cfg)
        return exit_code;
    exit_code = DR_EXIT_FAILED;

    table = dr_rollup_table_new();
    metrics = dr_metrics_new();
    fleet = dr_fleet_new();
    if (!table || !metrics || !fleet) {
        fprintf(stderr, "drover-aggregator: out of memory\n");
        goto done;
    }
    dr_metrics_build_info(metrics, dr_build_version(), dr_build_commit());
    dr_ingest_settings ingest_settings = {
        .group = dr_config_string(cfg, "group"),
        .publish_interval_ms = (int)dr_config_int(cfg, "publish-interval-ms"),
        .retention_ms = (int64_t)dr_config_int(cfg, "retention-seconds") * 1000,
        .table = table,
        .lock = &lock,
        .metrics = metrics,
        .ready = &ready,
        .fleet = fleet,
    };
    dr_kafka_options_from_config(&ingest_settings.kafka, cfg, "drover-aggregator");
    /* What is installed where, as the fleet topic has it: the statuses folded from here on change it. */
    size_t skipped = 0;
    if (dr_fleet_load(fleet, &ingest_settings.kafka, 30000, &skipped, &err) != DR_OK) {
        fprintf(stderr, "drover-aggregator: the fleet topic: %s\n", err.detail);
        goto done;
    }
    dr_log(skipped ? DR_LOG_WARN : DR_LOG_INFO, "fleet.loaded", "entries=%zu skipped=%zu", dr_fleet_count(fleet),
           skipped);
    /* The refusals are counted only by an aggregator that serves (not one that folds and exits). */
    if (!dr_config_bool(cfg, "exit-when-caught-up") &&
        dr_refusals_start(&ingest_settings.kafka, metrics, 30000, &refusals, &err) != DR_OK) {
        fprintf(stderr, "drover-aggregator: %s\n", err.detail);
        goto done;
    }
    ingest_settings.refusals = refusals;
    dr_api api = {.lock = &lock,
                  .table = table,
                  .metrics = metrics,
                  .ready = &ready,
                  .kafka = &ingest_settings.kafka,
                  .fleet = fleet,
                  .kafka_timeout_ms = 10000};
    int until_caught_up = dr_config_bool(cfg, "exit-when-caught-up");

    dr_program_catch_stop_signals();
    /* Up to 10 s for the last rollups to be acknowledged, then 15 s to close the clients. */
    dr_program_exit_within("drover-aggregator", 25);

    /* The console's event stream (GET /events), fed from the table, the fleet and readiness. */
    if (!until_caught_up && dr_config_string(cfg, "http")[0] &&
        (dr_associations_start(&ingest_settings.kafka, 30000, &associations, &err) != DR_OK ||
         dr_console_open(&(dr_console_settings){.lock = &lock,
                                                .table = table,
                                                .fleet = fleet,
                                                .ready = &ready,
                                                .metrics = metrics,
                                                .associations = associations},
                         &console, &err) != DR_OK)) {
        fprintf(stderr, "drover-aggregator: %s\n", err.detail);
        goto done;
    }
    api.events = dr_console_hub(console);
    api.associations = associations;
    if (dr_ingest_start(&ingest_settings, &ingest, &err) != DR_OK ||
        start_http(dr_config_string(cfg, "http"), &api, &http, &err) != DR_OK) {
        fprintf(stderr, "drover-aggregator: %s\n", err.detail);
        goto done;
    }
    dr_log(DR_LOG_INFO, "aggregator.started", "brokers=%s group=%s", ingest_settings.kafka.brokers,
           ingest_settings.group);
    dr_status status = dr_ingest_run(ingest, dr_program_stop_flag(), until_caught_up, &err);
    if (status != DR_OK) {
        char quoted[DR_ERROR_DETAIL_MAX + 16];
        dr_log(DR_LOG_ERROR, "aggregator.flush_failed", "msg=%s", dr_log_quote(quoted, sizeof quoted, err.detail));
    }

    dr_ingest_stats stats;
    dr_ingest_get_stats(ingest, &stats);
    if (until_caught_up)
        printf("folded %llu status events in %.3f s: %.0f events/s\n", (unsigned long long)stats.events,
               stats.catch_up_seconds,
               stats.catch_up_seconds > 0 ? (double)stats.events / stats.catch_up_seconds : 0.0);
    dr_log(DR_LOG_INFO, "aggregator.stopped", "events=%llu malformed=%llu rollups_published=%llu",
           (unsigned long long)stats.events, (unsigned long long)stats.malformed, (unsigned long long)stats.published);
    exit_code = status == DR_OK ? DR_EXIT_OK : DR_EXIT_FAILED;
done:
    dr_http_server_stop(http);
    dr_console_free(console);
    dr_associations_free(associations);
    dr_ingest_free(ingest);
    dr_refusals_free(refusals);
    dr_metrics_free(metrics);
    dr_rollup_table_free(table);
    dr_fleet_free(fleet);
    dr_config_free(cfg);
    return exit_code;
}
