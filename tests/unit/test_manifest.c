/* The package manifest: validation that names the JSON path, and file selection with backoff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "manifest.h"
#include "manifest_fetch.h"

/* Manifest text is written with ' for " to keep the tests readable. */
static char *unquote(const char *text)
{
    char *copy = strdup(text);
    for (char *c = copy; *c; c++)
        if (*c == '\'')
            *c = '"';
    return copy;
}

/* A valid manifest around packages, with files a.zip .. f.zip (sha256 "aaa..", "bbb..", ...). */
static char *manifest_text(const char *packages)
{
    char files[2048] = "";
    size_t len = 0;
    for (char f = 'a'; f <= 'f'; f++) {
        char sha[65];
        memset(sha, f, 64);
        sha[64] = '\0';
        len += (size_t)snprintf(files + len, sizeof files - len, "%s'%c.zip': {'checksums': {'sha256': '%s'}}",
                                f == 'a' ? "" : ", ", f, sha);
    }
    size_t size = strlen(packages) + strlen(files) + 256;
    char *text = malloc(size);
    snprintf(text, size, "{'schemaVersion': '2.0', 'version': '1.0', 'packages': %s, 'files': {%s}}", packages, files);
    char *json = unquote(text);
    free(text);
    return json;
}

static dr_manifest *parse_packages(const char *packages)
{
    char *text = manifest_text(packages);
    dr_manifest *m = NULL;
    dr_error err = {0};
    dr_status status = dr_manifest_parse(text, strlen(text), &m, &err);
    if (status != DR_OK)
        fprintf(stderr, "unexpected parse failure: %s\n", err.detail);
    CHECK_INT(DR_OK, status);
    free(text);
    return m;
}

/*
 * Select from packages for the platform.  Returns the status; the selection
 * in *sel (its file pointer cleared, since the manifest is freed here), the
 * chosen file's name in file_name, and a failure's detail in err.
 */
static dr_status select_for(const char *packages, const char *name, const char *version, const char *arch,
                            const char *id_like, dr_manifest_selection *sel, char file_name[64], dr_error *err)
{
    file_name[0] = '\0';
    dr_manifest *m = parse_packages(packages);
    if (!m)
        return DR_ERR_INTERNAL;
    dr_platform p;
    dr_status status = dr_platform_init(&p, name, version, arch, id_like, err);
    if (status == DR_OK)
        status = dr_manifest_select_file(m, &p, sel, err);
    if (status == DR_OK)
        snprintf(file_name, 64, "%s", sel->file->name);
    sel->file = NULL;
    dr_manifest_free(m);
    return status;
}

/* The file chosen for a platform, and the rule that chose it. */
#define EXPECT_FILE(packages, name, version, arch, id_like, want_file, want_rule)                                      \
    do {                                                                                                               \
        dr_manifest_selection sel;                                                                                     \
        dr_error err = {0};                                                                                            \
        char file[64];                                                                                                 \
        dr_status status = select_for(packages, name, version, arch, id_like, &sel, file, &err);                       \
        CHECK_INT(DR_OK, status);                                                                                      \
        if (status == DR_OK) {                                                                                         \
            CHECK_STR(want_file, file);                                                                                \
            CHECK_STR(want_rule, sel.rule);                                                                            \
        } else {                                                                                                       \
            fprintf(stderr, "  (%s)\n", err.detail);                                                                   \
        }                                                                                                              \
    } while (0)

#define EXPECT_NO_FILE(packages, name, version, arch, id_like, want_detail)                                            \
    do {                                                                                                               \
        dr_manifest_selection sel;                                                                                     \
        dr_error err = {0};                                                                                            \
        char file[64];                                                                                                 \
        CHECK_INT(DR_ERR_NO_PLATFORM_MATCH, select_for(packages, name, version, arch, id_like, &sel, file, &err));     \
        CHECK_STR(want_detail, err.detail);                                                                            \
    } while (0)

