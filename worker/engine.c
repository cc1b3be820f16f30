#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "clock.h"
#include "cache.h"
#include "executor.h"
#include "log.h"
#include "manifest.h"
#include "manifest_fetch.h"
#include "package_layout.h"
#include "script.h"
#include "sha256.h"
#include "state.h"

#define SCRIPT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *const outcome_names[] = {"SUCCESS", "FAILED", "TIMED_OUT", "REJECTED"};

const char *dr_outcome_name(dr_outcome outcome)
{
    return outcome >= 0 && outcome <= DR_OUTCOME_REJECTED ? outcome_names[outcome] : "UNKNOWN";
}

void dr_engine_settings_default(dr_engine_settings *s)
{
    memset(s, 0, sizeof *s);
    s->cache_dir = "/var/cache/drover";
    dr_fetch_options_default(&s->fetch);
    dr_archive_limits_default(&s->archive_limits);
    s->script_timeout_seconds = 3600;
    s->lock_wait_seconds = 3600;
    s->worker_id = "drover-worker";
}

void dr_job_result_free(dr_job_result *result)
{
    free(result->stdout_tail);
    free(result->stderr_tail);
    result->stdout_tail = result->stderr_tail = NULL;
}

/* Everything one run of the engine works with. */
typedef struct job_run {
    const dr_engine_settings *settings;
    const dr_job_request *job;
    dr_job_result *result;
    dr_executor *x; /* how the target is reached */
    char package_dir[4096];
    long timeout_seconds;
    dr_manifest *manifest; /* loaded before the lock (decide_stateless_install), else NULL: the install's own */
    char manifest_hash[DR_SHA256_HEX_SIZE];
} job_run;

/* End the job as REJECTED (it would not run). */
static dr_status reject(job_run *run, dr_status status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static dr_status reject(job_run *run, dr_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->result->error.detail, sizeof run->result->error.detail, fmt, ap);
    va_end(ap);
    run->result->error.status = status;
    run->result->outcome = DR_OUTCOME_REJECTED;
    return status;
}

/* End the job as REJECTED with the error already in result->error. */
static dr_status reject_as_is(job_run *run)
{
    run->result->outcome = DR_OUTCOME_REJECTED;
    return run->result->error.status;
}

/* End the job as FAILED with the error already in result->error. */
static dr_status fail(job_run *run)
{
    run->result->outcome =
        run->result->error.status == DR_ERR_SCRIPT_TIMEOUT ? DR_OUTCOME_TIMED_OUT : DR_OUTCOME_FAILED;
    return run->result->error.status;
}

