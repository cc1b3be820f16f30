#include "aws_imds.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aws_http.h"

#define IMDS_CONNECT_MS 1000L
#define IMDS_TOTAL_MS 2000L
#define IMDS_ATTEMPTS 2
#define IMDS_TOKEN_TTL_SECONDS 21600

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
    status = dr_aws_temporary_credentials_set(out, "IMDS", "IMDS", key_id, secret, token, expiration, err);
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
static int imds_request(imds *md, dr_aws_http_call *call, const char *method, const char *path, const char *header,
                        dr_error *err)
{
    char url[4400];
    int ok = 0;
    snprintf(url, sizeof url, "%s%s", md->endpoint, path);
    *call = (dr_aws_http_call){.method = method,
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
    if (!dr_aws_http_perform(call)) {
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
static dr_status imds_session(imds *md, dr_aws_http_call *call, dr_error *err)
{
    char ttl[80];
    snprintf(ttl, sizeof ttl, "X-aws-ec2-metadata-token-ttl-seconds: %d", IMDS_TOKEN_TTL_SECONDS);
    if (!imds_request(md, call, "PUT", "/latest/api/token", ttl, err))
        return err->status;
    if (call->http_code != 200)
        return dr_error_set(err, DR_ERR_FETCH, "IMDS: PUT /latest/api/token: HTTP %ld (IMDSv2 refused)",
                            call->http_code);
    const char *token = call->response.len ? call->response.buf : "";
    if (!dr_aws_all_chars(token, 1, 1024, dr_aws_printable_no_space))
        return dr_error_set(err, DR_ERR_FETCH, "IMDS garbage: the session token is not 1-1024 printable characters");
    snprintf(md->token_header, sizeof md->token_header, "X-aws-ec2-metadata-token: %s", token);
    return DR_OK;
}

static int role_name_char(int c)
{
    return (isascii(c) && isalnum(c)) || strchr("+=,.@_-", c);
}

/* The role (first line of .../security-credentials/) into role. */
static dr_status imds_role(imds *md, dr_aws_http_call *call, char *role, size_t size, dr_error *err)
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
    if (!dr_aws_all_chars(role, 1, size, role_name_char))
        return dr_error_set(err, DR_ERR_FETCH, "IMDS garbage: the role name has characters IAM does not allow");
    return DR_OK;
}

source_result dr_aws_from_imds(dr_aws_credentials *out, dr_strbuf *tried, dr_error *err)
{
    const char *disabled = dr_aws_env("AWS_EC2_METADATA_DISABLED");
    if (disabled && strcasecmp(disabled, "true") == 0) {
        dr_strbuf_puts(tried, "; IMDS: AWS_EC2_METADATA_DISABLED is true");
        return SOURCE_ABSENT;
    }
    char endpoint[1024], role[129], path[256];
    snprintf(endpoint, sizeof endpoint, "%s",
             dr_aws_env("AWS_EC2_METADATA_SERVICE_ENDPOINT") ? dr_aws_env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                                                             : "http://169.254.169.254");
    size_t n = strlen(endpoint);
    if (n && endpoint[n - 1] == '/')
        endpoint[n - 1] = '\0';
    imds md = {.endpoint = endpoint};
    dr_aws_http_call call = {.response = DR_STRBUF_INIT};
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
