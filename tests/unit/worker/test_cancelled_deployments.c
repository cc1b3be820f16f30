/*
 * The worker's cancelled deployments (cancelled_deployments.h): bounded by
 * count, oldest out first, and forgotten once older than the job expiry.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cancelled_deployments.h"
#include "check.h"

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS (24 * HOUR_MS)

static void a_cancel_is_known_once(void)
{
    dr_cancelled_deployments *set = dr_cancelled_deployments_new(4, DAY_MS);
    CHECK_INT(1, dr_cancelled_deployments_add(set, "d-1", 1000, 1000));
    CHECK_INT(0, dr_cancelled_deployments_add(set, "d-1", 2000, 2000));
    CHECK_INT(1, dr_cancelled_deployments_contains(set, "d-1", 3000));
    CHECK_INT(0, dr_cancelled_deployments_contains(set, "d-2", 3000));
    CHECK_INT(1, dr_cancelled_deployments_count(set));
    dr_cancelled_deployments_free(set);
}

static void past_capacity_the_oldest_is_forgotten_first(void)
{
    dr_cancelled_deployments *set = dr_cancelled_deployments_new(3, DAY_MS);
    char id[32];
    for (int i = 1; i <= 5; i++) {
        snprintf(id, sizeof id, "d-%d", i);
        CHECK_INT(1, dr_cancelled_deployments_add(set, id, i, 10));
    }
    CHECK_INT(3, dr_cancelled_deployments_count(set));
    CHECK_INT(0, dr_cancelled_deployments_contains(set, "d-1", 10));
    CHECK_INT(0, dr_cancelled_deployments_contains(set, "d-2", 10));
    CHECK_INT(1, dr_cancelled_deployments_contains(set, "d-3", 10));
    CHECK_INT(1, dr_cancelled_deployments_contains(set, "d-5", 10));
    /* A forgotten one can be kept again, and pushes out the oldest left. */
    CHECK_INT(1, dr_cancelled_deployments_add(set, "d-1", 11, 11));
    CHECK_INT(0, dr_cancelled_deployments_contains(set, "d-3", 11));
    CHECK_INT(3, dr_cancelled_deployments_count(set));
    dr_cancelled_deployments_free(set);
}

static void a_cancel_older_than_the_job_expiry_is_forgotten(void)
{
    dr_cancelled_deployments *set = dr_cancelled_deployments_new(100, DAY_MS);
    int64_t start = 1000 * DAY_MS;
    CHECK_INT(1, dr_cancelled_deployments_add(set, "d-old", start, start));
    CHECK_INT(1, dr_cancelled_deployments_add(set, "d-new", start + 12 * HOUR_MS, start + 12 * HOUR_MS));
    CHECK_INT(1, dr_cancelled_deployments_contains(set, "d-old", start + DAY_MS));
    CHECK_INT(0, dr_cancelled_deployments_contains(set, "d-old", start + DAY_MS + 1));
    CHECK_INT(1, dr_cancelled_deployments_contains(set, "d-new", start + DAY_MS + 1));
    CHECK_INT(1, dr_cancelled_deployments_count(set));
    /* A Cancel read long after it was written (a restarted worker) is not kept at all. */
    CHECK_INT(0, dr_cancelled_deployments_add(set, "d-ancient", start - 2 * DAY_MS, start + DAY_MS));
    CHECK_INT(0, dr_cancelled_deployments_contains(set, "d-ancient", start + DAY_MS));
    dr_cancelled_deployments_free(set);

    /* No age limit: kept until pushed out. */
    set = dr_cancelled_deployments_new(2, 0);
    CHECK_INT(1, dr_cancelled_deployments_add(set, "d-1", 0, 0));
    CHECK_INT(1, dr_cancelled_deployments_contains(set, "d-1", 3650 * DAY_MS));
    dr_cancelled_deployments_free(set);
}

static void a_flood_of_cancels_stays_within_the_bound(void)
{
    dr_cancelled_deployments *set = dr_cancelled_deployments_new(1000, DAY_MS);
    char id[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(id, sizeof id, "flood-%d", i);
        dr_cancelled_deployments_add(set, id, i, i);
    }
    CHECK_INT(1000, dr_cancelled_deployments_count(set));
    CHECK_INT(1, dr_cancelled_deployments_contains(set, "flood-99999", 100000));
    CHECK_INT(0, dr_cancelled_deployments_contains(set, "flood-98999", 100000));
    dr_cancelled_deployments_free(set);
}

int main(void)
{
    a_cancel_is_known_once();
    past_capacity_the_oldest_is_forgotten_first();
    a_cancel_older_than_the_job_expiry_is_forgotten();
    a_flood_of_cancels_stays_within_the_bound();
    return check_done("cancelled_deployments");
}
