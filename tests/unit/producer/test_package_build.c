/*
 * package_build.h without any zipping: which PLATFORM@VERSION@ARCH names are
 * manifest keys, and that a package refuses two parts for one key, and an
 * empty or oversized set, before anything is written.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "package_build.h"

/* Whether text splits (arch optional or not), and into which keys. */
static int split(const char *text, int arch_optional, char *platform, char *version, char *arch)
{
    return dr_package_split_keys(text, strlen(text), arch_optional, platform, version, arch);
}

static void split_keys_takes_manifest_keys_only(void)
{
    char p[64], v[64], a[64];
    CHECK(split("ubuntu@22.04@x86_64", 0, p, v, a));
    CHECK_STR("ubuntu", p);
    CHECK_STR("22.04", v);
    CHECK_STR("x86_64", a);
    CHECK(split("redhat@8.*@_any", 0, p, v, a));
    CHECK_STR("8.*", v);
    /* The arch may be left to the file only when the caller says so. */
    CHECK(!split("amazon@2023", 0, p, v, a));
    CHECK(split("amazon@2023", 1, p, v, a));
    CHECK_STR("amazon", p);
    CHECK_STR("", a);
    /* Never a path, an empty key, a '*' outside the version, or a fourth part. */
    CHECK(!split("../x@1@a", 0, p, v, a));
    CHECK(!split("a/b@1@x86_64", 0, p, v, a));
    CHECK(!split("ubuntu@..@x86_64", 0, p, v, a));
    CHECK(!split("ubuntu@@x86_64", 1, p, v, a));
    CHECK(!split("ubuntu@22.04@", 1, p, v, a));
    CHECK(!split("ubu*tu@22.04@x86_64", 0, p, v, a));
    CHECK(!split("ubuntu@22.04@x86_64@more", 1, p, v, a));
    CHECK(!split("ubuntu", 1, p, v, a));
    char long_key[80];
    memset(long_key, 'a', 64);
    snprintf(long_key + 64, sizeof long_key - 64, "@1@x");
    CHECK(!split(long_key, 0, p, v, a));
}

static void write_refuses_two_parts_for_one_key_and_writes_nothing(void)
{
    dr_package_parts parts = {0};
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_package_parts_add(&parts, "one.deb", "/nonexistent/one", 1, "debian", "_any", "_any", &err));
    CHECK_INT(DR_OK, dr_package_parts_add(&parts, "two.deb", "/nonexistent/two", 1, "debian", "_any", "_any", &err));
    CHECK_INT(DR_ERR_USAGE, dr_package_write("/nonexistent-out", "1.0", NULL, &parts, &err));
    CHECK_CONTAINS("both one.deb and two.deb are for debian _any _any; keep one", err.detail);
    struct stat st;
    CHECK(stat("/nonexistent-out", &st) != 0);
    /* A key that is not one is refused as the part is added, naming it; parts keeps what it had. */
    CHECK_INT(DR_ERR_USAGE, dr_package_parts_add(&parts, "bad.deb", "/x", 1, "a/b", "_any", "_any", &err));
    CHECK_CONTAINS("bad.deb", err.detail);
    CHECK_INT(2, (int)parts.count);
    dr_package_parts_free(&parts);
    CHECK_INT(DR_ERR_USAGE, dr_package_write("/nonexistent-out", "1.0", NULL, &parts, &err));
    CHECK_CONTAINS("at least one file", err.detail);
}

static void write_refuses_more_than_twenty_parts(void)
{
    dr_package_parts parts = {0};
    dr_error err = {0};
    for (int i = 0; i <= DR_PACKAGE_MAX_FILES; i++) {
        char version[16];
        snprintf(version, sizeof version, "%d", i);
        CHECK_INT(DR_OK, dr_package_parts_add(&parts, version, "/nonexistent", 1, "debian", version, "_any", &err));
    }
    CHECK_INT(DR_ERR_USAGE, dr_package_write("/nonexistent-out", "1.0", NULL, &parts, &err));
    CHECK_CONTAINS("21 files; a package may have at most 20 files", err.detail);
    dr_package_parts_free(&parts);
}

int main(void)
{
    split_keys_takes_manifest_keys_only();
    write_refuses_two_parts_for_one_key_and_writes_nothing();
    write_refuses_more_than_twenty_parts();
    return check_done("package_build");
}
