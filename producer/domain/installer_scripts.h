/*
 * installer_scripts.h - the install.sh, uninstall.sh and update.sh that
 * install one .deb or .rpm (an installer.h dr_installer) on a target.
 *
 * The scripts install the file beside them, package.deb or package.rpm, into
 * $DROVER_TARGET_ROOT (unset: /): under another root, dpkg --root and rpm
 * --root with its database inside that root; at / apt-get (dnf or yum for an
 * .rpm not yet installed) so dependencies are resolved, else dpkg -i / rpm -U.
 * They are idempotent: install and update of the version already installed,
 * and uninstall of a package not installed, do nothing and exit 0.  Their
 * header lists the exit codes: 0 done, 1 the package manager failed, 2 it (or
 * the installer file) is missing, 3 it said yes but the package is not then
 * in the state asked for.
 */
#ifndef DROVER_PRODUCER_INSTALLER_SCRIPTS_H
#define DROVER_PRODUCER_INSTALLER_SCRIPTS_H

#include "error.h"
#include "installer.h"

/*
 * Write the three scripts (mode 0755) into dir, which exists and holds
 * nothing of these names.  installer's name and version must have passed
 * dr_installer_inspect's checks: they are written into the scripts in single
 * quotes.  DR_ERR_IO when a write fails.
 */
dr_status dr_installer_write_scripts(const dr_installer *installer, const char *dir, dr_error *err);

#endif
