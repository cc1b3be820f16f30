/*
 * package_layout.c - the package rules, over a zip listing or a directory.
 *
 * Both checks gather the same facts (which of the eight script names sit at
 * the root, and whether each is a regular file) and hand them to one rule
 * function, so the producer and the worker cannot disagree about what a
 * valid package is.  When a required script is missing, each side looks one
 * step further for the common mistake of zipping the folder instead of its
 * contents, and says so.
 */
#include "package_layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"

/* Each action's .sh at an even index, its .ps1 just after. */
static const char *const script_names[] = {
    "install.sh", "install.ps1", "uninstall.sh", "uninstall.ps1",
    "update.sh",  "update.ps1",  "validate.sh",  "validate.ps1",
};
#define SCRIPT_COUNT (sizeof script_names / sizeof script_names[0])
enum { INSTALL_SH, INSTALL_PS1, UNINSTALL_SH, UNINSTALL_PS1 };

typedef enum script_presence { SCRIPT_ABSENT = 0, SCRIPT_FILE, SCRIPT_NOT_FILE } script_presence;

/*
 * The rules.  When the error is a missing script, *missing is its index in
 * script_names (so the caller can look for it in a subfolder), else -1.
 */
static dr_status check_scripts(const script_presence found[SCRIPT_COUNT], const char *label, int *missing,
                               dr_error *err)
{
    *missing = -1;
    for (size_t i = 0; i < SCRIPT_COUNT; i += 2)
        if (found[i] != SCRIPT_ABSENT && found[i + 1] != SCRIPT_ABSENT)
            return dr_error_set(err, DR_ERR_PACKAGE_LAYOUT, "%s: has both %s and %s", label, script_names[i],
                                script_names[i + 1]);
    for (size_t i = 0; i < SCRIPT_COUNT; i++)
        if (found[i] == SCRIPT_NOT_FILE)
            return dr_error_set(err, DR_ERR_PACKAGE_LAYOUT, "%s: %s at the zip's root is not a regular file", label,
                                script_names[i]);
    /* The install/uninstall pair decides the kind; with neither, ask for the Unix one. */
    int windows = !found[INSTALL_SH] && !found[UNINSTALL_SH] && (found[INSTALL_PS1] || found[UNINSTALL_PS1]);
    int install = windows ? INSTALL_PS1 : INSTALL_SH, uninstall = windows ? UNINSTALL_PS1 : UNINSTALL_SH;
    if (!found[install])
        *missing = install;
    else if (!found[uninstall])
        *missing = uninstall;
    if (*missing >= 0)
        return dr_error_set(err, DR_ERR_PACKAGE_LAYOUT, "%s: no %s at the zip's root", label, script_names[*missing]);
    return DR_OK;
}

static dr_status report_nested(const char *label, const char *script, const char *folder, size_t folder_len,
                               dr_error *err)
{
    return dr_error_set(err, DR_ERR_PACKAGE_LAYOUT, "%s: %s is inside %.*s/, it must be at the zip's root", label,
                        script, (int)folder_len, folder);
}

/* ---- zip ---- */

/* The name with any leading "./" dropped: "./install.sh" lands at the root too. */
static const char *root_relative(const char *name)
{
    for (;;) {
        if (name[0] == '.' && name[1] == '/')
            name += 2;
        else if (name[0] == '/')
            name++;
        else
            return name;
    }
}

/* Whether name is script at the root ("install.sh", or "install.sh/" when a directory). */
static int names_root_script(const char *name, const char *script)
{
    size_t len = strlen(script);
    name = root_relative(name);
    return strncmp(name, script, len) == 0 && (name[len] == '\0' || (name[len] == '/' && name[len + 1] == '\0'));
}

/* The shallowest "<folder>/<script>" file in the listing; 0 when there is none. */
static int find_nested_in_listing(const dr_archive_listing *listing, const char *script, const char **folder,
                                  size_t *folder_len)
{
    size_t script_len = strlen(script);
    int found = 0;
    for (size_t i = 0; i < listing->count; i++) {
        if (listing->entries[i].kind != DR_ARCHIVE_FILE)
            continue;
        const char *name = root_relative(listing->entries[i].name);
        size_t len = strlen(name);
        if (len <= script_len + 1 || name[len - script_len - 1] != '/' || strcmp(name + len - script_len, script) != 0)
            continue;
        size_t dir_len = len - script_len - 1;
        if (!found || dir_len < *folder_len) {
            *folder = name;
            *folder_len = dir_len;
            found = 1;
        }
    }
    return found;
}

