#include "faults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_WORDS 6

/* Split line into at most MAX_WORDS space-separated words (in place); the count. */
static int split(char *line, char *words[MAX_WORDS])
{
    int n = 0;
    char *save = NULL;
    for (char *w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == MAX_WORDS)
            return -1;
        words[n++] = w;
    }
    return n;
}

/* A whole decimal number in [min, max]; 0 when word is not one. */
static int number(const char *word, long min, long max, long *out)
{
    char *end = NULL;
    long v = strtol(word, &end, 10);
    if (!word[0] || *end || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

static int api_key(const char *word, long *out)
{
    static const struct {
        const char *name;
        int key;
    } apis[] = {{"produce", 0},       {"fetch", 1},        {"metadata", 3},
                {"offset-commit", 8}, {"offset-fetch", 9}, {"find-coordinator", 10},
                {"join-group", 11},   {"heartbeat", 12},   {"sync-group", 14}};
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
        if (strcasecmp(word, apis[i].name) == 0) {
            *out = apis[i].key;
            return 1;
        }
    return number(word, 0, 100, out);
}

static int error_code(const char *word, long *out)
{
    const struct rd_kafka_err_desc *descs = NULL;
    size_t count = 0;
    rd_kafka_get_err_descs(&descs, &count);
    for (size_t i = 0; i < count; i++)
        if (descs[i].name && descs[i].code > 0 && strcasecmp(word, descs[i].name) == 0) {
            *out = descs[i].code;
            return 1;
        }
    return number(word, 1, 1000, out);
}

dr_status dr_broker_fault_apply(rd_kafka_mock_cluster_t *cluster, const char *topic_prefix, const char *line,
                                char *summary, size_t summary_size, dr_error *err)
{
    char copy[512];
    char *w[MAX_WORDS];
    long a = 0, b = 0, c = 0;
    rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (snprintf(copy, sizeof copy, "%s", line) >= (int)sizeof copy)
        return dr_error_set(err, DR_ERR_USAGE, "the command is longer than %zu bytes", sizeof copy - 1);
    int n = split(copy, w);
    if (n < 1)
        return dr_error_set(err, DR_ERR_USAGE, "an empty command");
    if ((strcmp(w[0], "down") == 0 || strcmp(w[0], "up") == 0) && n == 2 && number(w[1], -1, 1000, &a)) {
        int down = w[0][0] == 'd';
        kerr = down ? rd_kafka_mock_broker_set_down(cluster, (int32_t)a)
                    : rd_kafka_mock_broker_set_up(cluster, (int32_t)a);
        snprintf(summary, summary_size, "broker %ld %s", a, down ? "down" : "up");
    } else if (strcmp(w[0], "leader") == 0 && n == 4 && number(w[2], 0, 100000, &a) && number(w[3], -1, 1000, &b)) {
        char topic[256];
        if (strncmp(w[1], topic_prefix, strlen(topic_prefix)) == 0)
            snprintf(topic, sizeof topic, "%s", w[1]);
        else
            snprintf(topic, sizeof topic, "%s%s", topic_prefix, w[1]);
        kerr = rd_kafka_mock_partition_set_leader(cluster, topic, (int32_t)a, (int32_t)b);
        snprintf(summary, summary_size, "%s[%ld] led by broker %ld", topic, a, b);
    } else if (strcmp(w[0], "errors") == 0 && n == 4 && api_key(w[1], &a) && number(w[2], 1, 100000, &b) &&
               error_code(w[3], &c)) {
        rd_kafka_resp_err_t *codes = malloc((size_t)b * sizeof *codes);
        if (!codes)
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        for (long i = 0; i < b; i++)
            codes[i] = (rd_kafka_resp_err_t)c;
        rd_kafka_mock_push_request_errors_array(cluster, (int16_t)a, (size_t)b, codes);
        free(codes);
        snprintf(summary, summary_size, "the next %ld requests of API %ld fail with %s", b, a,
                 rd_kafka_err2name((rd_kafka_resp_err_t)c));
    } else if (strcmp(w[0], "clear-errors") == 0 && n == 2 && api_key(w[1], &a)) {
        rd_kafka_mock_clear_request_errors(cluster, (int16_t)a);
        snprintf(summary, summary_size, "requests of API %ld no longer fail", a);
    } else if (strcmp(w[0], "rtt") == 0 && n == 3 && number(w[1], -1, 1000, &a) && number(w[2], 0, 600000, &b)) {
        kerr = rd_kafka_mock_broker_set_rtt(cluster, (int32_t)a, (int)b);
        snprintf(summary, summary_size, "broker %ld answers %ld ms late", a, b);
    } else {
        return dr_error_set(err, DR_ERR_USAGE,
                            "not a fault command: '%s' (down B | up B | leader TOPIC P B | "
                            "errors API COUNT ERROR | clear-errors API | rtt B MS)",
                            line);
    }
    if (kerr)
        return dr_error_set(err, DR_ERR_KAFKA, "%s: %s", line, rd_kafka_err2str(kerr));
    return DR_OK;
}
