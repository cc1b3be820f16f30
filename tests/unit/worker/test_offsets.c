/* Commit only up to the first unfinished job of a partition. */
#include "check.h"
#include "offsets.h"

static void commits_follow_the_finished_prefix(void)
{
    dr_offsets *t = dr_offsets_new();
    for (int64_t o = 10; o < 15; o++)
        dr_offsets_taken(t, "jobs", 0, o);
    dr_offsets_taken(t, "jobs", 1, 7);
    CHECK_INT(-1, dr_offsets_committable(t, "jobs", 0));
    CHECK_INT(6, dr_offsets_pending(t, "jobs", -1));

    /* 11 and 12 finish first: nothing can be committed while 10 runs. */
    dr_offsets_finished(t, "jobs", 0, 11);
    dr_offsets_finished(t, "jobs", 0, 12);
    CHECK_INT(-1, dr_offsets_committable(t, "jobs", 0));
    dr_offsets_finished(t, "jobs", 0, 10);
    CHECK_INT(13, dr_offsets_committable(t, "jobs", 0));
    dr_offsets_committed(t, "jobs", 0, 13);
    CHECK_INT(-1, dr_offsets_committable(t, "jobs", 0));
    CHECK_INT(2, dr_offsets_pending(t, "jobs", 0));

    dr_offsets_finished(t, "jobs", 0, 14);
    CHECK_INT(-1, dr_offsets_committable(t, "jobs", 0)); /* 13 still runs */
    dr_offsets_finished(t, "jobs", 0, 13);
    CHECK_INT(15, dr_offsets_committable(t, "jobs", 0));

    /* Other partitions are independent. */
    CHECK_INT(-1, dr_offsets_committable(t, "jobs", 1));
    dr_offsets_finished(t, "jobs", 1, 7);
    CHECK_INT(8, dr_offsets_committable(t, "jobs", 1));

    /* A revoked partition is forgotten; a late finish for it is ignored. */
    dr_offsets_taken(t, "jobs", 2, 100);
    dr_offsets_forget(t, "jobs", 2);
    dr_offsets_finished(t, "jobs", 2, 100);
    CHECK_INT(-1, dr_offsets_committable(t, "jobs", 2));
    CHECK_INT(0, dr_offsets_pending(t, "jobs", 2));
    dr_offsets_free(t);
}

int main(void)
{
    commits_follow_the_finished_prefix();
    return check_done("offsets");
}
