/*
 * http_server.c - the embedded HTTP/1.1 server: one accept thread, one
 * detached thread per connection, one request per connection.
 *
 * The server counts its connection threads under a mutex and keeps them in a
 * list, so stop can cut the ones that are only waiting on their client
 * (reading the request, or draining after the reply) and then wait on a
 * condition variable until the last thread has left.  The accept thread
 * sleeps in poll() on the listening socket and a wake-up pipe that stop
 * writes to, which works wherever poll does (shutdown() on a listening socket
 * wakes accept() on Linux only).
 */
#include "http_server.h"

#include "clock.h"
#include "http_request.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "program.h"

#include "strbuf.h"

#define HTTP_REQUEST_MAX 16384    /* request line + headers, terminator included */
#define HTTP_MAX_CONNECTIONS 64   /* threads at once before a waiting client is cut for a new one */
#define HTTP_MAX_THREADS 128      /* threads at once, cut ones still ending included; the next client gets 503 */
#define HTTP_READ_TIMEOUT_MS 5000 /* the whole request head must arrive in this */
#define HTTP_SEND_TIMEOUT_S 5     /* one send() that makes no progress for this fails */
#define HTTP_LINGER_MS 1000       /* how long we drain a client after replying */
#define HTTP_LINGER_BYTES 65536
#define HTTP_HOST_MAX 256
#define HTTP_DEFAULT_TYPE "text/plain; charset=utf-8"

typedef struct http_connection {
    struct dr_http_server *server;
    int fd;
    /* Waiting on the client only, so stop (or a newer client) may shut the socket; under server->lock. */
    int interruptible;
    int cut;                             /* shut for a newer client; its thread is ending; under server->lock */
    int handed_over;                     /* fd belongs to a stream's owner now: neither shut nor closed here */
    struct http_connection *prev, *next; /* server->connections; under server->lock */
    size_t request_len;
    char request[HTTP_REQUEST_MAX + 1];
} http_connection;

struct dr_http_server {
    int listen_fd;
    int wake_pipe[2]; /* stop writes a byte; the accept thread's poll wakes */
    int port;
    dr_http_handler handler;
    void *ctx;
    pthread_t accept_thread;
    pthread_mutex_t lock;
    pthread_cond_t all_done;      /* signalled when active drops to 0 */
    http_connection *connections; /* each owned by its own thread */
    int active;                   /* connection threads not yet finished */
    int stopping;
};

typedef enum read_result {
    READ_COMPLETE,  /* a whole request head is in the buffer */
    READ_TOO_LARGE, /* 16 KiB and no end of the head */
    READ_BAD_LINE,  /* the request line is already wrong: answer before the rest */
    READ_TIMEOUT,   /* some bytes, then the clock ran out */
    READ_GONE,      /* the client left, sent nothing, or stop cut us */
} read_result;

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return ""; /* the reason phrase may be empty (RFC 9112, 4) */
    }
}

/* ---- sending -------------------------------------------------------------- */

