/*
 * drover_test_http - a loopback HTTP/1.1 file server for the tests.
 *
 *   drover_test_http --root DIR [--port-file FILE] [--log FILE] [--bind ADDR]
 *                    [--cut-once NAME] [--stall NAME] [--delay-ms N]
 *                    [--fail-first N] [--tls-cert PEM --tls-key PEM]
 *
 * Serves GET and HEAD of the files under DIR on 127.0.0.1, on a port the
 * kernel picks; the port is the first line on stdout and, written atomically,
 * the content of --port-file.  "Range: bytes=N-" (and N-M) gives 206, or 416
 * when N is past the end.  One connection per request ("Connection: close"),
 * one thread per connection.
 *
 * Faults, for the download tests:
 *   --cut-once NAME  the first GET of /NAME sends the full Content-Length but
 *                    half the body, then closes the connection.
 *   --stall NAME     every GET of /NAME sends half the body, then waits until
 *                    the client gives up.
 *   --delay-ms N     every request waits N ms before it is answered.
 *   --stall-once NAME  as --stall, for the first GET of /NAME only.
 *   --fail-first N   the first N requests are answered 500 (a flapping server).
 *
 * --s3-credentials KEYID:SECRET [--s3-region R]: act as S3 does for a GET:
 * every request must carry an AWS Signature V4 by that key for region R
 * (default us-east-1) and service s3, else 403 (the reason on stderr).
 * Buckets are the root's folders (path-style: /BUCKET/KEY).
 * --s3-session-token TOKEN: the credentials are temporary ones (from STS or
 * IMDS): every request must also carry x-amz-security-token TOKEN, signed.
 *
 * --aws-credentials KEYID:SECRET:TOKEN: be AWS's credential services
 * instead of a file server, handing out those temporary credentials:
 *   STS: POST / with the form Action=AssumeRoleWithWebIdentity,
 *        Version=2011-06-15, RoleArn, RoleSessionName, WebIdentityToken
 *        (--aws-role-arn and --aws-web-identity-token, when given, must
 *        match, else 403 AccessDenied / InvalidIdentityToken);
 *   IMDSv2: PUT /latest/api/token (with X-aws-ec2-metadata-token-ttl-seconds),
 *        then, with X-aws-ec2-metadata-token, GET
 *        /latest/meta-data/iam/security-credentials/ (the role "drover-node")
 *        and GET .../drover-node (the JSON).
 * The credentials expire --aws-expires-in SECONDS (default 3600) after the
 * request.  --aws-fault garbage answers STS and the role's JSON with text
 * that is neither XML nor JSON; refuse answers STS 403 AccessDenied;
 * no-role answers the role list 404.  --delay-ms makes it slow.
 *
 * --bind ADDR: listen on this IPv4 address instead of 127.0.0.1 (an address
 * of the test's own network namespace).
 *
 * --redirect-to BASE: a request for /redirect/REST answers 302 Found with
 * Location BASE/REST (a store sending its client elsewhere).
 *
 * --tls-cert PEM --tls-key PEM: speak HTTPS instead (the chain in PEM is
 * sent).  A client that refuses the certificate logs "TLS - range=- status=0".
 *
 * --log appends "METHOD /path range=<Range header or -> status=<code>
 * bytes=<body bytes>" per request, flushed at once.  The line is written
 * before the last byte of the response leaves, so a client that has its
 * answer always finds the line in the log.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_HEAD_MAX 16384
#define BODY_BLOCK 65536
#define RECV_TIMEOUT_SECONDS 30

static struct {
    const char *root;
    const char *cut_once; /* NAME, without the leading '/' */
    const char *stall_once;
    const char *stall;
    long delay_ms;
    FILE *log;
    const char *s3_key_id; /* --s3-credentials KEYID:SECRET: every request must be signed (SigV4) */
    const char *s3_secret;
    const char *s3_region;
    const char *s3_session_token; /* --s3-session-token TOKEN */
    const char *redirect_to;      /* --redirect-to BASE */
    const char *aws_key_id;       /* --aws-credentials KEYID:SECRET:TOKEN: be STS and IMDS */
    const char *aws_secret;
    const char *aws_token;
    long aws_expires_in;
    const char *aws_fault; /* "", "garbage", "refuse", "no-role" */
    const char *aws_role_arn;
    const char *aws_web_identity_token;
} server;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *tls;              /* set by --tls-cert/--tls-key: every connection speaks TLS */
static atomic_long failures_left; /* --fail-first N */

