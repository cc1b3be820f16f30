#include "sha256.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dr_sha256 {
    EVP_MD_CTX *md;
};

dr_sha256 *dr_sha256_new(void)
{
    dr_sha256 *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->md = EVP_MD_CTX_new();
    if (!ctx->md || EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1) {
        dr_sha256_free(ctx);
        return NULL;
    }
    return ctx;
}

void dr_sha256_update(dr_sha256 *ctx, const void *data, size_t len)
{
    EVP_DigestUpdate(ctx->md, data, len);
}

void dr_sha256_final_hex(dr_sha256 *ctx, char out[DR_SHA256_HEX_SIZE])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx->md, digest, &len);
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < len && i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = '\0';
}

void dr_sha256_free(dr_sha256 *ctx)
{
    if (!ctx)
        return;
    EVP_MD_CTX_free(ctx->md);
    free(ctx);
}

void dr_sha256_buffer_hex(const void *data, size_t len, char out[DR_SHA256_HEX_SIZE])
{
    unsigned char digest[32];
    unsigned int digest_len = 0;
    EVP_Digest(data, len, digest, &digest_len, EVP_sha256(), NULL);
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = '\0';
}

dr_status dr_sha256_file_hex(const char *path, char out[DR_SHA256_HEX_SIZE], dr_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dr_error_set(err, DR_ERR_IO, "cannot open %s for hashing: %s", path, strerror(errno));
    dr_sha256 *ctx = dr_sha256_new();
    if (!ctx) {
        close(fd);
        return dr_error_set(err, DR_ERR_NOMEM, "hashing %s", path);
    }
    dr_status status = DR_OK;
    unsigned char block[1 << 16];
    for (;;) {
        ssize_t n = read(fd, block, sizeof block);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            status = dr_error_set(err, DR_ERR_IO, "cannot read %s for hashing: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        dr_sha256_update(ctx, block, (size_t)n);
    }
    if (status == DR_OK)
        dr_sha256_final_hex(ctx, out);
    dr_sha256_free(ctx);
    close(fd);
    return status;
}

int dr_sha256_is_hex(const char *text)
{
    size_t n = 0;
    for (; text[n]; n++)
        if (!isxdigit((unsigned char)text[n]))
            return 0;
    return n == 64;
}
