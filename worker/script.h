/*
 * script.h - run one lifecycle script in its own process group, with a
 * clean environment, a timeout and the tail of its output kept.
 *
 * The script runs as "/bin/sh SCRIPT" with cwd as working directory, stdin
 * from /dev/null, and exactly the environment given (nothing inherited),
 * as this process's user or, with run_as, as that user (all of root's
 * groups dropped; a script that cannot be switched to it does not run).
 * At the timeout the whole process group gets SIGTERM, then SIGKILL after a
 * short grace, so a hung script's children die with it.  When the script
 * exits normally, children it left running in the background are left alone
 * (an install may start a service) and are not waited for.  If the worker
 * itself dies, the script is killed (PR_SET_PDEATHSIG): the job will be
 * redelivered, and a half-run script must not race its rerun.
 */
#ifndef DROVER_SCRIPT_H
#define DROVER_SCRIPT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/*
 * The unprivileged user scripts run as: its uid, primary gid and
 * supplementary groups, looked up once in the parent (a child forked from
 * a threaded process must not call the name service).
 */
#define DR_SCRIPT_MAX_GROUPS 64
typedef struct dr_script_identity {
    char name[64];
    uid_t uid;
    gid_t gid;
    gid_t groups[DR_SCRIPT_MAX_GROUPS];
    int group_count;
} dr_script_identity;

/*
 * Look up user, a name or a numeric uid.  DR_ERR_USAGE when there is no
 * such user, or when this process could not switch to it (only root can).
 */
dr_status dr_script_identity_lookup(const char *user, dr_script_identity *out, dr_error *err);

typedef struct dr_script_request {
    const char *script; /* path relative to cwd, e.g. "install.sh" */
    const char *cwd;
    char *const *envp;                /* NULL-terminated KEY=VALUE list */
    long timeout_seconds;             /* > 0 */
    long kill_grace_ms;               /* between SIGTERM and SIGKILL; 0: 2000 */
    size_t tail_bytes;                /* how much of each stream to keep; 0: 24 KiB */
    const dr_script_identity *run_as; /* NULL: as this process; else its groups, gid, then uid */
    /*
     * Another program instead of "/bin/sh SCRIPT" (the ssh executor runs
     * ssh): argv[0] is an absolute path, script then only names the step in
     * messages.  NULL: the script.
     */
    char *const *argv;
    const char *stdin_path; /* read as standard input; NULL: /dev/null */
} dr_script_request;

typedef struct dr_script_result {
    int exit_code; /* valid when !signaled */
    int signaled;  /* ended by a signal (term_signal) */
    int term_signal;
    int timed_out;     /* killed at the timeout */
    char *stdout_tail; /* NUL-terminated, malloc'd; last tail_bytes */
    char *stderr_tail;
    uint64_t stdout_bytes; /* total bytes seen on each stream */
    uint64_t stderr_bytes;
    long long elapsed_ms;
} dr_script_result;

/*
 * Run the script and wait for it (or kill it at its timeout).  DR_OK means
 * it ran: look at the result for how it ended.  An error means it could not
 * be started (fork, pipe) and nothing ran.  Free the result with
 * dr_script_result_free.
 */
dr_status dr_script_run(const dr_script_request *req, dr_script_result *out, dr_error *err);
void dr_script_result_free(dr_script_result *result);

/* "exit 3", "killed by signal 9", "timed out after 5 s": for messages. */
void dr_script_describe_end(const dr_script_result *result, long timeout_seconds, char *buf, size_t size);

#endif
