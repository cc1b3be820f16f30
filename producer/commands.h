/*
 * commands.h - drover-producer's commands, one file each (cmd_<command>.c).
 * Each cmd_*() takes the arguments after the command name and returns the
 * process exit code; the helpers below give every command the same settings
 * handling and the same error line.
 */
#ifndef DROVER_PRODUCER_COMMANDS_H
#define DROVER_PRODUCER_COMMANDS_H

#include <stddef.h>

#include "config.h"
#include "error.h"

enum {
    DR_EXIT_OK = 0,
    DR_EXIT_FAILED = 1,
    DR_EXIT_USAGE = 2,
};

/* drover-producer package build|resolve ... (cmd_package.c) */
int cmd_package(int argc, char **argv);

/*
 * Load a command's settings (table starts with DR_COMMON_SETTINGS) from
 * argv and set up logging.  Returns the config (caller frees) when the
 * command should run; NULL when it is already done: --help printed usage and
 * the table to stdout (*exit_code 0), or a bad flag was reported (2), or
 * memory ran out (1).
 */
dr_config *dr_producer_load_settings(const dr_setting *table, size_t count, int argc, char **argv, const char *usage,
                                     int *exit_code);

/* Print "drover-producer: <detail>" to stderr; returns 2 for DR_ERR_USAGE, else 1. */
int dr_producer_fail(const dr_error *err);

#endif
