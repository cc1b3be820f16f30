/*
 * drover-producer deploy: resolve a package version and a target selection,
 * publish the deployment (deploy.h), and follow its rollups until it ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "deploy.h"
#include "deploy_flags.h"
#include "messages.h"
#include "names.h"
#include "output.h"
#include "packages.h"
#include "progress.h"
#include "rollup_text.h"
#include "rollup_watch.h"
#include "selection.h"
#include "strbuf.h"
#include "table.h"
#include "targets.h"

static const dr_setting deploy_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_REQUEST_SETTINGS,
    {"package", DR_SETTING_STRING, NULL, "package to deploy (required)"},
    {"version", DR_SETTING_STRING, NULL, "version to deploy (default: the package's default version)"},
    DR_DEPLOY_WHAT_SETTINGS,
    DR_DEPLOY_WHERE_SETTINGS,
    DR_DEPLOY_RATE_SETTINGS,
    {"deadline-seconds", DR_SETTING_INT, "0",
     "a job a worker receives later than this many seconds from now ends TIMED_OUT without running; 0: none"},
    {"script-timeout", DR_SETTING_INT, "0", "seconds each lifecycle script may run; 0: the worker's default"},
    {"deployment-id", DR_SETTING_STRING, NULL,
     "the deployment's id (default: d-YYYYMMDDhhmmss-RANDOM); give an earlier id to finish publishing it"},
    {"wait", DR_SETTING_BOOL, "true", "follow the deployment until it ends; --no-wait returns once it is published"},
    {"wait-timeout", DR_SETTING_INT, "3600", "seconds to follow the deployment before giving up (exit 5)"},
    {"quiet", DR_SETTING_BOOL, "false",
     "no progress while following: only the published line and the final report (-o json: the object)"},
    DR_PRODUCER_OUTPUT_SETTING,
    {"cancel", DR_SETTING_STRING, NULL, "cancel deployment ID instead (as `drover-producer cancel ID`)"},
};

static const char deploy_usage[] =
    "usage: drover-producer deploy --package NAME [--version V] [--action install|uninstall]\n"
    "                              [--installation-type reinstall|in-place] [--arg KEY=VALUE ...]\n"
    "                              (--targets ID,... | --tag KEY=VALUE ... | --accounts A,... | --regions R,...\n"
    "                               | --all)\n"
    "                              [--no-wait] [--wait-timeout SECONDS] [--deployment-id ID] [--quiet] [-o json]\n"
    "\n"
    "Deploys a published package version to the targets of the inventory that the selection picks: a\n"
    "target is picked when it meets every criterion given (values of one tag key OR'ed, keys AND'ed).\n"
    "An unknown target id, or a selection that picks nothing, is an error and nothing is published.\n"
    "Writes a PENDING status per job and the Deployment, and prints \"deployment ID published: N jobs ...\";\n"
    "the control plane (drover-producer serve) releases the jobs under the rate controls.\n"
    "Then it follows the aggregator's rollups: on a terminal, a line redrawn on stderr with the bar,\n"
    "the percentage, the counts, the time elapsed and an ETA (at the rate so far), fitted to its width;\n"
    "otherwise a line per change on stdout; with --quiet, neither.  At the end, the counts and the\n"
    "failed targets.  -o json prints one object instead of the text: the deployment published and, when\n"
    "followed, its last rollup (docs/producer.md, \"JSON output\").\n"
    "\n"
    "Exit status: 0 when every job succeeded (or, with --no-wait, once published); 1 when the deployment\n"
    "ended otherwise or was not completely published (re-run with --deployment-id ID to finish it);\n"
    "2 for a bad request; 3 when the control plane refused it (the rule is named); 5 when --wait-timeout\n"
    "passed first (the deployment goes on).";

/* How deploy shows its progress while it follows. */
typedef enum progress_view {
    PROGRESS_NONE,  /* --quiet, or -o json with no terminal */
    PROGRESS_LIVE,  /* one line redrawn in place on stderr, a terminal */
    PROGRESS_LINES, /* a line on stdout per change (a log, a pipe) */
} progress_view;

