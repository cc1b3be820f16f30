/*
 * archive.h - read, check and write zip archives (libzip), safely.
 *
 * Extraction is all or nothing: entries are written into a fresh temporary
 * directory beside dest_dir, which is renamed to dest_dir only when every
 * entry was written; on any error the temporary directory is removed and
 * dest_dir does not exist.  Refused, with DR_ERR_ARCHIVE_UNSAFE naming the
 * entry: absolute names, names with a ".." component, backslashes or NUL,
 * device/FIFO/socket entries, and symlinks whose target is absolute or has a
 * ".." component (so no symlink can lead outside).  Refused with
 * DR_ERR_ARCHIVE_LIMIT: more entries, or more total or per-entry expanded
 * bytes, than the limits; the actual bytes written are counted as well as the
 * declared sizes, so a lying header does not help a zip bomb.  A corrupt or
 * truncated archive (bad central directory, CRC error, short data) is
 * DR_ERR_ARCHIVE.  File modes keep only the permission bits 0755 of the entry
 * (no setuid/setgid/sticky); directories are 0755.
 */
#ifndef DROVER_ARCHIVE_H
#define DROVER_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct dr_archive_limits {
    uint64_t max_entries;
    uint64_t max_total_bytes;
    uint64_t max_entry_bytes;
} dr_archive_limits;

/* Defaults: 10,000 entries, 4 GiB expanded in all, 1 GiB per entry. */
void dr_archive_limits_default(dr_archive_limits *limits);

dr_status dr_archive_extract(const char *zip_path, const char *dest_dir, const dr_archive_limits *limits,
                             dr_error *err);

typedef enum dr_archive_entry_kind {
    DR_ARCHIVE_FILE,
    DR_ARCHIVE_DIRECTORY,
    DR_ARCHIVE_SYMLINK,
    DR_ARCHIVE_OTHER, /* device, FIFO, socket */
} dr_archive_entry_kind;

typedef struct dr_archive_entry {
    char *name;    /* as stored */
    uint64_t size; /* declared uncompressed size */
    dr_archive_entry_kind kind;
    unsigned mode; /* permission bits from the entry, 0 when none */
} dr_archive_entry;

typedef struct dr_archive_listing {
    dr_archive_entry *entries;
    size_t count;
} dr_archive_listing;

/* List the entries of a zip without extracting.  Free with dr_archive_listing_free. */
dr_status dr_archive_list(const char *zip_path, dr_archive_listing *out, dr_error *err);
void dr_archive_listing_free(dr_archive_listing *listing);

/*
 * Why name is unsafe as an entry name ("absolute path", "'..' component",
 * ...), or NULL when it is safe.  Shared by extraction and package build.
 */
const char *dr_archive_unsafe_name_reason(const char *name);

/*
 * Zip the contents of src_dir (recursively, names relative to src_dir, file
 * modes kept) into zip_path, written atomically (temp file and rename).
 */
dr_status dr_archive_create_from_dir(const char *src_dir, const char *zip_path, dr_error *err);

#endif
