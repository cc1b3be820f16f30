#include "aws_credentials.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "strbuf.h"

#define IMDS_CONNECT_MS 1000L
#define IMDS_TOTAL_MS 2000L
#define IMDS_ATTEMPTS 2
#define STS_CONNECT_MS 3000L
#define STS_TOTAL_MS 10000L
#define STS_ATTEMPTS 2
#define IMDS_TOKEN_TTL_SECONDS 21600

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

static int all_chars(const char *s, size_t min, size_t max, int (*allowed)(int))
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= max || !allowed((unsigned char)s[n]))
            return 0;
    return n >= min;
}

static int printable_no_space(int c)
{
    return c > 0x20 && c < 0x7f;
}

static int letter_or_digit(int c)
{
    return isascii(c) && isalnum(c);
}

static int region_char(int c)
{
    return (isascii(c) && (islower(c) || isdigit(c))) || c == '-';
}

int dr_aws_credentials_valid(const char *key_id, const char *secret, const char *token)
{
    return key_id && secret && all_chars(key_id, 1, 128, letter_or_digit) &&
           all_chars(secret, 1, 256, printable_no_space) && (!token || all_chars(token, 1, 8192, printable_no_space));
}

void dr_aws_credentials_free(dr_aws_credentials *creds)
{
    free(creds->access_key_id);
    free(creds->secret_access_key);
    free(creds->session_token);
    memset(creds, 0, sizeof *creds);
}

/* Copies of the three strings into out; 0 when memory ran out (out then empty). */
static int credentials_set(dr_aws_credentials *out, const char *key_id, const char *secret, const char *token)
{
    out->access_key_id = strdup(key_id);
    out->secret_access_key = strdup(secret);
    out->session_token = token ? strdup(token) : NULL;
    if (out->access_key_id && out->secret_access_key && (!token || out->session_token))
        return 1;
    dr_aws_credentials_free(out);
    return 0;
}

int dr_aws_parse_time(const char *text, time_t *out)
{
    struct tm tm = {0};
    int used = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &used) != 6 ||
        used != 19)
        return 0;
    const char *rest = text + used;
    if (*rest == '.') /* a fraction of a second: dropped */
        for (rest++; isdigit((unsigned char)*rest); rest++)
            ;
    if (strcmp(rest, "Z") != 0 || tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return *out != (time_t)-1;
}

/* STS's or IMDS's keys, checked, into out (by source); what is wrong with them is named after service. */
static dr_status temporary_credentials_set(dr_aws_credentials *out, const char *source, const char *service,
                                           const char *key_id, const char *secret, const char *token,
                                           const char *expiration, dr_error *err)
{
    if (!dr_aws_credentials_valid(key_id, secret, token))
        return dr_error_set(err, DR_ERR_FETCH, "%s garbage: a key id, secret or token that is not one AWS issues",
                            service);
    if (!dr_aws_parse_time(expiration, &out->expiration))
        return dr_error_set(err, DR_ERR_FETCH, "%s garbage: Expiration is not a UTC time", service);
    if (!credentials_set(out, key_id, secret, token))
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    out->source = source;
    return DR_OK;
}

/* ---- the shared files ---- */

/*
 * The section a trimmed "[...]" line opens, cut in place; NULL when the line
 * is not one.  A "[" line without its "]" opens a section no name matches
 * (""), so its keys are not taken for the section before it.
 */
static char *section_name(char *line)
{
    char *end = strchr(line, ']');
    if (line[0] != '[')
        return NULL;
    if (!end)
        return "";
    *end = '\0';
    return dr_trim(line + 1);
}

dr_status dr_aws_ini_value(const char *text, const char *section, const char *key, char **value, dr_error *err)
{
    *value = NULL;
    int in_section = 0;
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        char copy[4096];
        size_t len = strcspn(line, "\n");
        if (len >= sizeof copy) /* longer than any key AWS issues: not ours */
            continue;
        memcpy(copy, line, len);
        copy[len] = '\0';
        char *l = dr_trim(copy), *name = section_name(l), *eq = strchr(l, '=');
        if (name) {
            in_section = strcmp(name, section) == 0;
            continue;
        }
        if (!in_section || !eq || l[0] == '#' || l[0] == ';')
            continue;
        *eq = '\0';
        if (strcmp(dr_trim(l), key) != 0)
            continue;
        if (!(*value = strdup(dr_trim(eq + 1))))
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        return DR_OK;
    }
    return DR_OK;
}

