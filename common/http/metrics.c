/*
 * metrics.c - the Prometheus registry: families in a growing array (the
 * declaration order is the render order), each with its series in first-use
 * order.  One mutex guards everything; updates are a lookup and an add, and
 * a scrape renders under the same lock so it sees one consistent moment.
 *
 * Lookups are linear: a daemon has tens of families and, per family, tens to
 * hundreds of label sets, where a scan costs less than hashing would.
 */
#include "metrics.h"

#include <math.h> /* the classification macros only: drover_common does not link libm */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* Integers below this print in full ("123"), above it as %g would. */
#define METRICS_INTEGER_LIMIT 1e17
#define METRICS_VALUE_MAX 32

/* One label set of one family. */
typedef struct metric_series {
    char *labels;            /* owned; "" for none */
    double value;            /* counters and gauges */
    uint64_t *bucket_counts; /* owned; histograms: per bucket, not cumulative; the last is +Inf */
    double sum;              /* histograms */
    uint64_t count;          /* histograms */
} metric_series;

typedef struct metric_family {
    char *name; /* owned */
    char *help; /* owned; NULL until described */
    dr_metric_type type;
    int described;
    double *buckets; /* owned; ascending finite upper bounds */
    size_t bucket_count;
    metric_series *series; /* owned array */
    size_t series_count;
    size_t series_alloc;
} metric_family;

struct dr_metrics {
    pthread_mutex_t lock;
    metric_family *families; /* owned array */
    size_t family_count;
    size_t family_alloc;
};

/* ---- the registry's storage ---------------------------------------------- */

/* Grow *array (of elem_size items) so one more fits; 0 on success. */
static int grow_for_one(void **array, size_t count, size_t *alloc, size_t elem_size)
{
    if (count < *alloc)
        return 0;
    size_t want = *alloc ? *alloc * 2 : 8;
    if (want > SIZE_MAX / elem_size)
        return -1;
    void *grown = realloc(*array, want * elem_size);
    if (!grown)
        return -1;
    *array = grown;
    *alloc = want;
    return 0;
}

static void series_clear(metric_series *s)
{
    free(s->labels);
    free(s->bucket_counts);
}

static void family_clear_series(metric_family *f)
{
    for (size_t i = 0; i < f->series_count; i++)
        series_clear(&f->series[i]);
    free(f->series);
    f->series = NULL;
    f->series_count = 0;
    f->series_alloc = 0;
}

static metric_family *find_family(dr_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->family_count; i++)
        if (strcmp(m->families[i].name, name) == 0)
            return &m->families[i];
    return NULL;
}

/* A new, undescribed family at the end of the order; NULL when out of memory. */
static metric_family *add_family(dr_metrics *m, const char *name, dr_metric_type type)
{
    if (grow_for_one((void **)&m->families, m->family_count, &m->family_alloc, sizeof *m->families) != 0)
        return NULL;
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    metric_family *f = &m->families[m->family_count++];
    *f = (metric_family){.name = copy, .type = type};
    return f;
}

/* The family a call of kind type should update, made on first use; NULL to drop the call. */
static metric_family *family_for_use(dr_metrics *m, const char *name, dr_metric_type type)
{
    metric_family *f = find_family(m, name);
    if (!f)
        return add_family(m, name, type);
    /* Counter and gauge calls share a plain value; a histogram's shape differs. */
    if ((f->type == DR_METRIC_HISTOGRAM) != (type == DR_METRIC_HISTOGRAM))
        return NULL;
    return f;
}

static metric_series *find_or_add_series(metric_family *f, const char *labels)
{
    for (size_t i = 0; i < f->series_count; i++)
        if (strcmp(f->series[i].labels, labels) == 0)
            return &f->series[i];
    metric_series fresh = {0};
    fresh.labels = strdup(labels);
    if (!fresh.labels)
        goto fail;
    if (f->type == DR_METRIC_HISTOGRAM) {
        fresh.bucket_counts = calloc(f->bucket_count + 1, sizeof *fresh.bucket_counts);
        if (!fresh.bucket_counts)
            goto fail;
    }
    if (grow_for_one((void **)&f->series, f->series_count, &f->series_alloc, sizeof *f->series) != 0)
        goto fail;
    f->series[f->series_count] = fresh;
    return &f->series[f->series_count++];
fail:
    series_clear(&fresh);
    return NULL;
}

