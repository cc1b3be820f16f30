#include "platform.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

/* os-release IDs whose Distributor platform code differs from the ID itself. */
static const struct {
    const char *id;
    const char *code;
} name_aliases[] = {
    {"rhel", "redhat"}, {"amzn", "amazon"}, {"ol", "oracle"}, {"sles", "suse"}, {"opensuse-leap", "opensuseleap"},
};

/*
 * Where a platform falls back to when a manifest has nothing for it, nearest
 * first.  These are the distributions whose packages reliably run on it; the
 * list is short on purpose, since a wrong fallback installs the wrong build.
 * exact_only drops os-release ID_LIKE as well: Amazon Linux says it is like
 * "centos rhel fedora", but Distributor treats amazon as its own platform and
 * a RHEL build is not known to work there, so amazon gets its exact key or _any.
 */
static const struct {
    const char *name;
    const char *family[3];
    int exact_only;
} family_table[] = {
    {"rocky", {"redhat"}, 0},
    {"almalinux", {"redhat"}, 0},
    {"centos", {"redhat"}, 0},
    {"oracle", {"redhat"}, 0},
    {"linuxmint", {"ubuntu", "debian"}, 0},
    {"pop", {"ubuntu", "debian"}, 0},
    {"elementary", {"ubuntu", "debian"}, 0},
    {"ubuntu", {"debian"}, 0},
    {"raspbian", {"debian"}, 0},
    {"opensuseleap", {"opensuse", "suse"}, 0},
    {"amazon", {NULL}, 1},
};

static const struct {
    const char *machine;
    const char *arch;
} arch_aliases[] = {
    {"amd64", "x86_64"}, {"x86-64", "x86_64"}, {"x64", "x86_64"}, {"aarch64", "arm64"}, {"arm64", "arm64"},
    {"i386", "386"},     {"i486", "386"},      {"i586", "386"},   {"i686", "386"},      {"x86", "386"},
};

/* Copy text lowercased into buf, truncating to fit. */
static void copy_lower(char *buf, size_t size, const char *text)
{
    size_t i = 0;
    for (; text[i] && i + 1 < size; i++)
        buf[i] = (char)tolower((unsigned char)text[i]);
    buf[i] = '\0';
}

const char *dr_platform_normalize_name(const char *id, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    copy_lower(buf, size, id ? id : "");
    for (size_t i = 0; i < sizeof name_aliases / sizeof name_aliases[0]; i++) {
        if (strcmp(buf, name_aliases[i].id) == 0) {
            snprintf(buf, size, "%s", name_aliases[i].code);
            break;
        }
    }
    return buf;
}

static void normalize_arch(const char *machine, char *buf, size_t size)
{
    copy_lower(buf, size, machine);
    for (size_t i = 0; i < sizeof arch_aliases / sizeof arch_aliases[0]; i++) {
        if (strcmp(buf, arch_aliases[i].machine) == 0) {
            snprintf(buf, size, "%s", arch_aliases[i].arch);
            return;
        }
    }
}

/* Append name to p's family unless it is p itself, already there, or there is no room. */
static void add_family(dr_platform *p, const char *name)
{
    if (!name[0] || strlen(name) >= sizeof p->family[0] || strcmp(name, p->name) == 0)
        return;
    for (size_t i = 0; i < p->family_count; i++)
        if (strcmp(p->family[i], name) == 0)
            return;
    if (p->family_count == DR_PLATFORM_FAMILY_MAX)
        return;
    snprintf(p->family[p->family_count++], sizeof p->family[0], "%s", name);
}

static void add_id_like(dr_platform *p, const char *id_like)
{
    const char *cursor = id_like;
    while (*cursor) {
        while (*cursor && isspace((unsigned char)*cursor))
            cursor++;
        size_t len = 0;
        while (cursor[len] && !isspace((unsigned char)cursor[len]))
            len++;
        if (len == 0)
            break;
        char word[64], code[64];
        /* A word too long for the family cannot be a platform code; skip it. */
        if (len < sizeof word) {
            memcpy(word, cursor, len);
            word[len] = '\0';
            add_family(p, dr_platform_normalize_name(word, code, sizeof code));
        }
        cursor += len;
    }
}

