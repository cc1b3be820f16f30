/*
 * completion.h - a program's bash completion, built from the same settings
 * tables its --help prints (config.h), so the two cannot disagree.
 *
 * `drover-producer completion bash` prints a script that defines one
 * function, _drover_producer, and registers it with `complete`.  It
 * completes the command and verb words, then the verb's flags (--name and,
 * for a boolean, --no-name; --help), then a flag's value: the levels for
 * --log-level, the formats for --output/-o, install/uninstall for --action,
 * reinstall/in-place for --installation-type; any other value and any
 * argument fall back to bash's own file name completion (complete -o
 * default).  Load it with `source <(drover-producer completion bash)` or
 * save it as /etc/bash_completion.d/drover-producer.
 */
#ifndef DROVER_COMPLETION_H
#define DROVER_COMPLETION_H

#include <stddef.h>

#include "config.h"
#include "strbuf.h"

/* One verb and its settings.  name: "" for a program without verbs, "deploy", or "package build". */
typedef struct dr_completion_verb {
    const char *name;
    const dr_setting *settings;
    size_t setting_count;
} dr_completion_verb;

/*
 * Append program's bash completion script to out.  A verb's first word is a
 * command (completed after the program), its second (if any) a verb of that
 * command; "completion bash" is offered too.
 */
void dr_completion_bash(const char *program, const dr_completion_verb *verbs, size_t count, dr_strbuf *out);

/*
 * `PROGRAM completion SHELL`, argv being what follows "completion": prints
 * the script for bash (DR_EXIT_OK), its usage for --help, and refuses
 * anything else (DR_EXIT_USAGE).  Returns the exit code.
 */
int dr_completion_command(const char *program, const dr_completion_verb *verbs, size_t count, int argc, char **argv);

/* The values a setting takes, space-separated, when it has a fixed few ("debug info warn error"); else NULL. */
const char *dr_completion_choices(const dr_setting *setting);

#endif
