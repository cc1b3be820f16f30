#include "policy.h"

#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "strbuf.h"

typedef struct str_list {
    char **items;
    size_t count;
    int given; /* the key was present (an absent list matches everything) */
} str_list;

typedef struct tag_rule {
    char *key;
    str_list values;
} tag_rule;

typedef struct operator_entry {
    char *name;
    str_list keys;
    str_list groups;
} operator_entry;

typedef struct rule {
    char *name;
    str_list operators, groups;
    unsigned actions; /* bit per dr_request_action */
    str_list packages;
    str_list accounts, regions, ids;
    tag_rule *tags;
    size_t tag_count;
    long long max_targets; /* -1: no limit */
    char *max_concurrency_at_most;
    char *max_errors_at_most;
} rule;

struct dr_policy {
    operator_entry *operators;
    size_t operator_count;
    rule *rules;
    size_t rule_count;
};

static void list_free(str_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
}

void dr_policy_free(dr_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->operator_count; i++) {
        free(p->operators[i].name);
        list_free(&p->operators[i].keys);
        list_free(&p->operators[i].groups);
    }
    for (size_t i = 0; i < p->rule_count; i++) {
        rule *r = &p->rules[i];
        free(r->name);
        list_free(&r->operators);
        list_free(&r->groups);
        list_free(&r->packages);
        list_free(&r->accounts);
        list_free(&r->regions);
        list_free(&r->ids);
        for (size_t t = 0; t < r->tag_count; t++) {
            free(r->tags[t].key);
            list_free(&r->tags[t].values);
        }
        free(r->tags);
        free(r->max_concurrency_at_most);
        free(r->max_errors_at_most);
    }
    free(p->operators);
    free(p->rules);
    free(p);
}

/* ---- parsing ---- */

/* DR_ERR_USAGE unless every key of object is one of allowed (NULL-terminated). */
static dr_status only_keys(json_t *object, const char *where, const char *const *allowed, dr_error *err)
{
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i])
            return dr_error_set(err, DR_ERR_USAGE, "policy: %s has an unknown key \"%.64s\"", where, key);
    }
    return DR_OK;
}

static dr_status text_field(json_t *object, const char *name, const char *where, int required, char **out,
                            dr_error *err)
{
    json_t *v = json_object_get(object, name);
    *out = NULL;
    if (!v && !required)
        return DR_OK;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 256 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return dr_error_set(err, DR_ERR_USAGE, "policy: %s: \"%s\" must be a non-empty string of at most 256 bytes",
                            where, name);
    if (!(*out = strdup(json_string_value(v))))
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the policy");
    return DR_OK;
}

static dr_status list_field(json_t *object, const char *name, const char *where, str_list *out, dr_error *err)
{
    json_t *v = json_object_get(object, name);
    memset(out, 0, sizeof *out);
    if (!v)
        return DR_OK;
    if (!json_is_array(v) || json_array_size(v) > 10000)
        return dr_error_set(err, DR_ERR_USAGE, "policy: %s: \"%s\" must be a list of strings", where, name);
    out->given = 1;
    if (!(out->items = calloc(json_array_size(v) + 1, sizeof *out->items)))
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the policy");
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || json_string_length(item) == 0 || json_string_length(item) > 256 ||
            strlen(json_string_value(item)) != json_string_length(item))
            return dr_error_set(err, DR_ERR_USAGE,
                                "policy: %s: \"%s\" item %zu must be a non-empty string of at most 256 bytes", where,
                                name, i + 1);
        if (!(out->items[out->count] = strdup(json_string_value(item))))
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the policy");
        out->count++;
    }
    return DR_OK;
}

static int list_has(const str_list *l, const char *s)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i], s) == 0)
            return 1;
    return 0;
}

/* An absent list matches everything; a given one, a value matching one of its globs. */
static int list_matches(const str_list *l, const char *value)
{
    if (!l->given)
        return 1;
    for (size_t i = 0; i < l->count; i++)
        if (fnmatch(l->items[i], value ? value : "", 0) == 0)
            return 1;
    return 0;
}

