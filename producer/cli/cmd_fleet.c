/*
 * drover-producer fleet: what is installed where, from the fleet topic (the
 * aggregator's table of each target's install records) joined with the
 * inventory: counts per version and per account/region, and the targets
 * that have, or do not have, a version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "messages.h"
#include "names.h"
#include "output.h"
#include "packages.h"
#include "table.h"
#include "targets.h"

static const dr_setting fleet_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    {"package", DR_SETTING_STRING, NULL, "only this package (needed with version \"default\")"},
    {"version", DR_SETTING_STRING, NULL, "only targets that have this version (\"default\": the package's default)"},
    {"not-version", DR_SETTING_STRING, NULL,
     "only targets that do not have this version, those without the package included (\"default\" too)"},
    {"account", DR_SETTING_STRING, NULL, "only targets in this account"},
    {"region", DR_SETTING_STRING, NULL, "only targets in this region"},
    {"tag", DR_SETTING_STRING, NULL, "only targets with this tag, KEY=VALUE"},
    DR_PRODUCER_OUTPUT_SETTING,
};

static const char fleet_usage[] =
    "usage: drover-producer fleet [--package P] [--version V | --not-version V] [--account A] [--region R]\n"
    "                             [--tag KEY=VALUE] [-o json]\n"
    "\n"
    "What is installed where: for each package (or the one named), how many of the inventory's targets have\n"
    "each version (\"none\": not installed), per account and region, and then the targets themselves with the\n"
    "version, when it was installed and by which deployment.  --version V lists the targets that have V,\n"
    "--not-version V those that do not (\"default\" stands for the package's default version).  Read from the\n"
    "fleet topic, which the aggregator keeps from the workers' statuses.  -o json: an object per target and\n"
    "package, the counts left to jq (docs/producer.md, \"JSON output\").";

/* One line of the answer: a target and what it has of a package. */
typedef struct fleet_row {
    const Drover__V1__Target *target;
    const char *package;
    const Drover__V1__FleetEntry *entry; /* NULL: the package is not on the target */
} fleet_row;

static const char *version_of(const fleet_row *r)
{
    return r->entry && r->entry->version[0] ? r->entry->version : "none";
}

static int has_tag(const Drover__V1__Target *t, const char *key, size_t key_len, const char *value)
{
    for (size_t i = 0; i < t->n_tags; i++)
        if (strlen(t->tags[i]->key) == key_len && strncmp(t->tags[i]->key, key, key_len) == 0 &&
            strcmp(t->tags[i]->value, value) == 0)
            return 1;
    return 0;
}

/* A count per distinct label, in first-seen order (few versions, few locations). */
typedef struct tally {
    char (*labels)[512];
    size_t *counts;
    size_t count, alloc;
} tally;

static int tally_add(tally *t, const char *label)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->labels[i], label) == 0) {
            t->counts[i]++;
            return 0;
        }
    if (t->count == t->alloc) {
        size_t alloc = t->alloc ? t->alloc * 2 : 16;
        char(*labels)[512] = realloc(t->labels, alloc * sizeof *labels);
        if (!labels)
            return -1;
        t->labels = labels;
        size_t *counts = realloc(t->counts, alloc * sizeof *counts);
        if (!counts)
            return -1;
        t->counts = counts;
        t->alloc = alloc;
    }
    snprintf(t->labels[t->count], sizeof t->labels[0], "%s", label);
    t->counts[t->count++] = 1;
    return 0;
}

static void tally_free(tally *t)
{
    free(t->labels);
    free(t->counts);
}

static int by_package_then_target(const void *a, const void *b)
{
    const fleet_row *x = a, *y = b;
    int c = strcmp(x->package, y->package);
    return c ? c : strcmp(x->target->target_id, y->target->target_id);
}

/* The filters, checked as the rest of the CLI checks them. */
typedef struct fleet_query {
    const char *package, *account, *region;
    const char *want, *refuse; /* versions, resolved */
    const char *tag_key, *tag_value;
    size_t tag_key_len;
} fleet_query;

/* Whether a target with version v is one the query asks for. */
static int version_wanted(const fleet_query *q, const char *v)
{
    return (!q->want || strcmp(v, q->want) == 0) && (!q->refuse || strcmp(v, q->refuse) != 0);
}

