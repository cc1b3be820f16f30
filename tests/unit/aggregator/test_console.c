/* The console's event stream: a snapshot first, then only what changed, round by round (no thread, no HTTP). */
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "console.h"

static void fold(dr_rollup_table *t, dr_fleet *fleet, const char *deployment, const char *target,
                 Drover__V1__JobState state, int64_t at_ms)
{
    char job_id[128];
    snprintf(job_id, sizeof job_id, "%s/%s", deployment, target);
    Drover__V1__StatusEvent e = DROVER__V1__STATUS_EVENT__INIT;
    e.deployment_id = (char *)deployment;
    e.job_id = job_id;
    e.target_id = (char *)target;
    e.account = "111";
    e.region = "eu-west-1";
    e.package = "agent";
    e.version = "2.0";
    e.state = state;
    e.at_ms = at_ms;
    dr_rollup_fold_result r;
    CHECK_INT(DR_OK, dr_rollup_fold(t, &e, 0, &r, NULL));
    if (state == DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS) {
        e.installed_known = 1;
        e.installed_version = "2.0";
        char *key = NULL;
        uint8_t *value = NULL;
        size_t len = 0;
        dr_fleet_fold(fleet, &e, &key, &value, &len);
        free(key);
        free(value);
    }
}

static void add_association(dr_associations *a, const char *id)
{
    Drover__V1__Association m = DROVER__V1__ASSOCIATION__INIT;
    m.association_id = (char *)id;
    m.package = "agent";
    m.schedule = "rate(1 hour)";
    m.created_at_ms = 1000;
    uint8_t bytes[256];
    size_t len = drover__v1__association__pack(&m, bytes);
    CHECK_INT(0, dr_associations_apply(a, id, strlen(id), bytes, len));
}

/* What the client has received within ms (all of it: the hub writes at once); malloc'd. */
static char *received(int fd, int ms)
{
    size_t len = 0, cap = 1 << 16;
    char *text = malloc(cap);
    int64_t deadline = dr_monotonic_ms() + ms;
    for (;;) {
        int64_t left = deadline - dr_monotonic_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t got = recv(fd, text + len, cap - len - 1, MSG_DONTWAIT);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    text[len] = '\0';
    return text;
}

int main(void)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    atomic_int ready = 0;
    dr_rollup_table *t = dr_rollup_table_new();
    dr_fleet *fleet = dr_fleet_new();
    dr_metrics *metrics = dr_metrics_new();
    dr_sse_hub *hub = NULL;
    CHECK_INT(DR_OK, dr_sse_hub_start(NULL, &hub, NULL));
    dr_associations *associations = dr_associations_new();
    add_association(associations, "a-1");
    dr_console *c = dr_console_new(&(dr_console_settings){.associations = associations,
                                                          .lock = &lock,
                                                          .table = t,
                                                          .fleet = fleet,
                                                          .ready = &ready,
                                                          .hub = hub,
                                                          .metrics = metrics,
                                                          .fleet_interval_ms = 1});
    CHECK(c != NULL);

    fold(t, fleet, "d1", "t1", DROVER__V1__JOB_STATE__JOB_STATE_PENDING, 1000);
    fold(t, fleet, "d1", "t2", DROVER__V1__JOB_STATE__JOB_STATE_PENDING, 1000);
    dr_console_round(c); /* nobody listens: nothing to do */

    int pair[2];
    CHECK_INT(0, socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
    dr_sse_hub_take(hub, pair[0]);
    dr_console_round(c);
    char *got = received(pair[1], 300);
    CHECK_CONTAINS("event: snapshot\ndata: {\"ready\": false, \"deployments\": [{\"deployment_id\": \"d1\", ", got);
    CHECK_CONTAINS("\"fleet\": {\"packages\": {}}, \"associations\": {\"now_ms\": ", got);
    CHECK_CONTAINS("\"associations\": [\ndata:   {\"association_id\": \"a-1\", ", got);
    CHECK_CONTAINS("\"next_run_ms\": 3601000, \"due\": true", got);
    CHECK(strstr(got, "event: deployment\n") == NULL);
    free(got);

    /* Nothing changed: nothing sent. */
    dr_console_round(c);
    got = received(pair[1], 100);
    CHECK_STR("", got);
    free(got);

    /* A job moves, readiness comes, a target gets the package: one event each. */
    fold(t, fleet, "d1", "t1", DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS, 1100);
    fold(t, fleet, "d1", "t1", DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS, 1200);
    fold(t, fleet, "d2", "t9", DROVER__V1__JOB_STATE__JOB_STATE_PENDING, 1300);
    atomic_store(&ready, 1);
    add_association(associations, "a-2");
    dr_console_round(c);
    got = received(pair[1], 300);
    CHECK_CONTAINS(
        "event: deployment\ndata: {\"deployment_id\": \"d1\", \"package\": \"agent\", \"version\": \"2.0\", "
        "\"status\": \"IN_PROGRESS\", \"total\": 2, \"counts\": {\"PENDING\": 1, \"IN_PROGRESS\": 0, "
        "\"SUCCESS\": 1,",
        got);
    CHECK_CONTAINS("event: deployment\ndata: {\"deployment_id\": \"d2\", ", got);
    CHECK_CONTAINS("event: fleet\ndata: {\"packages\": {\"agent\": {\"targets\": 1, \"versions\": {\"2.0\": 1}", got);
    CHECK_CONTAINS("event: ready\ndata: {\"ready\": true}\n\n", got);
    CHECK_CONTAINS("event: associations\ndata: {\"now_ms\": ", got);
    CHECK_CONTAINS("\"association_id\": \"a-2\"", got);
    CHECK(strstr(got, "snapshot") == NULL);
    free(got);

    /* A deployment that leaves the table (its partition revoked) is removed. */
    CHECK_INT(2, (int)dr_rollup_drop_partition(t, 0));
    dr_console_round(c);
    got = received(pair[1], 300);
    CHECK_CONTAINS("event: removed\ndata: {\"deployment_id\": \"d1\"}\n\n", got);
    CHECK_CONTAINS("event: removed\ndata: {\"deployment_id\": \"d2\"}\n\n", got);
    free(got);

    /* A second client gets a snapshot of the state as it is now; the first gets nothing new. */
    fold(t, fleet, "d3", "t1", DROVER__V1__JOB_STATE__JOB_STATE_PENDING, 2000);
    int second[2];
    CHECK_INT(0, socketpair(AF_UNIX, SOCK_STREAM, 0, second));
    dr_sse_hub_take(hub, second[0]);
    dr_console_round(c);
    got = received(second[1], 300);
    CHECK_CONTAINS("event: snapshot\ndata: {\"ready\": true, \"deployments\": [{\"deployment_id\": \"d3\", ", got);
    CHECK_CONTAINS("\"fleet\": {\"packages\": {\"agent\": ", got);
    CHECK(strstr(got, "d1") == NULL);
    free(got);
    got = received(pair[1], 300);
    CHECK_CONTAINS("event: deployment\ndata: {\"deployment_id\": \"d3\", ", got);
    CHECK(strstr(got, "snapshot") == NULL);
    free(got);

    char *text = dr_metrics_render(metrics, NULL);
    CHECK_CONTAINS("drover_aggregator_event_streams 2\n", text);
    free(text);

    dr_console_free(c);
    dr_associations_free(associations);
    dr_sse_hub_stop(hub);
    close(pair[1]);
    close(second[1]);
    dr_metrics_free(metrics);
    dr_fleet_free(fleet);
    dr_rollup_table_free(t);
    return check_done("console");
}