static int is_key_id(const char *s)
{
    return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

static dr_status parse_operator(json_t *o, size_t index, dr_policy *p, dr_error *err)
{
    static const char *const keys[] = {"name", "keys", "groups", NULL};
    char where[64];
    snprintf(where, sizeof where, "operator %zu", index + 1);
    operator_entry *op = &p->operators[p->operator_count++];
    dr_status status =
        json_is_object(o) ? DR_OK : dr_error_set(err, DR_ERR_USAGE, "policy: %s must be an object", where);
    if (status == DR_OK && (status = only_keys(o, where, keys, err)) == DR_OK &&
        (status = text_field(o, "name", where, 1, &op->name, err)) == DR_OK &&
        (status = list_field(o, "keys", where, &op->keys, err)) == DR_OK)
        status = list_field(o, "groups", where, &op->groups, err);
    if (status != DR_OK)
        return status;
    if (strcmp(op->name, "*") == 0)
        return dr_error_set(err, DR_ERR_USAGE, "policy: %s: \"*\" is not a name", where);
    for (size_t k = 0; k < op->keys.count; k++)
        if (!is_key_id(op->keys.items[k]))
            return dr_error_set(err, DR_ERR_USAGE, "policy: operator %s: key \"%.64s\" is not a key id (16 hex digits)",
                                op->name, op->keys.items[k]);
    for (size_t i = 0; i + 1 < p->operator_count; i++) {
        if (strcmp(p->operators[i].name, op->name) == 0)
            return dr_error_set(err, DR_ERR_USAGE, "policy: operator %s is named twice", op->name);
        for (size_t k = 0; k < op->keys.count; k++)
            if (list_has(&p->operators[i].keys, op->keys.items[k]))
                return dr_error_set(err, DR_ERR_USAGE, "policy: key %s belongs to both %s and %s", op->keys.items[k],
                                    p->operators[i].name, op->name);
    }
    return DR_OK;
}

static dr_status parse_actions(json_t *r, const char *where, unsigned *mask, dr_error *err)
{
    str_list actions;
    dr_status status = list_field(r, "actions", where, &actions, err);
    *mask = 0;
    if (status == DR_OK && !actions.given)
        status = dr_error_set(err, DR_ERR_USAGE, "policy: %s has no \"actions\"", where);
    for (size_t i = 0; i < actions.count && status == DR_OK; i++) {
        if (strcmp(actions.items[i], "*") == 0) {
            *mask = (1u << DR_ACTION_COUNT) - 1;
            continue;
        }
        dr_request_action a = dr_request_action_from_name(actions.items[i]);
        if (a == DR_ACTION_COUNT)
            status = dr_error_set(err, DR_ERR_USAGE, "policy: %s: unknown action \"%.64s\"", where, actions.items[i]);
        else
            *mask |= 1u << a;
    }
    list_free(&actions);
    return status;
}

static dr_status parse_targets(json_t *t, const char *where, rule *r, dr_error *err)
{
    static const char *const keys[] = {"accounts", "regions", "ids", "tags", NULL};
    if (!t)
        return DR_OK;
    if (!json_is_object(t))
        return dr_error_set(err, DR_ERR_USAGE, "policy: %s: \"targets\" must be an object", where);
    dr_status status = only_keys(t, where, keys, err);
    if (status == DR_OK && (status = list_field(t, "accounts", where, &r->accounts, err)) == DR_OK &&
        (status = list_field(t, "regions", where, &r->regions, err)) == DR_OK)
        status = list_field(t, "ids", where, &r->ids, err);
    json_t *tags = json_object_get(t, "tags");
    if (status != DR_OK || !tags)
        return status;
    if (!json_is_object(tags) || json_object_size(tags) > 100)
        return dr_error_set(err, DR_ERR_USAGE, "policy: %s: \"tags\" must be an object of lists", where);
    if (!(r->tags = calloc(json_object_size(tags) + 1, sizeof *r->tags)))
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the policy");
    const char *key;
    json_t *value;
    json_object_foreach(tags, key, value)
    {
        tag_rule *tr = &r->tags[r->tag_count++];
        if (!(tr->key = strdup(key)))
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the policy");
        json_t *wrap = json_pack("{sO}", "values", value);
        status = wrap ? list_field(wrap, "values", where, &tr->values, err)
                      : dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the policy");
        json_decref(wrap);
        if (status != DR_OK)
            return status;
    }
    return DR_OK;
}

static dr_status parse_limits(json_t *l, const char *where, rule *r, dr_error *err)
{
    static const char *const keys[] = {"max_targets", "max_concurrency_at_most", "max_errors_at_most", NULL};
    r->max_targets = -1;
    if (!l)
        return DR_OK;
    if (!json_is_object(l))
        return dr_error_set(err, DR_ERR_USAGE, "policy: %s: \"limits\" must be an object", where);
    dr_status status = only_keys(l, where, keys, err);
    json_t *mt = json_object_get(l, "max_targets");
    if (status == DR_OK && mt) {
        if (!json_is_integer(mt) || json_integer_value(mt) < 1)
            return dr_error_set(err, DR_ERR_USAGE, "policy: %s: \"max_targets\" must be a whole number of at least 1",
                                where);
        r->max_targets = json_integer_value(mt);
    }
    if (status == DR_OK &&
        (status = text_field(l, "max_concurrency_at_most", where, 0, &r->max_concurrency_at_most, err)) == DR_OK)
        status = text_field(l, "max_errors_at_most", where, 0, &r->max_errors_at_most, err);
    if (status == DR_OK && r->max_concurrency_at_most)
        status = dr_rate_control_check("policy limit max_concurrency_at_most", r->max_concurrency_at_most, 0, err);
    if (status == DR_OK && r->max_errors_at_most)
        status = dr_rate_control_check("policy limit max_errors_at_most", r->max_errors_at_most, 1, err);
    return status;
}

static int someone_is_in_group(const dr_policy *p, const char *group)
{
    for (size_t i = 0; i < p->operator_count; i++)
        if (list_has(&p->operators[i].groups, group))
            return 1;
    return 0;
}

static int someone_is_named(const dr_policy *p, const char *name)
{
    for (size_t i = 0; i < p->operator_count; i++)
        if (strcmp(p->operators[i].name, name) == 0)
            return 1;
    return 0;
}

static dr_status parse_rule(json_t *o, size_t index, dr_policy *p, dr_error *err)
{
    static const char *const keys[] = {"name", "operators", "groups", "actions", "packages", "targets", "limits", NULL};
    char where[320];
    snprintf(where, sizeof where, "rule %zu", index + 1);
    rule *r = &p->rules[p->rule_count++];
    r->max_targets = -1;
    if (!json_is_object(o))
        return dr_error_set(err, DR_ERR_USAGE, "policy: %s must be an object", where);
    dr_status status = only_keys(o, where, keys, err);
    if (status == DR_OK && (status = text_field(o, "name", where, 1, &r->name, err)) == DR_OK)
        snprintf(where, sizeof where, "rule %s", r->name);
    if (status == DR_OK && (status = list_field(o, "operators", where, &r->operators, err)) == DR_OK &&
        (status = list_field(o, "groups", where, &r->groups, err)) == DR_OK &&
        (status = parse_actions(o, where, &r->actions, err)) == DR_OK &&
        (status = list_field(o, "packages", where, &r->packages, err)) == DR_OK &&
        (status = parse_targets(json_object_get(o, "targets"), where, r, err)) == DR_OK)
        status = parse_limits(json_object_get(o, "limits"), where, r, err);
    if (status != DR_OK)
        return status;
    if (!r->operators.count && !r->groups.count)
        return dr_error_set(err, DR_ERR_USAGE, "policy: %s names no operators and no groups", where);
    for (size_t i = 0; i < r->operators.count; i++)
        if (strcmp(r->operators.items[i], "*") != 0 && !someone_is_named(p, r->operators.items[i]))
            return dr_error_set(err, DR_ERR_USAGE, "policy: %s names operator \"%.64s\", which is not in \"operators\"",
                                where, r->operators.items[i]);
    for (size_t i = 0; i < r->groups.count; i++)
        if (strcmp(r->groups.items[i], "*") != 0 && !someone_is_in_group(p, r->groups.items[i]))
            return dr_error_set(err, DR_ERR_USAGE, "policy: %s names group \"%.64s\", which no operator is in", where,
                                r->groups.items[i]);
    for (size_t i = 0; i + 1 < p->rule_count; i++)
        if (strcmp(p->rules[i].name, r->name) == 0)
            return dr_error_set(err, DR_ERR_USAGE, "policy: rule %s is named twice", r->name);
    return DR_OK;
}

dr_status dr_policy_parse(const char *text, size_t len, dr_policy **out, dr_error *err)
{
    static const char *const keys[] = {"operators", "rules", NULL};
    json_error_t json_err;
    dr_policy *p = NULL;
    dr_status status = DR_OK;
    *out = NULL;
    if (len > DR_POLICY_MAX_BYTES)
        return dr_error_set(err, DR_ERR_USAGE, "policy: %zu bytes, more than the %d allowed", len, DR_POLICY_MAX_BYTES);
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &json_err);
    if (!root)
        /* The position only: the text may be anything, and errors are logged. */
        return dr_error_set(err, DR_ERR_USAGE, "policy: not valid JSON (line %d, column %d)", json_err.line,
                            json_err.column);
    json_t *operators = json_object_get(root, "operators"), *rules = json_object_get(root, "rules");
    if (!json_is_object(root) || !json_is_array(operators) || !json_is_array(rules)) {
        status =
            dr_error_set(err, DR_ERR_USAGE, "policy: must be an object with the lists \"operators\" and \"rules\"");
        goto cleanup;
    }
    if ((status = only_keys(root, "the policy", keys, err)) != DR_OK)
        goto cleanup;
    if (!(p = calloc(1, sizeof *p)) || !(p->operators = calloc(json_array_size(operators) + 1, sizeof *p->operators)) ||
        !(p->rules = calloc(json_array_size(rules) + 1, sizeof *p->rules))) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the policy");
        goto cleanup;
    }
    size_t i;
    json_t *item;
    json_array_foreach(operators, i, item)
    {
        if ((status = parse_operator(item, i, p, err)) != DR_OK)
            goto cleanup;
    }
    json_array_foreach(rules, i, item)
    {
        if ((status = parse_rule(item, i, p, err)) != DR_OK)
            goto cleanup;
    }
    *out = p;
    p = NULL;
