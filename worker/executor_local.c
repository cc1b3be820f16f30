/* The local executor: the target is a directory of this machine (executor.h). */
#include "executor.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define LOCAL(x) ((dr_executor_local *)(x))

static dr_status local_lock(dr_executor *x, const char *root, const char *state_dir, const char *owner,
                            long wait_seconds, char *taken_over, size_t size, dr_error *err)
{
    struct stat st;
    if (!root || stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
        return dr_error_set(err, DR_ERR_USAGE, "target root '%s' is not a directory", root ? root : "");
    dr_status status = dr_target_lock_acquire(state_dir, owner, wait_seconds, &LOCAL(x)->lock, taken_over, size, err);
    LOCAL(x)->locked = status == DR_OK;
    return status;
}

static void local_unlock(dr_executor *x)
{
    if (LOCAL(x)->locked)
        dr_target_lock_release(&LOCAL(x)->lock);
    LOCAL(x)->locked = 0;
}

static int local_has_no_state(dr_executor *x, const char *root, const char *state_dir)
{
    (void)x;
    struct stat st;
    if (!root || stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0; /* the lock refuses it, with its own reason */
    return lstat(state_dir, &st) != 0 && errno == ENOENT;
}

static dr_status local_read_record(dr_executor *x, const char *package_dir, dr_install_record *out, int *found,
                                   dr_error *err)
{
    (void)x;
    return dr_install_record_read(package_dir, out, found, err);
}

static dr_status local_write_record(dr_executor *x, const char *package_dir, const dr_install_record *record,
                                    dr_error *err)
{
    (void)x;
    return dr_install_record_write(package_dir, record, err);
}

static dr_status local_remove_record(dr_executor *x, const char *package_dir, dr_error *err)
{
    (void)x;
    return dr_install_record_remove(package_dir, err);
}

static dr_status local_make_directories(dr_executor *x, const char *path, dr_error *err)
{
    (void)x;
    return dr_make_directories(path, err);
}

static void local_remove_tree(dr_executor *x, const char *path)
{
    (void)x;
    dr_remove_tree(path, NULL);
}

static void local_prune(dr_executor *x, const char *versions_dir, const char *keep)
{
    (void)x;
    DIR *d = opendir(versions_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || (keep && strcmp(e->d_name, keep) == 0))
            continue;
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", versions_dir, e->d_name);
        dr_remove_tree(path, NULL);
    }
    closedir(d);
}

/* Beside final_dir, so placing it is a rename within one directory. */
static void local_staging_dir(dr_executor *x, const char *final_dir, char *buf, size_t size)
{
    (void)x;
    const char *slash = strrchr(final_dir, '/');
    size_t parent = slash ? (size_t)(slash - final_dir) : 0;
    snprintf(buf, size, "%.*s/.staging-%s", (int)parent, final_dir, slash ? slash + 1 : final_dir);
}

static dr_status local_place_tree(dr_executor *x, const char *staging, const char *final_dir, dr_error *err)
{
    (void)x;
    dr_remove_tree(final_dir, NULL);
    if (rename(staging, final_dir) != 0) {
        dr_status status = dr_error_set(err, DR_ERR_IO, "cannot move %s into place: %s", staging, strerror(errno));
        dr_remove_tree(staging, NULL);
        return status;
    }
    return DR_OK;
}

static dr_status local_run_script(dr_executor *x, const dr_script_request *req, dr_script_result *out, dr_error *err)
{
    (void)x;
    return dr_script_run(req, out, err);
}

static void local_free(dr_executor *x)
{
    local_unlock(x);
}

static const dr_executor_ops local_ops = {
    .name = "local",
    .lock = local_lock,
    .has_no_state = local_has_no_state,
    .unlock = local_unlock,
    .read_record = local_read_record,
    .write_record = local_write_record,
    .remove_record = local_remove_record,
    .make_directories = local_make_directories,
    .remove_tree = local_remove_tree,
    .prune = local_prune,
    .staging_dir = local_staging_dir,
    .place_tree = local_place_tree,
    .run_script = local_run_script,
    .free = local_free,
};

void dr_executor_local_init(dr_executor_local *x)
{
    memset(x, 0, sizeof *x);
    x->base.ops = &local_ops;
    x->lock.fd = -1;
}

void dr_executor_free(dr_executor *x)
{
    if (x && x->ops->free)
        x->ops->free(x);
}
