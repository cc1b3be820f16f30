/*
 * fetch.c - download a URL into "<dest>.part" with libcurl, verify, rename.
 *
 * One dr_fetch_to_file() call is one fetch_job.  Each attempt reopens the
 * ".part", hashes what is already there and asks for the rest, so the hash
 * always covers the whole file however many attempts it took.  An attempt ends
 * in one of four ways (attempt_result): the body is complete, a transient
 * failure worth retrying after a backoff, a ".part" the server will not
 * continue (start again from zero at once), or a final error.
 */
#include "fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "files.h"
#include "log.h"
#include "s3.h"
#include "sha256.h"

#define BACKOFF_CAP_MS 10000L
#define MAX_REDIRECTS 5L
#define LAST_FAILURE_MAX 512

void dr_fetch_options_default(dr_fetch_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->max_bytes = UINT64_C(1) << 30;
    opt->timeout_seconds = 600;
    opt->stall_seconds = 30;
    opt->max_attempts = 5;
    opt->backoff_initial_ms = 200;
}

dr_status dr_fetch_global_init(void)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc == CURLE_OK)
        return DR_OK;
    return rc == CURLE_OUT_OF_MEMORY ? DR_ERR_NOMEM : DR_ERR_FETCH;
}

char *dr_fetch_url_join(const char *base, const char *name)
{
    if (!base)
        base = "";
    if (!name)
        name = "";
    size_t base_len = strlen(base);
    while (base_len > 0 && base[base_len - 1] == '/')
        base_len--;
    while (*name == '/')
        name++;
    size_t name_len = strlen(name);
    char *joined = malloc(base_len + 1 + name_len + 1);
    if (!joined)
        return NULL;
    memcpy(joined, base, base_len);
    joined[base_len] = '/';
    memcpy(joined + base_len + 1, name, name_len + 1);
    return joined;
}

/* ---- the pieces of one download ---------------------------------------- */

/* Why the write callback refused a block (it returns 0, curl says WRITE_ERROR). */
typedef enum write_stop {
    WRITE_STOP_NONE,
    WRITE_STOP_HTTP_ERROR, /* a 4xx/5xx body: not content, not worth storing */
    WRITE_STOP_TOO_LARGE,
    WRITE_STOP_IO,
    WRITE_STOP_NOMEM,
    WRITE_STOP_STALLED, /* set by the progress callback, not the write callback */
} write_stop;

/* The open ".part" of one attempt and the hash of everything in it. */
typedef struct part_file {
    int fd;                /* -1 when closed */
    dr_sha256 *hash;       /* owned; covers bytes [0, size) of the file */
    uint64_t size;         /* bytes in the file so far */
    uint64_t resumed_from; /* size when this attempt began */
    uint64_t max_bytes;    /* 0: no limit */
    CURL *curl;            /* borrowed, to read the status on the first block */
    long stall_ms;         /* 0: no stall watchdog */
    int64_t last_data_ms;  /* monotonic time the last body bytes arrived */
    int status_checked;
    int restarted_from_zero; /* the server answered 200 to our Range: we truncated */
    write_stop stop;
    int stop_errno;
} part_file;

typedef enum attempt_result {
    ATTEMPT_DONE,    /* the whole body is in the .part */
    ATTEMPT_RETRY,   /* transient failure: back off, then resume */
    ATTEMPT_RESTART, /* the .part cannot be continued: delete it and start over */
    ATTEMPT_FINAL,   /* give up; the status and detail are set */
} attempt_result;

