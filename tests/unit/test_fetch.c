/*
 * Downloads against a real HTTP server on loopback (drover_test_http, started
 * from $DROVER_BUILD_DIR): verification, resume, retries, limits, local files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "fetch.h"
#include "files.h"
#include "sha256.h"
#include "test_files.h"

#define FILE_SIZE (300 * 1024 + 123) /* odd, so "half" is not a round number */

static char work_dir[] = "/tmp/drover-fetch-test-XXXXXX";
static char root_dir[256], out_dir[256], log_path[256];
static pid_t server_pid = -1;
static int server_stdout = -1;
static char base_url[64];

/* Deterministic bytes that differ per seed: a file's content is known without reading it back. */
static unsigned char *make_bytes(size_t len, unsigned seed)
{
    unsigned char *bytes = malloc(len);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes[i] = (unsigned char)x;
    }
    return bytes;
}

/* The whole file, or NULL; *len gets its size. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(size > 0 ? (size_t)size : 1);
    *len = fread(data, 1, (size_t)size, f);
    fclose(f);
    return data;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* dest holds exactly these bytes. */
static int file_equals(const char *path, const unsigned char *want, size_t want_len)
{
    size_t len = 0;
    unsigned char *got = read_file(path, &len);
    int same = got && len == want_len && memcmp(got, want, len) == 0;
    free(got);
    return same;
}

/* A file of FILE_SIZE bytes under the server root; returns its bytes, hex digest in sha. */
static unsigned char *serve_new_file(const char *name, unsigned seed, char sha[DR_SHA256_HEX_SIZE])
{
    char path[512];
    unsigned char *bytes = make_bytes(FILE_SIZE, seed);
    snprintf(path, sizeof path, "%s/%s", root_dir, name);
    write_file(path, bytes, FILE_SIZE);
    dr_sha256_buffer_hex(bytes, FILE_SIZE, sha);
    return bytes;
}

static void out_path(char *buf, size_t size, const char *name, const char *suffix)
{
    snprintf(buf, size, "%s/%s%s", out_dir, name, suffix);
}

static void url_for(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", base_url, name);
}

/* One download under test: a file the server holds, and where fetching it goes. */
typedef struct served_download {
    unsigned char *bytes; /* the FILE_SIZE bytes served; the test frees them */
    char sha[DR_SHA256_HEX_SIZE];
    char url[256];
    char dest[512];
    char part[512]; /* dest's resume file */
} served_download;

static served_download serve_download(const char *name, unsigned seed)
{
    served_download file;
    file.bytes = serve_new_file(name, seed, file.sha);
    url_for(file.url, sizeof file.url, name);
    out_path(file.dest, sizeof file.dest, name, "");
    out_path(file.part, sizeof file.part, name, ".part");
    return file;
}

/* Lines of the server log that start with prefix ("GET /x.bin "). */
static int log_lines_starting(const char *prefix)
{
    FILE *f = fopen(log_path, "r");
    char line[1024];
    int count = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        count += strncmp(line, prefix, strlen(prefix)) == 0;
    fclose(f);
    return count;
}

/* On failure the server's view of the requests is the first thing to read. */
static void dump_server_log(void)
{
    size_t len = 0;
    unsigned char *log = read_file(log_path, &len);
    fprintf(stderr, "--- server log %s ---\n", log_path);
    if (log)
        fwrite(log, 1, len, stderr);
    free(log);
}

