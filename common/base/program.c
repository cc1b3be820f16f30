/*
 * program.c - start-up and stop signals every program shares.  See program.h.
 */
#include "program.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "completion.h"
#include "log.h"

static volatile sig_atomic_t stop_requested;

/* The one table of exit codes (program.h); docs/cli.md says the same. */
static const struct {
    int code;
    const char *name;
} exit_codes[] = {
    {DR_EXIT_OK, "ok"},
    {DR_EXIT_FAILED, "failed"},
    {DR_EXIT_USAGE, "bad request (nothing done)"},
    {DR_EXIT_REJECTED, "rejected (nothing ran)"},
    {DR_EXIT_TIMED_OUT, "timed out"},
    {DR_EXIT_STOPPED_WAITING, "stopped waiting (the work goes on)"},
};

const char *dr_exit_code_name(int code)
{
    for (size_t i = 0; i < sizeof exit_codes / sizeof exit_codes[0]; i++)
        if (exit_codes[i].code == code)
            return exit_codes[i].name;
    return NULL;
}

void dr_program_print_exit_codes(FILE *out)
{
    fprintf(out, "\nExit status (the same in every Drover program; docs/cli.md):\n");
    for (size_t i = 0; i < sizeof exit_codes / sizeof exit_codes[0]; i++)
        fprintf(out, "  %d  %s\n", exit_codes[i].code, exit_codes[i].name);
}

int dr_program_refuse(const char *program, const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    /* The first line of the usage is enough here; --help has the rest. */
    fprintf(stderr, "\n%.*s\n(--help lists every setting)\n", (int)strcspn(usage, "\n"), usage);
    return DR_EXIT_USAGE;
}

/* While dr_program_describe runs a command: where its start records the table. */
static dr_program_description *describing;

int dr_program_describe(int (*run)(int argc, char **argv), dr_program_description *out)
{
    static char *no_arguments[] = {NULL};
    memset(out, 0, sizeof *out);
    describing = out;
    run(0, no_arguments);
    describing = NULL;
    return out->settings ? 0 : -1;
}

/*
 * What a program prints on a terminal is partly written by others: ids,
 * names and messages off Kafka, a package's script output.  A control
 * character among them (ESC above all) would be obeyed by the terminal:
 * retitle it, move the cursor over earlier lines, rewrite what was shown.
 * So while stdout is a terminal it goes through this filter, which shows
 * each control character but newline and tab as '?'.  Programs print their
 * own control sequences (deploy's live line) only on stderr.
 */
static ssize_t write_shown(void *cookie, const char *buf, size_t size)
{
    (void)cookie;
    char shown[4096];
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof shown ? size - done : sizeof shown;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)buf[done + i];
            shown[i] = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : (char)c;
        }
        for (size_t off = 0; off < n;) {
            ssize_t w = write(STDOUT_FILENO, shown + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return done ? (ssize_t)done : -1;
            off += (size_t)w;
        }
        done += n;
    }
    return (ssize_t)size;
}

static void show_terminal_output_safely(void)
{
    static int done;
    if (done || !isatty(STDOUT_FILENO))
        return;
    done = 1;
    fflush(stdout);
    FILE *shown = fopencookie(NULL, "w", (cookie_io_functions_t){.write = write_shown});
    if (shown) {
        setvbuf(shown, NULL, _IOLBF, 0);
        stdout = shown;
    }
}

dr_config *dr_program_start_args(const char *program, const dr_setting *table, size_t count, size_t max_arguments,
                                 int argc, char **argv, const char *usage, int *exit_code)
{
    if (describing) {
        describing->settings = table;
        describing->setting_count = count;
        describing->usage = usage;
        *exit_code = DR_EXIT_OK;
        return NULL;
    }
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
        dr_program_print_exit_codes(stdout);
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
    char *const *positional = NULL;
    size_t positional_count = status == DR_OK ? dr_config_positional(cfg, &positional) : 0;
    if (status == DR_OK && positional_count > max_arguments)
        status = dr_error_set(&err, DR_ERR_USAGE, "unexpected argument '%.64s'%s", positional[max_arguments],
                              max_arguments ? "" : " (this command takes only flags)");
    if (status != DR_OK) {
        if (status == DR_ERR_NOMEM) {
            fprintf(stderr, "%s: %s\n", program, err.detail[0] ? err.detail : dr_status_message(err.status));
            *exit_code = DR_EXIT_FAILED;
        } else {
            *exit_code =
                dr_program_refuse(program, usage, "%s", err.detail[0] ? err.detail : dr_status_message(err.status));
        }
        goto fail;
    }
    show_terminal_output_safely();
    return cfg;

fail:
    dr_config_free(cfg);
    return NULL;
}

dr_config *dr_program_start(const char *program, const dr_setting *table, size_t count, int argc, char **argv,
                            const char *usage, int *exit_code)
{
    return dr_program_start_args(program, table, count, 0, argc, argv, usage, exit_code);
}

dr_config *dr_program_main(const char *program, const dr_setting *table, size_t count, int argc, char **argv,
                           const char *usage, int *exit_code)
{
    if (argc >= 2 && strcmp(argv[1], "completion") == 0 && !describing) {
        dr_completion_verb self = {"", table, count};
        *exit_code = dr_completion_command(program, &self, 1, argc - 2, argv + 2);
        return NULL;
    }
    return dr_program_start_args(program, table, count, 0, argc - 1, argv + 1, usage, exit_code);
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

int dr_program_thread_start(pthread_t *thread, void *(*run)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(thread, NULL, run, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