/* All of data, or -1.  MSG_NOSIGNAL: a client that hung up is an error, not a SIGPIPE. */
static int send_all(int fd, const char *data, size_t len, int flags)
{
    while (len > 0) {
        ssize_t sent = send(fd, data, len, flags | MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            return -1;
        data += sent;
        len -= (size_t)sent;
    }
    return 0;
}

/*
 * One whole reply in one buffer and, mostly, one send: a separate small send
 * for the body would wait on Nagle and the client's delayed ACK.
 */
static int send_response(int fd, int status, const char *content_type, const char *extra_headers, const char *body,
                         size_t body_len, int head_only, int flags)
{
    dr_strbuf out = DR_STRBUF_INIT;
    dr_strbuf_printf(&out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
                     status, reason_phrase(status), content_type, body_len, extra_headers);
    if (!head_only && body_len > 0)
        dr_strbuf_append(&out, body, body_len);
    int rc = out.failed ? -1 : send_all(fd, out.buf, out.len, flags);
    dr_strbuf_free(&out);
    return rc;
}

/*
 * Whether text is only header lines "Name: value\r\n" (a token, a colon, no
 * other CR, LF or NUL): a handler's headers that are not are left out, so
 * that they can never split the reply.
 */
static int header_lines_valid(const char *text)
{
    static const char token[] =
        "!#$%&'*+-.^_`|~0123456789"
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    while (*text) {
        size_t name = strspn(text, token);
        if (name == 0 || text[name] != ':')
            return 0;
        const char *end = strstr(text, "\r\n");
        if (!end || memchr(text, '\n', (size_t)(end - text)) || memchr(text, '\r', (size_t)(end - text)))
            return 0;
        text = end + 2;
    }
    return 1;
}

static int send_plain(int fd, int status, const char *text, int head_only, int flags)
{
    const char *extra = status == 405 ? "Allow: GET, HEAD\r\n" : "";
    return send_response(fd, status, HTTP_DEFAULT_TYPE, extra, text, strlen(text), head_only, flags);
}

/*
 * Read and drop what the client sent past its request, up to limit bytes or
 * the deadline (a deadline already passed: only what has arrived).
 */
static void drain(int fd, int64_t deadline_ms, size_t limit)
{
    char scratch[4096];
    size_t total = 0;
    while (total < limit) {
        int64_t left = deadline_ms - dr_monotonic_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, left > 0 ? (int)left : 0) <= 0)
            break;
        ssize_t got = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (got <= 0)
            break;
        total += (size_t)got;
    }
}

/*
 * Answer 503 from the accept thread without blocking it: the reply is small
 * enough for the socket buffer, and what the client already sent is drained
 * so that close() sends FIN rather than a reset that could destroy the reply.
 */
