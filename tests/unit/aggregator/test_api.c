/* The aggregator's HTTP answers, straight from the handler (no sockets, no Kafka). */
#include <stdlib.h>

#include "api.h"
#include "check.h"
#include "messages.h"
#include "rollup.h"

static void fold(dr_rollup_table *t, const char *deployment, const char *target, const char *account,
                 Drover__V1__JobState state, const char *reason, const char *message)
{
    char job_id[128];
    snprintf(job_id, sizeof job_id, "%s/%s", deployment, target);
    Drover__V1__StatusEvent e = DROVER__V1__STATUS_EVENT__INIT;
    e.deployment_id = (char *)deployment;
    e.job_id = job_id;
    e.target_id = (char *)target;
    e.account = (char *)account;
    e.region = "eu-west-1";
    e.package = "acme \"agent\"";
    e.version = "2.0";
    e.state = state;
    e.reason = (char *)reason;
    e.message = (char *)message;
    e.at_ms = 1000;
    dr_rollup_fold_result r;
    CHECK_INT(DR_OK, dr_rollup_fold(t, &e, 0, &r, NULL));
}

typedef struct answer {
    int status;
    char content_type[64];
    char *body;
} answer;

static answer ask(dr_api *api, const char *path)
{
    dr_http_request req = {"GET", path, ""};
    dr_http_response resp = {.status = 200, .content_type = "text/plain; charset=utf-8"};
    dr_api_handle(api, &req, &resp);
    answer a = {resp.status, "", resp.body};
    snprintf(a.content_type, sizeof a.content_type, "%s", resp.content_type);
    CHECK(resp.body != NULL);
    CHECK_INT(resp.body ? strlen(resp.body) : 0, resp.body_len);
    return a;
}

int main(void)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    atomic_int ready = 0;
    dr_rollup_table *t = dr_rollup_table_new();
    dr_metrics *metrics = dr_metrics_new();
    dr_api api = {.lock = &lock, .table = t, .metrics = metrics, .ready = &ready};

    fold(t, "d1", "t1", "111", DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS, "", "");
    fold(t, "d1", "t2", "222", DROVER__V1__JOB_STATE__JOB_STATE_FAILED, "script-failed", "install.sh said \"no\"\n");
    fold(t, "d/2", "t1", "111", DROVER__V1__JOB_STATE__JOB_STATE_PENDING, "", "");

    answer a = ask(&api, "/readyz");
    CHECK_INT(503, a.status);
    CHECK_STR("catching up\n", a.body);
    free(a.body);
    atomic_store(&ready, 1);
    a = ask(&api, "/readyz");
    CHECK_INT(200, a.status);
    free(a.body);
    a = ask(&api, "/healthz");
    CHECK_STR("ok\n", a.body);
    free(a.body);

    a = ask(&api, "/deployments");
    CHECK_INT(200, a.status);
    CHECK_CONTAINS("application/json", a.content_type);
    CHECK_CONTAINS("\"deployment_id\": \"d1\"", a.body);
    CHECK_CONTAINS("\"deployment_id\": \"d/2\"", a.body);
    CHECK_CONTAINS("\"package\": \"acme \\\"agent\\\"\"", a.body); /* escaped */
    CHECK_CONTAINS(
        "\"status\": \"FAILED\", \"total\": 2, \"counts\": {\"PENDING\": 0, \"IN_PROGRESS\": 0, "
        "\"SUCCESS\": 1, \"FAILED\": 1, \"TIMED_OUT\": 0, \"CANCELLED\": 0, \"SKIPPED\": 0, "
        "\"REJECTED\": 0}, \"failed_total\": 1",
        a.body);
    free(a.body);

    a = ask(&api, "/deployments/d1");
    CHECK_INT(200, a.status);
    CHECK_CONTAINS("\"partition\": 0", a.body);
    CHECK_CONTAINS(
        "{\"account\": \"111\", \"region\": \"eu-west-1\", \"total\": 1, \"counts\": {\"PENDING\": 0, "
        "\"IN_PROGRESS\": 0, \"SUCCESS\": 1",
        a.body);
    CHECK_CONTAINS(
        "{\"target_id\": \"t2\", \"job_id\": \"d1/t2\", \"state\": \"FAILED\", \"reason\": "
        "\"script-failed\", \"message\": \"install.sh said \\\"no\\\"\\n\"",
        a.body);
    free(a.body);

    a = ask(&api, "/deployments/d%2F2"); /* percent-encoded id */
    CHECK_INT(200, a.status);
    CHECK_CONTAINS("\"status\": \"PENDING\"", a.body);
    CHECK_CONTAINS("\"failed_targets\": []", a.body);
    free(a.body);

    a = ask(&api, "/deployments/nope");
    CHECK_INT(404, a.status);
    CHECK_CONTAINS("\"error\": \"no such deployment\"", a.body);
    free(a.body);

    dr_metrics_describe(metrics, "drover_status_events_total", DR_METRIC_COUNTER, "events", NULL, 0);
    dr_metrics_counter_add(metrics, "drover_status_events_total", "", 3);
    a = ask(&api, "/metrics");
    CHECK_CONTAINS("version=0.0.4", a.content_type);
    CHECK_CONTAINS("drover_status_events_total 3\n", a.body);
    CHECK_CONTAINS("# TYPE drover_jobs gauge\n", a.body);
    CHECK_CONTAINS(
        "drover_jobs{deployment=\"d1\",state=\"FAILED\",account=\"222\",region=\"eu-west-1\","
        "package=\"acme \\\"agent\\\"\"} 1\n",
        a.body);
    CHECK_CONTAINS("drover_deployments{status=\"FAILED\"} 1\n", a.body);
    CHECK_CONTAINS("drover_deployments{status=\"PENDING\"} 1\n", a.body);
    CHECK_CONTAINS("drover_deployments{status=\"SUCCESS\"} 0\n", a.body);
    CHECK(strstr(a.body, "state=\"IN_PROGRESS\"") == NULL); /* zero counts are not listed */
    free(a.body);

    a = ask(&api, "/");
    CHECK_CONTAINS("text/html", a.content_type);
    CHECK_CONTAINS("<title>Drover deployments</title>", a.body);
    CHECK_CONTAINS("setInterval(refresh, 1000)", a.body);
    free(a.body);

    a = ask(&api, "/nothing-here");
    CHECK_INT(404, a.status);
    free(a.body);

    dr_metrics_free(metrics);
    dr_rollup_table_free(t);
    return check_done("test_api");
}