typedef struct fetch_job {
    const char *url;            /* as the caller gave it, for messages */
    char *curl_url;             /* owned; a plain path turned into a file:// URL, an s3:// one into https:// */
    dr_s3_request s3;           /* owned; for an s3:// URL, how to sign the request */
    struct curl_slist *headers; /* owned */
    const char *dest_path;
    char *part_path; /* owned; dest_path + ".part" */
    const char *expected_sha256;
    const dr_fetch_options *opt;
    dr_fetch_report *report;
    CURL *curl; /* owned; reused so retries can reuse the connection */
    char curl_error[CURL_ERROR_SIZE];
    part_file part;
    int64_t deadline_ms; /* monotonic; 0: none */
    unsigned jitter_seed;
    int last_was_stall;
    /* "HTTP 503", "curl error 7: ...": quoted by the final error. */
    char last_failure[LAST_FAILURE_MAX];
    /* Set by a callback that refused a redirect or an address (opt->policy); ends the download. */
    dr_error refused;
} fetch_job;

static void sleep_ms(int64_t ms)
{
    struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

static int deadline_passed(const fetch_job *job)
{
    return job->deadline_ms && dr_monotonic_ms() >= job->deadline_ms;
}

static int has_url_scheme(const char *text)
{
    if (!isalpha((unsigned char)text[0]))
        return 0;
    const char *p = text + 1;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return strncmp(p, "://", 3) == 0;
}

/*
 * A plain path becomes an absolute file:// URL.  curl decodes %XX in file
 * URLs, so every byte outside the unreserved set is encoded: a file named
 * "a%20b" or "x y" must reach open() unchanged.
 */
static char *file_url_from_path(const char *path)
{
    char *absolute = NULL, *url = NULL;
    if (path[0] == '/') {
        absolute = strdup(path);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (cwd)
            absolute = dr_fetch_url_join(cwd, path);
        free(cwd);
    }
    if (!absolute)
        goto cleanup;
    size_t len = strlen(absolute);
    url = malloc(strlen("file://") + 3 * len + 1);
    if (!url)
        goto cleanup;
    char *out = url + sprintf(url, "file://");
    for (const unsigned char *p = (const unsigned char *)absolute; *p; p++) {
        if (isalnum(*p) || strchr("/-._~", *p))
            *out++ = (char)*p;
        else
            out += sprintf(out, "%%%02X", *p);
    }
    *out = '\0';
cleanup:
    free(absolute);
    return url;
}

/*
 * curl reads a directory named by a file:// URL as an empty file, which
 * would "succeed"; only a regular file is a download.  A missing file is left
 * to curl, which reports it as not found.
 */
static dr_status check_local_source(fetch_job *job, dr_error *err)
{
    dr_status status = DR_OK;
    char *scheme = NULL, *path = NULL;
    struct stat st;
    CURLU *parsed = curl_url();
    if (!parsed) {
        status = dr_error_set(err, DR_ERR_NOMEM, "fetching %s: out of memory", job->url);
        goto cleanup;
    }
    /* A URL curl cannot parse is reported by curl_easy_perform() with the others. */
    if (curl_url_set(parsed, CURLUPART_URL, job->curl_url, 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || strcasecmp(scheme, "file") != 0 ||
        curl_url_get(parsed, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK)
        goto cleanup;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        status = dr_error_set(err, DR_ERR_FETCH, "fetching %s: %s is not a regular file", job->url, path);
cleanup:
    curl_free(scheme);
    curl_free(path);
    curl_url_cleanup(parsed);
    return status;
}

/* ---- what may be fetched (fetch_policy.h) ----------------------------- */

/* The refusal: 'refused to fetch "URL": ' (and the redirect it took) before the rule's own detail. */
static dr_status refuse(dr_error *err, const char *url, const char *redirect, const dr_error *rule)
{
    char quoted_url[320], quoted_redirect[320];
    dr_quote(quoted_url, sizeof quoted_url, url);
    if (redirect)
        return dr_error_set(err, DR_ERR_FETCH_REFUSED, "refused to fetch %s: redirected to %s: %s", quoted_url,
                            dr_quote(quoted_redirect, sizeof quoted_redirect, redirect), rule->detail);
    return dr_error_set(err, DR_ERR_FETCH_REFUSED, "refused to fetch %s: %s", quoted_url, rule->detail);
}

dr_status dr_fetch_check_url(const char *url, const dr_fetch_options *opt, dr_error *err)
{
    if (!opt || !opt->policy)
        return DR_OK;
    dr_error rule = {0};
    if (dr_fetch_policy_check_scheme(opt->policy, url, &rule) != DR_OK)
        return refuse(err, url, NULL, &rule);
    if (dr_fetch_scheme_of(url) == DR_FETCH_SCHEME_FILE)
        return DR_OK; /* no host to check */
    /* An s3:// URL is a request to its endpoint: the host rules apply to that. */
    char *request_url = NULL;
    if (dr_s3_is_url(url)) {
        dr_s3_options s3 = {.endpoint = opt->s3_endpoint, .region = opt->s3_region};
        dr_status status = dr_s3_request_url(url, &s3, &request_url, err);
        if (status != DR_OK)
            return status;
    }
    dr_status status = DR_OK;
    if (dr_fetch_policy_check_host(opt->policy, request_url ? request_url : url, &rule) != DR_OK)
        status = refuse(err, url, NULL, &rule);
    free(request_url);
    return status;
}

/* The URL curl is following a redirect to, or NULL on the first request. */
static const char *redirected_to(fetch_job *job)
{
    long redirects = 0;
    char *url = NULL;
    if (curl_easy_getinfo(job->curl, CURLINFO_REDIRECT_COUNT, &redirects) != CURLE_OK || redirects == 0 ||
        curl_easy_getinfo(job->curl, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK)
        return NULL;
    return url;
}

/*
 * Every connection of the download, a redirect's included, is opened here:
 * an address the policy refuses gets no socket, so not a packet goes to it.
 * Refusing one of several addresses of a name lets curl try the next.
 */
static curl_socket_t open_allowed_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *address)
{
    fetch_job *job = userdata;
    (void)purpose;
    dr_error rule = {0};
    if (dr_fetch_policy_check_address(job->opt->policy, &address->addr, &rule) != DR_OK) {
        if (job->refused.status == DR_OK)
            refuse(&job->refused, job->url, redirected_to(job), &rule);
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

/* Before each request: a redirect's URL must pass the rules the first URL passed before the download. */
static int check_redirect(void *userdata, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    fetch_job *job = userdata;
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    const char *redirect = redirected_to(job);
    dr_error rule = {0};
    if (redirect && (dr_fetch_policy_check_scheme(job->opt->policy, redirect, &rule) != DR_OK ||
                     dr_fetch_policy_check_host(job->opt->policy, redirect, &rule) != DR_OK)) {
        refuse(&job->refused, job->url, redirect, &rule);
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

/*
 * The protocols curl may use for the request and for redirects: what the
 * policy allows of file, http and https (an s3:// request: its endpoint's
 * scheme).  Redirects go only to http(s), never into the file system.
 */
static void allowed_protocols(const fetch_job *job, char *request, char *redirect, size_t size)
{
    unsigned allowed = job->opt->policy ? job->opt->policy->schemes
                                        : DR_FETCH_SCHEME_FILE | DR_FETCH_SCHEME_HTTP | DR_FETCH_SCHEME_HTTPS;
    if (job->s3.url)
        allowed = (allowed & (DR_FETCH_SCHEME_HTTP | DR_FETCH_SCHEME_HTTPS)) | dr_fetch_scheme_of(job->s3.url);
    snprintf(request, size, "%s%s%s", allowed & DR_FETCH_SCHEME_FILE && !job->s3.url ? "file," : "",
             allowed & DR_FETCH_SCHEME_HTTP ? "http," : "", allowed & DR_FETCH_SCHEME_HTTPS ? "https," : "");
    snprintf(redirect, size, "%s%s", allowed & DR_FETCH_SCHEME_HTTP ? "http," : "",
             allowed & DR_FETCH_SCHEME_HTTPS ? "https," : "");
    for (char *list = request; list; list = list == request ? redirect : NULL)
        if (list[0])
            list[strlen(list) - 1] = '\0'; /* the last comma */
}

static void part_close(part_file *part)
{
    if (part->fd >= 0)
        close(part->fd);
    part->fd = -1;
    dr_sha256_free(part->hash);
    part->hash = NULL;
}

/* Empty the .part and its hash: the server is sending the file from byte 0. */
static int part_truncate(part_file *part)
{
    if (ftruncate(part->fd, 0) != 0 || lseek(part->fd, 0, SEEK_SET) != 0) {
        part->stop = WRITE_STOP_IO;
        part->stop_errno = errno;
        return -1;
    }
    dr_sha256_free(part->hash);
    part->hash = dr_sha256_new();
    if (!part->hash) {
        part->stop = WRITE_STOP_NOMEM;
        return -1;
    }
    part->size = 0;
    return 0;
}

/*
 * Open (or create) the .part and hash the bytes already in it, leaving the
 * file offset at its end where the next byte from the server goes.
 */
static dr_status part_open(fetch_job *job, dr_error *err)
{
    part_file *part = &job->part;
    char block[65536];
    part->fd = open(job->part_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (part->fd < 0)
        return dr_error_set(err, DR_ERR_IO, "opening %s: %s", job->part_path, strerror(errno));
    part->hash = dr_sha256_new();
    if (!part->hash)
        return dr_error_set(err, DR_ERR_NOMEM, "hashing %s: out of memory", job->part_path);
    for (;;) {
        ssize_t n = read(part->fd, block, sizeof block);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return dr_error_set(err, DR_ERR_IO, "reading %s: %s", job->part_path, strerror(errno));
        if (n == 0)
            break;
        dr_sha256_update(part->hash, block, (size_t)n);
        part->size += (uint64_t)n;
    }
    part->resumed_from = part->size;
    return DR_OK;
}

static size_t write_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    part_file *part = userdata;
    size_t len = size * nmemb;
    if (!part->status_checked) {
        part->status_checked = 1;
        long code = 0;
        curl_easy_getinfo(part->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 400) {
            part->stop = WRITE_STOP_HTTP_ERROR;
            return 0;
        }
        /* We asked for a range and got the whole file: what we have is moot. */
        if (part->resumed_from > 0 && code == 200) {
            if (part_truncate(part) != 0)
                return 0;
            part->restarted_from_zero = 1;
        }
    }
    /* Counted here as well as by CURLOPT_MAXFILESIZE, which trusts Content-Length. */
    if (part->max_bytes && (part->size > part->max_bytes || len > part->max_bytes - part->size)) {
        part->stop = WRITE_STOP_TOO_LARGE;
        return 0;
    }
    if (dr_write_all(part->fd, data, len) != 0) {
        part->stop = WRITE_STOP_IO;
        part->stop_errno = errno;
        return 0;
    }
    dr_sha256_update(part->hash, data, len);
    part->size += len;
    part->last_data_ms = dr_monotonic_ms();
    return len;
}

/*
 * The stall watchdog.  CURLOPT_LOW_SPEED_TIME averages the speed over several
 * seconds, so after a burst of data a dead connection goes unnoticed for up to
 * ~5 s longer than asked; this callback, called about once a second even when
 * nothing arrives, ends the attempt stall_seconds after the last byte.
 */
static int watch_for_stall(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    part_file *part = userdata;
    if (part->stall_ms > 0 && dr_monotonic_ms() - part->last_data_ms >= part->stall_ms) {
        part->stop = WRITE_STOP_STALLED;
        return 1;
    }
    return 0;
}

/* Options that stay the same for every attempt. */
static dr_status curl_setup(fetch_job *job, dr_error *err)
{
    CURL *curl = job->curl;
    int failed = 0;
    /* Signals would hit whichever thread is downloading; curl must not use them. */
    failed |= curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_URL, job->curl_url) != CURLE_OK;
    char protocols[32], redirect_protocols[32];
    allowed_protocols(job, protocols, redirect_protocols, sizeof protocols);
    failed |= curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, protocols) != CURLE_OK;
    /* A web server must not be able to redirect us into the local file system. */
    if (redirect_protocols[0]) {
        failed |= curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, redirect_protocols) != CURLE_OK;
        failed |= curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK;
        failed |= curl_easy_setopt(curl, CURLOPT_MAXREDIRS, MAX_REDIRECTS) != CURLE_OK;
    }
    if (job->opt->policy) {
        failed |= curl_easy_setopt(curl, CURLOPT_PREREQFUNCTION, check_redirect) != CURLE_OK;
        failed |= curl_easy_setopt(curl, CURLOPT_PREREQDATA, job) != CURLE_OK;
    }
    if (job->opt->policy && !job->opt->policy->allow_private) {
        failed |= curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_allowed_socket) != CURLE_OK;
        failed |= curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, job) != CURLE_OK;
    }
    failed |= curl_easy_setopt(curl, CURLOPT_USERAGENT, "drover") != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, job->curl_error) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_WRITEDATA, &job->part) != CURLE_OK;
    if (job->opt->max_bytes)
        failed |= curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)job->opt->max_bytes) != CURLE_OK;
    long stall_seconds = job->opt->stall_seconds;
    if (stall_seconds > 0) {
        failed |= curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK;
        failed |= curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, stall_seconds) != CURLE_OK;
        failed |= curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, watch_for_stall) != CURLE_OK;
        failed |= curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &job->part) != CURLE_OK;
        failed |= curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK;
        /* A connect that hangs is a stall too. */
        failed |= curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, stall_seconds) != CURLE_OK;
    }
    if (job->opt->ca_file)
        failed |= curl_easy_setopt(curl, CURLOPT_CAINFO, job->opt->ca_file) != CURLE_OK;
    if (job->s3.url) {
        failed |= curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, job->s3.sigv4) != CURLE_OK;
        failed |= curl_easy_setopt(curl, CURLOPT_USERPWD, job->s3.userpwd) != CURLE_OK;
        if (job->s3.token_header) {
            struct curl_slist *headers = curl_slist_append(NULL, job->s3.token_header);
            failed |= !headers;
            job->headers = headers;
            failed |= curl_easy_setopt(curl, CURLOPT_HTTPHEADER, job->headers) != CURLE_OK;
        }
    }
    if (failed)
        return dr_error_set(err, DR_ERR_FETCH, "fetching %s: this libcurl lacks a needed option", job->url);
    return DR_OK;
}

