/* Job messages are untrusted: checks before running, and ids salvaged from damaged ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "job_message.h"
#include "messages.h"
#include "state.h"

static char root[] = "/tmp/drover-jobmsg-test-XXXXXX";

static void make_job(Drover__V1__Job *job, Drover__V1__Target *target, const char *target_id)
{
    drover__v1__target__init(target);
    target->target_id = (char *)target_id;
    target->account = "111";
    target->region = "eu-west-1";
    target->platform_name = "rocky";
    target->platform_version = "9";
    target->arch = "amd64";
    static char *family[] = {"rhel", "fedora"};
    target->platform_family = family;
    target->n_platform_family = 2;
    drover__v1__job__init(job);
    job->schema_version = 1;
    static char job_id[300];
    snprintf(job_id, sizeof job_id, "d-1/%s", target_id);
    job->job_id = job_id;
    job->deployment_id = "d-1";
    job->target = target;
    job->package = "acme";
    job->version = "1.0";
    job->action = DROVER__V1__ACTION__ACTION_INSTALL;
    job->manifest_url = "http://127.0.0.1:1/m.json";
    job->manifest_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    job->artifacts_base_url = "http://127.0.0.1:1";
}

static dr_job_placement local_only;

static void a_good_job_becomes_an_engine_request(void)
{
    Drover__V1__Job job;
    Drover__V1__Target target;
    make_job(&job, &target, "t-1");
    Drover__V1__KeyValue kv = DROVER__V1__KEY_VALUE__INIT;
    kv.key = "MODE";
    kv.value = "fast";
    Drover__V1__KeyValue *kvs[] = {&kv};
    job.additional_arguments = kvs;
    job.n_additional_arguments = 1;
    dr_job_inputs in;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_job_inputs_init(&in, &job, &local_only, &err));
    CHECK_STR("redhat", in.platform.family[0]); /* rhel normalized */
    CHECK_STR("x86_64", in.platform.arch);
    CHECK_CONTAINS("/t-1", in.request.target_root);
    CHECK(access(in.request.target_root, F_OK) == 0);
    CHECK_INT(1, in.request.arg_count);
    CHECK_STR("MODE=fast", in.request.args[0]);
    CHECK_STR("111", in.request.account);
    dr_job_inputs_free(&in);
}

static void hostile_jobs_are_refused(void)
{
    Drover__V1__Job job;
    Drover__V1__Target target;
    dr_job_inputs in;
    dr_error err = {0};
    const char *bad_ids[] = {"..", "../../etc", "a/b", "", "x y"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        make_job(&job, &target, bad_ids[i]);
        CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_job_inputs_init(&in, &job, &local_only, &err));
        dr_job_inputs_free(&in);
    }
    /* Ids off Kafka obey deploy's rules; the job id is exactly DEPLOYMENT/TARGET. */
    make_job(&job, &target, "t-2");
    job.deployment_id = "d-1\nlevel=error event=forged";
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_job_inputs_init(&in, &job, &local_only, &err));
    CHECK_CONTAINS("deployment id:", err.detail);
    dr_job_inputs_free(&in);
    static char long_id[600];
    memset(long_id, 'd', sizeof long_id - 1);
    make_job(&job, &target, "t-2");
    job.deployment_id = long_id;
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_job_inputs_init(&in, &job, &local_only, &err));
    CHECK_CONTAINS("1 to 128 are allowed", err.detail);
    dr_job_inputs_free(&in);
    make_job(&job, &target, "t-2");
    job.job_id = "d-1/t-3";
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_job_inputs_init(&in, &job, &local_only, &err));
    CHECK_CONTAINS("job id 'd-1/t-3' is not d-1/t-2", err.detail);
    dr_job_inputs_free(&in);

    /* A manifest without its hash could be anything the server holds. */
    make_job(&job, &target, "t-2");
    job.manifest_sha256 = "";
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_job_inputs_init(&in, &job, &local_only, &err));
    CHECK_CONTAINS("without its sha256", err.detail);
    dr_job_inputs_free(&in);

    /* Argument names are shell names, not reserved: 'A=B' would be a second variable. */
    const char *bad_keys[] = {"A=B", "1X", "", "LD_PRELOAD", "DROVER_TARGET_ROOT", "PATH", "A B"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        make_job(&job, &target, "t-2");
        Drover__V1__KeyValue kv = DROVER__V1__KEY_VALUE__INIT;
        Drover__V1__KeyValue *kvs[] = {&kv};
        kv.key = (char *)bad_keys[i];
        kv.value = "v";
        job.additional_arguments = kvs;
        job.n_additional_arguments = 1;
        CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_job_inputs_init(&in, &job, &local_only, &err));
        CHECK_CONTAINS("argument name", err.detail);
        dr_job_inputs_free(&in);
    }

    make_job(&job, &target, "t-2");
    job.package = "";
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_job_inputs_init(&in, &job, &local_only, &err));
    CHECK_CONTAINS("no package", err.detail);
    make_job(&job, &target, "t-2");
    job.action = 7;
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_job_inputs_init(&in, &job, &local_only, &err));
    CHECK_CONTAINS("unknown action 7", err.detail);
    make_job(&job, &target, "t-2");
    job.target = NULL;
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, dr_job_inputs_init(&in, &job, &local_only, &err));
    CHECK_CONTAINS("no target", err.detail);
}

