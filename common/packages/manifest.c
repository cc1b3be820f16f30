#include "manifest.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "strbuf.h"

#define VERSION_MAX 128
#define KEY_MAX 63 /* the selection's key buffers hold 64 bytes */

struct dr_manifest {
    json_t *root; /* owns the strings version/publisher point into */
    const char *version;
    const char *publisher;
    const json_t *packages;
    dr_manifest_file *files;
    size_t file_count;
};

/* A fixed buffer appended to with printf, truncating (never overflowing) when full. */
typedef struct text_buffer {
    char *data;
    size_t size;
    size_t len;
} text_buffer;

__attribute__((format(printf, 2, 3))) static void text_append(text_buffer *buf, const char *fmt, ...)
{
    if (buf->len + 1 >= buf->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf->data + buf->len, buf->size - buf->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        buf->len = buf->len + (size_t)n < buf->size ? buf->len + (size_t)n : buf->size - 1;
}

/* ---- versions ---- */

static int is_number(const char *part, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)part[i]))
            return 0;
    return 1;
}

/* Compare one dotted part: as numbers of any length when both are numeric, else as strings. */
static int compare_part(const char *a, size_t a_len, const char *b, size_t b_len)
{
    if (is_number(a, a_len) && is_number(b, b_len)) {
        while (a_len > 1 && *a == '0')
            a++, a_len--;
        while (b_len > 1 && *b == '0')
            b++, b_len--;
        if (a_len != b_len)
            return a_len < b_len ? -1 : 1;
        return memcmp(a, b, a_len);
    }
    size_t common = a_len < b_len ? a_len : b_len;
    int diff = memcmp(a, b, common);
    if (diff != 0)
        return diff;
    return a_len == b_len ? 0 : a_len < b_len ? -1 : 1;
}

/* The next part of a dotted version at *cursor, or "0" once the version has run out. */
static const char *next_part(const char **cursor, size_t *len)
{
    const char *start = *cursor;
    if (!start) {
        *len = 1;
        return "0";
    }
    const char *dot = strchr(start, '.');
    *len = dot ? (size_t)(dot - start) : strlen(start);
    *cursor = dot ? dot + 1 : NULL;
    return start;
}

int dr_version_compare(const char *a, const char *b)
{
    const char *ca = a, *cb = b;
    while (ca || cb) {
        size_t a_len, b_len;
        const char *pa = next_part(&ca, &a_len);
        const char *pb = next_part(&cb, &b_len);
        int diff = compare_part(pa, a_len, pb, b_len);
        if (diff != 0)
            return diff < 0 ? -1 : 1;
    }
    return 0;
}

/*
 * How many dotted parts a wildcard key "7.9.*" fixes (2), or 0 when key is
 * not such a wildcard.  Bare "*" is not counted here: it is the last resort.
 */
static size_t wildcard_parts(const char *key)
{
    size_t len = strlen(key);
    if (len < 3 || strcmp(key + len - 2, ".*") != 0)
        return 0;
    size_t parts = 1;
    for (size_t i = 0; i < len - 2; i++) {
        if (key[i] == '*')
            return 0;
        if (key[i] == '.')
            parts++;
    }
    return parts;
}

/* True when version starts with the parts of wildcard key "7.9.*" (missing parts of version count as 0). */
static int wildcard_matches(const char *key, const char *version)
{
    size_t prefix_len = strlen(key) - 2;
    const char *ck = key, *cv = version;
    size_t consumed = 0;
    while (consumed < prefix_len) {
        size_t k_len, v_len;
        const char *pk = next_part(&ck, &k_len);
        const char *pv = next_part(&cv, &v_len);
        if (consumed + k_len > prefix_len)
            k_len = prefix_len - consumed;
        if (compare_part(pk, k_len, pv, v_len) != 0)
            return 0;
        consumed += k_len + 1;
    }
    return 1;
}

/* ---- parsing and validation ---- */

/* Distributor's rule for a package version (and name): 1-128 of [A-Za-z0-9_.-]. */
static dr_status check_version(const char *version, dr_error *err)
{
    size_t len = strlen(version);
    if (len == 0)
        return dr_error_set(err, DR_ERR_MANIFEST, "version: empty");
    if (len > VERSION_MAX)
        return dr_error_set(err, DR_ERR_MANIFEST, "version: %zu characters; at most %d are allowed", len, VERSION_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)version[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != '-')
            return dr_error_set(err, DR_ERR_MANIFEST, "version: '%s' has '%c'; only A-Z a-z 0-9 _ . - are allowed",
                                version, isprint(c) ? c : '?');
    }
    return DR_OK;
}

