#include "cache.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "sha256.h"
#include "state.h"

dr_status dr_cache_get(const char *cache_dir, const char *url, const char *sha256, const dr_fetch_options *fetch,
                       dr_cache_result *out, dr_error *err)
{
    out->path = NULL;
    out->downloaded = 0;
    if (!dr_sha256_is_hex(sha256))
        return dr_error_set(err, DR_ERR_MANIFEST, "'%s' is not a sha256", sha256);
    /* A URL the worker may not fetch is refused even when its zip is cached: the job ends as it would anywhere. */
    dr_status status = dr_fetch_check_url(url, fetch, err);
    if (status != DR_OK)
        return status;
    char hex[DR_SHA256_HEX_SIZE];
    for (int i = 0; i < 64; i++)
        hex[i] = (char)tolower((unsigned char)sha256[i]);
    hex[64] = '\0';

    char dir[4096], lock_path[4200], zip_path[4200];
    snprintf(dir, sizeof dir, "%s/sha256", cache_dir);
    snprintf(lock_path, sizeof lock_path, "%s/%s.lock", dir, hex);
    snprintf(zip_path, sizeof zip_path, "%s/%s.zip", dir, hex);
    status = dr_make_directories(dir, err);
    if (status != DR_OK)
        return status;
    int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0)
        return dr_error_set(err, DR_ERR_IO, "cannot open %s: %s", lock_path, strerror(errno));
    while (flock(lock_fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            status = dr_error_set(err, DR_ERR_IO, "cannot lock %s: %s", lock_path, strerror(errno));
            goto done;
        }
    }
    if (access(zip_path, F_OK) == 0) {
        char actual[DR_SHA256_HEX_SIZE];
        status = dr_sha256_file_hex(zip_path, actual, err);
        if (status != DR_OK)
            goto done;
        if (strcmp(actual, hex) == 0)
            goto found;
        /* Changed on disk since it was verified: fetch it again. */
        unlink(zip_path);
    }
    status = dr_fetch_to_file(url, zip_path, hex, fetch, NULL, err);
    if (status != DR_OK)
        goto done;
    out->downloaded = 1;
found:
    out->path = strdup(zip_path);
    if (!out->path)
        status = dr_error_set(err, DR_ERR_NOMEM, "cache path");
done:
    flock(lock_fd, LOCK_UN);
    close(lock_fd);
    return status;
}
