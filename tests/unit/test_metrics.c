/* The Prometheus registry: exact text out, exact sums under concurrent updates. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "metrics.h"

static char *render(dr_metrics *m)
{
    size_t len = 0;
    char *text = dr_metrics_render(m, &len);
    CHECK(text != NULL);
    CHECK_INT(text ? strlen(text) : 0, len);
    return text;
}

static void families_render_in_declaration_order_with_series_in_first_use_order(void)
{
    dr_metrics *m = dr_metrics_new();
    const double buckets[] = {0.1, 1, 10};
    dr_metrics_describe(m, "drover_jobs_total", DR_METRIC_COUNTER, "jobs finished, by state", NULL, 0);
    dr_metrics_describe(m, "drover_queue_depth", DR_METRIC_GAUGE, "jobs waiting", NULL, 0);
    dr_metrics_describe(m, "drover_job_seconds", DR_METRIC_HISTOGRAM, "how long a job took", buckets, 3);

    dr_metrics_histogram_observe(m, "drover_job_seconds", "kind=\"install\"", 0.05);
    dr_metrics_histogram_observe(m, "drover_job_seconds", "kind=\"install\"", 0.5);
    dr_metrics_histogram_observe(m, "drover_job_seconds", "kind=\"install\"", 5);
    dr_metrics_histogram_observe(m, "drover_job_seconds", "kind=\"install\"", 50);
    dr_metrics_counter_add(m, "drover_jobs_total", "state=\"SUCCESS\",account=\"111\"", 2);
    dr_metrics_counter_add(m, "drover_jobs_total", "state=\"FAILED\",account=\"111\"", 1);
    dr_metrics_counter_add(m, "drover_jobs_total", "state=\"SUCCESS\",account=\"111\"", 1);
    dr_metrics_gauge_set(m, "drover_queue_depth", "", 7);
    dr_metrics_gauge_add(m, "drover_queue_depth", "", -2.5);

    char *text = render(m);
    CHECK_STR(
        "# HELP drover_jobs_total jobs finished, by state\n"
        "# TYPE drover_jobs_total counter\n"
        "drover_jobs_total{state=\"SUCCESS\",account=\"111\"} 3\n"
        "drover_jobs_total{state=\"FAILED\",account=\"111\"} 1\n"
        "# HELP drover_queue_depth jobs waiting\n"
        "# TYPE drover_queue_depth gauge\n"
        "drover_queue_depth 4.5\n"
        "# HELP drover_job_seconds how long a job took\n"
        "# TYPE drover_job_seconds histogram\n"
        "drover_job_seconds_bucket{kind=\"install\",le=\"0.1\"} 1\n"
        "drover_job_seconds_bucket{kind=\"install\",le=\"1\"} 2\n"
        "drover_job_seconds_bucket{kind=\"install\",le=\"10\"} 3\n"
        "drover_job_seconds_bucket{kind=\"install\",le=\"+Inf\"} 4\n"
        "drover_job_seconds_sum{kind=\"install\"} 55.55\n"
        "drover_job_seconds_count{kind=\"install\"} 4\n",
        text);
    free(text);
    dr_metrics_free(m);
}

static void histograms_without_labels_and_bounds_on_the_edge(void)
{
    dr_metrics *m = dr_metrics_new();
    const double unsorted[] = {10, 1, 1, INFINITY};
    dr_metrics_describe(m, "h", DR_METRIC_HISTOGRAM, "", unsorted, 4);
    dr_metrics_histogram_observe(m, "h", "", 1); /* le is inclusive */
    dr_metrics_histogram_observe(m, "h", NULL, 0);
    char *text = render(m);
    CHECK_STR(
        "# HELP h \n"
        "# TYPE h histogram\n"
        "h_bucket{le=\"1\"} 2\n"
        "h_bucket{le=\"10\"} 2\n"
        "h_bucket{le=\"+Inf\"} 2\n"
        "h_sum 1\n"
        "h_count 2\n",
        text);
    free(text);
    dr_metrics_free(m);
}

static void values_print_as_the_shortest_exact_decimal(void)
{
    dr_metrics *m = dr_metrics_new();
    dr_metrics_describe(m, "g", DR_METRIC_GAUGE, "line one\nback\\slash", NULL, 0);
    const double values[] = {0.1, 1e20, 123456789012, -0.0, 1.0 / 3, NAN, -INFINITY, 1e-7};
    char labels[32];
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        snprintf(labels, sizeof labels, "i=\"%zu\"", i);
        dr_metrics_gauge_set(m, "g", labels, values[i]);
    }
    char *text = render(m);
    CHECK_STR(
        "# HELP g line one\\nback\\\\slash\n"
        "# TYPE g gauge\n"
        "g{i=\"0\"} 0.1\n"
        "g{i=\"1\"} 1e+20\n"
        "g{i=\"2\"} 123456789012\n"
        "g{i=\"3\"} 0\n"
        "g{i=\"4\"} 0.3333333333333333\n"
        "g{i=\"5\"} NaN\n"
        "g{i=\"6\"} -Inf\n"
        "g{i=\"7\"} 1e-07\n",
        text);
    free(text);
    dr_metrics_free(m);
}

