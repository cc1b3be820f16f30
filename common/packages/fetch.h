/*
 * fetch.h - download a URL to a file with libcurl.
 *
 * Schemes: file://, http://, https://; a plain path is read as a local file.
 * The download goes to "<dest>.part" and is renamed to dest only when it is
 * complete (and, when an expected SHA-256 is given, matches it), so dest is
 * never half-written.  A ".part" left by an interrupted run or a dropped
 * connection is resumed with a Range request; a server that ignores Range
 * (answers 200) restarts the file from zero.  The hash is computed while
 * streaming, over the resumed prefix too.
 *
 * Retries: connection failures, stalls, cut-off transfers and 5xx/408/429
 * answers are retried up to max_attempts with exponential backoff (jittered,
 * capped at 10 s).  A 404/410 is final at once (DR_ERR_FETCH_NOT_FOUND), as is
 * any other 4xx (DR_ERR_FETCH) and the size limit (DR_ERR_FETCH_TOO_LARGE).
 * A checksum mismatch removes the ".part" and returns DR_ERR_CHECKSUM; it is
 * not retried (the server has the wrong bytes).  Its detail names the hash
 * wanted, not the one served: a hash of bytes the caller may not see would
 * confirm a guess of them.
 *
 * With a policy (fetch_policy.h), a URL it refuses is never requested:
 * DR_ERR_FETCH_REFUSED, 'refused to fetch "URL": <the rule>', final at
 * once.  The rules apply to the URL as given, to the endpoint an s3:// URL
 * becomes, to every redirect (only to schemes the policy allows, at most 5),
 * and to each address a connection goes to.
 */
#ifndef DROVER_FETCH_H
#define DROVER_FETCH_H

#include <stdint.h>

#include "error.h"
#include "fetch_policy.h"

typedef struct dr_fetch_options {
    uint64_t max_bytes;            /* 0: no limit */
    long timeout_seconds;          /* whole download, all attempts; 0: none */
    long stall_seconds;            /* abort an attempt that receives nothing this long; 0: none */
    int max_attempts;              /* at least 1 */
    long backoff_initial_ms;       /* first retry delay; doubled each retry */
    const char *ca_file;           /* PEM bundle for https; NULL: the system's */
    const char *s3_endpoint;       /* s3:// URLs: NULL for AWS itself, else an S3-compatible endpoint (s3.h) */
    const char *s3_region;         /* s3:// URLs: NULL for the environment's */
    const dr_fetch_policy *policy; /* what may be fetched; NULL: any URL (the producer's own reads) */
} dr_fetch_options;

/* What happened, for logs and tests. */
typedef struct dr_fetch_report {
    int attempts;          /* requests made */
    uint64_t resumed_from; /* bytes already present when the last attempt began */
    uint64_t bytes;        /* final size of dest */
} dr_fetch_report;

/* Defaults: 1 GiB, 600 s total, 30 s stall, 5 attempts, 200 ms backoff, system CA, no policy. */
void dr_fetch_options_default(dr_fetch_options *opt);

/* Once per process before threads start (curl_global_init). */
dr_status dr_fetch_global_init(void);

/*
 * Download url into dest_path.  expected_sha256 (64 hex digits, or NULL)
 * is checked before the rename.  report may be NULL.  Errors name the URL.
 */
dr_status dr_fetch_to_file(const char *url, const char *dest_path, const char *expected_sha256,
                           const dr_fetch_options *opt, dr_fetch_report *report, dr_error *err);

/*
 * Whether opt->policy lets url be fetched, as dr_fetch_to_file checks it
 * before its first request (redirects and addresses are checked as they
 * come).  DR_OK without a policy; DR_ERR_FETCH_REFUSED as above;
 * DR_ERR_USAGE for an s3:// URL that is not s3://BUCKET/KEY.
 */
dr_status dr_fetch_check_url(const char *url, const dr_fetch_options *opt, dr_error *err);

/*
 * Join a base URL (or directory path) and a file name with exactly one '/'.
 * Returns a malloc'd string the caller frees, or NULL when out of memory.
 */
char *dr_fetch_url_join(const char *base, const char *name);

#endif
