/* The embedded HTTP server, driven over real sockets by a plain client. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "http_server.h"

/* ---- a handler that answers by path --------------------------------------- */

typedef struct handler_state {
    pthread_mutex_t lock;
    int calls;
    pthread_cond_t released; /* /block waits on it until open is set */
    int open;
} handler_state;

static char *copy_text(const char *text, size_t *len)
{
    *len = strlen(text);
    return strdup(text);
}

/* Streams handed over by the server (GET /stream): the test owns their sockets. */
#define STREAMS_MAX 128
static int streams[STREAMS_MAX];
static int stream_count;
static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;

static void take_stream(void *ctx, int fd)
{
    (void)ctx;
    send(fd, "data: hi\n\n", 10, MSG_NOSIGNAL);
    pthread_mutex_lock(&streams_lock);
    if (stream_count < STREAMS_MAX)
        streams[stream_count++] = fd;
    else
        close(fd);
    pthread_mutex_unlock(&streams_lock);
}

static void answer_by_path(void *ctx, const dr_http_request *req, dr_http_response *resp)
{
    handler_state *state = ctx;
    pthread_mutex_lock(&state->lock);
    state->calls++;
    pthread_mutex_unlock(&state->lock);
    if (strcmp(req->path, "/hello") == 0) {
        resp->body = copy_text("hello\n", &resp->body_len);
    } else if (strcmp(req->path, "/block") == 0) {
        pthread_mutex_lock(&state->lock);
        while (!state->open)
            pthread_cond_wait(&state->released, &state->lock);
        pthread_mutex_unlock(&state->lock);
        resp->body = copy_text("unblocked\n", &resp->body_len);
    } else if (strcmp(req->path, "/slow") == 0) {
        struct timespec pause = {.tv_nsec = 200 * 1000000L};
        nanosleep(&pause, NULL);
        resp->body = copy_text("slow\n", &resp->body_len);
    } else if (strcmp(req->path, "/echo") == 0) {
        char text[256];
        snprintf(text, sizeof text, "{\"method\":\"%s\",\"query\":\"%s\"}", req->method, req->query);
        resp->content_type = "application/json";
        resp->body = copy_text(text, &resp->body_len);
    } else if (strcmp(req->path, "/stream") == 0) {
        resp->content_type = "text/event-stream";
        resp->headers = "X-Accel-Buffering: no\r\n";
        resp->stream = take_stream;
    } else if (strcmp(req->path, "/headers") == 0) {
        resp->headers = "Content-Security-Policy: default-src 'none'\r\nX-Content-Type-Options: nosniff\r\n";
        resp->body = copy_text("ok\n", &resp->body_len);
    } else if (strcmp(req->path, "/bad-headers") == 0) {
        resp->headers = "X-One: 1\r\nInjected\r\n\r\n<html>";
        resp->body = copy_text("ok\n", &resp->body_len);
    } else if (strcmp(req->path, "/broken") == 0) {
        resp->body_len = 10; /* as if the allocation of the body failed */
    } else {
        resp->status = 404;
        resp->body = copy_text("no such page\n", &resp->body_len);
    }
}

static int handler_calls(handler_state *state)
{
    pthread_mutex_lock(&state->lock);
    int calls = state->calls;
    pthread_mutex_unlock(&state->lock);
    return calls;
}