/* One target's line of a package, as -o json gives it. */
static json_t *row_json(const fleet_row *r)
{
    const Drover__V1__FleetEntry *e = r->entry && r->entry->version[0] ? r->entry : NULL;
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b}", "package", dr_json_text(r->package), "target_id",
                     dr_json_text(r->target->target_id), "account", dr_json_text(r->target->account), "region",
                     dr_json_text(r->target->region), "version", dr_json_text(version_of(r)), "installed_at",
                     dr_json_time(e ? e->installed_at_ms : 0), "deployment_id", dr_json_text(e ? e->deployment_id : ""),
                     "drifted", r->entry && r->entry->drift_at_ms != 0, "drift_repaired",
                     r->entry && r->entry->drift_at_ms && r->entry->drift_repaired);
}

static void print_package(const fleet_row *rows, size_t from, size_t to, const fleet_query *q)
{
    tally versions = {0}, locations = {0};
    size_t listed = 0;
    for (size_t i = from; i < to; i++) {
        const char *v = version_of(&rows[i]);
        if (!version_wanted(q, v))
            continue;
        char where[512];
        snprintf(where, sizeof where, "account %s region %s version %s", rows[i].target->account,
                 rows[i].target->region, v);
        if (tally_add(&versions, v) != 0 || tally_add(&locations, where) != 0)
            break;
        listed++;
    }
    printf("package %s: %zu target%s\n", rows[from].package, listed, listed == 1 ? "" : "s");
    for (size_t i = 0; i < versions.count; i++)
        printf("  version %-20s %zu\n", versions.labels[i], versions.counts[i]);
    for (size_t i = 0; i < locations.count; i++)
        printf("  %s: %zu\n", locations.labels[i], locations.counts[i]);
    for (size_t i = from; i < to; i++) {
        const fleet_row *r = &rows[i];
        const char *v = version_of(r);
        if (!version_wanted(q, v))
            continue;
        char when[32] = "-";
        if (r->entry && r->entry->version[0] && r->entry->installed_at_ms > 0) {
            time_t t = (time_t)(r->entry->installed_at_ms / 1000);
            struct tm tm;
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
        }
        printf("  %s  %s  %s  %s  %s  %s%s\n", r->target->target_id, r->target->account, r->target->region, v, when,
               r->entry && r->entry->version[0] ? r->entry->deployment_id : "-",
               r->entry && r->entry->drift_at_ms ? (r->entry->drift_repaired ? "  drifted, repaired" : "  drifted")
                                                 : "");
    }
    tally_free(&versions);
    tally_free(&locations);
}

/* "default" into the package's default version; anything else checked as a version. */
static dr_status resolve_version(const char *flag, const char *given, const char *package, const dr_table *packages,
                                 char *out, size_t size, dr_error *err)
{
    if (!given)
        return DR_OK;
    if (strcmp(given, "default") != 0) {
        snprintf(out, size, "%s", given);
        return strcmp(given, "none") == 0 ? DR_OK : dr_check_package_token(flag, given, err);
    }
    if (!package)
        return dr_error_set(err, DR_ERR_USAGE, "%s default needs --package", flag);
    Drover__V1__PackageVersions *p = NULL;
    const Drover__V1__PackageVersion *v = NULL;
    dr_status status = dr_package_resolve(packages, package, NULL, &p, &v, err);
    if (status == DR_OK)
        snprintf(out, size, "%s", v->version);
    if (p)
        drover__v1__package_versions__free_unpacked(p, NULL);
    return status;
}

/* The rows of the query: each wanted target, with each package in scope (sorted). */
static dr_status gather(const dr_inventory *inventory, const dr_table *fleet, const fleet_query *q,
                        Drover__V1__FleetEntry **entries, fleet_row **out, size_t *count, dr_error *err)
{
    /* The packages in scope: the one asked, or every one the fleet knows. */
    const char **packages = calloc(fleet->count + 1, sizeof *packages);
    size_t package_count = 0;
    if (!packages)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    if (q->package)
        packages[package_count++] = q->package;
    for (size_t i = 0; !q->package && i < fleet->count; i++) {
        if (!entries[i] || !entries[i]->version[0])
            continue;
        size_t j = 0;
        while (j < package_count && strcmp(packages[j], entries[i]->package) != 0)
            j++;
        if (j == package_count)
            packages[package_count++] = entries[i]->package;
    }
    *out = calloc(inventory->count * package_count + 1, sizeof **out);
    *count = 0;
    if (!*out) {
        free(packages);
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    }
    for (size_t t = 0; t < inventory->count; t++) {
        const Drover__V1__Target *target = inventory->targets[t];
        if ((q->account && strcmp(target->account, q->account) != 0) ||
            (q->region && strcmp(target->region, q->region) != 0) ||
            (q->tag_key && !has_tag(target, q->tag_key, q->tag_key_len, q->tag_value)))
            continue;
        for (size_t p = 0; p < package_count; p++) {
            char key[300];
            snprintf(key, sizeof key, "%s/%s", target->target_id, packages[p]);
            const dr_table_row *row = dr_table_get(fleet, key);
            fleet_row *r = &(*out)[(*count)++];
            r->target = target;
            r->package = packages[p];
            r->entry = row ? entries[row - fleet->rows] : NULL;
        }
    }
    free(packages);
    qsort(*out, *count, sizeof **out, by_package_then_target);
    return DR_OK;
}

