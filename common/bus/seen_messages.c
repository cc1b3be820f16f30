/*
 * seen_messages.c - a bounded window of ids seen in messages: the string map
 * for look-ups, a ring for the order they were added in (the oldest goes
 * first).  See seen_messages.h.
 */
#include "seen_messages.h"

#include <stdlib.h>
#include <string.h>

#include "strmap.h"

typedef struct finished_job {
    char *job_id;
    int32_t partition;
    int64_t offset;
} finished_job;

struct dr_seen_messages {
    dr_strmap *by_id; /* job id -> finished_job */
    finished_job **ring;
    size_t capacity;
    size_t next; /* the slot the next new id takes (the oldest once full) */
    size_t count;
};

dr_seen_messages *dr_seen_messages_new(size_t capacity)
{
    dr_seen_messages *jobs = calloc(1, sizeof *jobs);
    if (!jobs)
        return NULL;
    jobs->capacity = capacity ? capacity : 1;
    jobs->by_id = dr_strmap_new();
    jobs->ring = calloc(jobs->capacity, sizeof *jobs->ring);
    if (!jobs->by_id || !jobs->ring) {
        dr_seen_messages_free(jobs);
        return NULL;
    }
    return jobs;
}

void dr_seen_messages_free(dr_seen_messages *jobs)
{
    if (!jobs)
        return;
    for (size_t i = 0; jobs->ring && i < jobs->capacity; i++)
        if (jobs->ring[i]) {
            free(jobs->ring[i]->job_id);
            free(jobs->ring[i]);
        }
    free(jobs->ring);
    dr_strmap_free(jobs->by_id);
    free(jobs);
}

int dr_seen_messages_add(dr_seen_messages *jobs, const char *job_id, int32_t partition, int64_t offset)
{
    finished_job *known = dr_strmap_get(jobs->by_id, job_id);
    if (known) {
        known->partition = partition;
        known->offset = offset;
        return 0;
    }
    finished_job *entry = calloc(1, sizeof *entry);
    if (!entry || !(entry->job_id = strdup(job_id)) || dr_strmap_put(jobs->by_id, job_id, entry) != 0) {
        if (entry)
            free(entry->job_id);
        free(entry);
        return -1;
    }
    entry->partition = partition;
    entry->offset = offset;
    finished_job *oldest = jobs->ring[jobs->next];
    if (oldest) {
        dr_strmap_remove(jobs->by_id, oldest->job_id);
        free(oldest->job_id);
        free(oldest);
    } else {
        jobs->count++;
    }
    jobs->ring[jobs->next] = entry;
    jobs->next = (jobs->next + 1) % jobs->capacity;
    return 0;
}

int dr_seen_messages_is_replay(const dr_seen_messages *jobs, const char *job_id, int32_t partition, int64_t offset)
{
    const finished_job *known = dr_strmap_get(jobs->by_id, job_id);
    return known && (known->partition != partition || known->offset != offset);
}

size_t dr_seen_messages_count(const dr_seen_messages *jobs)
{
    return jobs->count;
}
