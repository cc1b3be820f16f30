/*
 * http_server.h - the small HTTP/1.1 server every Drover daemon embeds for
 * /healthz, /readyz, /metrics and the aggregator's JSON API and page.
 *
 * One thread accepts; each connection is served on a short-lived thread
 * (one request per connection, "Connection: close"), so a slow client cannot
 * stall the others.  GET and HEAD only (others get 405); requests over 16 KiB
 * or malformed get 400; a request head not complete within 5 s gets 408.
 * Past 64 connections at once, a new one cuts the connection that has waited
 * longest on its client (still sending its request, or idle), so clients
 * trickling bytes cannot keep a health probe out; only when every one of the
 * 64 is being answered does a new one get 503.  The handler is never called
 * for those.  The handler runs on a server thread: it must be thread-safe.
 *
 * Every reply carries Content-Type, Content-Length and "Connection: close";
 * a HEAD reply has the headers of the GET without the body.  Writes use
 * MSG_NOSIGNAL, so a client that hangs up never raises SIGPIPE.
 *
 * A handler may answer with a stream instead of a body (server-sent events):
 * the server sends the status line and headers without Content-Length, then
 * hands the socket over (dr_http_response.stream) and forgets it, so a
 * long-lived stream holds no server thread and no connection slot; whoever
 * takes it bounds how many it keeps (sse.h).
 */
#ifndef DROVER_HTTP_SERVER_H
#define DROVER_HTTP_SERVER_H

#include <stddef.h>

#include "error.h"

typedef struct dr_http_request {
    const char *method; /* "GET" or "HEAD" */
    const char *path;   /* as sent (not percent-decoded); no query string */
    const char *query;  /* after '?', or "" */
} dr_http_request;

typedef struct dr_http_response {
    int status;               /* default 200 */
    const char *content_type; /* default "text/plain; charset=utf-8" */
    char *body;               /* malloc'd by the handler; the server frees it */
    size_t body_len;          /* a NULL body with body_len > 0 (a failed allocation) is a 500 */
    /*
     * Extra header lines, each "Name: value\r\n" (e.g. a Content-Security-Policy),
     * or NULL.  Not freed.  Text that is not such lines is left out whole.
     */
    const char *headers;
    /*
     * A stream instead of a body: when set (and body NULL), a GET is answered
     * with the status line, Content-Type, the extra headers, "Cache-Control:
     * no-store" and "Connection: close" but no Content-Length, and then
     * stream(stream_ctx, fd) is called on the server's thread: it owns fd
     * from then on (closing it included) and should return at once.  Not
     * called for HEAD, nor when the headers could not be sent.
     */
    void (*stream)(void *stream_ctx, int fd);
    void *stream_ctx;
} dr_http_response;

typedef void (*dr_http_handler)(void *ctx, const dr_http_request *req, dr_http_response *resp);

typedef struct dr_http_server dr_http_server;

/*
 * Listen on address "HOST:PORT" (PORT 0: any free port; HOST a name or an
 * IPv4 address, "[IPv6]", or empty for every IPv4 interface) and serve with
 * handler.  DR_ERR_USAGE for a malformed address, DR_ERR_IO when it cannot
 * bind (the detail names the address), DR_ERR_NOMEM when out of memory or
 * threads.
 */
dr_status dr_http_server_start(const char *address, dr_http_handler handler, void *ctx, dr_http_server **out,
                               dr_error *err);
/* The port actually bound. */
int dr_http_server_port(const dr_http_server *server);
/* Log event=http.listening addr=HOST:PORT (the bound port): what tests and operators look for. */
void dr_http_log_listening(const char *address, const dr_http_server *server);
/*
 * Stop accepting, wait for requests in progress, free. NULL is fine.
 * Connections still sending their request (or idle) are cut at once, so an
 * idle client cannot hold stop up; a handler already running is waited for.
 */
void dr_http_server_stop(dr_http_server *server);

#endif
