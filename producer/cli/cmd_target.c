/*
 * drover-producer target register|list: keep the inventory (the inventory
 * topic, key target id) that deployments select their targets from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "messages.h"
#include "output.h"
#include "table.h"
#include "targets.h"

/* ---- register ---- */

static const dr_setting register_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_REQUEST_SETTINGS,
    {"file", DR_SETTING_STRING, NULL, "register every target of this JSON or CSV file (see --help for the format)"},
    {"id", DR_SETTING_STRING, NULL, "target id, 1-128 of A-Z a-z 0-9 _ . : -"},
    {"account", DR_SETTING_STRING, NULL, "account the target belongs to, e.g. 111111111111"},
    {"region", DR_SETTING_STRING, NULL, "region the target is in, e.g. eu-west-1"},
    {"platform", DR_SETTING_STRING, NULL, "platform name or os-release ID, e.g. ubuntu, rhel, amzn"},
    {"platform-version", DR_SETTING_STRING, NULL, "platform version, e.g. 22.04"},
    {"arch", DR_SETTING_STRING, NULL, "architecture, e.g. x86_64, arm64"},
    {"tag", DR_SETTING_LIST, NULL, "tag KEY=VALUE; repeatable"},
    {"id-like", DR_SETTING_STRING, NULL, "platform family as os-release ID_LIKE, e.g. \"rhel fedora\""},
    {"executor", DR_SETTING_STRING, NULL,
     "how workers reach it: local (under the worker's targets-root; the default), ssh (at address), or agent (its own drover-worker --self)"},
    {"address", DR_SETTING_STRING, NULL, "ssh executor: [user@]host[:port][/root/dir] (root default /)"},
};

static const char register_usage[] =
    "usage: drover-producer target register --id ID --account A --region R --platform P --platform-version V\n"
    "                                       --arch ARCH [--tag KEY=VALUE ...] [--id-like \"L ...\"]\n"
    "       drover-producer target register --file TARGETS.json|TARGETS.csv\n"
    "\n"
    "Adds targets to the inventory, or replaces those registered before under the same id. Every target\n"
    "is checked before any is written; then all are written at once and the count is printed.\n"
    "\n"
    "A JSON file is an array of objects:\n"
    "  [{\"id\": \"web-1\", \"account\": \"111111111111\", \"region\": \"eu-west-1\", \"platform\": \"ubuntu\",\n"
    "    \"platform_version\": \"22.04\", \"arch\": \"x86_64\", \"tags\": {\"Env\": \"prod\"},\n"
    "    \"id_like\": \"debian\"}]\n"
    "A CSV file starts with a header naming its columns; tags are KEY=VALUE separated by ';':\n"
    "  id,account,region,platform,platform_version,arch,tags\n"
    "  web-1,111111111111,eu-west-1,ubuntu,22.04,x86_64,Env=prod;Tier=web\n"
    "Optional fields and columns: tags, id_like, executor, address.";

/* A target's fields as flags give them (register and launch take the same ones). */
static dr_target_fields target_fields_from(const dr_config *cfg)
{
    dr_target_fields fields = {
        .id = dr_config_string(cfg, "id"),
        .account = dr_config_string(cfg, "account"),
        .region = dr_config_string(cfg, "region"),
        .platform = dr_config_string(cfg, "platform"),
        .platform_version = dr_config_string(cfg, "platform-version"),
        .arch = dr_config_string(cfg, "arch"),
        .id_like = dr_config_string(cfg, "id-like"),
        .executor = dr_config_string(cfg, "executor"),
        .address = dr_config_string(cfg, "address"),
    };
    fields.tag_count = dr_config_list(cfg, "tag", &fields.tags);
    return fields;
}

