/*
 * program.h - how every Drover program and command starts and stops, so
 * that all of them behave alike: the settings from flags, environment and
 * file (config.h); --help; the log level; the stop signals.
 */
#ifndef DROVER_PROGRAM_H
#define DROVER_PROGRAM_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

/*
 * The exit codes of every Drover program and verb: one meaning each, the
 * same in every program (docs/cli.md is the table; --help says it too).
 */
enum {
    DR_EXIT_OK = 0,              /* done: everything asked for succeeded */
    DR_EXIT_FAILED = 1,          /* a failure after the request was understood (a job or deployment
                                    that did not succeed, Kafka that did not answer, a bad file) */
    DR_EXIT_USAGE = 2,           /* a bad request: flag, setting, argument, or a name that does not
                                    exist; nothing was done */
    DR_EXIT_REJECTED = 3,        /* refused by whoever was to act on it, nothing ran: a job the
                                    target cannot take (apply), a deployment the control plane
                                    refused (deploy) */
    DR_EXIT_TIMED_OUT = 4,       /* stopped at its time limit: a script past its timeout (apply) */
    DR_EXIT_STOPPED_WAITING = 5, /* the command stopped waiting; what it started goes on (deploy
                                    past --wait-timeout) */
    DR_EXIT_TEST_ABORT = 70,     /* testing only: an abrupt exit asked for (serve --exit-after-releases) */
};

/* The meaning of an exit code ("rejected (nothing ran)"), or NULL for one not in --help's table (70 too). */
const char *dr_exit_code_name(int code);
/* "Exit status (...; docs/cli.md):" and a line per code: the table every --help ends with. */
void dr_program_print_exit_codes(FILE *out);

/*
 * Refuse a request the way every program does: "PROGRAM: DETAIL" on stderr,
 * the usage's first line, and where --help is; returns DR_EXIT_USAGE.
 */
int dr_program_refuse(const char *program, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Load a command's settings (table starts with DR_COMMON_SETTINGS) from argv
 * (the arguments after the program's and command's names) and set up
 * logging.  program names the command in messages ("drover-worker run");
 * its first word is the name log lines carry.  Returns the config (caller
 * frees) when the command should run; NULL when it is already done:
 *   - --help (which wins over a bad flag) printed the usage, the table and
 *     the exit codes to stdout: *exit_code DR_EXIT_OK;
 *   - a bad flag or value, a log-level that is not debug, info, warn or
 *     error, or an argument (not a flag) where the command takes none, was
 *     refused as dr_program_refuse does: DR_EXIT_USAGE;
 *   - memory ran out: DR_EXIT_FAILED.
 * When the command runs and stdout is a terminal, stdout from then on shows
 * every control character but newline and tab as '?': what it prints of
 * others' text (ids and messages off Kafka, script output) cannot steer the
 * terminal.  Control sequences of a program's own go to stderr.
 */
dr_config *dr_program_start(const char *program, const dr_setting *table, size_t count, int argc, char **argv,
                            const char *usage, int *exit_code);
/*
 * The same for a command that takes arguments: up to max_arguments of them
 * (DR_PROGRAM_ANY_ARGUMENTS: any number); one more is refused.  Whether
 * enough were given is the command's to check.
 */
#define DR_PROGRAM_ANY_ARGUMENTS ((size_t)-1)
dr_config *dr_program_start_args(const char *program, const dr_setting *table, size_t count, size_t max_arguments,
                                 int argc, char **argv, const char *usage, int *exit_code);
/*
 * The same for a program without verbs (drover-broker, drover-aggregator),
 * from main's own argc and argv: `PROGRAM completion bash` prints the
 * program's bash completion (completion.h) and *exit_code DR_EXIT_OK.
 */
dr_config *dr_program_main(const char *program, const dr_setting *table, size_t count, int argc, char **argv,
                           const char *usage, int *exit_code);

/*
 * What a command's settings are, without running it: run is called with no
 * arguments while its dr_program_start (which every command calls first)
 * only records the table and usage and returns NULL with DR_EXIT_OK.  So
 * the completion script is built from the very tables --help prints.
 * Returns 0, or -1 when run never called dr_program_start (a bug).
 */
typedef struct dr_program_description {
    const dr_setting *settings;
    size_t setting_count;
    const char *usage;
} dr_program_description;
int dr_program_describe(int (*run)(int argc, char **argv), dr_program_description *out);

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
/*
 * pthread_create for a program's helper threads: the thread (and every
 * thread it starts, which inherits its mask) blocks asynchronous signals,
 * so SIGTERM and SIGINT reach the main thread, whose loop waits for them.
 * Faults stay unblocked.  Returns pthread_create's result.
 */
int dr_program_thread_start(pthread_t *thread, void *(*run)(void *), void *arg);
/* The flag the stop signals set; 0 until one arrives. */
volatile sig_atomic_t *dr_program_stop_flag(void);

#endif
