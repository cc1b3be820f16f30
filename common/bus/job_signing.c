#include "job_signing.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "messages.h"
#include "proto_wire.h"

#define SIGNATURE_FIELD 18u /* Job.signature in proto/drover.proto */

dr_status dr_job_encode_signed(const dr_key *key, const Drover__V1__Job *job, uint8_t **out, size_t *len, dr_error *err)
{
    Drover__V1__Job unsigned_job = *job;
    unsigned_job.key_id = (char *)dr_key_id(key);
    unsigned_job.signature.data = NULL;
    unsigned_job.signature.len = 0;
    size_t body_len = 0;
    uint8_t *body = dr_message_encode(&unsigned_job.base, &body_len);
    *out = NULL;
    if (!body)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory encoding a job");
    dr_status status = dr_key_sign_append(key, body, body_len, SIGNATURE_FIELD, out, len, err);
    free(body);
    return status;
}

int dr_job_claims_signature(const Drover__V1__Job *job)
{
    return (job->key_id && job->key_id[0]) || job->signature.len > 0;
}

dr_status dr_trust_verify_job(dr_trust_store *store, const uint8_t *bytes, size_t len, const Drover__V1__Job *job,
                              dr_error *err)
{
    char trusted[256];
    const char *id = job->key_id && job->key_id[0] ? job->key_id : NULL;
    if (!id || job->signature.len == 0) {
        dr_trust_store_describe(store, trusted, sizeof trusted);
        return dr_error_set(err, DR_ERR_SIGNATURE,
                            "the job is unsigned (%s); this worker runs only jobs signed by a trusted key (%s)",
                            !id && job->signature.len == 0 ? "no key id, no signature"
                            : !id                          ? "a signature without a key id"
                                                           : "a key id without a signature",
                            trusted);
    }
    const dr_key *key = dr_trust_store_find(store, id);
    if (!key) {
        dr_trust_store_describe(store, trusted, sizeof trusted);
        return dr_error_set(err, DR_ERR_SIGNATURE,
                            "the job is signed by key %.64s, which this worker does not trust "
                            "(trusted: %s)",
                            id, trusted);
    }
    uint8_t *body = malloc(len ? len : 1);
    size_t body_len = 0;
    dr_status status = DR_OK;
    if (!body)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory verifying a job");
    if (dr_wire_strip_field(bytes, len, SIGNATURE_FIELD, body, &body_len) != 0)
        status = dr_error_set(err, DR_ERR_SIGNATURE, "the job signed by key %s is not well-formed protobuf", id);
    else if (!dr_key_verify(key, body, body_len, job->signature.data, job->signature.len))
        status = dr_error_set(err, DR_ERR_SIGNATURE,
                              "the signature by key %s does not verify: the job was altered "
                              "after it was signed, or signed by another key",
                              id);
    free(body);
    return status;
}
