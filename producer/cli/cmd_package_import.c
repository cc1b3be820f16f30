/*
 * drover-producer package import URL: publish a Distributor package as it
 * sits, in S3 (s3://BUCKET/PREFIX/), under https/http or in a folder:
 * manifest.json and the files it names, side by side.  Every file is
 * downloaded and checked against the manifest's sha256 before anything is
 * published; the manifest's bytes are published unchanged (their SHA-256
 * recorded, as package publish does), and workers fetch from URL itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "commands.h"
#include "fetch.h"
#include "files.h"
#include "names.h"
#include "packages.h"

static const dr_setting import_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    DR_PRODUCER_REQUEST_SETTINGS,
    {"name", DR_SETTING_STRING, NULL, "package name (default: URL's last folder), 1-128 of A-Z a-z 0-9 _ . -"},
    {"publisher", DR_SETTING_STRING, NULL, "who published it (default: the manifest's publisher, else $USER)"},
    {"s3-endpoint", DR_SETTING_STRING, NULL, "an S3-compatible endpoint for s3:// URLs (default: AWS's)"},
    {"s3-region", DR_SETTING_STRING, NULL, "the region s3:// requests are signed for (default: the environment's)"},
};

static const char import_usage[] =
    "usage: drover-producer package import URL [--name NAME] [--publisher P] [--s3-endpoint URL]\n"
    "\n"
    "Publishes a Distributor package as it is.  URL is the folder that holds its manifest.json and the\n"
    "files the manifest names: s3://BUCKET/PREFIX/, https://HOST/PATH/, file:// or a path.  The manifest\n"
    "is validated, and every file is downloaded and checked against the manifest's sha256 first: a\n"
    "missing file, one whose hash differs, or a manifest Drover refuses publishes nothing.  The\n"
    "manifest's bytes are published unchanged (their SHA-256 is recorded, as package publish does), and\n"
    "workers fetch the files from URL.";

/* The package name URL suggests: its last non-empty folder ("agent" for s3://b/pkgs/agent/). */
static void name_from_url(const char *base, char *name, size_t size)
{
    size_t end = strlen(base);
    while (end > 0 && base[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && base[start - 1] != '/')
        start--;
    snprintf(name, size, "%.*s", (int)(end - start), base + start);
}

/* Download every file the manifest names into dir, checked against its sha256; the first failure says which. */
static dr_status verify_files(const dr_manifest *manifest, const char *base, const char *dir,
                              const dr_fetch_options *opt, dr_error *err)
{
    dr_status status = DR_OK;
    for (size_t i = 0; i < dr_manifest_file_count(manifest) && status == DR_OK; i++) {
        const dr_manifest_file *f = dr_manifest_file_at(manifest, i);
        char *url = NULL, *dest = NULL;
        if (strchr(f->name, '/') || f->name[0] == '.')
            return dr_error_set(err, DR_ERR_MANIFEST, "manifest file '%.128s' is not a plain file name", f->name);
        if (asprintf(&url, "%s/%s", base, f->name) < 0 || asprintf(&dest, "%s/%s", dir, f->name) < 0) {
            status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        } else if ((status = dr_fetch_to_file(url, dest, f->sha256, opt, NULL, err)) != DR_OK) {
            dr_error_wrap(err, "file %s of the manifest", f->name);
        } else {
            printf("verified %s  %s\n", f->sha256, f->name);
            unlink(dest); /* checked: workers fetch from the URL itself */
        }
        free(url);
        free(dest);
    }
    return status;
}

int cmd_package_import(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_manifest *manifest = NULL;
    dr_key *operator_key = NULL;
    char *base = NULL, *manifest_url = NULL, dir[4096] = "";
    dr_config *cfg =
        dr_program_start_args("drover-producer", import_settings, sizeof import_settings / sizeof import_settings[0], 1,
                              argc, argv, import_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    dr_kafka_options kafka;
    int timeout_ms;
    char name[256];
    if (dr_config_positional(cfg, &positional) != 1) {
        dr_error_set(&err, DR_ERR_USAGE, "package import takes one URL: the folder of manifest.json (see --help)");
        goto fail;
    }
    if (dr_producer_kafka_options(cfg, &kafka, &timeout_ms, &err) != DR_OK ||
        dr_producer_operator_key(cfg, &operator_key, &err) != DR_OK)
        goto fail;
    if (!(base = dr_package_absolute_location(positional[0]))) {
        dr_error_set(&err, DR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t len = strlen(base); len > 1 && base[len - 1] == '/'; len--)
        base[len - 1] = '\0'; /* the artifacts' base: workers fetch BASE/FILE */
    if (dr_config_string(cfg, "name"))
        snprintf(name, sizeof name, "%s", dr_config_string(cfg, "name"));
    else
        name_from_url(base, name, sizeof name);
    if (dr_check_package_token("--name (or URL's last folder)", name, &err) != DR_OK)
        goto fail;
    if (asprintf(&manifest_url, "%s/manifest.json", base) < 0) {
        manifest_url = NULL;
        dr_error_set(&err, DR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/drover-import.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        dr_error_set(&err, DR_ERR_IO, "cannot make a work folder under %s", tmp && tmp[0] ? tmp : "/tmp");
        dir[0] = '\0';
        goto fail;
    }
    dr_fetch_options opt;
    dr_fetch_options_default(&opt);
    opt.s3_endpoint = dr_config_string(cfg, "s3-endpoint");
    opt.s3_region = dr_config_string(cfg, "s3-region");
    char sha256[DR_SHA256_HEX_SIZE];
    if (dr_package_fetch_manifest(manifest_url, &opt, sha256, &manifest, &err) != DR_OK ||
        verify_files(manifest, base, dir, &opt, &err) != DR_OK ||
        dr_package_publish_fetched(cfg, &kafka, timeout_ms, name, manifest, manifest_url, sha256, base, operator_key,
                                   &err) != DR_OK)
        goto fail;
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    if (dir[0]) { /* every download, a failed one's ".part" too */
        dr_error ignored = {0};
        dr_remove_tree(dir, &ignored);
    }
    dr_manifest_free(manifest);
    free(manifest_url);
    free(base);
    dr_key_free(operator_key);
    dr_config_free(cfg);
    return exit_code;
}
