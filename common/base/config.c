#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"

/* One setting's current value; lists keep every item. */
typedef struct setting_value {
    char *value;
    char **items;
    size_t item_count;
    const char *source; /* "default", "file", "environment", "flag" */
} setting_value;

struct dr_config {
    const dr_setting *table;
    size_t count;
    setting_value *values;
    char **positional;
    size_t positional_count;
    int help;
};

static long find_setting(const dr_config *cfg, const char *name, size_t name_len)
{
    for (size_t i = 0; i < cfg->count; i++)
        if (strlen(cfg->table[i].name) == name_len && strncmp(cfg->table[i].name, name, name_len) == 0)
            return (long)i;
    return -1;
}

static void clear_items(setting_value *v)
{
    for (size_t i = 0; i < v->item_count; i++)
        free(v->items[i]);
    free(v->items);
    v->items = NULL;
    v->item_count = 0;
}

dr_config *dr_config_new(const dr_setting *table, size_t count)
{
    dr_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->table = table;
    cfg->count = count;
    cfg->values = calloc(count ? count : 1, sizeof *cfg->values);
    if (!cfg->values) {
        free(cfg);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        cfg->values[i].source = "default";
        if (table[i].default_value && table[i].type != DR_SETTING_LIST) {
            cfg->values[i].value = strdup(table[i].default_value);
            if (!cfg->values[i].value) {
                dr_config_free(cfg);
                return NULL;
            }
        }
    }
    return cfg;
}

void dr_config_free(dr_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->count; i++) {
        free(cfg->values[i].value);
        clear_items(&cfg->values[i]);
    }
    free(cfg->values);
    for (size_t i = 0; i < cfg->positional_count; i++)
        free(cfg->positional[i]);
    free(cfg->positional);
    free(cfg);
}

static int parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int parse_int(const char *text, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/*
 * Assign one value from source.  For lists, the first value from a new source
 * replaces the items of an earlier source; later values from the same source
 * append.
 */
static dr_status assign(dr_config *cfg, size_t index, const char *value, const char *source, dr_error *err)
{
    const dr_setting *def = &cfg->table[index];
    setting_value *v = &cfg->values[index];
    if (def->type == DR_SETTING_INT) {
        long long ignored;
        if (parse_int(value, &ignored) != 0)
            return dr_error_set(err, DR_ERR_USAGE, "setting %s from %s: '%s' is not an integer", def->name, source,
                                value);
    } else if (def->type == DR_SETTING_BOOL) {
        int ignored;
        if (parse_bool(value, &ignored) != 0)
            return dr_error_set(err, DR_ERR_USAGE, "setting %s from %s: '%s' is not true or false", def->name, source,
                                value);
    }
    char *copy = strdup(value);
    if (!copy)
        return dr_error_set(err, DR_ERR_NOMEM, "setting %s", def->name);
    if (def->type == DR_SETTING_LIST) {
        if (strcmp(v->source, source) != 0)
            clear_items(v);
        char **grown = realloc(v->items, (v->item_count + 1) * sizeof *grown);
        if (!grown) {
            free(copy);
            return dr_error_set(err, DR_ERR_NOMEM, "setting %s", def->name);
        }
        v->items = grown;
        v->items[v->item_count++] = copy;
    } else {
        free(v->value);
        v->value = copy;
    }
    v->source = source;
    return DR_OK;
}

dr_status dr_config_set(dr_config *cfg, const char *name, const char *value, dr_error *err)
{
    long index = find_setting(cfg, name, strlen(name));
    if (index < 0)
        return dr_error_set(err, DR_ERR_USAGE, "unknown setting '%s'", name);
    return assign(cfg, (size_t)index, value, "caller", err);
}

static dr_status load_file(dr_config *cfg, const char *path, dr_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return dr_error_set(err, DR_ERR_USAGE, "cannot read config file %s: %s", path, strerror(errno));
    dr_status status = DR_OK;
    char line[8192];
    for (int lineno = 1; status == DR_OK && fgets(line, sizeof line, f); lineno++) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *text = dr_trim(line);
        if (!*text)
            continue;
        char *eq = strchr(text, '=');
        if (!eq) {
            status = dr_error_set(err, DR_ERR_USAGE, "%s:%d: expected 'name = value'", path, lineno);
            break;
        }
        *eq = '\0';
        char *name = dr_trim(text);
        char *value = dr_trim(eq + 1);
        long index = find_setting(cfg, name, strlen(name));
        if (index < 0)
            status = dr_error_set(err, DR_ERR_USAGE, "%s:%d: unknown setting '%s'", path, lineno, name);
        else
            status = assign(cfg, (size_t)index, value, "file", err);
    }
    fclose(f);
    return status;
}

/* DROVER_ + name upper-cased with '-' as '_'. */
static void env_name(const char *name, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "DROVER_");
    for (; *name && n + 1 < size; name++)
        out[n++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    out[n] = '\0';
}

static dr_status load_environment(dr_config *cfg, dr_error *err)
{
    for (size_t i = 0; i < cfg->count; i++) {
        char var[128];
        env_name(cfg->table[i].name, var, sizeof var);
        const char *value = getenv(var);
        if (!value || strcmp(cfg->table[i].name, "config") == 0)
            continue;
        if (cfg->table[i].type != DR_SETTING_LIST) {
            dr_status status = assign(cfg, i, value, "environment", err);
            if (status != DR_OK)
                return status;
            continue;
        }
        char *copy = strdup(value);
        if (!copy)
            return dr_error_set(err, DR_ERR_NOMEM, "reading %s", var);
        dr_status status = DR_OK;
        char *save = NULL;
        for (char *item = strtok_r(copy, "\n", &save); item && status == DR_OK; item = strtok_r(NULL, "\n", &save))
            status = assign(cfg, i, item, "environment", err);
        free(copy);
        if (status != DR_OK)
            return status;
    }
    return DR_OK;
}

