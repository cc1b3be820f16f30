/*
 * faults.h - faults injected into the embedded broker on command, for the
 * tests that show Drover survives a bad day.  One command per line:
 *
 *   down BROKER                   disconnect broker BROKER (-1: all) and refuse connections
 *   up BROKER                     accept connections again
 *   leader TOPIC PARTITION BROKER make BROKER the partition's leader (clients see NOT_LEADER and move)
 *   errors API COUNT ERROR        the next COUNT requests of API fail with ERROR
 *                                 (API: produce, fetch, metadata, offset-commit, offset-fetch,
 *                                 join-group, heartbeat, sync-group, find-coordinator, or a number;
 *                                 ERROR: a Kafka error name such as NOT_LEADER_FOR_PARTITION, or a number)
 *   clear-errors API              forget the errors still queued for API
 *   rtt BROKER MS                 delay every response of BROKER by MS milliseconds
 *
 * TOPIC is a Drover topic name (jobs, status, ...) or a full topic name
 * (an unknown one is refused).
 * None of these moves a leader by itself (a broker down keeps its
 * partitions, unavailable, until it is up again): that is what the mock does.
 */
#ifndef DROVER_BROKER_FAULTS_H
#define DROVER_BROKER_FAULTS_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "error.h"

/*
 * Carry out one command line on cluster (topic_prefix names Drover's
 * topics).  DR_ERR_USAGE for a line that is not a command, DR_ERR_KAFKA
 * when the cluster refused it; summary receives what was done.
 */
dr_status dr_broker_fault_apply(rd_kafka_mock_cluster_t *cluster, const char *topic_prefix, const char *line,
                                char *summary, size_t summary_size, dr_error *err);

#endif