/* Why name cannot be a file name beside the manifest, or NULL when it can. */
static const char *unsafe_file_name_reason(const char *name)
{
    if (!name[0])
        return "empty";
    if (strchr(name, '/'))
        return "contains '/'";
    if (strchr(name, '\\'))
        return "contains '\\'";
    if (strstr(name, ".."))
        return "contains '..'";
    if (strcmp(name, ".") == 0)
        return "is '.'";
    for (const char *c = name; *c; c++)
        if (iscntrl((unsigned char)*c))
            return "contains a control character";
    return NULL;
}

static dr_status check_key(const char *path, const char *key, dr_error *err)
{
    if (!key[0])
        return dr_error_set(err, DR_ERR_MANIFEST, "%s: empty key", path);
    if (strlen(key) > KEY_MAX)
        return dr_error_set(err, DR_ERR_MANIFEST, "%s.%.40s...: key longer than %d characters", path, key, KEY_MAX);
    return DR_OK;
}

static const dr_manifest_file *find_file(const dr_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->file_count; i++)
        if (strcmp(m->files[i].name, name) == 0)
            return &m->files[i];
    return NULL;
}

static dr_status parse_files(dr_manifest *m, const json_t *files, dr_error *err)
{
    if (!json_is_object(files))
        return dr_error_set(err, DR_ERR_MANIFEST, files ? "files: not an object" : "files: missing");
    m->files = calloc(json_object_size(files) ? json_object_size(files) : 1, sizeof *m->files);
    if (!m->files)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory reading files");
    const char *name;
    const json_t *entry;
    json_object_foreach((json_t *)files, name, entry)
    {
        const char *reason = unsafe_file_name_reason(name);
        if (reason)
            return dr_error_set(err, DR_ERR_MANIFEST, "files.%s: unsafe file name (%s)", name, reason);
        if (!json_is_object(entry))
            return dr_error_set(err, DR_ERR_MANIFEST, "files.%s: not an object", name);
        const json_t *checksums = json_object_get(entry, "checksums");
        if (!json_is_object(checksums))
            return dr_error_set(err, DR_ERR_MANIFEST,
                                checksums ? "files.%s.checksums: not an object"
                                          : "files.%s.checksums: missing; a sha256 is required",
                                name);
        if (json_object_size(checksums) == 0)
            return dr_error_set(err, DR_ERR_MANIFEST, "files.%s.checksums: empty; a sha256 is required", name);
        const json_t *sha = json_object_get(checksums, "sha256");
        if (!sha)
            return dr_error_set(err, DR_ERR_MANIFEST, "files.%s.checksums: no sha256; a sha256 is required", name);
        if (!json_is_string(sha) || !dr_sha256_is_hex(json_string_value(sha)))
            return dr_error_set(err, DR_ERR_MANIFEST, "files.%s.checksums.sha256: '%.80s' is not 64 hex digits", name,
                                json_is_string(sha) ? json_string_value(sha) : "(not a string)");
        dr_manifest_file *file = &m->files[m->file_count];
        file->name = strdup(name);
        file->sha256 = strdup(json_string_value(sha));
        m->file_count++; /* counted now so dr_manifest_free frees a half-filled entry */
        if (!file->name || !file->sha256)
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory reading files");
        for (char *c = file->sha256; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    }
    return DR_OK;
}

static dr_status parse_packages(const dr_manifest *m, const json_t *packages, dr_error *err)
{
    if (!json_is_object(packages))
        return dr_error_set(err, DR_ERR_MANIFEST, packages ? "packages: not an object" : "packages: missing");
    if (json_object_size(packages) == 0)
        return dr_error_set(err, DR_ERR_MANIFEST, "packages: empty; at least one file is required");
    const char *platform, *version, *arch;
    const json_t *versions, *arches, *entry;
    json_object_foreach((json_t *)packages, platform, versions)
    {
        dr_status status = check_key("packages", platform, err);
        if (status != DR_OK)
            return status;
        if (!json_is_object(versions) || json_object_size(versions) == 0)
            return dr_error_set(err, DR_ERR_MANIFEST, "packages.%s: not a non-empty object of versions", platform);
        json_object_foreach((json_t *)versions, version, arches)
        {
            char path[256];
            snprintf(path, sizeof path, "packages.%s", platform);
            status = check_key(path, version, err);
            if (status != DR_OK)
                return status;
            if (!json_is_object(arches) || json_object_size(arches) == 0)
                return dr_error_set(err, DR_ERR_MANIFEST, "packages.%s.%s: not a non-empty object of arches", platform,
                                    version);
            json_object_foreach((json_t *)arches, arch, entry)
            {
                snprintf(path, sizeof path, "packages.%s.%s", platform, version);
                status = check_key(path, arch, err);
                if (status != DR_OK)
                    return status;
                const json_t *file = json_object_get(entry, "file");
                if (!json_is_string(file))
                    return dr_error_set(err, DR_ERR_MANIFEST, "packages.%s.%s.%s.file: %s", platform, version, arch,
                                        file ? "not a string" : "missing");
                if (!find_file(m, json_string_value(file)))
                    return dr_error_set(err, DR_ERR_MANIFEST, "packages.%s.%s.%s.file: '%s' is not in files", platform,
                                        version, arch, json_string_value(file));
            }
        }
    }
    return DR_OK;
}

/* What kind of JSON error jerr is, in words that quote nothing of the document. */
static const char *json_error_kind(const json_error_t *jerr)
{
    switch (json_error_code(jerr)) {
    case json_error_out_of_memory:
        return "out of memory";
    case json_error_stack_overflow:
        return "nested too deep";
    case json_error_invalid_utf8:
        return "invalid UTF-8";
    case json_error_premature_end_of_input:
        return "unexpected end of input";
    case json_error_end_of_input_expected:
        return "text after the end of the document";
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return "a NUL byte";
    case json_error_duplicate_key:
        return "a duplicate object key";
    case json_error_numeric_overflow:
        return "a number out of range";
    default:
        return "invalid syntax";
    }
}

dr_status dr_manifest_parse(const char *text, size_t len, dr_manifest **out, dr_error *err)
{
    dr_status status = DR_OK;
    *out = NULL;
    dr_manifest *m = calloc(1, sizeof *m);
    if (!m) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory reading the manifest");
        goto cleanup;
    }
    json_error_t jerr;
    /* Duplicate keys would make "which file is for ubuntu" depend on the parser; refuse them. */
    m->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!m->root) {
        /* Where and what kind, never jansson's text: it quotes the bytes ("near 'root:x:0:0'"). */
        status = dr_error_set(err, DR_ERR_MANIFEST, "not valid JSON (line %d, column %d: %s)", jerr.line, jerr.column,
                              json_error_kind(&jerr));
        goto cleanup;
    }
    if (!json_is_object(m->root)) {
        status = dr_error_set(err, DR_ERR_MANIFEST, "top level: not an object");
        goto cleanup;
    }
    const json_t *schema = json_object_get(m->root, "schemaVersion");
    if (!schema || !json_is_string(schema)) {
        status =
            dr_error_set(err, DR_ERR_MANIFEST, "schemaVersion: %s; want \"2.0\"", schema ? "not a string" : "missing");
        goto cleanup;
    }
    if (strcmp(json_string_value(schema), "2.0") != 0) {
        status = dr_error_set(err, DR_ERR_MANIFEST, "schemaVersion: '%.40s' is not supported; want \"2.0\"",
                              json_string_value(schema));
        goto cleanup;
    }
    const json_t *version = json_object_get(m->root, "version");
    if (!json_is_string(version)) {
        status = dr_error_set(err, DR_ERR_MANIFEST, version ? "version: not a string" : "version: missing");
        goto cleanup;
    }
    m->version = json_string_value(version);
    status = check_version(m->version, err);
    if (status != DR_OK)
        goto cleanup;
    const json_t *publisher = json_object_get(m->root, "publisher");
    if (publisher && !json_is_string(publisher)) {
        status = dr_error_set(err, DR_ERR_MANIFEST, "publisher: not a string");
        goto cleanup;
    }
    m->publisher = publisher ? json_string_value(publisher) : NULL;
    status = parse_files(m, json_object_get(m->root, "files"), err);
    if (status != DR_OK)
        goto cleanup;
    m->packages = json_object_get(m->root, "packages");
    status = parse_packages(m, m->packages, err);
    if (status != DR_OK)
        goto cleanup;
    *out = m;
    m = NULL;

