/*
 * The package rules, on a zip (producer, build time) and on an extracted
 * directory (worker, before any script runs), with the exact messages.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "check.h"
#include "files.h"
#include "package_layout.h"
#include "test_files.h"

static char workdir[] = "/tmp/drover-layout-test-XXXXXX";

typedef struct zip_spec {
    const char *name;
    unsigned mode; /* st_mode for the Unix external attributes; 0: libzip's default (a file) */
} zip_spec;

static const char *script = "#!/bin/sh\nexit 0\n";

/* A zip of the given entries, every file holding script (a symlink's target is "payload"). */
static char *make_zip(const char *file_name, const zip_spec *specs, size_t count)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", workdir, file_name);
    int code = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
    CHECK(za != NULL);
    if (!za)
        return path;
    for (size_t i = 0; i < count; i++) {
        const char *data = S_ISLNK(specs[i].mode) ? "payload" : script;
        zip_source_t *src = zip_source_buffer(za, data, strlen(data), 0);
        zip_int64_t index = zip_file_add(za, specs[i].name, src, 0);
        CHECK(index >= 0);
        if (index >= 0 && specs[i].mode)
            zip_file_set_external_attributes(za, (zip_uint64_t)index, 0, ZIP_OPSYS_UNIX, specs[i].mode << 16);
    }
    CHECK_INT(0, zip_close(za));
    return path;
}

static void expect_zip(const zip_spec *specs, size_t count, const char *label, dr_status expected, const char *detail)
{
    dr_error err = {0};
    char *path = make_zip("package.zip", specs, count);
    CHECK_INT(expected, dr_package_layout_check_zip(path, label, &err));
    if (expected == DR_OK)
        CHECK_STR("", err.detail);
    else
        CHECK_STR(detail, err.detail);
}

#define EXPECT_ZIP(specs, label, expected, detail)                                                                     \
    expect_zip(specs, sizeof specs / sizeof specs[0], label, expected, detail)

static void good_packages_pass(void)
{
    const zip_spec linux_package[] = {
        {"install.sh", S_IFREG | 0755},  {"uninstall.sh", S_IFREG | 0755}, {"update.sh", S_IFREG | 0755},
        {"validate.sh", S_IFREG | 0755}, {"bin/agent", S_IFREG | 0755},    {"README.ps1", 0},
    };
    EXPECT_ZIP(linux_package, "linux.zip", DR_OK, "");
    const zip_spec windows_package[] = {
        {"install.ps1", 0}, {"uninstall.ps1", 0}, {"validate.ps1", 0}, {"agent.exe", 0}};
    EXPECT_ZIP(windows_package, "windows.zip", DR_OK, "");
    const zip_spec dotted[] = {{"./install.sh", 0}, {"./uninstall.sh", 0}};
    EXPECT_ZIP(dotted, "linux.zip", DR_OK, "");
}

static void required_scripts_must_be_at_the_root(void)
{
    const zip_spec no_install[] = {{"uninstall.sh", 0}, {"payload.txt", 0}};
    EXPECT_ZIP(no_install, "linux.zip", DR_ERR_PACKAGE_LAYOUT, "linux.zip: no install.sh at the zip's root");
    const zip_spec no_uninstall[] = {{"install.sh", 0}, {"update.sh", 0}};
    EXPECT_ZIP(no_uninstall, "linux.zip", DR_ERR_PACKAGE_LAYOUT, "linux.zip: no uninstall.sh at the zip's root");
    const zip_spec no_scripts[] = {{"payload.txt", 0}};
    EXPECT_ZIP(no_scripts, "linux.zip", DR_ERR_PACKAGE_LAYOUT, "linux.zip: no install.sh at the zip's root");
    const zip_spec no_uninstall_ps1[] = {{"install.ps1", 0}};
    EXPECT_ZIP(no_uninstall_ps1, "windows.zip", DR_ERR_PACKAGE_LAYOUT,
               "windows.zip: no uninstall.ps1 at the zip's root");
    const zip_spec mixed_pair[] = {{"install.sh", 0}, {"uninstall.ps1", 0}};
    EXPECT_ZIP(mixed_pair, "linux.zip", DR_ERR_PACKAGE_LAYOUT, "linux.zip: no uninstall.sh at the zip's root");
    const zip_spec linked[] = {{"install.sh", S_IFLNK | 0777}, {"uninstall.sh", 0}, {"payload", 0}};
    EXPECT_ZIP(linked, "linux.zip", DR_ERR_PACKAGE_LAYOUT,
               "linux.zip: install.sh at the zip's root is not a regular file");
}

