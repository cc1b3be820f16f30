/*
 * config.h - one table of named settings, filled from defaults, a config
 * file, environment variables and flags (later sources win, in that order).
 *
 * A setting named "cache-dir" is set by:
 *   - the flag --cache-dir VALUE or --cache-dir=VALUE (booleans: --name,
 *     --name=true|false, --no-name); the one short flag is -o, for a
 *     setting named "output" where a table has one;
 *   - the environment variable DROVER_CACHE_DIR;
 *   - a line "cache-dir = VALUE" in the file named by --config or DROVER_CONFIG
 *     ('#' starts a comment).
 * List settings (DR_SETTING_LIST) collect every flag and file line; in the
 * environment their items are separated by newlines.  Flags replace the
 * environment's items, which replace the file's.
 *
 * Every program's table ends up in its --help, so the table is the manual:
 * give each setting a help sentence that says what it does and its unit.
 */
#ifndef DROVER_CONFIG_H
#define DROVER_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

typedef enum dr_setting_type {
    DR_SETTING_STRING,
    DR_SETTING_INT,  /* a decimal integer, checked when loaded */
    DR_SETTING_BOOL, /* true/false, yes/no, 1/0, on/off */
    DR_SETTING_LIST, /* repeatable string */
} dr_setting_type;

typedef struct dr_setting {
    const char *name; /* lowercase words joined by '-' */
    dr_setting_type type;
    const char *default_value; /* NULL: unset unless given */
    const char *help;
} dr_setting;

/* Settings every program has; put DR_COMMON_SETTINGS first in each table. */
/* A settings table, laid out by hand. */
// clang-format off
#define DR_COMMON_SETTINGS                                                                        \
    {"config", DR_SETTING_STRING, NULL, "read settings from this file (lines: name = value)"},   \
    {"log-level", DR_SETTING_STRING, "info", "lowest log level printed: debug, info, warn, error"}
// clang-format on

typedef struct dr_config dr_config;

/* A config over table (which must outlive it); NULL when out of memory. */
dr_config *dr_config_new(const dr_setting *table, size_t count);
void dr_config_free(dr_config *cfg);

/*
 * Fill cfg from the config file, environment and argv[0..argc).  argv holds
 * flags and positional arguments (no program name).  "--" ends the flags.
 * An unknown flag, a missing value, or a value of the wrong type fails with
 * DR_ERR_USAGE naming the setting and where the value came from.
 */
dr_status dr_config_load(dr_config *cfg, int argc, char **argv, dr_error *err);

/* Set one setting as if given last (used by tests and by callers that derive values). */
dr_status dr_config_set(dr_config *cfg, const char *name, const char *value, dr_error *err);

/* The value of a setting, or NULL when unset.  Aborts on a name not in the table (a bug). */
const char *dr_config_string(const dr_config *cfg, const char *name);
long long dr_config_int(const dr_config *cfg, const char *name);
int dr_config_bool(const dr_config *cfg, const char *name);
/* Number of items; *items points at them (owned by cfg). */
size_t dr_config_list(const dr_config *cfg, const char *name, char *const **items);
/* Positional arguments in order (owned by cfg). */
size_t dr_config_positional(const dr_config *cfg, char *const **items);
/* True when --help or -h was given. */
int dr_config_help_requested(const dr_config *cfg);

/* Print usage, then every setting with its flag, variable, default and help. */
void dr_config_print_help(const dr_config *cfg, FILE *out, const char *usage);

#endif