static void exact_platform_wins(void)
{
    const char *pkgs =
        "{'ubuntu': {'22.04': {'x86_64': {'file': 'a.zip'}}},"
        " '_any': {'_any': {'_any': {'file': 'b.zip'}}}}";
    EXPECT_FILE(pkgs, "ubuntu", "22.04", "x86_64", NULL, "a.zip",
                "platform ubuntu (exact), version 22.04 (exact), arch x86_64 (exact)");
}

static void any_platform_catches_the_rest(void)
{
    const char *pkgs =
        "{'ubuntu': {'22.04': {'x86_64': {'file': 'a.zip'}}},"
        " '_any': {'_any': {'_any': {'file': 'b.zip'}}}}";
    EXPECT_FILE(pkgs, "windows", "2019", "x86_64", NULL, "b.zip", "platform _any, version _any, arch _any");
}

static void exact_version_beats_wildcard_and_any(void)
{
    const char *pkgs =
        "{'ubuntu': {'22.*': {'x86_64': {'file': 'a.zip'}}, '_any': {'x86_64': {'file': 'c.zip'}},"
        " '22.04': {'x86_64': {'file': 'b.zip'}}}}";
    EXPECT_FILE(pkgs, "ubuntu", "22.04", "x86_64", NULL, "b.zip",
                "platform ubuntu (exact), version 22.04 (exact), arch x86_64 (exact)");
}

static void equal_versions_match_both_ways(void)
{
    const char *manifest_longer = "{'redhat': {'2.0': {'x86_64': {'file': 'a.zip'}}}}";
    EXPECT_FILE(manifest_longer, "redhat", "2", "x86_64", NULL, "a.zip",
                "platform redhat (exact), version 2.0 (equal version to 2), arch x86_64 (exact)");
    const char *manifest_shorter = "{'redhat': {'2': {'x86_64': {'file': 'a.zip'}}}}";
    EXPECT_FILE(manifest_shorter, "redhat", "2.0.0", "x86_64", NULL, "a.zip",
                "platform redhat (exact), version 2 (equal version to 2.0.0), arch x86_64 (exact)");
    /* The string-identical key is preferred over an equal one. */
    const char *both = "{'redhat': {'2.0': {'x86_64': {'file': 'a.zip'}}, '2': {'x86_64': {'file': 'b.zip'}}}}";
    EXPECT_FILE(both, "redhat", "2", "x86_64", NULL, "b.zip",
                "platform redhat (exact), version 2 (exact), arch x86_64 (exact)");
}

static void version_compare_orders_dotted_parts(void)
{
    CHECK_INT(0, dr_version_compare("2", "2.0"));
    CHECK_INT(0, dr_version_compare("2.0.0", "2"));
    CHECK_INT(0, dr_version_compare("7.09", "7.9"));
    CHECK(dr_version_compare("1.10", "1.9") > 0);
    CHECK(dr_version_compare("1.9", "1.10") < 0);
    CHECK(dr_version_compare("2.0.1", "2") > 0);
    CHECK(dr_version_compare("17", "7") > 0);
    CHECK(dr_version_compare("1.0-beta", "1.0-alpha") > 0);
    CHECK(dr_version_compare("12345678901234567890123", "12345678901234567890124") < 0);
    CHECK_INT(0, dr_version_compare("", ""));
}

