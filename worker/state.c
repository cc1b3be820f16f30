#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "strbuf.h"

#define RECORD_NAME "installstate"
#define LOCK_NAME "lock"

char *dr_state_package_dir(const char *target_root, const char *package)
{
    char *path = NULL;
    if (asprintf(&path, "%s/var/lib/drover/packages/%s", target_root, package) < 0)
        return NULL;
    return path;
}

void dr_install_record_free(dr_install_record *r)
{
    free(r->package);
    free(r->version);
    free(r->directory);
    free(r->manifest_sha256);
    free(r->file_sha256);
    free(r->args_digest);
    for (size_t i = 0; i < r->arg_count; i++)
        free(r->args[i]);
    free(r->args);
    free(r->job_id);
    memset(r, 0, sizeof *r);
}

static char *dup_field(json_t *obj, const char *key)
{
    const char *text = json_string_value(json_object_get(obj, key));
    return strdup(text ? text : "");
}

dr_status dr_install_record_decode(const char *text, size_t len, const char *where, dr_install_record *out,
                                   dr_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return dr_error_set(err, DR_ERR_STATE, "%s is not a valid install record: %s", where,
                            root ? "not an object" : jerr.text);
    }
    out->package = dup_field(root, "package");
    out->version = dup_field(root, "version");
    out->directory = dup_field(root, "directory");
    out->manifest_sha256 = dup_field(root, "manifest_sha256");
    out->file_sha256 = dup_field(root, "file_sha256");
    out->args_digest = dup_field(root, "args_digest");
    out->job_id = dup_field(root, "job_id");
    out->installed_at_ms = json_integer_value(json_object_get(root, "installed_at_ms"));
    out->needs_repair = json_is_true(json_object_get(root, "needs_repair"));
    json_t *args = json_object_get(root, "args");
    size_t count = json_is_array(args) ? json_array_size(args) : 0;
    out->args = calloc(count ? count : 1, sizeof *out->args);
    dr_status status = DR_OK;
    for (size_t i = 0; out->args && i < count; i++) {
        const char *value = json_string_value(json_array_get(args, i));
        out->args[i] = strdup(value ? value : "");
        out->arg_count++;
    }
    if (!out->package || !out->version || !out->directory || !out->manifest_sha256 || !out->file_sha256 ||
        !out->args_digest || !out->job_id || !out->args)
        status = dr_error_set(err, DR_ERR_NOMEM, "reading %s", where);
    else if (!out->version[0] || !out->directory[0] || strchr(out->directory, '/'))
        status = dr_error_set(err, DR_ERR_STATE, "%s has no valid version or directory", where);
    json_decref(root);
    if (status != DR_OK)
        dr_install_record_free(out);
    return status;
}

char *dr_install_record_encode(const dr_install_record *r)
{
    json_t *args = json_array();
    for (size_t i = 0; args && i < r->arg_count; i++)
        json_array_append_new(args, json_string(r->args[i]));
    json_t *root =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:I, s:b}", "package", r->package, "version", r->version,
                  "directory", r->directory, "manifest_sha256", r->manifest_sha256, "file_sha256", r->file_sha256,
                  "args_digest", r->args_digest, "args", args, "job_id", r->job_id ? r->job_id : "", "installed_at_ms",
                  (json_int_t)r->installed_at_ms, "needs_repair", r->needs_repair);
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    char *line = NULL;
    if (text && asprintf(&line, "%s\n", text) < 0)
        line = NULL;
    free(text);
    return line;
}

dr_status dr_install_record_read(const char *package_dir, dr_install_record *out, int *found, dr_error *err)
{
    memset(out, 0, sizeof *out);
    *found = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", package_dir, RECORD_NAME);
    dr_strbuf text = DR_STRBUF_INIT;
    dr_error read_err = {0};
    dr_status status = dr_strbuf_read_file(&text, path, DR_INSTALL_RECORD_MAX, DR_ERR_STATE, &read_err);
    if (status != DR_OK) {
        /* No record is not an error: nothing is installed. */
        if (errno == ENOENT)
            status = DR_OK;
        else if (err)
            *err = read_err;
    } else if ((status = dr_install_record_decode(dr_strbuf_str(&text), text.len, path, out, err)) == DR_OK) {
        *found = 1;
    }
    dr_strbuf_free(&text);
    return status;
}

