/*
 * The AWS credential chain: its parsers on well-formed and hostile input
 * (STS XML, IMDS JSON, the shared files), and the chain itself against the
 * fake IMDS of drover_test_http (from $DROVER_BUILD_DIR): job threads
 * sharing one fetch, and keys near expiry fetched again.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws_credentials.h"
#include "aws_imds.h"
#include "aws_sts.h"
#include "check.h"
#include "fetch.h"
#include "strbuf.h"

#define KEY "ASIADROVERTEMPORARY1"
#define SECRET "tmp/secret+key=value"
#define TOKEN "FwoGZXIvYXdzEDroverSession/token"

static const char *sts_ok =
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    "<AssumeRoleWithWebIdentityResult><Credentials>"
    "<SessionToken>" TOKEN "</SessionToken><SecretAccessKey>" SECRET
    "</SecretAccessKey>"
    "<Expiration>2026-12-05T00:10:00Z</Expiration><AccessKeyId>" KEY
    "</AccessKeyId>"
    "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";

/* sts_ok with from replaced by to. */
static char *sts_with(const char *from, const char *to)
{
    const char *at = strstr(sts_ok, from);
    char *out = NULL;
    if (!at || asprintf(&out, "%.*s%s%s", (int)(at - sts_ok), sts_ok, to, at + strlen(from)) < 0)
        abort();
    return out;
}

static void expect_sts_refused(const char *from, const char *to, const char *why)
{
    char *xml = sts_with(from, to);
    dr_aws_credentials creds;
    dr_error err = {0};
    CHECK_INT(DR_ERR_FETCH, dr_aws_parse_sts_response(xml, strlen(xml), &creds, &err));
    CHECK_CONTAINS(why, err.detail);
    CHECK(!strstr(err.detail, SECRET) && !strstr(err.detail, TOKEN));
    CHECK(creds.access_key_id == NULL);
    free(xml);
}

static void test_sts_response(void)
{
    dr_aws_credentials creds;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_aws_parse_sts_response(sts_ok, strlen(sts_ok), &creds, &err));
    CHECK_STR(KEY, creds.access_key_id);
    CHECK_STR(SECRET, creds.secret_access_key);
    CHECK_STR(TOKEN, creds.session_token);
    CHECK_INT(1796429400, creds.expiration);
    CHECK_STR("web identity", creds.source);
    dr_aws_credentials_free(&creds);

    expect_sts_refused("<Credentials>", "<Creds>", "no <Credentials> element");
    expect_sts_refused("<AccessKeyId>" KEY "</AccessKeyId>", "", "lacks one of");
    expect_sts_refused("<AccessKeyId>", "<AccessKeyId>X</AccessKeyId><AccessKeyId>", "holds one twice");
    expect_sts_refused(SECRET, "a<b>c</b>", "with markup");
    expect_sts_refused(SECRET, "a&amp;b", "with markup");
    expect_sts_refused(KEY, "ASIA KEY", "not one AWS issues");
    expect_sts_refused(TOKEN, "token\x01with-control", "not one AWS issues");
    expect_sts_refused("2026-12-05T00:10:00Z", "tomorrow", "Expiration is not a UTC time");
    expect_sts_refused("</Credentials>", "", "no <Credentials> element");

    /* A secret longer than any AWS issues does not fit, and is refused. */
    char long_secret[400];
    memset(long_secret, 'a', sizeof long_secret - 1);
    long_secret[sizeof long_secret - 1] = '\0';
    expect_sts_refused(SECRET, long_secret, "lacks one of");

    /* Truncated anywhere: refused, never read past the length given. */
    for (size_t len = 0; len < strlen(sts_ok); len += 7) {
        CHECK(dr_aws_parse_sts_response(sts_ok, len, &creds, &err) == DR_ERR_FETCH);
    }
}

static void test_sts_error_code(void)
{
    const char *refusal =
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
        "<Message>Not authorized</Message></Error></ErrorResponse>";
    char code[65];
    dr_aws_sts_error_code(refusal, strlen(refusal), code, sizeof code);
    CHECK_STR("AccessDenied", code);
    const char *hostile = "<ErrorResponse><Error><Code>Access\nDenied; rm -rf</Code></Error></ErrorResponse>";
    dr_aws_sts_error_code(hostile, strlen(hostile), code, sizeof code);
    CHECK_STR("", code);
    dr_aws_sts_error_code("<html>", 6, code, sizeof code);
    CHECK_STR("", code);
}

