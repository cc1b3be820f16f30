/*
 * http_bench.c - Drover's embedded HTTP server (common/http) beside
 * libmicrohttpd, measured the same way on loopback (bench/http_bench.sh
 * builds and runs it; docs/aggregator.md has the figures).
 *
 *   http_bench serve drover|mhd PORT_FILE
 *       serve GET /healthz ("ok\n") and /metrics (a 16 KiB body, as a busy
 *       registry's) until stdin closes; the bound port goes to PORT_FILE
 *   http_bench load PORT PATH CLIENTS SECONDS close|keepalive
 *       CLIENTS threads asking for PATH as fast as they can for SECONDS, each
 *       on a new connection per request (close) or on one kept-alive
 *       connection; prints "requests/s N errors N"
 *   http_bench slow PORT IDLE TRICKLE PROBES
 *       open IDLE connections that send nothing and TRICKLE that send one
 *       byte of a request each 100 ms, then time PROBES GETs of /healthz and
 *       /metrics beside them; prints the answered probes and the slowest
 *
 * Bounded in count and time, loopback only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http_server.h"

static char metrics_body[16384];

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- the two servers ---------------------------------------------------------- */

static void drover_handler(void *ctx, const dr_http_request *req, dr_http_response *resp)
{
    (void)ctx;
    const char *body = strcmp(req->path, "/metrics") == 0 ? metrics_body : "ok\n";
    resp->body = strdup(body);
    resp->body_len = strlen(body);
}

static enum MHD_Result mhd_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                   const char *version, const char *upload_data, size_t *upload_data_size,
                                   void **con_cls)
{
    (void)cls, (void)method, (void)version, (void)upload_data, (void)upload_data_size;
    /* The first call only sees the head: answering there makes MHD close the connection (no keep-alive). */
    static int seen;
    if (!*con_cls) {
        *con_cls = &seen;
        return MHD_YES;
    }
    const char *body = strcmp(url, "/metrics") == 0 ? metrics_body : "ok\n";
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static int serve(const char *kind, const char *port_file)
{
    int port = 0;
    dr_http_server *drover = NULL;
    struct MHD_Daemon *mhd = NULL;
    if (strcmp(kind, "drover") == 0) {
        if (dr_http_server_start("127.0.0.1:0", drover_handler, NULL, &drover, NULL) != DR_OK)
            return 1;
        port = dr_http_server_port(drover);
    } else {
        /*
         * As the aggregator would run it: one internal thread on epoll, a
         * connection limit and an idle timeout (MHD's answer to slow clients).
         */
        struct sockaddr_in addr = {.sin_family = AF_INET};
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, mhd_handler, NULL,
                               MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)5, MHD_OPTION_END);
        if (!mhd)
            return 1;
        port = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    }
    FILE *f = fopen(port_file, "w");
    fprintf(f, "%d\n", port);
    fclose(f);
    char scratch[64];
    while (read(0, scratch, sizeof scratch) > 0)
        ;
    dr_http_server_stop(drover);
    if (mhd)
        MHD_stop_daemon(mhd);
    return 0;
}

/* ---- clients ------------------------------------------------------------------- */

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval timeout = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request on fd; reads the reply's head and its Content-Length body. 0, or -1. */
static int one_request(int fd, const char *path, int keepalive)
{
    char req[256], buf[32768];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", path,
                     keepalive ? "" : "Connection: close\r\n");
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return -1;
    size_t len = 0;
    long body = -1;
    char *head_end = NULL;
    while (!head_end || (long)len - (long)(head_end + 4 - buf) < body) {
        ssize_t got = recv(fd, buf + len, sizeof buf - len - 1, 0);
        if (got <= 0)
            return -1;
        len += (size_t)got;
        buf[len] = '\0';
        if (!head_end && (head_end = strstr(buf, "\r\n\r\n"))) {
            char *cl = strcasestr(buf, "Content-Length:");
            if (!cl || strncmp(buf, "HTTP/1.1 200", 12) != 0)
                return -1;
            body = atol(cl + 15);
        }
    }
    return 0;
}

typedef struct load {
    int port;
    const char *path;
    int keepalive;
    int64_t until;
    atomic_long done, errors;
} load;

static void *load_main(void *arg)
{
    load *l = arg;
    int fd = -1;
    while (now_ms() < l->until) {
        if (fd < 0 && (fd = connect_to(l->port)) < 0) {
            atomic_fetch_add(&l->errors, 1);
            continue;
        }
        int ok = one_request(fd, l->path, l->keepalive) == 0;
        atomic_fetch_add(ok ? &l->done : &l->errors, 1);
        if (!l->keepalive || !ok) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int run_load(int port, const char *path, int clients, int seconds, int keepalive)
{
    load l = {.port = port, .path = path, .keepalive = keepalive, .until = now_ms() + seconds * 1000};
    pthread_t threads[256];
    if (clients > 256)
        clients = 256;
    for (int i = 0; i < clients; i++)
        pthread_create(&threads[i], NULL, load_main, &l);
    for (int i = 0; i < clients; i++)
        pthread_join(threads[i], NULL);
    printf("requests/s %.0f errors %ld\n", (double)atomic_load(&l.done) / seconds, atomic_load(&l.errors));
    return 0;
}

static int run_slow(int port, int idle, int trickle, int probes)
{
    int *fds = calloc((size_t)(idle + trickle), sizeof *fds);
    for (int i = 0; i < idle + trickle; i++)
        fds[i] = connect_to(port);
    const char *partial = "GET /healthz HTTP/1.1\r\nX-Slow: ";
    int answered = 0;
    int64_t slowest = 0;
    for (int p = 0; p < probes; p++) {
        /* The tricklers send one more byte each round: never a whole request. */
        for (int i = idle; i < idle + trickle; i++)
            if (fds[i] >= 0)
                send(fds[i], partial + (p % (int)strlen(partial)), 1, MSG_NOSIGNAL);
        int64_t started = now_ms();
        int fd = connect_to(port);
        int ok = fd >= 0 && one_request(fd, p % 2 ? "/metrics" : "/healthz", 0) == 0;
        if (fd >= 0)
            close(fd);
        int64_t took = now_ms() - started;
        answered += ok;
        if (took > slowest)
            slowest = took;
        struct timespec pause = {.tv_nsec = 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
    printf("probes answered %d/%d slowest %lld ms\n", answered, probes, (long long)slowest);
    for (int i = 0; i < idle + trickle; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return 0;
}

int main(int argc, char **argv)
{
    for (size_t i = 0; i + 1 < sizeof metrics_body; i++)
        metrics_body[i] = (i % 64 == 63) ? '\n' : 'm';
    if (argc == 4 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2], argv[3]);
    if (argc == 7 && strcmp(argv[1], "load") == 0)
        return run_load(atoi(argv[2]), argv[3], atoi(argv[4]), atoi(argv[5]), strcmp(argv[6], "keepalive") == 0);
    if (argc == 6 && strcmp(argv[1], "slow") == 0)
        return run_slow(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: http_bench serve drover|mhd PORT_FILE | load PORT PATH CLIENTS SECONDS close|keepalive "
                    "| slow PORT IDLE TRICKLE PROBES\n");
    return 2;
}
