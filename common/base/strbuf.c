/*
 * strbuf.c - the growable string behind every piece of text Drover builds.
 *
 * Every append goes through strbuf_reserve(), the one place that allocates,
 * so the "failed" rule (keep what we had, ignore later appends) lives there.
 */
#include "strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STRBUF_MIN_ALLOC 64

/*
 * Make room for extra more bytes plus the NUL.  Returns 0 when there is room,
 * -1 (and sets failed) when there is not; a failed buffer never grows again.
 */
static int strbuf_reserve(dr_strbuf *sb, size_t extra)
{
    if (sb->failed)
        return -1;
    if (extra > SIZE_MAX - sb->len - 1) {
        sb->failed = 1;
        return -1;
    }
    size_t need = sb->len + extra + 1;
    if (need <= sb->alloc)
        return 0;
    /* Grow by half again so a long run of small appends stays linear. */
    size_t want = sb->alloc < STRBUF_MIN_ALLOC ? STRBUF_MIN_ALLOC : sb->alloc;
    while (want < need)
        want = want > SIZE_MAX / 3 * 2 ? need : want + want / 2;
    char *grown = realloc(sb->buf, want);
    if (!grown) {
        sb->failed = 1;
        return -1;
    }
    if (!sb->buf)
        grown[0] = '\0';
    sb->buf = grown;
    sb->alloc = want;
    return 0;
}

void dr_strbuf_append(dr_strbuf *sb, const char *text, size_t len)
{
    if (strbuf_reserve(sb, len) != 0)
        return;
    if (len)
        memcpy(sb->buf + sb->len, text, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void dr_strbuf_puts(dr_strbuf *sb, const char *text)
{
    dr_strbuf_append(sb, text, strlen(text));
}

void dr_strbuf_printf(dr_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dr_strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
}

void dr_strbuf_vprintf(dr_strbuf *sb, const char *fmt, va_list ap)
{
    /* Try the room already there first: most formats are short. */
    if (strbuf_reserve(sb, 0) != 0)
        return;
    va_list copy;
    va_copy(copy, ap);
    int needed = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, copy);
    va_end(copy);
    if (needed < 0) {
        sb->buf[sb->len] = '\0';
        sb->failed = 1;
        return;
    }
    if ((size_t)needed >= sb->alloc - sb->len) {
        sb->buf[sb->len] = '\0';
        if (strbuf_reserve(sb, (size_t)needed) != 0)
            return;
        vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
    }
    sb->len += (size_t)needed;
}

/*
 * The length of the well-formed UTF-8 sequence at p, or 0 when p starts an
 * ill-formed one (an ill-formed byte is then replaced on its own).
 * The ranges are those of the Unicode standard's table 3-7, which rules out
 * overlong forms, UTF-16 surrogates and code points past U+10FFFF.
 */
static size_t utf8_sequence_length(const unsigned char *p)
{
    unsigned char lead = p[0];
    size_t len;
    unsigned char low = 0x80, high = 0xBF; /* allowed range of the second byte */
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        len = 3;
        if (lead == 0xE0)
            low = 0xA0;
        else if (lead == 0xED)
            high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        len = 4;
        if (lead == 0xF0)
            low = 0x90;
        else if (lead == 0xF4)
            high = 0x8F;
    } else {
        return 0;
    }
    if (p[1] < low || p[1] > high)
        return 0;
    /* A NUL ends the string and fails this test, so we never read past it. */
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

void dr_strbuf_json_string(dr_strbuf *sb, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    if (!text) {
        dr_strbuf_puts(sb, "null");
        return;
    }
    dr_strbuf_append(sb, "\"", 1);
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        /* Copy the longest run that needs no escaping in one append. */
        const unsigned char *run = p;
        size_t seq;
        while (*p >= 0x20 && *p != '"' && *p != '\\' && (seq = utf8_sequence_length(p)) != 0)
            p += seq;
        dr_strbuf_append(sb, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        char escape[7] = {'\\', 0};
        switch (*p) {
        case '"':
            escape[1] = '"';
            break;
        case '\\':
            escape[1] = '\\';
            break;
        case '\b':
            escape[1] = 'b';
            break;
        case '\f':
            escape[1] = 'f';
            break;
        case '\n':
            escape[1] = 'n';
            break;
        case '\r':
            escape[1] = 'r';
            break;
        case '\t':
            escape[1] = 't';
            break;
        default:
            if (*p < 0x20) {
                memcpy(escape, "\\u00", 4);
                escape[4] = hex[*p >> 4];
                escape[5] = hex[*p & 0xF];
            } else {
                memcpy(escape, "\xEF\xBF\xBD", 4); /* U+FFFD for one ill-formed byte */
            }
        }
        dr_strbuf_puts(sb, escape);
        p++;
    }
    dr_strbuf_append(sb, "\"", 1);
}

const char *dr_strbuf_str(const dr_strbuf *sb)
{
    return sb->buf ? sb->buf : "";
}

void dr_strbuf_reset(dr_strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
    sb->failed = 0;
}

char *dr_strbuf_detach(dr_strbuf *sb, size_t *len)
{
    char *text = NULL;
    size_t text_len = 0;
    /* Reserving nothing allocates the "" of an empty buffer, and fails on a failed one. */
    if (strbuf_reserve(sb, 0) != 0) {
        dr_strbuf_free(sb);
        goto done;
    }
    text = sb->buf;
    text_len = sb->len;
    *sb = (dr_strbuf)DR_STRBUF_INIT;
done:
    if (len)
        *len = text_len;
    return text;
}

void dr_strbuf_free(dr_strbuf *sb)
{
    free(sb->buf);
    *sb = (dr_strbuf)DR_STRBUF_INIT;
}

char *dr_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

dr_status dr_strbuf_read_file(dr_strbuf *sb, const char *path, size_t max_bytes, dr_status code, dr_error *err)
{
    size_t start = sb->len;
    dr_status status = DR_OK;
    int saved_errno = 0;
    FILE *file = fopen(path, "rb");
    if (!file) {
        saved_errno = errno;
        status = dr_error_set(err, code, "cannot read %s: %s", path, strerror(saved_errno));
        goto cleanup;
    }
    /* The size is a hint for one allocation; the read itself enforces the limit. */
    struct stat st;
    size_t hint = fstat(fileno(file), &st) == 0 && st.st_size > 0 && (uintmax_t)st.st_size <= max_bytes
                      ? (size_t)st.st_size
                      : 4096;
    for (;;) {
        if (strbuf_reserve(sb, hint) != 0) {
            status = dr_error_set(err, DR_ERR_NOMEM, "out of memory reading %s", path);
            goto cleanup;
        }
        size_t room = sb->alloc - sb->len - 1;
        size_t n = fread(sb->buf + sb->len, 1, room, file);
        sb->len += n;
        sb->buf[sb->len] = '\0';
        if (sb->len - start > max_bytes) {
            status = dr_error_set(err, code, "%s is larger than %zu bytes", path, max_bytes);
            goto cleanup;
        }
        if (n < room)
            break;
        /* Full: there may be more; double what was read so far. */
        hint = sb->len - start < 4096 ? 4096 : sb->len - start;
    }
    if (ferror(file)) {
        saved_errno = errno;
        status = dr_error_set(err, code, "reading %s: %s", path, strerror(saved_errno));
    }
cleanup:
    if (file)
        fclose(file);
    if (status != DR_OK && sb->buf) {
        sb->len = start;
        sb->buf[start] = '\0';
    }
    errno = saved_errno;
    return status;
}