static void expect_imds(const char *json, dr_status want, const char *why)
{
    dr_aws_credentials creds;
    dr_error err = {0};
    CHECK_INT(want, dr_aws_parse_imds_credentials(json, strlen(json), &creds, &err));
    if (want == DR_OK) {
        CHECK_STR(KEY, creds.access_key_id);
        CHECK_STR(TOKEN, creds.session_token);
        CHECK_STR("IMDS", creds.source);
        CHECK(creds.expiration > 0);
    } else {
        CHECK_CONTAINS(why, err.detail);
        CHECK(!strstr(err.detail, SECRET));
    }
    dr_aws_credentials_free(&creds);
}

static void test_imds_credentials(void)
{
    expect_imds(
        "{\"Code\":\"Success\",\"LastUpdated\":\"2026-01-01T00:00:00Z\",\"Type\":\"AWS-HMAC\","
        "\"AccessKeyId\":\"" KEY "\",\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"" TOKEN
        "\","
        "\"Expiration\":\"2026-12-05T00:10:00.000Z\"}",
        DR_OK, NULL);
    expect_imds("this is not JSON {", DR_ERR_FETCH, "IMDS garbage: not JSON");
    expect_imds("[1,2]", DR_ERR_FETCH, "not an object with");
    expect_imds("{\"Code\":\"Success\",\"AccessKeyId\":\"" KEY "\",\"SecretAccessKey\":\"" SECRET
                "\",\"Expiration\":\"2026-12-05T00:10:00Z\"}",
                DR_ERR_FETCH, "not an object with");
    expect_imds("{\"Code\":\"Success\",\"AccessKeyId\":7,\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"" TOKEN
                "\",\"Expiration\":\"2026-12-05T00:10:00Z\"}",
                DR_ERR_FETCH, "not an object with");
    expect_imds("{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"AccessKeyId\":\"" KEY "\",\"SecretAccessKey\":\"" SECRET
                "\",\"Token\":\"" TOKEN "\",\"Expiration\":\"2026-12-05T00:10:00Z\"}",
                DR_ERR_FETCH, "Code is not Success");
    expect_imds("{\"Code\":\"Success\",\"AccessKeyId\":\"AKID:evil\",\"SecretAccessKey\":\"" SECRET
                "\",\"Token\":\"" TOKEN "\",\"Expiration\":\"2026-12-05T00:10:00Z\"}",
                DR_ERR_FETCH, "not one AWS issues");
    expect_imds("{\"Code\":\"Success\",\"AccessKeyId\":\"" KEY "\",\"SecretAccessKey\":\"" SECRET
                "\",\"Token\":\"" TOKEN "\\r\\nX-Injected: 1\",\"Expiration\":\"2026-12-05T00:10:00Z\"}",
                DR_ERR_FETCH, "not one AWS issues");
    expect_imds("{\"Code\":\"Success\",\"Code\":\"Success\",\"AccessKeyId\":\"" KEY "\",\"SecretAccessKey\":\"" SECRET
                "\",\"Token\":\"" TOKEN "\",\"Expiration\":\"2026-12-05T00:10:00Z\"}",
                DR_ERR_FETCH, "not JSON");
    expect_imds("{\"Code\":\"Success\",\"AccessKeyId\":\"" KEY "\",\"SecretAccessKey\":\"" SECRET
                "\",\"Token\":\"" TOKEN "\",\"Expiration\":\"2026-12-05 00:10:00\"}",
                DR_ERR_FETCH, "Expiration is not a UTC time");
}

static void expect_ini(const char *text, const char *section, const char *key, const char *want)
{
    char *value = NULL;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_aws_ini_value(text, section, key, &value, &err));
    if (want)
        CHECK_STR(want, value);
    else
        CHECK(value == NULL);
    free(value);
}

