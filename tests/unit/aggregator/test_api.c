/* The aggregator's HTTP answers, straight from the handler (no sockets, no Kafka). */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

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
    const char *headers;
    void (*stream)(void *, int);
} answer;

/* GET target ("/path?query"), straight to the handler. */
static answer ask(dr_api *api, const char *target)
{
    char path[512];
    snprintf(path, sizeof path, "%s", target);
    char *query = strchr(path, '?');
    if (query)
        *query++ = '\0';
    dr_http_request req = {"GET", path, query ? query : ""};
    dr_http_response resp = {.status = 200, .content_type = "text/plain; charset=utf-8"};
    dr_api_handle(api, &req, &resp);
    answer a = {resp.status, "", resp.body, resp.headers, resp.stream};
    snprintf(a.content_type, sizeof a.content_type, "%s", resp.content_type);
    if (!resp.stream) {
        CHECK(resp.body != NULL);
        CHECK_INT(resp.body ? strlen(resp.body) : 0, resp.body_len);
    }
    return a;
}

/* GET /deployments/{id}/failed: pages, filters, counts by state, reason and location. */
static void failed_targets_come_a_page_at_a_time(dr_api *api, dr_rollup_table *t)
{
    char target[16], message[64];
    for (int i = 1; i <= 1200; i++) {
        snprintf(target, sizeof target, "m%04d", i);
        snprintf(message, sizeof message, "exit %d", i % 7);
        fold(t, "big", target, i % 2 ? "111" : "222",
             i % 3 ? DROVER__V1__JOB_STATE__JOB_STATE_FAILED : DROVER__V1__JOB_STATE__JOB_STATE_TIMED_OUT,
             i % 3 ? "script-failed" : "timeout", message);
    }
    fold(t, "big", "ok-1", "111", DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS, "", "");

    answer a = ask(api, "/deployments/big/failed");
    CHECK_INT(200, a.status);
    CHECK_CONTAINS(
        "\"failed_total\": 1200, \"offset\": 0, \"limit\": 100, \"targets\": [\n  {\"target_id\": \"m0001\", "
        "\"job_id\": \"big/m0001\", \"state\": \"FAILED\", \"reason\": \"script-failed\", \"message\": "
        "\"exit 1\", \"account\": \"111\", \"region\": \"eu-west-1\", \"attempt\": 0, \"at_ms\": 1000}",
        a.body);
    CHECK_CONTAINS("{\"target_id\": \"m0100\"", a.body);
    CHECK(strstr(a.body, "\"m0101\"") == NULL);
    CHECK_CONTAINS("\"matched\": 1200, \"next_offset\": 100, ", a.body);
    CHECK_CONTAINS("\"by_state\": {\"FAILED\": 800, \"TIMED_OUT\": 400}", a.body);
    CHECK_CONTAINS("\"by_reason\": {\"script-failed\": 800, \"timeout\": 400}", a.body);
    CHECK_CONTAINS(
        "\"by_location\": [{\"account\": \"111\", \"region\": \"eu-west-1\", \"count\": 600}, "
        "{\"account\": \"222\", \"region\": \"eu-west-1\", \"count\": 600}]",
        a.body);
    free(a.body);

    /* The last page: next_offset null; a limit past the most is the most. */
    a = ask(api, "/deployments/big/failed?offset=1100&limit=9999");
    CHECK_CONTAINS("\"offset\": 1100, \"limit\": 500, ", a.body);
    CHECK_CONTAINS("{\"target_id\": \"m1101\"", a.body);
    CHECK_CONTAINS("{\"target_id\": \"m1200\"", a.body);
    CHECK_CONTAINS("\"matched\": 1200, \"next_offset\": null", a.body);
    free(a.body);
    a = ask(api, "/deployments/big/failed?offset=5000");
    CHECK_CONTAINS("\"targets\": [], \"matched\": 1200, \"next_offset\": null", a.body);
    free(a.body);

    /* Filters: they narrow "matched", never the counts by state, reason and location. */
    a = ask(api, "/deployments/big/failed?state=TIMED_OUT&account=222&limit=2");
    CHECK_CONTAINS("\"targets\": [\n  {\"target_id\": \"m0006\"", a.body);
    CHECK_CONTAINS("{\"target_id\": \"m0012\"", a.body);
    CHECK_CONTAINS("\"matched\": 200, \"next_offset\": 2, ", a.body);
    CHECK_CONTAINS("\"by_state\": {\"FAILED\": 800, \"TIMED_OUT\": 400}", a.body);
    free(a.body);
    a = ask(api, "/deployments/big/failed?reason=script-failed&q=M000&limit=0");
    CHECK_CONTAINS("\"targets\": [], \"matched\": 6, \"next_offset\": null", a.body);
    CHECK_CONTAINS("\"by_reason_other\": 0, \"by_location_other\": 0}", a.body);
    free(a.body);
    a = ask(api, "/deployments/big/failed?q=exit%205&region=eu-west-1&limit=1");
    CHECK_CONTAINS("{\"target_id\": \"m0005\"", a.body);
    free(a.body);

    a = ask(api, "/deployments/big/failed?offset=-1");
    CHECK_INT(400, a.status);
    free(a.body);
    a = ask(api, "/deployments/big/failed?limit=ten");
    CHECK_INT(400, a.status);
    free(a.body);
    a = ask(api, "/deployments/nope/failed");
    CHECK_INT(404, a.status);
    CHECK_CONTAINS("\"deployment_id\": \"nope\"", a.body);
    free(a.body);

    /* A deployment whose id ends in /failed is still itself. */
    fold(t, "odd/failed", "t1", "111", DROVER__V1__JOB_STATE__JOB_STATE_FAILED, "x", "");
    a = ask(api, "/deployments/odd%2Ffailed");
    CHECK_INT(200, a.status);
    CHECK_CONTAINS("\"deployment_id\": \"odd/failed\"", a.body);
    free(a.body);
    a = ask(api, "/deployments/odd%2Ffailed/failed");
    CHECK_INT(200, a.status);
    CHECK_CONTAINS("\"failed_total\": 1", a.body);
    free(a.body);

    /* ?failed=N bounds the detail's own list (0: none, for the console, which pages them). */
    a = ask(api, "/deployments/big?failed=0");
    CHECK_CONTAINS("\"failed_targets\": []", a.body);
    CHECK_CONTAINS("\"failed_total\": 1200", a.body);
    free(a.body);
    a = ask(api, "/deployments/big?failed=2");
    CHECK_CONTAINS("\"m0002\"", a.body);
    CHECK(strstr(a.body, "\"m0003\"") == NULL);
    free(a.body);
}