static int curl_error_is_transient(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_AGAIN:
        return 1;
    default:
        return 0;
    }
}

/* Describe the latest failure; the final error quotes it. */
static void note_failure(fetch_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_failure(fetch_job *job, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job->last_failure, sizeof job->last_failure, fmt, ap);
    va_end(ap);
}

/* The error that ends the download, naming the URL, the attempts and the last failure. */
static dr_status give_up(fetch_job *job, dr_status status, dr_error *err)
{
    int n = job->report->attempts;
    return dr_error_set(err, status, "fetching %s: %s after %d attempt%s", job->url, job->last_failure, n,
                        n == 1 ? "" : "s");
}

/* What the finished curl_easy_perform() means for the download. */
static attempt_result classify_attempt(fetch_job *job, CURLcode rc, long code, dr_status *final, dr_error *err)
{
    part_file *part = &job->part;
    const char *curl_says = job->curl_error[0] ? job->curl_error : curl_easy_strerror(rc);
    job->last_was_stall = 0;
    /* A redirect or an address the policy refused: nothing to retry (another address may have served it). */
    if (job->refused.status != DR_OK && rc != CURLE_OK) {
        unlink(job->part_path);
        *final = dr_error_set(err, job->refused.status, "%s", job->refused.detail);
        return ATTEMPT_FINAL;
    }
    if (part->stop == WRITE_STOP_IO || part->stop == WRITE_STOP_NOMEM) {
        note_failure(job, "writing %s: %s", job->part_path,
                     part->stop == WRITE_STOP_IO ? strerror(part->stop_errno) : "out of memory");
        *final = give_up(job, part->stop == WRITE_STOP_IO ? DR_ERR_IO : DR_ERR_NOMEM, err);
        return ATTEMPT_FINAL;
    }
    if (part->stop == WRITE_STOP_STALLED) {
        note_failure(job, "stalled: no data for %ld s (at byte %" PRIu64 ")", job->opt->stall_seconds, part->size);
        job->last_was_stall = 1;
        return ATTEMPT_RETRY;
    }
    if (part->stop == WRITE_STOP_TOO_LARGE || rc == CURLE_FILESIZE_EXCEEDED) {
        unlink(job->part_path);
        note_failure(job, "larger than the limit of %" PRIu64 " bytes", job->opt->max_bytes);
        *final = give_up(job, DR_ERR_FETCH_TOO_LARGE, err);
        return ATTEMPT_FINAL;
    }
    if (code >= 400) {
        note_failure(job, "HTTP %ld", code);
        /* Our Range starts at or past the end: the .part is stale or already whole. */
        if (code == 416 && part->resumed_from > 0)
            return ATTEMPT_RESTART;
        if (code >= 500 || code == 408 || code == 429)
            return ATTEMPT_RETRY;
        *final = give_up(job, code == 404 || code == 410 ? DR_ERR_FETCH_NOT_FOUND : DR_ERR_FETCH, err);
        return ATTEMPT_FINAL;
    }
    if (rc == CURLE_OK && (code == 0 || (code >= 200 && code <= 299)))
        return ATTEMPT_DONE;
    if (rc == CURLE_OK) {
        note_failure(job, "unexpected HTTP %ld", code);
        *final = give_up(job, DR_ERR_FETCH, err);
        return ATTEMPT_FINAL;
    }
    note_failure(job, "curl error %d: %s", (int)rc, curl_says);
    /*
     * curl refuses a 200 answer to a Range request before any body arrives
     * (CURLE_RANGE_ERROR); file:// refuses an offset past the end.  Either
     * way the .part cannot be continued.
     */
    if (rc == CURLE_RANGE_ERROR || rc == CURLE_BAD_DOWNLOAD_RESUME ||
        (part->resumed_from > 0 && code == 200 && !part->restarted_from_zero))
        return ATTEMPT_RESTART;
    if (rc == CURLE_FILE_COULDNT_READ_FILE) {
        *final = give_up(job, DR_ERR_FETCH_NOT_FOUND, err);
        return ATTEMPT_FINAL;
    }
    /* Past the deadline the loop reports the time limit; before it, curl saw a stall. */
    if (rc == CURLE_OPERATION_TIMEDOUT && !deadline_passed(job)) {
        note_failure(job, "stalled: curl error %d: %s", (int)rc, curl_says);
        job->last_was_stall = 1;
        return ATTEMPT_RETRY;
    }
    if (curl_error_is_transient(rc))
        return ATTEMPT_RETRY;
    *final = give_up(job, DR_ERR_FETCH, err);
    return ATTEMPT_FINAL;
}