static void test_shared_files(void)
{
    const char *config =
        "# a comment\n[default]\nregion = us-east-1\n\n[profile deploy]\n  region=eu-west-1  \n"
        "; aws_access_key_id = commented\naws_access_key_id = AKIDDEPLOY\nregion = ignored\n"
        "[profile other]\naws_secret_access_key = x\n[profile broken\nregion = still-other\n";
    expect_ini(config, "default", "region", "us-east-1");
    expect_ini(config, "profile deploy", "region", "eu-west-1");
    expect_ini(config, "profile deploy", "aws_access_key_id", "AKIDDEPLOY");
    expect_ini(config, "profile deploy", "aws_secret_access_key", NULL);
    expect_ini(config, "deploy", "region", NULL);
    expect_ini(config, "profile other", "region", NULL);
    expect_ini("", "default", "region", NULL);
    expect_ini("[default]\nregion", "default", "region", NULL);
    expect_ini("[default]\r\nregion = eu-north-1\r\n", "default", "region", "eu-north-1");
}

static void test_time_and_charsets(void)
{
    time_t t = 0;
    CHECK(dr_aws_parse_time("1970-01-01T00:01:00Z", &t) && t == 60);
    CHECK(dr_aws_parse_time("2026-12-05T00:10:00.123Z", &t) && t == 1796429400);
    CHECK(!dr_aws_parse_time("2026-12-05T00:10:00", &t));
    CHECK(!dr_aws_parse_time("2026-12-05T00:10:00Zjunk", &t));
    CHECK(!dr_aws_parse_time("2026-13-05T00:10:00Z", &t));
    CHECK(!dr_aws_parse_time("", &t));
    CHECK(dr_aws_credentials_valid(KEY, SECRET, NULL));
    CHECK(dr_aws_credentials_valid(KEY, SECRET, TOKEN));
    CHECK(!dr_aws_credentials_valid("", SECRET, NULL));
    CHECK(!dr_aws_credentials_valid("AKID:X", SECRET, NULL));
    CHECK(!dr_aws_credentials_valid(KEY, "with space", NULL));
    CHECK(!dr_aws_credentials_valid(KEY, SECRET, ""));
    CHECK(!dr_aws_credentials_valid(KEY, SECRET, "line\nbreak"));
}

/* ---- the chain against the fake IMDS ---- */

static char work_dir[] = "/tmp/drover-test-aws-XXXXXX";

/* drover_test_http as STS/IMDS (--aws-credentials plus extra), its URL into url; its pid, or -1. */
static pid_t start_fake_aws(const char *name, const char *extra_flag, const char *extra_value, char *url, size_t size)
{
    const char *build_dir = getenv("DROVER_BUILD_DIR");
    char program[1024], port_file[1024], log_file[1024];
    if (!build_dir) {
        fprintf(stderr, "test_aws_credentials: set DROVER_BUILD_DIR (it holds drover_test_http)\n");
        return -1;
    }
    snprintf(program, sizeof program, "%s/drover_test_http", build_dir);
    snprintf(port_file, sizeof port_file, "%s/%s.port", work_dir, name);
    snprintf(log_file, sizeof log_file, "%s/%s.log", work_dir, name);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execl(program, program, "--root", work_dir, "--port-file", port_file, "--log", log_file, "--aws-credentials",
              KEY ":" SECRET ":" TOKEN, extra_flag, extra_value, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; pid > 0 && i < 100; i++) {
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f && fscanf(f, "%d", &port) == 1 && port > 0) {
            fclose(f);
            snprintf(url, size, "http://127.0.0.1:%d", port);
            return pid;
        }
        if (f)
            fclose(f);
        usleep(50000);
    }
    fprintf(stderr, "test_aws_credentials: %s did not start\n", program);
    return -1;
}

