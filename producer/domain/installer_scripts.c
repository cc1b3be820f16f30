#include "installer_scripts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "strbuf.h"

/* What each script does, for its header: action, one line saying it, what "nothing to do" means. */
static const struct {
    const char *action;
    const char *does;
    const char *nothing_to_do;
    int removes;
} actions[] = {
    {"install", "install %s %s, unless that version is already installed", "that version is already installed", 0},
    {"update",
     "update %s in place to %s: the package manager replaces the installed version (newer or older), keeping its "
     "configuration",
     "that version is already installed", 0},
    {"uninstall", "remove %s, whatever version of it is installed (this script was written for %s)",
     "the package is not installed", 1},
};

/*
 * The start of every script.  printf arguments: action, what it does (already
 * formatted), installer kind, installer file, nothing-to-do case, the state
 * checked at the end, package name, install_variables (or "" for
 * uninstall.sh, which needs neither), action.
 */
static const char script_head[] =
    "#!/bin/sh\n"
    "# %s.sh - %s.\n"
    "# Written by drover-producer package create for the %s beside it, %s.\n"
    "#\n"
    "# Target root: $DROVER_TARGET_ROOT (unset or empty: /).  At / the system's own\n"
    "# package database is used; under any other root the package manager keeps\n"
    "# its database inside that root (dpkg --root, rpm --root --dbpath).\n"
    "#\n"
    "# Exit codes:\n"
    "#   0  done, or nothing to do (%s)\n"
    "#   1  the package manager failed; its messages are above\n"
    "#   2  cannot start: the package manager or the installer file is missing\n"
    "#   3  the package manager reported success but the package is not %s\n"
    "set -u\n"
    "PACKAGE='%s'\n"
    "%s"
    "ROOT=${DROVER_TARGET_ROOT:-/}\n"
    "ACTION=%s\n"
    "say() { echo \"$ACTION.sh: $*\"; }\n"
    "die() { code=$1; shift; echo \"$ACTION.sh: $*\" >&2; exit \"$code\"; }\n"
    "need() { command -v \"$1\" >/dev/null 2>&1 || die 2 \"$1 not found; this package "
    "needs it\"; }\n"
    "\n";

/* What install.sh and update.sh need besides the package name.  printf arguments: version, installer file. */
static const char install_variables[] =
    "VERSION='%s'\n"
    "INSTALLER=\"$(cd \"$(dirname \"$0\")\" && pwd)/%s\"\n";

static const char deb_functions[] =
    "# dpkg's state of $PACKAGE in ROOT and its version (\"installed 1.0-1\"), or nothing when dpkg does not know it.\n"
    "package_status() {\n"
    "    if [ \"$ROOT\" = / ]; then admin=/var/lib/dpkg; else admin=$ROOT/var/lib/dpkg; fi\n"
    "    [ -f \"$admin/status\" ] || return 0\n"
    "    dpkg-query --admindir=\"$admin\" -W -f='${Status} ${Version}\\n' \"$PACKAGE\" 2>/dev/null |\n"
    "        awk '{ print $3, $4 }'\n"
    "}\n"
    "installed_version() { package_status | sed -n 's/^installed //p'; }\n"
    "# dpkg on ROOT; under another root its database is ROOT/var/lib/dpkg, made when missing.\n"
    "dpkg_on_root() {\n"
    "    if [ \"$ROOT\" = / ]; then dpkg \"$@\"; return; fi\n"
    "    mkdir -p \"$ROOT/var/lib/dpkg/info\" \"$ROOT/var/lib/dpkg/updates\" || return 1\n"
    "    [ -e \"$ROOT/var/lib/dpkg/status\" ] || : >\"$ROOT/var/lib/dpkg/status\" || return 1\n"
    "    dpkg --root=\"$ROOT\" \"$@\"\n"
    "}\n"
    "need dpkg\n"
    "need dpkg-query\n"
    "\n";

static const char deb_install[] =
    "[ -f \"$INSTALLER\" ] || die 2 \"$INSTALLER is missing\"\n"
    "if [ \"$(installed_version)\" = \"$VERSION\" ]; then\n"
    "    say \"$PACKAGE $VERSION is already installed; nothing to do\"\n"
    "    exit 0\n"
    "fi\n"
    "if [ \"$ROOT\" = / ] && command -v apt-get >/dev/null 2>&1; then\n"
    "    # apt-get installs the package's dependencies too; --allow-downgrades lets this version replace a newer one.\n"
    "    DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-downgrades \"$INSTALLER\" ||\n"
    "        die 1 \"apt-get could not install $INSTALLER\"\n"
    "else\n"
    "    dpkg_on_root --install \"$INSTALLER\" || die 1 \"dpkg could not install $INSTALLER\"\n"
    "fi\n"
    "[ \"$(installed_version)\" = \"$VERSION\" ] || die 3 \"$PACKAGE $VERSION is not installed after dpkg said it was\"\n"
    "say \"installed $PACKAGE $VERSION\"\n";

static const char deb_uninstall[] =
    "case $(package_status) in\n"
    "'' | not-installed* | config-files*)\n"
    "    say \"$PACKAGE is not installed; nothing to do\"\n"
    "    exit 0\n"
    "    ;;\n"
    "esac\n"
    "dpkg_on_root --remove \"$PACKAGE\" || die 1 \"dpkg could not remove $PACKAGE\"\n"
    "[ -z \"$(installed_version)\" ] || die 3 \"$PACKAGE is still installed after dpkg removed it\"\n"
    "say \"removed $PACKAGE\"\n";