/* fsync a directory so a rename in it survives a crash. */
static void sync_directory(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

dr_status dr_install_record_write(const char *package_dir, const dr_install_record *r, dr_error *err)
{
    dr_status status = DR_OK;
    char *text = NULL;
    int fd = -1;
    char final_path[4096], temp_path[4096];
    snprintf(final_path, sizeof final_path, "%s/%s", package_dir, RECORD_NAME);
    snprintf(temp_path, sizeof temp_path, "%s/.%s.XXXXXX", package_dir, RECORD_NAME);

    text = dr_install_record_encode(r);
    if (!text) {
        status = dr_error_set(err, DR_ERR_NOMEM, "encoding the install record");
        goto done;
    }
    fd = mkostemp(temp_path, O_CLOEXEC);
    if (fd < 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", temp_path, strerror(errno));
        goto done;
    }
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot write %s: %s", temp_path, strerror(errno));
        goto done;
    }
    fchmod(fd, 0644);
    if (rename(temp_path, final_path) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot replace %s: %s", final_path, strerror(errno));
        goto done;
    }
    temp_path[0] = '\0';
    sync_directory(package_dir);
done:
    if (fd >= 0)
        close(fd);
    if (status != DR_OK && temp_path[0])
        unlink(temp_path);
    free(text);
    return status;
}

dr_status dr_install_record_remove(const char *package_dir, dr_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", package_dir, RECORD_NAME);
    if (unlink(path) != 0 && errno != ENOENT)
        return dr_error_set(err, DR_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    sync_directory(package_dir);
    return DR_OK;
}

static void read_owner(int fd, char *buf, size_t size)
{
    if (size == 0)
        return;
    ssize_t n = pread(fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

dr_status dr_target_lock_acquire(const char *dir, const char *owner, long wait_seconds, dr_target_lock *lock,
                                 char *taken_over, size_t size, dr_error *err)
{
    lock->fd = -1;
    if (taken_over && size)
        taken_over[0] = '\0';
    dr_status status = dr_make_directories(dir, err);
    if (status != DR_OK)
        return status;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME);
    /* O_CLOEXEC: a script left running in the background must not hold the lock. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return dr_error_set(err, DR_ERR_IO, "cannot open lock %s: %s", path, strerror(errno));
    int64_t start = dr_monotonic_ms();
    useconds_t pause_us = 2000;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK || dr_monotonic_ms() - start >= (int64_t)wait_seconds * 1000) {
            char holder[256];
            read_owner(fd, holder, sizeof holder);
            status = errno != EWOULDBLOCK ? dr_error_set(err, DR_ERR_IO, "cannot lock %s: %s", path, strerror(errno))
                                          : dr_error_set(err, DR_ERR_LOCKED, "%s is held by %s after waiting %ld s",
                                                         path, holder[0] ? holder : "another process", wait_seconds);
            close(fd);
            return status;
        }
        usleep(pause_us);
        if (pause_us < 100000)
            pause_us *= 2;
    }
    if (taken_over)
        read_owner(fd, taken_over, size);
    char line[512];
    int len = snprintf(line, sizeof line, "%s\n", owner);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        close(fd);
        return dr_error_set(err, DR_ERR_IO, "cannot write lock owner to %s: %s", path, strerror(errno));
    }
    lock->fd = fd;
    return DR_OK;
}

void dr_target_lock_release(dr_target_lock *lock)
{
    if (lock->fd < 0)
        return;
    /* Clear the owner first: a non-empty file means its owner died holding it. */
    if (ftruncate(lock->fd, 0) != 0) {
        /* The next taker will report a take-over; harmless. */
    }
    flock(lock->fd, LOCK_UN);
    close(lock->fd);
    lock->fd = -1;
}
