#include "engine_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "log.h"

static dr_status positive(const dr_config *cfg, const char *name, dr_error *err)
{
    if (dr_config_int(cfg, name) < 1)
        return dr_error_set(err, DR_ERR_USAGE, "%s: %lld is not a positive number", name, dr_config_int(cfg, name));
    return DR_OK;
}

dr_status dr_engine_settings_from_config(const dr_config *cfg, dr_engine_settings *s, dr_script_identity *script_user,
                                         dr_fetch_policy *fetch_policy, dr_error *err)
{
    memset(fetch_policy, 0, sizeof *fetch_policy);
    static const char *const must_be_positive[] = {"script-timeout",      "fetch-attempts",     "fetch-timeout",
                                                   "fetch-stall-timeout", "max-download-bytes", "max-unpacked-bytes",
                                                   "max-unpacked-entries"};
    dr_status status = DR_OK;
    for (size_t i = 0; i < sizeof must_be_positive / sizeof must_be_positive[0] && status == DR_OK; i++)
        status = positive(cfg, must_be_positive[i], err);
    if (status != DR_OK)
        return status;
    dr_engine_settings_default(s);
    s->cache_dir = dr_config_string(cfg, "cache-dir");
    s->script_timeout_seconds = (long)dr_config_int(cfg, "script-timeout");
    s->lock_wait_seconds = (long)dr_config_int(cfg, "lock-wait");
    s->fetch.max_attempts = (int)dr_config_int(cfg, "fetch-attempts");
    s->fetch.timeout_seconds = (long)dr_config_int(cfg, "fetch-timeout");
    s->fetch.stall_seconds = (long)dr_config_int(cfg, "fetch-stall-timeout");
    s->fetch.backoff_initial_ms = (long)dr_config_int(cfg, "fetch-backoff-ms");
    s->fetch.max_bytes = (uint64_t)dr_config_int(cfg, "max-download-bytes");
    s->fetch.ca_file = dr_config_string(cfg, "ca-file");
    s->fetch.s3_endpoint = dr_config_string(cfg, "s3-endpoint");
    s->fetch.s3_region = dr_config_string(cfg, "s3-region");
    status =
        dr_fetch_policy_init(fetch_policy, dr_config_string(cfg, "fetch-schemes"), dr_config_string(cfg, "fetch-hosts"),
                             dr_config_bool(cfg, "fetch-allow-private"), err);
    if (status != DR_OK)
        return status;
    s->fetch.policy = fetch_policy;
    s->archive_limits.max_total_bytes = (uint64_t)dr_config_int(cfg, "max-unpacked-bytes");
    s->archive_limits.max_entries = (uint64_t)dr_config_int(cfg, "max-unpacked-entries");
    const char *user = dr_config_string(cfg, "script-user");
    if (user && user[0]) {
        if ((status = dr_script_identity_lookup(user, script_user, err)) != DR_OK)
            return status;
        s->script_user = script_user;
    }
    return DR_OK;
}

dr_status dr_ssh_settings_from_config(const dr_config *cfg, const dr_engine_settings *engine, dr_ssh_settings *ssh,
                                      char *work_dir, size_t work_dir_size, int *enabled, dr_error *err)
{
    memset(ssh, 0, sizeof *ssh);
    *enabled = 0;
    ssh->key_file = dr_config_string(cfg, "ssh-key");
    ssh->known_hosts = dr_config_string(cfg, "ssh-known-hosts");
    ssh->user = dr_config_string(cfg, "ssh-user");
    ssh->accept_new = dr_config_bool(cfg, "ssh-accept-new");
    ssh->connect_timeout_seconds = (long)dr_config_int(cfg, "ssh-connect-timeout");
    if (!ssh->key_file || !ssh->key_file[0]) {
        if (ssh->known_hosts && ssh->known_hosts[0])
            return dr_error_set(err, DR_ERR_USAGE, "ssh-known-hosts is set but ssh-key is not");
        return DR_OK;
    }
    if (ssh->connect_timeout_seconds < 1)
        return dr_error_set(err, DR_ERR_USAGE, "ssh-connect-timeout: %ld is not a positive number",
                            ssh->connect_timeout_seconds);
    /* A directory of this process's own: workers in several containers (all pid 1) may share the cache. */
    dr_status status = dr_make_directories(engine->cache_dir, err);
    if (status != DR_OK)
        return status;
    snprintf(work_dir, work_dir_size, "%s/ssh-XXXXXX", engine->cache_dir);
    if (!mkdtemp(work_dir))
        return dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", work_dir, strerror(errno));
    ssh->work_dir = work_dir;
    if (engine->script_user)
        dr_log(DR_LOG_WARN, "ssh.script_user",
               "msg=\"script-user applies to local targets only: over ssh, scripts "
               "run as the login user (ssh-user or the address's)\"");
    status = dr_ssh_settings_check(ssh, err);
    *enabled = status == DR_OK;
    return status;
}
