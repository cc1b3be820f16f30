/*
 * packages.c - the package registry over the packages table.
 */
#include "packages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifest_fetch.h"
#include "messages.h"
#include "strbuf.h"
#include "proto_wire.h"
#include "request_signing.h"

dr_status dr_package_fetch_manifest(const char *url, const dr_fetch_options *opt, char sha256[DR_SHA256_HEX_SIZE],
                                    dr_manifest **out, dr_error *err)
{
    const char *tmp = getenv("TMPDIR");
    dr_fetch_options defaults;
    dr_fetch_options_default(&defaults);
    defaults.timeout_seconds = 120;
    dr_status status = dr_fetch_global_init();
    if (status != DR_OK)
        return dr_error_set(err, status, "cannot start libcurl");
    status = dr_manifest_fetch(url, opt ? opt : &defaults, tmp && tmp[0] ? tmp : "/tmp", NULL, sha256, out, err);
    if (status == DR_ERR_MANIFEST)
        dr_error_wrap(err, "manifest %s", url);
    return status;
}

char *dr_package_absolute_location(const char *location)
{
    char *absolute = NULL;
    if (strstr(location, "://") || location[0] == '/')
        return strdup(location);
    char *cwd = getcwd(NULL, 0);
    while (strncmp(location, "./", 2) == 0)
        location += 2;
    if (cwd && asprintf(&absolute, "%s/%s", cwd, location) < 0)
        absolute = NULL;
    free(cwd);
    return absolute;
}

dr_status dr_package_lookup(const dr_table *packages, const char *name, Drover__V1__PackageVersions **out,
                            dr_error *err)
{
    *out = NULL;
    const dr_table_row *row = dr_table_get(packages, name);
    if (!row)
        return DR_OK;
    dr_status status = dr_package_versions_decode(row->value, row->value_len, out, err);
    if (status != DR_OK)
        dr_error_wrap(err, "package %s: its entry in the packages topic is damaged", name);
    return status;
}

const Drover__V1__PackageVersion *dr_package_find_version(const Drover__V1__PackageVersions *package,
                                                          const char *version)
{
    for (size_t i = 0; i < package->n_versions; i++)
        if (package->versions[i]->version && strcmp(package->versions[i]->version, version) == 0)
            return package->versions[i];
    return NULL;
}

static int compare_versions(const void *a, const void *b)
{
    const Drover__V1__PackageVersion *x = *(const Drover__V1__PackageVersion *const *)a;
    const Drover__V1__PackageVersion *y = *(const Drover__V1__PackageVersion *const *)b;
    int order = dr_version_compare(x->version, y->version);
    /* 2 and 2.0 compare equal; keep a stable order between them. */
    return order ? order : strcmp(x->version, y->version);
}

const Drover__V1__PackageVersion **dr_package_sorted_versions(const Drover__V1__PackageVersions *package)
{
    const Drover__V1__PackageVersion **sorted = calloc(package->n_versions + 1, sizeof *sorted);
    if (!sorted)
        return NULL;
    for (size_t i = 0; i < package->n_versions; i++)
        sorted[i] = package->versions[i];
    qsort(sorted, package->n_versions, sizeof *sorted, compare_versions);
    return sorted;
}

/* "no version V of P; published: 1.0, 2.0" as an error. */
static dr_status unknown_version(const Drover__V1__PackageVersions *package, const char *version, dr_error *err)
{
    dr_strbuf list = DR_STRBUF_INIT;
    const Drover__V1__PackageVersion **sorted = dr_package_sorted_versions(package);
    for (size_t i = 0; sorted && i < package->n_versions; i++)
        dr_strbuf_printf(&list, "%s%s", i ? ", " : "", sorted[i]->version);
    dr_status status = dr_error_set(err, DR_ERR_USAGE, "package %s has no version %s; published: %s", package->name,
                                    version, package->n_versions ? dr_strbuf_str(&list) : "none");
    free(sorted);
    dr_strbuf_free(&list);
    return status;
}

dr_status dr_package_resolve(const dr_table *packages, const char *name, const char *version,
                             Drover__V1__PackageVersions **package_out, const Drover__V1__PackageVersion **version_out,
                             dr_error *err)
{
    *version_out = NULL;
    dr_status status = dr_package_lookup(packages, name, package_out, err);
    if (status != DR_OK)
        return status;
    if (!*package_out)
        return dr_error_set(err, DR_ERR_USAGE,
                            "package %s was never published (drover-producer package list shows those that were)",
                            name);
    const Drover__V1__PackageVersions *package = *package_out;
    if (!version) {
        if (!package->default_version || !package->default_version[0])
            return dr_error_set(err, DR_ERR_USAGE, "package %s has no default version; give --version", name);
        version = package->default_version;
    }
    *version_out = dr_package_find_version(package, version);
    if (!*version_out)
        return unknown_version(package, version, err);
    return DR_OK;
}

/* Encode next, signed by operator_key; the one place both changes end. */
static dr_status encode(const Drover__V1__PackageVersions *next, const dr_key *operator_key, uint8_t **bytes,
                        size_t *len, dr_error *err)
{
    return dr_request_encode(operator_key, &next->base, bytes, len, err);
}

