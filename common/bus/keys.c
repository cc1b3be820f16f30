#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "proto_wire.h"
#include "sha256.h"

struct dr_key {
    EVP_PKEY *pkey;
    int is_private;
    char id[DR_KEY_ID_SIZE];
};

/* The newest OpenSSL error as text, for a detail; "" when there is none. */
static const char *openssl_reason(void)
{
    static _Thread_local char text[256];
    unsigned long code = ERR_get_error();
    text[0] = '\0';
    if (code)
        ERR_error_string_n(code, text, sizeof text);
    ERR_clear_error();
    return text;
}

static int compute_id(EVP_PKEY *pkey, char id[DR_KEY_ID_SIZE])
{
    uint8_t raw[32];
    size_t raw_len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len) != 1 || raw_len != sizeof raw)
        return -1;
    char hex[DR_SHA256_HEX_SIZE];
    dr_sha256_buffer_hex(raw, raw_len, hex);
    memcpy(id, hex, DR_KEY_ID_SIZE - 1);
    id[DR_KEY_ID_SIZE - 1] = '\0';
    return 0;
}

static dr_status wrap(EVP_PKEY *pkey, int is_private, const char *path, dr_key **out, dr_error *err)
{
    dr_key *key = NULL;
    int type = EVP_PKEY_get_id(pkey);
    if (type != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        return dr_error_set(err, DR_ERR_SIGNATURE, "%s holds a %s key, not Ed25519", path, OBJ_nid2sn(type));
    }
    if (!(key = calloc(1, sizeof *key))) {
        EVP_PKEY_free(pkey);
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory for a key");
    }
    key->pkey = pkey;
    key->is_private = is_private;
    if (compute_id(pkey, key->id) != 0) {
        dr_key_free(key);
        return dr_error_set(err, DR_ERR_SIGNATURE, "%s: cannot read the public key: %s", path, openssl_reason());
    }
    *out = key;
    return DR_OK;
}

static dr_status load(const char *path, int want_private, dr_key **out, dr_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return dr_error_set(err, DR_ERR_IO, "cannot open key %s: %s", path, strerror(errno));
    EVP_PKEY *pkey = NULL;
    int is_private = 0;
    if (want_private) {
        pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        is_private = 1;
    } else {
        pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
        if (!pkey) {
            /* A private key file also names its public key. */
            ERR_clear_error();
            rewind(f);
            pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        }
    }
    fclose(f);
    if (!pkey)
        return dr_error_set(err, DR_ERR_SIGNATURE, "%s is not a PEM %s key: %s", path,
                            want_private ? "private" : "public", openssl_reason());
    return wrap(pkey, is_private, path, out, err);
}

dr_status dr_key_load_private(const char *path, dr_key **out, dr_error *err)
{
    return load(path, 1, out, err);
}

dr_status dr_key_load_public(const char *path, dr_key **out, dr_error *err)
{
    return load(path, 0, out, err);
}

void dr_key_free(dr_key *key)
{
    if (!key)
        return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

const char *dr_key_id(const dr_key *key)
{
    return key->id;
}

/* Write one PEM file, created exclusively with mode. */
static dr_status write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, int private_half, dr_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        return dr_error_set(err, DR_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    int ok = private_half ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, pkey);
    if (fclose(f) != 0 || ok != 1) {
        unlink(path);
        return dr_error_set(err, DR_ERR_IO, "cannot write %s: %s", path, ok != 1 ? openssl_reason() : strerror(errno));
    }
    return DR_OK;
}

dr_status dr_key_generate(const char *dir, char key_id[DR_KEY_ID_SIZE], dr_error *err)
{
    EVP_PKEY *pkey = NULL;
    dr_status status = dr_make_directories(dir, err);
    char private_path[4096], public_path[4096];
    if (status != DR_OK)
        return status;
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!pkey || compute_id(pkey, key_id) != 0) {
        status = dr_error_set(err, DR_ERR_SIGNATURE, "cannot generate an Ed25519 key: %s", openssl_reason());
        goto cleanup;
    }
    snprintf(private_path, sizeof private_path, "%s/%s.key", dir, key_id);
    snprintf(public_path, sizeof public_path, "%s/%s.pub", dir, key_id);
    if ((status = write_pem(private_path, 0600, pkey, 1, err)) != DR_OK)
        goto cleanup;
    if ((status = write_pem(public_path, 0644, pkey, 0, err)) != DR_OK)
        unlink(private_path);
cleanup:
    EVP_PKEY_free(pkey);
    return status;
}

dr_status dr_key_sign(const dr_key *key, const uint8_t *data, size_t len, uint8_t signature[DR_SIGNATURE_SIZE],
                      dr_error *err)
{
    if (!key->is_private)
        return dr_error_set(err, DR_ERR_SIGNATURE, "key %s is a public key; signing needs the private one", key->id);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t signature_len = DR_SIGNATURE_SIZE;
    dr_status status = DR_OK;
    if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, key->pkey) != 1 ||
        EVP_DigestSign(md, signature, &signature_len, data, len) != 1 || signature_len != DR_SIGNATURE_SIZE)
        status = dr_error_set(err, DR_ERR_SIGNATURE, "signing with key %s failed: %s", key->id, openssl_reason());
    EVP_MD_CTX_free(md);
    return status;
}

int dr_key_verify(const dr_key *key, const uint8_t *data, size_t len, const uint8_t *signature, size_t signature_len)
{
    if (signature_len != DR_SIGNATURE_SIZE)
        return 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, key->pkey) == 1 &&
             EVP_DigestVerify(md, signature, signature_len, data, len) == 1;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}

dr_status dr_key_sign_append(const dr_key *key, const uint8_t *body, size_t body_len, uint32_t field, uint8_t **out,
                             size_t *out_len, dr_error *err)
{
    uint8_t signature[DR_SIGNATURE_SIZE];
    *out = NULL;
    dr_status status = dr_key_sign(key, body, body_len, signature, err);
    if (status != DR_OK)
        return status;
    size_t total = body_len + dr_wire_bytes_field_size(field, sizeof signature);
    uint8_t *signed_bytes = malloc(total);
    if (!signed_bytes)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory for signed bytes");
    memcpy(signed_bytes, body, body_len);
    dr_wire_put_bytes_field(signed_bytes + body_len, field, signature, sizeof signature);
    *out = signed_bytes;
    *out_len = total;
    return DR_OK;
}