/* GET /events: a stream handed to the hub, 503 past its limit, 404 without one. */
static void events_are_a_stream_with_a_bounded_number_of_clients(dr_api *api)
{
    answer a = ask(api, "/events");
    CHECK_INT(404, a.status);
    free(a.body);
    dr_sse_hub *hub = NULL;
    CHECK_INT(DR_OK, dr_sse_hub_start(&(dr_sse_limits){.max_clients = 1}, &hub, NULL));
    api->events = hub;
    a = ask(api, "/events");
    CHECK_INT(200, a.status);
    CHECK_STR("text/event-stream", a.content_type);
    CHECK(a.headers && strcmp(a.headers, "X-Accel-Buffering: no\r\n") == 0);
    CHECK(a.stream == dr_sse_hub_take);
    CHECK(a.body == NULL);
    int pair[2];
    CHECK_INT(0, socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
    dr_sse_hub_take(hub, pair[0]);
    a = ask(api, "/events");
    CHECK_INT(503, a.status);
    CHECK_CONTAINS("too many event streams", a.body);
    free(a.body);
    dr_sse_hub_stop(hub);
    close(pair[1]);
    api->events = NULL;
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
    CHECK_CONTAINS("new EventSource('events')", a.body); /* pushed, not polled */
    CHECK(strstr(a.body, "{{") == NULL);                 /* the style and the script are in */
    CHECK(strstr(a.body, "setInterval") == NULL);
    CHECK(strstr(a.body, "src=\"http") == NULL && strstr(a.body, "href=\"http") == NULL);
    CHECK(a.headers != NULL);
    if (a.headers) {
        CHECK_CONTAINS("Content-Security-Policy: default-src 'none'; script-src 'sha256-", a.headers);
        CHECK_CONTAINS("; connect-src 'self'; ", a.headers);
        CHECK(strstr(a.headers, "unsafe-inline") == NULL);
    }
    free(a.body);

    failed_targets_come_a_page_at_a_time(&api, t);
    events_are_a_stream_with_a_bounded_number_of_clients(&api);

    a = ask(&api, "/nothing-here");
    CHECK_INT(404, a.status);
    free(a.body);

    dr_metrics_free(metrics);
    dr_rollup_table_free(t);
    return check_done("test_api");
}
