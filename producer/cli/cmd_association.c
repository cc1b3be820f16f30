/*
 * drover-producer association create|list|show|delete: standing
 * deployments in the compacted associations topic (key association id).
 * The control plane (serve, associations.h) runs them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "commands.h"
#include "deploy.h"
#include "deploy_flags.h"
#include "messages.h"
#include "names.h"
#include "output.h"
#include "packages.h"
#include "request_signing.h"
#include "rollup_text.h"
#include "schedule.h"
#include "selection.h"
#include "table.h"

static const dr_setting create_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_REQUEST_SETTINGS,
    {"association-id", DR_SETTING_STRING, NULL, "the association's id (default: its --name)"},
    {"name", DR_SETTING_STRING, NULL, "a name for people (required)"},
    {"package", DR_SETTING_STRING, NULL, "package to keep deployed (required)"},
    {"version", DR_SETTING_STRING, "default",
     "a published version, or \"default\": whatever the package's default version is at each run"},
    DR_DEPLOY_WHAT_SETTINGS,
    DR_DEPLOY_WHERE_SETTINGS,
    DR_DEPLOY_RATE_SETTINGS,
    {"schedule", DR_SETTING_STRING, NULL,
     "run on a schedule (UTC): cron(M H DOM MON DOW YEAR) as State Manager writes it (with ?, L, W, #, names), "
     "cron(M H DOM MON DOW) as Unix cron does, rate(N minutes|hours|days), or once: at(yyyy-mm-ddThh:mm:ss)"},
    {"run-on-create", DR_SETTING_BOOL, "true", "run once now (--no-run-on-create waits for the schedule)"},
    {"run-on-default-change", DR_SETTING_BOOL, "false",
     "with --version default: run when the package's default version changes"},
    {"run-on-launch", DR_SETTING_BOOL, "false", "run for each target that launches and matches the selection"},
};

static const char create_usage[] =
    "usage: drover-producer association create --name NAME --package P [--version V|default]\n"
    "         (--targets ID,... | --tag KEY=VALUE ... | --accounts A,... | --regions R,... | --all)\n"
    "         [--schedule cron(...)|rate(...)|at(...)] [--no-run-on-create] [--run-on-default-change] [--run-on-launch]\n"
    "         [--action ...] [--installation-type ...] [--arg KEY=VALUE ...] [--max-concurrency N|N%]\n"
    "         [--max-errors N|N%] [--association-id ID]\n"
    "\n"
    "A standing deployment (as a State Manager association). The control plane (drover-producer serve)\n"
    "runs it: once on creation (unless --no-run-on-create), on its schedule, when the package's default\n"
    "version changes (--run-on-default-change, for --version default), and for each matching target\n"
    "that launches (--run-on-launch). Each run is a deployment of its own, linked to the association.\n"
    "Creating an association with an existing id replaces it.";

static const dr_setting list_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_OUTPUT_SETTING_WIDE,
};

static const dr_setting show_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_OUTPUT_SETTING,
};

static const char list_usage[] =
    "usage: drover-producer association list [-o wide|json]\n"
    "\n"
    "Prints a line per association: id, package, version, what runs it, its last run and last\n"
    "deployment; -o wide adds its name, action and selection.  -o json: an object per association\n"
    "(docs/producer.md, \"JSON output\").";

static const char show_usage[] =
    "usage: drover-producer association show ID [-o json]\n"
    "\n"
    "Prints one association: what it deploys where, what runs it, its rate controls, its last run and\n"
    "the next three runs its schedule has.  -o json: one object (docs/producer.md, \"JSON output\").";

static const dr_setting delete_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_REQUEST_SETTINGS,
};

static int association_create(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_selection selection = {0};
    dr_deployment deployment = {0};
    dr_table packages = {0};
    Drover__V1__PackageVersions *package = NULL;
    uint8_t *bytes = NULL;
    dr_key *operator_key = NULL;
    dr_config *cfg =
        dr_program_start("drover-producer", create_settings, sizeof create_settings / sizeof create_settings[0], argc,
                         argv, create_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    const char *name = dr_config_string(cfg, "name");
    const char *package_name = dr_config_string(cfg, "package");
    const char *version = dr_config_string(cfg, "version");
    const char *id = dr_config_string(cfg, "association-id");
    const char *schedule_text = dr_config_string(cfg, "schedule");
    int follows_default = strcmp(version, "default") == 0;
    dr_deploy_request request = {0};
    dr_schedule schedule;
    dr_kafka_options kafka;
    int timeout_ms;
    if (dr_config_positional(cfg, &positional) != 0 || !name || !package_name) {
        dr_error_set(&err, DR_ERR_USAGE, "association create needs --name, --package and a selection (see --help)");
        goto fail;
    }
    if (!id)
        id = name;
    if (dr_check_id("--association-id (or --name)", id, &err) != DR_OK ||
        dr_check_package_token("--package", package_name, &err) != DR_OK ||
        (!follows_default && dr_check_package_token("--version", version, &err) != DR_OK) ||
        (schedule_text && dr_schedule_parse(schedule_text, &schedule, &err) != DR_OK))
        goto fail;
    if (dr_config_bool(cfg, "run-on-default-change") && !follows_default) {
        dr_error_set(&err, DR_ERR_USAGE, "--run-on-default-change needs --version default");
        goto fail;
    }
    if (dr_deploy_flags_read(cfg, &request, &selection, &err) != DR_OK)
        goto fail;
    /* The same checks as a deployment's, through the same builder. */
    request.deployment_id = id;
    request.package = package_name;
    request.version = version;
    if (dr_deployment_build(&deployment, &request, &err) != DR_OK ||
        dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK)
        goto fail;
    const Drover__V1__PackageVersion *pinned = NULL;
    if (dr_table_read(&kafka, DR_TOPIC_PACKAGES, timeout_ms, &packages, &err) != DR_OK ||
        dr_package_resolve(&packages, package_name, follows_default ? NULL : version, &package, &pinned, &err) != DR_OK)
        goto fail;

    Drover__V1__Association a = DROVER__V1__ASSOCIATION__INIT;
    a.schema_version = DR_SCHEMA_VERSION;
    a.association_id = (char *)id;
    a.name = (char *)name;
    a.package = (char *)package_name;
    a.version = (char *)version;
    a.action = deployment.message.action;
    a.installation_type = deployment.message.installation_type;
    a.n_additional_arguments = deployment.message.n_additional_arguments;
    a.additional_arguments = deployment.message.additional_arguments;
    a.selection = &selection.message;
    a.rate_controls = deployment.message.rate_controls;
    a.schedule = (char *)(schedule_text ? schedule_text : "");
    a.run_on_create = dr_config_bool(cfg, "run-on-create");
    a.run_on_default_change = dr_config_bool(cfg, "run-on-default-change");
    a.run_on_launch = dr_config_bool(cfg, "run-on-launch");
    a.created_at_ms = dr_now_ms();
    size_t len;
    if (dr_producer_operator_key(cfg, &operator_key, &err) != DR_OK ||
        dr_request_encode(operator_key, &a.base, &bytes, &len, &err) != DR_OK)
        goto fail;
    if (dr_table_put(&kafka, DR_TOPIC_ASSOCIATIONS, id, bytes, len, timeout_ms, &err) != DR_OK)
        goto fail;
    printf("association %s created: %s %s to %s\n", id, package_name, version,
           a.run_on_create ? "run now, then as scheduled" : "run as scheduled");
    goto cleanup;
fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    free(bytes);
    if (package)
        drover__v1__package_versions__free_unpacked(package, NULL);
    dr_table_free(&packages);
    dr_deployment_free(&deployment);
    dr_selection_free(&selection);
    dr_key_free(operator_key);
    dr_config_free(cfg);
    return exit_code;
}

/* The associations table; *cfg_out (NULL when already done: --help) and *table are the caller's to free. */
static int read_associations(int argc, char **argv, const char *usage, const dr_setting *settings, size_t setting_count,
                             size_t want_positional, dr_config **cfg_out, dr_table *table, dr_kafka_options *kafka,
                             int *timeout_ms)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    char *const *positional;
    *cfg_out = dr_program_start_args("drover-producer", settings, setting_count, want_positional, argc, argv, usage,
                                     &exit_code);
    if (!*cfg_out)
        return exit_code;
    if (dr_config_positional(*cfg_out, &positional) != want_positional) {
        dr_error_set(&err, DR_ERR_USAGE, "this verb needs the association's ID (%.*s)", (int)strcspn(usage, "\n"),
                     usage);
        return dr_producer_fail(&err);
    }
    if (dr_producer_kafka_options(*cfg_out, kafka, timeout_ms, &err) != DR_OK ||
        dr_table_read(kafka, DR_TOPIC_ASSOCIATIONS, *timeout_ms, table, &err) != DR_OK)
        return dr_producer_fail(&err);
    return DR_EXIT_OK;
}

