/*
 * engine.h - make one package version installed (or uninstalled) on one
 * target.  Both `drover-worker apply` and the Kafka worker call this.
 *
 * Lifecycle (Distributor's rules, plus Drover's fixes):
 *   install, nothing installed          install.sh (then validate.sh if present)
 *   install, same version, same manifest hash and same arguments
 *                                       nothing runs: SUCCESS "already installed"
 *   install, anything else installed    uninstall-and-reinstall: old uninstall.sh,
 *                                       new install.sh; in-place: new update.sh
 *                                       (missing update.sh fails before anything runs)
 *   uninstall, nothing installed        nothing runs: SUCCESS
 *   uninstall, another version asked    FAILED (version-mismatch); nothing runs
 *   uninstall                           installed uninstall.sh, then the record goes
 * A failed install/update over a previous version rolls back (new
 * uninstall.sh, best effort, then the previous version's install.sh) and
 * still reports FAILED, saying how the rollback went.  A failed uninstall
 * leaves the record as it was.  Exit code 194 from install/update means
 * "succeeded, reboot required".
 *
 * Nothing is extracted before the zip's SHA-256 matches the manifest, and
 * nothing runs before the extracted tree passes the package layout rules.
 * One job per target at a time (the target lock).
 */
#ifndef DROVER_ENGINE_H
#define DROVER_ENGINE_H

#include <stddef.h>

#include "archive.h"
#include "error.h"
#include "fetch.h"
#include "platform.h"
#include "script.h"

typedef enum dr_action { DR_ACTION_INSTALL = 1, DR_ACTION_UNINSTALL = 2 } dr_action;
typedef enum dr_installation_type { DR_INSTALL_REINSTALL = 1, DR_INSTALL_IN_PLACE = 2 } dr_installation_type;

/* How a job ended; the Kafka worker maps these onto JobState. */
typedef enum dr_outcome {
    DR_OUTCOME_SUCCESS = 0,
    DR_OUTCOME_FAILED,
    DR_OUTCOME_TIMED_OUT,
    DR_OUTCOME_REJECTED, /* would not run: bad input or no file for this platform */
} dr_outcome;

const char *dr_outcome_name(dr_outcome outcome); /* "SUCCESS", "FAILED", ... */

/* Worker-wide settings; the engine does not own the strings. */
typedef struct dr_engine_settings {
    const char *cache_dir;
    dr_fetch_options fetch;
    dr_archive_limits archive_limits;
    long script_timeout_seconds; /* default for jobs that do not set one */
    long lock_wait_seconds;
    const char *worker_id;                 /* names the lock owner */
    const dr_script_identity *script_user; /* NULL: scripts run as the worker; not owned */
} dr_engine_settings;

/* Defaults: cache /var/cache/drover, 3600 s scripts, 3600 s lock wait. */
void dr_engine_settings_default(dr_engine_settings *settings);

/* One job; the engine does not own the strings. */
typedef struct dr_job_request {
    const char *job_id; /* for logs and the record; may be NULL */
    const char *deployment_id;
    const char *package;
    const char *version; /* NULL: the manifest's version */
    dr_action action;
    dr_installation_type installation_type;
    const char *manifest_source; /* URL or path; may be NULL for uninstall */
    const char *manifest_sha256; /* expected hash of the manifest bytes (64 hex digits, else REJECTED), or NULL */
    const char *artifacts_base;  /* URL or directory the zips are under */
    const dr_platform *platform;
    const char *target_id;
    const char *account;
    const char *region;
    const char *target_root;
    char *const *args; /* KEY=VALUE, become script environment */
    size_t arg_count;
    long script_timeout_seconds;  /* 0: the settings' default */
    struct dr_executor *executor; /* how target_root is reached; NULL: it is a local directory */
    /*
     * Called once, just before the job reaches its target (takes its
     * lock), so a caller can say the job is in progress.  A job decided
     * before that (checks, or an install the manifest refuses for a
     * target with no state) never calls it.  May be NULL.
     */
    void (*reaching_target)(void *ctx);
    void *reaching_target_ctx;
} dr_job_request;

#define DR_JOB_STEPS_MAX 8

typedef struct dr_job_result {
    dr_outcome outcome;
    dr_error error; /* why, when not SUCCESS */
    int reboot_required;
    char summary[512];                 /* what happened, one sentence */
    char failed_step[128];             /* e.g. "install.sh 2.0"; "" when none */
    int exit_code;                     /* of the failed (or last) script; -1 when none ran */
    char steps[DR_JOB_STEPS_MAX][128]; /* scripts run, in order, with how each ended */
    size_t step_count;
    char *stdout_tail; /* of the failed (or last) script; NULL when none ran */
    char *stderr_tail;
    char installed_version[130]; /* what the record says afterwards; "" for none */
    int installed_known;         /* the record was read: installed_version and previous_version are the target's */
    char previous_version[130];  /* what the record said before the job; "" for none */
    char taken_over_lock[256];   /* owner of a lock left by a process that died; "" */
    int downloaded;              /* the zip was fetched (not already cached) */
} dr_job_result;

/*
 * Run the job.  Always fills result (free with dr_job_result_free); returns
 * DR_OK when the job reached SUCCESS, and the error's status otherwise.
 */
dr_status dr_engine_run(const dr_engine_settings *settings, const dr_job_request *job, dr_job_result *result);
void dr_job_result_free(dr_job_result *result);

#endif