static dr_fetch_options quick_options(void)
{
    dr_fetch_options opt;
    dr_fetch_options_default(&opt);
    opt.timeout_seconds = 10;
    opt.stall_seconds = 5;
    opt.max_attempts = 3;
    opt.backoff_initial_ms = 20;
    return opt;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Start the server on root_dir; its first stdout line is the port. */
static int start_server(void)
{
    const char *build_dir = getenv("DROVER_BUILD_DIR");
    if (!build_dir || !*build_dir) {
        fprintf(stderr,
                "test_fetch: set DROVER_BUILD_DIR to the build directory "
                "(it holds drover_test_http)\n");
        return -1;
    }
    char program[512];
    snprintf(program, sizeof program, "%s/drover_test_http", build_dir);
    if (access(program, X_OK) != 0) {
        fprintf(stderr, "test_fetch: cannot run %s: %s\n", program, strerror(errno));
        return -1;
    }
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return -1;
    server_pid = fork();
    if (server_pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        execl(program, program, "--root", root_dir, "--log", log_path, "--cut-once", "cut.bin", "--stall", "stall.bin",
              (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    server_stdout = out[0];
    if (server_pid < 0)
        return -1;
    char line[32] = {0};
    size_t len = 0;
    while (len + 1 < sizeof line && !strchr(line, '\n')) {
        struct pollfd pfd = {.fd = server_stdout, .events = POLLIN};
        if (poll(&pfd, 1, 5000) <= 0)
            break;
        ssize_t n = read(server_stdout, line + len, sizeof line - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    int port = atoi(line);
    if (port <= 0) {
        fprintf(stderr, "test_fetch: %s printed no port\n", program);
        return -1;
    }
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", port);
    return 0;
}

static void stop_server(void)
{
    if (server_pid <= 0)
        return;
    int wstatus = 0;
    kill(server_pid, SIGTERM);
    CHECK_INT(server_pid, waitpid(server_pid, &wstatus, 0));
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    close(server_stdout);
}

/* ---- the behaviours ----------------------------------------------------- */

static void plain_download_writes_the_exact_bytes_in_one_attempt(void)
{
    served_download file = serve_download("plain.bin", 1);
    dr_fetch_options opt = quick_options();
    dr_fetch_report report;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_fetch_to_file(file.url, file.dest, NULL, &opt, &report, &err));
    CHECK(file_equals(file.dest, file.bytes, FILE_SIZE));
    CHECK(!file_exists(file.part));
    CHECK_INT(1, report.attempts);
    CHECK_INT(0, report.resumed_from);
    CHECK_INT(FILE_SIZE, report.bytes);
    free(file.bytes);
}

static void matching_sha256_is_accepted_in_either_case(void)
{
    served_download file = serve_download("hashed.bin", 2);
    dr_fetch_options opt = quick_options();
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_fetch_to_file(file.url, file.dest, file.sha, &opt, NULL, &err));
    CHECK(file_equals(file.dest, file.bytes, FILE_SIZE));

    for (char *p = file.sha; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
    unlink(file.dest);
    CHECK_INT(DR_OK, dr_fetch_to_file(file.url, file.dest, file.sha, &opt, NULL, &err));
    CHECK(file_equals(file.dest, file.bytes, FILE_SIZE));
    free(file.bytes);
}

static void wrong_sha256_fails_and_leaves_nothing_behind(void)
{
    char want[200];
    const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
    served_download file = serve_download("wrong.bin", 3);
    dr_fetch_options opt = quick_options();
    dr_error err = {0};
    CHECK_INT(DR_ERR_CHECKSUM, dr_fetch_to_file(file.url, file.dest, wrong, &opt, NULL, &err));
    snprintf(want, sizeof want, "sha256 mismatch for %s: the bytes served do not hash to %s", file.url, wrong);
    CHECK_STR(want, err.detail);
    /* The hash of what was served would confirm a guess of bytes the caller may not read. */
    CHECK(!strstr(err.detail, file.sha));
    CHECK(!file_exists(file.dest));
    CHECK(!file_exists(file.part));
    free(file.bytes);
}

static void missing_file_is_not_found_without_a_retry(void)
{
    char url[256], dest[512];
    url_for(url, sizeof url, "missing.bin");
    out_path(dest, sizeof dest, "missing.bin", "");
    dr_fetch_options opt = quick_options();
    dr_fetch_report report;
    dr_error err = {0};
    CHECK_INT(DR_ERR_FETCH_NOT_FOUND, dr_fetch_to_file(url, dest, NULL, &opt, &report, &err));
    CHECK_INT(1, report.attempts);
    CHECK_CONTAINS(url, err.detail);
    CHECK_CONTAINS("404", err.detail);
    CHECK_INT(1, log_lines_starting("GET /missing.bin "));
    CHECK(!file_exists(dest));
}

static void connection_cut_half_way_is_resumed_with_a_range_request(void)
{
    served_download file = serve_download("cut.bin", 4);
    dr_fetch_options opt = quick_options();
    dr_fetch_report report;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_fetch_to_file(file.url, file.dest, file.sha, &opt, &report, &err));
    CHECK_INT(2, report.attempts);
    CHECK_INT(FILE_SIZE / 2, report.resumed_from);
    CHECK(file_equals(file.dest, file.bytes, FILE_SIZE));
    CHECK_INT(2, log_lines_starting("GET /cut.bin "));
    CHECK_INT(1, log_lines_starting("GET /cut.bin range=- status=200"));
    char resumed[128];
    snprintf(resumed, sizeof resumed, "GET /cut.bin range=bytes=%d- status=206", FILE_SIZE / 2);
    CHECK_INT(1, log_lines_starting(resumed));
    free(file.bytes);
}

static void existing_part_file_is_resumed_and_the_hash_covers_it(void)
{
    served_download file = serve_download("resume.bin", 5);
    const size_t have = 100000;
    char resumed[128];
    write_file(file.part, file.bytes, have);
    dr_fetch_options opt = quick_options();
    dr_fetch_report report;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_fetch_to_file(file.url, file.dest, file.sha, &opt, &report, &err));
    CHECK_INT(1, report.attempts);
    CHECK_INT(have, report.resumed_from);
    CHECK(file_equals(file.dest, file.bytes, FILE_SIZE));
    CHECK(!file_exists(file.part));
    snprintf(resumed, sizeof resumed, "GET /resume.bin range=bytes=%zu- status=206", have);
    CHECK_INT(1, log_lines_starting(resumed));

    /* A .part whose prefix is not the file's: resumed, then caught by the hash. */
    unsigned char *other = make_bytes(have, 99);
    write_file(file.part, other, have);
    unlink(file.dest);
    CHECK_INT(DR_ERR_CHECKSUM, dr_fetch_to_file(file.url, file.dest, file.sha, &opt, &report, &err));
    CHECK(!file_exists(file.part));
    CHECK(!file_exists(file.dest));
    free(other);
    free(file.bytes);
}

static void complete_part_file_is_discarded_and_fetched_again(void)
{
    served_download file = serve_download("whole.bin", 6);
    write_file(file.part, file.bytes, FILE_SIZE);
    dr_fetch_options opt = quick_options();
    opt.max_attempts = 1; /* the restart after a 416 is not a retry */
    dr_fetch_report report;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_fetch_to_file(file.url, file.dest, file.sha, &opt, &report, &err));
    CHECK_INT(2, report.attempts);
    CHECK(file_equals(file.dest, file.bytes, FILE_SIZE));
    char refused[128];
    snprintf(refused, sizeof refused, "GET /whole.bin range=bytes=%d- status=416", FILE_SIZE);
    CHECK_INT(1, log_lines_starting(refused));
    CHECK_INT(1, log_lines_starting("GET /whole.bin range=- status=200"));
    free(file.bytes);
}

static void stalled_server_times_out_after_its_attempts(void)
{
    served_download file = serve_download("stall.bin", 7);
    dr_fetch_options opt = quick_options();
    opt.stall_seconds = 1;
    opt.max_attempts = 2;
    dr_fetch_report report;
    dr_error err = {0};
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK_INT(DR_ERR_FETCH_TIMEOUT, dr_fetch_to_file(file.url, file.dest, file.sha, &opt, &report, &err));
    double elapsed = seconds_since(&start);
    CHECK(elapsed < 6.0);
    CHECK_INT(2, report.attempts);
    CHECK_CONTAINS(file.url, err.detail);
    CHECK_CONTAINS("stalled", err.detail);
    CHECK_CONTAINS("2 attempts", err.detail);
    CHECK_INT(2, log_lines_starting("GET /stall.bin "));
    CHECK(!file_exists(file.dest));
    free(file.bytes);
}

static void total_time_limit_ends_the_download(void)
{
    char url[256], dest[512];
    url_for(url, sizeof url, "stall.bin");
    out_path(dest, sizeof dest, "stall-total.bin", "");
    dr_fetch_options opt = quick_options();
    opt.stall_seconds = 0; /* only the total limit can end it */
    opt.timeout_seconds = 1;
    opt.max_attempts = 5;
    dr_fetch_report report;
    dr_error err = {0};
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK_INT(DR_ERR_FETCH_TIMEOUT, dr_fetch_to_file(url, dest, NULL, &opt, &report, &err));
    double elapsed = seconds_since(&start);
    CHECK(elapsed >= 0.9 && elapsed < 3.0);
    CHECK_INT(1, report.attempts);
    CHECK_CONTAINS(url, err.detail);
    CHECK_CONTAINS("1 s time limit", err.detail);
}

static void file_over_the_size_limit_is_refused_and_removed(void)
{
    served_download file = serve_download("big.bin", 8);
    dr_fetch_options opt = quick_options();
    opt.max_bytes = FILE_SIZE - 1;
    dr_fetch_report report;
    dr_error err = {0};
    CHECK_INT(DR_ERR_FETCH_TOO_LARGE, dr_fetch_to_file(file.url, file.dest, NULL, &opt, &report, &err));
    CHECK_INT(1, report.attempts);
    CHECK_CONTAINS(file.url, err.detail);
    CHECK(!file_exists(file.dest));
    CHECK(!file_exists(file.part));

    /* A file:// source, and a .part that already holds part of the file, are counted too. */
    char file_url[512];
    snprintf(file_url, sizeof file_url, "file://%s/big.bin", root_dir);
    CHECK_INT(DR_ERR_FETCH_TOO_LARGE, dr_fetch_to_file(file_url, file.dest, NULL, &opt, NULL, &err));
    CHECK(!file_exists(file.part));
    write_file(file.part, file.bytes, FILE_SIZE / 2);
    CHECK_INT(DR_ERR_FETCH_TOO_LARGE, dr_fetch_to_file(file.url, file.dest, NULL, &opt, NULL, &err));
    CHECK(!file_exists(file.dest));
    CHECK(!file_exists(file.part));

    opt.max_bytes = FILE_SIZE; /* the limit itself is allowed */
    CHECK_INT(DR_OK, dr_fetch_to_file(file.url, file.dest, file.sha, &opt, NULL, &err));
    free(file.bytes);
}

static void file_urls_and_plain_paths_are_read_locally(void)
{
    char sha[DR_SHA256_HEX_SIZE], source[512], file_url[600], dest[512];
    unsigned char *bytes = serve_new_file("local file.bin", 9, sha);
    snprintf(source, sizeof source, "%s/local file.bin", root_dir);
    out_path(dest, sizeof dest, "local.bin", "");
    dr_fetch_options opt = quick_options();
    dr_fetch_report report;
    dr_error err = {0};

    snprintf(file_url, sizeof file_url, "file://%s/local%%20file.bin", root_dir);
    CHECK_INT(DR_OK, dr_fetch_to_file(file_url, dest, sha, &opt, &report, &err));
    CHECK(file_equals(dest, bytes, FILE_SIZE));
    CHECK_INT(1, report.attempts);

    unlink(dest);
    CHECK_INT(DR_OK, dr_fetch_to_file(source, dest, sha, &opt, &report, &err));
    CHECK(file_equals(dest, bytes, FILE_SIZE));

    /* A relative path is read from the current directory. */
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK_INT(0, chdir(root_dir));
    unlink(dest);
    CHECK_INT(DR_OK, dr_fetch_to_file("local file.bin", dest, sha, &opt, &report, &err));
    CHECK(file_equals(dest, bytes, FILE_SIZE));
    CHECK_INT(0, fchdir(here));
    close(here);

    /* curl would read a directory as an empty file. */
    CHECK_INT(DR_ERR_FETCH, dr_fetch_to_file(root_dir, dest, NULL, &opt, &report, &err));
    CHECK_CONTAINS("not a regular file", err.detail);

    snprintf(source, sizeof source, "%s/no-such-file.bin", root_dir);
    CHECK_INT(DR_ERR_FETCH_NOT_FOUND, dr_fetch_to_file(source, dest, NULL, &opt, &report, &err));
    CHECK_INT(1, report.attempts);
    CHECK_CONTAINS(source, err.detail);
    free(bytes);
}

static void unreachable_server_fails_after_every_attempt(void)
{
    /* A loopback port nobody listens on: bind one, note it, close it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    CHECK_INT(0, bind(fd, (struct sockaddr *)&addr, sizeof addr));
    CHECK_INT(0, getsockname(fd, (struct sockaddr *)&addr, &len));
    close(fd);
    char url[128], dest[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/nowhere.bin", ntohs(addr.sin_port));
    out_path(dest, sizeof dest, "nowhere.bin", "");
    dr_fetch_options opt = quick_options();
    dr_fetch_report report;
    dr_error err = {0};
    CHECK_INT(DR_ERR_FETCH, dr_fetch_to_file(url, dest, NULL, &opt, &report, &err));
    CHECK_INT(3, report.attempts);
    CHECK_CONTAINS(url, err.detail);
    CHECK_CONTAINS("3 attempts", err.detail);
    CHECK_CONTAINS("curl error 7", err.detail);
    CHECK(!file_exists(dest));
}

static void bad_arguments_are_usage_errors(void)
{
    char dest[512];
    out_path(dest, sizeof dest, "never.bin", "");
    dr_error err = {0};
    CHECK_INT(DR_ERR_USAGE, dr_fetch_to_file(base_url, dest, "not-hex", NULL, NULL, &err));
    CHECK_CONTAINS("not-hex", err.detail);
    CHECK(!file_exists(dest));
}

/* A policy refuses before the first request: the server never hears of the URL. */
static void policy_refuses_a_url_before_any_request(void)
{
    served_download file = serve_download("refused.bin", 11);
    dr_fetch_policy policy;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_fetch_policy_init(&policy, NULL, NULL, 0, &err));
    dr_fetch_options opt = quick_options();
    opt.policy = &policy;
    dr_fetch_report report;
    CHECK_INT(DR_ERR_FETCH_REFUSED, dr_fetch_to_file(file.url, file.dest, NULL, &opt, &report, &err));
    char want[400];
    snprintf(want, sizeof want, "refused to fetch \"%s\": host 127.0.0.1 is loopback, and fetch-allow-private is off",
             file.url);
    CHECK_STR(want, err.detail);
    CHECK_INT(0, report.attempts);
    CHECK_INT(0, log_lines_starting("GET /refused.bin "));
    CHECK(!file_exists(file.dest));
    CHECK(!file_exists(file.part));

    /* The same URL with private hosts allowed; then a host the globs do not match. */
    dr_fetch_policy_free(&policy);
    CHECK_INT(DR_OK, dr_fetch_policy_init(&policy, "http", "127.0.0.*", 1, &err));
    CHECK_INT(DR_OK, dr_fetch_to_file(file.url, file.dest, file.sha, &opt, &report, &err));
    CHECK(file_equals(file.dest, file.bytes, FILE_SIZE));
    dr_fetch_policy_free(&policy);
    CHECK_INT(DR_OK, dr_fetch_policy_init(&policy, "http", "*.example", 1, &err));
    CHECK_INT(DR_ERR_FETCH_REFUSED, dr_fetch_to_file(file.url, file.dest, NULL, &opt, &report, &err));
    CHECK_CONTAINS("host 127.0.0.1 matches nothing in fetch-hosts (*.example)", err.detail);

    /* A local file is scheme file, allowed only when named. */
    char file_url[700];
    snprintf(file_url, sizeof file_url, "file://%s/refused.bin", root_dir);
    CHECK_INT(DR_ERR_FETCH_REFUSED, dr_fetch_to_file(file_url, file.dest, NULL, &opt, &report, &err));
    CHECK_CONTAINS("scheme file is not in fetch-schemes (http)", err.detail);
    snprintf(file_url, sizeof file_url, "%s/refused.bin", root_dir);
    CHECK_INT(DR_ERR_FETCH_REFUSED, dr_fetch_to_file(file_url, file.dest, NULL, &opt, &report, &err));
    CHECK_CONTAINS("a local path is scheme file", err.detail);
    dr_fetch_policy_free(&policy);
    CHECK_INT(DR_OK, dr_fetch_policy_init(&policy, "file", NULL, 0, &err));
    CHECK_INT(DR_OK, dr_fetch_to_file(file_url, file.dest, file.sha, &opt, &report, &err));
    /* ...and file alone does not let http through. */
    CHECK_INT(DR_ERR_FETCH_REFUSED, dr_fetch_to_file(file.url, file.dest, NULL, &opt, &report, &err));
    CHECK_CONTAINS("scheme http is not in fetch-schemes (file)", err.detail);
    dr_fetch_policy_free(&policy);
    free(file.bytes);
}

static void url_join_puts_exactly_one_slash(void)
{
    const char *cases[][3] = {
        {"http://h/a", "b.zip", "http://h/a/b.zip"},
        {"http://h/a/", "b.zip", "http://h/a/b.zip"},
        {"http://h/a//", "/b.zip", "http://h/a/b.zip"},
        {"/srv/repo", "x/y.zip", "/srv/repo/x/y.zip"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *joined = dr_fetch_url_join(cases[i][0], cases[i][1]);
        CHECK_STR(cases[i][2], joined);
        free(joined);
    }
}

int main(void)
{
    CHECK_INT(DR_OK, dr_fetch_global_init());
    if (!mkdtemp(work_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(root_dir, sizeof root_dir, "%s/root", work_dir);
    snprintf(out_dir, sizeof out_dir, "%s/out", work_dir);
    snprintf(log_path, sizeof log_path, "%s/http.log", work_dir);
    mkdir(root_dir, 0755);
    mkdir(out_dir, 0755);
    if (start_server() != 0) {
        CHECK(!"drover_test_http started");
    } else {
        plain_download_writes_the_exact_bytes_in_one_attempt();
        matching_sha256_is_accepted_in_either_case();
        wrong_sha256_fails_and_leaves_nothing_behind();
        missing_file_is_not_found_without_a_retry();
        connection_cut_half_way_is_resumed_with_a_range_request();
        existing_part_file_is_resumed_and_the_hash_covers_it();
        complete_part_file_is_discarded_and_fetched_again();
        stalled_server_times_out_after_its_attempts();
        total_time_limit_ends_the_download();
        file_over_the_size_limit_is_refused_and_removed();
        file_urls_and_plain_paths_are_read_locally();
        unreachable_server_fails_after_every_attempt();
        bad_arguments_are_usage_errors();
        policy_refuses_a_url_before_any_request();
        url_join_puts_exactly_one_slash();
        if (check_failures)
            dump_server_log();
    }
    stop_server();
    CHECK_INT(DR_OK, dr_remove_tree(work_dir, NULL));
    return check_done("fetch");
}