/* version as the publish request: with the package's name, signed, and decoded back (free it). */
static dr_status sign_version(const char *name, const Drover__V1__PackageVersion *version, const dr_key *operator_key,
                              Drover__V1__PackageVersion **out, dr_error *err)
{
    Drover__V1__PackageVersion named = *version;
    named.package = (char *)name;
    uint8_t *bytes = NULL;
    size_t len = 0;
    dr_status status = dr_request_encode(operator_key, &named.base, &bytes, &len, err);
    if (status == DR_OK && !(*out = drover__v1__package_version__unpack(NULL, len, bytes)))
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory signing package %s", name);
    free(bytes);
    return status;
}

dr_status dr_package_encode_with_version(const Drover__V1__PackageVersions *current, const char *name,
                                         const Drover__V1__PackageVersion *unsigned_version, const dr_key *operator_key,
                                         int *replaced, uint8_t **bytes, size_t *len, dr_error *err)
{
    Drover__V1__PackageVersion *version = NULL;
    dr_status status = sign_version(name, unsigned_version, operator_key, &version, err);
    if (status != DR_OK)
        return status;
    size_t count = current ? current->n_versions : 0;
    /* The new entry borrows current's versions: only the pointer array is ours. */
    Drover__V1__PackageVersion **versions = calloc(count + 1, sizeof *versions);
    if (!versions) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    *replaced = 0;
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        Drover__V1__PackageVersion *existing = current->versions[i];
        if (existing->version && strcmp(existing->version, version->version) == 0) {
            versions[n++] = (Drover__V1__PackageVersion *)version;
            *replaced = 1;
        } else {
            versions[n++] = existing;
        }
    }
    if (!*replaced)
        versions[n++] = (Drover__V1__PackageVersion *)version;

    Drover__V1__PackageVersions next = DROVER__V1__PACKAGE_VERSIONS__INIT;
    next.schema_version = DR_SCHEMA_VERSION;
    next.name = (char *)name;
    next.n_versions = n;
    next.versions = versions;
    const char *current_default = current ? current->default_version : NULL;
    next.default_version = (char *)(current_default && current_default[0] ? current_default : version->version);
    next.updated_at_ms = dr_now_ms();
    status = encode(&next, operator_key, bytes, len, err);

cleanup:
    free(versions);
    drover__v1__package_version__free_unpacked(version, NULL);
    return status;
}

dr_status dr_package_encode_with_default(const Drover__V1__PackageVersions *current, const char *version,
                                         const dr_key *operator_key, uint8_t **bytes, size_t *len, dr_error *err)
{
    if (!dr_package_find_version(current, version))
        return unknown_version(current, version, err);
    Drover__V1__PackageVersions next = *current;
    next.schema_version = DR_SCHEMA_VERSION;
    next.default_version = (char *)version;
    next.updated_at_ms = dr_now_ms();
    next.auth = NULL;
    next.auth_signature.len = 0;
    next.auth_signature.data = NULL;
    return encode(&next, operator_key, bytes, len, err);
}

#define VERSIONS_FIELD 3u /* PackageVersions.versions */
#define VERSION_FIELD 1u  /* PackageVersion.version */

/* 1 when the encoded PackageVersion in[0..len) is named version. */
static int names_version(const uint8_t *in, size_t len, const char *version)
{
    size_t at = 0;
    dr_wire_field f;
    const uint8_t *name = NULL;
    size_t name_len = 0;
    while (dr_wire_next(in, len, &at, &f) == 1)
        if (f.number == VERSION_FIELD && f.wire_type == 2) {
            name = f.data; /* the last one wins, as protobuf reads it */
            name_len = f.len;
        }
    return name && name_len == strlen(version) && memcmp(name, version, name_len) == 0;
}

int dr_package_version_bytes(const uint8_t *entry, size_t len, const char *version, const uint8_t **out,
                             size_t *out_len)
{
    size_t at = 0;
    int r, found = 0;
    dr_wire_field f;
    while ((r = dr_wire_next(entry, len, &at, &f)) == 1)
        if (f.number == VERSIONS_FIELD && f.wire_type == 2 && names_version(f.data, f.len, version)) {
            *out = f.data; /* dr_package_find_version takes the first of a name: so does this */
            *out_len = f.len;
            found = 1;
            break;
        }
    return r < 0 || !found ? -1 : 0;
}

dr_status dr_package_register_version(const dr_kafka_options *kafka, int timeout_ms, const char *name,
                                      const Drover__V1__PackageVersion *version, const dr_key *operator_key,
                                      int *replaced, char *default_version, size_t size, dr_error *err)
{
    dr_table packages = {0};
    Drover__V1__PackageVersions *current = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    dr_status status;
    *replaced = 0;
    if ((status = dr_table_read(kafka, DR_TOPIC_PACKAGES, timeout_ms, &packages, err)) != DR_OK ||
        (status = dr_package_lookup(&packages, name, &current, err)) != DR_OK ||
        (status = dr_package_encode_with_version(current, name, version, operator_key, replaced, &bytes, &len, err)) !=
            DR_OK ||
        (status = dr_table_put(kafka, DR_TOPIC_PACKAGES, name, bytes, len, timeout_ms, err)) != DR_OK)
        goto cleanup;
    snprintf(default_version, size, "%s",
             current && current->default_version && current->default_version[0] ? current->default_version
                                                                                : version->version);
cleanup:
    free(bytes);
    if (current)
        drover__v1__package_versions__free_unpacked(current, NULL);
    dr_table_free(&packages);
    return status;
}