static void each_action_has_one_script_kind(void)
{
    const zip_spec both_install[] = {{"install.sh", 0}, {"install.ps1", 0}, {"uninstall.sh", 0}};
    EXPECT_ZIP(both_install, "linux.zip", DR_ERR_PACKAGE_LAYOUT, "linux.zip: has both install.sh and install.ps1");
    const zip_spec both_update[] = {{"install.sh", 0}, {"uninstall.sh", 0}, {"update.sh", 0}, {"update.ps1", 0}};
    EXPECT_ZIP(both_update, "linux.zip", DR_ERR_PACKAGE_LAYOUT, "linux.zip: has both update.sh and update.ps1");
    const zip_spec both_validate[] = {
        {"install.ps1", 0}, {"uninstall.ps1", 0}, {"validate.sh", 0}, {"validate.ps1", 0}};
    EXPECT_ZIP(both_validate, "windows.zip", DR_ERR_PACKAGE_LAYOUT,
               "windows.zip: has both validate.sh and validate.ps1");
}

static void scripts_in_a_top_folder_get_a_hint(void)
{
    const zip_spec nested[] = {{"pkg/install.sh", 0}, {"pkg/uninstall.sh", 0}, {"pkg/bin/agent", 0}};
    EXPECT_ZIP(nested, "linux.zip", DR_ERR_PACKAGE_LAYOUT,
               "linux.zip: install.sh is inside pkg/, it must be at the zip's root");
    const zip_spec nested_ps1[] = {{"agent-1.0/install.ps1", 0}, {"agent-1.0/uninstall.ps1", 0}};
    EXPECT_ZIP(nested_ps1, "windows.zip", DR_ERR_PACKAGE_LAYOUT,
               "windows.zip: install.ps1 is inside agent-1.0/, it must be at the zip's root");
    const zip_spec half_nested[] = {{"install.sh", 0}, {"scripts/uninstall.sh", 0}};
    EXPECT_ZIP(half_nested, "linux.zip", DR_ERR_PACKAGE_LAYOUT,
               "linux.zip: uninstall.sh is inside scripts/, it must be at the zip's root");
}

static void unsafe_entries_are_refused(void)
{
    const zip_spec slip[] = {{"install.sh", 0}, {"uninstall.sh", 0}, {"../evil.sh", 0}};
    EXPECT_ZIP(slip, "linux.zip", DR_ERR_ARCHIVE_UNSAFE, "linux.zip: entry '../evil.sh': '..' component");
    const zip_spec absolute[] = {{"install.sh", 0}, {"uninstall.sh", 0}, {"/etc/cron.d/x", 0}};
    EXPECT_ZIP(absolute, "linux.zip", DR_ERR_ARCHIVE_UNSAFE, "linux.zip: entry '/etc/cron.d/x': absolute path");
    const zip_spec device[] = {{"install.sh", 0}, {"uninstall.sh", 0}, {"tty", S_IFCHR | 0666}};
    EXPECT_ZIP(device, "linux.zip", DR_ERR_ARCHIVE_UNSAFE, "linux.zip: entry 'tty': a device, FIFO or socket");

    char path[1024];
    snprintf(path, sizeof path, "%s/corrupt.zip", workdir);
    FILE *f = fopen(path, "wb");
    fputs("PK\x03\x04 not really a zip", f);
    fclose(f);
    dr_error err = {0};
    CHECK_INT(DR_ERR_ARCHIVE, dr_package_layout_check_zip(path, "linux.zip", &err));
    CHECK_CONTAINS("linux.zip: corrupt.zip: ", err.detail);
}

