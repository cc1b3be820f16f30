/*
 * manifest.h - Distributor's package manifest: parse, validate, select.
 *
 * The format, unchanged from Distributor so its manifests work as they are:
 *   { "schemaVersion": "2.0", "version": "1.2.0", "publisher": "...",
 *     "packages": { PLATFORM: { PLATFORM_VERSION: { ARCH: { "file": "x.zip" } } } },
 *     "files": { "x.zip": { "checksums": { "sha256": "<64 hex>" } } } }
 *
 * Validation (DR_ERR_MANIFEST, naming the JSON path): schemaVersion "2.0";
 * version 1-128 of [A-Za-z0-9_.-]; every referenced file present in "files"
 * with a 64-hex sha256 (an empty checksums map is an error, though
 * Distributor lets it pass); file names safe (no '/', no "..").
 *
 * Selection (dr_manifest_select_file), in order of preference, with backoff:
 *   platform: the exact name, then each family name, then "_any";
 *   version:  exact (2 == 2.0 == 2.0.0), then the longest matching "N.*"
 *             wildcard by dotted parts ("7.*" matches 7 and 7.9, not 17),
 *             then "_any", then "*";
 *   arch:     exact, then "_any".
 * When a level misses below a chosen platform or version, the search backs
 * off to the next candidate at the level above (Distributor fails there).
 * The result names the rule that chose the file; a miss lists what was tried.
 */
#ifndef DROVER_MANIFEST_H
#define DROVER_MANIFEST_H

#include <stddef.h>

#include "error.h"
#include "platform.h"

typedef struct dr_manifest_file {
    char *name;
    char *sha256; /* lowercase hex */
} dr_manifest_file;

typedef struct dr_manifest dr_manifest;

/*
 * The largest manifest Drover reads, wherever from: publishing refuses what a
 * worker could not read.  Distributor's own manifests are a few kB.
 */
#define DR_MANIFEST_MAX_BYTES (4 * 1024 * 1024)

/* Parse and validate manifest text.  *out is freed with dr_manifest_free. */
dr_status dr_manifest_parse(const char *text, size_t len, dr_manifest **out, dr_error *err);
/* Read a file (at most DR_MANIFEST_MAX_BYTES) and parse it. */
dr_status dr_manifest_load(const char *path, dr_manifest **out, dr_error *err);
void dr_manifest_free(dr_manifest *m);

const char *dr_manifest_version(const dr_manifest *m);
const char *dr_manifest_publisher(const dr_manifest *m); /* NULL when absent */
size_t dr_manifest_file_count(const dr_manifest *m);
const dr_manifest_file *dr_manifest_file_at(const dr_manifest *m, size_t index);

typedef struct dr_manifest_selection {
    const dr_manifest_file *file; /* owned by the manifest */
    char platform_key[64];        /* the keys that matched */
    char version_key[64];
    char arch_key[64];
    char rule[512]; /* e.g. "platform redhat (family of rocky), version 8.* (wildcard), arch x86_64 (exact)" */
} dr_manifest_selection;

/* Choose the file for p. DR_ERR_NO_PLATFORM_MATCH lists what was tried. */
dr_status dr_manifest_select_file(const dr_manifest *m, const dr_platform *p, dr_manifest_selection *out,
                                  dr_error *err);

/* Compare dotted versions with trailing ".0" parts ignored and numeric parts as numbers: <0, 0, >0. */
int dr_version_compare(const char *a, const char *b);

#endif