/* One request: resume the .part from where it ends. */
static attempt_result run_attempt(fetch_job *job, dr_status *final, dr_error *err)
{
    part_file *part = &job->part;
    part_close(part);
    *part = (part_file){.fd = -1,
                        .max_bytes = job->opt->max_bytes,
                        .curl = job->curl,
                        .stall_ms = job->opt->stall_seconds * 1000,
                        .last_data_ms = dr_monotonic_ms()};
    *final = part_open(job, err);
    if (*final != DR_OK)
        return ATTEMPT_FINAL;
    if (part->max_bytes && part->size > part->max_bytes) {
        unlink(job->part_path);
        *final = dr_error_set(err, DR_ERR_FETCH_TOO_LARGE,
                              "fetching %s: %s already holds %" PRIu64 " bytes, over the limit of %" PRIu64, job->url,
                              job->part_path, part->size, part->max_bytes);
        return ATTEMPT_FINAL;
    }
    CURLcode rc = curl_easy_setopt(job->curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)part->size);
    long timeout_ms = 0;
    if (job->deadline_ms) {
        int64_t left = job->deadline_ms - dr_monotonic_ms();
        timeout_ms = left > 1 ? (long)left : 1;
    }
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(job->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (rc != CURLE_OK) {
        *final = dr_error_set(err, DR_ERR_FETCH, "fetching %s: setting up curl: %s", job->url, curl_easy_strerror(rc));
        return ATTEMPT_FINAL;
    }
    job->curl_error[0] = '\0';
    dr_error_clear(&job->refused);
    job->report->attempts++;
    job->report->resumed_from = part->resumed_from;
    rc = curl_easy_perform(job->curl);
    long code = 0;
    curl_easy_getinfo(job->curl, CURLINFO_RESPONSE_CODE, &code);
    return classify_attempt(job, rc, code, final, err);
}

