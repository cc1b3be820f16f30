#include "aws_sts.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_http.h"

#define STS_CONNECT_MS 3000L
#define STS_TOTAL_MS 10000L
#define STS_ATTEMPTS 2

static int region_char(int c)
{
    return (isascii(c) && (islower(c) || isdigit(c))) || c == '-';
}

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
    status = dr_aws_temporary_credentials_set(out, "web identity", "STS AssumeRoleWithWebIdentity", key_id, secret,
                                              token, expiration, err);
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
        dr_aws_all_chars(found, 1, 64, dr_aws_letter_or_digit))
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
    if (dr_aws_env("AWS_ENDPOINT_URL_STS"))
        return strdup(dr_aws_env("AWS_ENDPOINT_URL_STS"));
    if (dr_aws_region(&region, &ignored) == DR_OK && region && dr_aws_all_chars(region, 1, 64, region_char)) {
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
    if (has_nul || !dr_aws_all_chars(text, 1, DR_AWS_RESPONSE_MAX, dr_aws_printable_no_space))
        goto cleanup;
    status = (*token = strdup(text)) ? DR_OK : dr_error_set(err, DR_ERR_NOMEM, "out of memory");
cleanup:
    dr_strbuf_free(&sb);
    return status;
}

/* What STS said in an answer that is not 200, into err. */
static dr_status sts_refused(const dr_aws_http_call *call, dr_error *err)
{
    char code[65];
    dr_aws_sts_error_code(call->response.buf ? call->response.buf : "", call->response.len, code, sizeof code);
    return dr_error_set(err, DR_ERR_FETCH, "STS AssumeRoleWithWebIdentity at %s: HTTP %ld: %s", call->url,
                        call->http_code, code[0] ? code : "no error code");
}

source_result dr_aws_from_web_identity(dr_aws_credentials *out, dr_strbuf *tried, dr_error *err)
{
    const char *token_file = dr_aws_env("AWS_WEB_IDENTITY_TOKEN_FILE"), *role_arn = dr_aws_env("AWS_ROLE_ARN");
    if (!token_file || !role_arn) {
        dr_strbuf_puts(tried, "; web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not both set");
        return SOURCE_ABSENT;
    }
    dr_aws_http_call call = {
        .method = "POST", .connect_ms = STS_CONNECT_MS, .total_ms = STS_TOTAL_MS, .attempts = STS_ATTEMPTS};
    char *token = NULL, *endpoint = NULL, *body = NULL;
    CURL *escaper = NULL;
    source_result result = SOURCE_FAILED;
    if (read_web_identity_token(token_file, &token, err) != DR_OK)
        goto cleanup;
    const char *session = dr_aws_env("AWS_ROLE_SESSION_NAME") ? dr_aws_env("AWS_ROLE_SESSION_NAME") : "drover";
    if (!(escaper = curl_easy_init()) || !(endpoint = sts_endpoint()) ||
        !(body = sts_request_body(escaper, role_arn, session, token)) ||
        !(call.headers = curl_slist_append(NULL, "Accept: application/xml"))) {
        dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    call.url = endpoint;
    call.body = body;
    if (!dr_aws_http_perform(&call)) {
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