dr_status dr_package_layout_check_zip(const char *zip_path, const char *label, dr_error *err)
{
    dr_archive_listing listing = {0};
    script_presence found[SCRIPT_COUNT] = {SCRIPT_ABSENT};
    dr_status status = dr_archive_list(zip_path, &listing, err);
    if (status != DR_OK) {
        dr_error_wrap(err, "%s", label);
        goto cleanup;
    }
    for (size_t i = 0; i < listing.count; i++) {
        const dr_archive_entry *entry = &listing.entries[i];
        const char *reason = dr_archive_unsafe_name_reason(entry->name);
        if (reason) {
            status = dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "%s: entry '%.200s': %s", label, entry->name, reason);
            goto cleanup;
        }
        if (entry->kind == DR_ARCHIVE_OTHER) {
            status = dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "%s: entry '%.200s': a device, FIFO or socket", label,
                                  entry->name);
            goto cleanup;
        }
        for (size_t s = 0; s < SCRIPT_COUNT; s++)
            if (names_root_script(entry->name, script_names[s]))
                found[s] = entry->kind == DR_ARCHIVE_FILE ? SCRIPT_FILE : SCRIPT_NOT_FILE;
    }
    int missing = -1;
    status = check_scripts(found, label, &missing, err);
    if (missing >= 0) {
        /* With no script at all, a nested install.ps1 is as telling as a nested install.sh. */
        int alternative = missing == INSTALL_SH && !found[UNINSTALL_SH] ? INSTALL_PS1 : missing;
        const char *folder = NULL;
        size_t folder_len = 0;
        if (find_nested_in_listing(&listing, script_names[missing], &folder, &folder_len))
            report_nested(label, script_names[missing], folder, folder_len, err);
        else if (find_nested_in_listing(&listing, script_names[alternative], &folder, &folder_len))
            report_nested(label, script_names[alternative], folder, folder_len, err);
    }

cleanup:
    dr_archive_listing_free(&listing);
    return status;
}

/* ---- directory ---- */

static dr_status presence_at(int dir_fd, const char *name, script_presence *out, const char *label, dr_error *err)
{
    struct stat st;
    *out = SCRIPT_ABSENT;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        *out = S_ISREG(st.st_mode) ? SCRIPT_FILE : SCRIPT_NOT_FILE;
    else if (errno != ENOENT && errno != ENOTDIR)
        return dr_error_set(err, DR_ERR_IO, "%s: stat %s: %s", label, name, strerror(errno));
    return DR_OK;
}

/* The first subfolder (by name) of dir_fd holding script as a regular file, copied to folder; 0 when none. */
static int find_nested_in_dir(int dir_fd, const char *script, char *folder, size_t folder_size)
{
    int found = 0;
    int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    rewinddir(d);
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        char path[512];
        struct stat st;
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", de->d_name, script) >= sizeof path)
            continue;
        if (fstatat(dir_fd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!found || strcmp(de->d_name, folder) < 0) {
            snprintf(folder, folder_size, "%s", de->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

dr_status dr_package_layout_check_dir(const char *dir, const char *label, dr_error *err)
{
    script_presence found[SCRIPT_COUNT] = {SCRIPT_ABSENT};
    dr_status status = DR_OK;
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        status = dr_error_set(err, DR_ERR_IO, "%s: open %s: %s", label, dir, strerror(errno));
        goto cleanup;
    }
    for (size_t s = 0; s < SCRIPT_COUNT; s++) {
        status = presence_at(dir_fd, script_names[s], &found[s], label, err);
        if (status != DR_OK)
            goto cleanup;
    }
    int missing = -1;
    status = check_scripts(found, label, &missing, err);
    if (missing >= 0) {
        int alternative = missing == INSTALL_SH && !found[UNINSTALL_SH] ? INSTALL_PS1 : missing;
        char folder[256];
        if (find_nested_in_dir(dir_fd, script_names[missing], folder, sizeof folder))
            report_nested(label, script_names[missing], folder, strlen(folder), err);
        else if (find_nested_in_dir(dir_fd, script_names[alternative], folder, sizeof folder))
            report_nested(label, script_names[alternative], folder, strlen(folder), err);
    }

cleanup:
    if (dir_fd >= 0)
        close(dir_fd);
    return status;
}
