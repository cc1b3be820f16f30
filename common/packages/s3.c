#include "s3.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

int dr_s3_is_url(const char *url)
{
    return url && strncmp(url, "s3://", 5) == 0;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* The profile's keys from an INI credentials file; 0 when the file or the profile's two keys are missing. */
static int read_credentials_file(const char *path, const char *profile, char **key_id, char **secret, char **token)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int in_profile = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        char *l = dr_trim(line);
        if (l[0] == '[') {
            char *end = strchr(l, ']');
            if (end)
                *end = '\0';
            in_profile = strcmp(dr_trim(l + 1), profile) == 0;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in_profile || !eq || l[0] == '#' || l[0] == ';')
            continue;
        *eq = '\0';
        char *name = dr_trim(l), *value = dr_trim(eq + 1);
        char **slot = strcmp(name, "aws_access_key_id") == 0       ? key_id
                      : strcmp(name, "aws_secret_access_key") == 0 ? secret
                      : strcmp(name, "aws_session_token") == 0     ? token
                                                                   : NULL;
        if (slot && !*slot)
            *slot = strdup(value);
    }
    fclose(f);
    return *key_id && *secret;
}

static const char *region_of(const dr_s3_options *opt)
{
    const char *region = opt && opt->region && opt->region[0] ? opt->region : env("AWS_REGION");
    if (!region)
        region = env("AWS_DEFAULT_REGION");
    return region ? region : "us-east-1";
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
    int n;
    if (endpoint)
        n = asprintf(out, "%s%s%s", endpoint, endpoint[strlen(endpoint) - 1] == '/' ? "" : "/", bucket);
    else
        n = asprintf(out, "https://%.*s.s3.%s.amazonaws.com%s", (int)(slash - bucket), bucket, region_of(opt), slash);
    if (n < 0) {
        *out = NULL;
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    }
    return DR_OK;
}

dr_status dr_s3_prepare(const char *url, const dr_s3_options *opt, dr_s3_request *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    char *key_id = NULL, *secret = NULL, *token = NULL;
    dr_status status = dr_s3_request_url(url, opt, &out->url, err);
    if (status != DR_OK)
        return status;
    const char *region = region_of(opt);

    if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) {
        key_id = strdup(env("AWS_ACCESS_KEY_ID"));
        secret = strdup(env("AWS_SECRET_ACCESS_KEY"));
        token = env("AWS_SESSION_TOKEN") ? strdup(env("AWS_SESSION_TOKEN")) : NULL;
    } else {
        char path[4096];
        const char *profile = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
        if (env("AWS_SHARED_CREDENTIALS_FILE"))
            snprintf(path, sizeof path, "%s", env("AWS_SHARED_CREDENTIALS_FILE"));
        else
            snprintf(path, sizeof path, "%s/.aws/credentials", env("HOME") ? env("HOME") : "");
        if (!read_credentials_file(path, profile, &key_id, &secret, &token)) {
            status = dr_error_set(err, DR_ERR_FETCH,
                                  "fetching %s: no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are "
                                  "not set, and %s has no profile '%s' with both keys",
                                  url, path, profile);
            goto done;
        }
    }
    out->userpwd = malloc(strlen(key_id) + strlen(secret) + 2);
    if (!out->userpwd || !key_id || !secret) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto done;
    }
    snprintf(out->sigv4, sizeof out->sigv4, "aws:amz:%s:s3", region);
    sprintf(out->userpwd, "%s:%s", key_id, secret);
    if (token && asprintf(&out->token_header, "x-amz-security-token: %s", token) < 0) {
        out->token_header = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    }
done:
    free(key_id);
    free(secret);
    free(token);
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