/* The file at path (a missing one is empty text) into sb; DR_ERR_FETCH for one that cannot be read or is too long. */
static dr_status read_shared_file(const char *path, dr_strbuf *sb, dr_error *err)
{
    dr_status status = dr_strbuf_read_file(sb, path, DR_AWS_RESPONSE_MAX, DR_ERR_FETCH, err);
    if (status == DR_ERR_FETCH && errno == ENOENT)
        return DR_OK;
    return status;
}

typedef struct shared_files {
    char credentials_path[4096];
    char config_path[4096];
    char profile[256];        /* its name in the credentials file */
    char config_section[272]; /* its section in the config file: "default" or "profile NAME" */
    dr_strbuf credentials;
    dr_strbuf config;
} shared_files;

static dr_status shared_files_read(shared_files *files, dr_error *err)
{
    const char *home = env("HOME") ? env("HOME") : "";
    const char *profile = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
    snprintf(files->profile, sizeof files->profile, "%s", profile);
    snprintf(files->config_section, sizeof files->config_section, "%s%s",
             strcmp(profile, "default") == 0 ? "" : "profile ", profile);
    if (env("AWS_SHARED_CREDENTIALS_FILE"))
        snprintf(files->credentials_path, sizeof files->credentials_path, "%s", env("AWS_SHARED_CREDENTIALS_FILE"));
    else
        snprintf(files->credentials_path, sizeof files->credentials_path, "%s/.aws/credentials", home);
    if (env("AWS_CONFIG_FILE"))
        snprintf(files->config_path, sizeof files->config_path, "%s", env("AWS_CONFIG_FILE"));
    else
        snprintf(files->config_path, sizeof files->config_path, "%s/.aws/config", home);
    dr_status status = read_shared_file(files->credentials_path, &files->credentials, err);
    if (status == DR_OK)
        status = read_shared_file(files->config_path, &files->config, err);
    return status;
}

static void shared_files_free(shared_files *files)
{
    dr_strbuf_free(&files->credentials);
    dr_strbuf_free(&files->config);
}

dr_status dr_aws_region(char **out, dr_error *err)
{
    *out = NULL;
    const char *region = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
    if (region)
        return (*out = strdup(region)) ? DR_OK : dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    shared_files files = {.credentials = DR_STRBUF_INIT, .config = DR_STRBUF_INIT};
    dr_error ignored;
    /* An unreadable config file has no region; the credential chain says why it is unreadable. */
    dr_status status = DR_OK;
    if (shared_files_read(&files, &ignored) == DR_OK && files.config.len)
        status = dr_aws_ini_value(files.config.buf, files.config_section, "region", out, err);
    if (*out && !all_chars(*out, 1, 64, printable_no_space)) {
        free(*out);
        *out = NULL;
    }
    shared_files_free(&files);
    return status;
}

/* The source's outcome: credentials, not set up (why appended to the list of what was tried), or failed (err). */
typedef enum source_result { SOURCE_FOUND, SOURCE_ABSENT, SOURCE_FAILED } source_result;