dr_status dr_platform_init(dr_platform *p, const char *name, const char *version, const char *arch, const char *id_like,
                           dr_error *err)
{
    memset(p, 0, sizeof *p);
    if (!name || !name[0])
        return dr_error_set(err, DR_ERR_USAGE, "platform name is empty");
    if (!arch || !arch[0])
        return dr_error_set(err, DR_ERR_USAGE, "platform arch is empty");
    if (!version)
        version = "";
    if (strlen(name) >= sizeof p->name)
        return dr_error_set(err, DR_ERR_USAGE, "platform name '%.64s...' is longer than %zu characters", name,
                            sizeof p->name - 1);
    if (strlen(version) >= sizeof p->version)
        return dr_error_set(err, DR_ERR_USAGE, "platform version '%.64s...' is longer than %zu characters", version,
                            sizeof p->version - 1);
    if (strlen(arch) >= sizeof p->arch)
        return dr_error_set(err, DR_ERR_USAGE, "platform arch '%.32s...' is longer than %zu characters", arch,
                            sizeof p->arch - 1);

    dr_platform_normalize_name(name, p->name, sizeof p->name);
    snprintf(p->version, sizeof p->version, "%s", version);
    normalize_arch(arch, p->arch, sizeof p->arch);

    int exact_only = 0;
    for (size_t i = 0; i < sizeof family_table / sizeof family_table[0]; i++) {
        if (strcmp(family_table[i].name, p->name) != 0)
            continue;
        exact_only = family_table[i].exact_only;
        if (!exact_only && id_like)
            add_id_like(p, id_like);
        for (size_t j = 0; j < 3 && family_table[i].family[j]; j++)
            add_family(p, family_table[i].family[j]);
        return DR_OK;
    }
    if (id_like)
        add_id_like(p, id_like);
    return DR_OK;
}

/*
 * Parse an os-release value in place: unquoted, or in "..." (backslash escapes
 * \" \\ \$ \`) or '...'.  Returns the value's start; the rest of the line is dropped.
 */
static char *os_release_value(char *value)
{
    size_t len = strlen(value);
    while (len && (value[len - 1] == '\n' || value[len - 1] == '\r' || isspace((unsigned char)value[len - 1])))
        value[--len] = '\0';
    char quote = value[0];
    if (quote != '"' && quote != '\'')
        return value;
    char *out = value;
    for (char *in = value + 1; *in && *in != quote; in++) {
        if (quote == '"' && in[0] == '\\' && in[1] && strchr("\"\\$`", in[1]))
            in++;
        *out++ = *in;
    }
    *out = '\0';
    return value;
}

dr_status dr_platform_detect(dr_platform *p, const char *os_release_path, dr_error *err)
{
    dr_status status = DR_OK;
    char *line = NULL;
    size_t line_size = 0;
    char id[64] = "linux"; /* os-release's documented default when ID is absent */
    char version[64] = "";
    char id_like[256] = "";
    const char *path = os_release_path ? os_release_path : "/etc/os-release";
    FILE *file = fopen(path, "r");
    if (!file && !os_release_path && errno == ENOENT) {
        path = "/usr/lib/os-release";
        file = fopen(path, "r");
    }
    if (!file) {
        status = dr_error_set(err, DR_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        goto cleanup;
    }
    while (getline(&line, &line_size, file) >= 0) {
        char *eq = strchr(line, '=');
        if (line[0] == '#' || !eq)
            continue;
        *eq = '\0';
        char *value = os_release_value(eq + 1);
        if (strcmp(line, "ID") == 0)
            snprintf(id, sizeof id, "%s", value);
        else if (strcmp(line, "VERSION_ID") == 0)
            snprintf(version, sizeof version, "%s", value);
        else if (strcmp(line, "ID_LIKE") == 0)
            snprintf(id_like, sizeof id_like, "%s", value);
    }
    if (ferror(file)) {
        status = dr_error_set(err, DR_ERR_IO, "reading %s failed", path);
        goto cleanup;
    }

    struct utsname host;
    if (uname(&host) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "uname failed: %s", strerror(errno));
        goto cleanup;
    }
    status = dr_platform_init(p, id, version, host.machine, id_like, err);
    if (status != DR_OK)
        dr_error_wrap(err, "platform from %s", path);

cleanup:
    free(line);
    if (file)
        fclose(file);
    return status;
}
