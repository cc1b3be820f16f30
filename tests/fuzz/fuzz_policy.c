/*
 * The control plane's policy parser (policy.h) on hostile text, and every
 * policy it accepts checked against a deployment request.
 */
#include <stdint.h>
#include <stdlib.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dr_policy *policy = NULL;
    dr_error err = {0};
    if (dr_policy_parse((const char *)data, size, &policy, &err) != DR_OK)
        return 0;
    Drover__V1__KeyValue tag = DROVER__V1__KEY_VALUE__INIT;
    tag.key = "env";
    tag.value = "prod";
    Drover__V1__KeyValue *tags[] = {&tag};
    Drover__V1__Target target = DROVER__V1__TARGET__INIT;
    target.target_id = "i-1";
    target.account = "111122223333";
    target.region = "eu-west-1";
    target.n_tags = 1;
    target.tags = tags;
    const Drover__V1__Target *targets[] = {&target};
    for (int action = 0; action < DR_ACTION_COUNT; action++) {
        dr_policy_request q = {.action = (dr_request_action)action,
                               .operator_name = dr_policy_operator_for_key(policy, "aaaaaaaaaaaaaaaa"),
                               .package = "agent",
                               .targets = targets,
                               .target_count = 1,
                               .has_limits = 1,
                               .job_count = 7,
                               .max_concurrency = "10%",
                               .max_errors = "1"};
        const char *rule = NULL;
        dr_policy_check(policy, &q, &rule, &err);
    }
    dr_policy_free(policy);
    return 0;
}
