/* The control plane's policy (policy.h): strict parsing, deny by default, and every way a request falls outside. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "policy.h"

#define ALICE "aaaaaaaaaaaaaaaa"
#define BOB "bbbbbbbbbbbbbbbb"

static const char example[] =
    "{\"operators\": ["
    "  {\"name\": \"alice\", \"keys\": [\"" ALICE
    "\"], \"groups\": [\"platform\"]},"
    "  {\"name\": \"bob\", \"keys\": [\"" BOB
    "\"]}],"
    " \"rules\": ["
    "  {\"name\": \"platform-eu\", \"groups\": [\"platform\"], \"actions\": [\"deploy\", \"cancel\"],"
    "   \"packages\": [\"agent-*\"],"
    "   \"targets\": {\"accounts\": [\"1111*\"], \"regions\": [\"eu-*\"], \"tags\": {\"env\": [\"prod\", \"stag*\"]}},"
    "   \"limits\": {\"max_targets\": 3, \"max_concurrency_at_most\": \"50%\", \"max_errors_at_most\": \"1\"}},"
    "  {\"name\": \"bob-publishes\", \"operators\": [\"bob\"], \"actions\": [\"package.publish\"]}]}";

static dr_policy *parse(const char *text)
{
    dr_policy *p = NULL;
    dr_error err = {0};
    if (dr_policy_parse(text, strlen(text), &p, &err) != DR_OK)
        fprintf(stderr, "parse: %s\n", err.detail);
    return p;
}

static Drover__V1__KeyValue env_prod = {PROTOBUF_C_MESSAGE_INIT(&drover__v1__key_value__descriptor), "env", "prod"};
static Drover__V1__KeyValue *prod_tags[] = {&env_prod};

static void a_target(Drover__V1__Target *t, const char *id, const char *account, const char *region, int prod)
{
    drover__v1__target__init(t);
    t->target_id = (char *)id;
    t->account = (char *)account;
    t->region = (char *)region;
    if (prod) {
        t->n_tags = 1;
        t->tags = prod_tags;
    }
}

static void operators_are_found_by_key(void)
{
    dr_policy *p = parse(example);
    CHECK(p != NULL);
    if (!p)
        return;
    CHECK_INT(2, dr_policy_operator_count(p));
    CHECK_INT(2, dr_policy_rule_count(p));
    CHECK_STR("alice", dr_policy_operator_for_key(p, ALICE));
    CHECK_STR("bob", dr_policy_operator_for_key(p, BOB));
    CHECK(dr_policy_operator_for_key(p, "cccccccccccccccc") == NULL);
    dr_policy_free(p);
}

static void a_request_inside_a_rule_is_allowed_and_anything_outside_refused(void)
{
    dr_policy *p = parse(example);
    if (!p)
        return;
    Drover__V1__Target a, b, other_account, other_region, untagged;
    a_target(&a, "i-1", "111122223333", "eu-west-1", 1);
    a_target(&b, "i-2", "111100000000", "eu-central-1", 1);
    a_target(&other_account, "i-3", "999900000000", "eu-west-1", 1);
    a_target(&other_region, "i-4", "111122223333", "us-east-1", 1);
    a_target(&untagged, "i-5", "111122223333", "eu-west-1", 0);
    const Drover__V1__Target *fine[] = {&a, &b};
    dr_policy_request q = {.action = DR_ACTION_DEPLOY,
                           .operator_name = "alice",
                           .package = "agent-linux",
                           .targets = fine,
                           .target_count = 2,
                           .has_limits = 1,
                           .job_count = 2,
                           .max_concurrency = "1",
                           .max_errors = "0"};
    const char *rule = NULL;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_policy_check(p, &q, &rule, &err));
    CHECK_STR("platform-eu", rule);

    /* Another package. */
    q.package = "sshd";
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_policy_check(p, &q, &rule, &err));
    CHECK_CONTAINS("package sshd", err.detail);
    q.package = "agent-linux";

    /* A target of another account, another region, or without the tag. */
    const Drover__V1__Target *outside[][2] = {{&a, &other_account}, {&other_region, &a}, {&a, &untagged}};
    const char *named[] = {"i-3 (account 999900000000", "i-4", "i-5"};
    for (size_t i = 0; i < 3; i++) {
        q.targets = outside[i];
        CHECK_INT(DR_ERR_NOT_ALLOWED, dr_policy_check(p, &q, &rule, &err));
        CHECK_CONTAINS(named[i], err.detail);
    }
    q.targets = fine;

    /* Limits: too many targets, too much concurrency, too many errors allowed. */
    q.job_count = 4;
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_policy_check(p, &q, &rule, &err));
    CHECK_CONTAINS("at most 3 targets", err.detail);
    q.job_count = 2;
    q.max_concurrency = "2";
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_policy_check(p, &q, &rule, &err));
    CHECK_CONTAINS("max concurrency of at most 50%", err.detail);
    q.max_concurrency = ""; /* the default, 50, is above 50% of 2 */
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_policy_check(p, &q, &rule, &err));
    q.max_concurrency = "50%";
    CHECK_INT(DR_OK, dr_policy_check(p, &q, &rule, &err));
    q.max_errors = "2";
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_policy_check(p, &q, &rule, &err));
    CHECK_CONTAINS("max errors of at most 1", err.detail);
    q.max_errors = "1";
    CHECK_INT(DR_OK, dr_policy_check(p, &q, &rule, &err));

    /* Another action, another operator, nobody. */
    q.action = DR_ACTION_ASSOCIATION_CREATE;
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_policy_check(p, &q, &rule, &err));
    CHECK_STR("no rule lets alice association.create", err.detail);
    q.action = DR_ACTION_DEPLOY;
    q.operator_name = "bob";
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_policy_check(p, &q, &rule, &err));
    CHECK_STR("no rule lets bob deploy", err.detail);
    q.operator_name = NULL;
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_policy_check(p, &q, &rule, &err));

    /* bob may publish any package. */
    dr_policy_request publish = {.action = DR_ACTION_PACKAGE_PUBLISH, .operator_name = "bob", .package = "x"};
    CHECK_INT(DR_OK, dr_policy_check(p, &publish, &rule, &err));
    CHECK_STR("bob-publishes", rule);
    publish.operator_name = "alice";
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_policy_check(p, &publish, &rule, &err));
    dr_policy_free(p);
}

