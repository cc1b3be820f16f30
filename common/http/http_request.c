#include "http_request.h"

#include <string.h>

static int is_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "METHOD SP /target SP HTTP/1.x", the line without its CR LF. */
int dr_http_request_line_valid(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && is_token_char((unsigned char)line[i]))
        i++;
    if (i == 0 || i >= len || line[i] != ' ')
        return 0;
    i++;
    if (i >= len || line[i] != '/')
        return 0;
    while (i < len && (unsigned char)line[i] > ' ' && line[i] != 0x7f)
        i++;
    if (i >= len || line[i] != ' ')
        return 0;
    i++;
    return len - i == 8 && memcmp(line + i, "HTTP/1.", 7) == 0 && line[i + 7] >= '0' && line[i + 7] <= '9';
}

/* The length of the line at p (up to n bytes) without its LF or CR LF; n when there is no LF. */
size_t dr_http_line_length(const char *p, size_t n, size_t *with_newline)
{
    const char *lf = memchr(p, '\n', n);
    if (!lf) {
        *with_newline = n;
        return n;
    }
    *with_newline = (size_t)(lf - p) + 1;
    size_t len = (size_t)(lf - p);
    return len > 0 && p[len - 1] == '\r' ? len - 1 : len;
}

/* Where the head ends (just past its blank line), or 0; bare LF line ends are taken too. */
size_t dr_http_head_length(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

int dr_http_parse_head(char *head, size_t len, dr_http_request *req)
{
    head[len] = '\0';
    if (memchr(head, '\0', len))
        return 400;
    size_t line_end;
    size_t line_len = dr_http_line_length(head, len, &line_end);
    if (!dr_http_request_line_valid(head, line_len))
        return 400;
    /* Each header line is "name: value"; the head's blank line ends the walk. */
    for (size_t at = line_end; at < len;) {
        size_t next;
        size_t header_len = dr_http_line_length(head + at, len - at, &next);
        if (header_len == 0)
            break;
        const char *colon = memchr(head + at, ':', header_len);
        if (!colon || colon == head + at)
            return 400;
        for (const char *p = head + at; p < colon; p++)
            if (!is_token_char((unsigned char)*p))
                return 400;
        at += next;
    }
    head[line_len] = '\0';
    char *target = strchr(head, ' ') + 1;
    target[-1] = '\0';
    *strchr(target, ' ') = '\0';
    char *query = strchr(target, '?');
    if (query)
        *query++ = '\0';
    req->method = head;
    req->path = target;
    req->query = query ? query : "";
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return 405;
    return 0;
}
