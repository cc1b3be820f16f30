/*
 * drover-worker apply: run one job on one target directory with no Kafka,
 * print what happened, exit 0 only on success.
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "engine_config.h"
#include "config.h"
#include "engine.h"
#include "log.h"
#include "platform.h"

static const dr_setting apply_settings[] = {
    DR_COMMON_SETTINGS,
    {"package", DR_SETTING_STRING, NULL, "package name (required)"},
    {"target-root", DR_SETTING_LIST, NULL,
     "the target's root directory (required); repeat it to run the same job on several targets"},
    {"concurrency", DR_SETTING_INT, "0", "targets worked on at once when several are given (0: the number of cores)"},
    {"manifest", DR_SETTING_STRING, NULL, "manifest URL or file (required to install)"},
    {"manifest-sha256", DR_SETTING_STRING, NULL, "refuse a manifest whose bytes hash differently"},
    {"artifacts", DR_SETTING_STRING, NULL,
     "URL or directory the package zips are under (default: the manifest's folder)"},
    {"action", DR_SETTING_STRING, "install", "install or uninstall"},
    {"version", DR_SETTING_STRING, NULL,
     "version to install or uninstall (default: the manifest's; for uninstall: whatever is installed)"},
    {"installation-type", DR_SETTING_STRING, "reinstall", "reinstall (uninstall then install) or in-place (update.sh)"},
    {"arg", DR_SETTING_LIST, NULL, "additional argument KEY=VALUE, passed to scripts as an environment variable"},
    {"platform", DR_SETTING_STRING, NULL, "platform name, e.g. ubuntu (default: detected from os-release)"},
    {"platform-version", DR_SETTING_STRING, NULL, "platform version, e.g. 22.04 (default: detected)"},
    {"arch", DR_SETTING_STRING, NULL, "architecture, e.g. x86_64 (default: detected)"},
    {"id-like", DR_SETTING_STRING, NULL, "platform family, as os-release ID_LIKE (e.g. \"rhel fedora\")"},
    {"os-release", DR_SETTING_STRING, NULL, "os-release file to detect the platform from (default: the host's)"},
    {"target-id", DR_SETTING_STRING, NULL,
     "target id for scripts and logs (default: the target root's name; one target only)"},
    {"account", DR_SETTING_STRING, "", "account of the target, passed to scripts"},
    {"region", DR_SETTING_STRING, "", "region of the target, passed to scripts"},
    {"job-id", DR_SETTING_STRING, NULL, "job id recorded with the install"},
    {"ssh-address", DR_SETTING_STRING, NULL,
     "run on this machine over ssh ([user@]host[:port]; needs ssh-key and ssh-known-hosts): every target-root is a path there"},
    DR_ENGINE_SETTINGS,
};

static const char apply_usage[] =
    "usage: drover-worker apply --package NAME --target-root DIR --manifest URL_OR_FILE [--artifacts URL]\n"
    "                           [--action install|uninstall] [--version V] [--installation-type reinstall|in-place]\n"
    "                           [--arg KEY=VALUE ...] [--platform P --platform-version V --arch A]\n"
    "Runs one job with no Kafka and prints what it did. With several --target-root, runs it on each\n"
    "(--concurrency at once) and prints one block per target and a total line.\n"
    "Exit: 0 success (on every target), 1 failed, 2 usage, 3 rejected (would not run), 4 a script timed out.";

/* The manifest's folder, for when --artifacts is not given. */
static char *default_artifacts(const char *manifest)
{
    char *copy = strdup(manifest);
    if (!copy)
        return NULL;
    char *slash = strrchr(copy, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(copy, ".");
    return copy;
}

static int parse_installation_type(const char *text, dr_installation_type *out)
{
    if (strcasecmp(text, "reinstall") == 0 || strcasecmp(text, "uninstall-reinstall") == 0 ||
        strcasecmp(text, "Uninstall and reinstall") == 0)
        *out = DR_INSTALL_REINSTALL;
    else if (strcasecmp(text, "in-place") == 0 || strcasecmp(text, "In-place update") == 0)
        *out = DR_INSTALL_IN_PLACE;
    else
        return -1;
    return 0;
}

static void print_block(const char *title, const char *text)
{
    if (!text || !text[0])
        return;
    size_t n = strlen(text);
    printf("--- %s ---\n%s%s", title, text, text[n - 1] == '\n' ? "" : "\n");
}

static void print_result(const dr_job_request *job, const dr_job_result *r)
{
    printf("outcome: %s\n", dr_outcome_name(r->outcome));
    printf("target: %s\n", job->target_id);
    printf("action: %s %s%s%s\n", job->action == DR_ACTION_INSTALL ? "install" : "uninstall", job->package,
           job->version ? " " : "", job->version ? job->version : "");
    if (r->summary[0])
        printf("summary: %s\n", r->summary);
    if (r->outcome != DR_OUTCOME_SUCCESS) {
        printf("reason: %s\n", dr_status_name(r->error.status));
        printf("message: %s\n", r->error.detail);
    }
    if (r->failed_step[0])
        printf("failed-step: %s\n", r->failed_step);
    for (size_t i = 0; i < r->step_count; i++)
        printf("ran: %s\n", r->steps[i]);
    if (r->exit_code >= 0)
        printf("exit-code: %d\n", r->exit_code);
    printf("installed-version: %s\n", r->installed_version[0] ? r->installed_version : "(none)");
    printf("previous-version: %s\n", !r->installed_known      ? "(not read)"
                                     : r->previous_version[0] ? r->previous_version
                                                              : "(none)");
    printf("reboot-required: %s\n", r->reboot_required ? "yes" : "no");
    if (r->taken_over_lock[0])
        printf("lock-taken-over-from: %s\n", r->taken_over_lock);
    if (r->outcome != DR_OUTCOME_SUCCESS) {
        print_block("stdout (tail)", r->stdout_tail);
        print_block("stderr (tail)", r->stderr_tail);
    }
}

/* Several targets, one job: a pool of threads takes the next target until none is left. */
typedef struct batch {
    const dr_engine_settings *settings;
    const dr_ssh_settings *ssh; /* NULL: the targets are local */
    const dr_ssh_address *ssh_address;
    const dr_job_request *job; /* the template; target_root and target_id vary */
    char *const *roots;
    size_t count;
    size_t next; /* under lock */
    dr_job_result *results;
    dr_job_request *jobs;
    pthread_mutex_t lock;
} batch;

static const char *root_name(const char *root)
{
    const char *slash = strrchr(root, '/');
    return slash && slash[1] ? slash + 1 : root;
}

static void *batch_thread(void *arg)
{
    batch *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        size_t i = b->next < b->count ? b->next++ : b->count;
        pthread_mutex_unlock(&b->lock);
        if (i == b->count)
            return NULL;
        b->jobs[i] = *b->job;
        b->jobs[i].target_root = b->roots[i];
        if (!b->jobs[i].target_id)
            b->jobs[i].target_id = root_name(b->roots[i]);
        dr_executor *executor = NULL;
        if (b->ssh && dr_executor_ssh_new(b->ssh, b->ssh_address, &executor, &b->results[i].error) != DR_OK) {
            b->results[i].outcome = DR_OUTCOME_FAILED;
            continue;
        }
        b->jobs[i].executor = executor;
        dr_engine_run(b->settings, &b->jobs[i], &b->results[i]);
        dr_executor_free(executor);
    }
}

