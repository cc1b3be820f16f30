/*
 * drover-producer package build|resolve|publish|list|set-default: make a
 * package from per-platform zips or folders (create, from .deb and .rpm
 * files, is cmd_package_create.c), show which of a manifest's zips
 * a platform gets, and keep the registry of published versions (the
 * packages topic) that deployments resolve against.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "commands.h"
#include "files.h"
#include "manifest.h"
#include "messages.h"
#include "names.h"
#include "output.h"
#include "package_build.h"
#include "packages.h"
#include "platform.h"
#include "sha256.h"
#include "table.h"

/* ---- build ---- */

static const dr_setting build_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_PACKAGE_WRITE_SETTINGS,
};

static const char build_usage[] =
    "usage: drover-producer package build DIR --name NAME --version VERSION [--out OUT] [--publisher P]\n"
    "\n"
    "Builds a package from DIR, which holds one zip or one folder per platform, named\n"
    "PLATFORM@PLATFORM_VERSION@ARCH (a zip adds .zip). Each part is a manifest key:\n"
    "  ubuntu@22.04@x86_64.zip  Ubuntu 22.04 on x86_64 (and, failing a closer match, its family)\n"
    "  redhat@8.*@_any/         any RHEL 8.x on any arch; also Rocky, AlmaLinux, CentOS 8.x\n"
    "  _any@_any@arm64/         every other platform on arm64\n"
    "A folder is zipped as FOLDER.zip; a zip is copied as it is. Every zip needs install.sh and\n"
    "uninstall.sh (or install.ps1 and uninstall.ps1) at its root and safe entry names; at most 20\n"
    "zips, each at most 1 GiB. OUT is written whole or not at all: the zips and manifest.json\n"
    "(schemaVersion 2.0, a sha256 for every file). Prints each zip's sha256 and the manifest's path.";

/* Add DIR/entry, a zip or a folder named PLATFORM@VERSION@ARCH, to parts. */
static dr_status add_input(dr_package_parts *parts, const char *dir, const char *entry, dr_error *err)
{
    dr_status status = DR_OK;
    char *source = NULL, *label = NULL;
    char platform[64], version[64], arch[64];
    if (asprintf(&source, "%s/%s", dir, entry) < 0) {
        source = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory listing %s", dir);
        goto cleanup;
    }
    struct stat st;
    if (stat(source, &st) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "%s: %s", source, strerror(errno));
        goto cleanup;
    }
    int is_dir = S_ISDIR(st.st_mode);
    size_t len = strlen(entry);
    int is_zip = S_ISREG(st.st_mode) && len > 4 && strcmp(entry + len - 4, ".zip") == 0;
    if ((!is_dir && !is_zip) || !dr_package_split_keys(entry, is_dir ? len : len - 4, 0, platform, version, arch)) {
        status = dr_error_set(err, DR_ERR_USAGE,
                              "%s: not a package zip or folder; name it PLATFORM@PLATFORM_VERSION@ARCH "
                              "(a zip adds .zip), e.g. ubuntu@22.04@x86_64.zip or _any@_any@x86_64",
                              source);
        goto cleanup;
    }
    /* Refuse an oversized zip before reading it; a folder is checked once zipped. */
    if (is_zip && st.st_size > DR_PACKAGE_MAX_ZIP_BYTES) {
        status = dr_error_set(err, DR_ERR_USAGE, "%s: %lld bytes; a package zip may be at most 1 GiB", source,
                              (long long)st.st_size);
        goto cleanup;
    }
    if (asprintf(&label, "%s%s", entry, is_dir ? "/" : "") < 0) {
        label = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory listing %s", dir);
        goto cleanup;
    }
    status = dr_package_parts_add(parts, label, source, is_dir, platform, version, arch, err);

cleanup:
    free(source);
    free(label);
    return status;
}

