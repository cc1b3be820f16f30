/*
 * strbuf.h - a growable NUL-terminated string, as git's strbuf: the one
 * way Drover builds text (JSON, metrics, messages) without fixed buffers.
 *
 * A zeroed dr_strbuf (DR_STRBUF_INIT) is an empty string.  Appends grow the
 * buffer; on allocation failure the buffer keeps what it had and `failed` is
 * set (checked once at the end instead of after every append).  Once failed,
 * later appends do nothing, so the text is always a prefix of what was meant
 * and never has a hole in the middle; dr_strbuf_reset clears the flag.
 * dr_strbuf_detach hands the text to the caller (who frees it), and returns
 * NULL when any append failed, so one NULL check covers the whole build.
 *
 * JSON strings follow RFC 8259: '"' and '\\' are escaped, control characters
 * become \b \f \n \r \t or \u00XX, everything else is copied as UTF-8.
 * Each byte that is not part of a well-formed UTF-8 sequence (stray
 * continuation bytes, truncated or overlong sequences, surrogates, code
 * points past U+10FFFF) becomes U+FFFD, so the output is always valid JSON
 * and valid UTF-8 whatever the input.
 */
#ifndef DROVER_STRBUF_H
#define DROVER_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "error.h"

typedef struct dr_strbuf {
    char *buf; /* NUL-terminated when len > 0 or after any append; may be NULL when empty */
    size_t len;
    size_t alloc;
    int failed; /* an append ran out of memory (or a format was invalid) */
} dr_strbuf;

#define DR_STRBUF_INIT                                                                                                 \
    {                                                                                                                  \
        NULL, 0, 0, 0                                                                                                  \
    }

void dr_strbuf_append(dr_strbuf *sb, const char *text, size_t len);
void dr_strbuf_puts(dr_strbuf *sb, const char *text);
void dr_strbuf_printf(dr_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dr_strbuf_vprintf(dr_strbuf *sb, const char *fmt, va_list ap);
/* Append text as a JSON string literal, quotes included; NULL appends null. */
void dr_strbuf_json_string(dr_strbuf *sb, const char *text);
/* The text ("" when empty); owned by sb. */
const char *dr_strbuf_str(const dr_strbuf *sb);
/* Empty the text and clear failed; keeps the memory for reuse. */
void dr_strbuf_reset(dr_strbuf *sb);
/*
 * Hand over the text (malloc'd, never NULL unless out of memory now or in an
 * earlier append) and reset sb.  len (may be NULL) gets the length, 0 on NULL.
 */
char *dr_strbuf_detach(dr_strbuf *sb, size_t *len);
void dr_strbuf_free(dr_strbuf *sb);

/*
 * Append the whole file at path (as git's strbuf_read_file): the one way
 * Drover reads a file into memory, so every reader has a size limit.  A file
 * longer than max_bytes is refused and nothing is appended.  On failure the
 * status is `code` (the caller's: DR_ERR_IO, DR_ERR_STATE, ...) for a file
 * that cannot be opened or read or is too long, DR_ERR_NOMEM for memory;
 * err's detail names the path; errno is ENOENT exactly when the file does
 * not exist.  The text may hold NUL bytes: sb->len counts every byte.
 */
dr_status dr_strbuf_read_file(dr_strbuf *sb, const char *path, size_t max_bytes, dr_status code, dr_error *err);

/* Text read from files: s without its leading and trailing white space (cut in place). */
char *dr_trim(char *s);

#endif
