/*
 * drover-producer deployment show|list: what was deployed (the deployments
 * topic) and how it went (the aggregator's rollups topic).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "messages.h"
#include "output.h"
#include "rollup_text.h"
#include "selection.h"
#include "table.h"

static const dr_setting show_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_OUTPUT_SETTING,
};

static const dr_setting list_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_OUTPUT_SETTING_WIDE,
};

/* The latest value of key in table decoded, or NULL when absent or damaged (damage then says why). */
static void *decode_row(const dr_table *table, const char *key,
                        dr_status (*decode)(const void *, size_t, void **, dr_error *), dr_error *damage)
{
    const dr_table_row *row = dr_table_get(table, key);
    void *message = NULL;
    if (row && decode(row->value, row->value_len, &message, damage) != DR_OK)
        message = NULL;
    return message;
}

/* Typed adapters for decode_row. */
static dr_status decode_rollup(const void *data, size_t len, void **out, dr_error *err)
{
    Drover__V1__Rollup *rollup = NULL;
    dr_status status = dr_rollup_decode(data, len, &rollup, err);
    *out = rollup;
    return status;
}

static dr_status decode_deployment(const void *data, size_t len, void **out, dr_error *err)
{
    Drover__V1__Deployment *deployment = NULL;
    dr_status status = dr_deployment_decode(data, len, &deployment, err);
    *out = deployment;
    return status;
}

/* ---- show ---- */

static const char show_usage[] =
    "usage: drover-producer deployment show ID [-o json]\n"
    "\n"
    "Prints what deployment ID asked for (package, version, action, selection, rate controls) and its\n"
    "latest rollup from the aggregator: status, counts overall and per account/region, timings, and\n"
    "the failed targets with their reasons.  -o json: one object, {deployment_id, request, rollup}\n"
    "(docs/producer.md, \"JSON output\").";

static void print_request(const Drover__V1__Deployment *d)
{
    char created[32], selection[512];
    dr_format_utc_ms(d->created_at_ms, created, sizeof created);
    if (d->selection)
        dr_selection_describe(d->selection, selection, sizeof selection);
    else
        snprintf(selection, sizeof selection, "-");
    printf("deployment %s\n", d->deployment_id);
    printf("package: %s %s (%s, %s)\n", d->package, d->version[0] ? d->version : "(default)", dr_action_name(d->action),
           dr_installation_type_name(d->installation_type));
    for (size_t i = 0; i < d->n_additional_arguments; i++)
        printf("argument: %s=%s\n", d->additional_arguments[i]->key, d->additional_arguments[i]->value);
    printf("selection: %s\n", selection);
    if (d->rate_controls)
        printf("rate controls: max-concurrency %s, max-errors %s\n", d->rate_controls->max_concurrency,
               d->rate_controls->max_errors);
    printf("created: %s by %s\n", created, d->created_by[0] ? d->created_by : "-");
}

/* What a deployment asked for, as -o json gives it. */
static json_t *request_json(const Drover__V1__Deployment *d)
{
    if (!d)
        return json_null();
    return json_pack("{s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o}", "package",
                     dr_json_text(d->package), "version", dr_json_text(d->version), "action", dr_action_name(d->action),
                     "installation_type", dr_installation_type_name(d->installation_type), "arguments",
                     dr_json_key_values(d->additional_arguments, d->n_additional_arguments), "selection",
                     dr_json_selection(d->selection), "max_concurrency",
                     dr_json_text(d->rate_controls ? d->rate_controls->max_concurrency : ""), "max_errors",
                     dr_json_text(d->rate_controls ? d->rate_controls->max_errors : ""), "job_count",
                     (json_int_t)d->job_count, "script_timeout_seconds", (json_int_t)d->script_timeout_seconds,
                     "deadline_at", dr_json_time(d->deadline_ms), "created_at", dr_json_time(d->created_at_ms),
                     "created_by", dr_json_text(d->created_by), "association_id", dr_json_text(d->association_id));
}

