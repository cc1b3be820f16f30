/*
 * drover-producer: the control plane's command line.  Each command lives in
 * its own cmd_<command>.c; this file only dispatches and holds the settings
 * and error-reporting steps every command shares.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "build_info.h"
#include "commands.h"
#include "completion.h"
#include "deploy.h"
#include "log.h"

/* The commands in the order usage lists them; a command's verbs are listed from its own table. */
static const dr_producer_command deploy_command = {
    "deploy", NULL, 0, cmd_deploy, "deploy a package version to selected targets and follow its progress"};
static const dr_producer_command cancel_command = {"cancel", NULL, 0, cmd_cancel,
                                                   "cancel a deployment: nothing more of it starts"};
static const dr_producer_command audit_command = {
    "audit", NULL, 0, cmd_audit, "print the control plane's decisions on requests: who asked what, allowed or refused"};
static const dr_producer_command serve_command = {
    "serve", NULL, 0, cmd_serve, "run the control plane: release deployments' jobs under their rate controls"};
static int cmd_completion(int argc, char **argv);
static const dr_producer_command completion_command = {
    "completion", NULL, 0, cmd_completion, "print the bash completion: source <(drover-producer completion bash)"};
static const dr_producer_command *const commands[] = {
    &dr_command_package,     &dr_command_target, &deploy_command, &dr_command_deployment,
    &dr_command_association, &dr_command_fleet,  &cancel_command, &audit_command,
    &dr_command_keys,        &dr_command_topics, &serve_command,  &completion_command,
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "usage: drover-producer COMMAND VERB [--help] [settings]\n       drover-producer --version\n\ncommands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const dr_producer_command *c = commands[i];
        char name[64];
        if (!c->verbs)
            fprintf(out, "  %-20s %s\n", c->name, c->summary);
        for (size_t v = 0; v < c->verb_count; v++) {
            snprintf(name, sizeof name, "%s %s", c->name, c->verbs[v].name);
            fprintf(out, "  %-20s %s\n", name, c->verbs[v].summary);
        }
    }
    dr_program_print_exit_codes(out);
}

static const char top_usage[] = "usage: drover-producer COMMAND VERB [--help] [settings]";

/* Every verb's settings, described (program.h), for the completion script. */
static int cmd_completion(int argc, char **argv)
{
    dr_completion_verb verbs[64];
    char names[64][64];
    size_t count = 0;
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const dr_producer_command *c = commands[i];
        size_t n = c->verbs ? c->verb_count : c == &completion_command ? 0 : 1;
        for (size_t v = 0; v < n && count < 64; v++) {
            dr_program_description d;
            if (dr_program_describe(c->verbs ? c->verbs[v].run : c->run, &d) != 0) {
                fprintf(stderr, "drover-producer: bug: %s %s does not start with dr_program_start\n", c->name,
                        c->verbs ? c->verbs[v].name : "");
                return DR_EXIT_FAILED;
            }
            snprintf(names[count], sizeof names[count], "%s%s%s", c->name, c->verbs ? " " : "",
                     c->verbs ? c->verbs[v].name : "");
            verbs[count] = (dr_completion_verb){names[count], d.settings, d.setting_count};
            count++;
        }
    }
    return dr_completion_command("drover-producer", verbs, count, argc, argv);
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

dr_status dr_producer_operator_key(const dr_config *cfg, dr_key **out, dr_error *err)
{
    const char *path = dr_config_string(cfg, "operator-key");
    *out = NULL;
    if (!path || !path[0])
        return DR_OK;
    dr_status status = dr_key_load_private(path, out, err);
    if (status == DR_ERR_SIGNATURE)
        status = dr_error_set(err, DR_ERR_USAGE, "--operator-key %s: not an Ed25519 private key", path);
    return status;
}

dr_status dr_producer_cancel(const dr_config *cfg, const char *deployment_id, const char *reason, dr_error *err)
{
    dr_kafka_options kafka;
    dr_key *operator_key = NULL;
    int timeout_ms = 0;
    dr_status status = dr_producer_kafka_options(cfg, &kafka, &timeout_ms, err);
    if (status == DR_OK)
        status = dr_producer_operator_key(cfg, &operator_key, err);
    if (status == DR_OK &&
        (status = dr_deploy_cancel(&kafka, timeout_ms, deployment_id, reason, operator_key, err)) == DR_OK)
        printf("deployment %s cancel requested: no more of its jobs will start; jobs already running finish\n",
               deployment_id);
    dr_key_free(operator_key);
    return status;
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
    dr_program_print_exit_codes(out);
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
    if (dr_build_version_requested(argc, argv))
        return dr_build_print_version("drover-producer");
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? DR_EXIT_USAGE : DR_EXIT_OK;
    }
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const dr_producer_command *c = commands[i];
        if (strcmp(c->name, argv[1]) != 0)
            continue;
        return c->verbs ? dr_producer_dispatch(c->name, c->verbs, c->verb_count, argc - 2, argv + 2)
                        : c->run(argc - 2, argv + 2);
    }
    if (argv[1][0] == '-')
        return dr_program_refuse("drover-producer", top_usage, "unknown flag '%.64s' (flags go after the command)",
                                 argv[1]);
    return dr_program_refuse("drover-producer", top_usage, "unknown command '%.64s'", argv[1]);
}
