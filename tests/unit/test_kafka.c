/*
 * test_kafka - the Kafka layer against a real drover-broker (librdkafka's
 * mock cluster in its own process, 3 partitions per topic): producing with
 * delivery reports, a consumer group that commits, two members sharing a
 * topic, reading a topic as a table, data loss said out loud, and the
 * errors a caller can meet.  Needs DROVER_BUILD_DIR (ctest sets it).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "kafka.h"
#include "log.h"

/* The mock cluster finishes a rebalance session.timeout.ms - 1 s after it starts: keep tests quick. */
static char *consumer_properties[] = {"session.timeout.ms=6000"};

static pid_t broker_pid = -1;
static char broker_address[512];

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start drover-broker and read its first stdout line: the bootstrap address. */
static int start_broker(void)
{
    const char *dir = getenv("DROVER_BUILD_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/drover-broker", dir ? dir : ".");
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    broker_pid = fork();
    if (broker_pid < 0)
        return -1;
    if (broker_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(path, path, "--partitions", "3", "--log-level", "warn", (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    int ok = out && fgets(broker_address, sizeof broker_address, out) != NULL;
    if (out)
        fclose(out);
    broker_address[strcspn(broker_address, "\n")] = '\0';
    return ok && broker_address[0] ? 0 : -1;
}

static dr_kafka_options options(char **properties, size_t property_count)
{
    dr_kafka_options opt = {
        .brokers = broker_address,
        .topic_prefix = "drover.",
        .properties = properties,
        .property_count = property_count,
        .client_id = "test_kafka",
    };
    return opt;
}

/* ---- producing ---- */

typedef struct delivery_count {
    int ok, failed;
    char last_message[512];
} delivery_count;

static void count_delivery(void *opaque, dr_status status, const char *message)
{
    delivery_count *count = opaque;
    if (status == DR_OK)
        count->ok++;
    else
        count->failed++;
    snprintf(count->last_message, sizeof count->last_message, "%s", message ? message : "(null)");
}

static void test_produce_reports_every_delivery(void)
{
    dr_kafka_options opt = options(NULL, 0);
    dr_kafka_producer *p = NULL;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_kafka_producer_new(&opt, &p, &err));
    if (!p)
        return;
    delivery_count count = {0};
    for (int i = 0; i < 100; i++) {
        char key[32], value[32];
        snprintf(key, sizeof key, "target-%02d", i);
        snprintf(value, sizeof value, "job-%d", i);
        CHECK_INT(DR_OK, dr_kafka_produce(p, DR_TOPIC_JOBS, key, value, strlen(value), count_delivery, &count, &err));
    }
    CHECK_INT(DR_OK, dr_kafka_producer_flush(p, 30000, &err));
    CHECK_INT(100, count.ok);
    CHECK_INT(0, count.failed);
    dr_kafka_producer_free(p);
}

static void test_flush_reports_failed_deliveries(void)
{
    /* Nothing listens on port 1, and messages give up after half a second. */
    char *properties[] = {"message.timeout.ms=500"};
    dr_kafka_options opt = options(properties, 1);
    opt.brokers = "127.0.0.1:1";
    dr_kafka_producer *p = NULL;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_kafka_producer_new(&opt, &p, &err));
    if (!p)
        return;
    delivery_count count = {0};
    CHECK_INT(DR_OK, dr_kafka_produce(p, DR_TOPIC_STATUS, "d1", "x", 1, count_delivery, &count, &err));
    CHECK_INT(DR_OK, dr_kafka_produce(p, DR_TOPIC_STATUS, NULL, "y", 1, NULL, NULL, &err));
    CHECK_INT(DR_ERR_KAFKA, dr_kafka_producer_flush(p, 10000, &err));
    CHECK_CONTAINS("2 messages failed since the last flush", err.detail);
    CHECK_INT(1, count.failed);
    CHECK_CONTAINS("drover.status", count.last_message);
    /* The failures were reported once: the next flush starts clean. */
    CHECK_INT(DR_OK, dr_kafka_producer_flush(p, 1000, &err));
    dr_kafka_producer_free(p);
}

static int produce_and_flush(dr_topic topic, const char *key, const char *value)
{
    dr_kafka_options opt = options(NULL, 0);
    dr_kafka_producer *p = NULL;
    dr_error err = {0};
    if (dr_kafka_producer_new(&opt, &p, &err) != DR_OK)
        return -1;
    int rc = dr_kafka_produce(p, topic, key, value, value ? strlen(value) : 0, NULL, NULL, &err) == DR_OK &&
                     dr_kafka_producer_flush(p, 30000, &err) == DR_OK
                 ? 0
                 : -1;
    if (rc)
        fprintf(stderr, "producing %s: %s\n", key, err.detail);
    dr_kafka_producer_free(p);
    return rc;
}

/* ---- consuming ---- */

/* What the group has given one member, kept up to date by the rebalance callback. */
typedef struct membership {
    int assigned;      /* partitions held now */
    int ever_assigned; /* rebalances that gave partitions */
    int revoked;
} membership;

static void track_membership(void *opaque, const rd_kafka_topic_partition_list_t *partitions, int assigned)
{
    membership *m = opaque;
    if (assigned) {
        m->assigned = partitions->cnt;
        m->ever_assigned++;
    } else {
        m->assigned = 0;
        m->revoked++;
    }
}

static dr_kafka_consumer *new_consumer(const char *group, dr_topic topic, membership *m)
{
    dr_kafka_options opt = options(consumer_properties, 1);
    dr_kafka_consumer *c = NULL;
    dr_error err = {0};
    if (dr_kafka_consumer_new(&opt, group, &topic, 1, &c, &err) != DR_OK) {
        fprintf(stderr, "consumer for group %s: %s\n", group, err.detail);
        return NULL;
    }
    if (m)
        dr_kafka_consumer_on_rebalance(c, track_membership, m);
    return c;
}

static void test_group_consumer_commits_what_it_took(void)
{
    membership m1 = {0}, m2 = {0};
    dr_kafka_consumer *c = new_consumer("test-commits", DR_TOPIC_JOBS, &m1);
    CHECK(c != NULL);
    if (!c)
        return;
    char seen[100] = {0};
    int got = 0, commit_failures = 0;
    long long deadline = now_ms() + 30000;
    while (got < 100 && now_ms() < deadline) {
        rd_kafka_message_t *msg = dr_kafka_consumer_poll(c, 200);
        if (!msg)
            continue;
        CHECK_INT(0, msg->err);
        int n = -1;
        if (msg->key_len == 9 && sscanf((const char *)msg->key, "target-%2d", &n) == 1 && n >= 0 && n < 100)
            seen[n]++;
        got++;
        dr_error err = {0};
        if (dr_kafka_consumer_commit(c, rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset + 1, &err) != DR_OK)
            commit_failures++;
        rd_kafka_message_destroy(msg);
    }
    CHECK_INT(100, got);
    CHECK_INT(0, commit_failures);
    int distinct = 0;
    for (int i = 0; i < 100; i++)
        distinct += seen[i] == 1;
    CHECK_INT(100, distinct);
    CHECK_INT(3, m1.assigned);
    dr_kafka_consumer_close(c);
    CHECK_INT(1, m1.revoked); /* closing revokes */

    /* A new member of the same group starts at the committed offsets: nothing old comes back. */
    c = new_consumer("test-commits", DR_TOPIC_JOBS, &m2);
    CHECK(c != NULL);
    if (!c)
        return;
    int old = 0;
    deadline = now_ms() + 30000;
    while (m2.assigned == 0 && now_ms() < deadline) {
        rd_kafka_message_t *msg = dr_kafka_consumer_poll(c, 200);
        old += msg != NULL;
        if (msg)
            rd_kafka_message_destroy(msg);
    }
    CHECK_INT(3, m2.assigned);
    deadline = now_ms() + 2000;
    while (now_ms() < deadline) {
        rd_kafka_message_t *msg = dr_kafka_consumer_poll(c, 200);
        old += msg != NULL;
        if (msg)
            rd_kafka_message_destroy(msg);
    }
    CHECK_INT(0, old);
    /* ... and it is live: a new message arrives. */
    CHECK_INT(0, produce_and_flush(DR_TOPIC_JOBS, "late-target", "late-job"));
    rd_kafka_message_t *late = NULL;
    deadline = now_ms() + 15000;
    while (!late && now_ms() < deadline)
        late = dr_kafka_consumer_poll(c, 200);
    CHECK(late != NULL);
    if (late) {
        CHECK_INT(11, late->key_len);
        CHECK(late->key && memcmp(late->key, "late-target", 11) == 0);
        dr_error err = {0};
        CHECK_INT(DR_OK,
                  dr_kafka_consumer_commit(c, rd_kafka_topic_name(late->rkt), late->partition, late->offset + 1, &err));
        rd_kafka_message_destroy(late);
    }
    dr_kafka_consumer_close(c);
}

static void drain(dr_kafka_consumer *c, int timeout_ms)
{
    rd_kafka_message_t *msg = dr_kafka_consumer_poll(c, timeout_ms);
    if (msg)
        rd_kafka_message_destroy(msg);
}

static void test_two_members_split_the_partitions(void)
{
    membership m1 = {0}, m2 = {0};
    dr_kafka_consumer *c1 = new_consumer("test-split", DR_TOPIC_STATUS, &m1);
    CHECK(c1 != NULL);
    if (!c1)
        return;
    long long deadline = now_ms() + 30000;
    while (m1.assigned == 0 && now_ms() < deadline)
        drain(c1, 200);
    CHECK_INT(3, m1.assigned);

    dr_kafka_consumer *c2 = new_consumer("test-split", DR_TOPIC_STATUS, &m2);
    CHECK(c2 != NULL);
    if (!c2) {
        dr_kafka_consumer_close(c1);
        return;
    }
    deadline = now_ms() + 30000;
    while ((m2.assigned == 0 || m1.assigned + m2.assigned != 3) && now_ms() < deadline) {
        drain(c1, 100);
        drain(c2, 100);
    }
    CHECK(m1.revoked >= 1); /* the first member gave up its partitions for the rebalance */
    CHECK(m1.assigned >= 1);
    CHECK(m2.assigned >= 1);
    CHECK_INT(3, m1.assigned + m2.assigned);
    dr_kafka_consumer_close(c2);
    dr_kafka_consumer_close(c1);
}

/* ---- reading a topic as a table ---- */

#define MAX_RECORDS 64

typedef struct table_read {
    int count;
    int stop_after; /* 0: never */
    char keys[MAX_RECORDS][16];
    char values[MAX_RECORDS][16]; /* "" for a tombstone */
    int tombstone[MAX_RECORDS];
} table_read;

static int collect_record(void *ctx, const char *key, size_t key_len, const void *value, size_t value_len,
                          int64_t timestamp_ms)
{
    table_read *t = ctx;
    (void)timestamp_ms;
    if (t->count < MAX_RECORDS) {
        snprintf(t->keys[t->count], sizeof t->keys[0], "%.*s", (int)key_len, key);
        snprintf(t->values[t->count], sizeof t->values[0], "%.*s", (int)value_len, value ? (const char *)value : "");
        t->tombstone[t->count] = value == NULL;
    }
    t->count++;
    return t->stop_after && t->count >= t->stop_after;
}

/* The latest value of key in what was read, "" for none, "(tombstone)" for a deletion. */
static const char *fold_latest(const table_read *t, const char *key)
{
    const char *latest = "";
    for (int i = 0; i < t->count && i < MAX_RECORDS; i++)
        if (strcmp(t->keys[i], key) == 0)
            latest = t->tombstone[i] ? "(tombstone)" : t->values[i];
    return latest;
}

static void test_read_topic_sees_every_record_in_order(void)
{
    dr_kafka_options opt = options(NULL, 0);
    dr_kafka_producer *p = NULL;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_kafka_producer_new(&opt, &p, &err));
    if (!p)
        return;
    for (int round = 1; round <= 2; round++)
        for (int k = 0; k < 10; k++) {
            char key[16], value[16];
            snprintf(key, sizeof key, "k%d", k);
            snprintf(value, sizeof value, "r%d-k%d", round, k);
            CHECK_INT(DR_OK, dr_kafka_produce(p, DR_TOPIC_INVENTORY, key, value, strlen(value), NULL, NULL, &err));
        }
    CHECK_INT(DR_OK, dr_kafka_produce(p, DR_TOPIC_INVENTORY, "k3", NULL, 0, NULL, NULL, &err));
    CHECK_INT(DR_OK, dr_kafka_producer_flush(p, 30000, &err));
    dr_kafka_producer_free(p);

    table_read t = {0};
    CHECK_INT(DR_OK, dr_kafka_read_topic(&opt, DR_TOPIC_INVENTORY, collect_record, &t, 30000, &err));
    CHECK_INT(21, t.count);
    /* A key lives in one partition, so its records come in the order they were written. */
    for (int k = 0; k < 10; k++) {
        char key[16], want[32] = "", got[32] = "";
        snprintf(key, sizeof key, "k%d", k);
        snprintf(want, sizeof want, k == 3 ? "r1-k%d r2-k%d -" : "r1-k%d r2-k%d", k, k);
        for (int i = 0; i < t.count && i < MAX_RECORDS; i++)
            if (strcmp(t.keys[i], key) == 0)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", got[0] ? " " : "",
                         t.tombstone[i] ? "-" : t.values[i]);
        CHECK_STR(want, got);
    }
    /* Folded by key, latest wins. */
    CHECK_STR("r2-k0", fold_latest(&t, "k0"));
    CHECK_STR("r2-k9", fold_latest(&t, "k9"));
    CHECK_STR("(tombstone)", fold_latest(&t, "k3"));

    /* One key's partition alone: its records, in order, and not the whole topic's. */
    table_read k5 = {0};
    CHECK_INT(DR_OK, dr_kafka_read_key_partition(&opt, DR_TOPIC_INVENTORY, "k5", collect_record, &k5, 30000, &err));
    CHECK_STR("r2-k5", fold_latest(&k5, "k5"));
    CHECK(k5.count >= 2 && k5.count < 21);

    table_read first5 = {.stop_after = 5};
    CHECK_INT(DR_OK, dr_kafka_read_topic(&opt, DR_TOPIC_INVENTORY, collect_record, &first5, 30000, &err));
    CHECK_INT(5, first5.count);
}

