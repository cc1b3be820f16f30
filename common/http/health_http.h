/*
 * health_http.h - the HTTP endpoints of a Drover daemon without an API of
 * its own (the worker, the control plane): GET /healthz (200 while the
 * process serves), /readyz (200 once *ready is non-zero, else 503; always
 * 200 when ready is NULL) and /metrics (the Prometheus text format).
 */
#ifndef DROVER_HEALTH_HTTP_H
#define DROVER_HEALTH_HTTP_H

#include <stdatomic.h>

#include "error.h"
#include "http_server.h"
#include "metrics.h"

typedef struct dr_health_http dr_health_http;

/*
 * Serve on address (as dr_http_server_start) and log event=http.listening
 * with the bound port.  metrics and ready are borrowed and must outlive it.
 */
dr_status dr_health_http_start(const char *address, dr_metrics *metrics, const atomic_int *ready, dr_health_http **out,
                               dr_error *err);
void dr_health_http_stop(dr_health_http *health); /* NULL is fine */

#endif
