/*
 * job_signing.h - jobs signed by the control plane, verified by workers.
 *
 * What a signature covers: the Job's wire bytes without field 18
 * (signature), key_id (17) included.  The signer encodes the job with its
 * key id and no signature, signs those bytes and appends field 18; the
 * verifier removes field 18 from the bytes it received and checks what is
 * left.  Nothing is re-encoded on either side, so fields a newer control
 * plane adds, unknown to an older worker, are covered too.  The manifest's
 * SHA-256 is a field of the job, so the manifest, and through its checksums
 * every artifact, is covered as well.
 */
#ifndef DROVER_JOB_SIGNING_H
#define DROVER_JOB_SIGNING_H

#include <stddef.h>
#include <stdint.h>

#include "drover.pb-c.h"
#include "error.h"
#include "keys.h"
#include "trust_store.h"

/* The job's encoding signed with key (job's own key_id and signature are ignored); *out is malloc'd. */
dr_status dr_job_encode_signed(const dr_key *key, const Drover__V1__Job *job, uint8_t **out, size_t *len,
                               dr_error *err);

/* 1 when the job carries a key id or a signature (it claims to be signed). */
int dr_job_claims_signature(const Drover__V1__Job *job);

/*
 * DR_OK when bytes (the message as received; job is its decoding) carry a
 * signature by a trusted key over the rest of them.  Otherwise
 * DR_ERR_SIGNATURE, with a detail that names the key id: unsigned, key not
 * trusted, or a signature that does not verify.  A key id it does not know
 * makes it read the spec again when the spec's files or directories changed
 * on disk (a key added to a mounted directory is trusted at once, without a
 * restart), and in any case at most every 5 s.  Not thread-safe.
 */
dr_status dr_trust_verify_job(dr_trust_store *store, const uint8_t *bytes, size_t len, const Drover__V1__Job *job,
                              dr_error *err);

#endif
