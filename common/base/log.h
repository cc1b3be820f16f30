/*
 * log.h - structured logging for operators.
 *
 * One line per event on stderr, logfmt style:
 *   ts=2026-11-23T07:30:00.123Z level=info prog=drover-worker event=job.done job=... msg="..."
 * The caller passes the event name and the key=value pairs already formatted;
 * dr_log_quote() makes a value safe to embed (quotes it when it has spaces,
 * quotes or control characters).  Lines about a job carry job= and deployment=.
 */
#ifndef DROVER_LOG_H
#define DROVER_LOG_H

#include <stddef.h>

typedef enum dr_log_level {
    DR_LOG_DEBUG = 0,
    DR_LOG_INFO,
    DR_LOG_WARN,
    DR_LOG_ERROR,
} dr_log_level;

/* Set the program name printed as prog= (copied; at most 63 bytes) and the lowest level printed. */
void dr_log_init(const char *program, dr_log_level min_level);

/* Parse "debug", "info", "warn" or "error"; returns -1 for anything else. */
int dr_log_level_parse(const char *text);

/* Log one event; fmt formats the rest of the line (key=value pairs). */
void dr_log(dr_log_level level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Write value into buf as a logfmt value: bare if it is a plain token,
 * otherwise double-quoted with \" \\ \n \t escaped and other control bytes
 * as \xNN.  Truncates to fit; returns buf.
 */
char *dr_log_quote(char *buf, size_t size, const char *value);

/* As dr_log_quote, but always double-quoted: a value inside a sentence ("fetching \"URL\": ..."). */
char *dr_quote(char *buf, size_t size, const char *value);

#endif
