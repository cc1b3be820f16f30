/*
 * sse.c - the event-stream hub: a fixed table of client slots under one
 * mutex, and one thread that polls them.
 *
 * Only the hub's thread closes a client's socket (or stop, after joining
 * it), so a slot's descriptor stays valid while the thread polls without
 * the lock; other threads add clients to free slots, append to queues, or
 * mark a client doomed (its queue overflowed) for the thread to close.
 */
#include "sse.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "program.h"

typedef struct sse_client {
    int fd;      /* -1: a free slot */
    int waiting; /* no snapshot yet */
    int doomed;  /* to be closed by the hub's thread */
    char *queue; /* bytes not yet written: queue[sent..len) */
    size_t len, sent, cap;
    int64_t stuck_since_ms; /* when bytes began waiting without progress; 0: none waiting */
} sse_client;

struct dr_sse_hub {
    dr_sse_limits limits;
    pthread_mutex_t lock;
    pthread_t thread;
    int wake[2];
    int stopping;
    sse_client *clients; /* limits.max_clients slots */
    struct pollfd *fds;  /* the thread's poll set: the wake pipe and every client */
    int *slot_of;        /* fds[k] is clients[slot_of[k]] */
    size_t count, waiting;
    dr_sse_stats stats;
};

static void wake(dr_sse_hub *hub)
{
    ssize_t ignored = write(hub->wake[1], "x", 1); /* non-blocking: a full pipe already wakes it */
    (void)ignored;
}

/*
 * Append to a client's queue; doom it when the queue would pass the limit.
 * A snapshot is a client's first event and is taken whatever its size: a
 * state larger than the limit would otherwise drop every client that joins,
 * and each would reconnect for another snapshot.  Under the lock.
 */
static void enqueue(dr_sse_hub *hub, sse_client *c, const char *data, size_t len, int is_snapshot)
{
    if (c->fd < 0 || c->doomed || len == 0)
        return;
    if (c->sent > 0 && c->sent == c->len)
        c->sent = c->len = 0;
    if (!is_snapshot && c->len - c->sent + len > hub->limits.max_queued) {
        c->doomed = 1;
        hub->stats.dropped_slow++;
        return;
    }
    if (c->len + len > c->cap) {
        /* Move what is left to the front before growing. */
        if (c->sent > 0) {
            memmove(c->queue, c->queue + c->sent, c->len - c->sent);
            c->len -= c->sent;
            c->sent = 0;
        }
        if (c->len + len > c->cap) {
            size_t cap = c->cap ? c->cap : 4096;
            while (cap < c->len + len)
                cap *= 2;
            char *grown = realloc(c->queue, cap);
            if (!grown) {
                c->doomed = 1;
                return;
            }
            c->queue = grown;
            c->cap = cap;
        }
    }
    memcpy(c->queue + c->len, data, len);
    c->len += len;
    if (!c->stuck_since_ms)
        c->stuck_since_ms = dr_monotonic_ms();
}

/* Close a client and free its slot.  Under the lock, on the hub's thread (or at stop). */
static void drop(dr_sse_hub *hub, sse_client *c)
{
    close(c->fd);
    if (c->waiting)
        hub->waiting--;
    free(c->queue);
    *c = (sse_client){.fd = -1};
    hub->count--;
}

/* Write what the socket takes now. Under the lock. */
static void flush(dr_sse_hub *hub, sse_client *c, int64_t now)
{
    while (c->sent < c->len) {
        ssize_t n = send(c->fd, c->queue + c->sent, c->len - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            c->doomed = 1;
            return;
        }
        c->sent += (size_t)n;
        hub->stats.events_bytes += (uint64_t)n;
        c->stuck_since_ms = now;
    }
    c->sent = c->len = 0;
    c->stuck_since_ms = 0;
}

