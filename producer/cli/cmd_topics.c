/*
 * drover-producer topics create: make Drover's topics on a cluster that
 * does not have them (common/bus/kafka_admin.h).  The Helm chart runs it as a
 * hook Job before install and upgrade; it is safe to run again.
 */
#include <stdio.h>

#include "commands.h"
#include "kafka_admin.h"

static const dr_setting create_settings[] = {
    DR_COMMON_SETTINGS,
    DR_PRODUCER_KAFKA_SETTINGS,
    {"partitions", DR_SETTING_INT, "12",
     "partitions of each topic; the jobs topic's bounds how many workers share the work"},
    {"replication-factor", DR_SETTING_INT, "3", "replicas of each partition (at most the number of brokers)"},
};

static const char create_usage[] =
    "usage: drover-producer topics create --brokers HOST:PORT [--partitions N] [--replication-factor N]\n"
    "\n"
    "Creates every Drover topic (PREFIX + jobs, status, rollups, inventory, events, packages,\n"
    "associations, deployments, control, releases, audit) that the cluster does not have yet; the tables\n"
    "(rollups, inventory, packages, associations) get cleanup.policy=compact.  Topics that exist are\n"
    "left exactly as they are.  Prints \"created NAME\" or \"exists NAME\" for each; exit 1 when one\n"
    "could not be made, with the broker's reason.";

static int topics_create(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    dr_kafka_options opt;
    int timeout_ms = 0;
    dr_topic_created created[DR_TOPIC_COUNT];
    dr_config *cfg =
        dr_program_start("drover-producer", create_settings, sizeof create_settings / sizeof create_settings[0], argc,
                         argv, create_usage, &exit_code);
    if (!cfg)
        return exit_code;
    long long partitions = dr_config_int(cfg, "partitions"), replication = dr_config_int(cfg, "replication-factor");
    if (partitions < 1 || partitions > 10000 || replication < 1 || replication > 100) {
        dr_error_set(&err, DR_ERR_USAGE, "partitions must be 1-10000 and replication-factor 1-100 (got %lld and %lld)",
                     partitions, replication);
        goto fail;
    }
    if (dr_producer_kafka_options(cfg, &opt, &timeout_ms, &err) != DR_OK ||
        dr_kafka_create_topics(&opt, (int)partitions, (int)replication, timeout_ms, created, &err) != DR_OK)
        goto fail;
    for (int t = 0; t < DR_TOPIC_COUNT; t++)
        printf("%s %s\n", created[t].created ? "created" : "exists", created[t].name);
    goto cleanup;
fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_config_free(cfg);
    return exit_code;
}

static const dr_producer_verb topics_verbs[] = {
    {"create", topics_create, "create Drover's topics that the cluster does not have"},
};

const dr_producer_command dr_command_topics = {"topics", topics_verbs, sizeof topics_verbs / sizeof topics_verbs[0],
                                               NULL, NULL};
