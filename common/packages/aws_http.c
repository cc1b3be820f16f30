#include "aws_http.h"

#include <stdio.h>
#include <string.h>

#include "aws_credentials.h"
#include "aws_credentials_private.h"

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
static int http_setup(CURL *curl, dr_aws_http_call *call, char *curl_error)
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
    if (dr_aws_env("AWS_CA_BUNDLE")) /* as the SDKs: a private CA for STS (a VPC endpoint behind a proxy) */
        failed |= curl_easy_setopt(curl, CURLOPT_CAINFO, dr_aws_env("AWS_CA_BUNDLE")) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_response) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_WRITEDATA, &call->response) != CURLE_OK;
    failed |= curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error) != CURLE_OK;
    return !failed;
}

static CURLcode http_attempt(dr_aws_http_call *call)
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
int dr_aws_http_perform(dr_aws_http_call *call)
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
