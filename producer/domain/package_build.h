/*
 * package_build.h - write a package: one zip per platform and the
 * Distributor-format manifest.json (schemaVersion 2.0, a sha256 for every
 * file) naming them, into a directory made whole or not at all.
 *
 * What `package build` (parts found in a folder) and `package create` (parts
 * made from .deb and .rpm files) share.  A caller collects parts with
 * dr_package_parts_add, then calls dr_package_write once.
 */
#ifndef DROVER_PRODUCER_PACKAGE_BUILD_H
#define DROVER_PRODUCER_PACKAGE_BUILD_H

#include <stddef.h>

#include "error.h"
#include "sha256.h"

/* Distributor's per-package quotas. */
#define DR_PACKAGE_MAX_FILES 20
#define DR_PACKAGE_MAX_ZIP_BYTES (1024LL * 1024 * 1024)

/* One zip of the package: an existing zip to copy, or a folder to zip. */
typedef struct dr_package_part {
    char *label;     /* how messages name it: "ubuntu@22.04@x86_64.zip", "agent_1.0_amd64.deb" */
    char *source;    /* the zip or folder */
    char *file_name; /* the zip's name in the package and its manifest: PLATFORM@VERSION@ARCH.zip */
    char platform[64];
    char version[64];
    char arch[64];
    int is_dir;
    char sha256[DR_SHA256_HEX_SIZE]; /* set by dr_package_write */
} dr_package_part;

/* The parts, in the order added until dr_package_write sorts them by file name.  Zero it before use. */
typedef struct dr_package_parts {
    dr_package_part *items;
    size_t count;
} dr_package_parts;

/*
 * Split PLATFORM@VERSION@ARCH (len bytes at text, not NUL-terminated) into
 * its keys, each 1-63 of A-Z a-z 0-9 _ . - without "..", '*' allowed only in
 * VERSION (a manifest key); with arch_optional, PLATFORM@VERSION too
 * (arch is then "").  1 when text is that, 0 when not (the keys are then
 * unspecified).
 */
int dr_package_split_keys(const char *text, size_t len, int arch_optional, char platform[64], char version[64],
                          char arch[64]);

/*
 * Add a part for platform/version/arch (each a manifest key as above; DR_ERR_USAGE
 * names label when one is not a key).  label and source are copied.
 * DR_ERR_NOMEM when out of memory; parts is unchanged on any error.
 */
dr_status dr_package_parts_add(dr_package_parts *parts, const char *label, const char *source, int is_dir,
                               const char *platform, const char *version, const char *arch, dr_error *err);

void dr_package_parts_free(dr_package_parts *parts);

/*
 * The output directory for --out (NULL: ./NAME-VERSION), trailing slashes
 * dropped, since "out/" would put the staging directory inside out.
 * Caller frees; NULL when out of memory.
 */
char *dr_package_out_path(const char *out, const char *name, const char *version);

/*
 * Write the package into out, which must not exist: every part zipped or
 * copied as PLATFORM@VERSION@ARCH.zip (each checked by
 * dr_package_layout_check_zip and against the 1 GiB quota, its sha256 set in
 * parts), then manifest.json with version and publisher (NULL: none).  The
 * work happens in a staging directory beside out, renamed to out at the end;
 * on any error nothing is left.  DR_ERR_USAGE: no parts, more than 20, two for
 * the same platform, version and arch (both labels named), or a part the
 * layout rules refuse; DR_ERR_IO for out existing or a failed write.
 */
dr_status dr_package_write(const char *out, const char *version, const char *publisher, dr_package_parts *parts,
                           dr_error *err);

#endif
