#include "s3.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_credentials.h"

int dr_s3_is_url(const char *url)
{
    return url && strncmp(url, "s3://", 5) == 0;
}

/* The region: the option's, else the environment's or the shared config file's (dr_aws_region), else us-east-1; malloc'd. */
static dr_status region_of(const dr_s3_options *opt, char **region, dr_error *err)
{
    *region = NULL;
    if (opt && opt->region && opt->region[0])
        *region = strdup(opt->region);
    else if (dr_aws_region(region, err) != DR_OK)
        return DR_ERR_NOMEM;
    else if (!*region)
        *region = strdup("us-east-1");
    return *region ? DR_OK : dr_error_set(err, DR_ERR_NOMEM, "out of memory");
}

dr_status dr_s3_request_url(const char *url, const dr_s3_options *opt, char **out, dr_error *err)
{
    *out = NULL;
    const char *bucket = url + 5, *slash = dr_s3_is_url(url) ? strchr(bucket, '/') : NULL;
    if (!slash || slash == bucket || !slash[1])
        return dr_error_set(err, DR_ERR_USAGE, "%s is not s3://BUCKET/KEY", url);
    for (const char *p = bucket; p < slash; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
            return dr_error_set(err, DR_ERR_USAGE, "%s: '%.*s' is not an S3 bucket name", url, (int)(slash - bucket),
                                bucket);
    const char *endpoint = opt && opt->endpoint && opt->endpoint[0] ? opt->endpoint : NULL;
    char *region = NULL;
    int n = -1;
    if (endpoint)
        n = asprintf(out, "%s%s%s", endpoint, endpoint[strlen(endpoint) - 1] == '/' ? "" : "/", bucket);
    else if (region_of(opt, &region, err) == DR_OK)
        n = asprintf(out, "https://%.*s.s3.%s.amazonaws.com%s", (int)(slash - bucket), bucket, region, slash);
    free(region);
    if (n < 0) {
        *out = NULL;
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    }
    return DR_OK;
}

dr_status dr_s3_prepare(const char *url, const dr_s3_options *opt, dr_s3_request *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    dr_aws_credentials creds = {0};
    char *region = NULL;
    dr_status status = dr_s3_request_url(url, opt, &out->url, err);
    if (status != DR_OK)
        return status;
    if ((status = region_of(opt, &region, err)) != DR_OK)
        goto done;
    if ((status = dr_aws_credentials_get(&creds, err)) != DR_OK) {
        dr_error_wrap(err, "fetching %s", url);
        goto done;
    }
    status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    if (asprintf(&out->userpwd, "%s:%s", creds.access_key_id, creds.secret_access_key) < 0) {
        out->userpwd = NULL;
        goto done;
    }
    if (creds.session_token && asprintf(&out->token_header, "x-amz-security-token: %s", creds.session_token) < 0) {
        out->token_header = NULL;
        goto done;
    }
    snprintf(out->sigv4, sizeof out->sigv4, "aws:amz:%s:s3", region);
    status = DR_OK;
done:
    dr_aws_credentials_free(&creds);
    free(region);
    if (status != DR_OK)
        dr_s3_request_free(out);
    return status;
}

void dr_s3_request_free(dr_s3_request *req)
{
    free(req->url);
    free(req->userpwd);
    free(req->token_header);
    memset(req, 0, sizeof *req);
}
