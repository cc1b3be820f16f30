/*
 * strmap.h - a string-keyed hash map of pointers: the status fold's index
 * (deployment id -> deployment, job id -> job, location -> counts), and
 * any other set of ids.
 *
 * Chained buckets, FNV-1a, doubling past a load of 1: lookups stay O(1) at
 * the tens of thousands of jobs a deployment may have.  The map copies
 * keys and owns the copies; values are the caller's (the map never frees
 * them).  Not thread-safe: the caller holds its own lock.
 */
#ifndef DROVER_STRMAP_H
#define DROVER_STRMAP_H

#include <stddef.h>

typedef struct dr_strmap dr_strmap;

/* An empty map; NULL when out of memory. */
dr_strmap *dr_strmap_new(void);
/* Free the map and its keys (not the values).  NULL is fine. */
void dr_strmap_free(dr_strmap *map);

/* The value stored under key, or NULL. */
void *dr_strmap_get(const dr_strmap *map, const char *key);

/*
 * Store value under key, replacing any previous value (which the caller
 * still owns).  Returns 0, or -1 when out of memory (the map is unchanged).
 */
int dr_strmap_put(dr_strmap *map, const char *key, void *value);

/* Remove key; returns its value (NULL when absent). */
void *dr_strmap_remove(dr_strmap *map, const char *key);

size_t dr_strmap_count(const dr_strmap *map);

/*
 * Call fn for every entry, in no particular order.  fn must not add or
 * remove entries.  Returning non-zero stops the walk.
 */
typedef int (*dr_strmap_visit_fn)(void *ctx, const char *key, void *value);
void dr_strmap_each(const dr_strmap *map, dr_strmap_visit_fn fn, void *ctx);

#endif
