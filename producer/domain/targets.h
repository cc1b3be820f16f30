/*
 * targets.h - the inventory: targets as registered (from flags, or a JSON or
 * CSV file of thousands), checked and encoded for the inventory topic (key
 * target id, value Target), and the inventory read back as a table.
 *
 * A target is checked the way a worker would check its job (id rules,
 * platform) so that a bad target fails at registration, not as a REJECTED
 * job at deployment time.
 */
#ifndef DROVER_PRODUCER_TARGETS_H
#define DROVER_PRODUCER_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "drover.pb-c.h"
#include "error.h"
#include "keys.h"
#include "kafka.h"

/* One target as given; every string is borrowed.  NULL means not given. */
typedef struct dr_target_fields {
    const char *id;
    const char *account;
    const char *region;
    const char *platform;         /* platform name or os-release ID: ubuntu, rhel, amzn, ... */
    const char *platform_version; /* e.g. 22.04 */
    const char *arch;             /* x86_64, arm64, ... */
    const char *id_like;          /* os-release ID_LIKE, space separated, nearest first */
    const char *executor;         /* "local", "ssh", "agent"; NULL: the worker's default */
    const char *address;          /* executor-specific: ssh host, root directory */
    char *const *tags;            /* "KEY=VALUE" */
    size_t tag_count;
} dr_target_fields;

/* One target ready to produce. */
typedef struct dr_target_record {
    char *id;
    uint8_t *bytes; /* encoded Target */
    size_t len;
} dr_target_record;

/* Targets to register, in the order given; owns its records. */
typedef struct dr_target_batch {
    dr_target_record *items;
    size_t count;
    size_t alloc;
} dr_target_batch;

/*
 * Check fields and append the encoded Target.  `where` prefixes every error
 * ("targets.csv line 12"): with thousands of rows, the row is the answer.
 * DR_ERR_USAGE when a field is missing or invalid.
 */
dr_status dr_target_batch_add(dr_target_batch *batch, const dr_target_fields *fields, const char *where, dr_error *err);

/*
 * Append every target of a file.  The format is told by the content: JSON
 * (an array of objects with id, account, region, platform,
 * platform_version, arch, and optionally tags as an object, id_like,
 * executor, address) when it starts with '['; otherwise CSV whose header
 * line names the columns (id, account, region, platform, platform_version,
 * arch required; tags as "K=V;K2=V2", id_like, executor, address optional;
 * fields may be double-quoted).  Unknown fields and columns are errors, as
 * is an id given twice; errors name the item or line.
 */
dr_status dr_target_batch_read_file(dr_target_batch *batch, const char *path, dr_error *err);

/* DR_ERR_USAGE naming the first id that appears twice. */
dr_status dr_target_batch_check_unique(const dr_target_batch *batch, dr_error *err);

/*
 * Write every target of batch to the inventory topic, each signed by
 * operator_key (NULL: unsigned; request_signing.h), and wait up to
 * timeout_ms for all of them to be acknowledged.  DR_ERR_KAFKA when some
 * were not (*acknowledged says how many were; writing again is harmless).
 */
dr_status dr_target_batch_write(const dr_kafka_options *kafka, const dr_target_batch *batch, const dr_key *operator_key,
                                int timeout_ms, size_t *acknowledged, dr_error *err);

void dr_target_batch_free(dr_target_batch *batch);

/* The inventory: the latest Target of every id, sorted by id. */
typedef struct dr_inventory {
    Drover__V1__Target **targets; /* decoded; freed with the inventory */
    size_t count;
    size_t damaged; /* entries that did not decode (logged, left out) */
    size_t refused; /* entries the keep function refused (dr_inventory_read_checked) */
} dr_inventory;

/*
 * Read the inventory topic as a table (tombstones remove targets).  An entry
 * that does not decode is logged and left out, so one bad message does not
 * stop every deployment.  Free *out with dr_inventory_free, also on error.
 */
dr_status dr_inventory_read(const dr_kafka_options *opt, int timeout_ms, dr_inventory *out, dr_error *err);

/* 1 to keep a target read from the inventory (record: its bytes as read, for a signature). */
typedef int (*dr_inventory_keep_fn)(void *ctx, const uint8_t *record, size_t len, const Drover__V1__Target *target);

/* As dr_inventory_read, leaving out the targets keep refuses (keep NULL: none). */
dr_status dr_inventory_read_checked(const dr_kafka_options *opt, int timeout_ms, dr_inventory_keep_fn keep, void *ctx,
                                    dr_inventory *out, dr_error *err);

/* The target with id, or NULL. */
const Drover__V1__Target *dr_inventory_find(const dr_inventory *inventory, const char *id);

/* The value of tag key on target, or NULL. */
const char *dr_target_tag(const Drover__V1__Target *target, const char *key);

void dr_inventory_free(dr_inventory *inventory);

/*
 * A TargetEvent of kind, encoded as a request signed by key (NULL:
 * unsigned; request_signing.h), timed now.  A launch or tags change carries
 * the whole target; a termination its id alone (target_id).  Into *out
 * (malloc'd) and *len.
 */
dr_status dr_target_event_encode(const dr_key *key, Drover__V1__TargetEvent__Kind kind, const char *target_id,
                                 Drover__V1__Target *target, uint8_t **out, size_t *len, dr_error *err);

#endif
