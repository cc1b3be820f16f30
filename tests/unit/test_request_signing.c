/*
 * Signed requests: an operator's signature over a request message verifies
 * with its public key and nothing else, any change to the bytes breaks it,
 * and every way a request is refused has its own status.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "files.h"
#include "messages.h"
#include "proto_wire.h"
#include "request_signing.h"
#include "test_files.h"

static char scratch[] = "/tmp/drover-test-request-signing-XXXXXX";

static dr_key *generate(const char *dir, char id[DR_KEY_ID_SIZE])
{
    char name[128];
    dr_key *key = NULL;
    CHECK_INT(DR_OK, dr_key_generate(path_in(scratch, dir), id, NULL));
    snprintf(name, sizeof name, "%s/%s.key", dir, id);
    CHECK_INT(DR_OK, dr_key_load_private(path_in(scratch, name), &key, NULL));
    return key;
}

static void a_cancel(Drover__V1__Cancel *c)
{
    drover__v1__cancel__init(c);
    c->schema_version = DR_SCHEMA_VERSION;
    c->deployment_id = "d-1";
    c->reason = "wrong version";
    c->at_ms = 1700000000000;
}

static void a_signed_request_verifies_and_says_who_made_it(void)
{
    char a[DR_KEY_ID_SIZE], b[DR_KEY_ID_SIZE];
    dr_key *key_a = generate("a", a);
    dr_key *key_b = generate("b", b);
    dr_trust_store *store = NULL;
    CHECK_INT(DR_OK, dr_trust_store_load(path_in(scratch, "a"), &store, NULL));

    Drover__V1__Cancel cancel;
    a_cancel(&cancel);
    uint8_t *bytes = NULL;
    size_t len = 0;
    char request_id[DR_REQUEST_ID_SIZE];
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_request_encode_signed(key_a, &cancel.base, 1234, &bytes, &len, request_id, &err));
    CHECK_INT(32, strlen(request_id));
    CHECK(cancel.auth == NULL); /* the caller's message is left as it was */

    dr_request_origin origin;
    CHECK_INT(DR_OK, dr_request_verify(store, bytes, len, &origin, &err));
    CHECK_STR(a, origin.key_id);
    CHECK_STR(request_id, origin.request_id);
    CHECK_INT(1234, origin.created_at_ms);

    /* The message decodes as a Cancel, auth included. */
    Drover__V1__Cancel *decoded = NULL;
    CHECK_INT(DR_OK, dr_cancel_decode(bytes, len, &decoded, &err));
    CHECK_STR("d-1", decoded->deployment_id);
    CHECK(decoded->auth && strcmp(decoded->auth->key_id, a) == 0);
    drover__v1__cancel__free_unpacked(decoded, NULL);

    /* Two requests never share an id. */
    uint8_t *again = NULL;
    size_t again_len = 0;
    char second_id[DR_REQUEST_ID_SIZE];
    CHECK_INT(DR_OK, dr_request_encode_signed(key_a, &cancel.base, 1234, &again, &again_len, second_id, &err));
    CHECK(strcmp(request_id, second_id) != 0);
    free(again);

    /* Any byte changed before the signature breaks it (the signature field is last). */
    size_t body = len - dr_wire_bytes_field_size(DR_REQUEST_SIGNATURE_FIELD, DR_SIGNATURE_SIZE);
    for (size_t i = 0; i < body; i++) {
        uint8_t *tampered = malloc(len);
        memcpy(tampered, bytes, len);
        tampered[i] ^= 0x01;
        dr_status s = dr_request_verify(store, tampered, len, &origin, &err);
        CHECK(s != DR_OK);
        free(tampered);
    }

    /* Signed by a key the store does not hold: an unknown operator, named. */
    uint8_t *by_b = NULL;
    size_t by_b_len = 0;
    CHECK_INT(DR_OK, dr_request_encode_signed(key_b, &cancel.base, 1234, &by_b, &by_b_len, NULL, &err));
    CHECK_INT(DR_ERR_UNKNOWN_OPERATOR, dr_request_verify(store, by_b, by_b_len, &origin, &err));
    CHECK_CONTAINS(b, err.detail);
    CHECK_STR(b, origin.key_id);
    CHECK_INT(DR_ERR_UNKNOWN_OPERATOR, dr_request_verify(NULL, by_b, by_b_len, &origin, &err));

    /* b's auth with a's signature spliced on: the signature does not verify. */
    uint8_t *spliced = malloc(by_b_len);
    memcpy(spliced, by_b, by_b_len);
    memcpy(spliced + by_b_len - DR_SIGNATURE_SIZE, bytes + len - DR_SIGNATURE_SIZE, DR_SIGNATURE_SIZE);
    dr_trust_store *both = NULL;
    char spec[512];
    snprintf(spec, sizeof spec, "%s,%s", path_in(scratch, "a"), path_in(scratch, "b"));
    CHECK_INT(DR_OK, dr_trust_store_load(spec, &both, NULL));
    CHECK_INT(DR_OK, dr_request_verify(both, by_b, by_b_len, &origin, &err));
    CHECK_INT(DR_ERR_REQUEST_SIGNATURE, dr_request_verify(both, spliced, by_b_len, &origin, &err));

    /* The signature field twice (one of them valid) is refused, not guessed at. */
    size_t doubled_len = len + dr_wire_bytes_field_size(DR_REQUEST_SIGNATURE_FIELD, DR_SIGNATURE_SIZE);
    uint8_t *doubled = malloc(doubled_len);
    memcpy(doubled, bytes, len);
    memcpy(doubled + len, bytes + body, len - body);
    CHECK_INT(DR_ERR_REQUEST_SIGNATURE, dr_request_verify(store, doubled, doubled_len, &origin, &err));

    free(doubled);
    free(spliced);
    free(by_b);
    free(bytes);
    dr_trust_store_free(both);
    dr_trust_store_free(store);
    dr_key_free(key_a);
    dr_key_free(key_b);
}

