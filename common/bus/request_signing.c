#include "request_signing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "drover.pb-c.h"
#include "messages.h"
#include "proto_wire.h"

/* Where message's auth (a RequestAuth pointer) and signature (bytes) live; -1 when its type has none. */
static int auth_offsets(const ProtobufCMessageDescriptor *d, unsigned *auth_offset, unsigned *signature_offset)
{
    const ProtobufCFieldDescriptor *auth = protobuf_c_message_descriptor_get_field(d, DR_REQUEST_AUTH_FIELD);
    const ProtobufCFieldDescriptor *sig = protobuf_c_message_descriptor_get_field(d, DR_REQUEST_SIGNATURE_FIELD);
    if (!auth || !sig || auth->type != PROTOBUF_C_TYPE_MESSAGE ||
        auth->descriptor != &drover__v1__request_auth__descriptor || sig->type != PROTOBUF_C_TYPE_BYTES ||
        auth->label == PROTOBUF_C_LABEL_REPEATED || sig->label == PROTOBUF_C_LABEL_REPEATED)
        return -1;
    *auth_offset = auth->offset;
    *signature_offset = sig->offset;
    return 0;
}

static int new_request_id(char out[DR_REQUEST_ID_SIZE])
{
    unsigned char random[16];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random)
        return -1;
    for (size_t i = 0; i < sizeof random; i++)
        snprintf(out + 2 * i, 3, "%02x", random[i]);
    return 0;
}

dr_status dr_request_encode_signed(const dr_key *key, const ProtobufCMessage *message, int64_t now_ms, uint8_t **out,
                                   size_t *len, char request_id[DR_REQUEST_ID_SIZE], dr_error *err)
{
    const ProtobufCMessageDescriptor *d = message->descriptor;
    unsigned auth_offset = 0, signature_offset = 0;
    char id[DR_REQUEST_ID_SIZE];
    uint8_t *copy = NULL, *body = NULL;
    dr_status status = DR_OK;
    *out = NULL;
    if (auth_offsets(d, &auth_offset, &signature_offset) != 0)
        return dr_error_set(err, DR_ERR_USAGE, "a %s is not a request: it has no auth fields", d->name);
    if (new_request_id(id) != 0)
        return dr_error_set(err, DR_ERR_IO, "no random bytes for a request id");
    Drover__V1__RequestAuth auth = DROVER__V1__REQUEST_AUTH__INIT;
    auth.key_id = (char *)dr_key_id(key);
    auth.created_at_ms = now_ms;
    auth.request_id = id;
    /* A shallow copy of the message with its auth set and no signature: what is signed. */
    if (!(copy = malloc(d->sizeof_message))) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory signing a request");
        goto cleanup;
    }
    memcpy(copy, message, d->sizeof_message);
    *(Drover__V1__RequestAuth **)(copy + auth_offset) = &auth;
    *(ProtobufCBinaryData *)(copy + signature_offset) = (ProtobufCBinaryData){0, NULL};
    size_t body_len = 0;
    if (!(body = dr_message_encode((const ProtobufCMessage *)copy, &body_len))) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory signing a request");
        goto cleanup;
    }
    if ((status = dr_key_sign_append(key, body, body_len, DR_REQUEST_SIGNATURE_FIELD, out, len, err)) != DR_OK)
        goto cleanup;
    if (request_id)
        memcpy(request_id, id, DR_REQUEST_ID_SIZE);
cleanup:
    free(body);
    free(copy);
    return status;
}

dr_status dr_request_encode(const dr_key *key, const ProtobufCMessage *message, uint8_t **out, size_t *len,
                            dr_error *err)
{
    if (key)
        return dr_request_encode_signed(key, message, dr_now_ms(), out, len, NULL, err);
    if (!(*out = dr_message_encode(message, len)))
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory encoding a %s", message->descriptor->short_name);
    return DR_OK;
}

