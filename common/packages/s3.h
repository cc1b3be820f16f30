/*
 * s3.h - s3://BUCKET/KEY locations: the HTTPS URL they are fetched from and
 * the credentials libcurl signs the request with (AWS Signature V4,
 * CURLOPT_AWS_SIGV4).
 *
 * The URL is virtual-hosted, https://BUCKET.s3.REGION.amazonaws.com/KEY, or,
 * with an endpoint (an S3-compatible store, a VPC endpoint, a test server),
 * path-style: ENDPOINT/BUCKET/KEY.  The region is the option's, else
 * AWS_REGION, else AWS_DEFAULT_REGION, else the shared config file's
 * profile's, else us-east-1.  Credentials come from the AWS SDKs' chain
 * (environment, shared files, web identity, instance metadata):
 * aws_credentials.h.
 */
#ifndef DROVER_S3_H
#define DROVER_S3_H

#include "error.h"

typedef struct dr_s3_options {
    const char *endpoint; /* NULL or "": AWS itself */
    const char *region;   /* NULL or "": from the environment */
} dr_s3_options;

typedef struct dr_s3_request {
    char *url;          /* http(s) URL to fetch; malloc'd */
    char sigv4[96];     /* for CURLOPT_AWS_SIGV4: "aws:amz:REGION:s3" */
    char *userpwd;      /* for CURLOPT_USERPWD: "KEY_ID:SECRET"; malloc'd */
    char *token_header; /* "x-amz-security-token: TOKEN", or NULL; malloc'd */
} dr_s3_request;

/* 1 when url starts with "s3://". */
int dr_s3_is_url(const char *url);

/*
 * The http(s) URL an s3://BUCKET/KEY location is fetched from (as above),
 * malloc'd into *out; no credentials needed.  DR_ERR_USAGE for a malformed
 * URL, DR_ERR_NOMEM.
 */
dr_status dr_s3_request_url(const char *url, const dr_s3_options *opt, char **out, dr_error *err);

/*
 * Resolve url (s3://BUCKET/KEY) into out (its URL by dr_s3_request_url).  DR_ERR_USAGE for a malformed
 * URL, DR_ERR_FETCH when no credentials can be found (the detail says
 * where it looked) or a source of them failed (the detail names it and why).  Free with dr_s3_request_free.
 */
dr_status dr_s3_prepare(const char *url, const dr_s3_options *opt, dr_s3_request *out, dr_error *err);
void dr_s3_request_free(dr_s3_request *req);

#endif
