/*
 * cache.h - the worker's content-addressed artifact cache.
 *
 * A zip is stored once as CACHE_DIR/sha256/<hex>.zip, whatever URL it came
 * from and however many targets install it.  Only a download whose hash
 * matched is ever renamed into place, and a cached file is hashed again
 * before each use (a file changed on disk is fetched anew).  Concurrent
 * requests for one hash, from threads or processes, share one download: the
 * first takes CACHE_DIR/sha256/<hex>.lock (flock) and the others wait on it.
 */
#ifndef DROVER_CACHE_H
#define DROVER_CACHE_H

#include "error.h"
#include "fetch.h"

typedef struct dr_cache_result {
    char *path;     /* the verified zip in the cache, malloc'd */
    int downloaded; /* 1 when this call fetched it, 0 when it was cached */
} dr_cache_result;

/*
 * Make sure the zip with this sha256 is in the cache, fetching it from url
 * if not.  A url fetch's policy refuses is DR_ERR_FETCH_REFUSED even when
 * the zip is cached.
 */
dr_status dr_cache_get(const char *cache_dir, const char *url, const char *sha256, const dr_fetch_options *fetch,
                       dr_cache_result *out, dr_error *err);

#endif
