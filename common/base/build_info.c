/*
 * build_info.c - the version and commit a program was built from.  See
 * build_info.h; the values come from the generated build_info_values.c.
 */
#include "build_info.h"

#include <stdio.h>
#include <string.h>

#include "program.h"

/* Defined in the generated build_info_values.c (scripts/build-info.cmake). */
extern const char dr_build_info_version[];
extern const char dr_build_info_commit[];

const char *dr_build_version(void)
{
    return dr_build_info_version;
}

const char *dr_build_commit(void)
{
    return dr_build_info_commit;
}

int dr_build_version_requested(int argc, char **argv)
{
    return argc >= 2 && strcmp(argv[1], "--version") == 0;
}

int dr_build_print_version(const char *program)
{
    printf("%s (drover) %s\ncommit %s\n", program, dr_build_info_version, dr_build_info_commit);
    return fflush(stdout) == 0 && !ferror(stdout) ? DR_EXIT_OK : DR_EXIT_FAILED;
}
