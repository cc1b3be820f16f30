#include "package_build.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "files.h"
#include "manifest.h"
#include "package_layout.h"

/* Whether the len bytes at part may be one manifest key ('*' only in a version, never ".."). */
static int key_part_valid(const char *part, size_t len, int is_version)
{
    if (len == 0 || len > 63)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)part[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != '-' && !(is_version && c == '*'))
            return 0;
        if (c == '.' && i + 1 < len && part[i + 1] == '.')
            return 0;
    }
    return 1;
}

/* Copy the len bytes at text into key (64 bytes) when they are a manifest key; 0 when not. */
static int take_key(const char *text, size_t len, int is_version, char key[64])
{
    if (!key_part_valid(text, len, is_version))
        return 0;
    snprintf(key, 64, "%.*s", (int)len, text);
    return 1;
}

int dr_package_split_keys(const char *text, size_t len, int arch_optional, char platform[64], char version[64],
                          char arch[64])
{
    const char *end = text + len;
    const char *first = memchr(text, '@', len);
    const char *second = first ? memchr(first + 1, '@', (size_t)(end - first - 1)) : NULL;
    const char *version_end = second ? second : end;
    arch[0] = '\0';
    if (!first || (!second && !arch_optional) || (second && memchr(second + 1, '@', (size_t)(end - second - 1))))
        return 0;
    return take_key(text, (size_t)(first - text), 0, platform) &&
           take_key(first + 1, (size_t)(version_end - first - 1), 1, version) &&
           (!second || take_key(second + 1, (size_t)(end - second - 1), 0, arch));
}

static void part_release(dr_package_part *part)
{
    free(part->label);
    free(part->source);
    free(part->file_name);
}

dr_status dr_package_parts_add(dr_package_parts *parts, const char *label, const char *source, int is_dir,
                               const char *platform, const char *version, const char *arch, dr_error *err)
{
    dr_status status = DR_OK;
    dr_package_part part = {0};
    if (!key_part_valid(platform, strlen(platform), 0) || !key_part_valid(version, strlen(version), 1) ||
        !key_part_valid(arch, strlen(arch), 0)) {
        status = dr_error_set(err, DR_ERR_USAGE,
                              "%s: platform %s, version %s, arch %s is not a manifest key "
                              "(1-63 of A-Z a-z 0-9 _ . -, '*' only in the version)",
                              label, platform, version, arch);
        goto cleanup;
    }
    part.is_dir = is_dir;
    snprintf(part.platform, sizeof part.platform, "%s", platform);
    snprintf(part.version, sizeof part.version, "%s", version);
    snprintf(part.arch, sizeof part.arch, "%s", arch);
    part.label = strdup(label);
    part.source = strdup(source);
    if (!part.label || !part.source || asprintf(&part.file_name, "%s@%s@%s.zip", platform, version, arch) < 0) {
        part.file_name = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory adding %s", label);
        goto cleanup;
    }
    dr_package_part *grown = realloc(parts->items, (parts->count + 1) * sizeof *grown);
    if (!grown) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory adding %s", label);
        goto cleanup;
    }
    parts->items = grown;
    parts->items[parts->count++] = part;
    memset(&part, 0, sizeof part); /* now owned by parts */

cleanup:
    part_release(&part);
    return status;
}

void dr_package_parts_free(dr_package_parts *parts)
{
    for (size_t i = 0; i < parts->count; i++)
        part_release(&parts->items[i]);
    free(parts->items);
    parts->items = NULL;
    parts->count = 0;
}

char *dr_package_out_path(const char *out, const char *name, const char *version)
{
    char *path = NULL;
    if (out ? asprintf(&path, "%s", out) < 0 : asprintf(&path, "./%s-%s", name, version) < 0)
        return NULL;
    for (size_t len = strlen(path); len > 1 && path[len - 1] == '/'; len--)
        path[len - 1] = '\0';
    return path;
}

static int compare_parts(const void *a, const void *b)
{
    return strcmp(((const dr_package_part *)a)->file_name, ((const dr_package_part *)b)->file_name);
}

/* The quotas and one part per platform/version/arch, checked before anything is zipped so a bad set fails fast. */
static dr_status check_parts(dr_package_parts *parts, dr_error *err)
{
    if (parts->count == 0)
        return dr_error_set(err, DR_ERR_USAGE, "a package needs at least one file");
    if (parts->count > DR_PACKAGE_MAX_FILES)
        return dr_error_set(err, DR_ERR_USAGE, "%zu files; a package may have at most %d files", parts->count,
                            DR_PACKAGE_MAX_FILES);
    qsort(parts->items, parts->count, sizeof *parts->items, compare_parts);
    for (size_t i = 1; i < parts->count; i++) {
        const dr_package_part *a = &parts->items[i - 1], *b = &parts->items[i];
        if (strcmp(a->file_name, b->file_name) == 0)
            return dr_error_set(err, DR_ERR_USAGE, "both %s and %s are for %s %s %s; keep one", a->label, b->label,
                                b->platform, b->version, b->arch);
    }
    return DR_OK;
}