static void test_read_empty_topic_returns_at_once(void)
{
    dr_kafka_options opt = options(NULL, 0);
    dr_error err = {0};
    table_read t = {0};
    long long started = now_ms();
    CHECK_INT(DR_OK, dr_kafka_read_topic(&opt, DR_TOPIC_ASSOCIATIONS, collect_record, &t, 30000, &err));
    CHECK_INT(0, t.count);
    CHECK(now_ms() - started < 10000);
}

static void test_read_unknown_topic_fails(void)
{
    dr_kafka_options opt = options(NULL, 0);
    opt.topic_prefix = "nosuch.";
    dr_error err = {0};
    table_read t = {0};
    CHECK_INT(DR_ERR_KAFKA, dr_kafka_read_topic(&opt, DR_TOPIC_PACKAGES, collect_record, &t, 10000, &err));
    CHECK_CONTAINS("topic nosuch.packages does not exist", err.detail);
    CHECK_INT(0, t.count);
}

/* ---- errors ---- */

static void test_bad_kafka_property_is_named(void)
{
    char *unknown[] = {"no.such.property=1"};
    dr_kafka_options opt = options(unknown, 1);
    dr_kafka_producer *p = NULL;
    dr_kafka_consumer *c = NULL;
    dr_error err = {0};
    dr_status status = dr_kafka_producer_new(&opt, &p, &err);
    CHECK(status == DR_ERR_USAGE || status == DR_ERR_KAFKA);
    CHECK_CONTAINS("no.such.property", err.detail);
    CHECK(p == NULL);

    dr_topic topic = DR_TOPIC_JOBS;
    dr_error_clear(&err);
    status = dr_kafka_consumer_new(&opt, "g", &topic, 1, &c, &err);
    CHECK(status == DR_ERR_USAGE || status == DR_ERR_KAFKA);
    CHECK_CONTAINS("no.such.property", err.detail);
    CHECK(c == NULL);

    char *no_equals[] = {"linger.ms"};
    opt = options(no_equals, 1);
    CHECK_INT(DR_ERR_USAGE, dr_kafka_producer_new(&opt, &p, &err));
    CHECK_CONTAINS("'linger.ms': expected KEY=VALUE", err.detail);

    char *bad_value[] = {"linger.ms=soon"};
    opt = options(bad_value, 1);
    CHECK_INT(DR_ERR_USAGE, dr_kafka_producer_new(&opt, &p, &err));
    CHECK_CONTAINS("linger.ms", err.detail);
}

