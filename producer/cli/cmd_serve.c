/*
 * drover-producer serve: the control plane daemon (serve.h).
 * drover-producer cancel ID: stop a deployment.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_info.h"
#include "commands.h"
#include "health_http.h"
#include "log.h"
#include "messages.h"
#include "names.h"
#include "serve.h"

static const dr_setting serve_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    {"group", DR_SETTING_STRING, "drover-control-plane",
     "consumer group the control-plane replicas share the deployments topic in"},
    {"replica-id", DR_SETTING_STRING, NULL, "this replica's name in what it writes (default: HOSTNAME-PID)"},
    {"exit-after-releases", DR_SETTING_INT, "0",
     "testing only: exit abruptly (status 70) once the Nth release is on record, before its jobs are written"},
    {"signing-key", DR_SETTING_STRING, NULL,
     "Ed25519 private key (PEM) every released job is signed with (drover-producer keys generate)"},
    {"allow-unsigned", DR_SETTING_BOOL, "false",
     "demo only: release jobs unsigned when no signing-key is set (workers must --allow-unsigned too)"},
    {"job-expiry-seconds", DR_SETTING_INT, "86400",
     "a job a worker receives this long after its release ends TIMED_OUT without running (a replayed job too); "
     "a deployment's own --deadline-seconds applies if sooner; 0: jobs never expire"},
    {"retention-seconds", DR_SETTING_INT, "3600",
     "a finished deployment leaves memory this long after it finished (its final rollup stays on Kafka); 0: never"},
    {"policy", DR_SETTING_STRING, NULL,
     "the policy (JSON: operators and what each may do; docs/operators.md), read again when it changes; "
     "every request is refused unless it allows it"},
    {"operator-keys", DR_SETTING_STRING, NULL,
     "the operators' public keys: comma-separated PEM files and directories (every *.pub in them)"},
    {"request-expiry-seconds", DR_SETTING_INT, "900",
     "a deployment or launch event signed longer ago than this is refused (expired) unless already started"},
    {"allow-unsigned-requests", DR_SETTING_BOOL, "false",
     "demo only: act on requests without a policy, unsigned ones included (a warning for each)"},
    {"http", DR_SETTING_STRING, "127.0.0.1:0",
     "address to serve /healthz, /readyz and /metrics on (port 0: any free port; empty: none)"},
    {"schedule-clock-offset-ms", DR_SETTING_INT, "0", "testing only: added to the clock association schedules read"},
    {"target-templates", DR_SETTING_STRING, NULL,
     "AWS launch events: the target templates (JSON; docs/coming-from-distributor.md) that complete the EC2 and "
     "Auto Scaling events read from aws-events-topic; without it that topic is not read"},
    {"aws-events-topic", DR_SETTING_STRING, NULL,
     "the topic EventBridge delivers AWS events to (default: topic-prefix + \"aws-events\")"},
    {"aws-event-max-age-seconds", DR_SETTING_INT, "3600",
     "an AWS event older than this (its \"time\") is refused, not acted on; 0: any age"},
};

static const char serve_usage[] =
    "usage: drover-producer serve --brokers HOST:PORT --signing-key FILE --policy FILE --operator-keys DIR\n"
    "                             [--group NAME] [--replica-id ID]\n"
    "\n"
    "The control plane: takes the deployments that `deploy` writes and releases their jobs to the\n"
    "workers under their rate controls (--max-concurrency jobs released and unfinished at once; no more\n"
    "released once errors pass --max-errors, the rest ending CANCELLED), and stops cancelled ones.\n"
    "Run several replicas for availability: they share the deployments as one consumer group, and one\n"
    "that takes over a half-done rollout (after a crash too) continues it without releasing a job twice.\n"
    "It acts only on requests signed by an operator whose policy allows them (docs/operators.md); every\n"
    "decision goes to the audit topic (drover-producer audit).\n"
    "SIGTERM or SIGINT: finish the current step, hand the deployments over, exit 0.";

int cmd_serve(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_config *cfg =
        dr_program_start("drover-producer", serve_settings, sizeof serve_settings / sizeof serve_settings[0], argc,
                         argv, serve_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char replica[300];
    dr_serve_settings settings = {0};
    dr_metrics *metrics = NULL;
    dr_health_http *http = NULL;
    dr_key *signing_key = NULL;
    dr_authority *authority = NULL;
    dr_target_templates *templates = NULL;
    if (dr_producer_kafka_options(cfg, &settings.kafka, &settings.timeout_ms, &err) != DR_OK)
        goto fail;
    long long expiry_seconds = dr_config_int(cfg, "job-expiry-seconds");
    if (expiry_seconds < 0 || expiry_seconds > 366LL * 24 * 3600) {
        dr_error_set(&err, DR_ERR_USAGE, "job-expiry-seconds: %lld is not between 0 and 31622400", expiry_seconds);
        goto fail;
    }
    settings.job_expiry_ms = expiry_seconds * 1000;
    long long retention_seconds = dr_config_int(cfg, "retention-seconds");
    if (retention_seconds < 0 || retention_seconds > 366LL * 24 * 3600) {
        dr_error_set(&err, DR_ERR_USAGE, "retention-seconds: %lld is not between 0 and 31622400", retention_seconds);
        goto fail;
    }
    settings.retention_ms = retention_seconds * 1000;
    const char *key_path = dr_config_string(cfg, "signing-key");
    if (key_path && key_path[0]) {
        if (dr_key_load_private(key_path, &signing_key, &err) != DR_OK)
            goto fail;
        dr_log(DR_LOG_INFO, "serve.signing", "key_id=%s", dr_key_id(signing_key));
    } else if (dr_config_bool(cfg, "allow-unsigned")) {
        dr_log(DR_LOG_WARN, "serve.unsigned",
               "msg=\"jobs are released unsigned: only workers run with "
               "--allow-unsigned will run them; never do this outside a demo\"");
    } else {
        dr_error_set(&err, DR_ERR_USAGE,
                     "serve signs every job it releases: give --signing-key FILE "
                     "(drover-producer keys generate makes one), or --allow-unsigned for a demo");
        goto fail;
    }
    settings.signing_key = signing_key;
    long long request_expiry = dr_config_int(cfg, "request-expiry-seconds");
    if (request_expiry < 1 || request_expiry > 366LL * 24 * 3600) {
        dr_error_set(&err, DR_ERR_USAGE, "request-expiry-seconds: %lld is not between 1 and 31622400", request_expiry);
        goto fail;
    }
    const char *policy = dr_config_string(cfg, "policy");
    if (policy && policy[0] && !signing_key) {
        dr_error_set(&err, DR_ERR_USAGE,
                     "--policy needs --signing-key: what serve writes itself (association runs) is signed with it");
        goto fail;
    }
    dr_authority_settings authority_settings = {
        .policy_path = policy,
        .operator_keys = dr_config_string(cfg, "operator-keys"),
        .control_plane_key = key_path,
        .allow_unsigned = dr_config_bool(cfg, "allow-unsigned-requests"),
        .request_expiry_ms = request_expiry * 1000,
        .seen_capacity = 65536,
    };
    if (dr_authority_new(&authority_settings, &authority, &err) != DR_OK)
        goto fail;
    if (authority_settings.allow_unsigned)
        dr_log(DR_LOG_WARN, "serve.unsigned_requests",
               "msg=\"unsigned requests are acted on (--allow-unsigned-requests): anyone who can write the "
               "control topics can deploy; never do this outside a demo\"");
    settings.authority = authority;
    const char *templates_path = dr_config_string(cfg, "target-templates");
    long long max_age = dr_config_int(cfg, "aws-event-max-age-seconds");
    if (max_age < 0 || max_age > 366LL * 24 * 3600) {
        dr_error_set(&err, DR_ERR_USAGE, "aws-event-max-age-seconds: %lld is not between 0 and 31622400", max_age);
        goto fail;
    }
    settings.aws_event_max_age_ms = max_age * 1000;
    settings.kafka.aws_events_topic = dr_config_string(cfg, "aws-events-topic");
    if (settings.kafka.aws_events_topic && settings.kafka.aws_events_topic[0] &&
        dr_check_id("aws-events-topic", settings.kafka.aws_events_topic, &err) != DR_OK)
        goto fail;
    if (templates_path && templates_path[0] && dr_target_templates_load(templates_path, &templates, &err) != DR_OK)
        goto fail;
    settings.target_templates = templates;
    settings.group = dr_config_string(cfg, "group");
    settings.replica_id = dr_config_string(cfg, "replica-id");
    settings.exit_after_releases = (long)dr_config_int(cfg, "exit-after-releases");
    settings.schedule_clock_offset_ms = (int64_t)dr_config_int(cfg, "schedule-clock-offset-ms");
    if (!settings.replica_id || !settings.replica_id[0]) {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(replica, sizeof replica, "%s-%ld", host, (long)getpid());
        settings.replica_id = replica;
    }
    dr_program_catch_stop_signals();
    /* A step under way may wait up to the Kafka timeout (a flush); closing the clients gets 25 s more. */
    dr_program_exit_within("drover-producer", (unsigned)(settings.timeout_ms / 1000) + 25);
    atomic_int ready = 0;
    settings.ready = &ready;
    if (!(metrics = dr_metrics_new())) {
        dr_error_set(&err, DR_ERR_NOMEM, "out of memory for metrics");
        goto fail;
    }
    dr_metrics_build_info(metrics, dr_build_version(), dr_build_commit());
    settings.metrics = metrics;
    const char *address = dr_config_string(cfg, "http");
    if (address && address[0] && dr_health_http_start(address, metrics, &ready, &http, &err) != DR_OK)
        goto fail;
    if (dr_serve_run(&settings, dr_program_stop_flag(), &err) != DR_OK)
        goto fail;
    goto cleanup;
fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_health_http_stop(http);
    dr_metrics_free(metrics);
    dr_key_free(signing_key);
    dr_authority_free(authority);
    dr_target_templates_free(templates);
    dr_config_free(cfg);
    return exit_code;
}

/* ---- cancel ---- */

static const dr_setting cancel_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_REQUEST_SETTINGS,
    {"reason", DR_SETTING_STRING, "", "why, for the record"},
};

static const char cancel_usage[] =
    "usage: drover-producer cancel ID [--reason TEXT]\n"
    "\n"
    "Cancels deployment ID: the control plane releases no more of its jobs and ends the unreleased ones\n"
    "CANCELLED; workers skip its jobs they have not started (CANCELLED); jobs already running finish.\n"
    "Exit status: 0 once the cancel is written; 2 when no deployment has that id.";

int cmd_cancel(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_config *cfg =
        dr_program_start_args("drover-producer", cancel_settings, sizeof cancel_settings / sizeof cancel_settings[0], 1,
                              argc, argv, cancel_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    if (dr_config_positional(cfg, &positional) != 1) {
        dr_error_set(&err, DR_ERR_USAGE, "cancel needs the deployment's ID (see --help)");
        goto fail;
    }
    if (dr_producer_cancel(cfg, positional[0], dr_config_string(cfg, "reason"), &err) != DR_OK)
        goto fail;
    goto cleanup;
fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_config_free(cfg);
    return exit_code;
}
