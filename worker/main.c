/* drover-worker: runs package jobs on targets. */
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "commands.h"
#include "completion.h"

static int cmd_completion(int argc, char **argv);

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} verbs[] = {
    {"apply", cmd_apply, "run one install/uninstall job on a target directory, without Kafka"},
    {"run", cmd_run, "consume jobs from Kafka and run them on local targets (a consumer-group member)"},
    {"completion", cmd_completion, "print the bash completion: source <(drover-worker completion bash)"},
};
#define VERB_COUNT (sizeof verbs / sizeof verbs[0])

static const char top_usage[] = "usage: drover-worker VERB [--help] [settings]";

/* Every verb's settings, described (program.h), for the completion script. */
static int cmd_completion(int argc, char **argv)
{
    dr_completion_verb described[VERB_COUNT];
    size_t count = 0;
    for (size_t i = 0; i < VERB_COUNT; i++) {
        dr_program_description d;
        if (verbs[i].run == cmd_completion)
            continue;
        if (dr_program_describe(verbs[i].run, &d) != 0) {
            fprintf(stderr, "drover-worker: bug: %s does not start with dr_program_start\n", verbs[i].name);
            return DR_EXIT_FAILED;
        }
        described[count++] = (dr_completion_verb){verbs[i].name, d.settings, d.setting_count};
    }
    return dr_completion_command("drover-worker", described, count, argc, argv);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: drover-worker VERB [--help] [settings]\n       drover-worker --version\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(out, "  %-11s %s\n", verbs[i].name, verbs[i].summary);
    dr_program_print_exit_codes(out);
}

int main(int argc, char **argv)
{
    if (dr_build_version_requested(argc, argv))
        return dr_build_print_version("drover-worker");
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? DR_EXIT_USAGE : DR_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(argv[1], verbs[i].name) == 0)
            return verbs[i].run(argc - 2, argv + 2);
    if (argv[1][0] == '-')
        return dr_program_refuse("drover-worker", top_usage, "unknown flag '%.64s' (flags go after the verb)", argv[1]);
    return dr_program_refuse("drover-worker", top_usage, "unknown verb '%.64s'", argv[1]);
}
