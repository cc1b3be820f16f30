/*
 * manifest_fetch.h - a manifest from where a package says it is: fetched,
 * hashed and parsed in one step, so the producer that publishes a version
 * and the worker that installs it read it by the same rules and the same
 * size limit (DR_MANIFEST_MAX_BYTES): what publishes, installs.
 */
#ifndef DROVER_MANIFEST_FETCH_H
#define DROVER_MANIFEST_FETCH_H

#include "error.h"
#include "fetch.h"
#include "manifest.h"
#include "sha256.h"

/*
 * Fetch url (any scheme fetch.h takes, or a path) into a new file under
 * work_dir (made when missing; the file is removed again), hash exactly the
 * bytes fetched into sha256, and parse them into *out (freed with
 * dr_manifest_free).  opt gives the transport (timeouts, CA, S3); its size
 * limit is replaced by DR_MANIFEST_MAX_BYTES, its policy (what may be
 * fetched) stays.  want_sha256, unless NULL, must match (case-insensitive)
 * before anything is parsed; "" matches nothing.
 *
 * A manifest is content-addressed by want_sha256: when that is a whole
 * sha256, a manifest that matched is kept as work_dir/<sha256>.json, and
 * the next call for that hash reads it from there (hashed again, and parsed)
 * instead of fetching it: a worker fetches each manifest once, not once a
 * job.  The URL is still checked against opt's policy first, so a job whose
 * manifest may not be fetched is refused whether or not it is kept.
 *
 * Errors, by the step that failed: fetch's own (DR_ERR_FETCH*,
 * DR_ERR_FETCH_TOO_LARGE past the limit, DR_ERR_FETCH_REFUSED by the
 * policy), DR_ERR_IO for the work file, DR_ERR_CHECKSUM ("manifest sha256
 * mismatch for URL: the bytes served do not hash to WANT"), DR_ERR_MANIFEST
 * (the bytes are not a valid manifest; sha256 is set), and DR_ERR_NOMEM.
 * No detail quotes the bytes fetched, nor their hash on a mismatch: the
 * URL may name something the job's author should not read.  Details are
 * not prefixed: the caller says "manifest".
 */
dr_status dr_manifest_fetch(const char *url, const dr_fetch_options *opt, const char *work_dir, const char *want_sha256,
                            char sha256[DR_SHA256_HEX_SIZE], dr_manifest **out, dr_error *err);

#endif
