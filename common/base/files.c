#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_BUFFER_SIZE 4096
/* Directory descriptors nftw may hold open: one per level it has below it. */
#define WALK_OPEN_DIRECTORIES 16

dr_status dr_make_directories(const char *path, dr_error *err)
{
    char buf[PATH_BUFFER_SIZE];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return dr_error_set(err, DR_ERR_IO, "path too long: %s", path);
    /* Mostly only the last component is missing, or none: one call, not one per component. */
    if (mkdir(buf, 0755) == 0 || errno == EEXIST)
        return DR_OK;
    if (errno != ENOENT)
        return dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", buf, strerror(errno));
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", buf, strerror(errno));
    return DR_OK;
}

/* The first entry a removal could not remove; nftw's callback takes no context, hence the thread-local. */
typedef struct removal_failure {
    int error;
    char path[PATH_BUFFER_SIZE];
} removal_failure;

static _Thread_local removal_failure *current_failure;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    /* FTW_DEPTH visits a directory after its contents, so remove() finds it empty. */
    if (remove(path) != 0 && errno != ENOENT && current_failure->error == 0) {
        current_failure->error = errno;
        snprintf(current_failure->path, sizeof current_failure->path, "%s", path);
    }
    return 0; /* keep going: leave as little behind as possible */
}

dr_status dr_remove_tree(const char *path, dr_error *err)
{
    removal_failure failure = {0};
    current_failure = &failure;
    if (nftw(path, remove_entry, WALK_OPEN_DIRECTORIES, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT &&
        failure.error == 0) {
        failure.error = errno;
        snprintf(failure.path, sizeof failure.path, "%s", path);
    }
    current_failure = NULL;
    if (failure.error != 0)
        return dr_error_set(err, DR_ERR_IO, "cannot remove %s: %s", failure.path, strerror(failure.error));
    return DR_OK;
}

int dr_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

dr_status dr_copy_file(const char *src, const char *dest, dr_error *err)
{
    dr_status status = DR_OK;
    int in = -1, out = -1;
    char buf[65536];
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot read %s: %s", src, strerror(errno));
        goto cleanup;
    }
    out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", dest, strerror(errno));
        goto cleanup;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            status = dr_error_set(err, DR_ERR_IO, "reading %s: %s", src, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        if (dr_write_all(out, buf, (size_t)n) != 0) {
            status = dr_error_set(err, DR_ERR_IO, "writing %s: %s", dest, strerror(errno));
            goto cleanup;
        }
    }
    if (fsync(out) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "writing %s: %s", dest, strerror(errno));
        goto cleanup;
    }

cleanup:
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0 && status == DR_OK)
        status = dr_error_set(err, DR_ERR_IO, "writing %s: %s", dest, strerror(errno));
    return status;
}

dr_status dr_make_temp_directory(const char *prefix, char **path, dr_error *err)
{
    *path = NULL;
    char *name = NULL;
    if (asprintf(&name, "%sXXXXXX", prefix) < 0)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    if (!mkdtemp(name)) {
        dr_status status = dr_error_set(err, DR_ERR_IO, "cannot create %sXXXXXX: %s", prefix, strerror(errno));
        free(name);
        return status;
    }
    *path = name;
    return DR_OK;
}
