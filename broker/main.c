/*
 * drover-broker: the embedded default Kafka, for the demo and the tests.
 *
 * librdkafka's mock cluster run as its own process: it listens on loopback
 * (an ephemeral port per broker), speaks the Kafka protocol to any client,
 * and keeps everything in memory until it stops.  It starts with every
 * Drover topic created with the configured partition count (the mock would
 * otherwise auto-create them with 4), prints its bootstrap address as the
 * first line of stdout and, if asked, writes it to a file; then it waits for
 * SIGTERM or SIGINT.  DESIGN.md lists what the mock does not do (it keeps at
 * most 5 MiB per partition and does not compact).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "build_info.h"
#include "config.h"
#include "error.h"
#include "faults.h"
#include "kafka.h"
#include "log.h"
#include "program.h"

static const dr_setting broker_settings[] = {
    DR_COMMON_SETTINGS,
    {"brokers-count", DR_SETTING_INT, "1", "number of mock brokers in the cluster (each on its own loopback port)"},
    {"partitions", DR_SETTING_INT, "12", "partitions of every Drover topic"},
    {"replication", DR_SETTING_INT, "1",
     "replication factor asked for every Drover topic (at most brokers-count; librdkafka 2.0.2's mock replicates "
     "to min(3, brokers-count) whatever is asked)"},
    {"topic-prefix", DR_SETTING_STRING, "drover.", "prefix of every Drover topic name"},
    {"address-file", DR_SETTING_STRING, NULL,
     "also write the bootstrap address (host:port[,host:port...]) to this file, atomically"},
    {"control-fifo", DR_SETTING_STRING, NULL,
     "testing: read fault commands (broker down/up, leader moves, request errors, delays; see faults.h) "
     "from this FIFO, created if missing; each is logged as event=broker.fault"},
};
#define BROKER_SETTING_COUNT (sizeof broker_settings / sizeof broker_settings[0])

static const char usage_text[] =
    "usage: drover-broker [--partitions N] [--brokers-count N] [--address-file FILE]\n"
    "       drover-broker completion bash   (the bash completion of these settings)\n"
    "Runs librdkafka's in-memory mock Kafka cluster on loopback with Drover's topics, for the demo and tests.\n"
    "Prints the bootstrap address as the first line of stdout; SIGTERM or SIGINT stops it.\n"
    "drover-broker --version prints the version and the commit it was built from.";

/* The broker's parameters, checked. */
typedef struct broker_plan {
    int broker_count;
    int partitions;
    int replication;
    const char *topic_prefix;
    const char *address_file;
    const char *control_fifo;
} broker_plan;

static dr_status read_plan(const dr_config *cfg, broker_plan *plan, dr_error *err)
{
    long long brokers = dr_config_int(cfg, "brokers-count");
    long long partitions = dr_config_int(cfg, "partitions");
    long long replication = dr_config_int(cfg, "replication");
    if (brokers < 1 || brokers > 100)
        return dr_error_set(err, DR_ERR_USAGE, "brokers-count: %lld is not between 1 and 100", brokers);
    if (partitions < 1 || partitions > 10000)
        return dr_error_set(err, DR_ERR_USAGE, "partitions: %lld is not between 1 and 10000", partitions);
    if (replication < 1 || replication > brokers)
        return dr_error_set(err, DR_ERR_USAGE, "replication: %lld is not between 1 and brokers-count (%lld)",
                            replication, brokers);
    plan->broker_count = (int)brokers;
    plan->partitions = (int)partitions;
    plan->replication = (int)replication;
    plan->topic_prefix = dr_config_string(cfg, "topic-prefix");
    plan->address_file = dr_config_string(cfg, "address-file");
    plan->control_fifo = dr_config_string(cfg, "control-fifo");
    return DR_OK;
}

/* The mock cluster logs through its client handle; send those lines where ours go. */
static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    dr_log_level ours = level <= 3 ? DR_LOG_ERROR : level == 4 ? DR_LOG_WARN : level <= 6 ? DR_LOG_INFO : DR_LOG_DEBUG;
    char quoted[1024];
    dr_log(ours, "kafka.log", "facility=%s msg=%s", fac, dr_log_quote(quoted, sizeof quoted, buf));
}