static void misuse_is_absorbed_not_fatal(void)
{
    dr_metrics *m = dr_metrics_new();
    dr_metrics_counter_add(m, "undescribed_total", "", 1);       /* typed by its first use */
    dr_metrics_gauge_set(m, "undescribed_total", "", 5);         /* scalar calls share a value */
    dr_metrics_counter_add(m, "undescribed_total", "", -1);      /* counters only go up */
    dr_metrics_histogram_observe(m, "undescribed_total", "", 1); /* wrong shape: dropped */
    dr_metrics_histogram_observe(m, "bare_seconds", "", 2);
    dr_metrics_describe(m, "undescribed_total", DR_METRIC_COUNTER, "now described", NULL, 0);
    dr_metrics_describe(m, "undescribed_total", DR_METRIC_GAUGE, "ignored: described already", NULL, 0);
    dr_metrics_counter_add(NULL, "x", "", 1);
    dr_metrics_free(NULL);
    char *text = render(m);
    CHECK_STR(
        "# HELP undescribed_total now described\n"
        "# TYPE undescribed_total counter\n"
        "undescribed_total 5\n"
        "# TYPE bare_seconds histogram\n"
        "bare_seconds_bucket{le=\"+Inf\"} 1\n"
        "bare_seconds_sum 2\n"
        "bare_seconds_count 1\n",
        text);
    free(text);
    dr_metrics_free(m);
}

#define ADDERS 4
#define ADDS_EACH 100000

static void *add_many(void *arg)
{
    dr_metrics *m = arg;
    for (int i = 0; i < ADDS_EACH; i++) {
        dr_metrics_counter_add(m, "c_total", i % 2 ? "parity=\"odd\"" : "parity=\"even\"", 1);
        dr_metrics_gauge_add(m, "g", "", 1);
        dr_metrics_histogram_observe(m, "h", "", 0.5);
    }
    return NULL;
}

static void concurrent_updates_from_four_threads_sum_exactly(void)
{
    dr_metrics *m = dr_metrics_new();
    dr_metrics_describe(m, "c_total", DR_METRIC_COUNTER, "c", NULL, 0);
    dr_metrics_describe(m, "g", DR_METRIC_GAUGE, "g", NULL, 0);
    const double one[] = {1};
    dr_metrics_describe(m, "h", DR_METRIC_HISTOGRAM, "h", one, 1);
    pthread_t threads[ADDERS];
    for (int i = 0; i < ADDERS; i++)
        CHECK_INT(0, pthread_create(&threads[i], NULL, add_many, m));
    for (int i = 0; i < ADDERS; i++)
        pthread_join(threads[i], NULL);
    char *text = render(m);
    CHECK_STR(
        "# HELP c_total c\n"
        "# TYPE c_total counter\n"
        "c_total{parity=\"even\"} 200000\n"
        "c_total{parity=\"odd\"} 200000\n"
        "# HELP g g\n"
        "# TYPE g gauge\n"
        "g 400000\n"
        "# HELP h h\n"
        "# TYPE h histogram\n"
        "h_bucket{le=\"1\"} 400000\n"
        "h_bucket{le=\"+Inf\"} 400000\n"
        "h_sum 200000\n"
        "h_count 400000\n",
        text);
    free(text);
    dr_metrics_free(m);
}

static void label_values_are_escaped_and_cut_cleanly(void)
{
    char buf[64];
    CHECK_STR("a\\\"b\\\\c\\nd", dr_metrics_label_escape("a\"b\\c\nd", buf, sizeof buf));
    CHECK_STR("", dr_metrics_label_escape(NULL, buf, sizeof buf));
    char small[4];
    CHECK_STR("ab", dr_metrics_label_escape("ab\"c", small, sizeof small)); /* never half an escape */
    CHECK_STR("a", dr_metrics_label_escape("a\xc3\xa9", small, 3));         /* never half a character */
    CHECK_STR("a\xc3\xa9", dr_metrics_label_escape("a\xc3\xa9", small, 4));
}

int main(void)
{
    families_render_in_declaration_order_with_series_in_first_use_order();
    histograms_without_labels_and_bounds_on_the_edge();
    values_print_as_the_shortest_exact_decimal();
    misuse_is_absorbed_not_fatal();
    concurrent_updates_from_four_threads_sum_exactly();
    label_values_are_escaped_and_cut_cleanly();
    return check_done("metrics");
}
