/*
 * platform.h - which platform a target is, in the manifest's terms.
 *
 * A platform is a name (Distributor's platform code: "ubuntu", "redhat",
 * "amazon", "windows", ... ; os-release IDs such as "rhel", "amzn", "ol",
 * "sles" are normalized to those codes), a version ("22.04") and an arch
 * ("x86_64", "arm64", "386").  family lists the names to fall back on, nearest
 * first, from os-release ID_LIKE and a built-in table (rocky, almalinux ->
 * redhat; linuxmint, pop -> ubuntu -> debian; ...), already normalized.
 */
#ifndef DROVER_PLATFORM_H
#define DROVER_PLATFORM_H

#include <stddef.h>

#include "error.h"

#define DR_PLATFORM_FAMILY_MAX 8

typedef struct dr_platform {
    char name[64];
    char version[64];
    char arch[32];
    char family[DR_PLATFORM_FAMILY_MAX][64];
    size_t family_count;
} dr_platform;

/* Distributor's code for an os-release ID ("rhel" -> "redhat"); others unchanged, lowercased. */
const char *dr_platform_normalize_name(const char *id, char *buf, size_t size);

/*
 * Fill p from name/version/arch and an ID_LIKE string (space separated, may
 * be NULL).  The family gets the ID_LIKE entries, then the built-in
 * table's entries for name, without duplicates or name itself.  The arch
 * is normalized ("amd64" -> "x86_64", "aarch64" -> "arm64", "i686" -> "386").
 */
dr_status dr_platform_init(dr_platform *p, const char *name, const char *version, const char *arch, const char *id_like,
                           dr_error *err);

/*
 * Detect the host: os-release at path (NULL: /etc/os-release, then
 * /usr/lib/os-release) for ID, VERSION_ID and ID_LIKE; uname for the arch.
 */
dr_status dr_platform_detect(dr_platform *p, const char *os_release_path, dr_error *err);

#endif