static int is_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 128 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* Arguments become environment variables: KEY must be a shell name and not one of ours. */
static dr_status check_arguments(job_run *run)
{
    for (size_t i = 0; i < run->job->arg_count; i++) {
        const char *arg = run->job->args[i];
        const char *eq = strchr(arg, '=');
        size_t key_len = eq ? (size_t)(eq - arg) : 0;
        int valid = key_len > 0 && key_len <= 128 && !(arg[0] >= '0' && arg[0] <= '9') &&
                    strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == key_len;
        if (!valid)
            return reject(run, DR_ERR_USAGE, "additional argument '%.64s' is not KEY=VALUE with KEY a shell name", arg);
        if (strncmp(arg, "DROVER_", 7) == 0 || (key_len == 4 && strncmp(arg, "PATH", 4) == 0) ||
            strncmp(arg, "LD_", 3) == 0)
            return reject(run, DR_ERR_USAGE, "additional argument %.*s is reserved", (int)key_len, arg);
    }
    return DR_OK;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The job's arguments sorted, and their digest: a change of arguments is a change of install. */
static dr_status sorted_arguments(job_run *run, char ***out, char digest[DR_SHA256_HEX_SIZE])
{
    size_t n = run->job->arg_count;
    char **sorted = calloc(n ? n : 1, sizeof *sorted);
    dr_sha256 *ctx = dr_sha256_new();
    if (!sorted || !ctx) {
        free(sorted);
        dr_sha256_free(ctx);
        return dr_error_set(&run->result->error, DR_ERR_NOMEM, "sorting arguments");
    }
    if (n > 0)
        memcpy(sorted, run->job->args, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_strings);
    for (size_t i = 0; i < n; i++)
        dr_sha256_update(ctx, sorted[i], strlen(sorted[i]) + 1);
    dr_sha256_final_hex(ctx, digest);
    dr_sha256_free(ctx);
    *out = sorted;
    return DR_OK;
}

/* Fetch (or read) the manifest, hash its bytes, check the expected hash, parse it. */
/* REJECTED when the job asks for a version the manifest is not of; DR_OK otherwise. */
static dr_status refuse_other_version(job_run *run, const dr_manifest *manifest)
{
    const char *asked = run->job->version, *version = dr_manifest_version(manifest);
    if (asked && asked[0] && strcmp(asked, version) != 0)
        return reject(run, DR_ERR_VERSION_MISMATCH, "the manifest is for version %s, the job asks for %s", version,
                      asked);
    return DR_OK;
}

static dr_status load_manifest(job_run *run, dr_manifest **out, char hash[DR_SHA256_HEX_SIZE])
{
    dr_error *err = &run->result->error;
    const dr_job_request *job = run->job;
    *out = NULL;
    if (!job->manifest_source)
        return reject(run, DR_ERR_USAGE, "install needs a manifest");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/manifests", run->settings->cache_dir);
    dr_status status =
        dr_manifest_fetch(job->manifest_source, &run->settings->fetch, dir, job->manifest_sha256, hash, out, err);
    char quoted[320];
    switch (status) {
    case DR_OK:
        return DR_OK;
    case DR_ERR_CHECKSUM:
        return fail(run);
    case DR_ERR_MANIFEST:
        dr_error_wrap(err, "manifest at %s", dr_quote(quoted, sizeof quoted, job->manifest_source));
        return reject_as_is(run);
    case DR_ERR_FETCH_REFUSED:
        dr_error_wrap(err, "manifest");
        return reject_as_is(run);
    default:
        dr_error_wrap(err, "manifest");
        return fail(run);
    }
}

/* The clean environment a script runs with. */
typedef struct script_env {
    char *vars[64 + 256];
    size_t count;
} script_env;

static void env_add(script_env *env, const char *key, const char *value)
{
    if (env->count + 1 >= sizeof env->vars / sizeof env->vars[0])
        return;
    char *var = NULL;
    if (asprintf(&var, "%s=%s", key, value ? value : "") >= 0)
        env->vars[env->count++] = var;
}

static void env_free(script_env *env)
{
    for (size_t i = 0; i < env->count; i++)
        free(env->vars[i]);
    env->count = 0;
}

/* How one lifecycle script is to be run. */
typedef struct step_spec {
    const char *script;    /* "install.sh" */
    const char *action;    /* DROVER_ACTION: install, uninstall, update, validate */
    const char *version;   /* version whose directory it runs in */
    const char *directory; /* versions/<directory> */
    char *const *args;
    size_t arg_count;
    const char *previous_version;
    int is_main; /* its output and exit code are the job's to report */
} step_spec;

/* Run one script.  DR_OK when it exited 0 or 194 (*reboot set); the error names the step. */
static dr_status run_step(job_run *run, const step_spec *step, dr_error *err, int *reboot)
{
    const dr_job_request *job = run->job;
    dr_job_result *result = run->result;
    char cwd[4300];
    snprintf(cwd, sizeof cwd, "%s/versions/%s", run->package_dir, step->directory);
    script_env env = {.count = 0};
    env_add(&env, "PATH", SCRIPT_PATH);
    env_add(&env, "DROVER_ACTION", step->action);
    env_add(&env, "DROVER_PACKAGE", job->package);
    env_add(&env, "DROVER_VERSION", step->version);
    env_add(&env, "DROVER_PLATFORM_NAME", job->platform->name);
    env_add(&env, "DROVER_PLATFORM_VERSION", job->platform->version);
    env_add(&env, "DROVER_ARCH", job->platform->arch);
    env_add(&env, "DROVER_TARGET_ID", job->target_id);
    env_add(&env, "DROVER_ACCOUNT", job->account);
    env_add(&env, "DROVER_REGION", job->region);
    env_add(&env, "DROVER_TARGET_ROOT", job->target_root);
    env_add(&env, "DROVER_PACKAGE_DIR", cwd);
    if (step->previous_version)
        env_add(&env, "DROVER_PREVIOUS_VERSION", step->previous_version);
    for (size_t i = 0; i < step->arg_count && env.count + 1 < sizeof env.vars / sizeof env.vars[0]; i++) {
        char *copy = strdup(step->args[i]);
        if (copy)
            env.vars[env.count++] = copy;
    }
    env.vars[env.count] = NULL;

    dr_script_request request = {
        .script = step->script,
        .cwd = cwd,
        .envp = env.vars,
        .timeout_seconds = run->timeout_seconds,
        .run_as = run->settings->script_user,
    };
    dr_script_result ran;
    dr_status status = run->x->ops->run_script(run->x, &request, &ran, err);
    env_free(&env);
    if (status != DR_OK) {
        dr_script_result_free(&ran);
        return dr_error_wrap(err, "%s %s", step->script, step->version);
    }
    char ending[128];
    dr_script_describe_end(&ran, run->timeout_seconds, ending, sizeof ending);
    if (result->step_count < DR_JOB_STEPS_MAX)
        snprintf(result->steps[result->step_count++], sizeof result->steps[0], "%s %s: %s", step->script, step->version,
                 ending);
    int succeeded = !ran.signaled && !ran.timed_out && (ran.exit_code == 0 || ran.exit_code == 194);
    if (step->is_main || (!succeeded && !result->failed_step[0])) {
        free(result->stdout_tail);
        free(result->stderr_tail);
        result->stdout_tail = ran.stdout_tail;
        result->stderr_tail = ran.stderr_tail;
        ran.stdout_tail = ran.stderr_tail = NULL;
        result->exit_code = ran.signaled ? 128 + ran.term_signal : ran.exit_code;
    }
    if (succeeded) {
        if (reboot && ran.exit_code == 194)
            *reboot = 1;
    } else {
        status = dr_error_set(err, ran.timed_out ? DR_ERR_SCRIPT_TIMEOUT : DR_ERR_SCRIPT_FAILED, "%s %s %s",
                              step->script, step->version, ending);
    }
    dr_script_result_free(&ran);
    return status;
}

static int file_exists(const char *dir, const char *name)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Remove every unpacked version but keep (NULL: remove all). Leftovers of a crash go too. */
static void prune_versions(job_run *run, const char *keep)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/versions", run->package_dir);
    run->x->ops->prune(run->x, dir, keep);
}