/* The profile's three keys from one shared file's text; SOURCE_ABSENT when it lacks either of the two. */
static source_result keys_from_ini(const char *text, const char *section, const char *path, dr_aws_credentials *out,
                                   dr_error *err)
{
    char *key_id = NULL, *secret = NULL, *token = NULL;
    source_result result = SOURCE_FAILED;
    if (dr_aws_ini_value(text, section, "aws_access_key_id", &key_id, err) != DR_OK ||
        dr_aws_ini_value(text, section, "aws_secret_access_key", &secret, err) != DR_OK ||
        dr_aws_ini_value(text, section, "aws_session_token", &token, err) != DR_OK)
        goto cleanup;
    result = SOURCE_ABSENT;
    if (!key_id || !secret)
        goto cleanup;
    result = SOURCE_FAILED;
    if (!dr_aws_credentials_valid(key_id, secret, token)) {
        dr_error_set(err, DR_ERR_FETCH,
                     "shared files: %s [%s] holds a key id, secret or token that is not one AWS issues", path, section);
        goto cleanup;
    }
    if (!credentials_set(out, key_id, secret, token)) {
        dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    result = SOURCE_FOUND;
cleanup:
    free(key_id);
    free(secret);
    free(token);
    return result;
}

static source_result from_shared_files(dr_aws_credentials *out, dr_strbuf *tried, dr_error *err)
{
    shared_files files = {.credentials = DR_STRBUF_INIT, .config = DR_STRBUF_INIT};
    source_result result = SOURCE_FAILED;
    if (shared_files_read(&files, err) != DR_OK) {
        dr_error_wrap(err, "shared files");
        goto cleanup;
    }
    result = keys_from_ini(files.credentials.len ? files.credentials.buf : "", files.profile, files.credentials_path,
                           out, err);
    if (result == SOURCE_ABSENT)
        result =
            keys_from_ini(files.config.len ? files.config.buf : "", files.config_section, files.config_path, out, err);
    if (result == SOURCE_ABSENT)
        dr_strbuf_printf(tried, "; shared files: neither %s nor %s has profile '%s' with both keys",
                         files.credentials_path, files.config_path, files.profile);
cleanup:
    shared_files_free(&files);
    return result;
}

static source_result from_environment(dr_aws_credentials *out, dr_strbuf *tried, dr_error *err)
{
    const char *key_id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
    if (!key_id || !secret) {
        dr_strbuf_puts(tried, "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
        return SOURCE_ABSENT;
    }
    if (!dr_aws_credentials_valid(key_id, secret, env("AWS_SESSION_TOKEN"))) {
        dr_error_set(
            err, DR_ERR_FETCH,
            "environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is not one AWS issues");
        return SOURCE_FAILED;
    }
    if (!credentials_set(out, key_id, secret, env("AWS_SESSION_TOKEN"))) {
        dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        return SOURCE_FAILED;
    }
    return SOURCE_FOUND;
}

/* ---- HTTP to STS and IMDS ---- */

typedef struct http_call {
    const char *method; /* "GET", "PUT", "POST" */
    const char *url;
    struct curl_slist *headers; /* borrowed */
    const char *body;           /* POST body, or NULL */
    long connect_ms, total_ms;
    int attempts;                   /* a connection that fails or times out is tried again, up to this */
    int no_proxy;                   /* 1: never through a proxy of the environment (IMDS is link-local) */
    long http_code;                 /* out: 0 when no answer came */
    dr_strbuf response;             /* out: at most DR_AWS_RESPONSE_MAX bytes */
    char why[CURL_ERROR_SIZE + 64]; /* out: why no answer came */
} http_call;

static size_t collect_response(char *data, size_t size, size_t count, void *arg)
{
    dr_strbuf *sb = arg;
    size_t n = size * count;
    if (sb->len + n > DR_AWS_RESPONSE_MAX)
        return 0; /* past the bound: the transfer fails with a write error */
    dr_strbuf_append(sb, data, n);
    return sb->failed ? 0 : n;
}

/* The options of one attempt of call; 0 when this libcurl lacks one. */
static int http_setup(CURL *curl, http_call *call, char *curl_error)
{
    int failed = 0;
    failed |= curl_easy_setopt(curl, CURLOPT_URL, call->url) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, call->method) != CURLE_OK;
    if (call->body)
        failed |= curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call->body) != CURLE_OK;
    else if (strcmp(call->method, "PUT") == 0) /* a PUT with an empty body */
        failed |= curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_HTTPHEADER, call->headers) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, call->connect_ms) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, call->total_ms) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    /* No redirects: a credentials answer comes from the endpoint configured, or not at all. */
    failed |= curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    if (call->no_proxy)
        failed |= curl_easy_setopt(curl, CURLOPT_PROXY, "") != CURLE_OK;
    if (env("AWS_CA_BUNDLE")) /* as the SDKs: a private CA for STS (a VPC endpoint behind a proxy) */
        failed |= curl_easy_setopt(curl, CURLOPT_CAINFO, env("AWS_CA_BUNDLE")) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_response) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_WRITEDATA, &call->response) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error) != CURLE_OK;
    return !failed;
}