static int target_register(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_target_batch batch = {0};
    dr_key *operator_key = NULL;
    dr_config *cfg =
        dr_program_start("drover-producer", register_settings, sizeof register_settings / sizeof register_settings[0],
                         argc, argv, register_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    const char *file = dr_config_string(cfg, "file");
    dr_target_fields fields = target_fields_from(cfg);
    int any_field = fields.id || fields.account || fields.region || fields.platform || fields.platform_version ||
                    fields.arch || fields.tag_count || fields.id_like || fields.executor || fields.address;
    dr_kafka_options kafka;
    int timeout_ms;
    size_t acknowledged = 0;
    if (dr_config_positional(cfg, &positional) != 0 || (file && any_field) || (!file && !any_field)) {
        dr_error_set(&err, DR_ERR_USAGE, "target register takes either --file or one target's flags (see --help)");
        goto fail;
    }
    if (!file && (!fields.id || !fields.account || !fields.region || !fields.platform || !fields.platform_version ||
                  !fields.arch)) {
        dr_error_set(&err, DR_ERR_USAGE,
                     "target register needs --id, --account, --region, --platform, --platform-version and --arch");
        goto fail;
    }
    if (dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK ||
        dr_producer_operator_key(cfg, &operator_key, &err) != DR_OK)
        goto fail;
    if (file ? dr_target_batch_read_file(&batch, file, &err) != DR_OK
             : dr_target_batch_add(&batch, &fields, "target", &err) != DR_OK)
        goto fail;
    if (batch.count == 0) {
        dr_error_set(&err, DR_ERR_USAGE, "%s has no targets", file);
        goto fail;
    }
    if (dr_target_batch_check_unique(&batch, &err) != DR_OK)
        goto fail;
    if (dr_target_batch_write(&kafka, &batch, operator_key, timeout_ms, &acknowledged, &err) != DR_OK) {
        dr_error_wrap(&err, "%zu of %zu targets registered (registering them again is harmless)", acknowledged,
                      batch.count);
        goto fail;
    }
    printf("registered %zu target%s\n", batch.count, batch.count == 1 ? "" : "s");
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_target_batch_free(&batch);
    dr_key_free(operator_key);
    dr_config_free(cfg);
    return exit_code;
}

/* ---- list ---- */

static const dr_setting list_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    {"account", DR_SETTING_STRING, NULL, "only targets of this account"},
    {"region", DR_SETTING_STRING, NULL, "only targets in this region"},
    DR_PRODUCER_OUTPUT_SETTING_WIDE,
};

static const char list_usage[] =
    "usage: drover-producer target list [--account A] [--region R] [-o wide|json]\n"
    "\n"
    "Prints the inventory, a header line and then a line per target in id order: id, account, region,\n"
    "platform, platform version, arch and tags (KEY=VALUE separated by ';'); -o wide adds the platform\n"
    "family (ID_LIKE), the executor and its address.  -o json: an object per target with the fields a\n"
    "target register --file takes (docs/producer.md, \"JSON output\"), so `-o json | jq -s .` is such a file.";

enum { COLUMN_COUNT = 7, WIDE_COLUMN_COUNT = 10 };

/* A target as -o json gives it: the fields of a target register --file JSON file. */
static json_t *target_json(const Drover__V1__Target *t)
{
    json_t *tags = json_object(), *id_like = json_array();
    for (size_t i = 0; tags && i < t->n_tags; i++)
        json_object_set_new(tags, t->tags[i]->key, dr_json_text(t->tags[i]->value));
    for (size_t i = 0; id_like && i < t->n_platform_family; i++)
        json_array_append_new(id_like, dr_json_text(t->platform_family[i]));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", dr_json_text(t->target_id), "account",
                     dr_json_text(t->account), "region", dr_json_text(t->region), "platform",
                     dr_json_text(t->platform_name), "platform_version", dr_json_text(t->platform_version), "arch",
                     dr_json_text(t->arch), "tags", tags, "id_like", id_like, "executor", dr_json_text(t->executor),
                     "address", dr_json_text(t->address));
}

