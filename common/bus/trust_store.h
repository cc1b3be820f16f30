/*
 * trust_store.h - a set of trusted Ed25519 public keys, read from PEM files
 * and directories, and read again when they change on disk.
 */
#ifndef DROVER_TRUST_STORE_H
#define DROVER_TRUST_STORE_H

#include <stddef.h>

#include "error.h"
#include "keys.h"

/*
 * A set of trusted public keys: the keys a worker takes jobs from, or the
 * operators' keys the control plane takes requests from.  spec is a
 * comma-separated list of PEM files and directories (every *.pub file in
 * them); an empty spec trusts nothing.  Several keys at once are how keys rotate: trust the new key,
 * switch the control plane to it, then drop the old one.
 */
typedef struct dr_trust_store dr_trust_store;

dr_status dr_trust_store_load(const char *spec, dr_trust_store **out, dr_error *err);
void dr_trust_store_free(dr_trust_store *store); /* NULL is fine */
size_t dr_trust_store_count(const dr_trust_store *store);
/* The trusted key ids, comma-separated ("none" when empty), into buf. */
void dr_trust_store_describe(const dr_trust_store *store, char *buf, size_t size);

/*
 * The trusted key whose id is key_id, or NULL.  An id it does not know
 * makes it read the spec again when the spec's files or directories changed
 * on disk (a key added to a mounted directory is trusted at once, without a
 * restart), and in any case at most every 5 s.  Not thread-safe.
 */
const dr_key *dr_trust_store_find(dr_trust_store *store, const char *key_id);

#endif
