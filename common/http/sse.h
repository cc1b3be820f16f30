/*
 * sse.h - server-sent events (text/event-stream) to many clients at once,
 * from one thread, without holding an HTTP server thread per client.
 *
 * The HTTP server hands a stream's socket over once it has sent the headers
 * (dr_http_response.stream = dr_sse_hub_take); from then on the hub owns it.
 * The hub's thread polls every client: it writes what is queued for each
 * without blocking, reads and drops what a client sends (an EventSource
 * sends nothing), and notices hang-ups.
 *
 * Bounds, so that clients can never cost more than limits allow:
 *   - at most max_clients at once; dr_sse_hub_has_room says whether one more
 *     fits (answer 503 otherwise), and a socket handed over when full is
 *     closed at once;
 *   - at most max_queued bytes waiting for one client: an event that does not
 *     fit drops that client (it is too slow to follow; an EventSource
 *     reconnects and gets a fresh snapshot).  A client's snapshot is taken
 *     whatever its size, so a state larger than the limit still reaches it;
 *   - a client with bytes waiting that takes none for stall_ms is dropped;
 *   - every heartbeat_ms each client gets a comment line (": \n\n"), so that
 *     proxies keep the connection and a vanished client is noticed.
 *
 * Snapshots and updates.  A client joining mid-stream needs the whole state
 * before it can apply changes.  dr_sse_hub_publish(hub, snapshot, update)
 * queues `snapshot` to every client that joined since the last snapshot and
 * `update` to every other: whoever calls it renders the snapshot only when
 * dr_sse_hub_waiting says a client needs one, and with a NULL snapshot the
 * new clients keep waiting (they get no update meanwhile).  Calls must come
 * from one thread, or be otherwise ordered, for the updates to make sense.
 *
 * Thread-safe.
 */
#ifndef DROVER_SSE_H
#define DROVER_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "strbuf.h"

typedef struct dr_sse_limits {
    int max_clients;   /* default 64 */
    size_t max_queued; /* bytes waiting for one client; default 4 MiB */
    int stall_ms;      /* default 10000 */
    int heartbeat_ms;  /* default 15000 */
    int retry_ms;      /* sent first ("retry: N"): how long an EventSource waits to reconnect; default 2000 */
} dr_sse_limits;

typedef struct dr_sse_stats {
    uint64_t clients;      /* connected now */
    uint64_t accepted;     /* ever taken */
    uint64_t refused;      /* handed over while full, closed at once */
    uint64_t dropped_slow; /* dropped for a full queue or a stall */
    uint64_t events_bytes; /* bytes written to clients */
} dr_sse_stats;

typedef struct dr_sse_hub dr_sse_hub;

/* Start the hub's thread; limits NULL or zero fields take the defaults.  DR_ERR_NOMEM when it cannot. */
dr_status dr_sse_hub_start(const dr_sse_limits *limits, dr_sse_hub **out, dr_error *err);
/* Close every client, stop the thread, free.  NULL is fine.  Stop the HTTP server first. */
void dr_sse_hub_stop(dr_sse_hub *hub);

/* Whether one more client fits now. */
int dr_sse_hub_has_room(dr_sse_hub *hub);
/* A dr_http_response.stream: hub_ctx is the dr_sse_hub; takes fd (closing it when full). */
void dr_sse_hub_take(void *hub_ctx, int fd);
/* Clients that have had no snapshot yet. */
size_t dr_sse_hub_waiting(dr_sse_hub *hub);
/*
 * Queue snapshot (may be NULL) to the clients waiting for one, and update
 * (may be NULL or empty) to the others.  Both are whole events (dr_sse_event).
 */
void dr_sse_hub_publish(dr_sse_hub *hub, const char *snapshot, size_t snapshot_len, const char *update,
                        size_t update_len);
void dr_sse_hub_stats(dr_sse_hub *hub, dr_sse_stats *out);

/* Append one event ("event: NAME\ndata: ...\n\n") to sb; data's line breaks become "data:" lines. */
void dr_sse_event(dr_strbuf *sb, const char *name, const char *data, size_t len);

#endif