static void unsigned_requests_are_refused_as_unsigned(void)
{
    dr_trust_store *store = NULL;
    CHECK_INT(DR_OK, dr_trust_store_load(path_in(scratch, "a"), &store, NULL));
    Drover__V1__Cancel cancel;
    a_cancel(&cancel);
    size_t len = 0;
    uint8_t *bytes = dr_message_encode(&cancel.base, &len);
    dr_request_origin origin;
    dr_error err = {0};
    CHECK_INT(DR_ERR_UNSIGNED, dr_request_verify(store, bytes, len, &origin, &err));
    CHECK_CONTAINS("unsigned", err.detail);
    free(bytes);

    /* An auth with no signature. */
    Drover__V1__RequestAuth auth = DROVER__V1__REQUEST_AUTH__INIT;
    auth.key_id = "0123456789abcdef";
    auth.request_id = "r";
    cancel.auth = &auth;
    bytes = dr_message_encode(&cancel.base, &len);
    CHECK_INT(DR_ERR_UNSIGNED, dr_request_verify(store, bytes, len, &origin, &err));
    CHECK_STR("0123456789abcdef", origin.key_id);
    free(bytes);

    /* Not protobuf at all. */
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    CHECK_INT(DR_ERR_REQUEST_SIGNATURE, dr_request_verify(store, junk, sizeof junk, &origin, &err));
    dr_trust_store_free(store);
}

static void only_request_messages_can_be_signed(void)
{
    char id[DR_KEY_ID_SIZE];
    dr_key *key = generate("c", id);
    Drover__V1__Release release = DROVER__V1__RELEASE__INIT;
    uint8_t *bytes = NULL;
    size_t len = 0;
    dr_error err = {0};
    CHECK_INT(DR_ERR_USAGE, dr_request_encode_signed(key, &release.base, 1, &bytes, &len, NULL, &err));
    CHECK(bytes == NULL);
    /* Each request message of the list can. */
    Drover__V1__Target target = DROVER__V1__TARGET__INIT;
    Drover__V1__TargetEvent event = DROVER__V1__TARGET_EVENT__INIT;
    Drover__V1__PackageVersion version = DROVER__V1__PACKAGE_VERSION__INIT;
    Drover__V1__PackageVersions versions = DROVER__V1__PACKAGE_VERSIONS__INIT;
    Drover__V1__Deployment deployment = DROVER__V1__DEPLOYMENT__INIT;
    Drover__V1__Association association = DROVER__V1__ASSOCIATION__INIT;
    const ProtobufCMessage *requests[] = {&target.base,   &event.base,      &version.base,
                                          &versions.base, &deployment.base, &association.base};
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        CHECK_INT(DR_OK, dr_request_encode_signed(key, requests[i], 1, &bytes, &len, NULL, &err));
        free(bytes);
    }
    dr_key_free(key);
}

int main(void)
{
    if (!mkdtemp(scratch))
        return 2;
    a_signed_request_verifies_and_says_who_made_it();
    unsigned_requests_are_refused_as_unsigned();
    only_request_messages_can_be_signed();
    dr_remove_tree(scratch, NULL);
    return check_done("request_signing");
}