static int deployment_show(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0}, damage = {0};
    dr_table rollups = {0}, deployments = {0};
    Drover__V1__Rollup *rollup = NULL;
    Drover__V1__Deployment *deployment = NULL;
    dr_config *cfg =
        dr_program_start_args("drover-producer", show_settings, sizeof show_settings / sizeof show_settings[0], 1, argc,
                              argv, show_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    dr_kafka_options kafka;
    int timeout_ms;
    dr_output_format format;
    if (dr_config_positional(cfg, &positional) != 1) {
        dr_error_set(&err, DR_ERR_USAGE, "deployment show needs the deployment's ID (see --help)");
        goto fail;
    }
    if (dr_output_read(cfg, 0, &format, &err) != DR_OK)
        goto fail;
    const char *id = positional[0];
    if (dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK ||
        dr_table_read(&kafka, DR_TOPIC_DEPLOYMENTS, timeout_ms, &deployments, &err) != DR_OK ||
        dr_table_read(&kafka, DR_TOPIC_ROLLUPS, timeout_ms, &rollups, &err) != DR_OK)
        goto fail;
    deployment = decode_row(&deployments, id, decode_deployment, &damage);
    rollup = decode_row(&rollups, id, decode_rollup, &damage);
    if (!deployment && !rollup) {
        if (damage.detail[0])
            dr_error_set(&err, DR_ERR_MALFORMED_MESSAGE, "deployment %s: %s", id, damage.detail);
        else
            dr_error_set(&err, DR_ERR_USAGE, "no deployment %s (drover-producer deployment list shows them)", id);
        goto fail;
    }
    if (format == DR_OUTPUT_JSON) {
        dr_output_json_line(json_pack("{s:o, s:o, s:o}", "deployment_id", dr_json_text(id), "request",
                                      request_json(deployment), "rollup", dr_json_rollup(rollup)));
        goto cleanup;
    }
    if (deployment)
        print_request(deployment);
    if (rollup)
        dr_rollup_print_report(rollup, 1, stdout);
    else
        printf("no rollup yet (the aggregator publishes one once it sees the deployment's status events)\n");
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    if (rollup)
        drover__v1__rollup__free_unpacked(rollup, NULL);
    if (deployment)
        drover__v1__deployment__free_unpacked(deployment, NULL);
    dr_table_free(&rollups);
    dr_table_free(&deployments);
    dr_config_free(cfg);
    return exit_code;
}

/* ---- list ---- */

static const char list_usage[] =
    "usage: drover-producer deployment list [-o wide|json]\n"
    "\n"
    "Prints a line per deployment, oldest first: id, when it was created, package, version, action,\n"
    "status from its latest rollup (PUBLISHED when no aggregator has rolled it up yet), and finished\n"
    "jobs of all; -o wide adds the installation type, the creator, the association and the selection.\n"
    "-o json: an object per deployment (docs/producer.md, \"JSON output\").";

typedef struct listed_deployment {
    const char *id;
    Drover__V1__Deployment *deployment; /* NULL when only a rollup is known */
    Drover__V1__Rollup *rollup;         /* NULL when not rolled up yet */
} listed_deployment;

static int64_t created_at(const listed_deployment *l)
{
    if (l->deployment)
        return l->deployment->created_at_ms;
    return l->rollup ? l->rollup->started_at_ms : 0;
}

static int compare_listed(const void *a, const void *b)
{
    const listed_deployment *x = a, *y = b;
    int64_t tx = created_at(x), ty = created_at(y);
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Every id of either table, each with what is known of it. */
static dr_status collect(const dr_table *deployments, const dr_table *rollups, listed_deployment **out, size_t *count,
                         dr_error *err)
{
    listed_deployment *items = calloc(deployments->count + rollups->count + 1, sizeof *items);
    dr_error damage = {0};
    *count = 0;
    *out = items;
    if (!items)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < deployments->count; i++) {
        const char *id = deployments->rows[i].key;
        items[*count].id = id;
        items[*count].deployment = decode_row(deployments, id, decode_deployment, &damage);
        items[*count].rollup = decode_row(rollups, id, decode_rollup, &damage);
        (*count)++;
    }
    for (size_t i = 0; i < rollups->count; i++) {
        const char *id = rollups->rows[i].key;
        if (dr_table_get(deployments, id))
            continue;
        items[*count].id = id;
        items[*count].rollup = decode_row(rollups, id, decode_rollup, &damage);
        (*count)++;
    }
    qsort(items, *count, sizeof *items, compare_listed);
    return DR_OK;
}

