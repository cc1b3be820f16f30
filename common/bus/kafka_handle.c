/*
 * kafka_handle.c - what every Kafka client of Drover's shares: topic names,
 * options from the settings, a librdkafka configuration with Drover's
 * callbacks, handles, metadata look-ups and consumer error reports.
 * kafka.c (producing, group consuming), kafka_read.c (tables, followers)
 * and kafka_admin.c build on it; it calls none of them.
 */
#include "kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_private.h"
#include "log.h"

static const struct {
    const char *suffix;
    int compacted;
} topic_table[DR_TOPIC_COUNT] = {
    [DR_TOPIC_JOBS] = {"jobs", 0},
    [DR_TOPIC_STATUS] = {"status", 0},
    [DR_TOPIC_ROLLUPS] = {"rollups", 1},
    [DR_TOPIC_INVENTORY] = {"inventory", 1},
    [DR_TOPIC_EVENTS] = {"events", 0},
    [DR_TOPIC_PACKAGES] = {"packages", 1},
    [DR_TOPIC_ASSOCIATIONS] = {"associations", 1},
    [DR_TOPIC_DEPLOYMENTS] = {"deployments", 0},
    [DR_TOPIC_CONTROL] = {"control", 0},
    [DR_TOPIC_RELEASES] = {"releases", 0},
    [DR_TOPIC_AUDIT] = {"audit", 0},
    [DR_TOPIC_CHECKPOINTS] = {"checkpoints", 1},
    [DR_TOPIC_AWS_EVENTS] = {"aws-events", 0},
    [DR_TOPIC_FLEET] = {"fleet", 1},
};

const char *dr_topic_suffix(dr_topic topic)
{
    if ((int)topic < 0 || topic >= DR_TOPIC_COUNT)
        return "unknown";
    return topic_table[topic].suffix;
}

int dr_topic_is_compacted(dr_topic topic)
{
    if ((int)topic < 0 || topic >= DR_TOPIC_COUNT)
        return 0;
    return topic_table[topic].compacted;
}

void dr_kafka_options_from_config(dr_kafka_options *opt, const dr_config *cfg, const char *client_id)
{
    memset(opt, 0, sizeof *opt);
    opt->brokers = dr_config_string(cfg, "brokers");
    opt->topic_prefix = dr_config_string(cfg, "topic-prefix");
    char *const *items = NULL;
    opt->property_count = dr_config_list(cfg, "kafka-property", &items);
    opt->properties = items;
    opt->client_id = client_id;
}

const char *dr_kafka_topic_prefix(const dr_kafka_options *opt)
{
    return opt->topic_prefix ? opt->topic_prefix : "drover.";
}

void dr_kafka_topic_name(const dr_kafka_options *opt, dr_topic topic, char *buf, size_t size)
{
    if (topic == DR_TOPIC_AWS_EVENTS && opt->aws_events_topic && opt->aws_events_topic[0])
        snprintf(buf, size, "%s", opt->aws_events_topic);
    else
        snprintf(buf, size, "%s%s", dr_kafka_topic_prefix(opt), dr_topic_suffix(topic));
}

/* Milliseconds left before deadline, never negative. */
int dr_kafka_remaining_ms(int64_t deadline)
{
    int64_t left = deadline - dr_monotonic_ms();
    return left > 0 ? (int)left : 0;
}

/* ---- configuration and the callbacks every handle shares ---- */

/*
 * librdkafka logs the offset reset it does on its own (auto.offset.reset)
 * only as a warning with facility OFFSET.  A reset caused by an error means
 * the committed offset is gone (the embedded broker dropped the oldest data,
 * or retention did): records were skipped, so say it as data loss.
 */
static int is_offset_reset_after_error(int level, const char *fac, const char *buf)
{
    return level <= 4 && strcmp(fac, "OFFSET") == 0 && strstr(buf, "offset reset") != NULL;
}

/* librdkafka's line, without the "[thrd:main]: " that names its thread. */
static const char *without_thread_name(const char *buf)
{
    if (strncmp(buf, "[thrd:", 6) == 0) {
        const char *end = strstr(buf, "]: ");
        if (end)
            return end + 3;
    }
    return buf;
}

static void log_data_loss(const char *librdkafka_message)
{
    char topic[TOPIC_NAME_MAX] = "unknown";
    int partition = -1;
    const char *line = without_thread_name(librdkafka_message);
    /* The line reads "TOPIC [PARTITION]: offset reset (at offset N, ...) to ...". */
    sscanf(line, "%255s [%d]", topic, &partition);
    char quoted[1024];
    dr_log(DR_LOG_ERROR, "kafka.data_loss", "topic=%s partition=%d msg=%s", topic, partition,
           dr_log_quote(quoted, sizeof quoted, line));
}