static void wildcard_matches_whole_parts(void)
{
    const char *pkgs = "{'centos': {'7.*': {'x86_64': {'file': 'a.zip'}}}}";
    const char *rule = "platform centos (exact), version 7.* (wildcard), arch x86_64 (exact)";
    EXPECT_FILE(pkgs, "centos", "7", "x86_64", NULL, "a.zip", rule);
    EXPECT_FILE(pkgs, "centos", "7.0", "x86_64", NULL, "a.zip", rule);
    EXPECT_FILE(pkgs, "centos", "7.9", "x86_64", NULL, "a.zip", rule);
    EXPECT_FILE(pkgs, "centos", "7.9.1", "x86_64", NULL, "a.zip", rule);
    EXPECT_NO_FILE(pkgs, "centos", "17", "x86_64", NULL,
                   "no file for centos 17 x86_64: tried platforms centos, redhat, _any; centos had versions 7.*; "
                   "redhat not in manifest; _any not in manifest");
    EXPECT_NO_FILE(pkgs, "centos", "70", "x86_64", NULL,
                   "no file for centos 70 x86_64: tried platforms centos, redhat, _any; centos had versions 7.*; "
                   "redhat not in manifest; _any not in manifest");

    const char *two_parts = "{'centos': {'7.9.*': {'x86_64': {'file': 'a.zip'}}, '_any': {'_any': {'file': 'b.zip'}}}}";
    EXPECT_FILE(two_parts, "centos", "7.9.2009", "x86_64", NULL, "a.zip",
                "platform centos (exact), version 7.9.* (wildcard), arch x86_64 (exact)");
    EXPECT_FILE(two_parts, "centos", "7.9", "x86_64", NULL, "a.zip",
                "platform centos (exact), version 7.9.* (wildcard), arch x86_64 (exact)");
    EXPECT_FILE(two_parts, "centos", "7.1", "x86_64", NULL, "b.zip",
                "platform centos (exact), version _any, arch _any");
    EXPECT_FILE(two_parts, "centos", "7", "x86_64", NULL, "b.zip", "platform centos (exact), version _any, arch _any");
}

static void longest_wildcard_wins(void)
{
    /* Listed short first and long first: order in the file does not matter. */
    const char *short_first =
        "{'redhat': {'7.*': {'x86_64': {'file': 'a.zip'}}, '7.9.*': {'x86_64': {'file': 'b.zip'}}}}";
    const char *long_first =
        "{'redhat': {'7.9.*': {'x86_64': {'file': 'b.zip'}}, '7.*': {'x86_64': {'file': 'a.zip'}}}}";
    EXPECT_FILE(short_first, "redhat", "7.9.1", "x86_64", NULL, "b.zip",
                "platform redhat (exact), version 7.9.* (wildcard), arch x86_64 (exact)");
    EXPECT_FILE(long_first, "redhat", "7.9.1", "x86_64", NULL, "b.zip",
                "platform redhat (exact), version 7.9.* (wildcard), arch x86_64 (exact)");
    EXPECT_FILE(short_first, "redhat", "7.8", "x86_64", NULL, "a.zip",
                "platform redhat (exact), version 7.* (wildcard), arch x86_64 (exact)");
}

static void any_version_then_star(void)
{
    const char *both = "{'debian': {'*': {'x86_64': {'file': 'a.zip'}}, '_any': {'x86_64': {'file': 'b.zip'}}}}";
    EXPECT_FILE(both, "debian", "12", "x86_64", NULL, "b.zip",
                "platform debian (exact), version _any, arch x86_64 (exact)");
    const char *star = "{'debian': {'*': {'x86_64': {'file': 'a.zip'}}, '11': {'x86_64': {'file': 'b.zip'}}}}";
    EXPECT_FILE(star, "debian", "12", "x86_64", NULL, "a.zip",
                "platform debian (exact), version *, arch x86_64 (exact)");
}

static void arch_exact_then_any(void)
{
    const char *pkgs = "{'ubuntu': {'22.04': {'_any': {'file': 'a.zip'}, 'x86_64': {'file': 'b.zip'}}}}";
    EXPECT_FILE(pkgs, "ubuntu", "22.04", "amd64", NULL, "b.zip",
                "platform ubuntu (exact), version 22.04 (exact), arch x86_64 (exact)");
    EXPECT_FILE(pkgs, "ubuntu", "22.04", "aarch64", NULL, "a.zip",
                "platform ubuntu (exact), version 22.04 (exact), arch _any");
}

static void arch_miss_backs_off_to_sibling_any_version(void)
{
    /* Distributor stops at 22.04 and fails; Drover tries the next version candidate. */
    const char *pkgs = "{'ubuntu': {'22.04': {'x86_64': {'file': 'a.zip'}}, '_any': {'arm64': {'file': 'b.zip'}}}}";
    EXPECT_FILE(pkgs, "ubuntu", "22.04", "arm64", NULL, "b.zip",
                "platform ubuntu (exact), version _any, arch arm64 (exact)");
}