/* One client connection: plain TCP, or TLS over it. */
typedef struct conn {
    int fd;
    SSL *ssl;
} conn;

static ssize_t conn_send(conn *c, const void *data, size_t len)
{
    if (!c->ssl)
        return send(c->fd, data, len, MSG_NOSIGNAL);
    int n = SSL_write(c->ssl, data, len > INT_MAX ? INT_MAX : (int)len);
    return n > 0 ? n : -1;
}

static ssize_t conn_recv(conn *c, void *buf, size_t size)
{
    if (!c->ssl)
        return recv(c->fd, buf, size, 0);
    int n = SSL_read(c->ssl, buf, size > INT_MAX ? INT_MAX : (int)size);
    if (n > 0)
        return n;
    return SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}
static atomic_int cut_done, stall_done;
static volatile sig_atomic_t stop_requested;

/* What one request asked for and what it was answered, for the log. */
typedef struct request {
    char method[16];
    char path[1024]; /* as sent, before decoding */
    char range[128]; /* the Range header value, or "-" */
    int status;
    uint64_t body_sent;
    int logged;
} request;

static void log_request(request *req)
{
    if (req->logged)
        return;
    req->logged = 1;
    if (!server.log)
        return;
    pthread_mutex_lock(&log_lock);
    fprintf(server.log, "%s %s range=%s status=%d bytes=%" PRIu64 "\n", req->method[0] ? req->method : "-",
            req->path[0] ? req->path : "-", req->range, req->status, req->body_sent);
    fflush(server.log);
    pthread_mutex_unlock(&log_lock);
}