static CURLcode http_attempt(http_call *call)
{
    char curl_error[CURL_ERROR_SIZE] = "";
    CURL *curl = curl_easy_init();
    CURLcode rc = CURLE_FAILED_INIT;
    dr_strbuf_reset(&call->response);
    call->http_code = 0;
    snprintf(call->why, sizeof call->why, "this libcurl cannot make the request (out of memory, or an option missing)");
    if (!curl || !http_setup(curl, call, curl_error))
        goto cleanup;
    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &call->http_code);
    else if (rc == CURLE_WRITE_ERROR)
        snprintf(call->why, sizeof call->why, "the answer is longer than %d bytes", DR_AWS_RESPONSE_MAX);
    else
        snprintf(call->why, sizeof call->why, "%s", curl_error[0] ? curl_error : curl_easy_strerror(rc));
cleanup:
    curl_easy_cleanup(curl);
    return rc;
}

/* One request, tried again when no answer came in time; 0 when none ever came (call->why says why). */
static int http_perform(http_call *call)
{
    for (int attempt = 0; attempt < call->attempts; attempt++) {
        CURLcode rc = http_attempt(call);
        if (rc == CURLE_OK)
            return !call->response.failed;
        if (rc == CURLE_WRITE_ERROR)
            return 0;
    }
    return 0;
}

/* ---- web identity: STS AssumeRoleWithWebIdentity ---- */

/*
 * The text of the one <name>...</name> inside [from, to) into out; 0 when it
 * is missing, appears twice, holds markup or an entity, or does not fit.
 */
static int xml_element(const char *from, const char *to, const char *name, char *out, size_t size)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", name);
    snprintf(close, sizeof close, "</%s>", name);
    const char *start = memmem(from, (size_t)(to - from), open, strlen(open));
    if (!start)
        return 0;
    start += strlen(open);
    const char *end = memmem(start, (size_t)(to - start), close, strlen(close));
    if (!end || memmem(end, (size_t)(to - end), open, strlen(open)))
        return 0;
    size_t len = (size_t)(end - start);
    if (len >= size || memchr(start, '<', len) || memchr(start, '&', len) || memchr(start, '\0', len))
        return 0;
    memcpy(out, start, len);
    out[len] = '\0';
    return 1;
}

/* [*from, *to) narrowed to the inside of the one <name> element; 0 when there is not exactly one. */
static int xml_inside(const char **from, const char **to, const char *name)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", name);
    snprintf(close, sizeof close, "</%s>", name);
    const char *start = memmem(*from, (size_t)(*to - *from), open, strlen(open));
    if (!start)
        return 0;
    start += strlen(open);
    const char *end = memmem(start, (size_t)(*to - start), close, strlen(close));
    if (!end || memmem(start, (size_t)(end - start), open, strlen(open)) ||
        memmem(end, (size_t)(*to - end), open, strlen(open)))
        return 0;
    *from = start;
    *to = end;
    return 1;
}

static const char sts_response_end[] = "</AssumeRoleWithWebIdentityResponse>";

dr_status dr_aws_parse_sts_response(const char *xml, size_t len, dr_aws_credentials *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    const char *from = xml, *to = xml + len;
    char *key_id = malloc(129), *secret = malloc(257), *token = malloc(8193), expiration[64];
    dr_status status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    if (!key_id || !secret || !token)
        goto cleanup;
    status = dr_error_set(err, DR_ERR_FETCH, "STS AssumeRoleWithWebIdentity garbage: no <Credentials> element");
    if (!xml_inside(&from, &to, "AssumeRoleWithWebIdentityResult") ||
        !memmem(to, (size_t)(xml + len - to), sts_response_end, sizeof sts_response_end - 1) ||
        !xml_inside(&from, &to, "Credentials"))
        goto cleanup; /* not all of the answer: cut short, or not one at all */
    status = dr_error_set(err, DR_ERR_FETCH,
                          "STS AssumeRoleWithWebIdentity garbage: <Credentials> lacks one of AccessKeyId, "
                          "SecretAccessKey, SessionToken, Expiration, or holds one twice or with markup");
    if (!xml_element(from, to, "AccessKeyId", key_id, 129) || !xml_element(from, to, "SecretAccessKey", secret, 257) ||
        !xml_element(from, to, "SessionToken", token, 8193) ||
        !xml_element(from, to, "Expiration", expiration, sizeof expiration))
        goto cleanup;
    status = temporary_credentials_set(out, "web identity", "STS AssumeRoleWithWebIdentity", key_id, secret, token,
                                       expiration, err);
cleanup:
    free(key_id);
    free(secret);
    free(token);
    if (status != DR_OK)
        dr_aws_credentials_free(out);
    return status;
}