static dr_status add_positional(dr_config *cfg, const char *arg, dr_error *err)
{
    char **grown = realloc(cfg->positional, (cfg->positional_count + 1) * sizeof *grown);
    if (!grown)
        return dr_error_set(err, DR_ERR_NOMEM, "argument list");
    cfg->positional = grown;
    cfg->positional[cfg->positional_count] = strdup(arg);
    if (!cfg->positional[cfg->positional_count])
        return dr_error_set(err, DR_ERR_NOMEM, "argument list");
    cfg->positional_count++;
    return DR_OK;
}

/* Find --config in argv first: the file is read before the environment and flags. */
static const char *config_path_from_argv(int argc, char **argv)
{
    const char *path = getenv("DROVER_CONFIG");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    return path;
}

static dr_status load_flags(dr_config *cfg, int argc, char **argv, dr_error *err)
{
    int flags_done = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        dr_status status;
        if (flags_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            status = add_positional(cfg, arg, err);
        } else if (strcmp(arg, "--") == 0) {
            flags_done = 1;
            continue;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            cfg->help = 1;
            continue;
        } else if (strncmp(arg, "--", 2) != 0 && !(strcmp(arg, "-o") == 0 && find_setting(cfg, "output", 6) >= 0)) {
            return dr_error_set(err, DR_ERR_USAGE, "unknown flag '%s' (flags are --name)", arg);
        } else {
            const char *name = arg[1] == 'o' ? "output" : arg + 2; /* -o: --output, where a command has it */
            const char *eq = strchr(name, '=');
            size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
            long index = find_setting(cfg, name, name_len);
            int negated = 0;
            if (index < 0 && !eq && strncmp(name, "no-", 3) == 0) {
                index = find_setting(cfg, name + 3, name_len - 3);
                negated = index >= 0 && cfg->table[index].type == DR_SETTING_BOOL;
                if (!negated)
                    index = -1;
            }
            if (index < 0)
                return dr_error_set(err, DR_ERR_USAGE, "unknown flag '--%.*s'", (int)name_len, name);
            const char *value;
            if (eq)
                value = eq + 1;
            else if (cfg->table[index].type == DR_SETTING_BOOL)
                value = negated ? "false" : "true";
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return dr_error_set(err, DR_ERR_USAGE, "flag --%s needs a value", cfg->table[index].name);
            status = assign(cfg, (size_t)index, value, "flag", err);
        }
        if (status != DR_OK)
            return status;
    }
    return DR_OK;
}

dr_status dr_config_load(dr_config *cfg, int argc, char **argv, dr_error *err)
{
    const char *path = config_path_from_argv(argc, argv);
    if (path && find_setting(cfg, "config", 6) >= 0) {
        dr_status status = load_file(cfg, path, err);
        if (status != DR_OK)
            return status;
    }
    dr_status status = load_environment(cfg, err);
    if (status != DR_OK)
        return status;
    return load_flags(cfg, argc, argv, err);
}

static const setting_value *lookup(const dr_config *cfg, const char *name, dr_setting_type type)
{
    long index = find_setting(cfg, name, strlen(name));
    if (index < 0 || cfg->table[index].type != type) {
        fprintf(stderr, "drover: bug: setting '%s' is not in the table with that type\n", name);
        abort();
    }
    return &cfg->values[index];
}

const char *dr_config_string(const dr_config *cfg, const char *name)
{
    return lookup(cfg, name, DR_SETTING_STRING)->value;
}

long long dr_config_int(const dr_config *cfg, const char *name)
{
    long long v = 0;
    const setting_value *sv = lookup(cfg, name, DR_SETTING_INT);
    if (sv->value)
        parse_int(sv->value, &v);
    return v;
}

int dr_config_bool(const dr_config *cfg, const char *name)
{
    int v = 0;
    const setting_value *sv = lookup(cfg, name, DR_SETTING_BOOL);
    if (sv->value)
        parse_bool(sv->value, &v);
    return v;
}

size_t dr_config_list(const dr_config *cfg, const char *name, char *const **items)
{
    const setting_value *sv = lookup(cfg, name, DR_SETTING_LIST);
    *items = sv->items;
    return sv->item_count;
}

size_t dr_config_positional(const dr_config *cfg, char *const **items)
{
    *items = cfg->positional;
    return cfg->positional_count;
}

int dr_config_help_requested(const dr_config *cfg)
{
    return cfg->help;
}

void dr_config_print_help(const dr_config *cfg, FILE *out, const char *usage)
{
    static const char *const type_names[] = {"TEXT", "N", "", "TEXT (repeatable)"};
    fprintf(out, "%s\n\nSettings (flag, environment variable, default):\n", usage);
    for (size_t i = 0; i < cfg->count; i++) {
        const dr_setting *def = &cfg->table[i];
        char var[128];
        env_name(def->name, var, sizeof var);
        fprintf(out, "  --%s %s\n      %s\n      env %s", def->name, type_names[def->type], def->help, var);
        if (def->default_value)
            fprintf(out, ", default %s", def->default_value);
        fputc('\n', out);
    }
}
