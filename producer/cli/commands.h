/*
 * commands.h - drover-producer's commands, one file each (cmd_<command>.c).
 * Each cmd_*() takes the arguments after the command name and returns the
 * process exit code; the helpers below give every command the same settings
 * handling and the same error line.
 */
#ifndef DROVER_PRODUCER_COMMANDS_H
#define DROVER_PRODUCER_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "kafka.h"
#include "keys.h"
#include "manifest.h"
#include "package_build.h"
#include "program.h"

/*
 * Every command exits with program.h's codes.  DR_EXIT_USAGE (2) also
 * covers a request that names what does not exist (an unknown package,
 * version or target, a selection matching nothing): nothing was published.
 * deploy also exits DR_EXIT_REJECTED (3) when the control plane refused the
 * deployment and DR_EXIT_STOPPED_WAITING (5) past --wait-timeout.
 */

/* Every command that talks to Kafka has these (after DR_COMMON_SETTINGS). */
/* A settings table, laid out by hand. */
// clang-format off
#define DR_PRODUCER_KAFKA_SETTINGS                                                                        \
    DR_KAFKA_SETTINGS,                                                                                    \
    {"kafka-timeout", DR_SETTING_INT, "30",                                                               \
     "seconds to wait for Kafka: to read a topic, and for the broker to acknowledge what was written"}
// clang-format on

/* Every command that asks the control plane for a change has this (requests are signed: request_signing.h). */
// clang-format off
#define DR_PRODUCER_REQUEST_SETTINGS                                                                      \
    {"operator-key", DR_SETTING_STRING, NULL,                                                             \
     "the operator's private key (PEM, from `drover-producer keys generate`) that signs this request; "   \
     "unset: the request goes unsigned, which only a control plane run with --allow-unsigned-requests takes"}
// clang-format on

/* drover-producer deploy ... (cmd_deploy.c) */
int cmd_deploy(int argc, char **argv);
/* drover-producer serve ... and cancel ID (cmd_serve.c) */
int cmd_serve(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
/* drover-producer audit (cmd_audit.c) */
int cmd_audit(int argc, char **argv);

/* One verb of a command with verbs (package build, target list, ...). */
typedef struct dr_producer_verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} dr_producer_verb;

/*
 * A command: either verbs (the one list of them, which the top-level usage
 * prints and dr_producer_dispatch runs) or, for a command without verbs,
 * run and summary.
 */
typedef struct dr_producer_command {
    const char *name;
    const dr_producer_verb *verbs;
    size_t verb_count;
    int (*run)(int argc, char **argv);
    const char *summary;
} dr_producer_command;

/* The commands with verbs, each defined in its cmd_<name>.c. */
extern const dr_producer_command dr_command_package, dr_command_target, dr_command_deployment, dr_command_association,
    dr_command_keys, dr_command_topics;
/* drover-producer fleet (cmd_fleet.c): a command without verbs */
extern const dr_producer_command dr_command_fleet;

/*
 * Run the verb argv[0] names with the arguments after it.  No verb or
 * --help prints the verbs (to stderr, exit 2; to stdout, exit 0); an unknown
 * one says so and prints them (exit 2).
 */
int dr_producer_dispatch(const char *command, const dr_producer_verb *verbs, size_t count, int argc, char **argv);

/* Print "drover-producer: <detail>" to stderr; returns 2 for DR_ERR_USAGE, else 1. */
int dr_producer_fail(const dr_error *err);

/*
 * Kafka options from a command's config (DR_PRODUCER_KAFKA_SETTINGS) and its
 * kafka-timeout in milliseconds.  DR_ERR_USAGE when the timeout is not
 * between 1 and 3600 seconds.
 */
dr_status dr_producer_kafka_options(const dr_config *cfg, dr_kafka_options *opt, int *timeout_ms, dr_error *err);

/*
 * Cancel deployment_id (dr_deploy_cancel, with cfg's Kafka settings) and say
 * so on stdout: what `cancel ID` and `deploy --cancel ID` both do.
 */
dr_status dr_producer_cancel(const dr_config *cfg, const char *deployment_id, const char *reason, dr_error *err);

/*
 * The operator key the config's operator-key names, loaded; *out NULL when
 * none is set (the request goes unsigned).  DR_ERR_USAGE when the file is
 * not an Ed25519 private key, DR_ERR_IO when it cannot be read.
 */
dr_status dr_producer_operator_key(const dr_config *cfg, dr_key **out, dr_error *err);

/* package import (cmd_package_import.c), a verb of package (cmd_package.c). */
int cmd_package_import(int argc, char **argv);
/* package create (cmd_package_create.c), a verb of package (cmd_package.c). */
int cmd_package_create(int argc, char **argv);

/* What package build and package create share (cmd_package.c): these settings, after DR_COMMON_SETTINGS, */
// clang-format off
#define DR_PRODUCER_PACKAGE_WRITE_SETTINGS                                                                \
    {"name", DR_SETTING_STRING, NULL, "package name, 1-128 of A-Z a-z 0-9 _ . - (required)"},            \
    {"version", DR_SETTING_STRING, NULL, "package version, 1-128 of A-Z a-z 0-9 _ . - (required)"},      \
    {"out", DR_SETTING_STRING, NULL, "output directory; must not exist yet (default: ./NAME-VERSION)"},  \
    {"publisher", DR_SETTING_STRING, NULL, "publisher recorded in the manifest (default: none)"}
// clang-format on
/*
 * and writing the package: --name and --version checked (DR_ERR_USAGE), then
 * parts written to --out (default ./NAME-VERSION) by dr_package_write, and
 * each zip's sha256 and the manifest's path printed.
 */
dr_status dr_producer_package_write(const dr_config *cfg, dr_package_parts *parts, dr_error *err);

/*
 * The end of package publish and package import: register the version a
 * fetched and validated manifest describes (its bytes' sha256, the
 * artifacts' base URL; the publisher from cfg's "publisher", else the
 * manifest's, else $USER), and say so on stdout.
 */
dr_status dr_package_publish_fetched(const dr_config *cfg, const dr_kafka_options *kafka, int timeout_ms,
                                     const char *name, const dr_manifest *manifest, const char *manifest_url,
                                     const char *sha256, const char *artifacts_url, const dr_key *operator_key,
                                     dr_error *err);

#endif
