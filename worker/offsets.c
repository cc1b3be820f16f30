#include "offsets.h"

#include <stdlib.h>
#include <string.h>

/*
 * Per partition: a sorted array of taken offsets with a finished flag.
 * Offsets are appended in order and removed from the front as the finished
 * prefix is committed, so the array holds only the in-flight window.
 */
typedef struct window_entry {
    int64_t offset;
    int finished;
} window_entry;

typedef struct partition_window {
    char *topic;
    int32_t partition;
    window_entry *entries;
    size_t count;
    size_t alloc;
    int64_t committed;             /* next offset already committed; -1: none */
    int64_t highest_finished_next; /* for an empty window: everything below this is done */
} partition_window;

struct dr_offsets {
    partition_window *windows;
    size_t count;
    size_t alloc;
};

dr_offsets *dr_offsets_new(void)
{
    return calloc(1, sizeof(dr_offsets));
}

void dr_offsets_free(dr_offsets *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++) {
        free(t->windows[i].topic);
        free(t->windows[i].entries);
    }
    free(t->windows);
    free(t);
}

static partition_window *find(const dr_offsets *t, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->windows[i].partition == partition && strcmp(t->windows[i].topic, topic) == 0)
            return &t->windows[i];
    return NULL;
}

static partition_window *find_or_add(dr_offsets *t, const char *topic, int32_t partition)
{
    partition_window *w = find(t, topic, partition);
    if (w)
        return w;
    if (t->count == t->alloc) {
        size_t alloc = t->alloc ? 2 * t->alloc : 16;
        partition_window *grown = realloc(t->windows, alloc * sizeof *grown);
        if (!grown)
            return NULL;
        t->windows = grown;
        t->alloc = alloc;
    }
    w = &t->windows[t->count];
    memset(w, 0, sizeof *w);
    w->topic = strdup(topic);
    if (!w->topic)
        return NULL;
    w->partition = partition;
    w->committed = -1;
    w->highest_finished_next = -1;
    t->count++;
    return w;
}

int dr_offsets_taken(dr_offsets *t, const char *topic, int32_t partition, int64_t offset)
{
    partition_window *w = find_or_add(t, topic, partition);
    if (!w)
        return -1;
    if (w->count == w->alloc) {
        size_t alloc = w->alloc ? 2 * w->alloc : 64;
        window_entry *grown = realloc(w->entries, alloc * sizeof *grown);
        if (!grown)
            return -1;
        w->entries = grown;
        w->alloc = alloc;
    }
    w->entries[w->count++] = (window_entry){.offset = offset, .finished = 0};
    return 0;
}

void dr_offsets_finished(dr_offsets *t, const char *topic, int32_t partition, int64_t offset)
{
    partition_window *w = find(t, topic, partition);
    if (!w)
        return; /* revoked meanwhile: its next owner runs it again, harmlessly */
    /* Binary search: the window is sorted by offset. */
    size_t lo = 0, hi = w->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->entries[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < w->count && w->entries[lo].offset == offset)
        w->entries[lo].finished = 1;
}

int64_t dr_offsets_committable(dr_offsets *t, const char *topic, int32_t partition)
{
    partition_window *w = find(t, topic, partition);
    if (!w)
        return -1;
    size_t done = 0;
    while (done < w->count && w->entries[done].finished)
        done++;
    if (done > 0) {
        w->highest_finished_next = w->entries[done - 1].offset + 1;
        memmove(w->entries, w->entries + done, (w->count - done) * sizeof *w->entries);
        w->count -= done;
    }
    if (w->highest_finished_next > w->committed)
        return w->highest_finished_next;
    return -1;
}

void dr_offsets_committed(dr_offsets *t, const char *topic, int32_t partition, int64_t next_offset)
{
    partition_window *w = find(t, topic, partition);
    if (w && next_offset > w->committed)
        w->committed = next_offset;
}

size_t dr_offsets_pending(const dr_offsets *t, const char *topic, int32_t partition)
{
    size_t pending = 0;
    for (size_t i = 0; i < t->count; i++) {
        const partition_window *w = &t->windows[i];
        if (partition >= 0 && (w->partition != partition || strcmp(w->topic, topic) != 0))
            continue;
        for (size_t j = 0; j < w->count; j++)
            pending += !w->entries[j].finished;
    }
    return pending;
}

void dr_offsets_forget(dr_offsets *t, const char *topic, int32_t partition)
{
    partition_window *w = find(t, topic, partition);
    if (!w)
        return;
    free(w->topic);
    free(w->entries);
    *w = t->windows[--t->count];
}

void dr_offsets_each(const dr_offsets *t, dr_offsets_visit_fn fn, void *ctx)
{
    for (size_t i = 0; i < t->count; i++)
        fn(ctx, t->windows[i].topic, t->windows[i].partition);
}