/* The association a row holds; NULL when it is damaged (said on stderr) or deleted. */
static Drover__V1__Association *decode_row(const dr_table_row *row)
{
    Drover__V1__Association *a = NULL;
    dr_error err = {0};
    if (row && dr_association_decode(row->value, row->value_len, &a, &err) != DR_OK)
        fprintf(stderr, "drover-producer: association %s is damaged: %s\n", row->key, err.detail);
    if (a && a->deleted) {
        drover__v1__association__free_unpacked(a, NULL);
        a = NULL;
    }
    return a;
}

static void describe_triggers(const Drover__V1__Association *a, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s%s", a->schedule && a->schedule[0] ? a->schedule : "",
             a->run_on_create ? " on-create" : "", a->run_on_default_change ? " on-default-change" : "",
             a->run_on_launch ? " on-launch" : "", "");
}

/* The run times of a's schedule after its last run (or its creation), at most max; a time passed is due now. */
static size_t next_runs(const Drover__V1__Association *a, int64_t now, int64_t *times, size_t max, dr_error *err)
{
    dr_schedule schedule;
    size_t n = 0;
    if (!a->schedule || !a->schedule[0] || dr_schedule_parse(a->schedule, &schedule, err) != DR_OK)
        return 0;
    int64_t t = dr_schedule_next(&schedule, a->last_run_at_ms > 0 ? a->last_run_at_ms : a->created_at_ms);
    while (n < max && t >= 0) {
        times[n++] = t;
        t = dr_schedule_next(&schedule, t <= now ? now : t);
    }
    return n;
}

/* An association as -o json gives it; with_next_runs (show) adds next_runs. */
static json_t *association_json(const Drover__V1__Association *a, int with_next_runs)
{
    json_t *o =
        json_pack("{s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:b, s:o, s:o, s:o, s:o}",
                  "association_id", dr_json_text(a->association_id), "name", dr_json_text(a->name), "package",
                  dr_json_text(a->package), "version", dr_json_text(a->version), "action", dr_action_name(a->action),
                  "installation_type", dr_installation_type_name(a->installation_type), "arguments",
                  dr_json_key_values(a->additional_arguments, a->n_additional_arguments), "selection",
                  dr_json_selection(a->selection), "max_concurrency",
                  dr_json_text(a->rate_controls ? a->rate_controls->max_concurrency : "50"), "max_errors",
                  dr_json_text(a->rate_controls ? a->rate_controls->max_errors : "0"), "schedule",
                  dr_json_text(a->schedule), "run_on_create", a->run_on_create, "run_on_default_change",
                  a->run_on_default_change, "run_on_launch", a->run_on_launch, "created_at",
                  dr_json_time(a->created_at_ms), "last_run_at", dr_json_time(a->last_run_at_ms), "last_deployment_id",
                  dr_json_text(a->last_deployment_id), "last_run_version", dr_json_text(a->last_run_version));
    if (o && with_next_runs) {
        int64_t times[3];
        dr_error err = {0};
        size_t n = next_runs(a, dr_now_ms(), times, 3, &err);
        json_t *runs = json_array();
        for (size_t i = 0; runs && i < n; i++)
            json_array_append_new(runs, dr_json_time(times[i]));
        json_object_set_new(o, "next_runs", runs);
    }
    return o;
}

