/*
 * packages.h - the package registry: the packages topic (key package name,
 * value PackageVersions) read as a table, and the changes publish and
 * set-default make to one package's entry.
 *
 * Each change rewrites the package's whole entry (read, modify, write), so
 * two publishers changing one package at the same instant can lose one
 * change; the control plane's CLI is meant to be run by one person or
 * pipeline per package at a time.
 */
#ifndef DROVER_PRODUCER_PACKAGES_H
#define DROVER_PRODUCER_PACKAGES_H

#include <stddef.h>
#include <stdint.h>

#include "drover.pb-c.h"
#include "error.h"
#include "fetch.h"
#include "keys.h"
#include "manifest.h"
#include "sha256.h"
#include "table.h"

/*
 * Fetch the manifest at url (http://, https://, file:// or a path; s3://
 * with opt's endpoint) the way a worker will (dr_manifest_fetch: the same
 * size limit), hash its bytes and parse it.  opt NULL: the defaults, with a
 * 120 s limit.  *out is freed with dr_manifest_free.  DR_ERR_FETCH* when it
 * cannot be had (the detail names url), DR_ERR_MANIFEST when it is not a
 * valid manifest ("manifest URL: ...").
 */
dr_status dr_package_fetch_manifest(const char *url, const dr_fetch_options *opt, char sha256[DR_SHA256_HEX_SIZE],
                                    dr_manifest **out, dr_error *err);

/*
 * location as workers elsewhere can use it: a URL (it has "://") as it is, a
 * relative path made absolute against the current directory.  Malloc'd;
 * NULL when out of memory.
 */
char *dr_package_absolute_location(const char *location);

/*
 * The entry of name in the packages table: *out NULL when the package was
 * never published, else a decoded message the caller frees with
 * drover__v1__package_versions__free_unpacked(*out, NULL).
 * DR_ERR_MALFORMED_MESSAGE when the latest entry does not decode (it is
 * then never overwritten: that would drop every version it holds).
 */
dr_status dr_package_lookup(const dr_table *packages, const char *name, Drover__V1__PackageVersions **out,
                            dr_error *err);

/*
 * The wire bytes, as published, of the version named version in an encoded
 * PackageVersions entry (a packages-table row's value): what its publish
 * signature covers (request_signing.h).  Pointers are into entry.  -1 when
 * the entry does not hold it, or is not well-formed.
 */
int dr_package_version_bytes(const uint8_t *entry, size_t len, const char *version, const uint8_t **out,
                             size_t *out_len);

/* The version named exactly version, or NULL. */
const Drover__V1__PackageVersion *dr_package_find_version(const Drover__V1__PackageVersions *package,
                                                          const char *version);

/*
 * The version a deployment of name gets: version, or the default when
 * version is NULL.  *package_out is the decoded entry (caller frees) and
 * *version_out points into it.  DR_ERR_USAGE when the package was never
 * published, has no such version (the detail lists those published), or has
 * no default and none was asked.
 */
dr_status dr_package_resolve(const dr_table *packages, const char *name, const char *version,
                             Drover__V1__PackageVersions **package_out, const Drover__V1__PackageVersion **version_out,
                             dr_error *err);

/*
 * The entry of name (current, NULL when new) with version added, or
 * replacing the one of the same version string, encoded for the packages
 * topic.  The default becomes this version when there was none.
 * *replaced says whether a version was replaced.  Caller frees *bytes.
 *
 * Signed by operator_key (NULL: unsigned), twice: the new version on its
 * own, with the package name in it (the publish request: the control plane
 * lets a job use a version only when an operator allowed to publish the
 * package signed it), and the whole entry (the latest change to it).  The
 * other versions keep their own signatures: their bytes are re-encoded as
 * decoded, which protobuf-c does field by field in number order, as they
 * were signed.
 */
/*
 * Register version of package name on the packages topic (read, add or
 * replace the version, sign with operator_key, write back): what package
 * publish and package import end with.  *replaced says whether the version
 * was there already; default_version (size bytes) gets the package's
 * default version after it.
 */
dr_status dr_package_register_version(const dr_kafka_options *kafka, int timeout_ms, const char *name,
                                      const Drover__V1__PackageVersion *version, const dr_key *operator_key,
                                      int *replaced, char *default_version, size_t size, dr_error *err);

dr_status dr_package_encode_with_version(const Drover__V1__PackageVersions *current, const char *name,
                                         const Drover__V1__PackageVersion *version, const dr_key *operator_key,
                                         int *replaced, uint8_t **bytes, size_t *len, dr_error *err);

/*
 * current with its default set to version, encoded and signed by
 * operator_key (NULL: unsigned).  DR_ERR_USAGE when version was never
 * published (the detail lists those that were).
 */
dr_status dr_package_encode_with_default(const Drover__V1__PackageVersions *current, const char *version,
                                         const dr_key *operator_key, uint8_t **bytes, size_t *len, dr_error *err);

/*
 * The versions of package ordered oldest to newest by dotted version
 * (dr_version_compare); an array of pointers into package, caller frees it.
 * NULL when out of memory.
 */
const Drover__V1__PackageVersion **dr_package_sorted_versions(const Drover__V1__PackageVersions *package);

#endif