/* librdkafka's syslog levels onto ours; called from librdkafka's own threads (dr_log is thread-safe). */
static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (is_offset_reset_after_error(level, fac, buf)) {
        log_data_loss(buf);
        return;
    }
    dr_log_level ours = level <= 3 ? DR_LOG_ERROR : level == 4 ? DR_LOG_WARN : level <= 6 ? DR_LOG_INFO : DR_LOG_DEBUG;
    /* A broker connection failing is logged here and again through on_kafka_error: keep the one there. */
    if (strcmp(fac, "FAIL") == 0)
        ours = DR_LOG_DEBUG;
    char quoted[1024];
    dr_log(ours, "kafka.log", "client=%s facility=%s msg=%s", rd_kafka_name(rk), fac,
           dr_log_quote(quoted, sizeof quoted, without_thread_name(buf)));
}

/* Errors not tied to one message: mostly transient (a broker down), so a warning unless fatal. */
static void on_kafka_error(rd_kafka_t *rk, int error_code, const char *reason, void *opaque)
{
    (void)opaque;
    char quoted[1024];
    if (error_code == RD_KAFKA_RESP_ERR__FATAL) {
        char fatal[512] = "";
        rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk, fatal, sizeof fatal);
        dr_log(DR_LOG_ERROR, "kafka.fatal", "client=%s error=%s msg=%s", rd_kafka_name(rk), rd_kafka_err2name(cause),
               dr_log_quote(quoted, sizeof quoted, fatal[0] ? fatal : reason));
        return;
    }
    dr_log(DR_LOG_WARN, "kafka.error", "client=%s error=%s msg=%s", rd_kafka_name(rk),
           rd_kafka_err2name((rd_kafka_resp_err_t)error_code), dr_log_quote(quoted, sizeof quoted, reason));
}

/* origin says where the property came from, so the error points at what to fix. */
dr_status dr_kafka_set_property(rd_kafka_conf_t *conf, const char *origin, const char *name, const char *value,
                                dr_error *err)
{
    char reason[512];
    if (rd_kafka_conf_set(conf, name, value, reason, sizeof reason) != RD_KAFKA_CONF_OK)
        return dr_error_set(err, DR_ERR_USAGE, "%s %s: %s", origin, name, reason);
    return DR_OK;
}

/* One "KEY=VALUE" from the kafka-property setting.  The value is never echoed: it may be a password. */
static dr_status set_user_property(rd_kafka_conf_t *conf, const char *item, dr_error *err)
{
    const char *equals = strchr(item, '=');
    char name[256];
    if (!equals || equals == item || (size_t)(equals - item) >= sizeof name)
        return dr_error_set(err, DR_ERR_USAGE, "kafka-property '%.*s': expected KEY=VALUE",
                            (int)(equals ? equals - item : (ptrdiff_t)strlen(item)), item);
    memcpy(name, item, (size_t)(equals - item));
    name[equals - item] = '\0';
    return dr_kafka_set_property(conf, "kafka-property", name, equals + 1, err);
}

static dr_status check_topic_prefix(const dr_kafka_options *opt, dr_error *err)
{
    size_t longest = 0;
    for (int t = 0; t < DR_TOPIC_COUNT; t++)
        if (strlen(topic_table[t].suffix) > longest)
            longest = strlen(topic_table[t].suffix);
    if (strlen(dr_kafka_topic_prefix(opt)) + longest > 249)
        return dr_error_set(err, DR_ERR_USAGE,
                            "topic-prefix '%.40s...' is too long: Kafka topic names end at 249 characters",
                            dr_kafka_topic_prefix(opt));
    return DR_OK;
}

/*
 * A configuration with the brokers, the client id and the callbacks.
 * defaults come before the user's kafka-property items (which may change
 * them); fixed come after, because Drover's guarantees rest on them.
 */