/* ---- data loss ---- */

/* Run fn with stderr going to a file; returns what was written (static buffer). */
static const char *capture_stderr(void (*fn)(void *), void *arg)
{
    static char captured[1 << 16];
    char path[] = "/tmp/test_kafka_stderr.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return "";
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn(arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, captured, sizeof captured - 1, 0);
    captured[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return captured;
}

static void consume_one_after_loss(void *arg)
{
    int *got = arg;
    dr_kafka_consumer *c = new_consumer("test-loss", DR_TOPIC_EVENTS, NULL);
    if (!c)
        return;
    long long deadline = now_ms() + 30000;
    rd_kafka_message_t *msg = NULL;
    while (!msg && now_ms() < deadline)
        msg = dr_kafka_consumer_poll(c, 200);
    *got = msg != NULL;
    if (msg)
        rd_kafka_message_destroy(msg);
    dr_kafka_consumer_close(c);
}

/*
 * The embedded broker keeps 5 MiB per partition.  A group that committed an
 * offset which was then dropped must hear about it as data loss, not skip
 * ahead quietly.
 */
static void test_committed_offset_gone_is_logged_as_data_loss(void)
{
    CHECK_INT(0, produce_and_flush(DR_TOPIC_EVENTS, "lossy-target", "first"));
    dr_kafka_consumer *c = new_consumer("test-loss", DR_TOPIC_EVENTS, NULL);
    CHECK(c != NULL);
    if (!c)
        return;
    rd_kafka_message_t *msg = NULL;
    long long deadline = now_ms() + 30000;
    while (!msg && now_ms() < deadline)
        msg = dr_kafka_consumer_poll(c, 200);
    CHECK(msg != NULL);
    if (msg) {
        dr_error err = {0};
        CHECK_INT(DR_OK,
                  dr_kafka_consumer_commit(c, rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset + 1, &err));
        rd_kafka_message_destroy(msg);
    }
    dr_kafka_consumer_close(c);

    /* 7 MiB more into the same partition (same key): the committed offset falls off the front. */
    dr_kafka_options opt = options(NULL, 0);
    dr_kafka_producer *p = NULL;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_kafka_producer_new(&opt, &p, &err));
    if (!p)
        return;
    static char value[1024];
    memset(value, 'x', sizeof value);
    int produce_failures = 0;
    for (int i = 0; i < 7 * 1024; i++)
        produce_failures +=
            dr_kafka_produce(p, DR_TOPIC_EVENTS, "lossy-target", value, sizeof value, NULL, NULL, &err) != DR_OK;
    CHECK_INT(0, produce_failures);
    CHECK_INT(DR_OK, dr_kafka_producer_flush(p, 60000, &err));
    dr_kafka_producer_free(p);

    int got = 0;
    const char *log = capture_stderr(consume_one_after_loss, &got);
    CHECK(got);
    CHECK_CONTAINS("level=error", log);
    CHECK_CONTAINS("event=kafka.data_loss topic=drover.events partition=", log);
}

