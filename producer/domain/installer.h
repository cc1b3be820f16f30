/*
 * installer.h - what a .deb or an .rpm file says about itself: its package
 * name, version and architecture, read with the package manager's own tool
 * (dpkg-deb, rpm), and the manifest keys it belongs under.
 *
 * The file and every field in it are untrusted: the tool runs without a
 * shell, its output is bounded, and each field must pass the character rules
 * below before it is returned, so a name or version can be written into a
 * shell script in single quotes and never chooses a path.
 */
#ifndef DROVER_PRODUCER_INSTALLER_H
#define DROVER_PRODUCER_INSTALLER_H

#include "error.h"

typedef enum dr_installer_kind {
    DR_INSTALLER_DEB,
    DR_INSTALLER_RPM,
} dr_installer_kind;

typedef struct dr_installer {
    dr_installer_kind kind;
    /* The package manager's name: 1-128 of A-Z a-z 0-9 . _ + -, starting with a letter or digit. */
    char name[129];
    /*
     * The version as the package manager reports an installed one, so a
     * target can compare the two as strings: deb [EPOCH:]UPSTREAM[-REVISION],
     * rpm [EPOCH:]VERSION-RELEASE (DR_INSTALLER_RPM_VERSION_FORMAT).  1-128 of
     * A-Z a-z 0-9 . _ + ~ : -, starting with a letter or digit.
     */
    char version[129];
    char platform[16]; /* manifest platform key: "debian" (.deb) or "redhat" (.rpm) */
    char arch[16];     /* manifest arch key: x86_64, arm64, 386, or _any for all/noarch */
} dr_installer;

/* rpm's --queryformat for the version as above; the generated scripts query with the same one. */
#define DR_INSTALLER_RPM_VERSION_FORMAT "%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}"

/*
 * Read path.  The kind comes from its name (.deb or .rpm).  DR_ERR_USAGE,
 * naming path: neither extension, the tool cannot read it, a field breaks
 * the rules above, or an architecture Drover has no key for.  DR_ERR_IO: the
 * tool (dpkg-deb for .deb, rpm for .rpm) is not installed or cannot run.
 */
dr_status dr_installer_inspect(const char *path, dr_installer *out, dr_error *err);

/* "deb" or "rpm": the installer's extension, and its name inside a package zip ("package.deb"). */
const char *dr_installer_extension(dr_installer_kind kind);

#endif
