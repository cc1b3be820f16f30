/*
 * Signed jobs: the wire stripping a signature relies on, key generation and
 * ids, signing and verifying, and every way a job is refused.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "job_signing.h"
#include "messages.h"
#include "proto_wire.h"
#include "test_files.h"

static char scratch[] = "/tmp/drover-test-signing-XXXXXX";

static void stripping_a_field_keeps_every_other_byte_in_order(void)
{
    /* field 1 varint 150, field 18 bytes "ab", field 2 fixed64, field 18 again, field 3 fixed32 */
    const uint8_t in[] = {0x08, 0x96, 0x01, 0x92, 0x01, 0x02, 'a',  'b',  0x11, 1, 2, 3, 4,
                          5,    6,    7,    8,    0x92, 0x01, 0x00, 0x1d, 9,    9, 9, 9};
    const uint8_t want[] = {0x08, 0x96, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1d, 9, 9, 9, 9};
    uint8_t out[sizeof in];
    size_t out_len = 0;
    CHECK_INT(0, dr_wire_strip_field(in, sizeof in, 18, out, &out_len));
    CHECK_INT(sizeof want, out_len);
    CHECK(memcmp(out, want, sizeof want) == 0);
    /* A field that is absent: the bytes come back whole. */
    CHECK_INT(0, dr_wire_strip_field(in, sizeof in, 7, out, &out_len));
    CHECK_INT(sizeof in, out_len);
}

static void malformed_wire_data_is_refused(void)
{
    uint8_t out[32];
    size_t out_len;
    const uint8_t truncated_varint[] = {0x08, 0x96};
    const uint8_t length_past_end[] = {0x92, 0x01, 0x05, 'a'};
    const uint8_t group[] = {0x0b, 0x0c};
    const uint8_t field_zero[] = {0x00, 0x01};
    const uint8_t short_fixed[] = {0x11, 1, 2, 3};
    CHECK_INT(-1, dr_wire_strip_field(truncated_varint, sizeof truncated_varint, 18, out, &out_len));
    CHECK_INT(-1, dr_wire_strip_field(length_past_end, sizeof length_past_end, 18, out, &out_len));
    CHECK_INT(-1, dr_wire_strip_field(group, sizeof group, 18, out, &out_len));
    CHECK_INT(-1, dr_wire_strip_field(field_zero, sizeof field_zero, 18, out, &out_len));
    CHECK_INT(-1, dr_wire_strip_field(short_fixed, sizeof short_fixed, 18, out, &out_len));
    CHECK_INT(0, dr_wire_strip_field(out, 0, 18, out, &out_len));
    CHECK_INT(0, out_len);
}

static void a_sample_job(Drover__V1__Job *job, Drover__V1__Target *target)
{
    drover__v1__target__init(target);
    target->target_id = "web-1";
    drover__v1__job__init(job);
    job->schema_version = DR_SCHEMA_VERSION;
    job->job_id = "d-1/web-1";
    job->deployment_id = "d-1";
    job->target = target;
    job->package = "acme";
    job->version = "1.0";
    job->manifest_sha256 = "3f2a";
}

/* Generate a key pair in scratch/name; the id into id. */
static void generate(const char *name, char id[DR_KEY_ID_SIZE])
{
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_key_generate(path_in(scratch, name), id, &err));
    CHECK_INT(16, strlen(id));
}

static dr_key *load_private(const char *dir, const char *id)
{
    char name[64];
    dr_key *key = NULL;
    snprintf(name, sizeof name, "%s/%s.key", dir, id);
    CHECK_INT(DR_OK, dr_key_load_private(path_in(scratch, name), &key, NULL));
    return key;
}

