/*
 * drover-producer package create --from FILE.deb|FILE.rpm ...: Distributor's
 * "simple" package creation.  Each installer file becomes one zip, for the
 * platform family and architecture the file itself names, holding the file
 * and generated install.sh, uninstall.sh and update.sh (installer_scripts.h);
 * the zips and manifest.json are written as package build writes them
 * (package_build.h).
 *
 * --from FILE=PLATFORM@PLATFORM_VERSION[@ARCH] puts a file under other keys
 * (an .rpm for Amazon Linux, a .deb for one Ubuntu release).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "files.h"
#include "installer.h"
#include "installer_scripts.h"
#include "names.h"
#include "package_build.h"

static const dr_setting create_settings[] = {
    DR_COMMON_SETTINGS,
    {"from", DR_SETTING_LIST, NULL,
     "FILE[=PLATFORM@PLATFORM_VERSION[@ARCH]]: a .deb or .rpm to package, and the manifest keys it goes under "
     "when not the file's own; repeat for each platform and arch (required)"},
    DR_PRODUCER_PACKAGE_WRITE_SETTINGS,
};

static const char create_usage[] =
    "usage: drover-producer package create --from FILE.deb|FILE.rpm[=PLATFORM@PLATFORM_VERSION[@ARCH]] [--from ...]\n"
    "                                      --name NAME --version VERSION [--out OUT] [--publisher P]\n"
    "\n"
    "Makes a package from installer files, as Distributor's simple package creation does: one zip per\n"
    "file, holding the file (as package.deb or package.rpm) and generated install.sh, uninstall.sh and\n"
    "update.sh, and manifest.json, as package build writes them.  The manifest key of each file comes\n"
    "from the file itself (dpkg-deb or rpm reads it, and must be installed):\n"
    "  a .deb  debian@_any@ARCH  every Debian and Debian-family target (Ubuntu, Mint, Raspbian, ...)\n"
    "  an .rpm redhat@_any@ARCH  RHEL and its family (Rocky, AlmaLinux, CentOS, Oracle Linux)\n"
    "ARCH: amd64/x86_64 -> x86_64, arm64/aarch64 -> arm64, i386/i686 -> 386, all/noarch -> _any.\n"
    "FILE=PLATFORM@PLATFORM_VERSION[@ARCH] puts a file under other keys, e.g. agent.rpm=amazon@2023 or\n"
    "agent.deb=ubuntu@22.04 (the arch stays the file's unless given).\n"
    "Refused, naming the file: a file that is neither, one its tool cannot read, a package name or\n"
    "version with characters outside the package manager's usual ones, and two files for the same\n"
    "platform and arch.  The scripts install into $DROVER_TARGET_ROOT and are idempotent: installing\n"
    "the version installed, or uninstalling what is not installed, succeeds doing nothing; each lists\n"
    "its exit codes at its top.  OUT is written whole or not at all.";

/* One --from: the file, and the manifest keys given after '=' ("" for each the file decides). */
typedef struct from_spec {
    char *path;
    char platform[64];
    char version[64];
    char arch[64];
} from_spec;

/* Split FILE[=PLATFORM@VERSION[@ARCH]] (the last '=' splits) into spec, whose path the caller frees. */
static dr_status parse_from(const char *value, from_spec *spec, dr_error *err)
{
    memset(spec, 0, sizeof *spec);
    const char *eq = strrchr(value, '=');
    spec->path = eq ? strndup(value, (size_t)(eq - value)) : strdup(value);
    if (!spec->path)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    if (!eq)
        return DR_OK;
    int ok = dr_package_split_keys(eq + 1, strlen(eq + 1), 1, spec->platform, spec->version, spec->arch);
    if (!ok)
        return dr_error_set(err, DR_ERR_USAGE,
                            "--from %s: after '=' give PLATFORM@PLATFORM_VERSION or PLATFORM@PLATFORM_VERSION@ARCH, "
                            "each 1-63 of A-Z a-z 0-9 _ . - (e.g. ubuntu@22.04, amazon@2023@arm64)",
                            value);
    return DR_OK;
}