void dr_aws_sts_error_code(const char *xml, size_t len, char *code, size_t size)
{
    const char *from = xml, *to = xml + len;
    char found[65];
    code[0] = '\0';
    if (xml_inside(&from, &to, "Error") && xml_element(from, to, "Code", found, sizeof found) &&
        all_chars(found, 1, 64, letter_or_digit))
        snprintf(code, size, "%s", found);
}

/* The body of the AssumeRoleWithWebIdentity POST, malloc'd; NULL when memory ran out. */
static char *sts_request_body(CURL *curl, const char *role_arn, const char *session, const char *token)
{
    char *arn = curl_easy_escape(curl, role_arn, 0), *name = curl_easy_escape(curl, session, 0),
         *jwt = curl_easy_escape(curl, token, 0), *body = NULL;
    if (arn && name && jwt &&
        asprintf(&body,
                 "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=%s&RoleSessionName=%s"
                 "&WebIdentityToken=%s",
                 arn, name, jwt) < 0)
        body = NULL;
    curl_free(arn);
    curl_free(name);
    curl_free(jwt);
    return body;
}

/* The STS endpoint: AWS_ENDPOINT_URL_STS, else the region's, else the global one; malloc'd. */
static char *sts_endpoint(void)
{
    char *region = NULL, *url = NULL;
    dr_error ignored;
    if (env("AWS_ENDPOINT_URL_STS"))
        return strdup(env("AWS_ENDPOINT_URL_STS"));
    if (dr_aws_region(&region, &ignored) == DR_OK && region && all_chars(region, 1, 64, region_char)) {
        if (asprintf(&url, "https://sts.%s.amazonaws.com", region) < 0)
            url = NULL;
    } else
        url = strdup("https://sts.amazonaws.com");
    free(region);
    return url;
}

/* The web identity token file's text, trimmed, into *token (malloc'd). */
static dr_status read_web_identity_token(const char *path, char **token, dr_error *err)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    *token = NULL;
    dr_status status = dr_strbuf_read_file(&sb, path, DR_AWS_RESPONSE_MAX, DR_ERR_FETCH, err);
    if (status != DR_OK) {
        dr_error_wrap(err, "web identity: AWS_WEB_IDENTITY_TOKEN_FILE");
        goto cleanup;
    }
    /* A NUL would cut the token short where dr_trim stops: refused, not quietly shortened. */
    int has_nul = sb.len && memchr(sb.buf, '\0', sb.len) != NULL;
    char *text = sb.len ? dr_trim(sb.buf) : "";
    status = dr_error_set(err, DR_ERR_FETCH, "web identity: %s is empty or not a token (printable ASCII)", path);
    if (has_nul || !all_chars(text, 1, DR_AWS_RESPONSE_MAX, printable_no_space))
        goto cleanup;
    status = (*token = strdup(text)) ? DR_OK : dr_error_set(err, DR_ERR_NOMEM, "out of memory");
cleanup:
    dr_strbuf_free(&sb);
    return status;
}

/* What STS said in an answer that is not 200, into err. */
static dr_status sts_refused(const http_call *call, dr_error *err)
{
    char code[65];
    dr_aws_sts_error_code(call->response.buf ? call->response.buf : "", call->response.len, code, sizeof code);
    return dr_error_set(err, DR_ERR_FETCH, "STS AssumeRoleWithWebIdentity at %s: HTTP %ld: %s", call->url,
                        call->http_code, code[0] ? code : "no error code");
}