static void a_signed_job_verifies_and_any_change_breaks_it(void)
{
    char a[DR_KEY_ID_SIZE], b[DR_KEY_ID_SIZE];
    generate("a", a);
    generate("b", b);
    CHECK(strcmp(a, b) != 0);
    dr_key *key_a = load_private("a", a);
    /* The public half names itself alike, and a private key file also yields it. */
    dr_key *pub = NULL;
    char name[64];
    snprintf(name, sizeof name, "a/%s.pub", a);
    CHECK_INT(DR_OK, dr_key_load_public(path_in(scratch, name), &pub, NULL));
    CHECK_STR(a, dr_key_id(pub));
    uint8_t sig[DR_SIGNATURE_SIZE];
    dr_error err = {0};
    CHECK_INT(DR_ERR_SIGNATURE, dr_key_sign(pub, (const uint8_t *)"x", 1, sig, &err));
    dr_key_free(pub);

    Drover__V1__Job job;
    Drover__V1__Target target;
    a_sample_job(&job, &target);
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_INT(DR_OK, dr_job_encode_signed(key_a, &job, &bytes, &len, &err));
    Drover__V1__Job *decoded = NULL;
    CHECK_INT(DR_OK, dr_job_decode(bytes, len, &decoded, &err));
    CHECK_STR(a, decoded->key_id);
    CHECK_INT(DR_SIGNATURE_SIZE, decoded->signature.len);
    CHECK(dr_job_claims_signature(decoded));

    dr_trust_store *store = NULL;
    CHECK_INT(DR_OK, dr_trust_store_load(path_in(scratch, "a"), &store, &err));
    CHECK_INT(1, dr_trust_store_count(store));
    CHECK_INT(DR_OK, dr_trust_verify_job(store, bytes, len, decoded, &err));

    /* Every single byte flipped outside the signature breaks it (or the decoding). */
    size_t broken = 0;
    for (size_t i = 0; i < len - DR_SIGNATURE_SIZE - 3; i++) {
        bytes[i] ^= 0x01;
        Drover__V1__Job *altered = NULL;
        if (dr_job_decode(bytes, len, &altered, NULL) != DR_OK ||
            dr_trust_verify_job(store, bytes, len, altered, NULL) == DR_ERR_SIGNATURE)
            broken++;
        if (altered)
            drover__v1__job__free_unpacked(altered, NULL);
        bytes[i] ^= 0x01;
    }
    CHECK_INT(len - DR_SIGNATURE_SIZE - 3, broken);

    /* A flipped signature byte: does not verify, and says so with the key id. */
    bytes[len - 1] ^= 0x80;
    drover__v1__job__free_unpacked(decoded, NULL);
    CHECK_INT(DR_OK, dr_job_decode(bytes, len, &decoded, &err));
    CHECK_INT(DR_ERR_SIGNATURE, dr_trust_verify_job(store, bytes, len, decoded, &err));
    CHECK_CONTAINS("does not verify", err.detail);
    CHECK_CONTAINS(a, err.detail);
    drover__v1__job__free_unpacked(decoded, NULL);
    free(bytes);

    /* Signed by b, which the store does not trust. */
    dr_key *key_b = load_private("b", b);
    CHECK_INT(DR_OK, dr_job_encode_signed(key_b, &job, &bytes, &len, &err));
    CHECK_INT(DR_OK, dr_job_decode(bytes, len, &decoded, &err));
    CHECK_INT(DR_ERR_SIGNATURE, dr_trust_verify_job(store, bytes, len, decoded, &err));
    CHECK_CONTAINS(b, err.detail);
    CHECK_CONTAINS("does not trust", err.detail);
    CHECK_CONTAINS(a, err.detail); /* the trusted ones are listed */
    drover__v1__job__free_unpacked(decoded, NULL);
    free(bytes);

    /* Unsigned. */
    bytes = dr_message_encode(&job.base, &len);
    CHECK_INT(DR_OK, dr_job_decode(bytes, len, &decoded, &err));
    CHECK(!dr_job_claims_signature(decoded));
    CHECK_INT(DR_ERR_SIGNATURE, dr_trust_verify_job(store, bytes, len, decoded, &err));
    CHECK_CONTAINS("unsigned (no key id, no signature)", err.detail);
    drover__v1__job__free_unpacked(decoded, NULL);
    free(bytes);

    /*
     * b's public key copied into the trusted directory: trusted by the next
     * job at once (the directory changed on disk), not only after the 5 s
     * interval, which cannot have passed since the load above.
     */
    char from[512], to[512];
    snprintf(from, sizeof from, "%s/b/%s.pub", scratch, b);
    snprintf(to, sizeof to, "%s/a/%s.pub", scratch, b);
    CHECK_INT(DR_OK, dr_copy_file(from, to, &err));
    CHECK_INT(DR_OK, dr_job_encode_signed(key_b, &job, &bytes, &len, &err));
    CHECK_INT(DR_OK, dr_job_decode(bytes, len, &decoded, &err));
    CHECK_INT(DR_OK, dr_trust_verify_job(store, bytes, len, decoded, &err));
    CHECK_INT(2, dr_trust_store_count(store));
    drover__v1__job__free_unpacked(decoded, NULL);
    free(bytes);
    CHECK_INT(0, unlink(to));

    /* Both keys trusted at once (rotation): a list of a directory and a file. */
    dr_trust_store_free(store);
    char spec[512];
    snprintf(spec, sizeof spec, "%s, %s/b/%s.pub", path_in(scratch, "a"), scratch, b);
    CHECK_INT(DR_OK, dr_trust_store_load(spec, &store, &err));
    CHECK_INT(2, dr_trust_store_count(store));
    CHECK_INT(DR_OK, dr_job_encode_signed(key_b, &job, &bytes, &len, &err));
    CHECK_INT(DR_OK, dr_job_decode(bytes, len, &decoded, &err));
    CHECK_INT(DR_OK, dr_trust_verify_job(store, bytes, len, decoded, &err));
    drover__v1__job__free_unpacked(decoded, NULL);
    free(bytes);

    dr_trust_store_free(store);
    dr_key_free(key_a);
    dr_key_free(key_b);
}

