/*
 * engine_config.h - the install engine's settings as both worker verbs
 * (apply and run) take them: one table, read into dr_engine_settings by one
 * function, so a setting means the same under either verb.
 */
#ifndef DROVER_ENGINE_CONFIG_H
#define DROVER_ENGINE_CONFIG_H

#include "config.h"
#include "engine.h"
#include "error.h"
#include "executor_ssh.h"
#include "fetch_policy.h"

/* Rows of a verb's settings table (after DR_COMMON_SETTINGS). */
/* A settings table, laid out by hand. */
// clang-format off
#define DR_ENGINE_SETTINGS                                                                                          \
    {"cache-dir", DR_SETTING_STRING, "/var/cache/drover", "content-addressed artifact cache directory"},             \
    {"script-timeout", DR_SETTING_INT, "3600",                                                                      \
     "seconds a script may run before its process group is killed (for jobs that set none)"},                     \
    {"script-user", DR_SETTING_STRING, NULL,                                                                        \
     "run scripts as this user (name or uid) instead of the worker's own; needs the worker to run as root"},       \
    {"lock-wait", DR_SETTING_INT, "3600", "seconds to wait for another action on the same target"},                \
    {"fetch-attempts", DR_SETTING_INT, "5", "download attempts before giving up"},                                 \
    {"fetch-timeout", DR_SETTING_INT, "600", "seconds a download may take, all attempts together"},                \
    {"fetch-stall-timeout", DR_SETTING_INT, "30", "seconds without data before a download attempt is abandoned"},  \
    {"fetch-backoff-ms", DR_SETTING_INT, "200", "first retry delay in milliseconds, doubled each retry"},           \
    {"max-download-bytes", DR_SETTING_INT, "1073741824", "largest artifact accepted"},                              \
    {"max-unpacked-bytes", DR_SETTING_INT, "4294967296", "largest total size a package zip may expand to"},         \
    {"max-unpacked-entries", DR_SETTING_INT, "10000", "most entries a package zip may hold"},                       \
    {"ca-file", DR_SETTING_STRING, NULL, "PEM CA bundle https downloads are verified with (default: the system's)"},  \
    {"s3-endpoint", DR_SETTING_STRING, NULL,                                                                        \
     "s3:// URLs: an S3-compatible endpoint to fetch from, path-style (default: AWS, virtual-hosted)"},            \
    {"s3-region", DR_SETTING_STRING, NULL, "s3:// URLs: the region requests are signed for (default: AWS_REGION)"}, \
    {"fetch-schemes", DR_SETTING_STRING, DR_FETCH_POLICY_DEFAULT_SCHEMES,                                           \
     "schemes a job's manifest and zips may be fetched by, of https, http, s3, file (file: also plain paths)"},    \
    {"fetch-hosts", DR_SETTING_STRING, DR_FETCH_POLICY_DEFAULT_HOSTS,                                               \
     "comma-separated host globs a download's host must match, case-insensitively (s3: the endpoint's host)"},     \
    {"fetch-allow-private", DR_SETTING_BOOL, "false",                                                               \
     "also fetch from loopback and link-local addresses (localhost, 127.0.0.0/8, ::1, 169.254.0.0/16, fe80::/10)"}, \
    {"ssh-key", DR_SETTING_STRING, NULL, "ssh executor: private key file targets are reached with"},              \
    {"ssh-known-hosts", DR_SETTING_STRING, NULL,                                                                    \
     "ssh executor: known_hosts file; only hosts whose keys it holds are trusted"},                                \
    {"ssh-user", DR_SETTING_STRING, "root", "ssh executor: login user for addresses that name none"},              \
    {"ssh-accept-new", DR_SETTING_BOOL, "false",                                                                    \
     "ssh executor: trust a host not yet in ssh-known-hosts on first contact and add it (off: refuse it)"},        \
    {"ssh-connect-timeout", DR_SETTING_INT, "10", "ssh executor: seconds to wait for a connection"}
// clang-format on

/*
 * Fill settings from cfg (a table with DR_ENGINE_SETTINGS).  script_user
 * receives the looked-up user when script-user is set, and fetch_policy
 * what may be fetched (fetch_policy.h; free it with dr_fetch_policy_free,
 * also after a failure); settings points at both, so they must live as
 * long as settings.  DR_ERR_USAGE names a bad value.
 */
dr_status dr_engine_settings_from_config(const dr_config *cfg, dr_engine_settings *settings,
                                         dr_script_identity *script_user, dr_fetch_policy *fetch_policy, dr_error *err);

/*
 * The ssh executor's settings from cfg (a table with DR_ENGINE_SETTINGS),
 * checked (dr_ssh_settings_check) when ssh-key is set; *enabled says
 * whether it is.  Staging trees and the connections' sockets go in a new
 * directory of this process's own under the engine's cache directory
 * (CACHE/ssh-XXXXXX, in work_dir).
 * Strings stay owned by cfg; ssh must live as long as the executors made
 * with it.
 */
dr_status dr_ssh_settings_from_config(const dr_config *cfg, const dr_engine_settings *engine, dr_ssh_settings *ssh,
                                      char *work_dir, size_t work_dir_size, int *enabled, dr_error *err);

#endif