/*
 * The mock cluster lives inside a client handle: "test.mock.num.brokers"
 * makes rd_kafka_new start it (and point the handle's own bootstrap at it),
 * and destroying the handle stops it.
 */
static dr_status start_cluster(int broker_count, rd_kafka_t **rk_out, rd_kafka_mock_cluster_t **cluster_out,
                               dr_error *err)
{
    dr_status status = DR_OK;
    char reason[512], count[16];
    rd_kafka_t *rk = NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    snprintf(count, sizeof count, "%d", broker_count);
    if (rd_kafka_conf_set(conf, "client.id", "drover-broker", reason, sizeof reason) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "test.mock.num.brokers", count, reason, sizeof reason) != RD_KAFKA_CONF_OK) {
        status = dr_error_set(err, DR_ERR_KAFKA, "configuring the mock cluster: %s", reason);
        goto cleanup;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof reason);
    if (!rk) {
        status = dr_error_set(err, DR_ERR_KAFKA, "starting a mock cluster of %d brokers: %s", broker_count, reason);
        goto cleanup;
    }
    conf = NULL; /* rk owns it now */
    *cluster_out = rd_kafka_handle_mock_cluster(rk);
    if (!*cluster_out) {
        status = dr_error_set(err, DR_ERR_KAFKA, "starting a mock cluster of %d brokers failed", broker_count);
        goto cleanup;
    }
    *rk_out = rk;
    rk = NULL;
cleanup:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (rk)
        rd_kafka_destroy(rk);
    return status;
}

static dr_status create_topics(rd_kafka_mock_cluster_t *cluster, const broker_plan *plan, dr_error *err)
{
    dr_kafka_options names = {.topic_prefix = plan->topic_prefix};
    for (int t = 0; t < DR_TOPIC_COUNT; t++) {
        char name[256];
        dr_kafka_topic_name(&names, (dr_topic)t, name, sizeof name);
        rd_kafka_resp_err_t kerr = rd_kafka_mock_topic_create(cluster, name, plan->partitions, plan->replication);
        if (kerr)
            return dr_error_set(err, DR_ERR_KAFKA, "creating topic %s: %s", name, rd_kafka_err2str(kerr));
    }
    return DR_OK;
}

/* Temp file and rename, so a reader polling for the file never sees half an address. */
static dr_status write_address_file(const char *path, const char *address, dr_error *err)
{
    dr_status status = DR_OK;
    char temp[4096];
    snprintf(temp, sizeof temp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(temp, "w");
    if (!f) {
        status = dr_error_set(err, DR_ERR_IO, "address-file %s: %s", temp, strerror(errno));
        goto cleanup;
    }
    int failed = fprintf(f, "%s\n", address) < 0;
    failed |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    failed |= fclose(f) != 0;
    if (failed || rename(temp, path) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "address-file %s: %s", path, strerror(errno));
        unlink(temp);
        goto cleanup;
    }
cleanup:
    return status;
}

/* The fault commands' reader: a thread on the FIFO, stopped by the lock the main thread keeps at exit. */
typedef struct control {
    rd_kafka_mock_cluster_t *cluster;
    const broker_plan *plan;
    int fd;
    pthread_mutex_t lock;
} control;