/* Put part's zip into out_dir as part->file_name, checked against the quotas and layout rules, and hash it. */
static dr_status stage_zip(dr_package_part *part, const char *out_dir, dr_error *err)
{
    dr_status status = DR_OK;
    char *dest = NULL;
    if (asprintf(&dest, "%s/%s", out_dir, part->file_name) < 0) {
        dest = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (part->is_dir) {
        status = dr_archive_create_from_dir(part->source, dest, err);
        if (status != DR_OK) {
            dr_error_wrap(err, "zipping %s", part->label);
            goto cleanup;
        }
        struct stat st;
        if (stat(dest, &st) != 0) {
            status = dr_error_set(err, DR_ERR_IO, "%s: %s", dest, strerror(errno));
            goto cleanup;
        }
        if (st.st_size > DR_PACKAGE_MAX_ZIP_BYTES) {
            status = dr_error_set(err, DR_ERR_USAGE, "%s: zips to %lld bytes; a package zip may be at most 1 GiB",
                                  part->label, (long long)st.st_size);
            goto cleanup;
        }
        status = dr_package_layout_check_zip(dest, part->label, err);
    } else {
        /* Check the zip where it is, so a bad one is never copied. */
        status = dr_package_layout_check_zip(part->source, part->label, err);
        if (status == DR_OK)
            status = dr_copy_file(part->source, dest, err);
    }
    if (status != DR_OK)
        goto cleanup;
    status = dr_sha256_file_hex(dest, part->sha256, err);

cleanup:
    free(dest);
    return status;
}

/* parent[key] as an object, created when absent; NULL when out of memory. */
static json_t *child_object(json_t *parent, const char *key)
{
    json_t *child = json_object_get(parent, key);
    if (child)
        return child;
    child = json_object();
    if (!child || json_object_set_new(parent, key, child) != 0)
        return NULL;
    return child;
}

/* The manifest text for parts: pretty-printed, keys sorted, ending in a newline.  Caller frees. */
static char *manifest_json(const dr_package_parts *parts, const char *version, const char *publisher)
{
    char *text = NULL;
    int failed = 0;
    json_t *root = json_object();
    json_t *packages = json_object();
    json_t *files = json_object();
    if (!root || !packages || !files) {
        json_decref(packages);
        json_decref(files);
        goto cleanup;
    }
    failed |= json_object_set_new(root, "schemaVersion", json_string("2.0"));
    failed |= json_object_set_new(root, "version", json_string(version));
    if (publisher)
        failed |= json_object_set_new(root, "publisher", json_string(publisher));
    failed |= json_object_set_new(root, "packages", packages);
    failed |= json_object_set_new(root, "files", files);
    for (size_t i = 0; i < parts->count && !failed; i++) {
        const dr_package_part *part = &parts->items[i];
        json_t *arches = child_object(child_object(packages, part->platform), part->version);
        failed |= !arches;
        if (arches)
            failed |= json_object_set_new(arches, part->arch, json_pack("{s:s}", "file", part->file_name));
        failed |=
            json_object_set_new(files, part->file_name, json_pack("{s:{s:s}}", "checksums", "sha256", part->sha256));
    }
    if (failed)
        goto cleanup;
    char *dumped = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (dumped && asprintf(&text, "%s\n", dumped) < 0)
        text = NULL;
    free(dumped);

cleanup:
    json_decref(root);
    return text;
}

static dr_status write_text_file(const char *path, const char *text, dr_error *err)
{
    dr_status status = DR_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (dr_write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "writing %s: %s", path, strerror(errno));
        goto cleanup;
    }

cleanup:
    if (fd >= 0 && close(fd) != 0 && status == DR_OK)
        status = dr_error_set(err, DR_ERR_IO, "writing %s: %s", path, strerror(errno));
    return status;
}

/* The manifest for parts, checked to parse as the worker will read it, written into dir. */
static dr_status write_manifest(const char *dir, const dr_package_parts *parts, const char *version,
                                const char *publisher, dr_error *err)
{
    dr_status status = DR_OK;
    char *manifest_path = NULL;
    dr_manifest *check = NULL;
    char *text = manifest_json(parts, version, publisher);
    if (!text) {
        status =
            dr_error_set(err, DR_ERR_NOMEM, "cannot write the manifest: out of memory, or --publisher is not UTF-8");
        goto cleanup;
    }
    /* A failure here is a bug in the writer, not in the input. */
    status = dr_manifest_parse(text, strlen(text), &check, err);
    if (status != DR_OK) {
        dr_error_wrap(err, "built manifest does not parse (a bug)");
        status = err->status = DR_ERR_INTERNAL;
        goto cleanup;
    }
    if (asprintf(&manifest_path, "%s/manifest.json", dir) < 0) {
        manifest_path = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    status = write_text_file(manifest_path, text, err);

cleanup:
    dr_manifest_free(check);
    free(manifest_path);
    free(text);
    return status;
}

dr_status dr_package_write(const char *out, const char *version, const char *publisher, dr_package_parts *parts,
                           dr_error *err)
{
    dr_status status = DR_OK;
    char *staging = NULL;
    struct stat st;
    if (lstat(out, &st) == 0) {
        status = dr_error_set(err, DR_ERR_IO, "%s already exists; remove it or choose another --out", out);
        goto cleanup;
    }
    status = check_parts(parts, err);
    if (status != DR_OK)
        goto cleanup;
    char *prefix = NULL;
    if (asprintf(&prefix, "%s.tmp-", out) < 0) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    status = dr_make_temp_directory(prefix, &staging, err);
    free(prefix);
    if (status != DR_OK)
        goto cleanup;
    for (size_t i = 0; i < parts->count && status == DR_OK; i++)
        status = stage_zip(&parts->items[i], staging, err);
    if (status == DR_OK)
        status = write_manifest(staging, parts, version, publisher, err);
    if (status != DR_OK)
        goto cleanup;
    if (rename(staging, out) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot rename %s to %s: %s", staging, out, strerror(errno));
        goto cleanup;
    }

cleanup:
    if (status != DR_OK && staging)
        dr_remove_tree(staging, NULL); /* best effort: the error that brought us here is the one to report */
    free(staging);
    return status;
}