static int association_list(int argc, char **argv)
{
    dr_config *cfg = NULL;
    dr_table table = {0};
    dr_kafka_options kafka;
    int timeout_ms;
    dr_error err = {0};
    dr_output_format format = DR_OUTPUT_TABLE;
    int exit_code =
        read_associations(argc, argv, list_usage, list_settings, sizeof list_settings / sizeof list_settings[0], 0,
                          &cfg, &table, &kafka, &timeout_ms);
    if (!cfg) /* --help */
        return exit_code;
    if (exit_code == DR_EXIT_OK && dr_output_read(cfg, 1, &format, &err) != DR_OK)
        exit_code = dr_producer_fail(&err);
    if (exit_code == DR_EXIT_OK) {
        if (format != DR_OUTPUT_JSON) {
            printf("%-24s %-20s %-10s %-36s %-20s ", "ID", "PACKAGE", "VERSION", "RUNS", "LAST RUN");
            if (format == DR_OUTPUT_WIDE)
                printf("%-32s  %-24s  %-9s  %s\n", "LAST DEPLOYMENT", "NAME", "ACTION", "SELECTION");
            else
                printf("%s\n", "LAST DEPLOYMENT");
        }
        for (size_t i = 0; i < table.count; i++) {
            Drover__V1__Association *a = decode_row(&table.rows[i]);
            if (!a)
                continue;
            if (format == DR_OUTPUT_JSON) {
                dr_output_json_line(association_json(a, 0));
                drover__v1__association__free_unpacked(a, NULL);
                continue;
            }
            char triggers[256], last[32], selection[512];
            describe_triggers(a, triggers, sizeof triggers);
            dr_format_utc_ms(a->last_run_at_ms, last, sizeof last);
            const char *last_deployment =
                a->last_deployment_id && a->last_deployment_id[0] ? a->last_deployment_id : "-";
            printf("%-24s %-20s %-10s %-36s %-20s ", a->association_id, a->package, a->version,
                   triggers[0] == ' ' ? triggers + 1 : triggers, last);
            if (format == DR_OUTPUT_WIDE) {
                dr_selection_describe(a->selection, selection, sizeof selection);
                printf("%-32s  %-24s  %-9s  %s\n", last_deployment, a->name, dr_action_name(a->action), selection);
            } else {
                printf("%s\n", last_deployment);
            }
            drover__v1__association__free_unpacked(a, NULL);
        }
    }
    dr_table_free(&table);
    dr_config_free(cfg);
    return exit_code;
}

/*
 * The next three run times of a's schedule, as the control plane counts
 * them: from the last run (or the creation), a time already passed being
 * due now.
 */
static void print_next_runs(const Drover__V1__Association *a)
{
    dr_error err = {0};
    int64_t times[3], now = dr_now_ms();
    if (!a->schedule || !a->schedule[0])
        return;
    size_t n = next_runs(a, now, times, 3, &err);
    if (err.detail[0]) {
        printf("  next runs: none (%s)\n", err.detail);
        return;
    }
    printf("  next runs:");
    for (size_t i = 0; i < n; i++) {
        char when[32];
        dr_format_utc_ms(times[i], when, sizeof when);
        printf("%s %s", i ? "," : "", times[i] <= now ? "now (due)" : when);
    }
    printf("%s\n", n ? "" : " none (no time of the schedule is left)");
}

