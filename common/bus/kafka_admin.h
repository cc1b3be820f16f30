/*
 * kafka_admin.h - creating Drover's topics on a cluster (the Admin API).
 *
 * The embedded broker makes its topics itself; a real cluster either has
 * them made by its operators or by `drover-producer topics create` (the
 * Helm chart's hook Job), which calls this.
 */
#ifndef DROVER_KAFKA_ADMIN_H
#define DROVER_KAFKA_ADMIN_H

#include "error.h"
#include "kafka.h"

/* What became of one topic. */
typedef struct dr_topic_created {
    char name[256];
    int created; /* 1: made now; 0: it was there already (left as it is) */
} dr_topic_created;

/*
 * Create every Drover topic that is missing, with partitions partitions and
 * replication_factor replicas; the table topics (dr_topic_is_compacted) get
 * cleanup.policy=compact.  A topic that exists already is not changed and
 * is not an error: the command is safe to run on every upgrade.  out gets
 * DR_TOPIC_COUNT entries.  DR_ERR_KAFKA names the first topic that failed
 * and the broker's reason (e.g. a replication factor above the broker count).
 */
dr_status dr_kafka_create_topics(const dr_kafka_options *opt, int partitions, int replication_factor, int timeout_ms,
                                 dr_topic_created out[DR_TOPIC_COUNT], dr_error *err);

#endif