/* The series an update of kind type should change, under the lock; NULL to drop it. */
static metric_series *series_for_use(dr_metrics *m, const char *name, const char *labels, dr_metric_type type)
{
    metric_family *f = family_for_use(m, name, type);
    return f ? find_or_add_series(f, labels ? labels : "") : NULL;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Copy the finite bounds, sorted, without repeats; 0 on success. */
static int copy_buckets(const double *buckets, size_t count, double **out, size_t *out_count)
{
    *out = NULL;
    *out_count = 0;
    if (!buckets || count == 0)
        return 0;
    double *copy = malloc(count * sizeof *copy);
    if (!copy)
        return -1;
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        if (isfinite(buckets[i]))
            copy[kept++] = buckets[i];
    qsort(copy, kept, sizeof *copy, compare_doubles);
    size_t unique = 0;
    for (size_t i = 0; i < kept; i++)
        if (unique == 0 || copy[i] != copy[unique - 1])
            copy[unique++] = copy[i];
    *out = copy;
    *out_count = unique;
    return 0;
}

/* ---- the public calls ----------------------------------------------------- */

dr_metrics *dr_metrics_new(void)
{
    dr_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void dr_metrics_free(dr_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->family_count; i++) {
        metric_family *f = &m->families[i];
        family_clear_series(f);
        free(f->name);
        free(f->help);
        free(f->buckets);
    }
    free(m->families);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void dr_metrics_describe(dr_metrics *m, const char *name, dr_metric_type type, const char *help, const double *buckets,
                         size_t bucket_count)
{
    if (!m || !name)
        return;
    char *help_copy = strdup(help ? help : "");
    double *bounds = NULL;
    size_t bound_count = 0;
    if (!help_copy || (type == DR_METRIC_HISTOGRAM && copy_buckets(buckets, bucket_count, &bounds, &bound_count) != 0))
        goto cleanup;

    pthread_mutex_lock(&m->lock);
    metric_family *f = find_family(m, name);
    if (!f)
        f = add_family(m, name, type);
    if (f && !f->described) {
        /* Used before described: series kept under another bucket layout cannot carry over. */
        if (type == DR_METRIC_HISTOGRAM || f->type == DR_METRIC_HISTOGRAM)
            family_clear_series(f);
        f->described = 1;
        f->type = type;
        free(f->help);
        f->help = help_copy;
        help_copy = NULL;
        free(f->buckets);
        f->buckets = bounds;
        f->bucket_count = bound_count;
        bounds = NULL;
    }
    pthread_mutex_unlock(&m->lock);
cleanup:
    free(help_copy);
    free(bounds);
}

void dr_metrics_counter_add(dr_metrics *m, const char *name, const char *labels, double value)
{
    if (!m || !name || !(value >= 0))
        return;
    pthread_mutex_lock(&m->lock);
    metric_series *s = series_for_use(m, name, labels, DR_METRIC_COUNTER);
    if (s)
        s->value += value;
    pthread_mutex_unlock(&m->lock);
}

void dr_metrics_gauge_set(dr_metrics *m, const char *name, const char *labels, double value)
{
    if (!m || !name)
        return;
    pthread_mutex_lock(&m->lock);
    metric_series *s = series_for_use(m, name, labels, DR_METRIC_GAUGE);
    if (s)
        s->value = value;
    pthread_mutex_unlock(&m->lock);
}

void dr_metrics_gauge_add(dr_metrics *m, const char *name, const char *labels, double value)
{
    if (!m || !name)
        return;
    pthread_mutex_lock(&m->lock);
    metric_series *s = series_for_use(m, name, labels, DR_METRIC_GAUGE);
    if (s)
        s->value += value;
    pthread_mutex_unlock(&m->lock);
}

void dr_metrics_histogram_observe(dr_metrics *m, const char *name, const char *labels, double value)
{
    if (!m || !name)
        return;
    pthread_mutex_lock(&m->lock);
    metric_family *f = family_for_use(m, name, DR_METRIC_HISTOGRAM);
    metric_series *s = f ? find_or_add_series(f, labels ? labels : "") : NULL;
    if (s) {
        /* "le" buckets: the first bound at or above the value; NaN lands in +Inf. */
        size_t bucket = 0;
        while (bucket < f->bucket_count && !(value <= f->buckets[bucket]))
            bucket++;
        s->bucket_counts[bucket]++;
        s->sum += value;
        s->count++;
    }
    pthread_mutex_unlock(&m->lock);
}

/* ---- rendering ------------------------------------------------------------ */

/* value as Prometheus text: the shortest decimal that reads back as the same double. */
static const char *format_value(double value, char buf[METRICS_VALUE_MAX])
{
    if (isnan(value))
        return "NaN";
    if (isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    if (value == 0)
        return "0"; /* not "-0" */
    /* The range test comes first, so the cast to long long is always defined. */
    if (value > -METRICS_INTEGER_LIMIT && value < METRICS_INTEGER_LIMIT && value == (double)(long long)value) {
        snprintf(buf, METRICS_VALUE_MAX, "%.0f", value);
        return buf;
    }
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, METRICS_VALUE_MAX, "%.*g", precision, value);
        if (strtod(buf, NULL) == value)
            break;
    }
    return buf;
}

/* HELP text escapes only backslash and newline (the text format's rule). */
static void render_help(dr_strbuf *out, const char *name, const char *help)
{
    dr_strbuf_printf(out, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            dr_strbuf_puts(out, "\\\\");
        else if (*p == '\n')
            dr_strbuf_puts(out, "\\n");
        else
            dr_strbuf_append(out, p, 1);
    }
    dr_strbuf_puts(out, "\n");
}

/* One sample line: name+suffix, the labels with an optional extra one, the value. */
static void render_sample(dr_strbuf *out, const char *name, const char *suffix, const char *labels,
                          const char *extra_label, const char *value)
{
    dr_strbuf_puts(out, name);
    dr_strbuf_puts(out, suffix);
    if (labels[0] || extra_label) {
        dr_strbuf_printf(out, "{%s%s%s}", labels, labels[0] && extra_label ? "," : "", extra_label ? extra_label : "");
    }
    dr_strbuf_printf(out, " %s\n", value);
}

static void render_histogram_series(dr_strbuf *out, const metric_family *f, const metric_series *s)
{
    char bound[METRICS_VALUE_MAX], value[METRICS_VALUE_MAX];
    char le[METRICS_VALUE_MAX + 8];
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= f->bucket_count; b++) {
        cumulative += s->bucket_counts[b];
        snprintf(le, sizeof le, "le=\"%s\"", b < f->bucket_count ? format_value(f->buckets[b], bound) : "+Inf");
        snprintf(value, sizeof value, "%llu", (unsigned long long)cumulative);
        render_sample(out, f->name, "_bucket", s->labels, le, value);
    }
    render_sample(out, f->name, "_sum", s->labels, NULL, format_value(s->sum, value));
    snprintf(value, sizeof value, "%llu", (unsigned long long)s->count);
    render_sample(out, f->name, "_count", s->labels, NULL, value);
}

