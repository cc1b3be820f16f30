/*
 * progress.c - the live progress line.  See progress.h.
 */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BAR_WIDEST 20
#define BAR_NARROWEST 10

int64_t dr_progress_eta_ms(uint64_t done, uint64_t total, int64_t elapsed_ms)
{
    if (total > 0 && done >= total)
        return 0;
    if (done == 0 || total == 0 || elapsed_ms <= 0)
        return -1;
    /* In double: elapsed * left can pass 2^63 for a long deployment of many jobs. */
    double eta = (double)elapsed_ms * (double)(total - done) / (double)done;
    return eta > 9.2e18 ? INT64_MAX : (int64_t)eta;
}

unsigned dr_progress_percent(uint64_t done, uint64_t total)
{
    if (total == 0)
        return 0;
    if (done >= total)
        return 100;
    return (unsigned)((double)done * 100.0 / (double)total);
}

void dr_progress_format_duration(int64_t ms, char *buf, size_t size)
{
    if (ms < 0) {
        snprintf(buf, size, "-");
        return;
    }
    long long s = ms / 1000;
    if (s < 60)
        snprintf(buf, size, "%llds", s);
    else if (s < 3600)
        snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, size, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, size, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
}

/* Which parts a try at the line has. */
typedef struct layout {
    size_t bar; /* 0: no bar */
    int fraction, counts, elapsed;
} layout;

static void render(const dr_progress *p, const layout *l, dr_strbuf *out)
{
    char elapsed[32], eta[32];
    if (l->bar) {
        size_t filled = !p->total             ? 0
                        : p->done >= p->total ? l->bar
                                              : (size_t)((double)p->done * (double)l->bar / (double)p->total);
        dr_strbuf_puts(out, "[");
        for (size_t i = 0; i < l->bar; i++)
            dr_strbuf_append(out, i < filled ? "#" : ".", 1);
        dr_strbuf_puts(out, "] ");
    }
    dr_strbuf_printf(out, "%3u%%", dr_progress_percent(p->done, p->total));
    if (l->fraction)
        dr_strbuf_printf(out, "  %llu/%llu", (unsigned long long)p->done, (unsigned long long)p->total);
    if (l->counts && p->counts && p->counts[0])
        dr_strbuf_printf(out, "  %s", p->counts);
    if (l->elapsed) {
        dr_progress_format_duration(p->elapsed_ms, elapsed, sizeof elapsed);
        dr_strbuf_printf(out, "  elapsed %s", elapsed);
    }
    if (p->total == 0 || p->done < p->total) {
        dr_progress_format_duration(dr_progress_eta_ms(p->done, p->total, p->elapsed_ms), eta, sizeof eta);
        dr_strbuf_printf(out, "  ETA %s", eta);
    }
}

void dr_progress_line(const dr_progress *p, size_t width, dr_strbuf *out)
{
    /* The tries, fullest first: the first that fits is drawn. */
    layout tries[BAR_WIDEST - BAR_NARROWEST + 6];
    size_t n = 0;
    for (size_t bar = BAR_WIDEST; bar >= BAR_NARROWEST; bar--)
        tries[n++] = (layout){bar, 1, 1, 1};
    tries[n++] = (layout){BAR_NARROWEST, 1, 0, 1};
    tries[n++] = (layout){BAR_NARROWEST, 1, 0, 0};
    tries[n++] = (layout){0, 1, 0, 0};
    tries[n++] = (layout){0, 0, 0, 0};
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        out->len = start;
        if (out->buf)
            out->buf[start] = '\0';
        render(p, &tries[i], out);
        if (width == 0 || out->len - start <= width)
            return;
    }
    /* Nothing fits: the last try, cut. */
    if (out->buf && out->len > start + width) {
        out->len = start + width;
        out->buf[out->len] = '\0';
    }
}

size_t dr_terminal_width(int fd)
{
    struct winsize ws;
    if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *columns = getenv("COLUMNS");
    char *end = NULL;
    long n = columns ? strtol(columns, &end, 10) : 0;
    if (columns && end != columns && *end == '\0' && n > 0 && n < 100000)
        return (size_t)n;
    return 80;
}