/* Download (or find in the cache), unpack into a staging directory and check the layout. */
static dr_status stage_version(job_run *run, const dr_manifest_selection *chosen, const char *staging)
{
    dr_error *err = &run->result->error;
    char *url = dr_fetch_url_join(run->job->artifacts_base, chosen->file->name);
    if (!url) {
        dr_error_set(err, DR_ERR_NOMEM, "artifact URL");
        return fail(run);
    }
    dr_cache_result cached = {0};
    dr_status status =
        dr_cache_get(run->settings->cache_dir, url, chosen->file->sha256, &run->settings->fetch, &cached, err);
    free(url);
    if (status == DR_ERR_FETCH_REFUSED)
        return reject_as_is(run);
    if (status == DR_OK) {
        run->result->downloaded = cached.downloaded;
        dr_remove_tree(staging, NULL);
        status = dr_archive_extract(cached.path, staging, &run->settings->archive_limits, err);
        if (status != DR_OK)
            dr_error_wrap(err, "%s", chosen->file->name); /* the cache path names only the hash */
    }
    if (status == DR_OK)
        status = dr_package_layout_check_dir(staging, chosen->file->name, err);
    free(cached.path);
    if (status != DR_OK) {
        dr_remove_tree(staging, NULL);
        return fail(run);
    }
    return DR_OK;
}

/* Put the previous version back after a failed install or update; say how it went. */
static void roll_back(job_run *run, dr_install_record *previous, const char *new_version, const char *new_directory)
{
    dr_error rollback_err = {0};
    step_spec undo = {.script = "uninstall.sh",
                      .action = "uninstall",
                      .version = new_version,
                      .directory = new_directory,
                      .args = run->job->args,
                      .arg_count = run->job->arg_count};
    /* Best effort: the failed version may be half installed. */
    run_step(run, &undo, &rollback_err, NULL);
    step_spec redo = {.script = "install.sh",
                      .action = "install",
                      .version = previous->version,
                      .directory = previous->directory,
                      .args = previous->args,
                      .arg_count = previous->arg_count};
    dr_error_clear(&rollback_err);
    int reboot = 0;
    char note[DR_ERROR_DETAIL_MAX];
    if (run_step(run, &redo, &rollback_err, &reboot) == DR_OK) {
        snprintf(note, sizeof note, "rolled back to %s", previous->version);
        if (strcmp(previous->directory, new_directory) != 0)
            prune_versions(run, previous->directory);
    } else {
        /* The record still names the previous version, but it is not known to be installed. */
        previous->needs_repair = 1;
        run->x->ops->write_record(run->x, run->package_dir, previous, NULL);
        snprintf(note, sizeof note, "rollback to %s also failed (%s); the next install will reinstall it",
                 previous->version, rollback_err.detail);
    }
    size_t used = strlen(run->result->error.detail);
    snprintf(run->result->error.detail + used, sizeof run->result->error.detail - used, "; %s", note);
    snprintf(run->result->summary, sizeof run->result->summary, "%s", note);
}