/* Exponential backoff with jitter: somewhere in [delay/2, delay], capped. */
static int64_t backoff_ms(fetch_job *job, int retry)
{
    int64_t delay = job->opt->backoff_initial_ms;
    if (delay <= 0)
        return 0;
    for (int i = 1; i < retry && delay < BACKOFF_CAP_MS; i++)
        delay *= 2;
    if (delay > BACKOFF_CAP_MS)
        delay = BACKOFF_CAP_MS;
    return delay / 2 + rand_r(&job->jitter_seed) % (delay / 2 + 1);
}

static dr_status deadline_error(fetch_job *job, dr_error *err)
{
    return dr_error_set(err, DR_ERR_FETCH_TIMEOUT,
                        "fetching %s: passed the %ld s time limit after %d attempt%s (last: %s)", job->url,
                        job->opt->timeout_seconds, job->report->attempts, job->report->attempts == 1 ? "" : "s",
                        job->last_failure[0] ? job->last_failure : "none");
}

/* Attempts until the .part holds the whole body, or a final error. */
static dr_status download_with_retries(fetch_job *job, dr_error *err)
{
    int max_attempts = job->opt->max_attempts > 0 ? job->opt->max_attempts : 1;
    int retries = 0;
    /* One restart from zero is free: it is the .part at fault, not the server. */
    int free_restart = 1;
    for (;;) {
        if (deadline_passed(job))
            return deadline_error(job, err);
        dr_status final = DR_OK;
        attempt_result result = run_attempt(job, &final, err);
        if (result == ATTEMPT_DONE)
            return DR_OK;
        if (result == ATTEMPT_FINAL)
            return final;
        if (result == ATTEMPT_RESTART) {
            part_close(&job->part);
            unlink(job->part_path);
            if (free_restart) {
                free_restart = 0;
                continue;
            }
        }
        if (deadline_passed(job))
            return deadline_error(job, err);
        if (job->report->attempts - (free_restart ? 0 : 1) >= max_attempts)
            return give_up(job, job->last_was_stall ? DR_ERR_FETCH_TIMEOUT : DR_ERR_FETCH, err);
        retries++;
        int64_t delay = backoff_ms(job, retries);
        if (job->deadline_ms) {
            int64_t left = job->deadline_ms - dr_monotonic_ms();
            if (delay > left)
                delay = left > 0 ? left : 0;
        }
        sleep_ms(delay);
    }
}