static void version_miss_backs_off_to_any_platform(void)
{
    const char *pkgs =
        "{'ubuntu': {'20.04': {'x86_64': {'file': 'a.zip'}}}, '_any': {'_any': {'x86_64': {'file': 'b.zip'}}}}";
    EXPECT_FILE(pkgs, "ubuntu", "22.04", "x86_64", NULL, "b.zip", "platform _any, version _any, arch x86_64 (exact)");
}

static void family_comes_before_any(void)
{
    const char *pkgs =
        "{'redhat': {'8.*': {'_any': {'file': 'a.zip'}}},"
        " 'ubuntu': {'_any': {'_any': {'file': 'b.zip'}}},"
        " 'debian': {'_any': {'_any': {'file': 'c.zip'}}},"
        " '_any': {'_any': {'_any': {'file': 'd.zip'}}}}";
    EXPECT_FILE(pkgs, "rocky", "8.9", "x86_64", NULL, "a.zip",
                "platform redhat (family of rocky), version 8.* (wildcard), arch _any");
    EXPECT_FILE(pkgs, "rocky", "9.3", "x86_64", NULL, "d.zip", "platform _any, version _any, arch _any");
    EXPECT_FILE(pkgs, "linuxmint", "21.2", "x86_64", NULL, "b.zip",
                "platform ubuntu (family of linuxmint), version _any, arch _any");
    EXPECT_FILE(pkgs, "ubuntu", "24.04", "x86_64", NULL, "b.zip", "platform ubuntu (exact), version _any, arch _any");
    const char *no_ubuntu =
        "{'debian': {'_any': {'_any': {'file': 'c.zip'}}}, '_any': {'_any': {'_any': {'file': 'd.zip'}}}}";
    EXPECT_FILE(no_ubuntu, "ubuntu", "24.04", "x86_64", NULL, "c.zip",
                "platform debian (family of ubuntu), version _any, arch _any");
    /* ID_LIKE names a family the table does not know. */
    EXPECT_FILE(pkgs, "kali", "2024.1", "x86_64", "debian", "c.zip",
                "platform debian (family of kali), version _any, arch _any");
    /* Amazon Linux does not borrow a RHEL build. */
    EXPECT_FILE(pkgs, "amzn", "2", "x86_64", "centos rhel fedora", "d.zip", "platform _any, version _any, arch _any");
}

static void no_match_lists_what_was_tried(void)
{
    const char *pkgs =
        "{'ubuntu': {'20.04': {'x86_64': {'file': 'a.zip'}}, '18.*': {'x86_64': {'file': 'a.zip'}},"
        " '22.*': {'x86_64': {'file': 'b.zip'}, '386': {'file': 'b.zip'}}},"
        " 'windows': {'_any': {'_any': {'file': 'c.zip'}}}}";
    EXPECT_NO_FILE(pkgs, "ubuntu", "22.04", "arm64", NULL,
                   "no file for ubuntu 22.04 arm64: tried platforms ubuntu, debian, _any; "
                   "ubuntu had versions 20.04, 18.*, 22.* (22.* had arches x86_64, 386); "
                   "debian not in manifest; _any not in manifest");
}

static void accessors_and_forward_compatibility(void)
{
    const char *text =
        "{'schemaVersion': '2.0', 'version': '1.2.0-rc_1', 'publisher': 'Acme',"
        " 'futureKey': {'anything': [1, 2]},"
        " 'packages': {'_any': {'_any': {'_any': {'file': 'pkg.zip'}}}},"
        " 'files': {'pkg.zip': {'checksums': {'sha256': "
        "'ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789', 'md5': 'x'}}}}";
    char *json = unquote(text);
    dr_manifest *m = NULL;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_manifest_parse(json, strlen(json), &m, &err));
    if (m) {
        CHECK_STR("1.2.0-rc_1", dr_manifest_version(m));
        CHECK_STR("Acme", dr_manifest_publisher(m));
        CHECK_INT(1, dr_manifest_file_count(m));
        CHECK_STR("pkg.zip", dr_manifest_file_at(m, 0)->name);
        CHECK_STR("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
                  dr_manifest_file_at(m, 0)->sha256);
        CHECK(dr_manifest_file_at(m, 1) == NULL);
        dr_platform p;
        dr_platform_init(&p, "ubuntu", "22.04", "x86_64", NULL, NULL);
        dr_manifest_selection sel;
        CHECK_INT(DR_OK, dr_manifest_select_file(m, &p, &sel, &err));
        CHECK(sel.file == dr_manifest_file_at(m, 0));
        CHECK_STR("_any", sel.platform_key);
        CHECK_STR("_any", sel.version_key);
        CHECK_STR("_any", sel.arch_key);
    }
    dr_manifest_free(m);
    free(json);

    m = parse_packages("{'_any': {'_any': {'_any': {'file': 'a.zip'}}}}");
    CHECK(m && dr_manifest_publisher(m) == NULL);
    dr_manifest_free(m);
}