cleanup:
    dr_policy_free(p);
    json_decref(root);
    return status;
}

dr_status dr_policy_load(const char *path, dr_policy **out, dr_error *err)
{
    dr_strbuf text = {0};
    *out = NULL;
    dr_status status = dr_strbuf_read_file(&text, path, DR_POLICY_MAX_BYTES, DR_ERR_USAGE, err);
    if (status == DR_OK && (status = dr_policy_parse(text.buf ? text.buf : "", text.len, out, err)) != DR_OK)
        dr_error_wrap(err, "%s", path);
    dr_strbuf_free(&text);
    return status;
}

size_t dr_policy_operator_count(const dr_policy *policy)
{
    return policy->operator_count;
}

size_t dr_policy_rule_count(const dr_policy *policy)
{
    return policy->rule_count;
}

static const operator_entry *find_operator(const dr_policy *p, const char *name)
{
    for (size_t i = 0; i < p->operator_count; i++)
        if (name && strcmp(p->operators[i].name, name) == 0)
            return &p->operators[i];
    return NULL;
}

const char *dr_policy_operator_for_key(const dr_policy *policy, const char *key_id)
{
    for (size_t i = 0; key_id && i < policy->operator_count; i++)
        if (list_has(&policy->operators[i].keys, key_id))
            return policy->operators[i].name;
    return NULL;
}