cleanup:
    dr_manifest_free(m);
    return status;
}

dr_status dr_manifest_load(const char *path, dr_manifest **out, dr_error *err)
{
    dr_strbuf text = DR_STRBUF_INIT;
    *out = NULL;
    dr_status status = dr_strbuf_read_file(&text, path, DR_MANIFEST_MAX_BYTES, DR_ERR_IO, err);
    if (status == DR_OK && (status = dr_manifest_parse(dr_strbuf_str(&text), text.len, out, err)) != DR_OK)
        dr_error_wrap(err, "manifest %s", path);
    dr_strbuf_free(&text);
    return status;
}

void dr_manifest_free(dr_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->file_count; i++) {
        free(m->files[i].name);
        free(m->files[i].sha256);
    }
    free(m->files);
    json_decref(m->root);
    free(m);
}

const char *dr_manifest_version(const dr_manifest *m)
{
    return m->version;
}

const char *dr_manifest_publisher(const dr_manifest *m)
{
    return m->publisher;
}

size_t dr_manifest_file_count(const dr_manifest *m)
{
    return m->file_count;
}

const dr_manifest_file *dr_manifest_file_at(const dr_manifest *m, size_t index)
{
    return index < m->file_count ? &m->files[index] : NULL;
}

/* ---- selection ---- */

