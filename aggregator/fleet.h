/*
 * fleet.h - what is installed where: for each target and package, the
 * version the target's install record holds, since when, by which
 * deployment, and any drift found.
 *
 * Made of the workers' terminal statuses that read the record
 * (installed_known): the version after the job is the target's.  A removed
 * package keeps its entry with version "" (counted nowhere): its time
 * outlives a restart, so a status replayed from before it cannot bring the
 * package back.  A status older than the entry it would change (a late copy, a
 * replay from before a checkpoint) changes nothing.  When the record said
 * something other than the table before the job (previous_version, e.g. a
 * package removed by hand), the entry records the drift: what the table
 * held, what the target had, when it was found, and whether the job put it
 * back.
 *
 * The entries are kept on the compacted fleet topic (key TARGET/PACKAGE,
 * FleetEntry), so a restarted aggregator starts
 * from them (dr_fleet_load).  Thread-safe: its own lock.
 */
#ifndef DROVER_AGGREGATOR_FLEET_H
#define DROVER_AGGREGATOR_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "drover.pb-c.h"
#include "error.h"
#include "kafka.h"
#include "strbuf.h"

typedef struct dr_fleet dr_fleet;

dr_fleet *dr_fleet_new(void);
void dr_fleet_free(dr_fleet *f);

/* Every entry on the fleet topic, as of now (a restart's starting point); *skipped: records that are not entries. */
dr_status dr_fleet_load(dr_fleet *f, const dr_kafka_options *kafka, int timeout_ms, size_t *skipped, dr_error *err);

/*
 * Fold a terminal status.  1 when the fleet changed: *key is set (malloc'd)
 * and *value the encoded FleetEntry to write (malloc'd).  0 when nothing
 * changed; -1 out of memory.
 */
int dr_fleet_fold(dr_fleet *f, const Drover__V1__StatusEvent *e, char **key, uint8_t **value, size_t *len);

/* A number that moves whenever the table changes (to tell whether to render it again). */
uint64_t dr_fleet_generation(const dr_fleet *f);

/* Entries of a package installed (removed ones not counted). */
size_t dr_fleet_count(const dr_fleet *f);

/*
 * GET /fleet as JSON: for each package (only `package` when not NULL),
 * the targets per version, per account/region and version, and the entries
 * with drift found ({"packages": {P: {"targets", "versions": {V: n},
 * "locations": [{"account", "region", "versions"}], "drifted": [...]}}}).
 */
void dr_fleet_json(const dr_fleet *f, const char *package, dr_strbuf *sb);

/* drover_fleet_targets{package,version} as Prometheus text (no per-target series). */
void dr_fleet_metrics(const dr_fleet *f, dr_strbuf *sb);

#endif
