/*
 * sha256.h - streaming SHA-256 (OpenSSL EVP) with lowercase hex output.
 */
#ifndef DROVER_SHA256_H
#define DROVER_SHA256_H

#include <stddef.h>

#include "error.h"

#define DR_SHA256_HEX_SIZE 65 /* 64 hex digits and a NUL */

typedef struct dr_sha256 dr_sha256;

/* A fresh hashing context, or NULL when out of memory. Free with dr_sha256_free. */
dr_sha256 *dr_sha256_new(void);
void dr_sha256_update(dr_sha256 *ctx, const void *data, size_t len);
/* Write the digest as hex into out; the context is spent afterwards. */
void dr_sha256_final_hex(dr_sha256 *ctx, char out[DR_SHA256_HEX_SIZE]);
void dr_sha256_free(dr_sha256 *ctx);

/* Hash a buffer in one call. */
void dr_sha256_buffer_hex(const void *data, size_t len, char out[DR_SHA256_HEX_SIZE]);

/* Hash a whole file, reading it in blocks. DR_ERR_IO names the path. */
dr_status dr_sha256_file_hex(const char *path, char out[DR_SHA256_HEX_SIZE], dr_error *err);

/* True when text is exactly 64 hex digits (either case). */
int dr_sha256_is_hex(const char *text);

#endif