static void *control_thread(void *arg)
{
    control *ctl = arg;
    FILE *in = fdopen(ctl->fd, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (in && (len = getline(&line, &cap, in)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        char summary[512] = "", quoted[1024], quoted_summary[1100];
        dr_error err = {0};
        pthread_mutex_lock(&ctl->lock);
        dr_status status =
            dr_broker_fault_apply(ctl->cluster, ctl->plan->topic_prefix, line, summary, sizeof summary, &err);
        pthread_mutex_unlock(&ctl->lock);
        if (status == DR_OK)
            dr_log(DR_LOG_INFO, "broker.fault", "cmd=%s result=ok msg=%s", dr_log_quote(quoted, sizeof quoted, line),
                   dr_log_quote(quoted_summary, sizeof quoted_summary, summary));
        else
            dr_log(DR_LOG_WARN, "broker.fault", "cmd=%s result=error msg=%s", dr_log_quote(quoted, sizeof quoted, line),
                   dr_log_quote(quoted_summary, sizeof quoted_summary, err.detail));
    }
    free(line);
    return NULL;
}

/* Create the FIFO if missing and start its reader; *started says whether ctl->lock now guards the cluster. */
static dr_status start_control(control *ctl, dr_error *err)
{
    const char *path = ctl->plan->control_fifo;
    struct stat st;
    if (mkfifo(path, 0600) != 0 && !(errno == EEXIST && stat(path, &st) == 0 && S_ISFIFO(st.st_mode)))
        return dr_error_set(err, DR_ERR_IO, "control-fifo %s: %s", path,
                            errno == EEXIST ? "exists and is not a FIFO" : strerror(errno));
    /* Read and write: the reader never sees end-of-file when a writer closes. */
    if ((ctl->fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
        return dr_error_set(err, DR_ERR_IO, "control-fifo %s: %s", path, strerror(errno));
    pthread_t thread;
    if (pthread_create(&thread, NULL, control_thread, ctl) != 0) {
        close(ctl->fd);
        return dr_error_set(err, DR_ERR_INTERNAL, "cannot start the control-fifo reader");
    }
    pthread_detach(thread);
    return DR_OK;
}

static int run(const broker_plan *plan, const sigset_t *stop_signals)
{
    int exit_code = DR_EXIT_FAILED;
    dr_error err = {0};
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *cluster = NULL;
    static control ctl = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};
    if (start_cluster(plan->broker_count, &rk, &cluster, &err) != DR_OK || create_topics(cluster, plan, &err) != DR_OK)
        goto cleanup;
    ctl.cluster = cluster;
    ctl.plan = plan;
    if (plan->control_fifo && plan->control_fifo[0] && start_control(&ctl, &err) != DR_OK)
        goto cleanup;
    const char *address = rd_kafka_mock_cluster_bootstraps(cluster);
    if (plan->address_file && write_address_file(plan->address_file, address, &err) != DR_OK)
        goto cleanup;
    printf("%s\n", address);
    fflush(stdout);
    dr_log(DR_LOG_INFO, "broker.ready", "bootstrap=%s brokers=%d topics=%d partitions=%d replication=%d prefix=%s",
           address, plan->broker_count, (int)DR_TOPIC_COUNT, plan->partitions, plan->replication, plan->topic_prefix);

    int sig = 0;
    if (sigwait(stop_signals, &sig) != 0) {
        dr_error_set(&err, DR_ERR_INTERNAL, "waiting for a signal failed");
        goto cleanup;
    }
    dr_log(DR_LOG_INFO, "broker.stopping", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    exit_code = DR_EXIT_OK;
cleanup:
    if (exit_code != DR_EXIT_OK)
        fprintf(stderr, "drover-broker: %s\n", err.detail);
    /* No fault command may reach the cluster while or after it is destroyed: the lock is never given back. */
    pthread_mutex_lock(&ctl.lock);
    if (rk) /* and with it the cluster */
        rd_kafka_destroy(rk);
    return exit_code;
}

int main(int argc, char **argv)
{
    int exit_code = DR_EXIT_USAGE;
    dr_error err = {0};
    broker_plan plan = {0};
    if (dr_build_version_requested(argc, argv))
        return dr_build_print_version("drover-broker");
    dr_config *cfg =
        dr_program_main("drover-broker", broker_settings, BROKER_SETTING_COUNT, argc, argv, usage_text, &exit_code);
    if (!cfg)
        return exit_code;
    if (read_plan(cfg, &plan, &err) != DR_OK) {
        exit_code = dr_program_refuse("drover-broker", usage_text, "%s", err.detail);
        goto cleanup;
    }

    /*
     * Block the stop signals before librdkafka starts its threads (they
     * inherit the mask), so only sigwait in this thread ever takes them.
     */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    exit_code = run(&plan, &stop_signals);
cleanup:
    dr_config_free(cfg);
    return exit_code;
}
