/*
 * policy.h - who may do what: the control plane's policy (serve --policy).
 *
 * A policy is a JSON document (docs/operators.md has worked examples):
 *
 *   {"operators": [{"name": "alice", "keys": ["<key id>", ...], "groups": ["platform"]}, ...],
 *    "rules": [{"name": "platform-eu",
 *               "operators": ["alice"], "groups": ["platform"],
 *               "actions": ["deploy", "cancel"],
 *               "packages": ["agent-*"],
 *               "targets": {"accounts": ["1111*"], "regions": ["eu-*"],
 *                           "ids": ["i-*"], "tags": {"env": ["prod", "staging"]}},
 *               "limits": {"max_targets": 500, "max_concurrency_at_most": "10%",
 *                          "max_errors_at_most": "5%"}}, ...]}
 *
 * Deny by default: a request is allowed only when one rule allows all of
 * it.  A rule applies to an operator named in its "operators" or in one of
 * its "groups" ("*" in either: every operator), for the actions it lists
 * (dr_request_action names; "*": all).  "packages" are globs (fnmatch); absent
 * means every package.  "targets" narrows which targets: every target of a
 * request must match every list given (accounts, regions and ids are
 * globs; under tags, a target must have each key with a value matching one
 * of its globs).  "limits" bound a deployment: at most max_targets jobs,
 * max concurrency and max errors resolved against its job count at most
 * these (a count or a percentage, as deploy takes them).
 *
 * Parsing is strict: an unknown key, a wrong type, an unknown action, a
 * key id that is not 16 hex digits, one key given to two operators, a
 * rule naming an operator or group nobody has: refused, naming where.
 */
#ifndef DROVER_PRODUCER_POLICY_H
#define DROVER_PRODUCER_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "drover.pb-c.h"
#include "error.h"
#include "messages.h"

#define DR_POLICY_MAX_BYTES (1024 * 1024)

typedef struct dr_policy dr_policy;

/* Parse a policy from text[0..len); DR_ERR_USAGE names what is wrong and where. */
dr_status dr_policy_parse(const char *text, size_t len, dr_policy **out, dr_error *err);
/* Read (at most DR_POLICY_MAX_BYTES) and parse the policy at path. */
dr_status dr_policy_load(const char *path, dr_policy **out, dr_error *err);
void dr_policy_free(dr_policy *policy); /* NULL is fine */

size_t dr_policy_operator_count(const dr_policy *policy);
size_t dr_policy_rule_count(const dr_policy *policy);

/* The name of the operator holding key_id, or NULL. */
const char *dr_policy_operator_for_key(const dr_policy *policy, const char *key_id);

/* What a request asks for, as the policy sees it; every pointer is borrowed. */
typedef struct dr_policy_request {
    dr_request_action action;
    const char *operator_name;                /* from dr_policy_operator_for_key */
    const char *package;                      /* NULL: the action names no package */
    const Drover__V1__Target *const *targets; /* the targets it acts on (may be 0) */
    size_t target_count;
    int has_limits;              /* a deployment: the three below are checked */
    uint64_t job_count;          /* for limits */
    const char *max_concurrency; /* as given ("10", "10%"); empty: the default 50 */
    const char *max_errors;      /* empty: the default 0 */
} dr_policy_request;

/*
 * DR_OK when a rule allows all of request (*rule_name, if not NULL, is set
 * to its name, borrowed from policy); otherwise DR_ERR_NOT_ALLOWED, with a
 * detail saying what stood in the way of the rule that came closest (no
 * rule for this operator and action; the package; a target outside scope,
 * named with its account and region; a limit, with both numbers).
 */
dr_status dr_policy_check(const dr_policy *policy, const dr_policy_request *request, const char **rule_name,
                          dr_error *err);

#endif