static void *hub_main(void *arg)
{
    dr_sse_hub *hub = arg;
    int max = hub->limits.max_clients;
    struct pollfd *fds = hub->fds;
    int *slot_of = hub->slot_of;
    int64_t next_heartbeat = dr_monotonic_ms() + hub->limits.heartbeat_ms;
    for (;;) {
        pthread_mutex_lock(&hub->lock);
        if (hub->stopping) {
            pthread_mutex_unlock(&hub->lock);
            break;
        }
        int n = 0;
        fds[n++] = (struct pollfd){.fd = hub->wake[0], .events = POLLIN};
        for (int i = 0; i < max; i++) {
            sse_client *c = &hub->clients[i];
            if (c->fd < 0)
                continue;
            fds[n] = (struct pollfd){.fd = c->fd, .events = POLLIN | (c->sent < c->len ? POLLOUT : 0)};
            slot_of[n++] = i;
        }
        pthread_mutex_unlock(&hub->lock);

        int64_t now = dr_monotonic_ms();
        int timeout = next_heartbeat > now ? (int)(next_heartbeat - now) : 0;
        if (timeout > 1000)
            timeout = 1000; /* stalls are checked at least every second */
        if (poll(fds, (nfds_t)n, timeout) < 0) {
            /* Not a reason to stop serving every client: wait a little and poll again. */
            if (errno != EINTR)
                usleep(100 * 1000);
            continue;
        }
        if (fds[0].revents) {
            char scratch[64];
            while (read(hub->wake[0], scratch, sizeof scratch) > 0)
                ;
        }

        pthread_mutex_lock(&hub->lock);
        now = dr_monotonic_ms();
        int heartbeat = now >= next_heartbeat;
        if (heartbeat)
            next_heartbeat = now + hub->limits.heartbeat_ms;
        for (int k = 1; k < n; k++) {
            sse_client *c = &hub->clients[slot_of[k]];
            if (c->fd != fds[k].fd || c->doomed)
                continue;
            if (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                char scratch[1024];
                ssize_t got = recv(c->fd, scratch, sizeof scratch, MSG_DONTWAIT);
                if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
                    (fds[k].revents & POLLERR))
                    c->doomed = 1; /* the client left */
            }
        }
        for (int i = 0; i < max; i++) {
            sse_client *c = &hub->clients[i];
            if (c->fd < 0)
                continue;
            if (heartbeat && !c->doomed)
                enqueue(hub, c, ": \n\n", 4, 0);
            if (!c->doomed && c->sent < c->len)
                flush(hub, c, now);
            if (!c->doomed && c->sent < c->len && now - c->stuck_since_ms > hub->limits.stall_ms) {
                c->doomed = 1;
                hub->stats.dropped_slow++;
            }
            if (c->doomed)
                drop(hub, c);
        }
        pthread_mutex_unlock(&hub->lock);
    }
    return NULL;
}

/* Close the wake pipe and free what dr_sse_hub_start allocated (its lock initialised, its thread gone). */
static void hub_free(dr_sse_hub *hub)
{
    if (hub->wake[0] >= 0) {
        close(hub->wake[0]);
        close(hub->wake[1]);
    }
    pthread_mutex_destroy(&hub->lock);
    free(hub->clients);
    free(hub->fds);
    free(hub->slot_of);
    free(hub);
}

dr_status dr_sse_hub_start(const dr_sse_limits *limits, dr_sse_hub **out, dr_error *err)
{
    *out = NULL;
    dr_sse_hub *hub = calloc(1, sizeof *hub);
    if (!hub)
        return dr_error_set(err, DR_ERR_NOMEM, "event streams: out of memory");
    hub->limits = limits ? *limits : (dr_sse_limits){0};
    if (hub->limits.max_clients <= 0)
        hub->limits.max_clients = 64;
    if (hub->limits.max_queued == 0)
        hub->limits.max_queued = 4u << 20;
    if (hub->limits.stall_ms <= 0)
        hub->limits.stall_ms = 10000;
    if (hub->limits.heartbeat_ms <= 0)
        hub->limits.heartbeat_ms = 15000;
    if (hub->limits.retry_ms <= 0)
        hub->limits.retry_ms = 2000;
    hub->wake[0] = hub->wake[1] = -1;
    hub->clients = calloc((size_t)hub->limits.max_clients, sizeof *hub->clients);
    hub->fds = calloc((size_t)hub->limits.max_clients + 1, sizeof *hub->fds);
    hub->slot_of = calloc((size_t)hub->limits.max_clients + 1, sizeof *hub->slot_of);
    if (!hub->clients || !hub->fds || !hub->slot_of || pthread_mutex_init(&hub->lock, NULL) != 0) {
        free(hub->clients);
        free(hub->fds);
        free(hub->slot_of);
        free(hub);
        return dr_error_set(err, DR_ERR_NOMEM, "event streams: out of memory");
    }
    for (int i = 0; i < hub->limits.max_clients; i++)
        hub->clients[i].fd = -1;
    if (pipe2(hub->wake, O_CLOEXEC | O_NONBLOCK) != 0)
        goto failed;
    /* The thread leaves SIGTERM and SIGINT to the main thread, as the HTTP server's do. */
    if (dr_program_thread_start(&hub->thread, hub_main, hub) != 0)
        goto failed;
    *out = hub;
    return DR_OK;
failed:
    hub_free(hub);
    return dr_error_set(err, DR_ERR_NOMEM, "event streams: cannot start their thread");
}

