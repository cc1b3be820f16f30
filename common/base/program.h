/*
 * program.h - how every Drover program and command starts and stops, so
 * that all of them behave alike: the settings from flags, environment and
 * file (config.h); --help; the log level; the stop signals.
 */
#ifndef DROVER_PROGRAM_H
#define DROVER_PROGRAM_H

#include <signal.h>
#include <stddef.h>

#include "config.h"

/* Exit codes shared by every program. */
enum {
    DR_EXIT_OK = 0,
    DR_EXIT_FAILED = 1, /* a failure after the request was understood */
    DR_EXIT_USAGE = 2,  /* a bad request: flag, setting or argument; nothing was done */
};

/*
 * Load a command's settings (table starts with DR_COMMON_SETTINGS) from argv
 * (the arguments after the program's and command's names) and set up
 * logging.  program names the command in messages ("drover-worker run");
 * its first word is the name log lines carry.  Returns the config (caller
 * frees) when the command should run; NULL when it is already done:
 *   - --help (which wins over a bad flag) printed the usage and the table
 *     to stdout: *exit_code DR_EXIT_OK;
 *   - a bad flag or value, or a log-level that is not debug, info, warn or
 *     error, was reported on stderr as "PROGRAM: detail" with the usage's
 *     first line: DR_EXIT_USAGE;
 *   - memory ran out: DR_EXIT_FAILED.
 */
dr_config *dr_program_start(const char *program, const dr_setting *table, size_t count, int argc, char **argv,
                            const char *usage, int *exit_code);

/*
 * From now on SIGTERM and SIGINT set the flag dr_program_stop_flag()
 * returns (a daemon's loop checks it, finishes its step and returns), and
 * SIGPIPE is ignored (a peer that went away is an error on that write, not
 * the end of the process).
 */
void dr_program_catch_stop_signals(void);
/*
 * A daemon's stop is bounded: once a stop signal arrives, a process still
 * running seconds later exits at once (DR_EXIT_FAILED) with one log line,
 * event=program.stop_timeout.  librdkafka retries a broker that is gone
 * for as long as it is asked to wait, and a pod past its grace period is
 * SIGKILLed anyway; what a daemon must finish (statuses flushed or logged
 * as lost, offsets committed or left to be redelivered) has its own
 * shorter timeouts, so this only cuts the closing of clients short.
 * program is the name the line carries ("drover-worker").  Call it once,
 * with dr_program_catch_stop_signals.
 */
void dr_program_exit_within(const char *program, unsigned seconds);
/* The flag the stop signals set; 0 until one arrives. */
volatile sig_atomic_t *dr_program_stop_flag(void);

#endif
