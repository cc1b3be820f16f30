/* The error table and SHA-256 against known vectors. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "error.h"
#include "log.h"
#include "sha256.h"

static void every_status_has_a_name_and_a_sentence(void)
{
    for (int s = 0; s < DR_STATUS_COUNT; s++) {
        CHECK(strcmp(dr_status_name((dr_status)s), "unknown") != 0);
        CHECK(strcmp(dr_status_message((dr_status)s), "unknown error") != 0);
    }
    dr_error err = {0};
    CHECK_INT(DR_ERR_CHECKSUM, dr_error_set(&err, DR_ERR_CHECKSUM, "want %s", "abc"));
    dr_error_wrap(&err, "fetching %s", "a.zip");
    CHECK_STR("fetching a.zip: want abc", err.detail);
    CHECK_STR("checksum", dr_status_name(err.status));
}

static void sha256_matches_known_vectors(void)
{
    char hex[DR_SHA256_HEX_SIZE];
    dr_sha256_buffer_hex("", 0, hex);
    CHECK_STR("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hex);
    dr_sha256 *ctx = dr_sha256_new();
    dr_sha256_update(ctx, "ab", 2);
    dr_sha256_update(ctx, "c", 1);
    dr_sha256_final_hex(ctx, hex);
    dr_sha256_free(ctx);
    CHECK_STR("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex);

    char path[] = "/tmp/drover-sha-XXXXXX";
    int fd = mkstemp(path);
    CHECK_INT(3, write(fd, "abc", 3));
    close(fd);
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_sha256_file_hex(path, hex, &err));
    CHECK_STR("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex);
    unlink(path);
    CHECK_INT(DR_ERR_IO, dr_sha256_file_hex(path, hex, &err));
    CHECK_CONTAINS(path, err.detail);
    CHECK(dr_sha256_is_hex(hex));
    CHECK(!dr_sha256_is_hex("abc"));
}

static void log_values_are_quoted_when_needed(void)
{
    char buf[64];
    CHECK_STR("plain", dr_log_quote(buf, sizeof buf, "plain"));
    CHECK_STR("\"two words\"", dr_log_quote(buf, sizeof buf, "two words"));
    CHECK_STR("\"a\\\"b\\nc\"", dr_log_quote(buf, sizeof buf, "a\"b\nc"));
    CHECK_STR("\"\"", dr_log_quote(buf, sizeof buf, ""));
    /* Inside a sentence a value is always quoted, plain or not. */
    CHECK_STR("\"plain\"", dr_quote(buf, sizeof buf, "plain"));
    CHECK_STR("\"file:///x\\nts=forged\"", dr_quote(buf, sizeof buf, "file:///x\nts=forged"));
}

int main(void)
{
    every_status_has_a_name_and_a_sentence();
    sha256_matches_known_vectors();
    log_values_are_quoted_when_needed();
    return check_done("error_sha256");
}