/* ---- checking ---- */

static int rule_applies_to(const rule *r, const operator_entry *op)
{
    if (list_has(&r->operators, "*") || list_has(&r->operators, op->name) || list_has(&r->groups, "*"))
        return 1;
    for (size_t i = 0; i < op->groups.count; i++)
        if (list_has(&r->groups, op->groups.items[i]))
            return 1;
    return 0;
}

static const char *tag_value(const Drover__V1__Target *t, const char *key)
{
    for (size_t i = 0; i < t->n_tags; i++)
        if (t->tags[i]->key && strcmp(t->tags[i]->key, key) == 0)
            return t->tags[i]->value ? t->tags[i]->value : "";
    return NULL;
}

static int target_in_scope(const rule *r, const Drover__V1__Target *t)
{
    if (!list_matches(&r->accounts, t->account) || !list_matches(&r->regions, t->region) ||
        !list_matches(&r->ids, t->target_id))
        return 0;
    for (size_t i = 0; i < r->tag_count; i++) {
        const char *value = tag_value(t, r->tags[i].key);
        if (!value || !list_matches(&r->tags[i].values, value))
            return 0;
    }
    return 1;
}

/* How far a rule got with a request: a refusal from a later stage is the more telling one. */
enum stage { STAGE_NONE, STAGE_PACKAGE, STAGE_TARGETS, STAGE_LIMITS };