/* ---- directories ---- */

static void make_file(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, script, strlen(script));
}

static char *make_dir(const char *name)
{
    char *path = path_in(workdir, name);
    CHECK_INT(0, mkdir(path, 0755));
    return path;
}

static void extracted_directories_follow_the_same_rules(void)
{
    dr_error err = {0};
    char *good = make_dir("good");
    make_file(good, "install.sh");
    make_file(good, "uninstall.sh");
    make_file(good, "validate.sh");
    CHECK_INT(DR_OK, dr_package_layout_check_dir(good, "linux.zip", &err));
    CHECK_STR("", err.detail);

    char *windows = make_dir("windows");
    make_file(windows, "install.ps1");
    make_file(windows, "uninstall.ps1");
    CHECK_INT(DR_OK, dr_package_layout_check_dir(windows, "windows.zip", &err));

    char *missing = make_dir("missing");
    make_file(missing, "install.sh");
    CHECK_INT(DR_ERR_PACKAGE_LAYOUT, dr_package_layout_check_dir(missing, "linux.zip", &err));
    CHECK_STR("linux.zip: no uninstall.sh at the zip's root", err.detail);

    char *both = make_dir("both");
    make_file(both, "install.sh");
    make_file(both, "uninstall.sh");
    make_file(both, "uninstall.ps1");
    CHECK_INT(DR_ERR_PACKAGE_LAYOUT, dr_package_layout_check_dir(both, "linux.zip", &err));
    CHECK_STR("linux.zip: has both uninstall.sh and uninstall.ps1", err.detail);

    char *linked = make_dir("linked");
    make_file(linked, "real.sh");
    make_file(linked, "uninstall.sh");
    char path[1024];
    snprintf(path, sizeof path, "%s/install.sh", linked);
    CHECK_INT(0, symlink("real.sh", path));
    CHECK_INT(DR_ERR_PACKAGE_LAYOUT, dr_package_layout_check_dir(linked, "linux.zip", &err));
    CHECK_STR("linux.zip: install.sh at the zip's root is not a regular file", err.detail);

    char *nested = make_dir("nested");
    char *pkg = make_dir("nested/pkg");
    make_file(pkg, "install.sh");
    make_file(pkg, "uninstall.sh");
    CHECK_INT(DR_ERR_PACKAGE_LAYOUT, dr_package_layout_check_dir(nested, "linux.zip", &err));
    CHECK_STR("linux.zip: install.sh is inside pkg/, it must be at the zip's root", err.detail);

    char *empty = make_dir("empty");
    CHECK_INT(DR_ERR_PACKAGE_LAYOUT, dr_package_layout_check_dir(empty, "linux.zip", &err));
    CHECK_STR("linux.zip: no install.sh at the zip's root", err.detail);

    snprintf(path, sizeof path, "%s/no-such-dir", workdir);
    CHECK_INT(DR_ERR_IO, dr_package_layout_check_dir(path, "linux.zip", &err));
    CHECK_CONTAINS("no-such-dir", err.detail);
}

int main(void)
{
    if (!mkdtemp(workdir)) {
        perror("mkdtemp");
        return 1;
    }
    good_packages_pass();
    required_scripts_must_be_at_the_root();
    each_action_has_one_script_kind();
    scripts_in_a_top_folder_get_a_hint();
    unsafe_entries_are_refused();
    extracted_directories_follow_the_same_rules();
    CHECK_INT(DR_OK, dr_remove_tree(workdir, NULL));
    return check_done("package_layout");
}
