#include "health_http.h"

#include <stdlib.h>
#include <string.h>

struct dr_health_http {
    dr_http_server *server;
    dr_metrics *metrics;
    const atomic_int *ready;
};

static void reply_text(dr_http_response *resp, int status, const char *text)
{
    resp->status = status;
    resp->body = strdup(text);
    resp->body_len = strlen(text);
}

static void handle(void *ctx, const dr_http_request *req, dr_http_response *resp)
{
    dr_health_http *h = ctx;
    if (strcmp(req->path, "/healthz") == 0) {
        reply_text(resp, 200, "ok\n");
    } else if (strcmp(req->path, "/readyz") == 0) {
        int ready = !h->ready || atomic_load(h->ready);
        reply_text(resp, ready ? 200 : 503, ready ? "ok\n" : "not ready\n");
    } else if (strcmp(req->path, "/metrics") == 0) {
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        resp->body = dr_metrics_render(h->metrics, &resp->body_len);
    } else {
        reply_text(resp, 404, "not found\n");
    }
}

dr_status dr_health_http_start(const char *address, dr_metrics *metrics, const atomic_int *ready, dr_health_http **out,
                               dr_error *err)
{
    *out = NULL;
    dr_health_http *h = calloc(1, sizeof *h);
    if (!h)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory for the HTTP server");
    h->metrics = metrics;
    h->ready = ready;
    dr_status status = dr_http_server_start(address, handle, h, &h->server, err);
    if (status != DR_OK) {
        free(h);
        return status;
    }
    dr_http_log_listening(address, h->server);
    *out = h;
    return DR_OK;
}

void dr_health_http_stop(dr_health_http *h)
{
    if (!h)
        return;
    dr_http_server_stop(h->server);
    free(h);
}