/* The zips and folders in dir; hidden entries are skipped. */
static dr_status list_inputs(const char *dir, dr_package_parts *parts, dr_error *err)
{
    dr_status status = DR_OK;
    DIR *d = opendir(dir);
    if (!d) {
        status = dr_error_set(err, DR_ERR_IO, "cannot read package folder %s: %s", dir, strerror(errno));
        goto cleanup;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        status = add_input(parts, dir, de->d_name, err);
        if (status != DR_OK)
            goto cleanup;
    }
    if (parts->count == 0) {
        status =
            dr_error_set(err, DR_ERR_USAGE, "%s: no package zips or folders (PLATFORM@PLATFORM_VERSION@ARCH)", dir);
        goto cleanup;
    }
    /* Counted before any zipping, so an oversized package fails fast. */
    if (parts->count > DR_PACKAGE_MAX_FILES) {
        status = dr_error_set(err, DR_ERR_USAGE, "%s: %zu zips and folders; a package may have at most %d files", dir,
                              parts->count, DR_PACKAGE_MAX_FILES);
        goto cleanup;
    }

cleanup:
    if (d)
        closedir(d);
    return status;
}

dr_status dr_producer_package_write(const dr_config *cfg, dr_package_parts *parts, dr_error *err)
{
    dr_status status = DR_OK;
    const char *name = dr_config_string(cfg, "name");
    const char *version = dr_config_string(cfg, "version");
    char *out = NULL;
    status = dr_check_package_token("--name", name, err);
    if (status == DR_OK)
        status = dr_check_package_token("--version", version, err);
    if (status != DR_OK)
        goto cleanup;
    out = dr_package_out_path(dr_config_string(cfg, "out"), name, version);
    if (!out) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    status = dr_package_write(out, version, dr_config_string(cfg, "publisher"), parts, err);
    if (status != DR_OK)
        goto cleanup;
    for (size_t i = 0; i < parts->count; i++)
        printf("%s  %s/%s\n", parts->items[i].sha256, out, parts->items[i].file_name);
    printf("manifest: %s/manifest.json\n", out);

cleanup:
    free(out);
    return status;
}

