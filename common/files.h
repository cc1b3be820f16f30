/*
 * files.h - directory trees: make a path, remove a tree.
 *
 * The few file-system jobs every process does the same way (the engine's
 * package directories, archive extraction's temporary directory, the
 * producer's staging directory, the tests' scratch directories), so each is
 * done once, here.
 */
#ifndef DROVER_FILES_H
#define DROVER_FILES_H

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

#endif
