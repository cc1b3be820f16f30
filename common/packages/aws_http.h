/*
 * aws_http.h - the one HTTP request the STS and IMDS sources of the AWS
 * credential chain make (aws_sts.c, aws_imds.c), bounded: in time (a
 * connect and a total timeout, a few attempts when no answer came), in
 * size (DR_AWS_RESPONSE_MAX bytes of answer, more is a failure) and in
 * where it goes (the URL given, no redirects, http and https only).
 * AWS_CA_BUNDLE, as the SDKs read it, names the CA file that checks the
 * server.  Not for use outside the aws_*.c of common/packages: other
 * downloads go through fetch.h.
 */
#ifndef DROVER_AWS_HTTP_H
#define DROVER_AWS_HTTP_H

#include <curl/curl.h>

#include "strbuf.h"

typedef struct dr_aws_http_call {
    const char *method; /* "GET", "PUT", "POST" */
    const char *url;
    struct curl_slist *headers; /* borrowed */
    const char *body;           /* POST body, or NULL */
    long connect_ms, total_ms;
    int attempts;                   /* a connection that fails or times out is tried again, up to this */
    int no_proxy;                   /* 1: never through a proxy of the environment (IMDS is link-local) */
    long http_code;                 /* out: 0 when no answer came */
    dr_strbuf response;             /* out: at most DR_AWS_RESPONSE_MAX bytes; the caller frees it */
    char why[CURL_ERROR_SIZE + 64]; /* out: why no answer came */
} dr_aws_http_call;

/*
 * One request, tried again when no answer came in time; 0 when none ever
 * came (call->why says why: the connection, the timeout, an answer past
 * DR_AWS_RESPONSE_MAX, memory).  1 with call->http_code and
 * call->response set, whatever the status code.
 */
int dr_aws_http_perform(dr_aws_http_call *call);

#endif