static int package_build(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_package_parts inputs = {0};
    dr_config *cfg =
        dr_program_start_args("drover-producer", build_settings, sizeof build_settings / sizeof build_settings[0], 1,
                              argc, argv, build_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    size_t positional_count = dr_config_positional(cfg, &positional);
    if (positional_count != 1 || !dr_config_string(cfg, "name") || !dr_config_string(cfg, "version")) {
        dr_error_set(&err, DR_ERR_USAGE, "package build needs DIR, --name and --version (see --help)");
        goto fail;
    }
    if (list_inputs(positional[0], &inputs, &err) != DR_OK || dr_producer_package_write(cfg, &inputs, &err) != DR_OK)
        goto fail;
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_package_parts_free(&inputs);
    dr_config_free(cfg);
    return exit_code;
}

/* ---- resolve ---- */

static const dr_setting resolve_settings[] = {
    DR_COMMON_SETTINGS,
    {"platform", DR_SETTING_STRING, NULL, "platform name or os-release ID, e.g. ubuntu, rhel, rocky (required)"},
    {"platform-version", DR_SETTING_STRING, NULL, "platform version, e.g. 22.04 (required)"},
    {"arch", DR_SETTING_STRING, NULL, "architecture, e.g. x86_64, amd64, arm64 (required)"},
    {"id-like", DR_SETTING_STRING, NULL, "platform family as os-release ID_LIKE, e.g. \"rhel fedora\""},
};

static const char resolve_usage[] =
    "usage: drover-producer package resolve MANIFEST --platform P --platform-version V --arch A [--id-like \"L ...\"]\n"
    "\n"
    "Prints the zip a target with this platform would install, its sha256 and the rule that chose it,\n"
    "as the lines \"file: X\", \"sha256: H\" and \"rule: R\"; or, when the manifest has nothing for the\n"
    "platform, exits 1 saying what was tried. The platform's family (rocky -> redhat, ubuntu -> debian,\n"
    "...) comes from a built-in table and --id-like.";

static int package_resolve(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_manifest *manifest = NULL;
    dr_config *cfg =
        dr_program_start_args("drover-producer", resolve_settings, sizeof resolve_settings / sizeof resolve_settings[0],
                              1, argc, argv, resolve_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    const char *platform_name = dr_config_string(cfg, "platform");
    const char *platform_version = dr_config_string(cfg, "platform-version");
    const char *arch = dr_config_string(cfg, "arch");
    if (dr_config_positional(cfg, &positional) != 1 || !platform_name || !platform_version || !arch) {
        dr_error_set(&err, DR_ERR_USAGE,
                     "package resolve needs MANIFEST, --platform, --platform-version and --arch (see --help)");
        goto fail;
    }
    dr_platform platform;
    if (dr_platform_init(&platform, platform_name, platform_version, arch, dr_config_string(cfg, "id-like"), &err) !=
        DR_OK)
        goto fail;
    if (dr_manifest_load(positional[0], &manifest, &err) != DR_OK)
        goto fail;
    dr_manifest_selection selection;
    if (dr_manifest_select_file(manifest, &platform, &selection, &err) != DR_OK)
        goto fail;
    printf("file: %s\nsha256: %s\nrule: %s\n", selection.file->name, selection.file->sha256, selection.rule);
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_manifest_free(manifest);
    dr_config_free(cfg);
    return exit_code;
}

/* ---- publish ---- */

static const dr_setting publish_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_REQUEST_SETTINGS,
    {"name", DR_SETTING_STRING, NULL, "package name, 1-128 of A-Z a-z 0-9 _ . - (required)"},
    {"manifest", DR_SETTING_STRING, NULL,
     "the version's manifest.json: http://, https://, file:// URL or a path workers can read (required)"},
    {"artifacts", DR_SETTING_STRING, NULL,
     "base URL (or folder) of the version's zips; workers fetch BASE/FILE for each manifest file (required)"},
    {"publisher", DR_SETTING_STRING, NULL, "who published it (default: the manifest's publisher, else $USER)"},
};

static const char publish_usage[] =
    "usage: drover-producer package publish --name NAME --manifest URL_OR_PATH --artifacts BASE_URL [--publisher P]\n"
    "\n"
    "Registers a built package version (drover-producer package build makes one) in the packages topic.\n"
    "The manifest is fetched and validated now, and the SHA-256 of its bytes is recorded: every job\n"
    "carries it and workers refuse a manifest that hashes otherwise, so republishing a version with\n"
    "another manifest needs package publish again. The version is the manifest's. Publishing a version\n"
    "again replaces its entry. The first version published becomes the default (package set-default\n"
    "changes it). A relative path is made absolute; the artifacts need not be reachable from here.";

static int package_publish(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_manifest *manifest = NULL;
    char *manifest_url = NULL, *artifacts_url = NULL;
    dr_key *operator_key = NULL;
    dr_config *cfg =
        dr_program_start("drover-producer", publish_settings, sizeof publish_settings / sizeof publish_settings[0],
                         argc, argv, publish_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    const char *name = dr_config_string(cfg, "name");
    const char *manifest_arg = dr_config_string(cfg, "manifest");
    const char *artifacts_arg = dr_config_string(cfg, "artifacts");
    dr_kafka_options kafka;
    int timeout_ms;
    if (dr_config_positional(cfg, &positional) != 0 || !name || !manifest_arg || !artifacts_arg) {
        dr_error_set(&err, DR_ERR_USAGE, "package publish needs --name, --manifest and --artifacts (see --help)");
        goto fail;
    }
    if (dr_check_package_token("--name", name, &err) != DR_OK ||
        dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK ||
        dr_producer_operator_key(cfg, &operator_key, &err) != DR_OK)
        goto fail;
    manifest_url = dr_package_absolute_location(manifest_arg);
    artifacts_url = dr_package_absolute_location(artifacts_arg);
    if (!manifest_url || !artifacts_url) {
        dr_error_set(&err, DR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    char sha256[DR_SHA256_HEX_SIZE];
    if (dr_package_fetch_manifest(manifest_url, NULL, sha256, &manifest, &err) != DR_OK)
        goto fail;
    if (dr_package_publish_fetched(cfg, &kafka, timeout_ms, name, manifest, manifest_url, sha256, artifacts_url,
                                   operator_key, &err) != DR_OK)
        goto fail;
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_manifest_free(manifest);
    free(manifest_url);
    free(artifacts_url);
    dr_key_free(operator_key);
    dr_config_free(cfg);
    return exit_code;
}

dr_status dr_package_publish_fetched(const dr_config *cfg, const dr_kafka_options *kafka, int timeout_ms,
                                     const char *name, const dr_manifest *manifest, const char *manifest_url,
                                     const char *sha256, const char *artifacts_url, const dr_key *operator_key,
                                     dr_error *err)
{
    const char *publisher = dr_config_string(cfg, "publisher");
    if (!publisher)
        publisher = dr_manifest_publisher(manifest);
    if (!publisher)
        publisher = getenv("USER");
    Drover__V1__PackageVersion version = DROVER__V1__PACKAGE_VERSION__INIT;
    version.version = (char *)dr_manifest_version(manifest);
    version.manifest_url = (char *)manifest_url;
    version.manifest_sha256 = (char *)sha256;
    version.artifacts_base_url = (char *)artifacts_url;
    version.publisher = (char *)(publisher ? publisher : "");
    version.published_at_ms = dr_now_ms();
    int replaced = 0;
    char default_version[160];
    dr_status status = dr_package_register_version(kafka, timeout_ms, name, &version, operator_key, &replaced,
                                                   default_version, sizeof default_version, err);
    if (status != DR_OK)
        return status;
    printf("%s %s %s (default version: %s)\n", replaced ? "republished" : "published", name, version.version,
           default_version);
    printf("manifest: %s\nsha256: %s\nartifacts: %s\n", manifest_url, sha256, artifacts_url);
    return DR_OK;
}

/* ---- list ---- */

static const dr_setting list_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_OUTPUT_SETTING_WIDE,
};

static const char list_usage[] =
    "usage: drover-producer package list [NAME] [-o wide|json]\n"
    "\n"
    "Prints each published package (or only NAME) as a line \"NAME (default: VERSION)\", then a line per\n"
    "version, oldest first: the version, when and by whom it was published, and its manifest. The\n"
    "default version is marked with '*'.  -o wide adds each version's manifest SHA-256 and artifacts\n"
    "URL; -o json prints an object per package (docs/producer.md, \"JSON output\").";

/* One package as -o json gives it; error is the damage of an entry that did not decode. */
static json_t *package_json(const char *name, const Drover__V1__PackageVersions *package,
                            const Drover__V1__PackageVersion **sorted, const char *error)
{
    json_t *versions = json_array();
    const char *default_version = package && package->default_version ? package->default_version : "";
    for (size_t i = 0; versions && package && i < package->n_versions; i++) {
        const Drover__V1__PackageVersion *v = sorted[i];
        json_array_append_new(versions,
                              json_pack("{s:o, s:b, s:o, s:o, s:o, s:o, s:o}", "version", dr_json_text(v->version),
                                        "default", default_version[0] && strcmp(v->version, default_version) == 0,
                                        "published_at", dr_json_time(v->published_at_ms), "publisher",
                                        dr_json_text(v->publisher), "manifest_url", dr_json_text(v->manifest_url),
                                        "manifest_sha256", dr_json_text(v->manifest_sha256), "artifacts_url",
                                        dr_json_text(v->artifacts_base_url)));
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "name", dr_json_text(name), "default_version",
                     dr_json_text(default_version), "versions", versions, "error",
                     error ? dr_json_text(error) : json_null());
}

/* One package and its versions. */
static dr_status print_package(const dr_table_row *row, dr_output_format format, dr_error *err)
{
    Drover__V1__PackageVersions *package = NULL;
    const Drover__V1__PackageVersion **sorted = NULL;
    dr_status status = dr_package_versions_decode(row->value, row->value_len, &package, err);
    if (status != DR_OK) {
        /* One damaged entry must not hide the others. */
        if (format == DR_OUTPUT_JSON)
            dr_output_json_line(package_json(row->key, NULL, NULL, err->detail));
        else
            printf("%s (damaged entry: %s)\n", row->key, err->detail);
        dr_error_clear(err);
        return DR_OK;
    }
    sorted = dr_package_sorted_versions(package);
    if (!sorted) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (format == DR_OUTPUT_JSON) {
        dr_output_json_line(package_json(row->key, package, sorted, NULL));
        goto cleanup;
    }
    const char *default_version =
        package->default_version && package->default_version[0] ? package->default_version : "none";
    printf("%s (default: %s)\n", row->key, default_version);
    for (size_t i = 0; i < package->n_versions; i++) {
        const Drover__V1__PackageVersion *v = sorted[i];
        char published[32];
        dr_format_utc_ms(v->published_at_ms, published, sizeof published);
        printf("  %s %-12s %s  %s  %s", strcmp(v->version, default_version) == 0 ? "*" : " ", v->version, published,
               v->publisher && v->publisher[0] ? v->publisher : "-", v->manifest_url);
        if (format == DR_OUTPUT_WIDE)
            printf("  sha256:%s  artifacts:%s", v->manifest_sha256 ? v->manifest_sha256 : "-",
                   v->artifacts_base_url ? v->artifacts_base_url : "-");
        printf("\n");
    }

cleanup:
    free(sorted);
    drover__v1__package_versions__free_unpacked(package, NULL);
    return status;
}

static int package_list(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_table packages = {0};
    dr_config *cfg =
        dr_program_start_args("drover-producer", list_settings, sizeof list_settings / sizeof list_settings[0], 1, argc,
                              argv, list_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    size_t positional_count = dr_config_positional(cfg, &positional);
    dr_kafka_options kafka;
    int timeout_ms;
    dr_output_format format;
    if (dr_output_read(cfg, 1, &format, &err) != DR_OK ||
        dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK ||
        dr_table_read(&kafka, DR_TOPIC_PACKAGES, timeout_ms, &packages, &err) != DR_OK)
        goto fail;
    if (positional_count == 1) {
        const dr_table_row *row = dr_table_get(&packages, positional[0]);
        if (!row) {
            dr_error_set(&err, DR_ERR_USAGE, "package %s was never published", positional[0]);
            goto fail;
        }
        if (print_package(row, format, &err) != DR_OK)
            goto fail;
    }
    for (size_t i = 0; positional_count == 0 && i < packages.count; i++)
        if (print_package(&packages.rows[i], format, &err) != DR_OK)
            goto fail;
    if (positional_count == 0 && packages.count == 0 && format != DR_OUTPUT_JSON)
        fprintf(stderr, "no packages published yet\n");
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_table_free(&packages);
    dr_config_free(cfg);
    return exit_code;
}

/* ---- set-default ---- */

static const dr_setting set_default_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_REQUEST_SETTINGS,
};

static const char set_default_usage[] =
    "usage: drover-producer package set-default NAME VERSION\n"
    "\n"
    "Makes VERSION, which must have been published, the version deployments of NAME get when they name\n"
    "none.";

static int package_set_default(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_table packages = {0};
    Drover__V1__PackageVersions *current = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    dr_key *operator_key = NULL;
    dr_config *cfg = dr_program_start_args("drover-producer", set_default_settings,
                                           sizeof set_default_settings / sizeof set_default_settings[0], 2, argc, argv,
                                           set_default_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    dr_kafka_options kafka;
    int timeout_ms;
    if (dr_config_positional(cfg, &positional) != 2) {
        dr_error_set(&err, DR_ERR_USAGE, "package set-default needs NAME and VERSION (see --help)");
        goto fail;
    }
    const char *name = positional[0], *version = positional[1];
    if (dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK ||
        dr_producer_operator_key(cfg, &operator_key, &err) != DR_OK ||
        dr_table_read(&kafka, DR_TOPIC_PACKAGES, timeout_ms, &packages, &err) != DR_OK ||
        dr_package_lookup(&packages, name, &current, &err) != DR_OK)
        goto fail;
    if (!current) {
        dr_error_set(&err, DR_ERR_USAGE, "package %s was never published", name);
        goto fail;
    }
    if (dr_package_encode_with_default(current, version, operator_key, &bytes, &len, &err) != DR_OK ||
        dr_table_put(&kafka, DR_TOPIC_PACKAGES, name, bytes, len, timeout_ms, &err) != DR_OK)
        goto fail;
    printf("%s default version: %s (was %s)\n", name, version,
           current->default_version && current->default_version[0] ? current->default_version : "none");
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    free(bytes);
    if (current)
        drover__v1__package_versions__free_unpacked(current, NULL);
    dr_table_free(&packages);
    dr_key_free(operator_key);
    dr_config_free(cfg);
    return exit_code;
}

/* ---- dispatch ---- */

static const dr_producer_verb package_verbs[] = {
    {"build", package_build, "build a package (zips and manifest.json) from per-platform zips or folders"},
    {"create", cmd_package_create,
     "make a package from .deb and .rpm files, with generated install, uninstall and update scripts"},
    {"resolve", package_resolve, "show which zip of a manifest a platform gets, and why"},
    {"publish", package_publish, "register a built package version (manifest and artifacts URL) in Kafka"},
    {"import", cmd_package_import,
     "publish a Distributor package as it is (S3, https or a folder), every file checked"},
    {"list", package_list, "list published packages, their versions and default versions"},
    {"set-default", package_set_default, "make a published version the package's default"},
};

const dr_producer_command dr_command_package = {"package", package_verbs,
                                                sizeof package_verbs / sizeof package_verbs[0], NULL, NULL};