/* ---- a plain socket client ------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval timeout = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Everything the server sends until it closes (or 10 s pass); malloc'd. */
static char *read_all(int fd)
{
    size_t len = 0, alloc = 4096;
    char *text = malloc(alloc);
    for (;;) {
        if (len + 1024 > alloc)
            text = realloc(text, alloc *= 2);
        ssize_t got = recv(fd, text + len, alloc - len - 1, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    text[len] = '\0';
    return text;
}

/* Send request as it is, return the whole reply ("" when there was none). */
static char *exchange(int port, const char *request, size_t request_len)
{
    int fd = connect_to(port);
    if (fd < 0)
        return strdup("(connect failed)");
    size_t sent = 0;
    while (sent < request_len) {
        ssize_t n = send(fd, request + sent, request_len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    char *reply = read_all(fd);
    close(fd);
    return reply;
}

static char *get(int port, const char *request)
{
    return exchange(port, request, strlen(request));
}

/* ---- the tests -------------------------------------------------------------- */

static handler_state state = {PTHREAD_MUTEX_INITIALIZER, 0, PTHREAD_COND_INITIALIZER, 0};

static dr_http_server *start_server(const char *address)
{
    dr_http_server *server = NULL;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_http_server_start(address, answer_by_path, &state, &server, &err));
    if (!server)
        fprintf(stderr, "start %s: %s\n", address, err.detail);
    return server;
}

static void get_answers_with_body_and_length(int port)
{
    char *reply = get(port, "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
    CHECK_CONTAINS("HTTP/1.1 200 OK\r\n", reply);
    CHECK_CONTAINS("\r\nContent-Type: text/plain; charset=utf-8\r\n", reply);
    CHECK_CONTAINS("\r\nContent-Length: 6\r\n", reply);
    CHECK_CONTAINS("\r\nConnection: close\r\n", reply);
    CHECK(strncmp(reply, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strlen(reply) > 6 && strcmp(reply + strlen(reply) - 10, "\r\n\r\nhello\n") == 0);
    free(reply);

    reply = get(port, "GET /echo?state=FAILED&x=1 HTTP/1.0\n\n"); /* bare LF line ends too */
    CHECK_CONTAINS("\r\nContent-Type: application/json\r\n", reply);
    CHECK_CONTAINS("\r\n\r\n{\"method\":\"GET\",\"query\":\"state=FAILED&x=1\"}", reply);
    free(reply);
}

static void head_answers_the_headers_of_get_without_the_body(int port)
{
    char *reply = get(port, "HEAD /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
    CHECK_CONTAINS("HTTP/1.1 200 OK\r\n", reply);
    CHECK_CONTAINS("\r\nContent-Length: 6\r\n", reply);
    CHECK(strlen(reply) > 4 && strcmp(reply + strlen(reply) - 4, "\r\n\r\n") == 0);
    free(reply);
}

static void other_methods_and_malformed_requests_never_reach_the_handler(int port)
{
    int calls = handler_calls(&state);
    char *reply = get(port, "POST /hello HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    CHECK_CONTAINS("HTTP/1.1 405 Method Not Allowed\r\n", reply);
    CHECK_CONTAINS("\r\nAllow: GET, HEAD\r\n", reply);
    CHECK_CONTAINS("\r\n\r\nmethod not allowed\n", reply);
    free(reply);

    reply = get(port, "GARBAGE\r\n\r\n");
    CHECK_CONTAINS("HTTP/1.1 400 Bad Request\r\n", reply);
    CHECK_CONTAINS("\r\nContent-Length: 18\r\n", reply);
    CHECK_CONTAINS("\r\n\r\nmalformed request\n", reply);
    free(reply);

    /* A bad request line is answered at once, without waiting for the rest of the head. */
    int64_t started = now_ms();
    reply = get(port, "hello there\r\n");
    CHECK_CONTAINS("HTTP/1.1 400 Bad Request\r\n", reply);
    CHECK(now_ms() - started < 2000);
    free(reply);

    reply = get(port, "GET /hello HTTP/1.1\r\nno colon here\r\n\r\n");
    CHECK_CONTAINS("HTTP/1.1 400 Bad Request\r\n", reply);
    free(reply);
    reply = get(port, "GET http://example.com/ HTTP/1.1\r\n\r\n");
    CHECK_CONTAINS("HTTP/1.1 400 Bad Request\r\n", reply);
    free(reply);
    static const char with_nul[] = "GET /hello HTTP/1.1\r\nX: \0\r\n\r\n";
    reply = exchange(port, with_nul, sizeof with_nul - 1);
    CHECK_CONTAINS("HTTP/1.1 400 Bad Request\r\n", reply);
    free(reply);

    size_t big_len = 17000;
    char *big = malloc(big_len + 1);
    memcpy(big, "GET /hello HTTP/1.1\r\nX-Padding: ", 32);
    memset(big + 32, 'p', big_len - 32);
    big[big_len] = '\0';
    reply = get(port, big);
    CHECK_CONTAINS("HTTP/1.1 400 Bad Request\r\n", reply);
    CHECK_CONTAINS("request head too large\n", reply);
    free(reply);
    free(big);

    CHECK_INT(calls, handler_calls(&state));
}

static void the_handler_decides_what_is_not_found(int port)
{
    char *reply = get(port, "GET /nowhere HTTP/1.1\r\n\r\n");
    CHECK_CONTAINS("HTTP/1.1 404 Not Found\r\n", reply);
    CHECK_CONTAINS("\r\nContent-Length: 13\r\n", reply);
    CHECK_CONTAINS("\r\n\r\nno such page\n", reply);
    free(reply);

    reply = get(port, "GET /broken HTTP/1.1\r\n\r\n");
    CHECK_CONTAINS("HTTP/1.1 500 Internal Server Error\r\n", reply);
    free(reply);
}

#define CLIENTS 20

typedef struct client_run {
    int port;
    char *reply;
} client_run;

static void *run_client(void *arg)
{
    client_run *run = arg;
    run->reply = get(run->port, "GET /slow HTTP/1.1\r\n\r\n");
    return NULL;
}

static void twenty_concurrent_clients_are_all_answered_in_parallel(int port)
{
    client_run runs[CLIENTS];
    pthread_t threads[CLIENTS];
    int64_t started = now_ms();
    for (int i = 0; i < CLIENTS; i++) {
        runs[i] = (client_run){.port = port};
        CHECK_INT(0, pthread_create(&threads[i], NULL, run_client, &runs[i]));
    }
    int answered = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        if (strncmp(runs[i].reply, "HTTP/1.1 200 OK\r\n", 17) == 0 && strstr(runs[i].reply, "\r\n\r\nslow\n"))
            answered++;
        free(runs[i].reply);
    }
    CHECK_INT(CLIENTS, answered);
    /* 20 handlers of 200 ms one after another would take 4 s. */
    int64_t elapsed = now_ms() - started;
    CHECK(elapsed < 3000);
    if (elapsed >= 3000)
        fprintf(stderr, "20 slow requests took %lld ms\n", (long long)elapsed);
}

#define CAPACITY 64
#define TRICKLERS 100

/*
 * A hundred clients sending a request byte now and then (the slow-loris
 * attack on a health endpoint) cannot keep a probe out: each new client cuts
 * the one that has waited longest, so the probe is answered at once and the
 * oldest trickler finds its connection closed.  Stop is prompt with them.
 */
static void clients_trickling_bytes_cannot_keep_a_probe_out(void)
{
    dr_http_server *server = start_server("127.0.0.1:0");
    if (!server)
        return;
    int port = dr_http_server_port(server);
    int slow[TRICKLERS];
    for (int i = 0; i < TRICKLERS; i++) {
        slow[i] = connect_to(port);
        send(slow[i], "G", 1, MSG_NOSIGNAL);
    }
    int64_t started = now_ms();
    char *reply = get(port, "GET /hello HTTP/1.1\r\n\r\n");
    int64_t elapsed = now_ms() - started;
    CHECK_CONTAINS("HTTP/1.1 200 OK\r\n", reply);
    CHECK(elapsed < 1000);
    if (elapsed >= 1000)
        fprintf(stderr, "the probe took %lld ms beside %d slow clients\n", (long long)elapsed, TRICKLERS);
    free(reply);
    /* The first trickler was cut long ago: it reads the end of its connection, not a reply. */
    char byte;
    CHECK(recv(slow[0], &byte, 1, 0) <= 0);

    started = now_ms();
    dr_http_server_stop(server);
    elapsed = now_ms() - started;
    CHECK(elapsed < 1000);
    if (elapsed >= 1000)
        fprintf(stderr, "stop took %lld ms with slow clients\n", (long long)elapsed);
    for (int i = 0; i < TRICKLERS; i++)
        close(slow[i]);
}

static void extra_headers_are_sent_only_when_well_formed(int port)
{
    char *reply = get(port, "GET /headers HTTP/1.1\r\n\r\n");
    CHECK_CONTAINS("\r\nContent-Security-Policy: default-src 'none'\r\nX-Content-Type-Options: nosniff\r\n", reply);
    CHECK_CONTAINS("\r\n\r\nok\n", reply);
    free(reply);
    reply = get(port, "GET /bad-headers HTTP/1.1\r\n\r\n");
    CHECK(strstr(reply, "Injected") == NULL && strstr(reply, "X-One") == NULL);
    CHECK_CONTAINS("\r\n\r\nok\n", reply);
    free(reply);
}

/* Read from fd until text has arrived (or 5 s pass): 1 when it did; the head read so far in buf. */
static int read_until(int fd, const char *text, char *buf, size_t size)
{
    size_t len = 0;
    int64_t deadline = now_ms() + 5000;
    buf[0] = '\0';
    while (!strstr(buf, text) && len + 1 < size && now_ms() < deadline) {
        ssize_t got = recv(fd, buf + len, size - len - 1, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
        buf[len] = '\0';
    }
    return strstr(buf, text) != NULL;
}

/* More streams than the server has connection slots: they hold none, and a probe is still answered. */
#define STREAM_CLIENTS 100

static void streams_are_handed_over_and_hold_no_connection_slot(void)
{
    dr_http_server *server = start_server("127.0.0.1:0");
    if (!server)
        return;
    int port = dr_http_server_port(server);
    int fds[STREAM_CLIENTS];
    int answered = 0;
    for (int i = 0; i < STREAM_CLIENTS; i++) {
        fds[i] = connect_to(port);
        send(fds[i], "GET /stream HTTP/1.1\r\n\r\n", 25, MSG_NOSIGNAL);
        char head[1024];
        if (read_until(fds[i], "data: hi\n\n", head, sizeof head)) {
            answered++;
            if (i == 0) {
                CHECK_CONTAINS(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Accel-Buffering: no\r\n"
                    "Cache-Control: no-store\r\nConnection: close\r\n\r\ndata: hi\n\n",
                    head);
                CHECK(strstr(head, "Content-Length") == NULL);
            }
        }
    }
    CHECK_INT(STREAM_CLIENTS, answered);
    char *reply = get(port, "GET /hello HTTP/1.1\r\n\r\n");
    CHECK_CONTAINS("HTTP/1.1 200 OK\r\n", reply);
    free(reply);
    /* HEAD: the headers of the stream, and no hand-over. */
    pthread_mutex_lock(&streams_lock);
    int before = stream_count;
    pthread_mutex_unlock(&streams_lock);
    reply = get(port, "HEAD /stream HTTP/1.1\r\n\r\n");
    CHECK_CONTAINS("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n", reply);
    CHECK(strstr(reply, "data:") == NULL);
    free(reply);
    pthread_mutex_lock(&streams_lock);
    CHECK_INT(before, stream_count);
    pthread_mutex_unlock(&streams_lock);

    /* Stop does not wait for the streams: they are their owner's. */
    int64_t started = now_ms();
    dr_http_server_stop(server);
    CHECK(now_ms() - started < 1000);
    char byte;
    CHECK(recv(fds[0], &byte, 1, MSG_DONTWAIT) < 0); /* still open: nothing more, no end */
    pthread_mutex_lock(&streams_lock);
    for (int i = 0; i < stream_count; i++)
        close(streams[i]);
    stream_count = 0;
    pthread_mutex_unlock(&streams_lock);
    for (int i = 0; i < STREAM_CLIENTS; i++)
        close(fds[i]);
}

static void *run_blocked_client(void *arg)
{
    client_run *run = arg;
    run->reply = get(run->port, "GET /block HTTP/1.1\r\n\r\n");
    return NULL;
}

/* Only when every connection is being answered (none waits on its client) does a new one get 503. */
static void past_the_cap_of_busy_connections_a_client_gets_503(void)
{
    dr_http_server *server = start_server("127.0.0.1:0");
    if (!server)
        return;
    int port = dr_http_server_port(server);
    int calls_before = handler_calls(&state);
    client_run runs[CAPACITY];
    pthread_t threads[CAPACITY];
    for (int i = 0; i < CAPACITY; i++) {
        runs[i] = (client_run){.port = port};
        CHECK_INT(0, pthread_create(&threads[i], NULL, run_blocked_client, &runs[i]));
    }
    /* Wait for all 64 handlers to be running, the event that fills the server. */
    for (int i = 0; i < 1000 && handler_calls(&state) - calls_before < CAPACITY; i++) {
        struct timespec pause = {.tv_nsec = 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    CHECK_INT(CAPACITY, handler_calls(&state) - calls_before);
    char *reply = get(port, "GET /hello HTTP/1.1\r\n\r\n");
    CHECK_CONTAINS("HTTP/1.1 503 Service Unavailable\r\n", reply);
    free(reply);

    pthread_mutex_lock(&state.lock);
    state.open = 1;
    pthread_cond_broadcast(&state.released);
    pthread_mutex_unlock(&state.lock);
    int answered = 0;
    for (int i = 0; i < CAPACITY; i++) {
        pthread_join(threads[i], NULL);
        answered += strstr(runs[i].reply, "\r\n\r\nunblocked\n") != NULL;
        free(runs[i].reply);
    }
    CHECK_INT(CAPACITY, answered);
    dr_http_server_stop(server);
}

static void a_stopped_server_frees_its_port_for_the_next(void)
{
    dr_http_server *server = start_server("127.0.0.1:0");
    if (!server)
        return;
    int port = dr_http_server_port(server);
    CHECK(port > 0);
    char *reply = get(port, "GET /hello HTTP/1.1\r\n\r\n");
    CHECK_CONTAINS("200 OK", reply);
    free(reply);
    dr_http_server_stop(server);

    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%d", port);
    server = start_server(address);
    CHECK_INT(port, dr_http_server_port(server));
    reply = get(port, "GET /hello HTTP/1.1\r\n\r\n");
    CHECK_CONTAINS("200 OK", reply);
    free(reply);
    dr_http_server_stop(server);
    dr_http_server_stop(NULL);
}

static void bad_addresses_are_usage_errors(void)
{
    const char *bad[] = {"nonsense",      "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999",
                         "127.0.0.1:80x", "::1:80",    "[::1]80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dr_http_server *server = NULL;
        dr_error err = {0};
        CHECK_INT(DR_ERR_USAGE, dr_http_server_start(bad[i], answer_by_path, &state, &server, &err));
        CHECK(server == NULL);
        CHECK_CONTAINS(bad[i], err.detail);
    }
    /* A port someone holds: the detail names the address. */
    dr_http_server *first = start_server("127.0.0.1:0");
    if (!first)
        return;
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%d", dr_http_server_port(first));
    dr_http_server *second = NULL;
    dr_error err = {0};
    CHECK_INT(DR_ERR_IO, dr_http_server_start(address, answer_by_path, &state, &second, &err));
    CHECK_CONTAINS(address, err.detail);
    dr_http_server_stop(first);
}

static void ipv6_loopback_works_where_the_host_has_it(void)
{
    dr_http_server *server = NULL;
    dr_error err = {0};
    if (dr_http_server_start("[::1]:0", answer_by_path, &state, &server, &err) != DR_OK) {
        printf("http_server: no IPv6 loopback here (%s), skipped\n", err.detail);
        return;
    }
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 addr = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)dr_http_server_port(server))};
    addr.sin6_addr = in6addr_loopback;
    CHECK_INT(0, connect(fd, (struct sockaddr *)&addr, sizeof addr));
    const char *request = "GET /hello HTTP/1.1\r\n\r\n";
    CHECK_INT((long long)strlen(request), send(fd, request, strlen(request), MSG_NOSIGNAL));
    char *reply = read_all(fd);
    CHECK_CONTAINS("\r\n\r\nhello\n", reply);
    free(reply);
    close(fd);
    dr_http_server_stop(server);
}

int main(void)
{
    dr_http_server *server = start_server("127.0.0.1:0");
    if (server) {
        int port = dr_http_server_port(server);
        get_answers_with_body_and_length(port);
        head_answers_the_headers_of_get_without_the_body(port);
        other_methods_and_malformed_requests_never_reach_the_handler(port);
        the_handler_decides_what_is_not_found(port);
        extra_headers_are_sent_only_when_well_formed(port);
        twenty_concurrent_clients_are_all_answered_in_parallel(port);
        dr_http_server_stop(server);
    }
    clients_trickling_bytes_cannot_keep_a_probe_out();
    streams_are_handed_over_and_hold_no_connection_slot();
    past_the_cap_of_busy_connections_a_client_gets_503();
    a_stopped_server_frees_its_port_for_the_next();
    bad_addresses_are_usage_errors();
    ipv6_loopback_works_where_the_host_has_it();
    return check_done("http_server");
}
