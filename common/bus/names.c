/*
 * names.c - checks for the names and ids Drover accepts.  See names.h.
 */
#include "names.h"

#include <ctype.h>
#include <string.h>

#define TAG_VALUE_MAX 256

static const char id_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-";
static const char shell_name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";

/* The first byte of value[0..len) outside allowed, or NULL. */
static const char *first_outside(const char *value, size_t len, const char *allowed)
{
    size_t ok = strspn(value, allowed);
    return ok < len ? value + ok : NULL;
}

dr_status dr_check_package_token(const char *what, const char *value, dr_error *err)
{
    size_t len = strlen(value);
    if (len == 0 || len > DR_NAME_MAX)
        return dr_error_set(err, DR_ERR_USAGE, "%s: %zu characters; 1 to %d are allowed", what, len, DR_NAME_MAX);
    const char *bad = first_outside(value, len, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
    if (bad)
        return dr_error_set(err, DR_ERR_USAGE, "%s: '%s' has '%c'; only A-Z a-z 0-9 _ . - are allowed", what, value,
                            isprint((unsigned char)*bad) ? *bad : '?');
    return DR_OK;
}

dr_status dr_check_id(const char *what, const char *value, dr_error *err)
{
    size_t len = strlen(value);
    if (len == 0 || len > DR_NAME_MAX)
        return dr_error_set(err, DR_ERR_USAGE, "%s: %zu characters; 1 to %d are allowed", what, len, DR_NAME_MAX);
    const char *bad = first_outside(value, len, id_chars);
    if (bad)
        return dr_error_set(err, DR_ERR_USAGE, "%s: '%.128s' has '%c'; only A-Z a-z 0-9 _ . : - are allowed", what,
                            value, isprint((unsigned char)*bad) ? *bad : '?');
    if (strcmp(value, ".") == 0 || strcmp(value, "..") == 0)
        return dr_error_set(err, DR_ERR_USAGE, "%s: '%s' is not allowed", what, value);
    return DR_OK;
}

/* Whether key[0..key_len) is a shell name that is not reserved; *reserved says which failed. */
static int is_argument_name(const char *key, size_t key_len, int *reserved)
{
    *reserved = 0;
    if (key_len == 0 || key_len > DR_NAME_MAX || isdigit((unsigned char)key[0]) ||
        strspn(key, shell_name_chars) < key_len)
        return 0;
    *reserved = strncmp(key, "DROVER_", 7) == 0 || strncmp(key, "LD_", 3) == 0 ||
                (key_len == 4 && strncmp(key, "PATH", 4) == 0);
    return !*reserved;
}

dr_status dr_check_argument(const char *argument, dr_error *err)
{
    const char *eq = strchr(argument, '=');
    size_t key_len = eq ? (size_t)(eq - argument) : 0;
    int reserved;
    if (is_argument_name(argument, key_len, &reserved))
        return DR_OK;
    if (reserved)
        return dr_error_set(err, DR_ERR_USAGE, "--arg %.*s: the name is reserved (DROVER_*, LD_*, PATH)", (int)key_len,
                            argument);
    return dr_error_set(err, DR_ERR_USAGE,
                        "--arg '%.64s' is not KEY=VALUE with KEY a shell name (A-Z a-z 0-9 _, not starting "
                        "with a digit)",
                        argument);
}

dr_status dr_check_argument_key(const char *key, dr_error *err)
{
    int reserved;
    size_t key_len = strlen(key);
    if (is_argument_name(key, key_len, &reserved))
        return DR_OK;
    return dr_error_set(err, DR_ERR_USAGE, "argument name '%.64s' %s", key,
                        reserved ? "is reserved (DROVER_*, LD_*, PATH)"
                                 : "is not a shell name (1-128 of A-Z a-z 0-9 _, not starting with a digit)");
}

/* Printable: no control bytes (UTF-8 beyond ASCII passes). */
static int is_printable(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

static dr_status check_tag(const char *what, const char *key, size_t key_len, const char *value, dr_error *err)
{
    size_t value_len = strlen(value);
    if (key_len == 0 || key_len > DR_NAME_MAX || !is_printable(key, key_len) || memchr(key, ';', key_len) ||
        memchr(key, ',', key_len) || memchr(key, '=', key_len))
        return dr_error_set(err, DR_ERR_USAGE,
                            "%s: tag key '%.*s' must be 1-%d printable characters without '=', ';' or ','", what,
                            (int)(key_len > 64 ? 64 : key_len), key, DR_NAME_MAX);
    if (value_len > TAG_VALUE_MAX || !is_printable(value, value_len) || strchr(value, ';'))
        return dr_error_set(err, DR_ERR_USAGE, "%s: tag %.*s: the value must be 0-%d printable characters without ';'",
                            what, (int)key_len, key, TAG_VALUE_MAX);
    return DR_OK;
}

dr_status dr_check_tag(const char *what, const char *text, size_t *key_len, dr_error *err)
{
    const char *eq = strchr(text, '=');
    if (!eq)
        return dr_error_set(err, DR_ERR_USAGE, "%s: tag '%.64s' is not KEY=VALUE", what, text);
    *key_len = (size_t)(eq - text);
    return check_tag(what, text, *key_len, eq + 1, err);
}

dr_status dr_check_tag_parts(const char *what, const char *key, const char *value, dr_error *err)
{
    return check_tag(what, key, strlen(key), value, err);
}
