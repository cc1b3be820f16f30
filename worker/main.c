/* drover-worker: runs package jobs on targets. */
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} verbs[] = {
    {"apply", cmd_apply, "run one install/uninstall job on a target directory, without Kafka"},
    {"run", cmd_run, "consume jobs from Kafka and run them on local targets (a consumer-group member)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: drover-worker VERB [--help] [settings]\n       drover-worker --version\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
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
    fprintf(stderr, "drover-worker: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return DR_EXIT_USAGE;
}