static void stop_fake_aws(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

/* How many lines of the fake's log start with prefix. */
static int log_count(const char *name, const char *prefix)
{
    char path[1024], line[2048];
    int n = 0;
    snprintf(path, sizeof path, "%s/%s.log", work_dir, name);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        n += strncmp(line, prefix, strlen(prefix)) == 0;
    if (f)
        fclose(f);
    return n;
}

static void *get_from_thread(void *arg)
{
    dr_aws_credentials creds;
    dr_error err = {0};
    int *ok = arg;
    *ok =
        dr_aws_credentials_get(&creds, &err) == DR_OK && creds.session_token && strcmp(creds.session_token, TOKEN) == 0;
    dr_aws_credentials_free(&creds);
    return NULL;
}

static void isolate_environment(void)
{
    char none[1100];
    snprintf(none, sizeof none, "%s/none", work_dir);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ROLE_ARN");
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_SHARED_CREDENTIALS_FILE", none, 1);
    setenv("AWS_CONFIG_FILE", none, 1);
}

/* A fake IMDS handing out keys that expire in expires_in seconds, the only source of the chain, nothing kept. */
static pid_t only_fake_imds(const char *name, const char *expires_in)
{
    char url[128];
    pid_t pid = start_fake_aws(name, "--aws-expires-in", expires_in, url, sizeof url);
    CHECK(pid > 0);
    isolate_environment();
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
    dr_aws_credentials_forget();
    return pid;
}

static void test_chain_shares_one_fetch_between_threads(void)
{
    pid_t pid = only_fake_imds("imds", "3600");
    if (pid <= 0)
        return;
    pthread_t threads[8];
    int ok[8] = {0};
    for (int i = 0; i < 8; i++)
        pthread_create(&threads[i], NULL, get_from_thread, &ok[i]);
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        CHECK(ok[i]);
    }
    CHECK_INT(1, log_count("imds", "PUT /latest/api/token range=- status=200"));
    CHECK_INT(1, log_count("imds", "GET /latest/meta-data/iam/security-credentials/drover-node "));
    stop_fake_aws(pid);
}

static void test_chain_refreshes_before_expiry(void)
{
    pid_t pid = only_fake_imds("imds-short", "120");
    if (pid <= 0)
        return;
    dr_aws_credentials creds;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_aws_credentials_get(&creds, &err));
    dr_aws_credentials_free(&creds);
    CHECK_INT(DR_OK, dr_aws_credentials_get(&creds, &err));
    dr_aws_credentials_free(&creds);
    /* Two minutes left is inside the five-minute margin: each use fetched again. */
    CHECK_INT(2, log_count("imds-short", "GET /latest/meta-data/iam/security-credentials/drover-node "));
    /* IMDS gone, but the keys held are good for two more minutes: still used. */
    stop_fake_aws(pid);
    CHECK_INT(DR_OK, dr_aws_credentials_get(&creds, &err));
    CHECK_STR(TOKEN, creds.session_token);
    dr_aws_credentials_free(&creds);
    /* Forgotten, with IMDS gone: the error names IMDS and lists the rest. */
    dr_aws_credentials_forget();
    CHECK_INT(DR_ERR_FETCH, dr_aws_credentials_get(&creds, &err));
    CHECK_CONTAINS("no AWS credentials: tried environment", err.detail);
    CHECK_CONTAINS("IMDS at http://127.0.0.1:", err.detail);
}

static void test_environment_comes_first(void)
{
    isolate_environment();
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    dr_aws_credentials creds;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_aws_credentials_get(&creds, &err));
    CHECK_STR("AKIDENV", creds.access_key_id);
    CHECK_STR("environment", creds.source);
    CHECK(creds.session_token == NULL);
    dr_aws_credentials_free(&creds);
    setenv("AWS_SECRET_ACCESS_KEY", "has a space", 1);
    CHECK_INT(DR_ERR_FETCH, dr_aws_credentials_get(&creds, &err));
    CHECK_CONTAINS("environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN", err.detail);
    CHECK(!strstr(err.detail, "has a space"));
}

int main(void)
{
    test_sts_response();
    test_sts_error_code();
    test_imds_credentials();
    test_shared_files();
    test_time_and_charsets();
    if (!mkdtemp(work_dir)) {
        fprintf(stderr, "test_aws_credentials: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    CHECK_INT(DR_OK, dr_fetch_global_init());
    test_environment_comes_first();
    test_chain_shares_one_fetch_between_threads();
    test_chain_refreshes_before_expiry();
    char command[256];
    snprintf(command, sizeof command, "rm -rf %s", work_dir);
    if (system(command) != 0)
        fprintf(stderr, "test_aws_credentials: could not remove %s\n", work_dir);
    return check_done("aws_credentials");
}
