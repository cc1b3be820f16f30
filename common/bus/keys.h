/*
 * keys.h - Ed25519 keys (OpenSSL EVP): generated, stored as PEM, loaded,
 * named, and used to sign and verify bytes.
 *
 * A key's id is the first 16 hex digits of the SHA-256 of its raw 32-byte
 * public key.  It is derived, never configured: a key file cannot claim
 * another key's id, and the private and public halves name themselves alike.
 */
#ifndef DROVER_KEYS_H
#define DROVER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define DR_KEY_ID_SIZE 17 /* 16 hex digits and a NUL */
#define DR_SIGNATURE_SIZE 64

typedef struct dr_key dr_key; /* a private key (signs) or a public one (verifies) */

/*
 * A new key pair in dir (created if missing): ID.key, the private key
 * (PKCS#8 PEM, mode 0600), and ID.pub, the public key (SubjectPublicKeyInfo
 * PEM).  Refuses to overwrite.  key_id receives the id.
 */
dr_status dr_key_generate(const char *dir, char key_id[DR_KEY_ID_SIZE], dr_error *err);

/* A private key from a PEM file; DR_ERR_SIGNATURE when it is not an Ed25519 private key. */
dr_status dr_key_load_private(const char *path, dr_key **out, dr_error *err);
/* A public key from a PEM file (a private key file gives its public half). */
dr_status dr_key_load_public(const char *path, dr_key **out, dr_error *err);
void dr_key_free(dr_key *key); /* NULL is fine */

const char *dr_key_id(const dr_key *key);

/* Sign data with a private key. */
dr_status dr_key_sign(const dr_key *key, const uint8_t *data, size_t len, uint8_t signature[DR_SIGNATURE_SIZE],
                      dr_error *err);
/*
 * body followed by key's signature of it, as the protobuf bytes field
 * `field`: how signed jobs and signed requests are written
 * (job_signing.h, request_signing.h).  *out is malloc'd.
 */
dr_status dr_key_sign_append(const dr_key *key, const uint8_t *body, size_t body_len, uint32_t field, uint8_t **out,
                             size_t *out_len, dr_error *err);

/* 1 when signature is key's over data, else 0. */
int dr_key_verify(const dr_key *key, const uint8_t *data, size_t len, const uint8_t *signature, size_t signature_len);

#endif