static void refuse_connection(int fd)
{
    send_plain(fd, 503, "server busy, try again\n", 0, MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    drain(fd, dr_monotonic_ms(), HTTP_LINGER_BYTES);
    close(fd);
}

/* ---- reading and parsing the request -------------------------------------- */

static read_result read_request(http_connection *conn)
{
    int64_t deadline = dr_monotonic_ms() + HTTP_READ_TIMEOUT_MS;
    int line_checked = 0;
    for (;;) {
        size_t head = dr_http_head_length(conn->request, conn->request_len);
        if (head > 0) {
            conn->request_len = head;
            return READ_COMPLETE;
        }
        if (!line_checked && memchr(conn->request, '\n', conn->request_len)) {
            size_t ignored;
            if (!dr_http_request_line_valid(conn->request,
                                            dr_http_line_length(conn->request, conn->request_len, &ignored)))
                return READ_BAD_LINE;
            line_checked = 1;
        }
        if (conn->request_len == HTTP_REQUEST_MAX)
            return READ_TOO_LARGE;
        int64_t left = deadline - dr_monotonic_ms();
        struct pollfd pfd = {.fd = conn->fd, .events = POLLIN};
        int ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0)
            return conn->request_len > 0 ? READ_TIMEOUT : READ_GONE;
        if (ready < 0)
            return READ_GONE;
        ssize_t got = recv(conn->fd, conn->request + conn->request_len, HTTP_REQUEST_MAX - conn->request_len, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (got <= 0)
            return READ_GONE;
        conn->request_len += (size_t)got;
    }
}

/* Split the head in place into req: 0, or the status to answer with (http_request.h). */
static int parse_request(http_connection *conn, dr_http_request *req)
{
    return dr_http_parse_head(conn->request, conn->request_len, req);
}

/* ---- one connection ------------------------------------------------------- */

/* Mark whether stop may cut this connection; returns 1 when the server is stopping. */
static int set_interruptible(http_connection *conn, int interruptible)
{
    dr_http_server *server = conn->server;
    pthread_mutex_lock(&server->lock);
    conn->interruptible = interruptible;
    int stopping = server->stopping;
    pthread_mutex_unlock(&server->lock);
    return stopping;
}

/* The status line and headers of a stream, then the socket to its new owner: 1 when handed over. */
static int hand_over_stream(http_connection *conn, const dr_http_response *resp, const char *type, const char *headers)
{
    dr_strbuf out = DR_STRBUF_INIT;
    dr_strbuf_printf(&out,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sCache-Control: no-store\r\nConnection: close\r\n\r\n",
                     resp->status, reason_phrase(resp->status), type, headers);
    int rc = out.failed ? -1 : send_all(conn->fd, out.buf, out.len, 0);
    dr_strbuf_free(&out);
    if (rc != 0)
        return 0;
    pthread_mutex_lock(&conn->server->lock);
    conn->handed_over = 1;
    pthread_mutex_unlock(&conn->server->lock);
    resp->stream(resp->stream_ctx, conn->fd);
    return 1;
}

static void answer_with_handler(http_connection *conn, const dr_http_request *req)
{
    dr_http_server *server = conn->server;
    dr_http_response resp = {.status = 200, .content_type = HTTP_DEFAULT_TYPE};
    server->handler(server->ctx, req, &resp);
    int head_only = strcmp(req->method, "HEAD") == 0;
    const char *type = resp.content_type;
    /* A header value with a line break would let the handler's text forge headers. */
    if (!type || strpbrk(type, "\r\n"))
        type = HTTP_DEFAULT_TYPE;
    const char *headers = resp.headers && header_lines_valid(resp.headers) ? resp.headers : "";
    if (!resp.body && resp.body_len > 0)
        send_plain(conn->fd, 500, "the handler ran out of memory\n", head_only, 0);
    else if (resp.status < 100 || resp.status > 599)
        send_plain(conn->fd, 500, "the handler gave an invalid status\n", head_only, 0);
    else if (resp.stream && !resp.body && !head_only)
        hand_over_stream(conn, &resp, type, headers);
    else
        send_response(conn->fd, resp.status, type, headers, resp.body, resp.body_len, head_only, 0);
    free(resp.body);
}

static void serve_connection(http_connection *conn)
{
    struct timeval send_timeout = {.tv_sec = HTTP_SEND_TIMEOUT_S};
    setsockopt(conn->fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    dr_http_request req;
    switch (read_request(conn)) {
    case READ_COMPLETE:
        break;
    case READ_TOO_LARGE:
        send_plain(conn->fd, 400, "request head too large\n", 0, 0);
        return;
    case READ_BAD_LINE:
        send_plain(conn->fd, 400, "malformed request\n", 0, 0);
        return;
    case READ_TIMEOUT:
        send_plain(conn->fd, 408, "request timed out\n", 0, 0);
        return;
    case READ_GONE:
        return;
    }
    /* From here the reply is owed: stop waits for it rather than cutting it. */
    set_interruptible(conn, 0);
    int status = parse_request(conn, &req);
    if (status == 400)
        send_plain(conn->fd, 400, "malformed request\n", 0, 0);
    else if (status == 405)
        send_plain(conn->fd, 405, "method not allowed\n", 0, 0);
    else
        answer_with_handler(conn, &req);
}

static void *connection_main(void *arg)
{
    http_connection *conn = arg;
    dr_http_server *server = conn->server;
    serve_connection(conn);
    /*
     * Close gently: FIN first, then drain what the client may still send,
     * since closing with unread bytes sends a reset that can destroy the
     * reply before the client reads it.  Stop cuts this short.  A stream's
     * socket is its new owner's: only handed_over is read (this thread set it).
     */
    if (!conn->handed_over) {
        shutdown(conn->fd, SHUT_WR);
        if (!set_interruptible(conn, 1))
            drain(conn->fd, dr_monotonic_ms() + HTTP_LINGER_MS, HTTP_LINGER_BYTES);
    }

    pthread_mutex_lock(&server->lock);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        server->connections = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    /* Closed under the lock so stop never shuts down a reused descriptor number. */
    if (!conn->handed_over)
        close(conn->fd);
    if (--server->active == 0)
        pthread_cond_broadcast(&server->all_done);
    pthread_mutex_unlock(&server->lock);
    free(conn);
    return NULL;
}

/*
 * Make room for a new client by cutting the connection that has waited
 * longest on its client (a request head still arriving, or the linger after
 * a reply): 1 when one was cut.  Under server->lock.  A client that sends
 * its request at once is answered long before it is the oldest, so clients
 * that trickle bytes cannot keep out the next health probe.
 */
static int cut_oldest_waiting(dr_http_server *server)
{
    http_connection *oldest = NULL;
    for (http_connection *c = server->connections; c; c = c->next) /* newest first */
        if (c->interruptible && !c->cut)
            oldest = c;
    if (!oldest)
        return 0;
    oldest->cut = 1;
    shutdown(oldest->fd, SHUT_RDWR);
    return 1;
}

/* Hand fd to a new connection thread, or answer 503 when there is no room. */
static void start_connection(dr_http_server *server, int fd)
{
    http_connection *conn = malloc(sizeof *conn);
    pthread_mutex_lock(&server->lock);
    int room = server->active < HTTP_MAX_CONNECTIONS || cut_oldest_waiting(server);
    if (!conn || !room || server->active >= HTTP_MAX_THREADS) {
        pthread_mutex_unlock(&server->lock);
        goto refuse;
    }
    conn->server = server;
    conn->fd = fd;
    conn->interruptible = 1;
    conn->cut = 0;
    conn->handed_over = 0;
    conn->request_len = 0;
    conn->prev = NULL;
    conn->next = server->connections;
    if (conn->next)
        conn->next->prev = conn;
    server->connections = conn;
    server->active++;
    pthread_mutex_unlock(&server->lock);

    pthread_t thread;
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&thread, &attr, connection_main, conn);
        pthread_attr_destroy(&attr);
    }
    if (rc == 0)
        return;
    pthread_mutex_lock(&server->lock);
    server->connections = conn->next; /* still first: only this thread adds */
    if (conn->next)
        conn->next->prev = NULL;
    if (--server->active == 0)
        pthread_cond_broadcast(&server->all_done);
    pthread_mutex_unlock(&server->lock);
refuse:
    free(conn);
    refuse_connection(fd);
}