/* A target's cells in column order (wide: three more); tags and the family are written into the buffers. */
static void target_cells(const Drover__V1__Target *t, const char **cells, char *tags_buf, size_t size, char *family_buf,
                         size_t family_size)
{
    size_t used = 0;
    tags_buf[0] = '\0';
    for (size_t i = 0; i < t->n_tags && used < size; i++)
        used +=
            (size_t)snprintf(tags_buf + used, size - used, "%s%s=%s", i ? ";" : "", t->tags[i]->key, t->tags[i]->value);
    cells[0] = t->target_id;
    cells[1] = t->account;
    cells[2] = t->region;
    cells[3] = t->platform_name;
    cells[4] = t->platform_version;
    cells[5] = t->arch;
    cells[6] = tags_buf[0] ? tags_buf : "-";
    used = 0;
    family_buf[0] = '\0';
    for (size_t i = 0; i < t->n_platform_family && used < family_size; i++)
        used += (size_t)snprintf(family_buf + used, family_size - used, "%s%s", i ? " " : "", t->platform_family[i]);
    cells[7] = family_buf[0] ? family_buf : "-";
    cells[8] = t->executor && t->executor[0] ? t->executor : "-";
    cells[9] = t->address && t->address[0] ? t->address : "-";
}

static int wanted(const Drover__V1__Target *t, const char *account, const char *region)
{
    return (!account || strcmp(t->account, account) == 0) && (!region || strcmp(t->region, region) == 0);
}

static int target_list(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_inventory inventory = {0};
    dr_config *cfg = dr_program_start("drover-producer", list_settings, sizeof list_settings / sizeof list_settings[0],
                                      argc, argv, list_usage, &exit_code);
    if (!cfg)
        return exit_code;
    const char *account = dr_config_string(cfg, "account");
    const char *region = dr_config_string(cfg, "region");
    dr_kafka_options kafka;
    int timeout_ms;
    dr_output_format format;
    if (dr_output_read(cfg, 1, &format, &err) != DR_OK ||
        dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK ||
        dr_inventory_read(&kafka, timeout_ms, &inventory, &err) != DR_OK)
        goto fail;

    if (format == DR_OUTPUT_JSON) {
        for (size_t i = 0; i < inventory.count; i++)
            if (wanted(inventory.targets[i], account, region))
                dr_output_json_line(target_json(inventory.targets[i]));
        goto damaged;
    }
    /* Two passes: the widths first, so the columns line up.  Wide puts its columns before the tags. */
    static const char *const header[WIDE_COLUMN_COUNT] = {"ID",   "ACCOUNT", "REGION",  "PLATFORM", "VERSION",
                                                          "ARCH", "TAGS",    "ID_LIKE", "EXECUTOR", "ADDRESS"};
    static const int table_order[] = {0, 1, 2, 3, 4, 5, 6}, wide_order[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 6};
    const int *order = format == DR_OUTPUT_WIDE ? wide_order : table_order;
    int columns = format == DR_OUTPUT_WIDE ? WIDE_COLUMN_COUNT : COLUMN_COUNT;
    int widths[WIDE_COLUMN_COUNT];
    const char *cells[WIDE_COLUMN_COUNT];
    char tags[2048], family[512];
    for (int c = 0; c < WIDE_COLUMN_COUNT; c++)
        widths[c] = (int)strlen(header[c]);
    for (size_t i = 0; i < inventory.count; i++) {
        if (!wanted(inventory.targets[i], account, region))
            continue;
        target_cells(inventory.targets[i], cells, tags, sizeof tags, family, sizeof family);
        for (int c = 0; c < WIDE_COLUMN_COUNT; c++)
            if ((int)strlen(cells[c]) > widths[c])
                widths[c] = (int)strlen(cells[c]);
    }
    for (int c = 0; c < columns - 1; c++)
        printf("%-*s  ", widths[order[c]], header[order[c]]);
    printf("%s\n", header[order[columns - 1]]);
    for (size_t i = 0; i < inventory.count; i++) {
        if (!wanted(inventory.targets[i], account, region))
            continue;
        target_cells(inventory.targets[i], cells, tags, sizeof tags, family, sizeof family);
        for (int c = 0; c < columns - 1; c++)
            printf("%-*s  ", widths[order[c]], cells[order[c]]);
        printf("%s\n", cells[order[columns - 1]]);
    }
damaged:
    if (inventory.damaged)
        fprintf(stderr, "drover-producer: %zu inventory entr%s could not be read and %s left out (see the log)\n",
                inventory.damaged, inventory.damaged == 1 ? "y" : "ies", inventory.damaged == 1 ? "is" : "are");
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_inventory_free(&inventory);
    dr_config_free(cfg);
    return exit_code;
}