static void copy_claim(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/*
 * Find the auth and the signature among bytes' top-level fields; -1 when
 * bytes are not well-formed or either field comes twice (protobuf would
 * merge two auths: what is verified and what is acted on must be one).
 */
static int read_auth(const uint8_t *bytes, size_t len, dr_request_origin *origin, const uint8_t **signature,
                     size_t *signature_len)
{
    size_t at = 0;
    int r;
    dr_wire_field f;
    while ((r = dr_wire_next(bytes, len, &at, &f)) == 1) {
        if (f.number == DR_REQUEST_AUTH_FIELD) {
            if (origin->has_auth || f.wire_type != 2)
                return -1;
            Drover__V1__RequestAuth *auth = drover__v1__request_auth__unpack(NULL, f.len, f.data);
            if (!auth)
                return -1;
            origin->has_auth = 1;
            copy_claim(origin->key_id, sizeof origin->key_id, auth->key_id);
            copy_claim(origin->request_id, sizeof origin->request_id, auth->request_id);
            origin->created_at_ms = auth->created_at_ms;
            drover__v1__request_auth__free_unpacked(auth, NULL);
        } else if (f.number == DR_REQUEST_SIGNATURE_FIELD) {
            if (origin->has_signature || f.wire_type != 2)
                return -1;
            origin->has_signature = 1;
            *signature = f.data;
            *signature_len = f.len;
        }
    }
    return r;
}

dr_status dr_request_verify(dr_trust_store *store, const uint8_t *bytes, size_t len, dr_request_origin *origin,
                            dr_error *err)
{
    return dr_request_verify_except(store, bytes, len, NULL, 0, origin, err);
}

/* bytes without the signature and the unsigned fields, into body (room for len bytes); -1 when malformed. */
static int signed_body(const uint8_t *bytes, size_t len, const uint32_t *unsigned_fields, size_t n, uint8_t *body,
                       size_t *body_len)
{
    if (dr_wire_strip_field(bytes, len, DR_REQUEST_SIGNATURE_FIELD, body, body_len) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t *scratch = malloc(*body_len ? *body_len : 1);
        size_t scratch_len = 0;
        int r = scratch ? dr_wire_strip_field(body, *body_len, unsigned_fields[i], scratch, &scratch_len) : -1;
        if (r == 0) {
            memcpy(body, scratch, scratch_len);
            *body_len = scratch_len;
        }
        free(scratch);
        if (r != 0)
            return -1;
    }
    return 0;
}

dr_status dr_request_verify_except(dr_trust_store *store, const uint8_t *bytes, size_t len,
                                   const uint32_t *unsigned_fields, size_t unsigned_field_count,
                                   dr_request_origin *origin, dr_error *err)
{
    const uint8_t *signature = NULL;
    size_t signature_len = 0;
    memset(origin, 0, sizeof *origin);
    if (read_auth(bytes, len, origin, &signature, &signature_len) != 0)
        return dr_error_set(err, DR_ERR_REQUEST_SIGNATURE,
                            "the request is not well-formed protobuf, or carries two auths or two signatures");
    if (!origin->has_auth || !origin->key_id[0] || !origin->has_signature)
        return dr_error_set(err, DR_ERR_UNSIGNED, "the request is unsigned (%s)",
                            !origin->has_auth || !origin->key_id[0] ? "no operator key id" : "no signature");
    const dr_key *key = store ? dr_trust_store_find(store, origin->key_id) : NULL;
    if (!key)
        return dr_error_set(err, DR_ERR_UNKNOWN_OPERATOR, "the request is signed by key %.16s, which no operator has",
                            origin->key_id);
    uint8_t *body = malloc(len ? len : 1);
    size_t body_len = 0;
    dr_status status = DR_OK;
    if (!body)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory verifying a request");
    if (signed_body(bytes, len, unsigned_fields, unsigned_field_count, body, &body_len) != 0)
        status = dr_error_set(err, DR_ERR_REQUEST_SIGNATURE, "the request signed by key %s is not well-formed protobuf",
                              origin->key_id);
    else if (!dr_key_verify(key, body, body_len, signature, signature_len))
        status = dr_error_set(err, DR_ERR_REQUEST_SIGNATURE,
                              "the signature by key %s does not verify: the request was altered after it was "
                              "signed, or signed by another key",
                              origin->key_id);
    free(body);
    return status;
}
