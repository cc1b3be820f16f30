/*
 * drover-producer audit: the control plane's decisions on requests, from
 * the audit topic (every one, allowed or refused: authority.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "commands.h"
#include "log.h"
#include "messages.h"
#include "output.h"

static const dr_setting audit_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    {"since", DR_SETTING_STRING, NULL,
     "only decisions from then on: a UTC time (2026-12-04T10:00:00Z) or an age (90s, 30m, 12h, 7d)"},
    {"operator", DR_SETTING_STRING, NULL, "only requests by this operator (the policy's name)"},
    {"deployment", DR_SETTING_STRING, NULL, "only requests about this deployment (deploy, cancel)"},
    {"refused", DR_SETTING_BOOL, "false", "only refused requests"},
    DR_PRODUCER_OUTPUT_SETTING,
};

static const char audit_usage[] =
    "usage: drover-producer audit [--since T] [--operator NAME] [--deployment ID] [--refused] [-o json]\n"
    "\n"
    "Prints the control plane's decisions on requests, oldest first: when, allowed or refused, the\n"
    "action, what it was about, the operator, the refusal reason, the rule, and what was asked.\n"
    "JSON fields: at, replica, action, subject, operator, key_id, request_id, request_created_at,\n"
    "allowed, reason, rule, scope, message.";

typedef struct audit_filter {
    int64_t since_ms;
    const char *operator_name;
    const char *deployment;
    int refused_only;
    int json;
    size_t shown, damaged;
} audit_filter;

/* --since as Unix ms: a UTC time or an age before now.  -1 when neither. */
static int64_t parse_since(const char *text, int64_t now_ms)
{
    char unit = 0;
    long long n = 0;
    int used = 0;
    if (sscanf(text, "%lld%c%n", &n, &unit, &used) == 2 && text[used] == '\0' && n >= 0 && n < 100000000) {
        long long scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
        return scale ? now_ms - n * scale * 1000 : -1;
    }
    struct tm tm = {0};
    const char *end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return -1;
    return (int64_t)timegm(&tm) * 1000;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static void print_record(const Drover__V1__AuditRecord *a, int json)
{
    char at[32], created[32];
    dr_format_utc_ms(a->at_ms, at, sizeof at);
    dr_format_utc_ms(a->request_created_at_ms, created, sizeof created);
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s}", "at", at, "replica",
                              or_empty(a->replica_id), "action", or_empty(a->action), "subject", or_empty(a->subject),
                              "operator", or_empty(a->operator_), "key_id", or_empty(a->key_id), "request_id",
                              or_empty(a->request_id), "request_created_at", a->request_created_at_ms ? created : "",
                              "allowed", a->allowed, "reason", or_empty(a->reason), "rule", or_empty(a->rule), "scope",
                              or_empty(a->scope), "message", or_empty(a->message));
        if (o) /* strings not valid UTF-8 fail json_pack: such a record is counted as damaged by the caller */
            json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
        printf("%s\n", o ? "" : "{\"error\": \"a record with text that is not UTF-8\"}");
        json_decref(o);
        return;
    }
    char subject[300], operator_name[300], message[1400];
    printf("%-20s %-7s %-19s %-28s %-14s %-16s %-18s %s\n", at, a->allowed ? "allowed" : "REFUSED", a->action,
           dr_log_quote(subject, sizeof subject, a->subject ? a->subject : ""),
           dr_log_quote(operator_name, sizeof operator_name, a->operator_ && a->operator_[0] ? a->operator_ : "-"),
           a->reason && a->reason[0] ? a->reason : "-", a->rule && a->rule[0] ? a->rule : "-",
           dr_log_quote(message, sizeof message, a->message && a->message[0] ? a->message : a->scope));
}

static int on_record(void *ctx, const char *key, size_t key_len, const void *value, size_t value_len,
                     int64_t timestamp_ms)
{
    audit_filter *f = ctx;
    Drover__V1__AuditRecord *a = NULL;
    dr_error err = {0};
    (void)key, (void)key_len, (void)timestamp_ms;
    if (!value)
        return 0;
    if (dr_audit_record_decode(value, value_len, &a, &err) != DR_OK) {
        f->damaged++;
        return 0;
    }
    int wanted = a->at_ms >= f->since_ms &&
                 (!f->operator_name || (a->operator_ && strcmp(a->operator_, f->operator_name) == 0)) &&
                 (!f->deployment || (a->subject && strcmp(a->subject, f->deployment) == 0 &&
                                     (strcmp(a->action, "deploy") == 0 || strcmp(a->action, "cancel") == 0))) &&
                 (!f->refused_only || !a->allowed);
    if (wanted) {
        print_record(a, f->json);
        f->shown++;
    }
    drover__v1__audit_record__free_unpacked(a, NULL);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_config *cfg =
        dr_program_start("drover-producer", audit_settings, sizeof audit_settings / sizeof audit_settings[0], argc,
                         argv, audit_usage, &exit_code);
    if (!cfg)
        return exit_code;
    dr_kafka_options kafka;
    int timeout_ms;
    const char *since = dr_config_string(cfg, "since");
    dr_output_format format;
    audit_filter f = {.operator_name = dr_config_string(cfg, "operator"),
                      .deployment = dr_config_string(cfg, "deployment"),
                      .refused_only = dr_config_bool(cfg, "refused")};
    if (dr_output_read(cfg, 0, &format, &err) != DR_OK)
        goto fail;
    f.json = format == DR_OUTPUT_JSON;
    if (since && (f.since_ms = parse_since(since, dr_now_ms())) < 0) {
        dr_error_set(&err, DR_ERR_USAGE,
                     "--since: '%.64s' is neither a UTC time (2026-12-04T10:00:00Z) nor an age (30m)", since);
        goto fail;
    }
    if (dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK)
        goto fail;
    if (!f.json)
        printf("%-20s %-7s %-19s %-28s %-14s %-16s %-18s %s\n", "TIME", "DECISION", "ACTION", "SUBJECT", "OPERATOR",
               "REASON", "RULE", "WHAT");
    if (dr_kafka_read_topic(&kafka, DR_TOPIC_AUDIT, on_record, &f, timeout_ms, &err) != DR_OK)
        goto fail;
    if (f.damaged)
        fprintf(stderr, "drover-producer: %zu audit records did not decode and were left out\n", f.damaged);
    goto cleanup;
fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_config_free(cfg);
    return exit_code;
}