static int cmd_fleet(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_table fleet = {0}, packages = {0};
    dr_inventory inventory = {0};
    Drover__V1__FleetEntry **entries = NULL;
    fleet_row *rows = NULL;
    size_t row_count = 0;
    dr_config *cfg =
        dr_program_start("drover-producer", fleet_settings, sizeof fleet_settings / sizeof fleet_settings[0], argc,
                         argv, fleet_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char want[130] = "", refuse[130] = "";
    dr_output_format format;
    fleet_query q = {.package = dr_config_string(cfg, "package"),
                     .account = dr_config_string(cfg, "account"),
                     .region = dr_config_string(cfg, "region")};
    const char *version = dr_config_string(cfg, "version"), *not_version = dr_config_string(cfg, "not-version");
    const char *tag = dr_config_string(cfg, "tag");
    dr_kafka_options kafka;
    int timeout_ms;
    if (version && not_version) {
        dr_error_set(&err, DR_ERR_USAGE, "fleet takes --version or --not-version, not both (see --help)");
        goto fail;
    }
    if (dr_output_read(cfg, 0, &format, &err) != DR_OK)
        goto fail;
    if ((q.package && dr_check_package_token("--package", q.package, &err) != DR_OK) ||
        (q.account && dr_check_id("--account", q.account, &err) != DR_OK) ||
        (q.region && dr_check_id("--region", q.region, &err) != DR_OK) ||
        (tag && dr_check_tag("--tag", tag, &q.tag_key_len, &err) != DR_OK))
        goto fail;
    if (tag) {
        q.tag_key = tag;
        q.tag_value = tag + q.tag_key_len + 1;
    }
    if (dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK ||
        ((version || not_version) && dr_table_read(&kafka, DR_TOPIC_PACKAGES, timeout_ms, &packages, &err) != DR_OK) ||
        resolve_version("--version", version, q.package, &packages, want, sizeof want, &err) != DR_OK ||
        resolve_version("--not-version", not_version, q.package, &packages, refuse, sizeof refuse, &err) != DR_OK ||
        dr_table_read(&kafka, DR_TOPIC_FLEET, timeout_ms, &fleet, &err) != DR_OK ||
        dr_inventory_read(&kafka, timeout_ms, &inventory, &err) != DR_OK)
        goto fail;
    q.want = version ? want : NULL;
    q.refuse = not_version ? refuse : NULL;
    if (!(entries = calloc(fleet.count + 1, sizeof *entries))) {
        dr_error_set(&err, DR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    size_t damaged = 0;
    for (size_t i = 0; i < fleet.count; i++)
        if (!(entries[i] = drover__v1__fleet_entry__unpack(NULL, fleet.rows[i].value_len, fleet.rows[i].value)))
            damaged++;
    if (gather(&inventory, &fleet, &q, entries, &rows, &row_count, &err) != DR_OK)
        goto fail;
    for (size_t i = 0; format == DR_OUTPUT_JSON && i < row_count; i++)
        if (version_wanted(&q, version_of(&rows[i])))
            dr_output_json_line(row_json(&rows[i]));
    for (size_t i = 0; format != DR_OUTPUT_JSON && i < row_count;) {
        size_t j = i;
        while (j < row_count && strcmp(rows[j].package, rows[i].package) == 0)
            j++;
        print_package(rows, i, j, &q);
        i = j;
    }
    if (damaged)
        fprintf(stderr, "drover-producer: %zu fleet entr%s could not be read and %s left out\n", damaged,
                damaged == 1 ? "y" : "ies", damaged == 1 ? "is" : "are");
    goto cleanup;
fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    free(rows);
    for (size_t i = 0; entries && i < fleet.count; i++)
        if (entries[i])
            drover__v1__fleet_entry__free_unpacked(entries[i], NULL);
    free(entries);
    dr_inventory_free(&inventory);
    dr_table_free(&fleet);
    dr_table_free(&packages);
    dr_config_free(cfg);
    return exit_code;
}

const dr_producer_command dr_command_fleet = {"fleet", NULL, 0, cmd_fleet,
                                              "what is installed where: versions per package, per account and region"};