/* ---- the broker process ---- */

static void test_broker_exits_cleanly_on_sigterm(void)
{
    CHECK_INT(0, kill(broker_pid, SIGTERM));
    int status = -1;
    pid_t done = 0;
    for (int i = 0; i < 200 && done == 0; i++) {
        done = waitpid(broker_pid, &status, WNOHANG);
        if (done == 0)
            usleep(50000);
    }
    CHECK_INT(broker_pid, done);
    CHECK(WIFEXITED(status));
    CHECK_INT(0, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (done == broker_pid)
        broker_pid = -1;
}

int main(void)
{
    dr_log_init("test_kafka", DR_LOG_WARN);
    signal(SIGPIPE, SIG_IGN);
    if (start_broker() != 0) {
        fprintf(stderr, "test_kafka: drover-broker did not start (is DROVER_BUILD_DIR set?)\n");
        CHECK(0);
        return check_done("test_kafka");
    }
    test_produce_reports_every_delivery();
    test_flush_reports_failed_deliveries();
    test_group_consumer_commits_what_it_took();
    test_two_members_split_the_partitions();
    test_read_topic_sees_every_record_in_order();
    test_read_empty_topic_returns_at_once();
    test_read_unknown_topic_fails();
    test_bad_kafka_property_is_named();
    test_committed_offset_gone_is_logged_as_data_loss();
    test_broker_exits_cleanly_on_sigterm();
    if (broker_pid > 0) {
        kill(broker_pid, SIGKILL);
        waitpid(broker_pid, NULL, 0);
    }
    return check_done("test_kafka");
}
