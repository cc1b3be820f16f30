/*
 * http_request.h - reading an HTTP/1.x request head, apart from any socket:
 * what the embedded server (http_server.c) checks and splits, on its own
 * so that it can be tested and fuzzed with bytes alone.
 */
#ifndef DROVER_HTTP_REQUEST_H
#define DROVER_HTTP_REQUEST_H

#include <stddef.h>

#include "http_server.h"

/* "METHOD SP /target SP HTTP/1.x": the line without its CR LF. 1 when valid. */
int dr_http_request_line_valid(const char *line, size_t len);

/* The length of the line at p (up to n bytes) without its LF or CR LF (n when there is no LF); *with_newline past it. */
size_t dr_http_line_length(const char *p, size_t n, size_t *with_newline);

/* Where the head ends (just past its blank line), or 0; bare LF line ends are taken too. */
size_t dr_http_head_length(const char *buf, size_t len);

/*
 * Split the head head[0..len) in place into req (its strings point into
 * head, which must have room for one more byte, a NUL).  Returns 0, or the
 * status to answer with: 400 malformed (a NUL byte, a bad request line, a
 * header line without a token and a colon), 405 a method not GET or HEAD.
 */
int dr_http_parse_head(char *head, size_t len, dr_http_request *req);

#endif