dr_status dr_kafka_new_conf(const dr_kafka_options *opt, void *opaque, const kafka_property *defaults,
                            size_t default_count, const kafka_property *fixed, size_t fixed_count,
                            rd_kafka_conf_t **out, dr_error *err)
{
    dr_status status = DR_OK;
    rd_kafka_conf_t *conf = NULL;
    *out = NULL;
    if (!opt->brokers || !opt->brokers[0]) {
        status = dr_error_set(err, DR_ERR_USAGE, "no Kafka brokers given (brokers HOST:PORT)");
        goto cleanup;
    }
    if ((status = check_topic_prefix(opt, err)) != DR_OK)
        goto cleanup;
    conf = rd_kafka_conf_new();
    if (!conf) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory for a Kafka configuration");
        goto cleanup;
    }
    if ((status = dr_kafka_set_property(conf, "kafka setting", "bootstrap.servers", opt->brokers, err)) != DR_OK ||
        (status = dr_kafka_set_property(conf, "kafka setting", "client.id", opt->client_id ? opt->client_id : "drover",
                                        err)) != DR_OK)
        goto cleanup;
    for (size_t i = 0; i < default_count; i++)
        if ((status = dr_kafka_set_property(conf, "kafka setting", defaults[i].name, defaults[i].value, err)) != DR_OK)
            goto cleanup;
    for (size_t i = 0; i < opt->property_count; i++)
        if ((status = set_user_property(conf, opt->properties[i], err)) != DR_OK)
            goto cleanup;
    for (size_t i = 0; i < fixed_count; i++)
        if ((status = dr_kafka_set_property(conf, "kafka setting", fixed[i].name, fixed[i].value, err)) != DR_OK)
            goto cleanup;
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    rd_kafka_conf_set_opaque(conf, opaque);
    *out = conf;
    conf = NULL;
cleanup:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return status;
}

/* rd_kafka_new owns conf only when it succeeds. */
dr_status dr_kafka_new_handle(rd_kafka_type_t type, rd_kafka_conf_t *conf, rd_kafka_t **out, dr_error *err)
{
    char reason[512];
    *out = rd_kafka_new(type, conf, reason, sizeof reason);
    if (!*out) {
        rd_kafka_conf_destroy(conf);
        return dr_error_set(err, DR_ERR_KAFKA, "creating the Kafka %s: %s",
                            type == RD_KAFKA_PRODUCER ? "producer" : "consumer", reason);
    }
    return DR_OK;
}

/* ---- metadata and consumer errors ---- */

const rd_kafka_metadata_topic_t *dr_kafka_find_topic(const rd_kafka_metadata_t *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0)
            return &md->topics[i];
    return NULL;
}

rd_kafka_resp_err_t dr_kafka_query_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *low,
                                              int64_t *high, int timeout_ms)
{
    int64_t deadline = dr_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    rd_kafka_resp_err_t kerr = rd_kafka_query_watermark_offsets(rk, topic, partition, low, high, timeout_ms);
    if (kerr != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION && kerr != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
        kerr != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        return kerr;
    /*
     * The leader moved, and this handle's metadata still names the old one
     * (librdkafka 2.0 does not refresh it for a watermark query): ask for the
     * topic's metadata, which updates the handle's cache, and try once more.
     */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, dr_kafka_remaining_ms(deadline)) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return rd_kafka_query_watermark_offsets(rk, topic, partition, low, high, dr_kafka_remaining_ms(deadline));
}

/* The topic's partition count from the cluster's metadata (the whole cluster's: asking for one topic by name makes a broker that auto-creates topics create it). */
dr_status dr_kafka_partition_count(rd_kafka_t *rk, const char *topic_name, int timeout_ms, int *out, dr_error *err)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    dr_status status = DR_OK;
    if (kerr) {
        status = dr_error_set(err, DR_ERR_KAFKA, "%s: metadata: %s", topic_name, rd_kafka_err2str(kerr));
        goto cleanup;
    }
    const rd_kafka_metadata_topic_t *topic = dr_kafka_find_topic(md, topic_name);
    if (!topic || topic->err || topic->partition_cnt <= 0) {
        status = dr_error_set(err, DR_ERR_KAFKA, "topic %s does not exist%s%s", topic_name,
                              topic && topic->err ? ": " : "", topic && topic->err ? rd_kafka_err2str(topic->err) : "");
        goto cleanup;
    }
    *out = topic->partition_cnt;
cleanup:
    if (md)
        rd_kafka_metadata_destroy(md);
    return status;
}

/* An error event from the consumer queue: logged here, never returned (see kafka.h). */
void dr_kafka_report_consumer_error(const rd_kafka_message_t *msg)
{
    char quoted[1024];
    const char *topic = msg->rkt ? rd_kafka_topic_name(msg->rkt) : "-";
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || msg->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        dr_log(DR_LOG_ERROR, "kafka.data_loss", "topic=%s partition=%d offset=%lld msg=%s", topic, (int)msg->partition,
               (long long)msg->offset, dr_log_quote(quoted, sizeof quoted, rd_kafka_message_errstr(msg)));
        return;
    }
    dr_log(DR_LOG_WARN, "kafka.consumer_error", "topic=%s partition=%d error=%s msg=%s", topic, (int)msg->partition,
           rd_kafka_err2name(msg->err), dr_log_quote(quoted, sizeof quoted, rd_kafka_message_errstr(msg)));
}