static source_result from_web_identity(dr_aws_credentials *out, dr_strbuf *tried, dr_error *err)
{
    const char *token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE"), *role_arn = env("AWS_ROLE_ARN");
    if (!token_file || !role_arn) {
        dr_strbuf_puts(tried, "; web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not both set");
        return SOURCE_ABSENT;
    }
    http_call call = {
        .method = "POST", .connect_ms = STS_CONNECT_MS, .total_ms = STS_TOTAL_MS, .attempts = STS_ATTEMPTS};
    char *token = NULL, *endpoint = NULL, *body = NULL;
    CURL *escaper = NULL;
    source_result result = SOURCE_FAILED;
    if (read_web_identity_token(token_file, &token, err) != DR_OK)
        goto cleanup;
    const char *session = env("AWS_ROLE_SESSION_NAME") ? env("AWS_ROLE_SESSION_NAME") : "drover";
    if (!(escaper = curl_easy_init()) || !(endpoint = sts_endpoint()) ||
        !(body = sts_request_body(escaper, role_arn, session, token)) ||
        !(call.headers = curl_slist_append(NULL, "Accept: application/xml"))) {
        dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    call.url = endpoint;
    call.body = body;
    if (!http_perform(&call)) {
        dr_error_set(err, DR_ERR_FETCH, "STS AssumeRoleWithWebIdentity at %s: %s", endpoint, call.why);
        goto cleanup;
    }
    if (call.http_code != 200) {
        sts_refused(&call, err);
        goto cleanup;
    }
    if (dr_aws_parse_sts_response(call.response.buf ? call.response.buf : "", call.response.len, out, err) != DR_OK)
        goto cleanup;
    result = SOURCE_FOUND;
cleanup:
    curl_slist_free_all(call.headers);
    dr_strbuf_free(&call.response);
    curl_easy_cleanup(escaper);
    free(token);
    free(endpoint);
    free(body);
    return result;
}

/* ---- instance metadata, IMDSv2 ---- */

dr_status dr_aws_parse_imds_credentials(const char *json, size_t len, dr_aws_credentials *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t parse_error;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &parse_error);
    const char *code = NULL, *key_id = NULL, *secret = NULL, *token = NULL, *expiration = NULL;
    dr_status status = dr_error_set(err, DR_ERR_FETCH, "IMDS garbage: not JSON");
    if (!root)
        goto cleanup;
    status = dr_error_set(err, DR_ERR_FETCH,
                          "IMDS garbage: not an object with string Code, AccessKeyId, SecretAccessKey, Token and "
                          "Expiration");
    if (json_unpack(root, "{s:s, s:s, s:s, s:s, s:s}", "Code", &code, "AccessKeyId", &key_id, "SecretAccessKey",
                    &secret, "Token", &token, "Expiration", &expiration) != 0)
        goto cleanup;
    status = dr_error_set(err, DR_ERR_FETCH, "IMDS: the role's Code is not Success");
    if (strcmp(code, "Success") != 0)
        goto cleanup;
    status = temporary_credentials_set(out, "IMDS", "IMDS", key_id, secret, token, expiration, err);
cleanup:
    json_decref(root);
    if (status != DR_OK)
        dr_aws_credentials_free(out);
    return status;
}

typedef struct imds {
    const char *endpoint; /* without a trailing '/' */
    char token_header[1100];
} imds;