/* Parsing text (with ' for ") fails with DR_ERR_MANIFEST and exactly this detail. */
static void expect_invalid(const char *text, const char *want_detail)
{
    char *json = unquote(text);
    dr_manifest *m = (dr_manifest *)1;
    dr_error err = {0};
    CHECK_INT(DR_ERR_MANIFEST, dr_manifest_parse(json, strlen(json), &m, &err));
    CHECK(m == NULL);
    CHECK_STR(want_detail, err.detail);
    free(json);
}

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ONE_FILE                                                                                                       \
    "'packages': {'_any': {'_any': {'_any': {'file': 'a.zip'}}}}, 'files': {'a.zip': {'checksums': {'sha256': '" SHA_A \
    "'}}}"

static void validation_names_the_json_path(void)
{
    expect_invalid("{'schemaVersion': '1.0', 'version': '1', " ONE_FILE "}",
                   "schemaVersion: '1.0' is not supported; want \"2.0\"");
    expect_invalid("{'version': '1', " ONE_FILE "}", "schemaVersion: missing; want \"2.0\"");
    expect_invalid("{'schemaVersion': '2.0', 'version': '1.0 beta', " ONE_FILE "}",
                   "version: '1.0 beta' has ' '; only A-Z a-z 0-9 _ . - are allowed");
    expect_invalid("{'schemaVersion': '2.0', 'version': '1/2', " ONE_FILE "}",
                   "version: '1/2' has '/'; only A-Z a-z 0-9 _ . - are allowed");
    expect_invalid("{'schemaVersion': '2.0', 'version': '', " ONE_FILE "}", "version: empty");
    expect_invalid("{'schemaVersion': '2.0', " ONE_FILE "}", "version: missing");

    char v128[129], text[1024];
    memset(v128, '1', 128);
    v128[128] = '\0';
    snprintf(text, sizeof text, "{'schemaVersion': '2.0', 'version': '%s', " ONE_FILE "}", v128);
    char *json = unquote(text);
    dr_manifest *m = NULL;
    CHECK_INT(DR_OK, dr_manifest_parse(json, strlen(json), &m, NULL));
    dr_manifest_free(m);
    free(json);
    snprintf(text, sizeof text, "{'schemaVersion': '2.0', 'version': '%s1', " ONE_FILE "}", v128);
    expect_invalid(text, "version: 129 characters; at most 128 are allowed");

    expect_invalid(
        "{'schemaVersion': '2.0', 'version': '1', 'packages': {'ubuntu': {'20.04': {'x86_64': {'file': 'a.zip'}}}},"
        " 'files': {'b.zip': {'checksums': {'sha256': '" SHA_A "'}}}}",
        "packages.ubuntu.20.04.x86_64.file: 'a.zip' is not in files");
    expect_invalid(
        "{'schemaVersion': '2.0', 'version': '1', 'packages': {'ubuntu': {'20.04': {'x86_64': {}}}},"
        " 'files': {'a.zip': {'checksums': {'sha256': '" SHA_A "'}}}}",
        "packages.ubuntu.20.04.x86_64.file: missing");
    expect_invalid(
        "{'schemaVersion': '2.0', 'version': '1', 'packages': {'_any': {'_any': {'_any': {'file': 'a.zip'}}}},"
        " 'files': {'a.zip': {'checksums': {}}}}",
        "files.a.zip.checksums: empty; a sha256 is required");
    expect_invalid(
        "{'schemaVersion': '2.0', 'version': '1', 'packages': {'_any': {'_any': {'_any': {'file': 'a.zip'}}}},"
        " 'files': {'a.zip': {'checksums': {'md5': 'abc'}}}}",
        "files.a.zip.checksums: no sha256; a sha256 is required");
    expect_invalid(
        "{'schemaVersion': '2.0', 'version': '1', 'packages': {'_any': {'_any': {'_any': {'file': 'a.zip'}}}},"
        " 'files': {'a.zip': {'checksums': {'sha256': 'zz" SHA_A "'}}}}",
        "files.a.zip.checksums.sha256: 'zz" SHA_A "' is not 64 hex digits");
    expect_invalid(
        "{'schemaVersion': '2.0', 'version': '1', 'packages': {'_any': {'_any': {'_any': {'file': 'a.zip'}}}},"
        " 'files': {'a.zip': {'checksums': {'sha256': 'g" SHA_A "'}}}}",
        "files.a.zip.checksums.sha256: 'g" SHA_A "' is not 64 hex digits");
    expect_invalid(
        "{'schemaVersion': '2.0', 'version': '1', 'packages': {'_any': {'_any': {'_any': {'file': '../evil.zip'}}}},"
        " 'files': {'../evil.zip': {'checksums': {'sha256': '" SHA_A "'}}}}",
        "files.../evil.zip: unsafe file name (contains '/')");
    expect_invalid(
        "{'schemaVersion': '2.0', 'version': '1', 'packages': {'_any': {'_any': {'_any': {'file': '..'}}}},"
        " 'files': {'..': {'checksums': {'sha256': '" SHA_A "'}}}}",
        "files...: unsafe file name (contains '..')");
    expect_invalid("{'schemaVersion': '2.0', 'version': '1', 'packages': {}, 'files': {}}",
                   "packages: empty; at least one file is required");
    expect_invalid("[1, 2]", "top level: not an object");
    expect_invalid("{'schemaVersion': '2.0',\n 'version': }", "not valid JSON (line 2, column 13: invalid syntax)");
    expect_invalid("{'schemaVersion': '2.0', 'schemaVersion': '2.0'}",
                   "not valid JSON (line 1, column 40: a duplicate object key)");
}