/* Why a version key matched, in order of preference. */
typedef enum version_match {
    MATCH_EXACT,    /* the same string */
    MATCH_EQUAL,    /* an equal version: 2.0 for 2 */
    MATCH_WILDCARD, /* "7.*"; longer wildcards first */
    MATCH_ANY,      /* "_any" */
    MATCH_STAR,     /* "*" */
    MATCH_NONE,
} version_match;

typedef struct version_candidate {
    const char *key;
    const json_t *arches;
    version_match match;
    size_t parts; /* for wildcards: how many parts the key fixes */
} version_candidate;

static version_match classify_version(const char *key, const char *version, size_t *parts)
{
    *parts = 0;
    if (strcmp(key, "_any") == 0)
        return MATCH_ANY;
    if (strcmp(key, "*") == 0)
        return MATCH_STAR;
    if (!version[0])
        return MATCH_NONE; /* a host without VERSION_ID matches only _any and * */
    *parts = wildcard_parts(key);
    if (*parts)
        return wildcard_matches(key, version) ? MATCH_WILDCARD : MATCH_NONE;
    if (strcmp(key, version) == 0)
        return MATCH_EXACT;
    if (strchr(key, '*'))
        return MATCH_NONE;
    return dr_version_compare(key, version) == 0 ? MATCH_EQUAL : MATCH_NONE;
}

static int candidate_before(const version_candidate *a, const version_candidate *b)
{
    if (a->match != b->match)
        return a->match < b->match;
    return a->parts > b->parts;
}

/*
 * The version keys of one platform that match version, best first (stable:
 * ties keep manifest order).  Returns the count; candidates has room for all keys.
 */
static size_t version_candidates(const json_t *versions, const char *version, version_candidate *candidates)
{
    size_t count = 0;
    const char *key;
    const json_t *arches;
    json_object_foreach((json_t *)versions, key, arches)
    {
        version_candidate c = {key, arches, MATCH_NONE, 0};
        c.match = classify_version(key, version, &c.parts);
        if (c.match == MATCH_NONE)
            continue;
        size_t at = count;
        while (at > 0 && candidate_before(&c, &candidates[at - 1])) {
            candidates[at] = candidates[at - 1];
            at--;
        }
        candidates[at] = c;
        count++;
    }
    return count;
}

static void describe_version(text_buffer *rule, const version_candidate *c, const char *version)
{
    switch (c->match) {
    case MATCH_EXACT:
        text_append(rule, "version %s (exact)", c->key);
        break;
    case MATCH_EQUAL:
        text_append(rule, "version %s (equal version to %s)", c->key, version);
        break;
    case MATCH_WILDCARD:
        text_append(rule, "version %s (wildcard)", c->key);
        break;
    default:
        text_append(rule, "version %s", c->key);
        break;
    }
}