/* ---- launch, terminate: target events ---- */

static const char launch_usage[] =
    "usage: drover-producer target launch --id ID --account A --region R --platform P --platform-version V\n"
    "                                     --arch ARCH [--tag KEY=VALUE ...] [--id-like \"L ...\"]\n"
    "       drover-producer target terminate --id ID\n"
    "\n"
    "Writes a TargetEvent to the events topic, as an autoscaling hook or any Kafka client can: the control\n"
    "plane adds a launched target to the inventory and runs every association with --run-on-launch whose\n"
    "selection matches it, for that target; a terminated one leaves the inventory.";

static int target_event(int argc, char **argv, Drover__V1__TargetEvent__Kind kind)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_target_batch batch = {0};
    Drover__V1__Target *target = NULL;
    uint8_t *bytes = NULL;
    dr_key *operator_key = NULL;
    dr_config *cfg =
        dr_program_start("drover-producer", register_settings, sizeof register_settings / sizeof register_settings[0],
                         argc, argv, launch_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    dr_target_fields fields = target_fields_from(cfg);
    dr_kafka_options kafka;
    int timeout_ms;
    int terminated = kind == DROVER__V1__TARGET_EVENT__KIND__KIND_TERMINATED;
    if (dr_config_positional(cfg, &positional) != 0 || dr_config_string(cfg, "file") || !fields.id) {
        dr_error_set(&err, DR_ERR_USAGE, "%s", launch_usage);
        goto fail;
    }
    if (dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK ||
        dr_producer_operator_key(cfg, &operator_key, &err) != DR_OK)
        goto fail;
    /* The register checks, through the same builder. */
    if (!terminated && (dr_target_batch_add(&batch, &fields, "target", &err) != DR_OK ||
                        dr_target_decode(batch.items[0].bytes, batch.items[0].len, &target, &err) != DR_OK))
        goto fail;
    size_t len;
    if (dr_target_event_encode(operator_key, kind, fields.id, target, &bytes, &len, &err) != DR_OK)
        goto fail;
    if (dr_table_put(&kafka, DR_TOPIC_EVENTS, fields.id, bytes, len, timeout_ms, &err) != DR_OK)
        goto fail;
    printf("target %s %s\n", fields.id, terminated ? "terminated" : "launched");
    goto cleanup;
fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    free(bytes);
    if (target)
        drover__v1__target__free_unpacked(target, NULL);
    dr_target_batch_free(&batch);
    dr_key_free(operator_key);
    dr_config_free(cfg);
    return exit_code;
}

static int target_launch(int argc, char **argv)
{
    return target_event(argc, argv, DROVER__V1__TARGET_EVENT__KIND__KIND_LAUNCHED);
}

static int target_terminate(int argc, char **argv)
{
    return target_event(argc, argv, DROVER__V1__TARGET_EVENT__KIND__KIND_TERMINATED);
}

/* ---- dispatch ---- */

static const dr_producer_verb target_verbs[] = {
    {"register", target_register, "add or update targets in the inventory, from flags or a JSON/CSV file"},
    {"list", target_list, "list the inventory's targets"},
    {"launch", target_launch, "announce a launched target (the control plane adds it and runs on-launch associations)"},
    {"terminate", target_terminate, "announce a terminated target (the control plane removes it)"},
};

const dr_producer_command dr_command_target = {"target", target_verbs, sizeof target_verbs / sizeof target_verbs[0],
                                               NULL, NULL};