static dr_status engine_install(job_run *run)
{
    const dr_job_request *job = run->job;
    dr_job_result *result = run->result;
    dr_error *err = &result->error;
    dr_install_record previous = {0};
    dr_manifest *manifest = NULL;
    char **sorted_args = NULL;
    int installed = 0;
    char manifest_hash[DR_SHA256_HEX_SIZE], args_digest[DR_SHA256_HEX_SIZE];
    char directory[200], staging[4400], final_dir[4400];

    dr_status status = run->x->ops->read_record(run->x, run->package_dir, &previous, &installed, err);
    if (status != DR_OK) {
        fail(run);
        goto done;
    }
    result->installed_known = 1;
    if (installed) {
        snprintf(result->installed_version, sizeof result->installed_version, "%s", previous.version);
        snprintf(result->previous_version, sizeof result->previous_version, "%s", previous.version);
    }
    if (run->manifest) {
        manifest = run->manifest; /* loaded and checked before the lock: fetched once */
        run->manifest = NULL;
        memcpy(manifest_hash, run->manifest_hash, sizeof manifest_hash);
    } else if ((status = load_manifest(run, &manifest, manifest_hash)) != DR_OK)
        goto done;
    const char *version = dr_manifest_version(manifest);
    if ((status = refuse_other_version(run, manifest)) != DR_OK)
        goto done;
    status = sorted_arguments(run, &sorted_args, args_digest);
    if (status != DR_OK) {
        fail(run);
        goto done;
    }
    if (installed && !previous.needs_repair && strcmp(previous.version, version) == 0 &&
        strcmp(previous.manifest_sha256, manifest_hash) == 0 && strcmp(previous.args_digest, args_digest) == 0) {
        snprintf(result->summary, sizeof result->summary, "%s %s is already installed; nothing ran", job->package,
                 version);
        goto done;
    }
    dr_manifest_selection chosen;
    status = dr_manifest_select_file(manifest, job->platform, &chosen, err);
    if (status != DR_OK) {
        reject_as_is(run);
        goto done;
    }
    snprintf(directory, sizeof directory, "%s-%.12s", version, chosen.file->sha256);
    snprintf(final_dir, sizeof final_dir, "%s/versions/%s", run->package_dir, directory);
    run->x->ops->staging_dir(run->x, final_dir, staging, sizeof staging);
    char versions[4200];
    snprintf(versions, sizeof versions, "%s/versions", run->package_dir);
    status = run->x->ops->make_directories(run->x, versions, err);
    if (status != DR_OK) {
        fail(run);
        goto done;
    }
    status = stage_version(run, &chosen, staging);
    if (status != DR_OK)
        goto done;

    int in_place = installed && job->installation_type == DR_INSTALL_IN_PLACE;
    if (in_place && !file_exists(staging, "update.sh")) {
        dr_remove_tree(staging, NULL);
        status = dr_error_set(err, DR_ERR_PACKAGE_LAYOUT,
                              "%s has no update.sh, so %s %s cannot update %s in place; nothing ran", chosen.file->name,
                              job->package, version, previous.version);
        fail(run);
        goto done;
    }
    if (installed && !in_place) {
        step_spec remove_old = {.script = "uninstall.sh",
                                .action = "uninstall",
                                .version = previous.version,
                                .directory = previous.directory,
                                .args = previous.args,
                                .arg_count = previous.arg_count,
                                .is_main = 1};
        status = run_step(run, &remove_old, err, NULL);
        if (status != DR_OK) {
            snprintf(result->failed_step, sizeof result->failed_step, "uninstall.sh %s", previous.version);
            dr_remove_tree(staging, NULL);
            fail(run);
            goto done;
        }
    }
    /* Same version and zip (arguments or manifest changed): the fresh tree replaces the old one. */
    int has_validate = file_exists(staging, "validate.sh");
    status = run->x->ops->place_tree(run->x, staging, final_dir, err);
    if (status != DR_OK) {
        fail(run);
        goto done;
    }
    int reboot = 0;
    step_spec main_step = {.script = in_place ? "update.sh" : "install.sh",
                           .action = in_place ? "update" : "install",
                           .version = version,
                           .directory = directory,
                           .args = sorted_args,
                           .arg_count = job->arg_count,
                           .previous_version = installed ? previous.version : NULL,
                           .is_main = 1};
    status = run_step(run, &main_step, err, &reboot);
    const char *failed_script = main_step.script;
    if (status == DR_OK && !reboot && has_validate) {
        step_spec validate = {.script = "validate.sh",
                              .action = "validate",
                              .version = version,
                              .directory = directory,
                              .args = sorted_args,
                              .arg_count = job->arg_count};
        status = run_step(run, &validate, err, NULL);
        failed_script = "validate.sh";
    }
    if (status != DR_OK) {
        snprintf(result->failed_step, sizeof result->failed_step, "%s %s", failed_script, version);
        fail(run);
        if (installed)
            roll_back(run, &previous, version, directory);
        else
            run->x->ops->remove_tree(run->x, final_dir);
        goto done;
    }
    dr_install_record record = {
        .package = (char *)job->package,
        .version = (char *)version,
        .directory = directory,
        .manifest_sha256 = manifest_hash,
        .file_sha256 = chosen.file->sha256,
        .args_digest = args_digest,
        .args = sorted_args,
        .arg_count = job->arg_count,
        .job_id = (char *)job->job_id,
        .installed_at_ms = dr_now_ms(),
    };
    status = run->x->ops->write_record(run->x, run->package_dir, &record, err);
    if (status != DR_OK) {
        fail(run);
        goto done;
    }
    prune_versions(run, directory);
    snprintf(result->installed_version, sizeof result->installed_version, "%s", version);
    result->reboot_required = reboot;
    if (!installed)
        snprintf(result->summary, sizeof result->summary, "installed %s %s (%s)", job->package, version, chosen.rule);
    else if (in_place)
        snprintf(result->summary, sizeof result->summary, "updated %s from %s to %s (%s)", job->package,
                 previous.version, version, chosen.rule);
    else
        snprintf(result->summary, sizeof result->summary, "reinstalled %s %s over %s (%s)", job->package, version,
                 previous.version, chosen.rule);
done:
    free(sorted_args);
    dr_manifest_free(manifest);
    dr_install_record_free(&previous);
    return status;
}

