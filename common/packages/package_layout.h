/*
 * package_layout.h - the rules a package zip must follow, checked on a zip
 * (at build time, by the producer) and on an extracted directory (at install
 * time, by the worker, before any script runs).
 *
 * A package zip holds at its root install.sh and uninstall.sh (or, for
 * Windows, install.ps1 and uninstall.ps1), optionally update.sh / update.ps1
 * and validate.sh / validate.ps1, and the payload.  For each action there is
 * one script kind: both install.sh and install.ps1 is an error.  Every entry
 * name must be safe (see dr_archive_unsafe_name_reason).  Errors are
 * DR_ERR_PACKAGE_LAYOUT (or DR_ERR_ARCHIVE_UNSAFE for names) and name the
 * zip file and the rule it broke.
 */
#ifndef DROVER_PACKAGE_LAYOUT_H
#define DROVER_PACKAGE_LAYOUT_H

#include "error.h"

/* Check a zip file. label names it in messages (e.g. "linux-x86_64.zip"). */
dr_status dr_package_layout_check_zip(const char *zip_path, const char *label, dr_error *err);

/* Check an extracted package directory (install.sh and uninstall.sh present, no mixed kinds). */
dr_status dr_package_layout_check_dir(const char *dir, const char *label, dr_error *err);

#endif
