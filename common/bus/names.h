/*
 * names.h - the names and ids Drover accepts: one rule for each, used by the
 * command line before anything is written to Kafka (so a bad name fails
 * there, not as a REJECTED job on every target) and by every program that
 * reads a name off Kafka (the worker, the control plane).
 */
#ifndef DROVER_NAMES_H
#define DROVER_NAMES_H

#include <stddef.h>

#include "error.h"

#define DR_NAME_MAX 128

/*
 * Package names and versions, as Distributor: 1-128 of [A-Za-z0-9_.-].
 * DR_ERR_USAGE names `what` (e.g. "--name") and the offending character.
 */
dr_status dr_check_package_token(const char *what, const char *value, dr_error *err);

/*
 * Target ids, deployment ids, accounts and regions: 1-128 of
 * [A-Za-z0-9_.:-], not "." or "..".  The worker refuses any other target id
 * (it names a directory), and a job id is "<deployment id>/<target id>", so
 * neither may hold '/'.  DR_ERR_USAGE names `what`.
 */
dr_status dr_check_id(const char *what, const char *value, dr_error *err);

/*
 * An additional argument KEY=VALUE: KEY is a shell name of at most 128
 * characters, not DROVER_*, PATH or LD_* (the worker passes arguments as
 * environment variables and refuses those).  DR_ERR_USAGE says why.
 */
dr_status dr_check_argument(const char *argument, dr_error *err);
/* The same rule for a key held apart from its value (an argument read off Kafka). */
dr_status dr_check_argument_key(const char *key, dr_error *err);

/*
 * A tag KEY=VALUE as given on a command line or in a file: KEY 1-128
 * printable characters without '=', ';' or ','; VALUE at most 256 printable
 * characters without ';' (the CSV separator).  On success *key_len is the
 * length of KEY and the value starts at text + *key_len + 1.
 */
dr_status dr_check_tag(const char *what, const char *text, size_t *key_len, dr_error *err);

/* The same rules for a key and value held apart (JSON tags). */
dr_status dr_check_tag_parts(const char *what, const char *key, const char *value, dr_error *err);

#endif