static void print_listed(const listed_deployment *l, dr_output_format format)
{
    const Drover__V1__Deployment *d = l->deployment;
    const Drover__V1__Rollup *r = l->rollup;
    char created[32], progress[64], selection[512];
    dr_format_utc_ms(created_at(l), created, sizeof created);
    const char *package = d ? d->package : r ? r->package : "-";
    const char *version = d ? d->version : r ? r->version : "-";
    const char *status = r ? dr_deployment_status_name(r->status) : "PUBLISHED";
    if (r)
        snprintf(progress, sizeof progress, "%llu/%llu", (unsigned long long)dr_rollup_done(r),
                 (unsigned long long)r->total_jobs);
    else
        snprintf(progress, sizeof progress, "-");
    if (format == DR_OUTPUT_JSON) {
        dr_output_json_line(
            json_pack("{s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "deployment_id",
                      dr_json_text(l->id), "created_at", dr_json_time(created_at(l)), "package", dr_json_text(package),
                      "version", dr_json_text(version), "action", d ? dr_action_name(d->action) : "",
                      "installation_type", d ? dr_installation_type_name(d->installation_type) : "", "status", status,
                      "done", r ? json_integer((json_int_t)dr_rollup_done(r)) : json_null(), "total_jobs",
                      r ? json_integer((json_int_t)r->total_jobs) : json_null(), "created_by",
                      dr_json_text(d ? d->created_by : ""), "association_id", dr_json_text(d ? d->association_id : ""),
                      "selection", dr_json_selection(d ? d->selection : NULL)));
        return;
    }
    printf("%-32s  %-20s  %-20s  %-12s  %-9s  %-11s  %-*s", l->id, created, package, version,
           d ? dr_action_name(d->action) : "-", status, format == DR_OUTPUT_WIDE ? 9 : 0, progress);
    if (format == DR_OUTPUT_WIDE) {
        if (d && d->selection)
            dr_selection_describe(d->selection, selection, sizeof selection);
        else
            snprintf(selection, sizeof selection, "-");
        printf("  %-9s  %-12s  %-24s  %s", d ? dr_installation_type_name(d->installation_type) : "-",
               d && d->created_by[0] ? d->created_by : "-",
               d && d->association_id && d->association_id[0] ? d->association_id : "-", selection);
    }
    printf("\n");
}

static int deployment_list(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_table rollups = {0}, deployments = {0};
    listed_deployment *items = NULL;
    size_t count = 0;
    dr_config *cfg = dr_program_start("drover-producer", list_settings, sizeof list_settings / sizeof list_settings[0],
                                      argc, argv, list_usage, &exit_code);
    if (!cfg)
        return exit_code;
    dr_kafka_options kafka;
    int timeout_ms;
    dr_output_format format;
    if (dr_output_read(cfg, 1, &format, &err) != DR_OK ||
        dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK ||
        dr_table_read(&kafka, DR_TOPIC_DEPLOYMENTS, timeout_ms, &deployments, &err) != DR_OK ||
        dr_table_read(&kafka, DR_TOPIC_ROLLUPS, timeout_ms, &rollups, &err) != DR_OK ||
        collect(&deployments, &rollups, &items, &count, &err) != DR_OK)
        goto fail;
    if (format != DR_OUTPUT_JSON) {
        printf("%-32s  %-20s  %-20s  %-12s  %-9s  %-11s  %-*s", "ID", "CREATED", "PACKAGE", "VERSION", "ACTION",
               "STATUS", format == DR_OUTPUT_WIDE ? 9 : 0, "DONE");
        if (format == DR_OUTPUT_WIDE)
            printf("  %-9s  %-12s  %-24s  %s", "TYPE", "CREATED BY", "ASSOCIATION", "SELECTION");
        printf("\n");
    }
    for (size_t i = 0; i < count; i++)
        print_listed(&items[i], format);
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    for (size_t i = 0; items && i < count; i++) {
        if (items[i].deployment)
            drover__v1__deployment__free_unpacked(items[i].deployment, NULL);
        if (items[i].rollup)
            drover__v1__rollup__free_unpacked(items[i].rollup, NULL);
    }
    free(items);
    dr_table_free(&rollups);
    dr_table_free(&deployments);
    dr_config_free(cfg);
    return exit_code;
}

/* ---- dispatch ---- */

static const dr_producer_verb deployment_verbs[] = {
    {"show", deployment_show, "show a deployment's request and latest rollup"},
    {"list", deployment_list, "list deployments and their status"},
};

const dr_producer_command dr_command_deployment = {"deployment", deployment_verbs,
                                                   sizeof deployment_verbs / sizeof deployment_verbs[0], NULL, NULL};
