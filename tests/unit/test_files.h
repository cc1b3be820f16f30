/*
 * test_files.h - naming and writing the files a unit test sets up.
 *
 * Scratch directories are removed with dr_remove_tree (files.h); what is
 * here is only what the tests need and the product does not.
 */
#ifndef DROVER_TEST_FILES_H
#define DROVER_TEST_FILES_H

#include <stddef.h>
#include <stdio.h>

#include "check.h"

/*
 * dir/name, in one of eight buffers used in turn: a path stays valid for the
 * next seven calls, so a test can hold a few at once without declaring
 * buffers (copy one it keeps longer).  Each test file has its own buffers.
 */
static inline char *path_in(const char *dir, const char *name)
{
    static char paths[8][1024];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, sizeof paths[0], "%s/%s", dir, name);
    return path;
}

/*
 * Create or truncate path and write len bytes of data to it.  A file that
 * cannot be written is a failed CHECK, not an exit, so the test goes on
 * and reports what follows from the missing file too.
 */
static inline void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_INT(len, fwrite(data, 1, len, f));
    CHECK_INT(0, fclose(f));
}

#endif
