/* The event-stream hub, over socket pairs: snapshots, updates, limits, slow and gone clients. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "sse.h"

/* A client: the hub gets one end, the test reads the other. */
static int connect_client(dr_sse_hub *hub)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
        return -1;
    int buffer = 8192; /* small, so that a client that does not read is soon behind */
    setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    dr_sse_hub_take(hub, pair[0]);
    return pair[1];
}

/* What arrives on fd within ms, until `until` is in it (NULL: all of ms); malloc'd. */
static char *read_for(int fd, int ms, const char *until)
{
    size_t len = 0, cap = 1 << 16;
    char *text = malloc(cap);
    text[0] = '\0';
    int64_t deadline = dr_monotonic_ms() + ms;
    while (!(until && strstr(text, until))) {
        int64_t left = deadline - dr_monotonic_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        if (len + 4096 > cap)
            text = realloc(text, cap *= 2);
        ssize_t got = recv(fd, text + len, cap - len - 1, MSG_DONTWAIT);
        if (got <= 0)
            break;
        len += (size_t)got;
        text[len] = '\0';
    }
    return text;
}

static void wait_ms(int ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Poll cond (a stats field) until it holds or 5 s pass. */
#define EVENTUALLY(cond)                                                                                               \
    do {                                                                                                               \
        for (int tries_ = 0; tries_ < 500 && !(cond); tries_++)                                                        \
            wait_ms(10);                                                                                               \
        CHECK(cond);                                                                                                   \
    } while (0)

static void events_are_formatted_line_by_line(void)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    dr_sse_event(&sb, "deployment", "{\"a\": 1}", 8);
    CHECK_STR("event: deployment\ndata: {\"a\": 1}\n\n", sb.buf);
    dr_strbuf_reset(&sb);
    dr_sse_event(&sb, "x", "one\ntwo\r\nthree\n", 15);
    CHECK_STR("event: x\ndata: one\ndata: two\ndata: three\n\n", sb.buf);
    dr_strbuf_reset(&sb);
    dr_sse_event(&sb, "empty", "", 0);
    CHECK_STR("event: empty\ndata: \n\n", sb.buf);
    dr_strbuf_free(&sb);
}

static void a_new_client_gets_the_snapshot_then_updates(void)
{
    dr_sse_hub *hub = NULL;
    CHECK_INT(DR_OK, dr_sse_hub_start(&(dr_sse_limits){.retry_ms = 1500}, &hub, NULL));
    int a = connect_client(hub);
    CHECK_INT(1, (int)dr_sse_hub_waiting(hub));
    /* An update without a snapshot does not reach a client that has none. */
    dr_sse_hub_publish(hub, NULL, 0, "event: u\ndata: 0\n\n", 18);
    char *got = read_for(a, 200, NULL);
    CHECK_STR("retry: 1500\n\n", got);
    free(got);
    dr_sse_hub_publish(hub, "event: snapshot\ndata: S\n\n", 25, "event: u\ndata: 1\n\n", 18);
    got = read_for(a, 2000, "data: S\n\n");
    CHECK_STR("event: snapshot\ndata: S\n\n", got);
    free(got);
    CHECK_INT(0, (int)dr_sse_hub_waiting(hub));

    int b = connect_client(hub);
    dr_sse_hub_publish(hub, "event: snapshot\ndata: S2\n\n", 26, "event: u\ndata: 2\n\n", 18);
    got = read_for(a, 2000, "data: 2\n\n");
    CHECK_STR("event: u\ndata: 2\n\n", got);
    free(got);
    got = read_for(b, 2000, "data: S2\n\n");
    CHECK_STR("retry: 1500\n\nevent: snapshot\ndata: S2\n\n", got);
    free(got);

    dr_sse_stats stats;
    dr_sse_hub_stats(hub, &stats);
    CHECK_INT(2, (int)stats.clients);
    CHECK_INT(2, (int)stats.accepted);
    /* A client that hangs up is noticed and its slot freed. */
    close(a);
    EVENTUALLY((dr_sse_hub_stats(hub, &stats), stats.clients == 1));
    dr_sse_hub_stop(hub);
    got = read_for(b, 2000, NULL); /* stop closed it: the read ends at once */
    free(got);
    close(b);
}

