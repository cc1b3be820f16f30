#include "aws_credentials.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_credentials_private.h"
#include "aws_imds.h"
#include "aws_sts.h"
#include "log.h"
#include "strbuf.h"

const char *dr_aws_env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

int dr_aws_all_chars(const char *s, size_t min, size_t max, int (*allowed)(int))
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= max || !allowed((unsigned char)s[n]))
            return 0;
    return n >= min;
}

int dr_aws_printable_no_space(int c)
{
    return c > 0x20 && c < 0x7f;
}

int dr_aws_letter_or_digit(int c)
{
    return isascii(c) && isalnum(c);
}

int dr_aws_credentials_valid(const char *key_id, const char *secret, const char *token)
{
    return key_id && secret && dr_aws_all_chars(key_id, 1, 128, dr_aws_letter_or_digit) &&
           dr_aws_all_chars(secret, 1, 256, dr_aws_printable_no_space) &&
           (!token || dr_aws_all_chars(token, 1, 8192, dr_aws_printable_no_space));
}

void dr_aws_credentials_free(dr_aws_credentials *creds)
{
    free(creds->access_key_id);
    free(creds->secret_access_key);
    free(creds->session_token);
    memset(creds, 0, sizeof *creds);
}

int dr_aws_credentials_set(dr_aws_credentials *out, const char *key_id, const char *secret, const char *token)
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

dr_status dr_aws_temporary_credentials_set(dr_aws_credentials *out, const char *source, const char *service,
                                           const char *key_id, const char *secret, const char *token,
                                           const char *expiration, dr_error *err)
{
    if (!dr_aws_credentials_valid(key_id, secret, token))
        return dr_error_set(err, DR_ERR_FETCH, "%s garbage: a key id, secret or token that is not one AWS issues",
                            service);
    if (!dr_aws_parse_time(expiration, &out->expiration))
        return dr_error_set(err, DR_ERR_FETCH, "%s garbage: Expiration is not a UTC time", service);
    if (!dr_aws_credentials_set(out, key_id, secret, token))
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
    const char *home = dr_aws_env("HOME") ? dr_aws_env("HOME") : "";
    const char *profile = dr_aws_env("AWS_PROFILE") ? dr_aws_env("AWS_PROFILE") : "default";
    snprintf(files->profile, sizeof files->profile, "%s", profile);
    snprintf(files->config_section, sizeof files->config_section, "%s%s",
             strcmp(profile, "default") == 0 ? "" : "profile ", profile);
    if (dr_aws_env("AWS_SHARED_CREDENTIALS_FILE"))
        snprintf(files->credentials_path, sizeof files->credentials_path, "%s",
                 dr_aws_env("AWS_SHARED_CREDENTIALS_FILE"));
    else
        snprintf(files->credentials_path, sizeof files->credentials_path, "%s/.aws/credentials", home);
    if (dr_aws_env("AWS_CONFIG_FILE"))
        snprintf(files->config_path, sizeof files->config_path, "%s", dr_aws_env("AWS_CONFIG_FILE"));
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
    const char *region = dr_aws_env("AWS_REGION") ? dr_aws_env("AWS_REGION") : dr_aws_env("AWS_DEFAULT_REGION");
    if (region)
        return (*out = strdup(region)) ? DR_OK : dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    shared_files files = {.credentials = DR_STRBUF_INIT, .config = DR_STRBUF_INIT};
    dr_error ignored;
    /* An unreadable config file has no region; the credential chain says why it is unreadable. */
    dr_status status = DR_OK;
    if (shared_files_read(&files, &ignored) == DR_OK && files.config.len)
        status = dr_aws_ini_value(files.config.buf, files.config_section, "region", out, err);
    if (*out && !dr_aws_all_chars(*out, 1, 64, dr_aws_printable_no_space)) {
        free(*out);
        *out = NULL;
    }
    shared_files_free(&files);
    return status;
}

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
    if (!dr_aws_credentials_set(out, key_id, secret, token)) {
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
    const char *key_id = dr_aws_env("AWS_ACCESS_KEY_ID"), *secret = dr_aws_env("AWS_SECRET_ACCESS_KEY");
    if (!key_id || !secret) {
        dr_strbuf_puts(tried, "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
        return SOURCE_ABSENT;
    }
    if (!dr_aws_credentials_valid(key_id, secret, dr_aws_env("AWS_SESSION_TOKEN"))) {
        dr_error_set(
            err, DR_ERR_FETCH,
            "environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is not one AWS issues");
        return SOURCE_FAILED;
    }
    if (!dr_aws_credentials_set(out, key_id, secret, dr_aws_env("AWS_SESSION_TOKEN"))) {
        dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        return SOURCE_FAILED;
    }
    return SOURCE_FOUND;
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

/* A copy of the kept credentials into out when they came from source and are valid until min_expiry. */
static int cache_copy(const char *source, time_t min_expiry, dr_aws_credentials *out)
{
    if (!cache.source || strcmp(cache.source, source) != 0 || cache.expiration < min_expiry)
        return 0;
    if (!dr_aws_credentials_set(out, cache.access_key_id, cache.secret_access_key, cache.session_token))
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
        result = cached_fetch(dr_aws_from_web_identity, "web identity", out, &tried, &why);
    int reached_imds = result == SOURCE_ABSENT;
    if (reached_imds)
        result = cached_fetch(dr_aws_from_imds, "IMDS", out, &tried, &why);
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