static int send_all(conn *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = conn_send(c, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

/*
 * Read up to the blank line that ends the request head.  Returns its length,
 * 0 when the client left without sending anything (a port probe), or -1.
 */
static int read_request_head(conn *c, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    while (len + 1 < size) {
        ssize_t n = conn_recv(c, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return len == 0 ? 0 : -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return (int)len;
    }
    return -1;
}

/* The next space-delimited word of *cursor into out; 0 when there is none or it is too long. */
static int next_word(const char **cursor, char *out, size_t size)
{
    const char *p = *cursor;
    while (*p == ' ')
        p++;
    size_t len = strcspn(p, " \r\n");
    if (len == 0 || len >= size)
        return 0;
    memcpy(out, p, len);
    out[len] = '\0';
    *cursor = p + len;
    return 1;
}

/* The value of header name (case-insensitive) into out, or 0 when absent. */
static int find_header(const char *head, const char *name, char *out, size_t size)
{
    size_t name_len = strlen(name);
    for (const char *line = strchr(head, '\n'); line; line = strchr(line, '\n')) {
        line++;
        if (strncasecmp(line, name, name_len) != 0 || line[name_len] != ':')
            continue;
        const char *value = line + name_len + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        size_t len = strcspn(value, "\r\n");
        if (len >= size)
            len = size - 1;
        memcpy(out, value, len);
        out[len] = '\0';
        return 1;
    }
    return 0;
}

/* ---- S3: AWS Signature V4, checked as S3 checks it (--s3-credentials) ---- */

static void to_hex(const unsigned char *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", bytes[i]);
}

static void hmac_sha256(const void *key, size_t key_len, const char *data, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out, &len);
}

/* 1 when temporary credentials' token came along, signed, or none is expected (--s3-session-token). */
static int s3_session_token_valid(const char *head, const char *signed_headers, char *why, size_t why_size)
{
    char token[8200], names[520];
    if (!server.s3_session_token)
        return 1;
    if (!find_header(head, "x-amz-security-token", token, sizeof token)) {
        snprintf(why, why_size, "MissingSecurityToken: temporary credentials need x-amz-security-token");
        return 0;
    }
    if (strcmp(token, server.s3_session_token) != 0) {
        snprintf(why, why_size, "InvalidToken: x-amz-security-token is not the one issued");
        return 0;
    }
    snprintf(names, sizeof names, ";%s;", signed_headers);
    if (!strstr(names, ";x-amz-security-token;")) {
        snprintf(why, why_size, "x-amz-security-token is not among the signed headers");
        return 0;
    }
    return 1;
}

/*
 * 1 when the request's Authorization header is a SigV4 signature by
 * server.s3_key_id/secret for server.s3_region and service s3 over this
 * request (method, path as sent, no query, the signed headers' values);
 * why not, into why.
 */
static int s3_signature_valid(const char *head, const char *method, const char *path, char *why, size_t why_size)
{
    char auth[1024], credential[256], signed_headers[512], signature[80], amz_date[32], payload[80];
    if (!find_header(head, "Authorization", auth, sizeof auth)) {
        snprintf(why, why_size, "no Authorization header");
        return 0;
    }
    const char *c = strstr(auth, "Credential="), *h = strstr(auth, "SignedHeaders="), *s = strstr(auth, "Signature=");
    if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0 || !c || !h || !s ||
        sscanf(c, "Credential=%255[^,]", credential) != 1 || sscanf(h, "SignedHeaders=%511[^,]", signed_headers) != 1 ||
        sscanf(s, "Signature=%79[0-9a-f]", signature) != 1 ||
        !find_header(head, "x-amz-date", amz_date, sizeof amz_date)) {
        snprintf(why, why_size, "not a SigV4 Authorization: %s", auth);
        return 0;
    }
    /* Credential=KEYID/DATE/REGION/s3/aws4_request */
    char scope_want[256], date[16];
    snprintf(date, sizeof date, "%.8s", amz_date);
    snprintf(scope_want, sizeof scope_want, "%s/%s/%s/s3/aws4_request", server.s3_key_id, date, server.s3_region);
    if (strcmp(credential, scope_want) != 0) {
        snprintf(why, why_size, "credential %s, want %s", credential, scope_want);
        return 0;
    }
    if (!find_header(head, "x-amz-content-sha256", payload, sizeof payload))
        snprintf(payload, sizeof payload, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* The canonical request. */
    char canonical[8192];
    int len = snprintf(canonical, sizeof canonical, "%s\n%s\n\n", method, path);
    char names[512];
    snprintf(names, sizeof names, "%s", signed_headers);
    char *save = NULL;
    for (char *name = strtok_r(names, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
        char value[1024] = "";
        find_header(head, name, value, sizeof value);
        len += snprintf(canonical + len, sizeof canonical - (size_t)len, "%s:%s\n", name, value);
    }
    snprintf(canonical + len, sizeof canonical - (size_t)len, "\n%s\n%s", signed_headers, payload);
    unsigned char digest[32];
    char digest_hex[65], to_sign[1024], key[300];
    SHA256((const unsigned char *)canonical, strlen(canonical), digest);
    to_hex(digest, 32, digest_hex);
    snprintf(to_sign, sizeof to_sign, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", amz_date, date,
             server.s3_region, digest_hex);
    unsigned char k[32];
    snprintf(key, sizeof key, "AWS4%s", server.s3_secret);
    hmac_sha256(key, strlen(key), date, k);
    hmac_sha256(k, 32, server.s3_region, k);
    hmac_sha256(k, 32, "s3", k);
    hmac_sha256(k, 32, "aws4_request", k);
    hmac_sha256(k, 32, to_sign, k);
    char want[65];
    to_hex(k, 32, want);
    if (strcmp(want, signature) != 0) {
        snprintf(why, why_size, "SignatureDoesNotMatch");
        return 0;
    }
    return s3_session_token_valid(head, signed_headers, why, why_size);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode %XX and drop the query. 0 when the result is not a safe path under root. */
static int decode_path(const char *target, char *out, size_t size)
{
    size_t len = 0;
    if (target[0] != '/')
        return 0;
    for (const char *p = target; *p && *p != '?' && *p != '#'; p++) {
        char c = *p;
        if (c == '%') {
            int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
            if (lo < 0)
                return 0;
            c = (char)(hi * 16 + lo);
            p += 2;
        }
        if (c == '\0' || len + 1 >= size)
            return 0;
        out[len++] = c;
    }
    out[len] = '\0';
    return strstr(out, "..") == NULL;
}

/* "bytes=N-" or "bytes=N-M" into [*first, *last]; 0 for anything else (served whole). */
static int parse_range(const char *value, uint64_t size, uint64_t *first, uint64_t *last)
{
    char *end;
    if (strncmp(value, "bytes=", 6) != 0 || value[6] < '0' || value[6] > '9')
        return 0;
    errno = 0;
    unsigned long long n = strtoull(value + 6, &end, 10);
    if (errno || *end != '-')
        return 0;
    *first = n;
    *last = size ? size - 1 : 0;
    if (end[1] >= '0' && end[1] <= '9') {
        unsigned long long m = strtoull(end + 1, &end, 10);
        if (errno || m < n)
            return 0;
        if (m < *last)
            *last = m;
    }
    return *end == '\0' || *end == '-' ? 1 : 0;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 206:
        return "Partial Content";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 416:
        return "Range Not Satisfiable";
    default:
        return "Internal Server Error";
    }
}

/* A response with a short text body (or none for HEAD). */
static void send_simple(conn *c, request *req, int head_only, const char *extra_header)
{
    char response[2600];
    const char *reason = reason_phrase(req->status);
    size_t body_len = head_only ? 0 : strlen(reason) + 1;
    int len = snprintf(response, sizeof response,
                       "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n"
                       "%sConnection: close\r\n\r\n%s%s",
                       req->status, reason, strlen(reason) + 1, extra_header ? extra_header : "",
                       head_only ? "" : reason, head_only ? "" : "\n");
    req->body_sent = body_len;
    log_request(req);
    send_all(c, response, (size_t)len);
}

/* Wait until the client closes the connection (or the process ends). */
static void wait_for_client_to_leave(conn *c)
{
    char discard[1024];
    for (;;) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            return;
        ssize_t n = conn_recv(c, discard, sizeof discard);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
            return;
    }
}

/*
 * Send bytes [first, first+length) of file, stopping after limit bytes (the
 * cut and stall faults send half).  The log line goes out before the last
 * block so the client cannot see the end of the answer before the line.
 */
static void send_file_body(conn *c, int file, uint64_t first, uint64_t length, uint64_t limit, request *req)
{
    char *block = malloc(BODY_BLOCK);
    if (!block)
        goto cleanup;
    uint64_t to_send = limit < length ? limit : length;
    while (req->body_sent < to_send) {
        size_t want = to_send - req->body_sent > BODY_BLOCK ? BODY_BLOCK : (size_t)(to_send - req->body_sent);
        ssize_t n = pread(file, block, want, (off_t)(first + req->body_sent));
        if (n <= 0)
            goto cleanup;
        if (req->body_sent + (uint64_t)n == to_send && to_send == length) {
            uint64_t sent_before = req->body_sent;
            req->body_sent = to_send;
            log_request(req);
            req->body_sent = sent_before;
        }
        if (send_all(c, block, (size_t)n) != 0)
            goto cleanup;
        req->body_sent += (uint64_t)n;
    }
cleanup:
    free(block);
}

static void serve_file(conn *c, request *req, int head_only, const char *path)
{
    char full[PATH_MAX];
    int file = -1;
    struct stat st;
    if (snprintf(full, sizeof full, "%s%s", server.root, path) >= (int)sizeof full ||
        (file = open(full, O_RDONLY | O_CLOEXEC)) < 0 || fstat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
        req->status = 404;
        send_simple(c, req, head_only, NULL);
        goto cleanup;
    }
    uint64_t size = (uint64_t)st.st_size, first = 0, last = size ? size - 1 : 0;
    int ranged = strcmp(req->range, "-") != 0 && parse_range(req->range, size, &first, &last);
    if (ranged && first >= size) {
        char content_range[64];
        snprintf(content_range, sizeof content_range, "Content-Range: bytes */%" PRIu64 "\r\n", size);
        req->status = 416;
        send_simple(c, req, head_only, content_range);
        goto cleanup;
    }
    uint64_t length = ranged ? last - first + 1 : size;
    char head[512];
    int head_len;
    req->status = ranged ? 206 : 200;
    if (ranged)
        head_len = snprintf(head, sizeof head,
                            "HTTP/1.1 206 Partial Content\r\nContent-Length: %" PRIu64
                            "\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64
                            "\r\nContent-Type: application/octet-stream\r\nAccept-Ranges: bytes"
                            "\r\nConnection: close\r\n\r\n",
                            length, first, last, size);
    else
        head_len = snprintf(head, sizeof head,
                            "HTTP/1.1 200 OK\r\nContent-Length: %" PRIu64
                            "\r\nContent-Type: application/octet-stream\r\nAccept-Ranges: bytes"
                            "\r\nConnection: close\r\n\r\n",
                            length);
    if (head_only || length == 0) {
        log_request(req);
        send_all(c, head, (size_t)head_len);
        goto cleanup;
    }
    const char *name = path + 1;
    int stall = (server.stall && strcmp(name, server.stall) == 0) ||
                (server.stall_once && strcmp(name, server.stall_once) == 0 && atomic_exchange(&stall_done, 1) == 0);
    int cut = !stall && server.cut_once && strcmp(name, server.cut_once) == 0 && atomic_exchange(&cut_done, 1) == 0;
    if (send_all(c, head, (size_t)head_len) != 0) {
        log_request(req);
        goto cleanup;
    }
    send_file_body(c, file, first, length, stall || cut ? length / 2 : length, req);
    log_request(req);
    if (stall)
        wait_for_client_to_leave(c);
cleanup:
    if (file >= 0)
        close(file);
}

/* ---- AWS's credential services: STS and IMDSv2 (--aws-credentials) ---- */

#define IMDS_TOKEN "AQAEAFakeImdsSessionToken=="
#define IMDS_ROLE "drover-node"

/* A response with body (of content_type) and status. */
static void send_body(conn *c, request *req, int status, const char *content_type, const char *body)
{
    char head[256];
    int len = snprintf(head, sizeof head,
                       "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: %s\r\nConnection: close\r\n\r\n", status,
                       reason_phrase(status), strlen(body), content_type);
    req->status = status;
    req->body_sent = strlen(body);
    log_request(req);
    if (send_all(c, head, (size_t)len) == 0)
        send_all(c, body, strlen(body));
}

/*
 * The request body (Content-Length bytes) into body: what came with the head
 * (head holds head_len bytes) and the rest read.  0 when it does not fit or
 * the client leaves early.
 */
static int read_request_body(conn *c, const char *head, int head_len, char *body, size_t size)
{
    char length_text[32];
    const char *end = strstr(head, "\r\n\r\n");
    if (!end || !find_header(head, "Content-Length", length_text, sizeof length_text))
        return 0;
    size_t want = strtoul(length_text, NULL, 10), have = (size_t)(head + head_len - (end + 4));
    if (want >= size || have > want)
        return 0;
    memcpy(body, end + 4, have);
    while (have < want) {
        ssize_t n = conn_recv(c, body + have, want - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        have += (size_t)n;
    }
    body[want] = '\0';
    return 1;
}

/* The %-decoded value of name in an application/x-www-form-urlencoded body, into out; 0 when absent. */
static int form_value(const char *form, const char *name, char *out, size_t size)
{
    size_t name_len = strlen(name);
    for (const char *p = form; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, name_len) != 0 || p[name_len] != '=')
            continue;
        size_t len = 0;
        for (const char *v = p + name_len + 1; *v && *v != '&' && len + 1 < size; v++) {
            int hi = *v == '%' ? hex_value(v[1]) : -1, lo = hi < 0 ? -1 : hex_value(v[2]);
            out[len++] = lo >= 0 ? (char)(hi * 16 + lo) : *v == '+' ? ' ' : *v;
            v += lo >= 0 ? 2 : 0;
        }
        out[len] = '\0';
        return 1;
    }
    return 0;
}

/* When the credentials handed out now expire: "2026-12-05T00:10:00Z". */
static void expiration_time(char *out, size_t size)
{
    time_t when = time(NULL) + server.aws_expires_in;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void sts_error(conn *c, request *req, int status, const char *code)
{
    char body[512];
    snprintf(body, sizeof body,
             "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
             "<Code>%s</Code><Message>refused by the test server</Message></Error>"
             "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>\n",
             code);
    send_body(c, req, status, "text/xml", body);
}

static void serve_sts(conn *c, request *req, const char *head, int head_len)
{
    char form[65536];
    char action[64] = "", version[32] = "", arn[512] = "", session[128] = "", token[8192] = "";
    int ok = read_request_body(c, head, head_len, form, sizeof form) &&
             form_value(form, "Action", action, sizeof action) &&
             form_value(form, "Version", version, sizeof version) && form_value(form, "RoleArn", arn, sizeof arn) &&
             form_value(form, "RoleSessionName", session, sizeof session) &&
             form_value(form, "WebIdentityToken", token, sizeof token);
    if (!ok || strcmp(action, "AssumeRoleWithWebIdentity") != 0 || strcmp(version, "2011-06-15") != 0 || !session[0]) {
        sts_error(c, req, 400, "MissingParameter");
        return;
    }
    if (strcmp(server.aws_fault, "refuse") == 0 || (server.aws_role_arn && strcmp(arn, server.aws_role_arn) != 0)) {
        sts_error(c, req, 403, "AccessDenied");
        return;
    }
    if (server.aws_web_identity_token && strcmp(token, server.aws_web_identity_token) != 0) {
        sts_error(c, req, 400, "InvalidIdentityToken");
        return;
    }
    if (strcmp(server.aws_fault, "garbage") == 0) {
        send_body(c, req, 200, "text/xml", "<html>this is not STS</html>\n");
        return;
    }
    char expiration[32], body[4096];
    expiration_time(expiration, sizeof expiration);
    snprintf(body, sizeof body,
             "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
             "  <AssumeRoleWithWebIdentityResult>\n"
             "    <SubjectFromWebIdentityToken>system:serviceaccount:drover:drover</SubjectFromWebIdentityToken>\n"
             "    <Credentials>\n      <SessionToken>%s</SessionToken>\n      <SecretAccessKey>%s</SecretAccessKey>\n"
             "      <Expiration>%s</Expiration>\n      <AccessKeyId>%s</AccessKeyId>\n    </Credentials>\n"
             "  </AssumeRoleWithWebIdentityResult>\n</AssumeRoleWithWebIdentityResponse>\n",
             server.aws_token, server.aws_secret, expiration, server.aws_key_id);
    send_body(c, req, 200, "text/xml", body);
}

static void serve_imds(conn *c, request *req, const char *head)
{
    char value[256];
    if (strcmp(req->method, "PUT") == 0 && strcmp(req->path, "/latest/api/token") == 0) {
        if (!find_header(head, "X-aws-ec2-metadata-token-ttl-seconds", value, sizeof value) || atoi(value) <= 0) {
            send_body(c, req, 400, "text/plain", "missing X-aws-ec2-metadata-token-ttl-seconds\n");
            return;
        }
        send_body(c, req, 200, "text/plain", IMDS_TOKEN);
        return;
    }
    if (!find_header(head, "X-aws-ec2-metadata-token", value, sizeof value) || strcmp(value, IMDS_TOKEN) != 0) {
        send_body(c, req, 401, "text/plain", "IMDSv2 session token missing or wrong\n");
        return;
    }
    if (strcmp(req->method, "GET") != 0) {
        send_body(c, req, 405, "text/plain", "GET only\n");
        return;
    }
    if (strcmp(req->path, "/latest/meta-data/iam/security-credentials/") == 0) {
        int no_role = strcmp(server.aws_fault, "no-role") == 0;
        send_body(c, req, no_role ? 404 : 200, "text/plain", no_role ? "Not Found\n" : IMDS_ROLE);
        return;
    }
    if (strcmp(req->path, "/latest/meta-data/iam/security-credentials/" IMDS_ROLE) != 0) {
        send_body(c, req, 404, "text/plain", "Not Found\n");
        return;
    }
    if (strcmp(server.aws_fault, "garbage") == 0) {
        send_body(c, req, 200, "text/plain", "this is not JSON {\n");
        return;
    }
    char expiration[32], body[4096];
    expiration_time(expiration, sizeof expiration);
    snprintf(body, sizeof body,
             "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-01-01T00:00:00Z\",\n"
             "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"%s\",\n  \"SecretAccessKey\" : \"%s\",\n"
             "  \"Token\" : \"%s\",\n  \"Expiration\" : \"%s\"\n}",
             server.aws_key_id, server.aws_secret, server.aws_token, expiration);
    send_body(c, req, 200, "application/json", body);
}

static void serve_connection(conn *c)
{
    char head[REQUEST_HEAD_MAX];
    char path[1024];
    request req = {.range = "-"};
    int head_len = read_request_head(c, head, sizeof head);
    if (head_len == 0)
        return;
    if (head_len < 0) {
        req.status = 400;
        send_simple(c, &req, 0, NULL);
        return;
    }
    const char *cursor = head;
    char version[16];
    int well_formed = next_word(&cursor, req.method, sizeof req.method) &&
                      next_word(&cursor, req.path, sizeof req.path) && next_word(&cursor, version, sizeof version) &&
                      strncmp(version, "HTTP/1.", 7) == 0;
    find_header(head, "Range", req.range, sizeof req.range);
    if (server.delay_ms > 0)
        sleep_ms(server.delay_ms);
    if (!well_formed) {
        req.status = 400;
        send_simple(c, &req, 0, NULL);
        return;
    }
    if (server.aws_key_id && strncmp(req.path, "/latest/", 8) == 0) {
        serve_imds(c, &req, head);
        return;
    }
    if (server.aws_key_id && strcmp(req.method, "POST") == 0 && strcmp(req.path, "/") == 0) {
        serve_sts(c, &req, head, head_len);
        return;
    }
    int head_only = strcmp(req.method, "HEAD") == 0;
    char why[512];
    if (server.s3_key_id && !s3_signature_valid(head, req.method, req.path, why, sizeof why)) {
        req.status = 403;
        fprintf(stderr, "drover_test_http: %s %s refused: %s\n", req.method, req.path, why);
        send_simple(c, &req, head_only, NULL);
        return;
    }
    if (atomic_fetch_sub(&failures_left, 1) > 0) {
        req.status = 500;
        send_simple(c, &req, head_only, NULL);
        return;
    }
    if (!head_only && strcmp(req.method, "GET") != 0) {
        req.status = 405;
        send_simple(c, &req, 0, "Allow: GET, HEAD\r\n");
        return;
    }
    if (server.redirect_to && strncmp(req.path, "/redirect/", 10) == 0) {
        char location[2048];
        snprintf(location, sizeof location, "Location: %s/%s\r\n", server.redirect_to, req.path + 10);
        req.status = 302;
        send_simple(c, &req, head_only, location);
        return;
    }
    if (!decode_path(req.path, path, sizeof path)) {
        req.status = 403;
        send_simple(c, &req, head_only, NULL);
        return;
    }
    serve_file(c, &req, head_only, path);
}

static void *connection_thread(void *arg)
{
    conn c = {.fd = (int)(intptr_t)arg};
    struct timeval timeout = {.tv_sec = RECV_TIMEOUT_SECONDS};
    setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (tls) {
        /* A client that refuses the certificate ends the handshake: logged as such, nothing served. */
        if (!(c.ssl = SSL_new(tls)) || SSL_set_fd(c.ssl, c.fd) != 1 || SSL_accept(c.ssl) != 1) {
            request req = {.method = "TLS", .path = "-", .range = "-", .status = 0};
            log_request(&req);
            goto done;
        }
    }
    serve_connection(&c);
    if (c.ssl)
        SSL_shutdown(c.ssl);
done:
    SSL_free(c.ssl);
    close(c.fd);
    return NULL;
}

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Write the port to path through a temporary file, so a reader never sees it half-written. */
static int write_port_file(const char *path, int port)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%d\n", port) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: drover_test_http --root DIR [--port-file FILE] [--log FILE] "
            "[--cut-once NAME] [--stall NAME] [--stall-once NAME] [--delay-ms N] [--fail-first N] "
            "[--bind ADDR] [--redirect-to BASE] [--tls-cert PEM --tls-key PEM] "
            "[--s3-credentials KEYID:SECRET [--s3-region R] [--s3-session-token TOKEN]] "
            "[--aws-credentials KEYID:SECRET:TOKEN [--aws-expires-in SECONDS] [--aws-fault garbage|refuse|no-role] "
            "[--aws-role-arn ARN] [--aws-web-identity-token TOKEN]]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *port_file = NULL, *log_path = NULL, *tls_cert = NULL, *tls_key = NULL, *bind_address = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (i + 1 >= argc)
            return usage();
        const char *value = argv[++i];
        if (strcmp(flag, "--root") == 0)
            server.root = value;
        else if (strcmp(flag, "--port-file") == 0)
            port_file = value;
        else if (strcmp(flag, "--log") == 0)
            log_path = value;
        else if (strcmp(flag, "--cut-once") == 0)
            server.cut_once = value[0] == '/' ? value + 1 : value;
        else if (strcmp(flag, "--stall-once") == 0)
            server.stall_once = value[0] == '/' ? value + 1 : value;
        else if (strcmp(flag, "--stall") == 0)
            server.stall = value[0] == '/' ? value + 1 : value;
        else if (strcmp(flag, "--delay-ms") == 0)
            server.delay_ms = atol(value);
        else if (strcmp(flag, "--fail-first") == 0)
            atomic_store(&failures_left, atol(value));
        else if (strcmp(flag, "--s3-credentials") == 0 && strchr(value, ':')) {
            char *copy = strdup(value);
            *strchr(copy, ':') = '\0';
            server.s3_key_id = copy;
            server.s3_secret = copy + strlen(copy) + 1;
        } else if (strcmp(flag, "--s3-session-token") == 0)
            server.s3_session_token = value;
        else if (strcmp(flag, "--aws-credentials") == 0 && strchr(value, ':') && strchr(strchr(value, ':') + 1, ':')) {
            char *copy = strdup(value), *secret = strchr(copy, ':') + 1, *token = strchr(secret, ':') + 1;
            secret[-1] = token[-1] = '\0';
            server.aws_key_id = copy;
            server.aws_secret = secret;
            server.aws_token = token;
        } else if (strcmp(flag, "--aws-expires-in") == 0)
            server.aws_expires_in = atol(value);
        else if (strcmp(flag, "--aws-fault") == 0)
            server.aws_fault = value;
        else if (strcmp(flag, "--aws-role-arn") == 0)
            server.aws_role_arn = value;
        else if (strcmp(flag, "--aws-web-identity-token") == 0)
            server.aws_web_identity_token = value;
        else if (strcmp(flag, "--s3-region") == 0)
            server.s3_region = value;
        else if (strcmp(flag, "--bind") == 0)
            bind_address = value;
        else if (strcmp(flag, "--redirect-to") == 0)
            server.redirect_to = value;
        else if (strcmp(flag, "--tls-cert") == 0)
            tls_cert = value;
        else if (strcmp(flag, "--tls-key") == 0)
            tls_key = value;
        else
            return usage();
    }
    if (!server.root || !tls_cert != !tls_key)
        return usage();
    if (!server.s3_region)
        server.s3_region = "us-east-1";
    if (!server.aws_fault)
        server.aws_fault = "";
    if (server.aws_expires_in == 0)
        server.aws_expires_in = 3600;
    if (tls_cert &&
        (!(tls = SSL_CTX_new(TLS_server_method())) || SSL_CTX_use_certificate_chain_file(tls, tls_cert) != 1 ||
         SSL_CTX_use_PrivateKey_file(tls, tls_key, SSL_FILETYPE_PEM) != 1)) {
        fprintf(stderr, "drover_test_http: cannot load %s and %s\n", tls_cert, tls_key);
        return 1;
    }
    if (log_path && !(server.log = fopen(log_path, "ae"))) {
        fprintf(stderr, "drover_test_http: cannot open log %s: %s\n", log_path, strerror(errno));
        return 1;
    }

    /* Stop signals are blocked everywhere except inside ppoll() in this thread. */
    sigset_t stop_signals, waiting_mask;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &waiting_mask);
    sigdelset(&waiting_mask, SIGTERM);
    sigdelset(&waiting_mask, SIGINT);
    struct sigaction action = {.sa_handler = on_stop_signal};
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    signal(SIGPIPE, SIG_IGN);

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t addr_len = sizeof addr;
    if (inet_pton(AF_INET, bind_address, &addr.sin_addr) != 1)
        return usage();
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 128) != 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &addr_len) != 0) {
        fprintf(stderr, "drover_test_http: cannot listen on %s: %s\n", bind_address, strerror(errno));
        return 1;
    }
    int port = ntohs(addr.sin_port);
    printf("%d\n", port);
    fflush(stdout);
    if (port_file && write_port_file(port_file, port) != 0) {
        fprintf(stderr, "drover_test_http: cannot write %s: %s\n", port_file, strerror(errno));
        return 1;
    }

    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    while (!stop_requested) {
        struct pollfd pfd = {.fd = listener, .events = POLLIN};
        if (ppoll(&pfd, 1, NULL, &waiting_mask) <= 0)
            continue;
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        pthread_t thread;
        if (pthread_create(&thread, &detached, connection_thread, (void *)(intptr_t)fd) != 0)
            close(fd);
    }

    /*
     * Connection threads may be mid-request (a stalled one never ends): leave
     * them to the process exit, but not while one holds the log.
     */
    close(listener);
    pthread_mutex_lock(&log_lock);
    if (server.log)
        fflush(server.log);
    fflush(stdout);
    _exit(0);
}