/* The target's executor field picks where the job runs; a registration that cannot be served is refused. */
static void targets_are_placed_by_their_executor(void)
{
    Drover__V1__Job job;
    Drover__V1__Target target;
    dr_job_inputs in;
    dr_error err = {0};
    make_job(&job, &target, "t-ssh");
    target.executor = "ssh";
    target.address = "deploy@10.0.0.7:2222/srv/target";
    CHECK_INT(DR_ERR_USAGE, dr_job_inputs_init(&in, &job, &local_only, &err));
    CHECK_CONTAINS("reached over ssh, but this worker has no ssh-key", err.detail);
    dr_job_inputs_free(&in);

    dr_ssh_settings ssh = {.key_file = "/k", .known_hosts = "/kh", .work_dir = "/tmp"};
    dr_job_placement with_ssh = {.targets_root = local_only.targets_root, .ssh = &ssh};
    CHECK_INT(DR_OK, dr_job_inputs_init(&in, &job, &with_ssh, &err));
    CHECK_STR("/srv/target", in.request.target_root);
    CHECK(in.request.executor != NULL);
    CHECK_STR("ssh", in.request.executor->ops->name);
    dr_job_inputs_free(&in);

    const char *bad_addresses[] = {"-oProxyCommand=x", "host:99999", "user name@host", "host/../etc", ""};
    for (size_t i = 0; i < sizeof bad_addresses / sizeof bad_addresses[0]; i++) {
        target.address = (char *)bad_addresses[i];
        CHECK_INT(DR_ERR_USAGE, dr_job_inputs_init(&in, &job, &with_ssh, &err));
        CHECK_CONTAINS("target t-ssh: ssh address", err.detail);
        dr_job_inputs_free(&in);
    }

    target.executor = "carrier-pigeon";
    CHECK_INT(DR_ERR_USAGE, dr_job_inputs_init(&in, &job, &with_ssh, &err));
    CHECK_CONTAINS("executor 'carrier-pigeon'", err.detail);
    dr_job_inputs_free(&in);

    dr_job_placement agent = {.self_root = "/host"};
    target.executor = "agent";
    CHECK_INT(DR_OK, dr_job_inputs_init(&in, &job, &agent, &err));
    CHECK_STR("/host", in.request.target_root);
    CHECK(in.request.executor == NULL);
    dr_job_inputs_free(&in);
}