/* Make the finished .part durable, check its hash, and move it into place. */
static dr_status finish_download(fetch_job *job, dr_error *err)
{
    part_file *part = &job->part;
    char got[DR_SHA256_HEX_SIZE];
    if (fsync(part->fd) != 0)
        return dr_error_set(err, DR_ERR_IO, "fetching %s: syncing %s: %s", job->url, job->part_path, strerror(errno));
    dr_sha256_final_hex(part->hash, got);
    uint64_t size = part->size;
    part_close(part);
    if (job->expected_sha256 && strcasecmp(job->expected_sha256, got) != 0) {
        unlink(job->part_path);
        return dr_error_set(err, DR_ERR_CHECKSUM, "sha256 mismatch for %s: the bytes served do not hash to %s",
                            job->url, job->expected_sha256);
    }
    if (rename(job->part_path, job->dest_path) != 0)
        return dr_error_set(err, DR_ERR_IO, "fetching %s: renaming %s to %s: %s", job->url, job->part_path,
                            job->dest_path, strerror(errno));
    job->report->bytes = size;
    return DR_OK;
}

dr_status dr_fetch_to_file(const char *url, const char *dest_path, const char *expected_sha256,
                           const dr_fetch_options *opt, dr_fetch_report *report, dr_error *err)
{
    dr_fetch_options defaults;
    dr_fetch_report unused_report;
    dr_status status = DR_OK;
    fetch_job job = {.url = url, .dest_path = dest_path, .expected_sha256 = expected_sha256, .part = {.fd = -1}};

    if (!report)
        report = &unused_report;
    memset(report, 0, sizeof *report);
    job.report = report;
    if (!opt) {
        dr_fetch_options_default(&defaults);
        opt = &defaults;
    }
    job.opt = opt;
    if (!url || !*url || !dest_path || !*dest_path) {
        status = dr_error_set(err, DR_ERR_USAGE, "fetch needs a URL and a destination path");
        goto cleanup;
    }
    if (expected_sha256 && !dr_sha256_is_hex(expected_sha256)) {
        status = dr_error_set(err, DR_ERR_USAGE, "fetching %s: '%s' is not a SHA-256 hex digest", url, expected_sha256);
        goto cleanup;
    }
    if ((status = dr_fetch_check_url(url, opt, err)) != DR_OK)
        goto cleanup;
    if ((status = dr_fetch_check_url(url, opt, err)) != DR_OK)
        goto cleanup;
    if (dr_s3_is_url(url)) {
        dr_s3_options s3 = {.endpoint = opt->s3_endpoint, .region = opt->s3_region};
        if ((status = dr_s3_prepare(url, &s3, &job.s3, err)) != DR_OK)
            goto cleanup;
        job.curl_url = strdup(job.s3.url);
    } else {
        job.curl_url = has_url_scheme(url) ? strdup(url) : file_url_from_path(url);
    }
    job.part_path = malloc(strlen(dest_path) + sizeof ".part");
    job.curl = curl_easy_init();
    if (!job.curl_url || !job.part_path || !job.curl) {
        status = dr_error_set(err, DR_ERR_NOMEM, "fetching %s: out of memory", url);
        goto cleanup;
    }
    sprintf(job.part_path, "%s.part", dest_path);
    int64_t start = dr_monotonic_ms();
    if (opt->timeout_seconds > 0)
        job.deadline_ms = start + (int64_t)opt->timeout_seconds * 1000;
    job.jitter_seed = (unsigned)start ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)&job;

    status = check_local_source(&job, err);
    if (status != DR_OK)
        goto cleanup;
    status = curl_setup(&job, err);
    if (status != DR_OK)
        goto cleanup;
    status = download_with_retries(&job, err);
    if (status != DR_OK)
        goto cleanup;
    status = finish_download(&job, err);

cleanup:
    part_close(&job.part);
    if (job.curl)
        curl_easy_cleanup(job.curl);
    curl_slist_free_all(job.headers);
    dr_s3_request_free(&job.s3);
    free(job.curl_url);
    free(job.part_path);
    return status;
}
