/*
 * files.h - directory trees and whole files: make a path, remove a tree,
 * write a buffer out, copy a file.
 *
 * The few file-system jobs every process does the same way (the engine's
 * package directories, archive extraction's temporary directory, the
 * producer's staging directory, the tests' scratch directories), so each is
 * done once, here.
 */
#ifndef DROVER_FILES_H
#define DROVER_FILES_H

#include <stddef.h>

#include "error.h"

/*
 * mkdir -p: create path and every missing parent, each with mode 0755
 * (less the umask).  Whatever already exists is left as it is (mkdir's
 * EEXIST), so a file standing where a directory should be is noticed only
 * when the path is used.  DR_ERR_IO names the component that could not be
 * created, or the path when it is longer than 4095 bytes.
 */
dr_status dr_make_directories(const char *path, dr_error *err);

/*
 * rm -rf: remove path and, when it is a directory, everything below it.
 * Symlinks are removed, never followed, so nothing outside the tree is
 * touched (path itself being a symlink removes only the link).  A missing
 * path is fine.  Removal keeps going past an entry it cannot remove, so as
 * much as possible goes; DR_ERR_IO then names the first such entry.
 */
dr_status dr_remove_tree(const char *path, dr_error *err);

/*
 * write(2) all len bytes of data, retrying short writes and EINTR.  0, or
 * -1 with errno set (EIO when the file took nothing).
 */
int dr_write_all(int fd, const void *data, size_t len);

/*
 * Copy src to dest, a new file (it must not exist yet), and flush it to
 * disk.  DR_ERR_IO names the file that could not be read or written.
 */
dr_status dr_copy_file(const char *src, const char *dest, dr_error *err);

/*
 * mkdtemp: create a new directory named prefix followed by six random
 * characters (mode 0700), and set *path to its name (the caller frees it).
 * DR_ERR_IO names the directory that could not be made; *path is then NULL.
 */
dr_status dr_make_temp_directory(const char *prefix, char **path, dr_error *err);

#endif