/* Put the installer from, inspected, into a fresh folder dir with its scripts; add that folder to parts. */
static dr_status stage_installer(const from_spec *from, const char *dir, dr_package_parts *parts, dr_error *err)
{
    dr_status status = DR_OK;
    const char *path = from->path;
    char *copy = NULL;
    dr_installer installer;
    struct stat st;
    if (stat(path, &st) != 0) {
        status = dr_error_set(err, DR_ERR_USAGE, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        status = dr_error_set(err, DR_ERR_USAGE, "%s: not a regular file", path);
        goto cleanup;
    }
    if (st.st_size > DR_PACKAGE_MAX_ZIP_BYTES) {
        status = dr_error_set(err, DR_ERR_USAGE, "%s: %lld bytes; a package zip may be at most 1 GiB", path,
                              (long long)st.st_size);
        goto cleanup;
    }
    status = dr_installer_inspect(path, &installer, err);
    if (status != DR_OK)
        goto cleanup;
    const char *platform = from->platform[0] ? from->platform : installer.platform;
    const char *version = from->version[0] ? from->version : "_any";
    const char *arch = from->arch[0] ? from->arch : installer.arch;
    /* The copy's name is fixed, so nothing in the file or its name chooses a path in the zip. */
    if (asprintf(&copy, "%s/package.%s", dir, dr_installer_extension(installer.kind)) < 0) {
        copy = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    status = dr_make_directories(dir, err);
    if (status == DR_OK)
        status = dr_copy_file(path, copy, err);
    if (status == DR_OK)
        status = dr_installer_write_scripts(&installer, dir, err);
    if (status == DR_OK)
        status = dr_package_parts_add(parts, path, dir, 1, platform, version, arch, err);
    if (status == DR_OK)
        printf("%s: %s %s (%s) for %s@%s@%s\n", path, installer.name, installer.version,
               dr_installer_extension(installer.kind), platform, version, arch);

cleanup:
    free(copy);
    return status;
}

/* Stage every installer in a work folder under $TMPDIR, then write the package as --out says. */
static dr_status create_package(const dr_config *cfg, char *const *files, size_t count, dr_package_parts *parts,
                                dr_error *err)
{
    dr_status status = DR_OK;
    const char *tmp = getenv("TMPDIR");
    char *work = NULL, *prefix = NULL;
    if (asprintf(&prefix, "%s/drover-create-", tmp && tmp[0] ? tmp : "/tmp") < 0) {
        prefix = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    status = dr_make_temp_directory(prefix, &work, err);
    if (status != DR_OK)
        goto cleanup;
    for (size_t i = 0; i < count && status == DR_OK; i++) {
        char *part_dir = NULL;
        if (asprintf(&part_dir, "%s/%zu", work, i) < 0) {
            status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
            break;
        }
        from_spec from;
        status = parse_from(files[i], &from, err);
        if (status == DR_OK)
            status = stage_installer(&from, part_dir, parts, err);
        free(from.path);
        free(part_dir);
    }
    if (status == DR_OK)
        status = dr_producer_package_write(cfg, parts, err);

cleanup:
    if (work)
        dr_remove_tree(work, NULL); /* best effort: a leftover work folder must not hide the outcome */
    free(work);
    free(prefix);
    return status;
}

int cmd_package_create(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_package_parts parts = {0};
    dr_config *cfg =
        dr_program_start("drover-producer", create_settings, sizeof create_settings / sizeof create_settings[0], argc,
                         argv, create_usage, &exit_code);
    if (!cfg)
        return exit_code;
    char *const *positional;
    char *const *files;
    size_t file_count = dr_config_list(cfg, "from", &files);
    const char *name = dr_config_string(cfg, "name");
    const char *version = dr_config_string(cfg, "version");
    if (dr_config_positional(cfg, &positional) != 0 || file_count == 0 || !name || !version) {
        dr_error_set(&err, DR_ERR_USAGE, "package create needs --from, --name and --version (see --help)");
        goto fail;
    }
    if (file_count > DR_PACKAGE_MAX_FILES) {
        dr_error_set(&err, DR_ERR_USAGE, "%zu --from files; a package may have at most %d files", file_count,
                     DR_PACKAGE_MAX_FILES);
        goto fail;
    }
    /* Checked now as well, so a bad name fails before any file is read. */
    if (dr_check_package_token("--name", name, &err) != DR_OK ||
        dr_check_package_token("--version", version, &err) != DR_OK)
        goto fail;
    if (create_package(cfg, files, file_count, &parts, &err) != DR_OK)
        goto fail;
    goto cleanup;

fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_package_parts_free(&parts);
    dr_config_free(cfg);
    return exit_code;
}
