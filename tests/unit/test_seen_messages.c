/* The window of seen message ids: a replay (same id, another message) is told from a redelivery (the same message). */
#include <stdio.h>

#include "check.h"
#include "seen_messages.h"

static void a_job_seen_again_at_another_offset_is_a_replay(void)
{
    dr_seen_messages *jobs = dr_seen_messages_new(10);
    CHECK(jobs != NULL);
    CHECK_INT(0, dr_seen_messages_is_replay(jobs, "d-1/t-1", 3, 40)); /* never seen */
    CHECK_INT(0, dr_seen_messages_add(jobs, "d-1/t-1", 3, 40));
    CHECK_INT(0, dr_seen_messages_is_replay(jobs, "d-1/t-1", 3, 40)); /* redelivered: runs */
    CHECK_INT(1, dr_seen_messages_is_replay(jobs, "d-1/t-1", 3, 41)); /* written again */
    CHECK_INT(1, dr_seen_messages_is_replay(jobs, "d-1/t-1", 4, 40));
    CHECK_INT(0, dr_seen_messages_is_replay(jobs, "d-1/t-2", 3, 41));
    /* Finished again from another message (a deliberate re-run): that message is the one now. */
    CHECK_INT(0, dr_seen_messages_add(jobs, "d-1/t-1", 3, 41));
    CHECK_INT(0, dr_seen_messages_is_replay(jobs, "d-1/t-1", 3, 41));
    CHECK_INT(1, dr_seen_messages_count(jobs));
    dr_seen_messages_free(jobs);
}

static void the_window_forgets_the_oldest_past_its_capacity(void)
{
    dr_seen_messages *jobs = dr_seen_messages_new(3);
    char id[32];
    for (int i = 1; i <= 5; i++) {
        snprintf(id, sizeof id, "d-1/t-%d", i);
        CHECK_INT(0, dr_seen_messages_add(jobs, id, 0, i));
    }
    CHECK_INT(3, dr_seen_messages_count(jobs));
    CHECK_INT(0, dr_seen_messages_is_replay(jobs, "d-1/t-1", 0, 99)); /* forgotten */
    CHECK_INT(0, dr_seen_messages_is_replay(jobs, "d-1/t-2", 0, 99));
    CHECK_INT(1, dr_seen_messages_is_replay(jobs, "d-1/t-3", 0, 99));
    CHECK_INT(1, dr_seen_messages_is_replay(jobs, "d-1/t-5", 0, 99));
    dr_seen_messages_free(jobs);
    dr_seen_messages_free(NULL);
}

int main(void)
{
    a_job_seen_again_at_another_offset_is_a_replay();
    the_window_forgets_the_oldest_past_its_capacity();
    return check_done("seen_messages");
}