static int association_show(int argc, char **argv)
{
    dr_config *cfg = NULL;
    dr_table table = {0};
    dr_kafka_options kafka;
    int timeout_ms;
    dr_error err = {0};
    dr_output_format format = DR_OUTPUT_TABLE;
    int exit_code =
        read_associations(argc, argv, show_usage, show_settings, sizeof show_settings / sizeof show_settings[0], 1,
                          &cfg, &table, &kafka, &timeout_ms);
    if (!cfg) /* --help */
        return exit_code;
    if (exit_code == DR_EXIT_OK && dr_output_read(cfg, 0, &format, &err) != DR_OK)
        exit_code = dr_producer_fail(&err);
    if (exit_code == DR_EXIT_OK) {
        char *const *positional;
        dr_config_positional(cfg, &positional);
        Drover__V1__Association *a = decode_row(dr_table_get(&table, positional[0]));
        if (!a) {
            fprintf(stderr, "drover-producer: no association has the id '%s'\n", positional[0]);
            exit_code = DR_EXIT_USAGE;
        } else if (format == DR_OUTPUT_JSON) {
            dr_output_json_line(association_json(a, 1));
            drover__v1__association__free_unpacked(a, NULL);
        } else {
            char selection[512], triggers[256], created[32], last[32];
            dr_selection_describe(a->selection, selection, sizeof selection);
            describe_triggers(a, triggers, sizeof triggers);
            dr_format_utc_ms(a->created_at_ms, created, sizeof created);
            dr_format_utc_ms(a->last_run_at_ms, last, sizeof last);
            printf(
                "association %s (%s)\n  package %s %s, %s, %s\n  targets %s\n  runs %s\n"
                "  rate controls: max concurrency %s, max errors %s\n  created %s\n  last run %s: %s %s\n",
                a->association_id, a->name, a->package, a->version, dr_action_name(a->action),
                dr_installation_type_name(a->installation_type), selection,
                triggers[0] == ' ' ? triggers + 1 : triggers,
                a->rate_controls ? a->rate_controls->max_concurrency : "50",
                a->rate_controls ? a->rate_controls->max_errors : "0", created, last,
                a->last_deployment_id && a->last_deployment_id[0] ? a->last_deployment_id : "-",
                a->last_run_version ? a->last_run_version : "");
            print_next_runs(a);
            drover__v1__association__free_unpacked(a, NULL);
        }
    }
    dr_table_free(&table);
    dr_config_free(cfg);
    return exit_code;
}

static int association_delete(int argc, char **argv)
{
    dr_config *cfg = NULL;
    dr_table table = {0};
    dr_kafka_options kafka;
    int timeout_ms;
    dr_error err = {0};
    dr_key *operator_key = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int exit_code =
        read_associations(argc, argv, "usage: drover-producer association delete ID", delete_settings,
                          sizeof delete_settings / sizeof delete_settings[0], 1, &cfg, &table, &kafka, &timeout_ms);
    if (!cfg) /* --help */
        return exit_code;
    if (exit_code == DR_EXIT_OK) {
        char *const *positional;
        dr_config_positional(cfg, &positional);
        Drover__V1__Association *existing = decode_row(dr_table_get(&table, positional[0]));
        /* A signed record saying so, not a tombstone: a tombstone cannot say who deleted it. */
        Drover__V1__Association deletion = DROVER__V1__ASSOCIATION__INIT;
        deletion.schema_version = DR_SCHEMA_VERSION;
        deletion.association_id = positional[0];
        deletion.deleted = 1;
        deletion.created_at_ms = dr_now_ms();
        if (!existing) {
            fprintf(stderr, "drover-producer: no association has the id '%s'\n", positional[0]);
            exit_code = DR_EXIT_USAGE;
        } else if (dr_producer_operator_key(cfg, &operator_key, &err) != DR_OK ||
                   dr_request_encode(operator_key, &deletion.base, &bytes, &len, &err) != DR_OK ||
                   dr_table_put(&kafka, DR_TOPIC_ASSOCIATIONS, positional[0], bytes, len, timeout_ms, &err) != DR_OK) {
            exit_code = dr_producer_fail(&err);
        } else {
            printf("association %s deleted (runs in progress finish)\n", positional[0]);
        }
        if (existing)
            drover__v1__association__free_unpacked(existing, NULL);
    }
    free(bytes);
    dr_key_free(operator_key);
    dr_table_free(&table);
    dr_config_free(cfg);
    return exit_code;
}

static const dr_producer_verb association_verbs[] = {
    {"create", association_create, "create or replace a standing deployment (schedule, launch, default version)"},
    {"list", association_list, "list associations and their last runs"},
    {"show", association_show, "show one association"},
    {"delete", association_delete, "delete an association"},
};

const dr_producer_command dr_command_association = {"association", association_verbs,
                                                    sizeof association_verbs / sizeof association_verbs[0], NULL, NULL};