static void past_the_client_limit_a_stream_is_closed_at_once(void)
{
    dr_sse_hub *hub = NULL;
    CHECK_INT(DR_OK, dr_sse_hub_start(&(dr_sse_limits){.max_clients = 2}, &hub, NULL));
    int a = connect_client(hub), b = connect_client(hub);
    CHECK(!dr_sse_hub_has_room(hub));
    int c = connect_client(hub);
    char byte;
    struct pollfd p = {.fd = c, .events = POLLIN};
    CHECK_INT(1, poll(&p, 1, 2000));
    CHECK_INT(0, (int)recv(c, &byte, 1, 0)); /* closed, nothing sent */
    dr_sse_stats stats;
    dr_sse_hub_stats(hub, &stats);
    CHECK_INT(1, (int)stats.refused);
    CHECK_INT(2, (int)stats.clients);
    close(a);
    EVENTUALLY(dr_sse_hub_has_room(hub));
    dr_sse_hub_stop(hub);
    close(b);
    close(c);
}

static void a_client_that_does_not_read_is_dropped_not_waited_for(void)
{
    dr_sse_hub *hub = NULL;
    CHECK_INT(DR_OK, dr_sse_hub_start(&(dr_sse_limits){.max_queued = 64 * 1024, .stall_ms = 60000}, &hub, NULL));
    int slow = connect_client(hub), fast = connect_client(hub);
    dr_sse_hub_publish(hub, "event: snapshot\ndata: S\n\n", 25, NULL, 0);
    char *event = malloc(8192);
    memset(event, 'x', 8192);
    memcpy(event, "data: ", 6);
    event[8190] = '\n';
    event[8191] = '\n';
    dr_sse_stats stats;
    size_t fast_bytes = 0, want = 25 + 13; /* the snapshot and the retry line */
    /* The fast client reads each event; the slow one never reads. */
    for (int i = 0; i < 40; i++) {
        dr_sse_hub_publish(hub, NULL, 0, event, 8192);
        want += 8192;
        for (int tries = 0; tries < 500 && fast_bytes < want; tries++) {
            char *got = read_for(fast, 10, NULL);
            fast_bytes += strlen(got);
            free(got);
        }
    }
    CHECK(fast_bytes == want); /* every event reached the client that kept up */
    EVENTUALLY((dr_sse_hub_stats(hub, &stats), stats.dropped_slow == 1 && stats.clients == 1));
    free(event);
    dr_sse_hub_stop(hub);
    close(slow);
    close(fast);
}

static void a_stalled_client_is_dropped_after_the_stall_time(void)
{
    dr_sse_hub *hub = NULL;
    CHECK_INT(DR_OK, dr_sse_hub_start(&(dr_sse_limits){.stall_ms = 300}, &hub, NULL));
    int stalled = connect_client(hub);
    char *big = calloc(1, 512 * 1024);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'y', 512 * 1024 - 8);
    big[512 * 1024 - 2] = big[512 * 1024 - 1] = '\n';
    dr_sse_hub_publish(hub, big, 512 * 1024, NULL, 0);
    dr_sse_stats stats;
    EVENTUALLY((dr_sse_hub_stats(hub, &stats), stats.dropped_slow == 1 && stats.clients == 0));
    free(big);
    dr_sse_hub_stop(hub);
    close(stalled);
}

static void heartbeats_keep_an_idle_stream_talking(void)
{
    dr_sse_hub *hub = NULL;
    CHECK_INT(DR_OK, dr_sse_hub_start(&(dr_sse_limits){.heartbeat_ms = 100}, &hub, NULL));
    int a = connect_client(hub);
    char *got = read_for(a, 2000, "\n: \n\n");
    CHECK_CONTAINS(": \n\n", got);
    free(got);
    dr_sse_hub_stop(hub);
    close(a);
}

int main(void)
{
    events_are_formatted_line_by_line();
    a_new_client_gets_the_snapshot_then_updates();
    past_the_client_limit_a_stream_is_closed_at_once();
    a_client_that_does_not_read_is_dropped_not_waited_for();
    a_stalled_client_is_dropped_after_the_stall_time();
    heartbeats_keep_an_idle_stream_talking();
    dr_sse_hub_stop(NULL);
    return check_done("sse");
}
