/*
 * output.h - what -o (--output) asks of a list or show verb: a table for
 * people (the default), a wider table where there is more to show, or JSON
 * for scripts, with the field names docs/producer.md ("JSON output") fixes.
 *
 * JSON comes one object per line: a list verb prints one per item (nothing
 * when there is none; `jq -s` makes an array), a show verb one.  Times are
 * UTC "YYYY-MM-DDThh:mm:ssZ" or null when unknown; absent text is "".
 */
#ifndef DROVER_PRODUCER_OUTPUT_H
#define DROVER_PRODUCER_OUTPUT_H

#include <jansson.h>
#include <stdint.h>

#include "config.h"
#include "drover.pb-c.h"
#include "error.h"

typedef enum dr_output_format {
    DR_OUTPUT_TABLE,
    DR_OUTPUT_WIDE,
    DR_OUTPUT_JSON,
} dr_output_format;

/* The setting, after the command's own: a list verb whose table has more to show takes wide too. */
/* A settings table, laid out by hand. */
// clang-format off
#define DR_PRODUCER_OUTPUT_SETTING_WIDE                                                                    \
    {"output", DR_SETTING_STRING, "table",                                                                 \
     "-o: table, wide (a table with more columns) or json (an object per line; fields: docs/producer.md)"}
#define DR_PRODUCER_OUTPUT_SETTING                                                                         \
    {"output", DR_SETTING_STRING, "table", "-o: table or json (fields: docs/producer.md)"}
// clang-format on

/* The format cfg's "output" names; DR_ERR_USAGE for another (wide only when wide_allowed). */
dr_status dr_output_read(const dr_config *cfg, int wide_allowed, dr_output_format *out, dr_error *err);

/* Print o as one line of compact JSON and release it (o may be NULL: out of memory, said on stderr). */
void dr_output_json_line(json_t *o);

/* JSON values from message fields: text (NULL as ""; never invalid UTF-8), a time (ms <= 0: null). */
json_t *dr_json_text(const char *text);
json_t *dr_json_time(int64_t ms);

/* {"all": false, "target_ids": [...], "tags": {"KEY": [VALUES]}, "accounts": [...], "regions": [...]} */
json_t *dr_json_selection(const Drover__V1__TargetSelection *selection);
/* {"SUCCESS": 118, "FAILED": 2}: the states with a count */
json_t *dr_json_counts(Drover__V1__StateCount *const *counts, size_t n);
/* A rollup: deployment_id, status, package, version, total_jobs, expected_jobs, done, percent, counts,
 * started_at, updated_at, finished_at, locations [{account, region, counts}], failed_targets
 * [{target_id, state, reason, message}]. */
json_t *dr_json_rollup(const Drover__V1__Rollup *rollup);
/* KEY=VALUE pairs as {"KEY": "VALUE"} */
json_t *dr_json_key_values(Drover__V1__KeyValue *const *pairs, size_t n);

#endif