void dr_sse_hub_stop(dr_sse_hub *hub)
{
    if (!hub)
        return;
    pthread_mutex_lock(&hub->lock);
    hub->stopping = 1;
    pthread_mutex_unlock(&hub->lock);
    wake(hub);
    pthread_join(hub->thread, NULL);
    for (int i = 0; i < hub->limits.max_clients; i++)
        if (hub->clients[i].fd >= 0)
            drop(hub, &hub->clients[i]);
    hub_free(hub);
}

int dr_sse_hub_has_room(dr_sse_hub *hub)
{
    pthread_mutex_lock(&hub->lock);
    int room = !hub->stopping && hub->count < (size_t)hub->limits.max_clients;
    pthread_mutex_unlock(&hub->lock);
    return room;
}

void dr_sse_hub_take(void *hub_ctx, int fd)
{
    dr_sse_hub *hub = hub_ctx;
    pthread_mutex_lock(&hub->lock);
    sse_client *slot = NULL;
    for (int i = 0; !hub->stopping && i < hub->limits.max_clients && !slot; i++)
        if (hub->clients[i].fd < 0)
            slot = &hub->clients[i];
    if (!slot) {
        hub->stats.refused++;
        pthread_mutex_unlock(&hub->lock);
        close(fd);
        return;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    *slot = (sse_client){.fd = fd, .waiting = 1};
    hub->count++;
    hub->waiting++;
    hub->stats.accepted++;
    char retry[64];
    int len = snprintf(retry, sizeof retry, "retry: %d\n\n", hub->limits.retry_ms);
    enqueue(hub, slot, retry, (size_t)len, 0);
    pthread_mutex_unlock(&hub->lock);
    wake(hub);
}

size_t dr_sse_hub_waiting(dr_sse_hub *hub)
{
    pthread_mutex_lock(&hub->lock);
    size_t waiting = hub->waiting;
    pthread_mutex_unlock(&hub->lock);
    return waiting;
}

void dr_sse_hub_publish(dr_sse_hub *hub, const char *snapshot, size_t snapshot_len, const char *update,
                        size_t update_len)
{
    int queued = 0;
    pthread_mutex_lock(&hub->lock);
    for (int i = 0; i < hub->limits.max_clients; i++) {
        sse_client *c = &hub->clients[i];
        if (c->fd < 0 || c->doomed)
            continue;
        if (c->waiting) {
            if (!snapshot)
                continue;
            c->waiting = 0;
            hub->waiting--;
            enqueue(hub, c, snapshot, snapshot_len, 1);
            queued = 1;
        } else if (update && update_len) {
            enqueue(hub, c, update, update_len, 0);
            queued = 1;
        }
    }
    pthread_mutex_unlock(&hub->lock);
    if (queued)
        wake(hub);
}

void dr_sse_hub_stats(dr_sse_hub *hub, dr_sse_stats *out)
{
    pthread_mutex_lock(&hub->lock);
    *out = hub->stats;
    out->clients = hub->count;
    pthread_mutex_unlock(&hub->lock);
}

void dr_sse_event(dr_strbuf *sb, const char *name, const char *data, size_t len)
{
    dr_strbuf_printf(sb, "event: %s\n", name);
    /* Each line of data its own "data:" line (CR LF, CR and LF all end a line in the format). */
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || data[i] == '\n' || data[i] == '\r') {
            if (i == len && start == len && len > 0)
                break; /* data ended with a line break: no empty trailing line */
            dr_strbuf_puts(sb, "data: ");
            dr_strbuf_append(sb, data + start, i - start);
            dr_strbuf_puts(sb, "\n");
            if (i + 1 < len && data[i] == '\r' && data[i + 1] == '\n')
                i++;
            start = i + 1;
        }
    }
    dr_strbuf_puts(sb, "\n");
}
