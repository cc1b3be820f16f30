/*
 * program.c - start-up and stop signals every program shares.  See program.h.
 */
#include "program.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static volatile sig_atomic_t stop_requested;

dr_config *dr_program_start(const char *program, const dr_setting *table, size_t count, int argc, char **argv,
                            const char *usage, int *exit_code)
{
    dr_error err = {0};
    dr_config *cfg = dr_config_new(table, count);
    if (!cfg) {
        fprintf(stderr, "%s: out of memory\n", program);
        *exit_code = DR_EXIT_FAILED;
        return NULL;
    }
    dr_status status = dr_config_load(cfg, argc, argv, &err);
    /* --help wins over a bad flag: someone asking for help should get it. */
    if (dr_config_help_requested(cfg)) {
        dr_config_print_help(cfg, stdout, usage);
        *exit_code = DR_EXIT_OK;
        goto fail;
    }
    if (status == DR_OK) {
        const char *level_text = dr_config_string(cfg, "log-level");
        int level = dr_log_level_parse(level_text);
        if (level < 0) {
            status = dr_error_set(&err, DR_ERR_USAGE, "log-level: '%.32s' is not debug, info, warn or error",
                                  level_text ? level_text : "");
        } else {
            char log_name[64];
            snprintf(log_name, sizeof log_name, "%.*s", (int)strcspn(program, " "), program);
            dr_log_init(log_name, (dr_log_level)level);
        }
    }
    if (status != DR_OK) {
        fprintf(stderr, "%s: %s\n", program, err.detail[0] ? err.detail : dr_status_message(err.status));
        /* The first line of the usage is enough here; --help has the rest. */
        fprintf(stderr, "%.*s\n(--help lists every setting)\n", (int)strcspn(usage, "\n"), usage);
        *exit_code = status == DR_ERR_NOMEM ? DR_EXIT_FAILED : DR_EXIT_USAGE;
        goto fail;
    }
    return cfg;

fail:
    dr_config_free(cfg);
    return NULL;
}

/* The stop deadline (dr_program_exit_within): armed by the first stop signal. */
static unsigned stop_deadline_seconds;
static char stop_deadline_line[320];
static size_t stop_deadline_len;

static void on_stop_deadline(int sig)
{
    (void)sig;
    ssize_t ignored = write(2, stop_deadline_line, stop_deadline_len);
    (void)ignored;
    _exit(DR_EXIT_FAILED);
}

static void on_stop_signal(int sig)
{
    (void)sig;
    if (!stop_requested && stop_deadline_seconds)
        alarm(stop_deadline_seconds);
    stop_requested = 1;
}

void dr_program_catch_stop_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void dr_program_exit_within(const char *program, unsigned seconds)
{
    /* Formatted now: a signal handler may only write it. */
    int n = snprintf(stop_deadline_line, sizeof stop_deadline_line,
                     "level=error prog=%s event=program.stop_timeout seconds=%u msg=\"still running %u s after the "
                     "stop signal (Kafka gone?): exiting at once, without closing\"\n",
                     program, seconds, seconds);
    stop_deadline_len = n < 0 ? 0 : (size_t)n < sizeof stop_deadline_line ? (size_t)n : sizeof stop_deadline_line - 1;
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_deadline;
    sigaction(SIGALRM, &sa, NULL);
    stop_deadline_seconds = seconds;
}

volatile sig_atomic_t *dr_program_stop_flag(void)
{
    return &stop_requested;
}