static void ids_are_salvaged_from_a_truncated_job(void)
{
    Drover__V1__Job job;
    Drover__V1__Target target;
    make_job(&job, &target, "t-9");
    size_t len;
    uint8_t *bytes = dr_message_encode(&job.base, &len);
    char dep[64], id[64], tgt[64];
    CHECK_INT(1, dr_job_salvage_ids(bytes, len, dep, sizeof dep, id, sizeof id, tgt, sizeof tgt));
    CHECK_STR("d-1", dep);
    CHECK_STR("d-1/t-9", id);
    CHECK_STR("t-9", tgt);
    /* Cut inside a field after the target: ids still readable, decoding fails. */
    size_t cut = len - 40;
    CHECK(drover__v1__job__unpack(NULL, cut, bytes) == NULL);
    CHECK_INT(1, dr_job_salvage_ids(bytes, cut, dep, sizeof dep, id, sizeof id, tgt, sizeof tgt));
    CHECK_STR("d-1", dep);
    /* Cut before the deployment id: nothing to report to. */
    CHECK_INT(0, dr_job_salvage_ids(bytes, 4, dep, sizeof dep, id, sizeof id, tgt, sizeof tgt));
    CHECK_STR("", dep);
    /* Garbage. */
    const char garbage[] = "\xff\xff\xff\xff garbage \x01\x02";
    CHECK_INT(0, dr_job_salvage_ids(garbage, sizeof garbage, dep, sizeof dep, id, sizeof id, tgt, sizeof tgt));
    free(bytes);
}

/* A status event carries the end of each output tail, cut on a UTF-8 character, not all 24 KiB. */
static void status_events_carry_short_tails(void)
{
    size_t len = 3 * DR_STATUS_TAIL_BYTES;
    char *out = malloc(len + 1);
    memset(out, 'a', len);
    /* A two-byte character straddling the cut: the tail starts after it. */
    memcpy(out + len - DR_STATUS_TAIL_BYTES - 1, "\xc3\xa9", 2);
    memcpy(out + len - 4, "end!", 4);
    out[len] = '\0';
    dr_job_result result = {.outcome = DR_OUTCOME_SUCCESS, .stdout_tail = out, .stderr_tail = "short"};
    Drover__V1__StatusEvent event = DROVER__V1__STATUS_EVENT__INIT;
    dr_status_event_add_result(&event, &result);
    CHECK_INT(DR_STATUS_TAIL_BYTES - 1, (long long)strlen(event.stdout_tail));
    CHECK_INT(1, strcmp(event.stdout_tail + strlen(event.stdout_tail) - 4, "end!") == 0);
    CHECK_STR("short", event.stderr_tail);
    free(out);
}

/* What the target's record holds after and before the job rides on the terminal event, when it was read. */
static void status_events_say_what_is_installed(void)
{
    dr_job_result result = {.outcome = DR_OUTCOME_FAILED, .installed_known = 1};
    snprintf(result.installed_version, sizeof result.installed_version, "1.0"); /* rolled back */
    snprintf(result.previous_version, sizeof result.previous_version, "1.0");
    Drover__V1__StatusEvent event = DROVER__V1__STATUS_EVENT__INIT;
    event.version = "2.0";
    dr_status_event_add_result(&event, &result);
    CHECK_INT(1, event.installed_known);
    CHECK_STR("1.0", event.installed_version);
    CHECK_STR("1.0", event.previous_version);
    CHECK_STR("2.0", event.version); /* the job's version stays: it failed */
    dr_job_result unread = {.outcome = DR_OUTCOME_REJECTED};
    Drover__V1__StatusEvent other = DROVER__V1__STATUS_EVENT__INIT;
    dr_status_event_add_result(&other, &unread);
    CHECK_INT(0, other.installed_known);
    CHECK_STR("", other.installed_version);
}

int main(void)
{
    if (!mkdtemp(root))
        return 1;
    local_only.targets_root = root;
    a_good_job_becomes_an_engine_request();
    hostile_jobs_are_refused();
    targets_are_placed_by_their_executor();
    ids_are_salvaged_from_a_truncated_job();
    status_events_carry_short_tails();
    status_events_say_what_is_installed();
    dr_remove_tree(root, NULL);
    return check_done("job_message");
}