static void an_empty_policy_denies_everything(void)
{
    dr_policy *p = parse("{\"operators\": [{\"name\": \"alice\", \"keys\": [\"" ALICE "\"]}], \"rules\": []}");
    if (!p)
        return;
    dr_policy_request q = {.action = DR_ACTION_CANCEL, .operator_name = "alice"};
    dr_error err = {0};
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_policy_check(p, &q, NULL, &err));
    dr_policy_free(p);
}

static void mistakes_are_refused_naming_where(void)
{
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"", "not valid JSON"},
        {"[]", "must be an object"},
        {"{\"operators\": [], \"rules\": [], \"extra\": 1}", "unknown key \"extra\""},
        {"{\"operators\": [{\"name\": \"a\", \"keys\": [\"xyz\"]}], \"rules\": []}", "not a key id"},
        {"{\"operators\": [{\"name\": \"a\", \"keys\": [\"" ALICE "\"]}, {\"name\": \"b\", \"keys\": [\"" ALICE
         "\"]}], \"rules\": []}",
         "belongs to both a and b"},
        {"{\"operators\": [{\"name\": \"a\"}, {\"name\": \"a\"}], \"rules\": []}", "named twice"},
        {"{\"operators\": [{\"name\": \"a\"}], \"rules\": [{\"name\": \"r\", \"operators\": [\"a\"], \"actions\": "
         "[\"dance\"]}]}",
         "unknown action \"dance\""},
        {"{\"operators\": [{\"name\": \"a\"}], \"rules\": [{\"name\": \"r\", \"operators\": [\"zed\"], \"actions\": "
         "[\"*\"]}]}",
         "operator \"zed\""},
        {"{\"operators\": [{\"name\": \"a\"}], \"rules\": [{\"name\": \"r\", \"groups\": [\"ops\"], \"actions\": "
         "[\"*\"]}]}",
         "group \"ops\""},
        {"{\"operators\": [{\"name\": \"a\"}], \"rules\": [{\"name\": \"r\", \"operators\": [\"a\"]}]}",
         "no \"actions\""},
        {"{\"operators\": [{\"name\": \"a\"}], \"rules\": [{\"name\": \"r\", \"operators\": [\"a\"], \"actions\": "
         "[\"*\"], \"limits\": {\"max_targets\": 0}}]}",
         "max_targets"},
        {"{\"operators\": [{\"name\": \"a\"}], \"rules\": [{\"name\": \"r\", \"operators\": [\"a\"], \"actions\": "
         "[\"*\"], \"limits\": {\"max_errors_at_most\": \"05\"}}]}",
         "max_errors_at_most"},
        {"{\"operators\": [{\"name\": \"a\"}], \"rules\": [{\"name\": \"r\", \"operators\": [\"a\"], \"actions\": "
         "[\"*\"], \"targets\": {\"tags\": {\"env\": \"prod\"}}}]}",
         "list of strings"},
        {"{\"operators\": [{\"name\": \"a\", \"name\": \"b\"}], \"rules\": []}", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dr_policy *p = NULL;
        dr_error err = {0};
        CHECK_INT(DR_ERR_USAGE, dr_policy_parse(bad[i].text, strlen(bad[i].text), &p, &err));
        CHECK(p == NULL);
        CHECK_CONTAINS(bad[i].want, err.detail);
    }
}

int main(void)
{
    operators_are_found_by_key();
    a_request_inside_a_rule_is_allowed_and_anything_outside_refused();
    an_empty_policy_denies_everything();
    mistakes_are_refused_naming_where();
    return check_done("policy");
}
