/*
 * state.h - what is installed on a target, and who may change it.
 *
 * Per target, TARGET_ROOT/var/lib/drover/lock is the target lock: one job
 * at a time on a target, whatever its package.  Per package, under
 * TARGET_ROOT/var/lib/drover/packages/NAME/:
 *   installstate       the install record (JSON), replaced atomically
 *                      (temp file, fsync, rename, fsync of the directory),
 *                      so a kill at any instant leaves the old or the new
 *                      record, never half of one;
 *   versions/DIR/      unpacked package versions (DIR named by the record).
 *
 * The lock is an flock(2) on the lock file, so the kernel releases it when
 * its owner dies however it dies: a lock is never stuck.  The owner writes
 * a line naming itself (pid, host, job) into the file and clears it on
 * release, so a non-empty file found on acquiring names an owner that died
 * mid-action (reported as a take-over), and a waiter can say whom it waits for.
 */
#ifndef DROVER_STATE_H
#define DROVER_STATE_H

#include <stddef.h>

#include "error.h"
#include "files.h" /* dr_make_directories, dr_remove_tree: the engine's callers use them with state */

typedef struct dr_install_record {
    char *package;
    char *version;
    char *directory; /* under versions/, e.g. "1.2.0-3f2a9c0d1e2b" */
    char *manifest_sha256;
    char *file_sha256;
    char *args_digest; /* sha256 of the sorted KEY=VALUE arguments */
    char **args;       /* the arguments themselves, sorted */
    size_t arg_count;
    char *job_id; /* the job that installed it; may be empty */
    long long installed_at_ms;
    int needs_repair; /* a failed rollback left it in doubt: reinstall next time */
} dr_install_record;

/* TARGET_ROOT/var/lib/drover/packages/NAME, malloc'd; NULL when out of memory. */
char *dr_state_package_dir(const char *target_root, const char *package);

/*
 * Read the record of package_dir.  *found is 0 (and out zeroed) when there
 * is none.  A record that exists but cannot be parsed is DR_ERR_STATE.
 */
dr_status dr_install_record_read(const char *package_dir, dr_install_record *out, int *found, dr_error *err);
/* Records are small; a larger file is not one of ours. */
#define DR_INSTALL_RECORD_MAX (1024 * 1024)

/*
 * The record as text (JSON and a newline, malloc'd; NULL when out of
 * memory), and back: decode fails with DR_ERR_STATE naming where.  The
 * ssh executor moves records as this text; read and write below use them.
 */
char *dr_install_record_encode(const dr_install_record *record);
dr_status dr_install_record_decode(const char *text, size_t len, const char *where, dr_install_record *out,
                                   dr_error *err);

/* Replace the record atomically. */
dr_status dr_install_record_write(const char *package_dir, const dr_install_record *record, dr_error *err);
/* Remove the record (nothing installed). Missing is fine. */
dr_status dr_install_record_remove(const char *package_dir, dr_error *err);
void dr_install_record_free(dr_install_record *record);

typedef struct dr_target_lock {
    int fd;
} dr_target_lock;

/*
 * Take the lock file "lock" in dir (creating dir as needed), waiting up to
 * wait_seconds (DR_ERR_LOCKED names the holder when it is still held).
 * owner describes the taker ("pid=12 host=w1 job=d1/t1").  When the lock
 * file still named an owner that is gone, its description is copied into
 * taken_over (size bytes) and otherwise taken_over is set to "".
 */
dr_status dr_target_lock_acquire(const char *dir, const char *owner, long wait_seconds, dr_target_lock *lock,
                                 char *taken_over, size_t size, dr_error *err);
void dr_target_lock_release(dr_target_lock *lock);

#endif