/* Redraw the live line on stderr: back to the line's start, the line fitted to the width, clear the rest. */
static void draw_live(const Drover__V1__Rollup *rollup, size_t job_count, int64_t elapsed_ms, dr_strbuf *line)
{
    size_t width = dr_terminal_width(STDERR_FILENO);
    dr_strbuf_reset(line);
    /* One column short of the width: a line that fills the last column wraps on some terminals. */
    dr_rollup_format_progress(rollup, job_count, elapsed_ms, width > 1 ? width - 1 : 1, line);
    fprintf(stderr, "\r%s\033[K", dr_strbuf_str(line));
    fflush(stderr);
}

/*
 * Follow the rollups of the deployment until it ends or the wait times out;
 * returns the exit code, and in *last the last rollup (or NULL; the
 * caller frees it).
 */
static int follow(dr_rollup_watch *watch, const char *deployment_id, size_t job_count, long long wait_seconds,
                  progress_view view, int json, Drover__V1__Rollup **last)
{
    int exit_code = DR_EXIT_STOPPED_WAITING;
    Drover__V1__Rollup *latest = NULL;
    Drover__V1__Rollup none = DROVER__V1__ROLLUP__INIT;
    dr_strbuf line = DR_STRBUF_INIT, counts = DR_STRBUF_INIT, previous = DR_STRBUF_INIT;
    dr_error err = {0};
    int64_t start = dr_monotonic_ms();
    /* An empty line at once: the first rollup may take a while, and silence looks like a hang. */
    if (view == PROGRESS_LIVE)
        draw_live(&none, job_count, 0, &line);
    while (dr_monotonic_ms() - start < (int64_t)wait_seconds * 1000) {
        Drover__V1__Rollup *rollup = NULL;
        dr_rollup_watch_next(watch, deployment_id, 1000, &rollup, &err);
        if (rollup) {
            if (latest)
                drover__v1__rollup__free_unpacked(latest, NULL);
            latest = rollup;
        }
        int64_t elapsed = dr_monotonic_ms() - start;
        if (view == PROGRESS_LIVE) {
            /* Every second, a new rollup or not: the elapsed time and the ETA move on. */
            draw_live(latest ? latest : &none, job_count, elapsed, &line);
        } else if (view == PROGRESS_LINES && rollup) {
            /* A line when the counts change, not each time a rollup says the same. */
            dr_strbuf_reset(&counts);
            dr_rollup_format_counts(latest, &counts);
            dr_strbuf_printf(&counts, " %llu", (unsigned long long)latest->total_jobs);
            if (strcmp(dr_strbuf_str(&counts), dr_strbuf_str(&previous)) != 0) {
                dr_strbuf_reset(&line);
                dr_rollup_format_progress(latest, job_count, elapsed, 0, &line);
                printf("%s\n", dr_strbuf_str(&line));
                fflush(stdout);
                dr_strbuf_reset(&previous);
                dr_strbuf_puts(&previous, dr_strbuf_str(&counts));
            }
        }
        if (latest && dr_rollup_is_finished(latest)) {
            exit_code = latest->status == DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_SUCCESS    ? DR_EXIT_OK
                        : latest->status == DROVER__V1__DEPLOYMENT_STATUS__DEPLOYMENT_STATUS_REJECTED ? DR_EXIT_REJECTED
                                                                                                      : DR_EXIT_FAILED;
            break;
        }
    }
    if (view == PROGRESS_LIVE)
        fprintf(stderr, "\n");
    if (latest && !json)
        dr_rollup_print_report(latest, 0, stdout);
    if (exit_code == DR_EXIT_REJECTED)
        fprintf(stderr,
                "drover-producer: the control plane refused deployment %s (see %s, and drover-producer "
                "audit --deployment %s)\n",
                deployment_id, json ? "the rollup's failed_targets" : "above", deployment_id);
    if (exit_code == DR_EXIT_STOPPED_WAITING)
        fprintf(json ? stderr : stdout,
                "stopped waiting after %lld s%s; the deployment goes on (drover-producer deployment show %s)\n",
                wait_seconds, latest ? "" : " without a rollup (is an aggregator running?)", deployment_id);
    *last = latest;
    dr_strbuf_free(&line);
    dr_strbuf_free(&counts);
    dr_strbuf_free(&previous);
    return exit_code;
}

