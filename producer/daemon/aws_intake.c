#include "aws_intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "messages.h"
#include "publish.h"

struct dr_aws_intake {
    dr_aws_intake_settings s;
    dr_kafka_consumer *consumer;
};

#define RESULTS_METRIC "drover_control_plane_aws_events_total"

void dr_aws_intake_describe(dr_metrics *metrics)
{
    if (metrics)
        dr_metrics_describe(metrics, RESULTS_METRIC, DR_METRIC_COUNTER,
                            "AWS events read, by result: launched, terminated, ignored (a state nothing is done "
                            "for), refused (stale, or no target template), malformed",
                            NULL, 0);
}

static void count(dr_aws_intake *in, const char *result)
{
    char labels[64];
    snprintf(labels, sizeof labels, "result=\"%s\"", result);
    if (in->s.metrics)
        dr_metrics_counter_add(in->s.metrics, RESULTS_METRIC, labels, 1);
}

dr_status dr_aws_intake_new(const dr_aws_intake_settings *settings, dr_aws_intake **out, dr_error *err)
{
    *out = NULL;
    dr_aws_intake *in = calloc(1, sizeof *in);
    if (!in)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    in->s = *settings;
    static const dr_topic topics[] = {DR_TOPIC_AWS_EVENTS};
    dr_status status = dr_kafka_consumer_new(settings->kafka, settings->group, topics, 1, &in->consumer, err);
    if (status != DR_OK) {
        free(in);
        return status;
    }
    char topic[300];
    dr_kafka_topic_name(settings->kafka, DR_TOPIC_AWS_EVENTS, topic, sizeof topic);
    dr_log(DR_LOG_INFO, "serve.aws_events", "topic=%s group=%s templates=%zu", topic, settings->group,
           dr_target_templates_count(settings->templates));
    *out = in;
    return DR_OK;
}

void dr_aws_intake_free(dr_aws_intake *in)
{
    if (!in)
        return;
    dr_kafka_consumer_close(in->consumer);
    free(in);
}

/* A refusal on the audit trail: the event as a request nobody signed, decided by the templates. */
static void refuse(dr_aws_intake *in, const dr_aws_event *e, dr_status reason, const char *rule, const char *message)
{
    dr_authority_decision d = {.allowed = 0, .reason = reason};
    snprintf(d.operator_name, sizeof d.operator_name, "aws-events");
    snprintf(d.rule, sizeof d.rule, "%s", rule);
    snprintf(d.message, sizeof d.message, "%s", message);
    char scope[300];
    snprintf(scope, sizeof scope, "%s (event %s)", e->detail_type, e->id[0] ? e->id : "-");
    dr_audit_log_write(in->s.audit, &d,
                       e->kind == DR_AWS_EVENT_TERMINATED ? DR_ACTION_TARGET_TERMINATE : DR_ACTION_TARGET_LAUNCH,
                       e->instance_id, scope);
    count(in, "refused");
}

/* The TargetEvent for e, signed, on the events topic, acknowledged. */
static dr_status write_target_event(dr_aws_intake *in, const dr_aws_event *e, Drover__V1__Target *target, dr_error *err)
{
    Drover__V1__TargetEvent__Kind kind = e->kind == DR_AWS_EVENT_TERMINATED
                                             ? DROVER__V1__TARGET_EVENT__KIND__KIND_TERMINATED
                                             : DROVER__V1__TARGET_EVENT__KIND__KIND_LAUNCHED;
    uint8_t *bytes = NULL;
    size_t len = 0;
    dr_publish_count published = {0};
    dr_status status = dr_target_event_encode(in->s.signing_key, kind, e->instance_id, target, &bytes, &len, err);
    if (status == DR_OK)
        status = dr_publish_bytes(in->s.producer, DR_TOPIC_EVENTS, e->instance_id, bytes, len, &published, err);
    if (status == DR_OK)
        status = dr_publish_flush(in->s.producer, &published, in->s.timeout_ms, err);
    free(bytes);
    return status;
}

/*
 * What the templates say of e: for a launch, the target they complete
 * (*target, decoded from batch); for a termination, only that one admits it.
 */
