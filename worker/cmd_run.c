/*
 * drover-worker run: a consumer-group member that runs jobs from Kafka on
 * local targets (TARGETS_ROOT/<target id>), reports their status, and serves
 * /healthz and /metrics.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "build_info.h"
#include "commands.h"
#include "engine_config.h"
#include "config.h"
#include "health_http.h"
#include "job_message.h"
#include "kafka.h"
#include "job_signing.h"
#include "kafka_worker.h"
#include "log.h"
#include "metrics.h"
#include "names.h"

static const dr_setting run_settings[] = {
    DR_COMMON_SETTINGS,
    DR_KAFKA_SETTINGS,
    {"group", DR_SETTING_STRING, NULL,
     "consumer group the workers share (default: drover-workers; agent mode: drover-agent-<self>)"},
    {"targets-root", DR_SETTING_STRING, "/var/lib/drover/targets",
     "local executor: the folder holding one root directory per target id"},
    {"concurrency", DR_SETTING_INT, "0", "jobs run at once (0: the number of cores); never two of one target"},
    {"worker-id", DR_SETTING_STRING, NULL, "this worker's name in statuses and logs (default: host-pid)"},
    {"http", DR_SETTING_STRING, "127.0.0.1:0",
     "address to serve /healthz and /metrics on (port 0: any free port; empty: none)"},
    {"self", DR_SETTING_STRING, NULL,
     "agent mode: this worker is the target with this id; it runs only that target's jobs (executor agent), at self-root"},
    {"self-root", DR_SETTING_STRING, "/", "agent mode: the target's root directory"},
    {"shutdown-timeout", DR_SETTING_INT, "60",
     "seconds SIGTERM waits for jobs in flight before leaving them to be redelivered"},
    {"cancel-retention-seconds", DR_SETTING_INT, "86400",
     "how long a Cancel is remembered after it was written; at least serve's job-expiry-seconds "
     "(0: until 65,536 newer Cancels push it out)"},
    DR_ENGINE_SETTINGS,
    {"trusted-keys", DR_SETTING_STRING, NULL,
     "Ed25519 public keys (PEM) jobs must be signed by: comma-separated files and directories (their *.pub)"},
    {"allow-unsigned", DR_SETTING_BOOL, "false",
     "demo only: also run jobs that carry no signature, with a warning for each (a bad signature is still refused)"},
};

static const char run_usage[] =
    "usage: drover-worker run --brokers HOST:PORT [--targets-root DIR] [--concurrency N] [--http ADDR]\n"
    "       drover-worker run --brokers HOST:PORT --self TARGET_ID [--self-root DIR]\n"
    "Consumes jobs and runs each where its target's executor says: TARGETS_ROOT/<target id> (local),\n"
    "the target's address over ssh (ssh; needs --ssh-key and --ssh-known-hosts), and reports status.\n"
    "With --self, runs on the target itself (agent mode): only jobs addressed to TARGET_ID, at --self-root.\n"
    "SIGTERM stops it gracefully.";

/*
 * After the graceful stop (up to --shutdown-timeout for running jobs, then
 * up to 10 s to flush their statuses), closing the Kafka clients must not
 * keep the process: past this many seconds more, it exits at once.
 */
#define CLOSE_SECONDS 15

static void describe_metrics(dr_metrics *m)
{
    static const double duration_buckets[] = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
    dr_metrics_describe(m, "drover_worker_jobs_total", DR_METRIC_COUNTER,
                        "jobs finished by this worker, by state and reason (an error token; none when it succeeded)",
                        NULL, 0);
    dr_metrics_describe(m, "drover_worker_job_duration_seconds", DR_METRIC_HISTOGRAM,
                        "time from taking a job to its terminal status", duration_buckets,
                        sizeof duration_buckets / sizeof duration_buckets[0]);
    static const double slot_buckets[] = {0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015,
                                          0.02,   0.03,  0.05,   0.075, 0.1,   0.15,  0.2,   0.3,    0.5,  1,
                                          2.5,    5,     10,     30,    60,    300,   900,   3600};
    dr_metrics_describe(m, "drover_worker_job_slot_seconds", DR_METRIC_HISTOGRAM,
                        "time from a job's arrival at this worker to Kafka acknowledging its terminal status",
                        slot_buckets, sizeof slot_buckets / sizeof slot_buckets[0]);
    dr_metrics_describe(m, "drover_worker_jobs_queued", DR_METRIC_GAUGE, "jobs taken and waiting for a thread", NULL,
                        0);
    dr_metrics_describe(m, "drover_worker_jobs_running", DR_METRIC_GAUGE, "jobs running now", NULL, 0);
}