static const char rpm_functions[] =
    "# rpm on ROOT; under another root its database is ROOT/var/lib/rpm.\n"
    "rpm_on_root() {\n"
    "    if [ \"$ROOT\" = / ]; then rpm \"$@\"; else rpm --root \"$ROOT\" --dbpath /var/lib/rpm \"$@\"; fi\n"
    "}\n"
    "# Every version of $PACKAGE installed in ROOT, one a line, or nothing.\n"
    "installed_versions() {\n"
    "    versions=$(rpm_on_root -q --queryformat '" DR_INSTALLER_RPM_VERSION_FORMAT
    "\\n' \"$PACKAGE\" 2>/dev/null) ||\n"
    "        return 0\n"
    "    printf '%s\\n' \"$versions\"\n"
    "}\n"
    "need rpm\n"
    "\n";

static const char rpm_install[] =
    "[ -f \"$INSTALLER\" ] || die 2 \"$INSTALLER is missing\"\n"
    "if installed_versions | grep -qxF \"$VERSION\"; then\n"
    "    say \"$PACKAGE $VERSION is already installed; nothing to do\"\n"
    "    exit 0\n"
    "fi\n"
    "if [ \"$ROOT\" = / ] && [ -z \"$(installed_versions)\" ] && pm=$(command -v dnf || command -v yum); then\n"
    "    # dnf and yum install the package's dependencies too.\n"
    "    \"$pm\" -y install \"$INSTALLER\" || die 1 \"$pm could not install $INSTALLER\"\n"
    "else\n"
    "    # -U installs or upgrades; --oldpackage lets this version replace a newer one.\n"
    "    rpm_on_root -U --oldpackage \"$INSTALLER\" || die 1 \"rpm could not install $INSTALLER\"\n"
    "fi\n"
    "installed_versions | grep -qxF \"$VERSION\" || die 3 \"$PACKAGE $VERSION is not installed after rpm said it "
    "was\"\n"
    "say \"installed $PACKAGE $VERSION\"\n";

static const char rpm_uninstall[] =
    "if [ -z \"$(installed_versions)\" ]; then\n"
    "    say \"$PACKAGE is not installed; nothing to do\"\n"
    "    exit 0\n"
    "fi\n"
    "rpm_on_root -e --allmatches \"$PACKAGE\" || die 1 \"rpm could not remove $PACKAGE\"\n"
    "[ -z \"$(installed_versions)\" ] || die 3 \"$PACKAGE is still installed after rpm removed it\"\n"
    "say \"removed $PACKAGE\"\n";

/* The text of the script for actions[which]; NULL when out of memory.  Caller frees. */
static char *script_text(const dr_installer *installer, size_t which)
{
    dr_strbuf does = DR_STRBUF_INIT, variables = DR_STRBUF_INIT, text = DR_STRBUF_INIT;
    int deb = installer->kind == DR_INSTALLER_DEB;
    char file[16];
    snprintf(file, sizeof file, "package.%s", dr_installer_extension(installer->kind));
    /* The format is one of the constant sentences above, never input. */
    dr_strbuf_printf(&does, actions[which].does, installer->name, installer->version);
    if (!actions[which].removes)
        dr_strbuf_printf(&variables, install_variables, installer->version, file);
    dr_strbuf_printf(&text, script_head, actions[which].action, dr_strbuf_str(&does), deb ? "Debian package" : "RPM",
                     file, actions[which].nothing_to_do,
                     actions[which].removes ? "removed afterwards" : "installed afterwards", installer->name,
                     dr_strbuf_str(&variables), actions[which].action);
    dr_strbuf_puts(&text, deb ? deb_functions : rpm_functions);
    if (actions[which].removes)
        dr_strbuf_puts(&text, deb ? deb_uninstall : rpm_uninstall);
    else
        dr_strbuf_puts(&text, deb ? deb_install : rpm_install);
    /* A piece cut short by memory would leave a script that still runs: none at all instead. */
    if (does.failed || variables.failed)
        text.failed = 1;
    dr_strbuf_free(&does);
    dr_strbuf_free(&variables);
    return dr_strbuf_detach(&text, NULL);
}

/* Write text to dir/name, executable; it must not exist. */
static dr_status write_script(const char *dir, const char *name, const char *text, dr_error *err)
{
    dr_status status = DR_OK;
    char *path = NULL;
    int fd = -1;
    if (asprintf(&path, "%s/%s", dir, name) < 0) {
        path = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    if (fd < 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (dr_write_all(fd, text, strlen(text)) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "writing %s: %s", path, strerror(errno));
        goto cleanup;
    }

cleanup:
    if (fd >= 0 && close(fd) != 0 && status == DR_OK)
        status = dr_error_set(err, DR_ERR_IO, "writing %s: %s", path, strerror(errno));
    free(path);
    return status;
}

dr_status dr_installer_write_scripts(const dr_installer *installer, const char *dir, dr_error *err)
{
    dr_status status = DR_OK;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0] && status == DR_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.sh", actions[i].action);
        char *text = script_text(installer, i);
        status = text ? write_script(dir, name, text, err) : dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        free(text);
    }
    return status;
}
