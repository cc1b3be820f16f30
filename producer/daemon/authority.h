/*
 * authority.h - the checks the control plane makes before it acts on a
 * request it read from Kafka, whoever wrote it (docs/operators.md).
 *
 * In order, the first that fails refuses the request (the reason is the
 * status named):
 *   1. signed (DR_ERR_UNSIGNED), by a key of the operators' key store
 *      (DR_ERR_UNKNOWN_OPERATOR), and the signature verifies
 *      (DR_ERR_REQUEST_SIGNATURE) - request_signing.h;
 *   2. the key belongs to an operator the policy names
 *      (DR_ERR_UNKNOWN_OPERATOR);
 *   3. for requests that start something (deploy, launch events): created
 *      no longer ago than the request expiry, and not in the future by
 *      more than a minute of clock skew (DR_ERR_EXPIRED);
 *   4. its request id was not taken from another message before
 *      (DR_ERR_REPLAYED; the same message read again is not a replay);
 *   5. the policy allows it (DR_ERR_NOT_ALLOWED) - policy.h.
 * A request signed by the control plane's own key (what serve itself
 * writes: association runs, targets registered from launch events) passes
 * 1 to 5 as operator "control-plane".
 *
 * With allow_unsigned (serve --allow-unsigned-requests, for demos), an
 * unsigned request is allowed, as operator "(unsigned)", and the caller
 * logs a warning for each; signed ones are still checked against the
 * policy when there is one, and taken alike when there is none.  Without
 * a policy, allow_unsigned is required (dr_authority_new refuses otherwise).
 *
 * The policy file is read again when it changes on disk (looked at at most
 * once a second); a policy that does not parse is logged and the previous
 * one kept.  Not thread-safe.
 */
#ifndef DROVER_PRODUCER_AUTHORITY_H
#define DROVER_PRODUCER_AUTHORITY_H

#include <stddef.h>
#include <stdint.h>

#include "drover.pb-c.h"
#include "error.h"
#include "policy.h"
#include "request_signing.h"

#define DR_AUTHORITY_CONTROL_PLANE "control-plane"
#define DR_AUTHORITY_UNSIGNED "(unsigned)"

typedef struct dr_authority_settings {
    const char *policy_path;       /* NULL or "": no policy */
    const char *operator_keys;     /* the operators' public keys: a trust store spec (trust_store.h) */
    const char *control_plane_key; /* the control plane's key file (serve --signing-key); NULL: none */
    int allow_unsigned;
    int64_t request_expiry_ms; /* step 3 */
    size_t seen_capacity;      /* request ids remembered for step 4 */
} dr_authority_settings;

typedef struct dr_authority dr_authority;

/*
 * DR_ERR_USAGE when the settings do not make sense (no policy and no
 * allow_unsigned; a policy without operator keys), or the policy does not
 * parse; DR_ERR_IO when a file cannot be read.
 */
dr_status dr_authority_new(const dr_authority_settings *settings, dr_authority **out, dr_error *err);
void dr_authority_free(dr_authority *authority); /* NULL is fine */

/* What is asked, as read; every pointer is borrowed. */
typedef struct dr_authority_request {
    dr_request_action action;
    const uint8_t *bytes; /* the request message as read from Kafka */
    size_t len;
    const uint32_t *unsigned_fields; /* fields the signature does not cover (the control plane's bookkeeping) */
    size_t unsigned_field_count;
    int must_be_fresh; /* step 3 applies */
    int check_replay;  /* step 4 applies, with where the message was: */
    int32_t partition;
    int64_t offset;
    /* For the policy (step 5): */
    const char *package;
    const Drover__V1__Target *const *targets;
    size_t target_count;
    int has_limits;
    uint64_t job_count;
    const char *max_concurrency;
    const char *max_errors;
} dr_authority_request;

typedef struct dr_authority_decision {
    int allowed;
    dr_status reason;        /* refused: why (a dr_status_is_request_refusal status) */
    char message[640];       /* one sentence for people (from Kafka data: quote it when logging) */
    char operator_name[128]; /* the policy's name, control-plane, (unsigned), or "" when unknown */
    char rule[128];          /* the rule that allowed it, or the check that refused it */
    dr_request_origin origin;
} dr_authority_decision;

/* Decide on request at now_ms; fills decision. */
void dr_authority_check(dr_authority *authority, const dr_authority_request *request, int64_t now_ms,
                        dr_authority_decision *decision);

/*
 * Step 5 alone, for an operator named before (an association's runs are
 * decided for whoever signed the association): request's bytes are not
 * read.  The control plane itself is allowed; "(unsigned)" only while
 * unsigned requests are allowed.
 */
void dr_authority_check_as(dr_authority *authority, const char *operator_name, const dr_authority_request *request,
                           dr_authority_decision *decision);

/* 1 when unsigned requests are taken (--allow-unsigned-requests). */
int dr_authority_allows_unsigned(const dr_authority *authority);

/*
 * Fill record (initialised here; strings borrowed from decision and the
 * arguments) with a decision on request for the audit topic.
 */
void dr_authority_audit_fill(Drover__V1__AuditRecord *record, const dr_authority_decision *decision,
                             dr_request_action action, const char *subject, const char *scope, const char *replica_id,
                             int64_t now_ms);

#endif