/* One IMDS request of path; 0 with err set when no answer came. */
static int imds_request(imds *md, http_call *call, const char *method, const char *path, const char *header,
                        dr_error *err)
{
    char url[4400];
    int ok = 0;
    snprintf(url, sizeof url, "%s%s", md->endpoint, path);
    *call = (http_call){.method = method,
                        .url = url,
                        .connect_ms = IMDS_CONNECT_MS,
                        .total_ms = IMDS_TOTAL_MS,
                        .attempts = IMDS_ATTEMPTS,
                        .no_proxy = 1,
                        .response = call->response};
    if (!(call->headers = curl_slist_append(NULL, header))) {
        dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (!http_perform(call)) {
        dr_error_set(err, DR_ERR_FETCH, "IMDS at %s: %s %s: %s", md->endpoint, method, path, call->why);
        goto cleanup;
    }
    ok = 1;
cleanup:
    curl_slist_free_all(call->headers);
    call->headers = NULL;
    call->url = NULL;
    return ok;
}

/* The session token (PUT /latest/api/token) into md->token_header. */
static dr_status imds_session(imds *md, http_call *call, dr_error *err)
{
    char ttl[80];
    snprintf(ttl, sizeof ttl, "X-aws-ec2-metadata-token-ttl-seconds: %d", IMDS_TOKEN_TTL_SECONDS);
    if (!imds_request(md, call, "PUT", "/latest/api/token", ttl, err))
        return err->status;
    if (call->http_code != 200)
        return dr_error_set(err, DR_ERR_FETCH, "IMDS: PUT /latest/api/token: HTTP %ld (IMDSv2 refused)",
                            call->http_code);
    const char *token = call->response.len ? call->response.buf : "";
    if (!all_chars(token, 1, 1024, printable_no_space))
        return dr_error_set(err, DR_ERR_FETCH, "IMDS garbage: the session token is not 1-1024 printable characters");
    snprintf(md->token_header, sizeof md->token_header, "X-aws-ec2-metadata-token: %s", token);
    return DR_OK;
}

static int role_name_char(int c)
{
    return (isascii(c) && isalnum(c)) || strchr("+=,.@_-", c);
}

/* The role (first line of .../security-credentials/) into role. */
static dr_status imds_role(imds *md, http_call *call, char *role, size_t size, dr_error *err)
{
    const char *path = "/latest/meta-data/iam/security-credentials/";
    if (!imds_request(md, call, "GET", path, md->token_header, err))
        return err->status;
    if (call->http_code == 404)
        return dr_error_set(err, DR_ERR_FETCH, "IMDS: no role attached (HTTP 404 for %s)", path);
    if (call->http_code != 200)
        return dr_error_set(err, DR_ERR_FETCH, "IMDS: GET %s: HTTP %ld", path, call->http_code);
    const char *text = call->response.len ? call->response.buf : "";
    size_t len = strcspn(text, "\r\n");
    if (len == 0)
        return dr_error_set(err, DR_ERR_FETCH, "IMDS: no role attached (empty list)");
    if (len >= size)
        return dr_error_set(err, DR_ERR_FETCH, "IMDS garbage: a role name longer than %zu", size - 1);
    memcpy(role, text, len);
    role[len] = '\0';
    if (!all_chars(role, 1, size, role_name_char))
        return dr_error_set(err, DR_ERR_FETCH, "IMDS garbage: the role name has characters IAM does not allow");
    return DR_OK;
}

static source_result from_imds(dr_aws_credentials *out, dr_strbuf *tried, dr_error *err)
{
    const char *disabled = env("AWS_EC2_METADATA_DISABLED");
    if (disabled && strcasecmp(disabled, "true") == 0) {
        dr_strbuf_puts(tried, "; IMDS: AWS_EC2_METADATA_DISABLED is true");
        return SOURCE_ABSENT;
    }
    char endpoint[1024], role[129], path[256];
    snprintf(endpoint, sizeof endpoint, "%s",
             env("AWS_EC2_METADATA_SERVICE_ENDPOINT") ? env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                                                      : "http://169.254.169.254");
    size_t n = strlen(endpoint);
    if (n && endpoint[n - 1] == '/')
        endpoint[n - 1] = '\0';
    imds md = {.endpoint = endpoint};
    http_call call = {.response = DR_STRBUF_INIT};
    source_result result = SOURCE_FAILED;
    if (imds_session(&md, &call, err) != DR_OK || imds_role(&md, &call, role, sizeof role, err) != DR_OK)
        goto cleanup;
    snprintf(path, sizeof path, "/latest/meta-data/iam/security-credentials/%s", role);
    if (!imds_request(&md, &call, "GET", path, md.token_header, err))
        goto cleanup;
    if (call.http_code != 200) {
        dr_error_set(err, DR_ERR_FETCH, "IMDS: GET the role's credentials: HTTP %ld", call.http_code);
        goto cleanup;
    }
    if (dr_aws_parse_imds_credentials(call.response.buf ? call.response.buf : "", call.response.len, out, err) != DR_OK)
        goto cleanup;
    result = SOURCE_FOUND;
cleanup:
    dr_strbuf_free(&call.response);
    return result;
}

/* ---- the chain and its cache ---- */

/*
 * The STS or IMDS credentials last fetched, and which of the two they came
 * from: a job thread that finds them fresh uses a copy, one that finds them
 * near expiry fetches new ones while holding the lock, so the threads of a
 * worker make one request between them, not one each.
 */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static dr_aws_credentials cache;

void dr_aws_credentials_forget(void)
{
    pthread_mutex_lock(&cache_lock);
    dr_aws_credentials_free(&cache);
    pthread_mutex_unlock(&cache_lock);
}

/* One line per fetch of temporary keys: where from and until when (no key, secret or token, not even in part). */
static void log_new_credentials(const dr_aws_credentials *creds)
{
    char expires[32];
    struct tm tm;
    gmtime_r(&creds->expiration, &tm);
    strftime(expires, sizeof expires, "%Y-%m-%dT%H:%M:%SZ", &tm);
    dr_log(DR_LOG_INFO, "aws.credentials", "source=\"%s\" expires=%s", creds->source, expires);
}

typedef source_result (*source_fetch)(dr_aws_credentials *out, dr_strbuf *tried, dr_error *err);

/* A copy of the kept credentials into out when they came from source and are valid until min_expiry. */
static int cache_copy(const char *source, time_t min_expiry, dr_aws_credentials *out)
{
    if (!cache.source || strcmp(cache.source, source) != 0 || cache.expiration < min_expiry)
        return 0;
    if (!credentials_set(out, cache.access_key_id, cache.secret_access_key, cache.session_token))
        return 0;
    out->expiration = cache.expiration;
    out->source = cache.source;
    return 1;
}

/* An expiring source through the cache (called with cache_lock held). */
static source_result cached_fetch(source_fetch fetch, const char *source, dr_aws_credentials *out, dr_strbuf *tried,
                                  dr_error *err)
{
    time_t now = time(NULL);
    if (cache_copy(source, now + DR_AWS_REFRESH_SECONDS, out))
        return SOURCE_FOUND;
    dr_aws_credentials fresh = {0};
    source_result result = fetch(&fresh, tried, err);
    if (result == SOURCE_FOUND && fresh.expiration <= now) {
        dr_error_set(err, DR_ERR_FETCH, "%s: the credentials handed out have already expired", source);
        dr_aws_credentials_free(&fresh);
        result = SOURCE_FAILED;
    }
    if (result == SOURCE_FOUND) {
        log_new_credentials(&fresh);
        dr_aws_credentials_free(&cache);
        cache = fresh;
        if (!cache_copy(source, 0, out)) {
            dr_error_set(err, DR_ERR_NOMEM, "out of memory");
            result = SOURCE_FAILED;
        }
    } else if (result == SOURCE_FAILED && cache_copy(source, now + 1, out)) {
        result = SOURCE_FOUND; /* the refresh failed, but what we hold still works for now */
    }
    return result;
}

dr_status dr_aws_credentials_get(dr_aws_credentials *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    dr_strbuf tried = DR_STRBUF_INIT;
    dr_error why = {0}; /* the sources' own, so each can read back what it set */
    dr_status status = DR_OK;
    source_result result = from_environment(out, &tried, &why);
    if (result == SOURCE_FOUND)
        out->source = "environment";
    if (result == SOURCE_ABSENT && (result = from_shared_files(out, &tried, &why)) == SOURCE_FOUND)
        out->source = "shared files";
    pthread_mutex_lock(&cache_lock);
    if (result == SOURCE_ABSENT)
        result = cached_fetch(from_web_identity, "web identity", out, &tried, &why);
    int reached_imds = result == SOURCE_ABSENT;
    if (reached_imds)
        result = cached_fetch(from_imds, "IMDS", out, &tried, &why);
    pthread_mutex_unlock(&cache_lock);
    const char *list = tried.failed || !tried.buf ? "every source" : tried.buf;
    if (result == SOURCE_ABSENT)
        status = dr_error_set(err, DR_ERR_FETCH, "no AWS credentials: tried %s", list);
    else if (result == SOURCE_FAILED && reached_imds && why.status == DR_ERR_FETCH)
        /* IMDS is the last resort, tried on any machine: its failure is "none anywhere", with its reason. */
        status = dr_error_set(err, DR_ERR_FETCH, "no AWS credentials: tried %s; %s", list, why.detail);
    else if (result == SOURCE_FAILED)
        status = dr_error_set(err, why.status, "%s", why.detail);
    dr_strbuf_free(&tried);
    return status;
}