/* Run the job on every root; returns the exit code of the worst outcome. */
static int run_batch(const dr_engine_settings *settings, const dr_ssh_settings *ssh, const dr_ssh_address *ssh_address,
                     const dr_job_request *job, char *const *roots, size_t count, long concurrency)
{
    static const int exit_codes[] = {[DR_OUTCOME_SUCCESS] = DR_EXIT_OK,
                                     [DR_OUTCOME_FAILED] = DR_EXIT_FAILED,
                                     [DR_OUTCOME_TIMED_OUT] = DR_EXIT_TIMED_OUT,
                                     [DR_OUTCOME_REJECTED] = DR_EXIT_REJECTED};
    batch b = {
        .settings = settings, .ssh = ssh, .ssh_address = ssh_address, .job = job, .roots = roots, .count = count};
    b.results = calloc(count, sizeof *b.results);
    b.jobs = calloc(count, sizeof *b.jobs);
    pthread_t *threads = calloc((size_t)concurrency, sizeof *threads);
    if (!b.results || !b.jobs || !threads) {
        free(b.results);
        free(b.jobs);
        free(threads);
        fprintf(stderr, "drover-worker apply: out of memory\n");
        return DR_EXIT_FAILED;
    }
    pthread_mutex_init(&b.lock, NULL);
    long started = 0;
    for (; started < concurrency && started < (long)count; started++)
        if (pthread_create(&threads[started], NULL, batch_thread, &b) != 0)
            break;
    if (started == 0)
        batch_thread(&b);
    for (long i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&b.lock);

    int exit_code = DR_EXIT_OK;
    size_t by_outcome[DR_OUTCOME_REJECTED + 1] = {0};
    for (size_t i = 0; i < count; i++) {
        if (count > 1 && i > 0)
            putchar('\n');
        print_result(&b.jobs[i], &b.results[i]);
        by_outcome[b.results[i].outcome]++;
        if (exit_code == DR_EXIT_OK)
            exit_code = exit_codes[b.results[i].outcome];
        dr_job_result_free(&b.results[i]);
    }
    if (count > 1)
        printf("\ntotal: %zu targets: %zu SUCCESS, %zu FAILED, %zu TIMED_OUT, %zu REJECTED\n", count,
               by_outcome[DR_OUTCOME_SUCCESS], by_outcome[DR_OUTCOME_FAILED], by_outcome[DR_OUTCOME_TIMED_OUT],
               by_outcome[DR_OUTCOME_REJECTED]);
    free(b.results);
    free(b.jobs);
    free(threads);
    return exit_code;
}