static void load_names_the_file(void)
{
    char path[] = "/tmp/drover-manifest-test-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "{\"schemaVersion\": \"3.0\"}";
    CHECK_INT((long long)strlen(text), write(fd, text, strlen(text)));
    close(fd);
    dr_manifest *m = NULL;
    dr_error err = {0};
    CHECK_INT(DR_ERR_MANIFEST, dr_manifest_load(path, &m, &err));
    char want[256];
    snprintf(want, sizeof want, "manifest %s: schemaVersion: '3.0' is not supported; want \"2.0\"", path);
    CHECK_STR(want, err.detail);
    unlink(path);
    CHECK_INT(DR_ERR_IO, dr_manifest_load(path, &m, &err));
    CHECK_CONTAINS(path, err.detail);
}

/* Write a valid manifest padded with JSON white space to size bytes; its path in path. */
static void write_padded_manifest(const char *path, size_t size)
{
    char *json = manifest_text("{'_any': {'_any': {'_any': {'file': 'a.zip'}}}}");
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        size_t len = strlen(json);
        CHECK_INT(len, fwrite(json, 1, len, f));
        for (size_t i = len; i < size; i++)
            fputc(' ', f);
        CHECK_INT(0, fclose(f));
    }
    free(json);
}

/*
 * The producer and the worker read a manifest through dr_manifest_fetch, so a
 * manifest that publishes also installs: 2 MiB (past the worker's old 1 MiB
 * limit) is read whole and hashed; past DR_MANIFEST_MAX_BYTES it is refused.
 */
