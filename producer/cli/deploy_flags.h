/*
 * deploy_flags.h - the flags that say what to deploy and where, for every
 * command that makes deployments (deploy, association create): one table of
 * settings and one reader, so both take the same flags by the same rules.
 */
#ifndef DROVER_PRODUCER_DEPLOY_FLAGS_H
#define DROVER_PRODUCER_DEPLOY_FLAGS_H

#include "config.h"
#include "deploy.h"
#include "error.h"
#include "selection.h"

/* What is installed and how (after DR_COMMON_SETTINGS and the command's own). */
/* A settings table, laid out by hand. */
// clang-format off
#define DR_DEPLOY_WHAT_SETTINGS                                                                                        \
    {"action", DR_SETTING_STRING, "install", "install or uninstall"},                                                  \
    {"installation-type", DR_SETTING_STRING, "reinstall",                                                              \
     "over another installed version: reinstall (its uninstall.sh, then install.sh) or in-place (update.sh)"},         \
    {"arg", DR_SETTING_LIST, NULL, "additional argument KEY=VALUE, an environment variable of the scripts; repeatable"}
// clang-format on

/* Which targets. */
/* A settings table, laid out by hand. */
// clang-format off
#define DR_DEPLOY_WHERE_SETTINGS                                                                                       \
    {"targets", DR_SETTING_STRING, NULL, "select these target ids (comma-separated)"},                                 \
    {"tag", DR_SETTING_LIST, NULL,                                                                                     \
     "select targets tagged KEY=VALUE; repeatable: values of one key OR'ed, different keys AND'ed"},                   \
    {"accounts", DR_SETTING_STRING, NULL, "select targets of these accounts (comma-separated)"},                       \
    {"regions", DR_SETTING_STRING, NULL, "select targets in these regions (comma-separated)"},                         \
    {"all", DR_SETTING_BOOL, "false", "select every target of the inventory"}
// clang-format on

/* How fast (an association: in each run). */
/* A settings table, laid out by hand. */
// clang-format off
#define DR_DEPLOY_RATE_SETTINGS                                                                                        \
    {"max-concurrency", DR_SETTING_STRING, "50",                                                                       \
     "at most this many (or this % of, rounded up) jobs released and unfinished at once"},                             \
    {"max-errors", DR_SETTING_STRING, "0",                                                                             \
     "release no more jobs once errors pass this many (or this %, rounded up); the unreleased end CANCELLED"}
// clang-format on

/*
 * Read those settings from cfg into request (action, installation type,
 * arguments, rate controls, selection) and *selection (which the caller
 * frees with dr_selection_free, also after a failure); request borrows from
 * cfg and selection.  The package, version and id are the command's own.
 * DR_ERR_USAGE names the flag that is wrong.
 */
dr_status dr_deploy_flags_read(const dr_config *cfg, dr_deploy_request *request, dr_selection *selection,
                               dr_error *err);

#endif