static void render_family(dr_strbuf *out, const metric_family *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    if (f->help)
        render_help(out, f->name, f->help);
    dr_strbuf_printf(out, "# TYPE %s %s\n", f->name, type_names[f->type]);
    char value[METRICS_VALUE_MAX];
    for (size_t i = 0; i < f->series_count; i++) {
        const metric_series *s = &f->series[i];
        if (f->type == DR_METRIC_HISTOGRAM)
            render_histogram_series(out, f, s);
        else
            render_sample(out, f->name, "", s->labels, NULL, format_value(s->value, value));
    }
}

char *dr_metrics_render(dr_metrics *m, size_t *len)
{
    dr_strbuf out = DR_STRBUF_INIT;
    if (m) {
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->family_count; i++)
            render_family(&out, &m->families[i]);
        pthread_mutex_unlock(&m->lock);
    }
    return dr_strbuf_detach(&out, len);
}

char *dr_metrics_label_escape(const char *value, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    size_t out = 0;
    const unsigned char *p = (const unsigned char *)(value ? value : "");
    for (; *p; p++) {
        const char *escaped = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t need = escaped ? 2 : 1;
        if (out + need >= size)
            break;
        if (escaped) {
            memcpy(buf + out, escaped, 2);
        } else {
            buf[out] = (char)*p;
        }
        out += need;
    }
    /* Cut short inside a UTF-8 character: drop its lead and continuation bytes. */
    if (*p && (*p & 0xC0) == 0x80) {
        while (out > 0 && ((unsigned char)buf[out - 1] & 0xC0) == 0x80)
            out--;
        if (out > 0 && (unsigned char)buf[out - 1] >= 0xC0)
            out--;
    }
    buf[out] = '\0';
    return buf;
}

void dr_metrics_build_info(dr_metrics *m, const char *version, const char *commit)
{
    char v[128], c[128], labels[300];
    dr_metrics_describe(m, "drover_build_info", DR_METRIC_GAUGE,
                        "Always 1: the labels say the version and git commit this program was built from", NULL, 0);
    snprintf(labels, sizeof labels, "version=\"%s\",commit=\"%s\"", dr_metrics_label_escape(version, v, sizeof v),
             dr_metrics_label_escape(commit, c, sizeof c));
    dr_metrics_gauge_set(m, "drover_build_info", labels, 1);
}