/* DR_OK when r allows request; otherwise the stage it failed at, with err saying why. */
static dr_status rule_allows(const rule *r, const dr_policy_request *q, enum stage *stage, dr_error *err)
{
    *stage = STAGE_PACKAGE;
    if (q->package && !list_matches(&r->packages, q->package))
        return dr_error_set(err, DR_ERR_NOT_ALLOWED, "no rule lets %s %s package %s", q->operator_name,
                            dr_request_action_name(q->action), q->package);
    *stage = STAGE_TARGETS;
    for (size_t i = 0; i < q->target_count; i++)
        if (!target_in_scope(r, q->targets[i]))
            return dr_error_set(err, DR_ERR_NOT_ALLOWED,
                                "target %s (account %s, region %s) is outside the targets rule %s lets %s %s",
                                q->targets[i]->target_id, q->targets[i]->account, q->targets[i]->region, r->name,
                                q->operator_name, dr_request_action_name(q->action));
    *stage = STAGE_LIMITS;
    if (!q->has_limits)
        return DR_OK;
    if (r->max_targets >= 0 && q->job_count > (uint64_t)r->max_targets)
        return dr_error_set(err, DR_ERR_NOT_ALLOWED,
                            "rule %s allows at most %lld targets per deployment; this one has %llu", r->name,
                            r->max_targets, (unsigned long long)q->job_count);
    long long concurrency = dr_rate_limit(q->max_concurrency, q->job_count, 1, 50);
    if (r->max_concurrency_at_most) {
        long long bound = dr_rate_limit(r->max_concurrency_at_most, q->job_count, 1, 50);
        if (concurrency < 0 || concurrency > bound)
            return dr_error_set(err, DR_ERR_NOT_ALLOWED,
                                "rule %s allows a max concurrency of at most %s (%lld of %llu jobs); asked: %s",
                                r->name, r->max_concurrency_at_most, bound, (unsigned long long)q->job_count,
                                q->max_concurrency && q->max_concurrency[0] ? q->max_concurrency : "50");
    }
    long long errors = dr_rate_limit(q->max_errors, q->job_count, 0, 0);
    if (r->max_errors_at_most) {
        long long bound = dr_rate_limit(r->max_errors_at_most, q->job_count, 0, 0);
        if (errors < 0 || errors > bound)
            return dr_error_set(err, DR_ERR_NOT_ALLOWED,
                                "rule %s allows max errors of at most %s (%lld of %llu jobs); asked: %s", r->name,
                                r->max_errors_at_most, bound, (unsigned long long)q->job_count,
                                q->max_errors && q->max_errors[0] ? q->max_errors : "0");
    }
    return DR_OK;
}

dr_status dr_policy_check(const dr_policy *policy, const dr_policy_request *request, const char **rule_name,
                          dr_error *err)
{
    const operator_entry *op = find_operator(policy, request->operator_name);
    enum stage best = STAGE_NONE;
    dr_error best_err = {0};
    if (rule_name)
        *rule_name = NULL;
    if (!op)
        return dr_error_set(err, DR_ERR_NOT_ALLOWED, "%.64s is not an operator of the policy",
                            request->operator_name ? request->operator_name : "(nobody)");
    for (size_t i = 0; i < policy->rule_count; i++) {
        const rule *r = &policy->rules[i];
        if (!(r->actions & (1u << request->action)) || !rule_applies_to(r, op))
            continue;
        enum stage stage;
        dr_error rule_err = {0};
        if (rule_allows(r, request, &stage, &rule_err) == DR_OK) {
            if (rule_name)
                *rule_name = r->name;
            return DR_OK;
        }
        if (stage > best) {
            best = stage;
            best_err = rule_err;
        }
    }
    if (best == STAGE_NONE)
        return dr_error_set(err, DR_ERR_NOT_ALLOWED, "no rule lets %s %s", op->name,
                            dr_request_action_name(request->action));
    return dr_error_set(err, DR_ERR_NOT_ALLOWED, "%s", best_err.detail);
}
