/*
 * metrics.h - a thread-safe Prometheus registry: counters, gauges and
 * histograms with labels, rendered in the Prometheus text format (0.0.4).
 *
 * A series is a metric name plus a label string already in Prometheus form
 * ('state="SUCCESS",account="111"', or "" for none); label values must be
 * escaped by the caller with dr_metrics_label_escape.  Describe each metric
 * once (type and help); series appear on first use.  Families render in the
 * order they were described (or first used), series in first-use order.
 *
 * Misuse never crashes: a metric used before or without a description gets
 * the type of the call that created it (counter_add: counter, gauge_*: gauge,
 * observe: a histogram with only the +Inf bucket) and no HELP line; a later
 * describe then sets its help and type (a histogram's series restart, their
 * buckets having changed).  Counter and gauge calls work on either kind; a
 * scalar call on a histogram, or an observation on a scalar, is dropped, as
 * is a negative or NaN counter_add (counters only go up).  Running out of
 * memory drops the update.  A NULL registry is ignored.
 *
 * Values print as the shortest decimal that reads back exactly ("0.1", not
 * "0.10000000000000001"; integers as "3"), with NaN, +Inf and -Inf spelled
 * the Prometheus way.
 */
#ifndef DROVER_METRICS_H
#define DROVER_METRICS_H

#include <stddef.h>

typedef enum dr_metric_type { DR_METRIC_COUNTER, DR_METRIC_GAUGE, DR_METRIC_HISTOGRAM } dr_metric_type;

typedef struct dr_metrics dr_metrics;

dr_metrics *dr_metrics_new(void);
void dr_metrics_free(dr_metrics *m);

/*
 * Declare a metric; help and buckets are copied.  Histograms take their bucket
 * upper bounds (ascending, though they are sorted here; +Inf is implied; NaN,
 * infinite or repeated bounds are left out).  Describing a name a second time
 * changes nothing.
 */
void dr_metrics_describe(dr_metrics *m, const char *name, dr_metric_type type, const char *help, const double *buckets,
                         size_t bucket_count);

void dr_metrics_counter_add(dr_metrics *m, const char *name, const char *labels, double value);
void dr_metrics_gauge_set(dr_metrics *m, const char *name, const char *labels, double value);
void dr_metrics_gauge_add(dr_metrics *m, const char *name, const char *labels, double value);
void dr_metrics_histogram_observe(dr_metrics *m, const char *name, const char *labels, double value);

/* The whole registry as Prometheus text; malloc'd, the caller frees. NULL when out of memory. */
char *dr_metrics_render(dr_metrics *m, size_t *len);

/*
 * Escape a label value (\\, \", \n) into buf; returns buf.  Too long a value
 * is cut short, never inside an escape or a UTF-8 character.  NULL is "".
 */
char *dr_metrics_label_escape(const char *value, char *buf, size_t size);

/*
 * drover_build_info{version="...",commit="..."} 1, the gauge every program
 * serves on its /metrics: what it was built from.  The programs pass
 * dr_build_version() and dr_build_commit() (build_info.h).
 */
void dr_metrics_build_info(dr_metrics *m, const char *version, const char *commit);

#endif
