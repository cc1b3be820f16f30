/*
 * cancelled_deployments.c - a bounded, expiring set of deployment ids: the
 * string map for look-ups, a ring in the order they were kept in (the
 * oldest goes first, whether pushed out or expired).  See
 * cancelled_deployments.h.
 */
#include "cancelled_deployments.h"

#include <stdlib.h>
#include <string.h>

#include "strmap.h"

typedef struct cancelled {
    char *deployment_id;
    int64_t at_ms;
} cancelled;

struct dr_cancelled_deployments {
    dr_strmap *by_id; /* deployment id -> cancelled */
    cancelled **ring;
    size_t capacity;
    size_t oldest; /* the slot of the oldest entry */
    size_t count;
    int64_t max_age_ms;
};

dr_cancelled_deployments *dr_cancelled_deployments_new(size_t capacity, int64_t max_age_ms)
{
    dr_cancelled_deployments *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    set->capacity = capacity ? capacity : 1;
    set->max_age_ms = max_age_ms > 0 ? max_age_ms : 0;
    set->by_id = dr_strmap_new();
    set->ring = calloc(set->capacity, sizeof *set->ring);
    if (!set->by_id || !set->ring) {
        dr_cancelled_deployments_free(set);
        return NULL;
    }
    return set;
}

void dr_cancelled_deployments_free(dr_cancelled_deployments *set)
{
    if (!set)
        return;
    for (size_t i = 0; set->ring && i < set->capacity; i++)
        if (set->ring[i]) {
            free(set->ring[i]->deployment_id);
            free(set->ring[i]);
        }
    free(set->ring);
    dr_strmap_free(set->by_id);
    free(set);
}

static int too_old(const dr_cancelled_deployments *set, int64_t at_ms, int64_t now_ms)
{
    return set->max_age_ms > 0 && now_ms - at_ms > set->max_age_ms;
}

static void forget_oldest(dr_cancelled_deployments *set)
{
    cancelled *oldest = set->ring[set->oldest];
    dr_strmap_remove(set->by_id, oldest->deployment_id);
    free(oldest->deployment_id);
    free(oldest);
    set->ring[set->oldest] = NULL;
    set->oldest = (set->oldest + 1) % set->capacity;
    set->count--;
}

/* Cancels arrive about in the order they were written: the expired ones are at the old end. */
static void forget_expired(dr_cancelled_deployments *set, int64_t now_ms)
{
    while (set->count > 0 && too_old(set, set->ring[set->oldest]->at_ms, now_ms))
        forget_oldest(set);
}

int dr_cancelled_deployments_add(dr_cancelled_deployments *set, const char *deployment_id, int64_t cancelled_at_ms,
                                 int64_t now_ms)
{
    forget_expired(set, now_ms);
    if (too_old(set, cancelled_at_ms, now_ms) || dr_strmap_get(set->by_id, deployment_id))
        return 0;
    cancelled *entry = calloc(1, sizeof *entry);
    if (!entry || !(entry->deployment_id = strdup(deployment_id)) ||
        dr_strmap_put(set->by_id, deployment_id, entry) != 0) {
        if (entry)
            free(entry->deployment_id);
        free(entry);
        return -1;
    }
    entry->at_ms = cancelled_at_ms;
    if (set->count == set->capacity)
        forget_oldest(set);
    set->ring[(set->oldest + set->count) % set->capacity] = entry;
    set->count++;
    return 1;
}

int dr_cancelled_deployments_contains(dr_cancelled_deployments *set, const char *deployment_id, int64_t now_ms)
{
    forget_expired(set, now_ms);
    const cancelled *entry = dr_strmap_get(set->by_id, deployment_id);
    return entry && !too_old(set, entry->at_ms, now_ms);
}

size_t dr_cancelled_deployments_count(const dr_cancelled_deployments *set)
{
    return set->count;
}
