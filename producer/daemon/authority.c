#include "authority.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "messages.h"
#include "seen_messages.h"
#include "trust_store.h"

#define POLICY_LOOK_INTERVAL_MS 1000
#define CLOCK_SKEW_MS 60000

struct dr_authority {
    dr_authority_settings s;
    char *policy_path;
    dr_policy *policy;
    struct stat policy_stat; /* when it was read */
    int64_t policy_looked_at_ms;
    dr_trust_store *operators;
    dr_trust_store *own; /* the control plane's own public key; NULL when it has none */
    dr_seen_messages *seen;
};

static int same_file_state(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Read the policy again when the file changed; a policy that does not parse leaves the previous one. */
static void reload_policy(dr_authority *a)
{
    struct stat st;
    int64_t now = dr_monotonic_ms();
    if (!a->policy_path || now - a->policy_looked_at_ms < POLICY_LOOK_INTERVAL_MS)
        return;
    a->policy_looked_at_ms = now;
    if (stat(a->policy_path, &st) != 0 || same_file_state(&st, &a->policy_stat))
        return;
    dr_policy *fresh = NULL;
    dr_error err = {0};
    char quoted[DR_ERROR_DETAIL_MAX + 64];
    a->policy_stat = st; /* tried once per change, whatever the outcome */
    if (dr_policy_load(a->policy_path, &fresh, &err) != DR_OK) {
        dr_log(DR_LOG_ERROR, "policy.reload_failed", "msg=%s (the previous policy stays)",
               dr_log_quote(quoted, sizeof quoted, err.detail));
        return;
    }
    dr_policy_free(a->policy);
    a->policy = fresh;
    dr_log(DR_LOG_INFO, "policy.reloaded", "operators=%zu rules=%zu", dr_policy_operator_count(fresh),
           dr_policy_rule_count(fresh));
}

dr_status dr_authority_new(const dr_authority_settings *settings, dr_authority **out, dr_error *err)
{
    dr_authority *a = calloc(1, sizeof *a);
    dr_status status = DR_OK;
    int has_policy = settings->policy_path && settings->policy_path[0];
    *out = NULL;
    if (!a)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    a->s = *settings;
    if (!has_policy && !settings->allow_unsigned) {
        status = dr_error_set(err, DR_ERR_USAGE,
                              "no --policy: serve acts only on requests an operator's policy allows "
                              "(--allow-unsigned-requests, for demos only, takes every request instead)");
        goto fail;
    }
    if (has_policy && (!settings->operator_keys || !settings->operator_keys[0])) {
        status = dr_error_set(err, DR_ERR_USAGE, "--policy needs --operator-keys: the operators' public keys");
        goto fail;
    }
    if (!(a->seen = dr_seen_messages_new(settings->seen_capacity ? settings->seen_capacity : 1)) ||
        (has_policy && !(a->policy_path = strdup(settings->policy_path)))) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((status = dr_trust_store_load(settings->operator_keys ? settings->operator_keys : "", &a->operators, err)) !=
        DR_OK)
        goto fail;
    if (settings->control_plane_key && settings->control_plane_key[0] &&
        (status = dr_trust_store_load(settings->control_plane_key, &a->own, err)) != DR_OK)
        goto fail;
    if (has_policy) {
        if (stat(a->policy_path, &a->policy_stat) != 0) {
            status = dr_error_set(err, DR_ERR_IO, "--policy %s: %s", a->policy_path, strerror(errno));
            goto fail;
        }
        if ((status = dr_policy_load(a->policy_path, &a->policy, err)) != DR_OK)
            goto fail;
        a->policy_looked_at_ms = dr_monotonic_ms();
    }
    *out = a;
    return DR_OK;
fail:
    dr_authority_free(a);
    return status;
}

void dr_authority_free(dr_authority *a)
{
    if (!a)
        return;
    dr_policy_free(a->policy);
    free(a->policy_path);
    dr_trust_store_free(a->operators);
    dr_trust_store_free(a->own);
    dr_seen_messages_free(a->seen);
    free(a);
}

static void refuse(dr_authority_decision *d, dr_status reason, const char *rule, const char *message)
{
    d->allowed = 0;
    d->reason = reason;
    snprintf(d->rule, sizeof d->rule, "%s", rule);
    snprintf(d->message, sizeof d->message, "%s", message);
}

/* Steps 1 and 2: who signed it.  0 when known (operator_name set), -1 refused. */
static int identify(dr_authority *a, const dr_authority_request *r, dr_authority_decision *d)
{
    dr_error err = {0};
    dr_status status = dr_request_verify_except(a->operators, r->bytes, r->len, r->unsigned_fields,
                                                r->unsigned_field_count, &d->origin, &err);
    if (status == DR_ERR_UNKNOWN_OPERATOR && a->own) {
        /* Perhaps what serve itself wrote: verified with the control plane's key alone. */
        dr_error own_err = {0};
        if (dr_request_verify_except(a->own, r->bytes, r->len, r->unsigned_fields, r->unsigned_field_count, &d->origin,
                                     &own_err) == DR_OK) {
            snprintf(d->operator_name, sizeof d->operator_name, "%s", DR_AUTHORITY_CONTROL_PLANE);
            return 0;
        }
    }
    /* Unsigned, with unsigned requests allowed; or anything, with no policy to check a signer against. */
    if (a->s.allow_unsigned && (status == DR_ERR_UNSIGNED || !a->policy)) {
        snprintf(d->operator_name, sizeof d->operator_name, "%s", DR_AUTHORITY_UNSIGNED);
        return 0;
    }
    if (status != DR_OK) {
        refuse(d, status, status == DR_ERR_UNSIGNED ? "signed" : "signature", err.detail);
        return -1;
    }
    const char *name = a->policy ? dr_policy_operator_for_key(a->policy, d->origin.key_id) : NULL;
    if (!name) {
        char message[256];
        snprintf(message, sizeof message, "key %s verifies, but the policy names no operator with it",
                 d->origin.key_id);
        refuse(d, DR_ERR_UNKNOWN_OPERATOR, "operator", message);
        return -1;
    }
    snprintf(d->operator_name, sizeof d->operator_name, "%s", name);
    return 0;
}

static const char *const step_rule[] = {"fresh", "not-replayed", "policy"};

/* Step 5, for d->operator_name. */
static void check_policy(dr_authority *a, const dr_authority_request *r, dr_authority_decision *d)
{
    if (!a->policy) {
        refuse(d, DR_ERR_NOT_ALLOWED, step_rule[2], "the control plane has no policy");
        return;
    }
    dr_policy_request q = {.action = r->action,
                           .operator_name = d->operator_name,
                           .package = r->package,
                           .targets = r->targets,
                           .target_count = r->target_count,
                           .has_limits = r->has_limits,
                           .job_count = r->job_count,
                           .max_concurrency = r->max_concurrency,
                           .max_errors = r->max_errors};
    const char *rule = NULL;
    dr_error err = {0};
    if (dr_policy_check(a->policy, &q, &rule, &err) != DR_OK) {
        refuse(d, DR_ERR_NOT_ALLOWED, step_rule[2], err.detail);
        return;
    }
    snprintf(d->rule, sizeof d->rule, "%s", rule ? rule : "");
}

void dr_authority_check(dr_authority *a, const dr_authority_request *r, int64_t now_ms, dr_authority_decision *d)
{
    char message[640];
    memset(d, 0, sizeof *d);
    d->allowed = 1;
    reload_policy(a);
    if (identify(a, r, d) != 0)
        return;
    int unsigned_request = strcmp(d->operator_name, DR_AUTHORITY_UNSIGNED) == 0;
    int own = strcmp(d->operator_name, DR_AUTHORITY_CONTROL_PLANE) == 0;
    if (unsigned_request) {
        snprintf(d->rule, sizeof d->rule, "allow-unsigned-requests");
        return;
    }
    /* 3: fresh. */
    int64_t created = d->origin.created_at_ms;
    if (r->must_be_fresh && a->s.request_expiry_ms > 0 &&
        (created < now_ms - a->s.request_expiry_ms || created > now_ms + CLOCK_SKEW_MS)) {
        if (created > now_ms)
            snprintf(message, sizeof message, "the request was made %lld s in the future (clock skew allowed: %d s)",
                     (long long)((created - now_ms) / 1000), CLOCK_SKEW_MS / 1000);
        else
            snprintf(message, sizeof message, "the request was made %lld s ago; requests expire after %lld s",
                     (long long)((now_ms - created) / 1000), (long long)(a->s.request_expiry_ms / 1000));
        refuse(d, DR_ERR_EXPIRED, step_rule[0], message);
        return;
    }
    /* 4: not replayed. */
    if (r->check_replay) {
        if (dr_seen_messages_is_replay(a->seen, d->origin.request_id, r->partition, r->offset)) {
            snprintf(message, sizeof message,
                     "request %s was taken before from another message; this one (partition %d, offset %lld) is a "
                     "copy",
                     d->origin.request_id, (int)r->partition, (long long)r->offset);
            refuse(d, DR_ERR_REPLAYED, step_rule[1], message);
            return;
        }
        dr_seen_messages_add(a->seen, d->origin.request_id, r->partition, r->offset);
    }
    if (own) {
        snprintf(d->rule, sizeof d->rule, "control-plane");
        return;
    }
    check_policy(a, r, d);
}

void dr_authority_check_as(dr_authority *a, const char *operator_name, const dr_authority_request *r,
                           dr_authority_decision *d)
{
    memset(d, 0, sizeof *d);
    d->allowed = 1;
    snprintf(d->operator_name, sizeof d->operator_name, "%s", operator_name ? operator_name : "");
    if (strcmp(d->operator_name, DR_AUTHORITY_UNSIGNED) == 0 ||
        strcmp(d->operator_name, DR_AUTHORITY_CONTROL_PLANE) == 0) {
        snprintf(d->rule, sizeof d->rule, "%s",
                 d->operator_name[0] == '(' ? "allow-unsigned-requests" : "control-plane");
        d->allowed = d->operator_name[0] != '(' || a->s.allow_unsigned;
        return;
    }
    reload_policy(a);
    check_policy(a, r, d);
}

int dr_authority_allows_unsigned(const dr_authority *a)
{
    return a->s.allow_unsigned;
}

void dr_authority_audit_fill(Drover__V1__AuditRecord *record, const dr_authority_decision *d, dr_request_action action,
                             const char *subject, const char *scope, const char *replica_id, int64_t now_ms)
{
    drover__v1__audit_record__init(record);
    record->schema_version = DR_SCHEMA_VERSION;
    record->at_ms = now_ms;
    record->replica_id = (char *)replica_id;
    record->action = (char *)dr_request_action_name(action);
    record->subject = (char *)subject;
    record->operator_ = (char *)d->operator_name;
    record->key_id = (char *)d->origin.key_id;
    record->request_id = (char *)d->origin.request_id;
    record->request_created_at_ms = d->origin.created_at_ms;
    record->allowed = d->allowed;
    record->reason = (char *)(d->allowed ? "" : dr_status_name(d->reason));
    record->rule = (char *)d->rule;
    record->scope = (char *)(scope ? scope : "");
    record->message = (char *)d->message;
}
