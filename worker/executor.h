/*
 * executor.h - how the engine reaches a target.
 *
 * Every change the engine makes to a target goes through an executor: the
 * target lock, the install record, the unpacked package trees and the
 * scripts.  So the lifecycle and state rules (engine.c) are one piece of
 * code whether the target is a directory of this machine (the local
 * executor, below) or another machine reached with OpenSSH (executor_ssh.h).
 *
 * The package is always downloaded, verified, unpacked and checked on the
 * worker, into a staging directory the executor names; place_tree then
 * moves that checked tree into the target.  Paths given to the other
 * operations are paths on the target.
 */
#ifndef DROVER_EXECUTOR_H
#define DROVER_EXECUTOR_H

#include <stddef.h>

#include "error.h"
#include "script.h"
#include "state.h"

typedef struct dr_executor dr_executor;

typedef struct dr_executor_ops {
    const char *name; /* "local", "ssh": for messages */
    /*
     * Check that root is a directory on the target (DR_ERR_USAGE when not,
     * and nothing is created), then take the target lock in state_dir
     * (state.h's rules), held until unlock.  One step, so a remote target
     * is asked once.
     */
    dr_status (*lock)(dr_executor *x, const char *root, const char *state_dir, const char *owner, long wait_seconds,
                      char *taken_over, size_t taken_over_size, dr_error *err);
    void (*unlock)(dr_executor *x);
    /*
     * Whether the target certainly has no Drover state (root is a
     * directory, state_dir is absent): 1 only when that is known without
     * taking the lock, 0 otherwise.  NULL for an executor that cannot tell
     * cheaply (a remote target).
     */
    int (*has_no_state)(dr_executor *x, const char *root, const char *state_dir);
    dr_status (*read_record)(dr_executor *x, const char *package_dir, dr_install_record *out, int *found,
                             dr_error *err);
    dr_status (*write_record)(dr_executor *x, const char *package_dir, const dr_install_record *record, dr_error *err);
    dr_status (*remove_record)(dr_executor *x, const char *package_dir, dr_error *err);
    dr_status (*make_directories)(dr_executor *x, const char *path, dr_error *err);
    /* Best effort, like dr_remove_tree. */
    void (*remove_tree)(dr_executor *x, const char *path);
    /* Remove every entry of versions_dir but keep (NULL: all). */
    void (*prune)(dr_executor *x, const char *versions_dir, const char *keep);
    /*
     * A local directory (not yet existing) to unpack the version for
     * final_dir into: on the same file system as final_dir for the local
     * executor, so placing it is one rename.
     */
    void (*staging_dir)(dr_executor *x, const char *final_dir, char *buf, size_t size);
    /* Put the checked tree at staging in place as final_dir, replacing it; staging is gone afterwards. */
    dr_status (*place_tree)(dr_executor *x, const char *staging, const char *final_dir, dr_error *err);
    /*
     * Run a lifecycle script on the target (script.h's contract: DR_OK when
     * it ran, however it ended).  DR_ERR_UNREACHABLE when the target could
     * not be reached, so nothing is known to have run.
     */
    dr_status (*run_script)(dr_executor *x, const dr_script_request *req, dr_script_result *out, dr_error *err);
    void (*free)(dr_executor *x);
} dr_executor_ops;

struct dr_executor {
    const dr_executor_ops *ops;
};

/* The local executor: the target is a directory here. */
typedef struct dr_executor_local {
    dr_executor base;
    dr_target_lock lock;
    int locked;
} dr_executor_local;

void dr_executor_local_init(dr_executor_local *x);

void dr_executor_free(dr_executor *x);

#endif