static void *accept_main(void *arg)
{
    dr_http_server *server = arg;
    for (;;) {
        struct pollfd fds[2] = {{.fd = server->listen_fd, .events = POLLIN},
                                {.fd = server->wake_pipe[0], .events = POLLIN}};
        if (poll(fds, 2, -1) < 0)
            continue; /* EINTR; nothing else can fail with valid descriptors */
        if (fds[1].revents)
            break;
        int fd = accept4(server->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            start_connection(server, fd);
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors or memory: the pending client stays queued; retry soon, not hot. */
            struct timespec pause = {.tv_nsec = 100 * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

/* ---- starting and stopping ------------------------------------------------ */

/* Split "HOST:PORT" or "[V6]:PORT" into host and port; 0, or -1 when malformed. */
static int split_address(const char *address, char host[HTTP_HOST_MAX], const char **port)
{
    const char *host_start = address, *host_end;
    if (address[0] == '[') {
        host_start = address + 1;
        host_end = strchr(host_start, ']');
        if (!host_end || host_end[1] != ':')
            return -1;
        *port = host_end + 2;
    } else {
        host_end = strrchr(address, ':');
        if (!host_end || memchr(address, ':', (size_t)(host_end - address)))
            return -1;
        *port = host_end + 1;
    }
    size_t host_len = (size_t)(host_end - host_start);
    if (host_len >= HTTP_HOST_MAX)
        return -1;
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    size_t digits = strspn(*port, "0123456789");
    if (digits == 0 || digits > 5 || (*port)[digits] != '\0' || atoi(*port) > 65535)
        return -1;
    return 0;
}

/* A listening, non-blocking socket on address; the port it got in *port. */
static dr_status open_listener(const char *address, int *listen_fd, int *port, dr_error *err)
{
    dr_status status = DR_OK;
    struct addrinfo *found = NULL;
    int fd = -1;
    char host[HTTP_HOST_MAX];
    const char *service;
    if (split_address(address, host, &service) != 0)
        return dr_error_set(err, DR_ERR_USAGE, "listen address '%s' is not HOST:PORT or [IPV6]:PORT", address);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    int gai = getaddrinfo(host[0] ? host : "0.0.0.0", service, &hints, &found);
    if (gai != 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot listen on %s: %s", address, gai_strerror(gai));
        goto cleanup;
    }
    int saved_errno = 0;
    for (struct addrinfo *ai = found; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            saved_errno = errno;
            continue;
        }
        /* A restarted daemon must rebind at once, whatever TIME_WAIT its last run left. */
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
            saved_errno = errno;
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot listen on %s: %s", address, strerror(saved_errno));
        goto cleanup;
    }
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot listen on %s: getsockname: %s", address, strerror(errno));
        goto cleanup;
    }
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    *listen_fd = fd;
    fd = -1;
cleanup:
    if (fd >= 0)
        close(fd);
    if (found)
        freeaddrinfo(found);
    return status;
}

dr_status dr_http_server_start(const char *address, dr_http_handler handler, void *ctx, dr_http_server **out,
                               dr_error *err)
{
    dr_status status = DR_OK;
    *out = NULL;
    if (!address || !handler)
        return dr_error_set(err, DR_ERR_USAGE, "HTTP server needs an address and a handler");
    dr_http_server *server = calloc(1, sizeof *server);
    if (!server)
        return dr_error_set(err, DR_ERR_NOMEM, "starting HTTP server on %s: out of memory", address);
    server->listen_fd = -1;
    server->wake_pipe[0] = server->wake_pipe[1] = -1;
    server->handler = handler;
    server->ctx = ctx;
    int locks_ready = 0;
    if (pthread_mutex_init(&server->lock, NULL) != 0 || pthread_cond_init(&server->all_done, NULL) != 0) {
        status = dr_error_set(err, DR_ERR_NOMEM, "starting HTTP server on %s: cannot make its lock", address);
        goto cleanup;
    }
    locks_ready = 1;
    status = open_listener(address, &server->listen_fd, &server->port, err);
    if (status != DR_OK)
        goto cleanup;
    if (pipe2(server->wake_pipe, O_CLOEXEC) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "starting HTTP server on %s: pipe: %s", address, strerror(errno));
        goto cleanup;
    }
    /* The accept thread, and so every connection thread, leaves stop signals to the main thread. */
    int rc = dr_program_thread_start(&server->accept_thread, accept_main, server);
    if (rc != 0) {
        status = dr_error_set(err, DR_ERR_NOMEM, "starting HTTP server on %s: thread: %s", address, strerror(rc));
        goto cleanup;
    }
    *out = server;
    server = NULL;
cleanup:
    if (server) {
        if (server->listen_fd >= 0)
            close(server->listen_fd);
        if (server->wake_pipe[0] >= 0) {
            close(server->wake_pipe[0]);
            close(server->wake_pipe[1]);
        }
        if (locks_ready) {
            pthread_mutex_destroy(&server->lock);
            pthread_cond_destroy(&server->all_done);
        }
        free(server);
    }
    return status;
}

int dr_http_server_port(const dr_http_server *server)
{
    return server ? server->port : 0;
}

void dr_http_server_stop(dr_http_server *server)
{
    if (!server)
        return;
    pthread_mutex_lock(&server->lock);
    server->stopping = 1;
    pthread_mutex_unlock(&server->lock);
    while (write(server->wake_pipe[1], "x", 1) < 0 && errno == EINTR)
        ;
    pthread_join(server->accept_thread, NULL);

    /* No new connections now; wake the ones waiting on a client, wait for all. */
    pthread_mutex_lock(&server->lock);
    for (http_connection *conn = server->connections; conn; conn = conn->next)
        if (conn->interruptible)
            shutdown(conn->fd, SHUT_RDWR);
    while (server->active > 0)
        pthread_cond_wait(&server->all_done, &server->lock);
    pthread_mutex_unlock(&server->lock);

    close(server->listen_fd);
    close(server->wake_pipe[0]);
    close(server->wake_pipe[1]);
    pthread_mutex_destroy(&server->lock);
    pthread_cond_destroy(&server->all_done);
    free(server);
}

void dr_http_log_listening(const char *address, const dr_http_server *server)
{
    char host[256];
    snprintf(host, sizeof host, "%s", address);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    dr_log(DR_LOG_INFO, "http.listening", "addr=%s:%d", host, dr_http_server_port(server));
}
