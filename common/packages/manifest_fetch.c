/*
 * manifest_fetch.c - fetch, hash, check and parse a manifest.  See manifest_fetch.h.
 */
#include "manifest_fetch.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "files.h"
#include "strbuf.h"

/* The cached copy of the manifest hashing to want (lower-case hex) in work_dir: parsed into *out when it is there and intact. */
static int read_cached(const char *cache_path, const char *want, char sha256[DR_SHA256_HEX_SIZE], dr_manifest **out)
{
    dr_strbuf text = DR_STRBUF_INIT;
    dr_error ignored = {0};
    int found = 0;
    if (access(cache_path, F_OK) == 0 &&
        dr_strbuf_read_file(&text, cache_path, DR_MANIFEST_MAX_BYTES, DR_ERR_IO, &ignored) == DR_OK) {
        dr_sha256_buffer_hex(text.buf ? text.buf : "", text.len, sha256);
        /* Changed on disk, or not a manifest after all: fetched again (and the copy replaced). */
        found = strcmp(sha256, want) == 0 && dr_manifest_parse(dr_strbuf_str(&text), text.len, out, &ignored) == DR_OK;
    }
    if (!found)
        sha256[0] = '\0';
    dr_strbuf_free(&text);
    return found;
}

dr_status dr_manifest_fetch(const char *url, const dr_fetch_options *opt, const char *work_dir, const char *want_sha256,
                            char sha256[DR_SHA256_HEX_SIZE], dr_manifest **out, dr_error *err)
{
    dr_strbuf text = DR_STRBUF_INIT;
    char path[4200] = "";
    *out = NULL;
    sha256[0] = '\0';
    dr_fetch_options limited = *opt;
    limited.max_bytes = DR_MANIFEST_MAX_BYTES;
    char cache_path[4200] = "";
    dr_status status = dr_make_directories(work_dir, err);
    if (status != DR_OK)
        goto cleanup;
    if (want_sha256 && dr_sha256_is_hex(want_sha256)) {
        /* A URL that may not be fetched is refused even when its manifest is cached: the job ends as it would anywhere. */
        if ((status = dr_fetch_check_url(url, opt, err)) != DR_OK)
            goto cleanup;
        char hex[DR_SHA256_HEX_SIZE];
        for (int i = 0; i < 64; i++)
            hex[i] = (char)tolower((unsigned char)want_sha256[i]);
        hex[64] = '\0';
        snprintf(cache_path, sizeof cache_path, "%s/%s.json", work_dir, hex);
        if (read_cached(cache_path, hex, sha256, out))
            goto cleanup;
    }
    /* A unique name even when workers in several containers (all pid 1) share the directory. */
    snprintf(path, sizeof path, "%s/manifest-XXXXXX", work_dir);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        path[0] = '\0';
        goto cleanup;
    }
    close(fd);
    if ((status = dr_fetch_to_file(url, path, NULL, &limited, NULL, err)) != DR_OK)
        goto cleanup;
    if ((status = dr_strbuf_read_file(&text, path, DR_MANIFEST_MAX_BYTES, DR_ERR_IO, err)) != DR_OK)
        goto cleanup;
    /* The hash of exactly these bytes is what jobs carry; a worker refuses any other. */
    dr_sha256_buffer_hex(text.buf ? text.buf : "", text.len, sha256);
    /* "" is no hash at all: it matches nothing, rather than letting anything through. */
    if (want_sha256 && strcasecmp(want_sha256, sha256) != 0) {
        status =
            dr_error_set(err, DR_ERR_CHECKSUM, "manifest sha256 mismatch for %s: the bytes served do not hash to %s",
                         url, want_sha256[0] ? want_sha256 : "(an empty hash)");
        goto cleanup;
    }
    status = dr_manifest_parse(dr_strbuf_str(&text), text.len, out, err);
    /* Kept under its hash for the next job: renamed whole, so a reader sees all of it or nothing. */
    if (status == DR_OK && cache_path[0] && rename(path, cache_path) == 0)
        path[0] = '\0';
cleanup:
    if (path[0]) {
        unlink(path);
        /* What an interrupted download left (fetch.h: dest.part). */
        char part[4300];
        snprintf(part, sizeof part, "%s.part", path);
        unlink(part);
    }
    dr_strbuf_free(&text);
    return status;
}