static void unknown_fields_of_a_newer_producer_are_covered(void)
{
    char c[DR_KEY_ID_SIZE];
    generate("c", c);
    dr_key *key = load_private("c", c);
    Drover__V1__Job job;
    Drover__V1__Target target;
    a_sample_job(&job, &target);
    /* A newer producer's field 40 (string "new"), signed along. */
    job.key_id = (char *)dr_key_id(key);
    size_t body_len;
    uint8_t *body = dr_message_encode(&job.base, &body_len);
    uint8_t *with_new =
        malloc(body_len + dr_wire_bytes_field_size(40, 3) + dr_wire_bytes_field_size(18, DR_SIGNATURE_SIZE));
    memcpy(with_new, body, body_len);
    size_t len = body_len + dr_wire_put_bytes_field(with_new + body_len, 40, (const uint8_t *)"new", 3);
    uint8_t sig[DR_SIGNATURE_SIZE];
    CHECK_INT(DR_OK, dr_key_sign(key, with_new, len, sig, NULL));
    len += dr_wire_put_bytes_field(with_new + len, 18, sig, sizeof sig);
    dr_trust_store *store = NULL;
    CHECK_INT(DR_OK, dr_trust_store_load(path_in(scratch, "c"), &store, NULL));
    Drover__V1__Job *decoded = NULL;
    CHECK_INT(DR_OK, dr_job_decode(with_new, len, &decoded, NULL));
    CHECK_INT(DR_OK, dr_trust_verify_job(store, with_new, len, decoded, NULL));
    /* ... and changing it breaks the signature. */
    with_new[body_len + 2] = 'N';
    CHECK_INT(DR_ERR_SIGNATURE, dr_trust_verify_job(store, with_new, len, decoded, NULL));
    drover__v1__job__free_unpacked(decoded, NULL);
    dr_trust_store_free(store);
    free(with_new);
    free(body);
    dr_key_free(key);
}

static void bad_key_files_are_refused_with_the_reason(void)
{
    dr_error err = {0};
    dr_key *key = NULL;
    write_file(path_in(scratch, "junk.pub"), "not a key\n", 10);
    CHECK_INT(DR_ERR_SIGNATURE, dr_key_load_public(path_in(scratch, "junk.pub"), &key, &err));
    CHECK_CONTAINS("is not a PEM public key", err.detail);
    CHECK_INT(DR_ERR_IO, dr_key_load_private(path_in(scratch, "missing.key"), &key, &err));
    CHECK(key == NULL);
    dr_trust_store *store = NULL;
    CHECK_INT(DR_ERR_IO, dr_trust_store_load(path_in(scratch, "nowhere"), &store, &err));
    CHECK_CONTAINS("nowhere", err.detail);
    CHECK_INT(DR_OK, dr_trust_store_load("", &store, &err));
    CHECK_INT(0, dr_trust_store_count(store));
    char ids[64];
    dr_trust_store_describe(store, ids, sizeof ids);
    CHECK_STR("none", ids);
    dr_trust_store_free(store);
    /* A generated pair is never overwritten. */
    char id[DR_KEY_ID_SIZE];
    generate("d", id);
    char name[64];
    snprintf(name, sizeof name, "d/%s.key", id);
    CHECK_INT(0, access(path_in(scratch, name), R_OK));
}

int main(void)
{
    if (!mkdtemp(scratch))
        return 2;
    stripping_a_field_keeps_every_other_byte_in_order();
    malformed_wire_data_is_refused();
    a_signed_job_verifies_and_any_change_breaks_it();
    unknown_fields_of_a_newer_producer_are_covered();
    bad_key_files_are_refused_with_the_reason();
    dr_remove_tree(scratch, NULL);
    return check_done("job_signing");
}