int cmd_apply(int argc, char **argv)
{
    int exit_code = DR_EXIT_USAGE;
    dr_error err = {0};
    char *artifacts = NULL;
    dr_fetch_policy fetch_policy = {0};
    dr_config *cfg =
        dr_program_start("drover-worker apply", apply_settings, sizeof apply_settings / sizeof apply_settings[0], argc,
                         argv, apply_usage, &exit_code);
    if (!cfg)
        return exit_code;

    dr_job_request job = {0};
    job.package = dr_config_string(cfg, "package");
    char *const *roots;
    size_t root_count = dr_config_list(cfg, "target-root", &roots);
    job.manifest_source = dr_config_string(cfg, "manifest");
    job.manifest_sha256 = dr_config_string(cfg, "manifest-sha256");
    job.version = dr_config_string(cfg, "version");
    job.job_id = dr_config_string(cfg, "job-id");
    job.account = dr_config_string(cfg, "account");
    job.region = dr_config_string(cfg, "region");
    const char *action = dr_config_string(cfg, "action");
    if (strcmp(action, "install") == 0)
        job.action = DR_ACTION_INSTALL;
    else if (strcmp(action, "uninstall") == 0)
        job.action = DR_ACTION_UNINSTALL;
    if (!job.package || root_count == 0 || !job.action || (job.action == DR_ACTION_INSTALL && !job.manifest_source) ||
        parse_installation_type(dr_config_string(cfg, "installation-type"), &job.installation_type) != 0) {
        fprintf(stderr,
                "drover-worker apply: --package, --target-root, --manifest (to install), a valid --action "
                "and --installation-type are required\n%s\n",
                apply_usage);
        goto done;
    }
    artifacts = dr_config_string(cfg, "artifacts") ? strdup(dr_config_string(cfg, "artifacts"))
                : job.manifest_source              ? default_artifacts(job.manifest_source)
                                                   : strdup(".");
    job.artifacts_base = artifacts;
    job.arg_count = dr_config_list(cfg, "arg", &job.args);
    job.target_id = dr_config_string(cfg, "target-id");
    if (job.target_id && root_count > 1) {
        fprintf(stderr, "drover-worker apply: --target-id names one target; it cannot go with several --target-root\n");
        goto done;
    }
    long concurrency = (long)dr_config_int(cfg, "concurrency");
    if (concurrency <= 0)
        concurrency = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;

    dr_platform platform;
    const char *platform_name = dr_config_string(cfg, "platform");
    dr_status status;
    if (platform_name)
        status = dr_platform_init(&platform, platform_name, dr_config_string(cfg, "platform-version"),
                                  dr_config_string(cfg, "arch"), dr_config_string(cfg, "id-like"), &err);
    else
        status = dr_platform_detect(&platform, dr_config_string(cfg, "os-release"), &err);
    if (status != DR_OK) {
        fprintf(stderr, "drover-worker apply: platform: %s\n", err.detail);
        goto done;
    }
    job.platform = &platform;

    dr_engine_settings settings;
    dr_script_identity script_user;
    if (dr_engine_settings_from_config(cfg, &settings, &script_user, &fetch_policy, &err) != DR_OK) {
        fprintf(stderr, "drover-worker apply: %s\n", err.detail);
        exit_code = DR_EXIT_USAGE;
        goto done;
    }
    settings.worker_id = "apply";
    dr_ssh_settings ssh;
    dr_ssh_address ssh_address;
    char ssh_work_dir[4200];
    int ssh_enabled = 0;
    const char *address = dr_config_string(cfg, "ssh-address");
    if (dr_ssh_settings_from_config(cfg, &settings, &ssh, ssh_work_dir, sizeof ssh_work_dir, &ssh_enabled, &err) !=
            DR_OK ||
        (address && dr_ssh_address_parse(address, &ssh_address, &err) != DR_OK)) {
        fprintf(stderr, "drover-worker apply: %s\n", err.detail);
        exit_code = DR_EXIT_USAGE;
        goto done;
    }
    if (address && strcmp(ssh_address.root, "/") != 0) {
        fprintf(stderr,
                "drover-worker apply: --ssh-address names no path here (%s): give the target's path there "
                "with --target-root\n",
                ssh_address.root);
        exit_code = DR_EXIT_USAGE;
        goto done;
    }
    if (address && !ssh_enabled) {
        fprintf(stderr, "drover-worker apply: --ssh-address needs --ssh-key and --ssh-known-hosts\n");
        exit_code = DR_EXIT_USAGE;
        goto done;
    }
    if (dr_fetch_global_init() != DR_OK) {
        fprintf(stderr, "drover-worker apply: cannot initialize libcurl\n");
        exit_code = DR_EXIT_FAILED;
        goto done;
    }

    json_object_seed(0);      /* before threads: jansson seeds its hash function once */
    signal(SIGPIPE, SIG_IGN); /* a pipe to an ssh session that died is an error, not the end of apply */
    exit_code = run_batch(&settings, address ? &ssh : NULL, &ssh_address, &job, roots, root_count, concurrency);
done:
    free(artifacts);
    dr_fetch_policy_free(&fetch_policy);
    dr_config_free(cfg);
    return exit_code;
}