/* The names to try at the platform level: the exact name, its family, then _any, without repeats. */
static size_t platform_candidates(const dr_platform *p, const char *names[DR_PLATFORM_FAMILY_MAX + 2])
{
    size_t count = 0;
    names[count++] = p->name;
    for (size_t i = 0; i < p->family_count && i < DR_PLATFORM_FAMILY_MAX; i++)
        names[count++] = p->family[i];
    names[count++] = "_any";
    size_t unique = 0;
    for (size_t i = 0; i < count; i++) {
        size_t j = 0;
        while (j < unique && strcmp(names[j], names[i]) != 0)
            j++;
        if (j == unique)
            names[unique++] = names[i];
    }
    return unique;
}

static void list_keys(text_buffer *buf, const json_t *object)
{
    const char *key;
    const json_t *value;
    const char *sep = "";
    json_object_foreach((json_t *)object, key, value)
    {
        (void)value;
        text_append(buf, "%s%s", sep, key);
        sep = ", ";
    }
}

/* Fill out when an arch of c fits p; returns 1 when it did. */
static int try_arches(const dr_manifest *m, const dr_platform *p, const char *platform_key, const char *platform_why,
                      const version_candidate *c, dr_manifest_selection *out)
{
    const char *arch_keys[2] = {p->arch, "_any"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *entry = json_object_get(c->arches, arch_keys[i]);
        if (!entry)
            continue;
        out->file = find_file(m, json_string_value(json_object_get(entry, "file")));
        snprintf(out->platform_key, sizeof out->platform_key, "%s", platform_key);
        snprintf(out->version_key, sizeof out->version_key, "%s", c->key);
        snprintf(out->arch_key, sizeof out->arch_key, "%s", arch_keys[i]);
        text_buffer rule = {out->rule, sizeof out->rule, 0};
        out->rule[0] = '\0';
        text_append(&rule, "platform %s%s, ", platform_key, platform_why);
        describe_version(&rule, c, p->version);
        text_append(&rule, ", arch %s%s", arch_keys[i], i == 0 && strcmp(arch_keys[i], "_any") != 0 ? " (exact)" : "");
        return 1;
    }
    return 0;
}

dr_status dr_manifest_select_file(const dr_manifest *m, const dr_platform *p, dr_manifest_selection *out, dr_error *err)
{
    dr_status status = DR_OK;
    version_candidate *candidates = NULL;
    char tried_text[DR_ERROR_DETAIL_MAX];
    text_buffer tried = {tried_text, sizeof tried_text, 0};
    tried_text[0] = '\0';
    memset(out, 0, sizeof *out);

    const char *names[DR_PLATFORM_FAMILY_MAX + 2];
    size_t name_count = platform_candidates(p, names);
    text_append(&tried, "no file for %s %s %s: tried platforms ", p->name, p->version[0] ? p->version : "(no version)",
                p->arch);
    for (size_t i = 0; i < name_count; i++)
        text_append(&tried, "%s%s", i ? ", " : "", names[i]);

    for (size_t i = 0; i < name_count; i++) {
        const json_t *versions = json_object_get(m->packages, names[i]);
        if (!versions) {
            text_append(&tried, "; %s not in manifest", names[i]);
            continue;
        }
        char why[128] = "";
        if (i == 0 && strcmp(names[i], "_any") != 0)
            snprintf(why, sizeof why, " (exact)");
        else if (strcmp(names[i], "_any") != 0)
            snprintf(why, sizeof why, " (family of %s)", p->name);

        free(candidates);
        candidates = calloc(json_object_size(versions), sizeof *candidates);
        if (!candidates) {
            status = dr_error_set(err, DR_ERR_NOMEM, "out of memory selecting a file");
            goto cleanup;
        }
        size_t count = version_candidates(versions, p->version, candidates);
        for (size_t j = 0; j < count; j++)
            if (try_arches(m, p, names[i], why, &candidates[j], out))
                goto cleanup;

        /* Nothing here: say what this platform offered, and which matching versions lacked the arch. */
        text_append(&tried, "; %s had versions ", names[i]);
        list_keys(&tried, versions);
        for (size_t j = 0; j < count; j++) {
            text_append(&tried, "%s%s had arches ", j ? "; " : " (", candidates[j].key);
            list_keys(&tried, candidates[j].arches);
        }
        if (count)
            text_append(&tried, ")");
    }
    status = dr_error_set(err, DR_ERR_NO_PLATFORM_MATCH, "%s", tried_text);

cleanup:
    free(candidates);
    return status;
}