static void fetch_has_one_limit_and_checks_the_hash(void)
{
    char dir[] = "/tmp/drover-manifest-fetch-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], work[256];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    snprintf(work, sizeof work, "%s/work", dir);
    dr_error err = {0};
    dr_fetch_options opt;
    dr_fetch_options_default(&opt);
    opt.max_attempts = 1;
    CHECK_INT(DR_OK, dr_fetch_global_init());

    write_padded_manifest(path, 2 * 1024 * 1024);
    char want[DR_SHA256_HEX_SIZE], got[DR_SHA256_HEX_SIZE];
    CHECK_INT(DR_OK, dr_sha256_file_hex(path, want, &err));
    dr_manifest *m = NULL;
    CHECK_INT(DR_OK, dr_manifest_fetch(path, &opt, work, NULL, got, &m, &err));
    CHECK_STR(want, got);
    CHECK(m != NULL);
    dr_manifest_free(m);
    /* The expected hash, in upper case too, passes; another is refused before parsing. */
    for (char *c = want; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
    CHECK_INT(DR_OK, dr_manifest_fetch(path, &opt, work, want, got, &m, &err));
    dr_manifest_free(m);
    /* Kept under its (lower-case) hash: read from there, even once the source is gone. */
    char kept[400];
    snprintf(kept, sizeof kept, "%s/%s.json", work, got);
    CHECK_INT(0, access(kept, F_OK));
    char moved[300];
    snprintf(moved, sizeof moved, "%s/elsewhere.json", dir);
    CHECK_INT(0, rename(path, moved));
    m = NULL;
    CHECK_INT(DR_OK, dr_manifest_fetch(path, &opt, work, want, got, &m, &err));
    CHECK(m != NULL);
    dr_manifest_free(m);
    /* A kept copy changed on disk is not used: fetched again (here: the source is gone, so it fails). */
    FILE *f = fopen(kept, "a");
    CHECK(f != NULL);
    if (f) {
        fputs(" ", f);
        fclose(f);
    }
    m = NULL;
    CHECK(dr_manifest_fetch(path, &opt, work, want, got, &m, &err) != DR_OK);
    CHECK(m == NULL);
    CHECK_INT(0, rename(moved, path));
    CHECK_INT(DR_OK, dr_manifest_fetch(path, &opt, work, want, got, &m, &err));
    dr_manifest_free(m);
    CHECK_INT(0, unlink(kept));
    /* Without a whole hash nothing is kept. */
    CHECK_INT(DR_OK, dr_manifest_fetch(path, &opt, work, NULL, got, &m, &err));
    dr_manifest_free(m);
    CHECK_INT(-1, access(kept, F_OK));
    want[0] = want[0] == '0' ? '1' : '0';
    CHECK_INT(DR_ERR_CHECKSUM, dr_manifest_fetch(path, &opt, work, want, got, &m, &err));
    CHECK_CONTAINS("manifest sha256 mismatch", err.detail);
    CHECK(m == NULL);

    write_padded_manifest(path, DR_MANIFEST_MAX_BYTES + 1);
    CHECK_INT(DR_ERR_FETCH_TOO_LARGE, dr_manifest_fetch(path, &opt, work, NULL, got, &m, &err));
    CHECK(m == NULL);
    /* Nothing is left in the work directory, whatever happened. */
    CHECK_INT(0, rmdir(work));
    CHECK_INT(DR_OK, dr_remove_tree(dir, &err));
}

int main(void)
{
    exact_platform_wins();
    any_platform_catches_the_rest();
    exact_version_beats_wildcard_and_any();
    equal_versions_match_both_ways();
    version_compare_orders_dotted_parts();
    wildcard_matches_whole_parts();
    longest_wildcard_wins();
    any_version_then_star();
    arch_exact_then_any();
    arch_miss_backs_off_to_sibling_any_version();
    version_miss_backs_off_to_any_platform();
    family_comes_before_any();
    no_match_lists_what_was_tried();
    accessors_and_forward_compatibility();
    validation_names_the_json_path();
    load_names_the_file();
    fetch_has_one_limit_and_checks_the_hash();
    return check_done("manifest");
}
