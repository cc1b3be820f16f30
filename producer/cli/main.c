/*
 * drover-producer: the control plane's command line.  Each command lives in
 * its own cmd_<command>.c; this file only dispatches and holds the settings
 * and error-reporting steps every command shares.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "log.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"package build", cmd_package, "build a package (zips and manifest.json) from per-platform zips or folders"},
    {"package resolve", cmd_package, "show which zip of a manifest a platform gets, and why"},
    {"package publish", cmd_package, "register a built package version (manifest and artifacts URL) in Kafka"},
    {"package list", cmd_package, "list published packages, their versions and default versions"},
    {"package set-default", cmd_package, "make a published version the package's default"},
    {"target register", cmd_target, "add or update targets in the inventory, from flags or a JSON/CSV file"},
    {"target list", cmd_target, "list the inventory's targets"},
    {"target launch", cmd_target, "announce a launched target: on-launch associations run for it"},
    {"target terminate", cmd_target, "announce a terminated target: it leaves the inventory"},
    {"deploy", cmd_deploy, "deploy a package version to selected targets and follow its progress"},
    {"deployment show", cmd_deployment, "show a deployment's latest rollup"},
    {"deployment list", cmd_deployment, "list deployments and their status"},
    {"association create", cmd_association, "create or replace a standing deployment (schedule, launch, default version)"},
    {"association list", cmd_association, "list associations and their last runs"},
    {"association show", cmd_association, "show one association"},
    {"association delete", cmd_association, "delete an association"},
    {"cancel", cmd_cancel, "cancel a deployment: nothing more of it starts"},
    {"keys generate", cmd_keys, "make an Ed25519 key pair the control plane signs jobs with"},
    {"keys id", cmd_keys, "print the id of key files"},
    {"topics create", cmd_topics, "create Drover's topics on a cluster that does not have them"},
    {"serve", cmd_serve, "run the control plane: release deployments' jobs under their rate controls"},
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: drover-producer COMMAND VERB [--help] [settings]\n\ncommands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-20s %s\n", commands[i].name, commands[i].summary);
}

dr_config *dr_producer_load_settings(const dr_setting *table, size_t count, int argc, char **argv, const char *usage_text,
                                     int *exit_code)
{
    dr_error err = {0};
    dr_config *cfg = dr_config_new(table, count);
    if (!cfg) {
        dr_error_set(&err, DR_ERR_NOMEM, "out of memory");
        *exit_code = dr_producer_fail(&err);
        return NULL;
    }
    dr_status status = dr_config_load(cfg, argc, argv, &err);
    /* --help wins over a bad flag: someone asking for help should get it. */
    if (dr_config_help_requested(cfg)) {
        dr_config_print_help(cfg, stdout, usage_text);
        *exit_code = DR_EXIT_OK;
        goto fail;
    }
    if (status == DR_OK) {
        int level = dr_log_level_parse(dr_config_string(cfg, "log-level"));
        if (level < 0)
            status = dr_error_set(&err, DR_ERR_USAGE, "log-level: '%s' is not debug, info, warn or error",
                                  dr_config_string(cfg, "log-level"));
        else
            dr_log_init("drover-producer", (dr_log_level)level);
    }
    if (status != DR_OK) {
        *exit_code = dr_producer_fail(&err);
        /* The first line of the usage is enough here; --help has the rest. */
        fprintf(stderr, "%.*s\n(--help lists every setting)\n", (int)strcspn(usage_text, "\n"), usage_text);
        goto fail;
    }
    return cfg;

fail:
    dr_config_free(cfg);
    return NULL;
}

dr_status dr_producer_kafka_options(const dr_config *cfg, dr_kafka_options *opt, int *timeout_ms, dr_error *err)
{
    long long seconds = dr_config_int(cfg, "kafka-timeout");
    if (seconds < 1 || seconds > 3600)
        return dr_error_set(err, DR_ERR_USAGE, "kafka-timeout: %lld is not between 1 and 3600 seconds", seconds);
    dr_kafka_options_from_config(opt, cfg, "drover-producer");
    *timeout_ms = (int)(seconds * 1000);
    return DR_OK;
}

static void verbs_usage(FILE *out, const char *command, const dr_producer_verb *verbs, size_t count)
{
    int width = 0;
    for (size_t i = 0; i < count; i++)
        if ((int)strlen(verbs[i].name) > width)
            width = (int)strlen(verbs[i].name);
    fprintf(out, "usage: drover-producer %s VERB [--help] [settings]\n\nverbs:\n", command);
    for (size_t i = 0; i < count; i++)
        fprintf(out, "  %-*s %s\n", width + 1, verbs[i].name, verbs[i].summary);
}

int dr_producer_dispatch(const char *command, const dr_producer_verb *verbs, size_t count, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        verbs_usage(argc < 1 ? stderr : stdout, command, verbs, count);
        return argc < 1 ? DR_EXIT_USAGE : DR_EXIT_OK;
    }
    for (size_t i = 0; i < count; i++)
        if (strcmp(argv[0], verbs[i].name) == 0)
            return verbs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "drover-producer: unknown %s verb '%s'\n", command, argv[0]);
    verbs_usage(stderr, command, verbs, count);
    return DR_EXIT_USAGE;
}

int dr_producer_fail(const dr_error *err)
{
    fprintf(stderr, "drover-producer: %s\n", err->detail[0] ? err->detail : dr_status_message(err->status));
    return err->status == DR_ERR_USAGE ? DR_EXIT_USAGE : DR_EXIT_FAILED;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? DR_EXIT_USAGE : DR_EXIT_OK;
    }
    /* A command with verbs is listed once per verb; match on the command word. */
    size_t word_len = strlen(argv[1]);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strncmp(commands[i].name, argv[1], word_len) == 0 &&
            (commands[i].name[word_len] == '\0' || commands[i].name[word_len] == ' '))
            return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "drover-producer: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return DR_EXIT_USAGE;
}