int cmd_run(int argc, char **argv)
{
    int exit_code = DR_EXIT_USAGE;
    dr_error err = {0};
    dr_metrics *metrics = NULL;
    dr_health_http *http = NULL;
    dr_trust_store *trust = NULL;
    dr_kafka_worker *worker = NULL;
    dr_fetch_policy fetch_policy = {0};
    dr_config *cfg = dr_program_start("drover-worker run", run_settings, sizeof run_settings / sizeof run_settings[0],
                                      argc, argv, run_usage, &exit_code);
    if (!cfg)
        return exit_code;
    exit_code = DR_EXIT_FAILED;

    char worker_id[256];
    if (dr_config_string(cfg, "worker-id")) {
        snprintf(worker_id, sizeof worker_id, "%s", dr_config_string(cfg, "worker-id"));
    } else {
        char host[128] = "worker";
        gethostname(host, sizeof host - 1);
        snprintf(worker_id, sizeof worker_id, "%s-%ld", host, (long)getpid());
    }
    dr_kafka_worker_settings settings = {0};
    dr_kafka_options_from_config(&settings.kafka, cfg, "drover-worker");
    settings.self_id = dr_config_string(cfg, "self");
    settings.self_root = dr_config_string(cfg, "self-root");
    char group[256];
    if (dr_config_string(cfg, "group"))
        snprintf(group, sizeof group, "%s", dr_config_string(cfg, "group"));
    else
        snprintf(group, sizeof group, "%s%s", settings.self_id ? "drover-agent-" : "drover-workers",
                 settings.self_id ? settings.self_id : "");
    settings.group = group;
    if (settings.self_id && dr_check_id("--self", settings.self_id, &err) != DR_OK) {
        fprintf(stderr, "drover-worker run: %s\n", err.detail);
        goto done;
    }
    settings.targets_root = dr_config_string(cfg, "targets-root");
    settings.concurrency = (int)dr_config_int(cfg, "concurrency");
    if (settings.concurrency <= 0)
        settings.concurrency = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? (int)sysconf(_SC_NPROCESSORS_ONLN) : 1;
    settings.shutdown_timeout_seconds = (long)dr_config_int(cfg, "shutdown-timeout");
    settings.cancel_retention_seconds = (long)dr_config_int(cfg, "cancel-retention-seconds");
    if (settings.cancel_retention_seconds < 0) {
        fprintf(stderr, "drover-worker run: cancel-retention-seconds: %ld is negative\n",
                settings.cancel_retention_seconds);
        exit_code = DR_EXIT_USAGE;
        goto done;
    }
    settings.worker_id = worker_id;
    dr_script_identity script_user;
    if (dr_engine_settings_from_config(cfg, &settings.engine, &script_user, &fetch_policy, &err) != DR_OK) {
        fprintf(stderr, "drover-worker run: %s\n", err.detail);
        exit_code = DR_EXIT_USAGE;
        goto done;
    }
    settings.engine.worker_id = worker_id;
    char schemes[300], hosts[600];
    dr_log(fetch_policy.allow_private ? DR_LOG_WARN : DR_LOG_INFO, "worker.fetch_policy",
           "schemes=%s hosts=%s allow_private=%s", dr_log_quote(schemes, sizeof schemes, fetch_policy.schemes_text),
           dr_log_quote(hosts, sizeof hosts, fetch_policy.hosts_text), fetch_policy.allow_private ? "true" : "false");
    dr_ssh_settings ssh;
    char ssh_work_dir[4200];
    int ssh_enabled = 0;
    if (dr_ssh_settings_from_config(cfg, &settings.engine, &ssh, ssh_work_dir, sizeof ssh_work_dir, &ssh_enabled,
                                    &err) != DR_OK) {
        fprintf(stderr, "drover-worker run: %s\n", err.detail);
        exit_code = DR_EXIT_USAGE;
        goto done;
    }
    settings.ssh = ssh_enabled ? &ssh : NULL;

    metrics = dr_metrics_new();
    if (!metrics || dr_fetch_global_init() != DR_OK) {
        fprintf(stderr, "drover-worker run: cannot initialize\n");
        goto done;
    }
    describe_metrics(metrics);
    dr_metrics_build_info(metrics, dr_build_version(), dr_build_commit());
    settings.metrics = metrics;
    json_object_seed(0); /* before threads */

    settings.allow_unsigned = dr_config_bool(cfg, "allow-unsigned");
    if (dr_trust_store_load(dr_config_string(cfg, "trusted-keys"), &trust, &err) != DR_OK) {
        fprintf(stderr, "drover-worker run: %s\n", err.detail);
        goto done;
    }
    if (dr_trust_store_count(trust) == 0 && !settings.allow_unsigned) {
        fprintf(stderr,
                "drover-worker run: no trusted keys: every job would be refused; give --trusted-keys "
                "(the control plane's public keys), or --allow-unsigned for a demo\n");
        exit_code = DR_EXIT_USAGE;
        goto done;
    }
    char trusted[512];
    dr_trust_store_describe(trust, trusted, sizeof trusted);
    dr_log(settings.allow_unsigned ? DR_LOG_WARN : DR_LOG_INFO, "worker.trust", "trusted_keys=%s allow_unsigned=%s",
           trusted, settings.allow_unsigned ? "true" : "false");
    settings.trust = trust;

    dr_program_catch_stop_signals();
    dr_program_exit_within("drover-worker", (unsigned)settings.shutdown_timeout_seconds + 10 + CLOSE_SECONDS);

    const char *address = dr_config_string(cfg, "http");
    if (address && address[0] && dr_health_http_start(address, metrics, NULL, &http, &err) != DR_OK) {
        fprintf(stderr, "drover-worker run: %s\n", err.detail);
        goto done;
    }
    if (dr_kafka_worker_start(&settings, &worker, &err) != DR_OK) {
        fprintf(stderr, "drover-worker run: %s\n", err.detail);
        goto done;
    }
    if (dr_kafka_worker_run(worker, dr_program_stop_flag(), &err) == DR_OK)
        exit_code = DR_EXIT_OK;
    dr_log(DR_LOG_INFO, "worker.stopped", "worker=%s", worker_id);
done:
    dr_kafka_worker_free(worker);
    dr_health_http_stop(http);
    dr_metrics_free(metrics);
    dr_trust_store_free(trust);
    dr_fetch_policy_free(&fetch_policy);
    dr_config_free(cfg);
    return exit_code;
}