/*
 * An install on a target with no Drover state at all: nothing is installed
 * there, so whatever the manifest alone decides (no file for the target's
 * platform, another version, a manifest that cannot be had) is decided
 * here, before the lock, and the target is left exactly as it was: no
 * state directory made for a job that will never run.  The commonest case
 * is a fleet-wide deployment of a package most targets' platforms do not
 * match.  *decided says whether the job ended here; when not, the locked
 * install runs as always, and reaches the same answer for the same inputs.
 */
static dr_status decide_stateless_install(job_run *run, int *decided)
{
    const dr_job_request *job = run->job;
    dr_manifest *manifest = NULL;
    *decided = 1;
    run->result->installed_known = 1; /* no state at all: nothing installed, before or after */
    dr_status status = load_manifest(run, &manifest, run->manifest_hash);
    if (status != DR_OK)
        return status;
    dr_manifest_selection chosen;
    status = refuse_other_version(run, manifest);
    if (status == DR_OK &&
        (status = dr_manifest_select_file(manifest, job->platform, &chosen, &run->result->error)) != DR_OK)
        reject_as_is(run);
    if (status != DR_OK) {
        dr_manifest_free(manifest);
        return status;
    }
    *decided = 0;
    run->manifest = manifest; /* the install goes on with it */
    return DR_OK;
}

