/*
 * cancelled_deployments.h - the deployments this worker saw a Cancel for,
 * so that their jobs still waiting on the jobs topic end CANCELLED without
 * running.
 *
 * Every Cancel on the control topic lands here, and anyone who can write
 * that topic can write Cancels, so the set is bounded two ways:
 *   - at most capacity deployments (the worker keeps 65,536: with ids of
 *     at most 128 bytes, under 16 MB); past that the oldest is forgotten;
 *   - a Cancel written more than max_age_ms ago is forgotten (or never
 *     kept): by then every job of its deployment has expired (serve
 *     --job-expiry-seconds) and is refused as TIMED_OUT anyway.
 * A forgotten Cancel only matters for a job released before it that is
 * still unexpired: keep max_age_ms at least the control plane's job expiry.
 * Not thread-safe: the caller holds its lock.
 */
#ifndef DROVER_CANCELLED_DEPLOYMENTS_H
#define DROVER_CANCELLED_DEPLOYMENTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct dr_cancelled_deployments dr_cancelled_deployments;

/* At most capacity (at least 1) deployments, each for max_age_ms (0: until pushed out); NULL when out of memory. */
dr_cancelled_deployments *dr_cancelled_deployments_new(size_t capacity, int64_t max_age_ms);
void dr_cancelled_deployments_free(dr_cancelled_deployments *set); /* NULL is fine */

/*
 * Remember that deployment_id was cancelled at cancelled_at_ms (when the
 * Cancel was written).  1 when newly kept, 0 when already known or already
 * too old at now_ms, -1 when out of memory (nothing kept).
 */
int dr_cancelled_deployments_add(dr_cancelled_deployments *set, const char *deployment_id, int64_t cancelled_at_ms,
                                 int64_t now_ms);

/* 1 when deployment_id was cancelled and the Cancel is not older than max_age_ms at now_ms. */
int dr_cancelled_deployments_contains(dr_cancelled_deployments *set, const char *deployment_id, int64_t now_ms);

size_t dr_cancelled_deployments_count(const dr_cancelled_deployments *set);

#endif