/* The deployment published (and, when followed, its last rollup) as -o json gives it. */
static json_t *published_json(const dr_deployment *deployment, const char *package, const char *version,
                              size_t target_count, const Drover__V1__Rollup *rollup)
{
    const Drover__V1__Deployment *d = &deployment->message;
    return json_pack("{s:o, s:o, s:o, s:s, s:s, s:o, s:I, s:o}", "deployment_id", dr_json_text(d->deployment_id),
                     "package", dr_json_text(package), "version", dr_json_text(version), "action",
                     dr_action_name(d->action), "installation_type", dr_installation_type_name(d->installation_type),
                     "selection", dr_json_selection(d->selection), "jobs", (json_int_t)target_count, "rollup",
                     dr_json_rollup(rollup));
}

int cmd_deploy(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_selection selection = {0};
    dr_deployment deployment = {0};
    dr_table packages = {0};
    dr_inventory inventory = {0};
    Drover__V1__PackageVersions *package = NULL;
    const Drover__V1__Target **targets = NULL;
    size_t target_count = 0;
    dr_rollup_watch *watch = NULL;
    dr_kafka_producer *producer = NULL;
    dr_key *operator_key = NULL;
    dr_config *cfg =
        dr_program_start("drover-producer", deploy_settings, sizeof deploy_settings / sizeof deploy_settings[0], argc,
                         argv, deploy_usage, &exit_code);
    if (!cfg)
        return exit_code;
    const char *cancel_id = dr_config_string(cfg, "cancel");
    if (cancel_id && cancel_id[0]) {
        if (dr_producer_cancel(cfg, cancel_id, "", &err) != DR_OK)
            goto fail;
        goto cleanup;
    }

    /* Everything the command line alone can refuse is refused before Kafka is asked anything. */
    const char *package_name = dr_config_string(cfg, "package");
    const char *version = dr_config_string(cfg, "version");
    const char *deployment_id = dr_config_string(cfg, "deployment-id");
    char generated_id[64];
    long long wait_seconds = dr_config_int(cfg, "wait-timeout");
    dr_deploy_request request = {0};
    dr_kafka_options kafka;
    int timeout_ms;
    dr_output_format format;
    if (!package_name) {
        dr_error_set(&err, DR_ERR_USAGE, "deploy needs --package and a selection (see --help)");
        goto fail;
    }
    if (dr_output_read(cfg, 0, &format, &err) != DR_OK)
        goto fail;
    int json = format == DR_OUTPUT_JSON;
    if (dr_check_package_token("--package", package_name, &err) != DR_OK ||
        (version && dr_check_package_token("--version", version, &err) != DR_OK))
        goto fail;
    if (deployment_id && dr_check_id("--deployment-id", deployment_id, &err) != DR_OK)
        goto fail;
    if (!deployment_id) {
        dr_deployment_id_generate(generated_id, sizeof generated_id);
        deployment_id = generated_id;
    }
    if (wait_seconds < 1) {
        dr_error_set(&err, DR_ERR_USAGE, "--wait-timeout: %lld is not a positive number of seconds", wait_seconds);
        goto fail;
    }
    if (dr_deploy_flags_read(cfg, &request, &selection, &err) != DR_OK)
        goto fail;
    request.deployment_id = deployment_id;
    request.package = package_name;
    request.deadline_seconds = dr_config_int(cfg, "deadline-seconds");
    request.script_timeout_seconds = dr_config_int(cfg, "script-timeout");
    request.created_by = getenv("USER");
    if (dr_deploy_request_check(&request, &err) != DR_OK ||
        dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK ||
        dr_producer_operator_key(cfg, &operator_key, &err) != DR_OK)
        goto fail;

    /* What to deploy, and where. */
    const Drover__V1__PackageVersion *package_version = NULL;
    if (dr_table_read(&kafka, DR_TOPIC_PACKAGES, timeout_ms, &packages, &err) != DR_OK ||
        dr_package_resolve(&packages, package_name, version, &package, &package_version, &err) != DR_OK)
        goto fail;
    if (dr_inventory_read(&kafka, timeout_ms, &inventory, &err) != DR_OK ||
        dr_selection_resolve(&selection.message, &inventory, &targets, &target_count, &err) != DR_OK)
        goto fail;
    request.version = package_version->version;
    if (dr_deployment_build(&deployment, &request, &err) != DR_OK)
        goto fail;
    deployment.message.job_count = (uint32_t)target_count;

    /* The watch starts at the rollups' end before anything is published, so no rollup is missed. */
    if (dr_config_bool(cfg, "wait") && dr_rollup_watch_open(&kafka, timeout_ms, &watch, &err) != DR_OK)
        goto fail;
    dr_deploy_plan plan = {
        .options = &kafka,
        .deployment = &deployment.message,
        .version = package_version,
        .targets = targets,
        .target_count = target_count,
        .operator_key = operator_key,
    };
    dr_deploy_progress progress;
    if (dr_kafka_producer_new(&kafka, &producer, &err) != DR_OK)
        goto fail;
    static const dr_topic written[] = {DR_TOPIC_STATUS, DR_TOPIC_DEPLOYMENTS};
    dr_kafka_producer_prepare(producer, written, sizeof written / sizeof written[0], timeout_ms);
    if (dr_deploy_publish(producer, &plan, timeout_ms, &progress, &err) != DR_OK) {
        fprintf(stderr, "drover-producer: %s\n", err.detail);
        fprintf(stderr,
                "deployment %s not completely published: %zu of %zu messages acknowledged; re-run with "
                "--deployment-id %s to finish\n",
                deployment_id, progress.acknowledged, target_count + 1, deployment_id);
        exit_code = DR_EXIT_FAILED;
        goto cleanup;
    }
    char described[512];
    dr_selection_describe(&selection.message, described, sizeof described);
    if (!json) {
        printf("deployment %s published: %zu job%s for %s %s (%s, %s) on %s\n", deployment_id, target_count,
               target_count == 1 ? "" : "s", package_name, package_version->version, dr_action_name(request.action),
               dr_installation_type_name(request.installation_type), described);
        fflush(stdout);
    }
    Drover__V1__Rollup *last = NULL;
    if (watch) {
        progress_view view = dr_config_bool(cfg, "quiet") ? PROGRESS_NONE
                             : isatty(STDERR_FILENO)      ? PROGRESS_LIVE
                             : json                       ? PROGRESS_NONE
                                                          : PROGRESS_LINES;
        exit_code = follow(watch, deployment_id, target_count, wait_seconds, view, json, &last);
    }
    if (json)
        dr_output_json_line(published_json(&deployment, package_name, package_version->version, target_count, last));
    if (last)
        drover__v1__rollup__free_unpacked(last, NULL);
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    if (producer)
        dr_kafka_producer_free(producer);
    dr_key_free(operator_key);
    dr_rollup_watch_close(watch);
    free(targets);
    dr_inventory_free(&inventory);
    if (package)
        drover__v1__package_versions__free_unpacked(package, NULL);
    dr_table_free(&packages);
    dr_deployment_free(&deployment);
    dr_selection_free(&selection);
    dr_config_free(cfg);
    return exit_code;
}