static dr_status engine_uninstall(job_run *run)
{
    const dr_job_request *job = run->job;
    dr_job_result *result = run->result;
    dr_error *err = &result->error;
    dr_install_record record = {0};
    int installed = 0;
    dr_status status = run->x->ops->read_record(run->x, run->package_dir, &record, &installed, err);
    if (status != DR_OK) {
        fail(run);
        goto done;
    }
    result->installed_known = 1;
    if (!installed) {
        snprintf(result->summary, sizeof result->summary, "%s is not installed; nothing ran", job->package);
        goto done;
    }
    snprintf(result->installed_version, sizeof result->installed_version, "%s", record.version);
    snprintf(result->previous_version, sizeof result->previous_version, "%s", record.version);
    if (job->version && job->version[0] && dr_version_compare(job->version, record.version) != 0) {
        status =
            dr_error_set(err, DR_ERR_VERSION_MISMATCH, "asked to uninstall %s %s, but %s is installed; nothing ran",
                         job->package, job->version, record.version);
        fail(run);
        goto done;
    }
    step_spec remove = {.script = "uninstall.sh",
                        .action = "uninstall",
                        .version = record.version,
                        .directory = record.directory,
                        .args = job->args,
                        .arg_count = job->arg_count,
                        .is_main = 1};
    status = run_step(run, &remove, err, NULL);
    if (status != DR_OK) {
        snprintf(result->failed_step, sizeof result->failed_step, "uninstall.sh %s", record.version);
        fail(run);
        goto done;
    }
    status = run->x->ops->remove_record(run->x, run->package_dir, err);
    if (status != DR_OK) {
        fail(run);
        goto done;
    }
    prune_versions(run, NULL);
    result->installed_version[0] = '\0';
    snprintf(result->summary, sizeof result->summary, "uninstalled %s %s", job->package, record.version);
done:
    dr_install_record_free(&record);
    return status;
}

dr_status dr_engine_run(const dr_engine_settings *settings, const dr_job_request *job, dr_job_result *result)
{
    memset(result, 0, sizeof *result);
    result->exit_code = -1;
    dr_executor_local local;
    dr_executor_local_init(&local);
    job_run run = {
        .settings = settings, .job = job, .result = result, .x = job->executor ? job->executor : &local.base};
    run.timeout_seconds =
        job->script_timeout_seconds > 0 ? job->script_timeout_seconds : settings->script_timeout_seconds;
    if (!job->package || !is_valid_name(job->package))
        return reject(&run, DR_ERR_USAGE, "package name '%.64s' is not 1-128 of [A-Za-z0-9_.-]",
                      job->package ? job->package : "");
    if (job->version && job->version[0] && !is_valid_name(job->version))
        return reject(&run, DR_ERR_USAGE, "version '%.64s' is not 1-128 of [A-Za-z0-9_.-]", job->version);
    if (job->action != DR_ACTION_INSTALL && job->action != DR_ACTION_UNINSTALL)
        return reject(&run, DR_ERR_USAGE, "unknown action %d", (int)job->action);
    /* NULL is "no hash given" (apply without --manifest-sha256); an empty or partial one would check nothing. */
    if (job->manifest_sha256 && !dr_sha256_is_hex(job->manifest_sha256))
        return reject(&run, DR_ERR_USAGE, "the manifest sha256 '%.64s' is not 64 hex digits; nothing was fetched",
                      job->manifest_sha256);
    if (!job->target_root || !job->target_root[0])
        return reject(&run, DR_ERR_USAGE, "no target root");
    if (check_arguments(&run) != DR_OK)
        return result->error.status;
    char *dir = dr_state_package_dir(job->target_root, job->package);
    if (!dir || snprintf(run.package_dir, sizeof run.package_dir, "%s", dir) >= (int)sizeof run.package_dir) {
        free(dir);
        dr_error_set(&result->error, DR_ERR_IO, "package directory path too long");
        return fail(&run);
    }
    free(dir);
    char owner[512];
    snprintf(owner, sizeof owner, "pid=%ld worker=%s job=%s", (long)getpid(), settings->worker_id,
             job->job_id ? job->job_id : "-");
    /* One job at a time per target, whatever the package (DESIGN.md's invariant). */
    char state_dir[4200];
    snprintf(state_dir, sizeof state_dir, "%s/var/lib/drover", job->target_root);
    if (job->action == DR_ACTION_INSTALL && run.x->ops->has_no_state &&
        run.x->ops->has_no_state(run.x, job->target_root, state_dir)) {
        int decided;
        dr_status status = decide_stateless_install(&run, &decided);
        if (decided)
            return status;
    }
    if (job->reaching_target)
        job->reaching_target(job->reaching_target_ctx);
    /* The arguments were checked first: a bad job is rejected without reaching the target. */
    dr_status status = run.x->ops->lock(run.x, job->target_root, state_dir, owner, settings->lock_wait_seconds,
                                        result->taken_over_lock, sizeof result->taken_over_lock, &result->error);
    if (status != DR_OK) {
        dr_manifest_free(run.manifest);
        return status == DR_ERR_USAGE ? reject_as_is(&run) : fail(&run);
    }
    status = job->action == DR_ACTION_INSTALL ? engine_install(&run) : engine_uninstall(&run);
    run.x->ops->unlock(run.x);
    if (status == DR_OK)
        result->outcome = DR_OUTCOME_SUCCESS;
    return status;
}
