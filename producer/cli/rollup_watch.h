/*
 * rollup_watch.h - follow one deployment's rollups as the aggregator
 * publishes them.
 *
 * The watch is a consumer with no group (nothing is committed, nothing is
 * shared with other watchers) assigned to every partition of the rollups
 * topic at its end as of dr_rollup_watch_open.  Open it before publishing a
 * deployment and no rollup of that deployment can be missed, and none from
 * before (an earlier run under the same id) is mistaken for news.
 */
#ifndef DROVER_PRODUCER_ROLLUP_WATCH_H
#define DROVER_PRODUCER_ROLLUP_WATCH_H

#include "drover.pb-c.h"
#include "error.h"
#include "kafka.h"

typedef struct dr_rollup_watch dr_rollup_watch;

/* DR_ERR_KAFKA when the topic's partitions or end offsets cannot be had within timeout_ms. */
dr_status dr_rollup_watch_open(const dr_kafka_options *opt, int timeout_ms, dr_rollup_watch **out, dr_error *err);

/*
 * The next rollup of deployment_id, waiting up to timeout_ms; *out is NULL
 * when none came (free a rollup with drover__v1__rollup__free_unpacked).
 * Rollups of other deployments are skipped, undecodable ones logged and
 * skipped.
 */
dr_status dr_rollup_watch_next(dr_rollup_watch *watch, const char *deployment_id, int timeout_ms,
                               Drover__V1__Rollup **out, dr_error *err);

void dr_rollup_watch_close(dr_rollup_watch *watch); /* NULL is fine */

#endif
