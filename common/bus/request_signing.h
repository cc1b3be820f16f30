/*
 * request_signing.h - requests signed by operators, verified by the
 * control plane.
 *
 * A request is any message of proto/drover.proto with the fields
 * `RequestAuth auth = 90` and `bytes auth_signature = 91`: a Target
 * registered, a TargetEvent, a PackageVersion published, a PackageVersions
 * record, a Deployment, an Association, a Cancel.  The signature is the
 * operator's Ed25519 signature over the message's wire bytes without field
 * 91, auth included: the key id, the creation time and the request id are
 * signed with what was asked.  As for jobs (job_signing.h), nothing is
 * re-encoded to verify, so fields a newer writer adds are covered too.
 *
 * Verifying says only who signed what; whether that operator may do it,
 * and whether the request is fresh and new, is the control plane's
 * authority (producer/daemon/authority.h).
 */
#ifndef DROVER_REQUEST_SIGNING_H
#define DROVER_REQUEST_SIGNING_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "error.h"
#include "keys.h"
#include "trust_store.h"

#define DR_REQUEST_AUTH_FIELD 90u
#define DR_REQUEST_SIGNATURE_FIELD 91u
#define DR_REQUEST_ID_SIZE 33 /* 32 hex digits and a NUL */

/*
 * message encoded with a fresh RequestAuth (key's id, now_ms, a random
 * request id) and signed by key; whatever auth and signature message had
 * are replaced (message itself is left as it was).  *out is malloc'd.
 * request_id, when not NULL, receives the request id.  DR_ERR_USAGE when
 * the message type has no auth fields.
 */
dr_status dr_request_encode_signed(const dr_key *key, const ProtobufCMessage *message, int64_t now_ms, uint8_t **out,
                                   size_t *len, char request_id[DR_REQUEST_ID_SIZE], dr_error *err);

/*
 * message encoded for Kafka as a request by key: signed as above, or, when
 * key is NULL (no operator key configured), plainly, for a control plane
 * that accepts unsigned requests (serve --allow-unsigned-requests).
 */
dr_status dr_request_encode(const dr_key *key, const ProtobufCMessage *message, uint8_t **out, size_t *len,
                            dr_error *err);

/* Who a request says made it, as read from its bytes (verified or not); strings are NUL-terminated. */
typedef struct dr_request_origin {
    int has_auth;        /* field 90 decoded */
    int has_signature;   /* field 91 present */
    char key_id[65];     /* at most 64 bytes of what the request claims; quote it when logging */
    char request_id[65]; /* likewise */
    int64_t created_at_ms;
} dr_request_origin;

/*
 * Verify bytes, an encoded request message: DR_OK when it carries an auth
 * and a signature by a key of store over the rest of its bytes.  Otherwise,
 * with a detail for people:
 *   DR_ERR_UNSIGNED          no auth, or no signature;
 *   DR_ERR_UNKNOWN_OPERATOR  signed by a key store does not hold;
 *   DR_ERR_REQUEST_SIGNATURE the signature does not verify, or the bytes
 *                            are not well-formed protobuf.
 * origin is filled as far as the bytes could be read, also on error.
 * store may be NULL (no key is known).
 */
dr_status dr_request_verify(dr_trust_store *store, const uint8_t *bytes, size_t len, dr_request_origin *origin,
                            dr_error *err);

/*
 * As dr_request_verify, for a message some of whose fields are not the
 * operator's to sign: the signature covers the bytes without them too (an
 * Association's run bookkeeping, which the control plane writes back).
 */
dr_status dr_request_verify_except(dr_trust_store *store, const uint8_t *bytes, size_t len,
                                   const uint32_t *unsigned_fields, size_t unsigned_field_count,
                                   dr_request_origin *origin, dr_error *err);

#endif