static dr_status admit(const dr_aws_intake *in, const dr_aws_event *e, dr_target_batch *batch,
                       Drover__V1__Target **target, const char **template_name, dr_error *err)
{
    if (e->kind == DR_AWS_EVENT_TERMINATED)
        return dr_aws_event_admitted(in->s.templates, e, template_name, err);
    dr_status status = dr_aws_event_target(in->s.templates, e, batch, template_name, err);
    if (status == DR_OK)
        status = dr_target_decode(batch->items[0].bytes, batch->items[0].len, target, err);
    return status;
}

/*
 * Handle one event.  0 when it is done with (its offset may be committed),
 * -1 when its TargetEvent could not be written (read it again).
 */
static int take(dr_aws_intake *in, const rd_kafka_message_t *msg)
{
    dr_aws_event e;
    dr_error err = {0};
    char quoted[800];
    if (dr_aws_event_parse(msg->payload, msg->len, &e, &err) != DR_OK) {
        dr_log(DR_LOG_WARN, "serve.aws_event_malformed", "partition=%d offset=%lld msg=%s", (int)msg->partition,
               (long long)msg->offset, dr_log_quote(quoted, sizeof quoted, err.detail));
        count(in, "malformed");
        return 0;
    }
    int result = 0;
    dr_target_batch batch = {0};
    Drover__V1__Target *target = NULL;
    const char *template_name = NULL;
    int64_t now = dr_now_ms();
    if (e.kind == DR_AWS_EVENT_IGNORED) {
        dr_log(DR_LOG_DEBUG, "serve.aws_event_ignored", "instance=%s state=%s", e.instance_id, e.state);
        count(in, "ignored");
        goto done;
    }
    if (in->s.max_age_ms > 0 && e.time_ms > 0 && e.time_ms < now - in->s.max_age_ms) {
        char message[300];
        snprintf(message, sizeof message, "the event is %lld s old; events older than %lld s are not acted on",
                 (long long)((now - e.time_ms) / 1000), (long long)(in->s.max_age_ms / 1000));
        refuse(in, &e, DR_ERR_EXPIRED, "aws-event-max-age", message);
        goto done;
    }
    if (admit(in, &e, &batch, &target, &template_name, &err) != DR_OK) {
        refuse(in, &e, DR_ERR_NOT_ALLOWED, template_name ? template_name : "target-templates", err.detail);
        goto done;
    }
    if (write_target_event(in, &e, target, &err) != DR_OK) {
        dr_log(DR_LOG_WARN, "serve.aws_event_write_failed", "instance=%s msg=%s (read again)", e.instance_id,
               dr_log_quote(quoted, sizeof quoted, err.detail));
        result = -1;
        goto done;
    }
    const char *kind = e.kind == DR_AWS_EVENT_TERMINATED ? "terminated" : "launched";
    dr_log(DR_LOG_INFO, "serve.aws_event", "instance=%s account=%s region=%s kind=%s template=%s", e.instance_id,
           e.account, e.region, kind, template_name);
    count(in, kind);
done:
    if (target)
        drover__v1__target__free_unpacked(target, NULL);
    dr_target_batch_free(&batch);
    dr_aws_event_free(&e);
    return result;
}

void dr_aws_intake_poll(dr_aws_intake *in, int max)
{
    rd_kafka_message_t *msg;
    for (int i = 0; i < max && (msg = dr_kafka_consumer_poll(in->consumer, 0)); i++) {
        dr_error err = {0};
        if (take(in, msg) != 0) {
            /* Not committed, and read again from here at the next poll. */
            rd_kafka_seek(msg->rkt, msg->partition, msg->offset, 1000);
            rd_kafka_message_destroy(msg);
            return;
        }
        if (dr_kafka_consumer_commit(in->consumer, rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset + 1,
                                     &err) != DR_OK)
            dr_log(DR_LOG_WARN, "serve.aws_event_commit_failed", "partition=%d offset=%lld msg=\"%s\"",
                   (int)msg->partition, (long long)msg->offset, err.detail);
        rd_kafka_message_destroy(msg);
    }
}
