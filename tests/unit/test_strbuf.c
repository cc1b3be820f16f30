/* The growable string: appends, formats, JSON escaping and the failed flag. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "files.h"
#include "strbuf.h"
#include "test_files.h"

static void an_empty_buffer_reads_as_the_empty_string(void)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    CHECK_STR("", dr_strbuf_str(&sb));
    size_t len = 99;
    char *text = dr_strbuf_detach(&sb, &len);
    CHECK_STR("", text);
    CHECK_INT(0, len);
    free(text);
    dr_strbuf_append(&sb, "", 0);
    CHECK(sb.buf != NULL);
    CHECK_STR("", sb.buf);
    dr_strbuf_free(&sb);
}

static void appends_and_formats_grow_the_buffer(void)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    dr_strbuf_puts(&sb, "a");
    dr_strbuf_append(&sb, "bcdef", 2);
    dr_strbuf_printf(&sb, "-%d-%s", 42, "x");
    CHECK_STR("abc-42-x", dr_strbuf_str(&sb));
    CHECK_INT(8, sb.len);

    /* One format longer than anything allocated so far takes the second vsnprintf. */
    char wide[1000];
    memset(wide, 'w', sizeof wide - 1);
    wide[sizeof wide - 1] = '\0';
    dr_strbuf_printf(&sb, "[%s]", wide);
    CHECK_INT(8 + 1001, sb.len);
    CHECK_INT(']', sb.buf[sb.len - 1]);

    for (int i = 0; i < 10000; i++)
        dr_strbuf_printf(&sb, "%d,", i % 10);
    CHECK_INT(8 + 1001 + 20000, sb.len);
    CHECK_INT(sb.len, strlen(sb.buf));
    CHECK_INT(0, sb.failed);

    dr_strbuf_reset(&sb);
    CHECK_STR("", dr_strbuf_str(&sb));
    CHECK(sb.alloc > 0);
    dr_strbuf_puts(&sb, "again");
    size_t len;
    char *text = dr_strbuf_detach(&sb, &len);
    CHECK_STR("again", text);
    CHECK_INT(5, len);
    CHECK(sb.buf == NULL && sb.len == 0 && sb.alloc == 0);
    free(text);
}

static void a_failed_buffer_ignores_appends_and_detaches_to_null(void)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    dr_strbuf_puts(&sb, "kept");
    sb.failed = 1; /* as an out-of-memory append leaves it */
    dr_strbuf_puts(&sb, " lost");
    dr_strbuf_printf(&sb, " %s", "lost");
    CHECK_STR("kept", dr_strbuf_str(&sb));
    size_t len = 99;
    CHECK(dr_strbuf_detach(&sb, &len) == NULL);
    CHECK_INT(0, len);
    CHECK(sb.buf == NULL && sb.failed == 0);

    dr_strbuf_puts(&sb, "x");
    sb.failed = 1;
    dr_strbuf_reset(&sb);
    dr_strbuf_puts(&sb, "fresh");
    CHECK_STR("fresh", dr_strbuf_str(&sb));
    dr_strbuf_free(&sb);
}

static char *json(const char *text)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    dr_strbuf_json_string(&sb, text);
    return dr_strbuf_detach(&sb, NULL);
}

#define CHECK_JSON(expected, input)                                                                                    \
    do {                                                                                                               \
        char *check_json = json(input);                                                                                \
        CHECK_STR(expected, check_json);                                                                               \
        free(check_json);                                                                                              \
    } while (0)

static void json_strings_escape_quotes_backslashes_and_control_characters(void)
{
    CHECK_JSON("\"\"", "");
    CHECK_JSON("\"plain text\"", "plain text");
    CHECK_JSON("\"say \\\"hi\\\" C:\\\\dir\"", "say \"hi\" C:\\dir");
    CHECK_JSON("\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t");
    CHECK_JSON("\"\\u0001\\u001f\\u000b\"", "\x01\x1f\x0b");
    CHECK_JSON("\"\x7f/\"", "\x7f/"); /* DEL and '/' need no escape */
    CHECK_JSON("null", NULL);
}

static void json_strings_keep_utf8_and_replace_ill_formed_bytes(void)
{
    CHECK_JSON("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    CHECK_JSON(
        "\"a\xef\xbf\xbd"
        "b\"",
        "a\xff"
        "b");                                                                               /* never valid */
    CHECK_JSON("\"\xef\xbf\xbd\"", "\x80");                                                 /* stray continuation */
    CHECK_JSON("\"x\xef\xbf\xbd\"", "x\xc3");                                               /* cut short at the end */
    CHECK_JSON("\"\xef\xbf\xbd\xef\xbf\xbd\"", "\xc0\xaf");                                 /* overlong '/' */
    CHECK_JSON("\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", "\xed\xa0\x80");                 /* UTF-16 surrogate */
    CHECK_JSON("\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", "\xf4\x90\x80\x80"); /* past U+10FFFF */
    CHECK_JSON("\"\xef\xbf\xbd\xef\xbf\xbd\\n\"", "\xe2\x82\n"); /* cut short: one per byte */
}

static void read_file_appends_the_whole_file_within_its_limit(void)
{
    char dir[] = "/tmp/drover-test-strbuf-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    dr_error err = {0};
    /* 100000 bytes with a NUL inside: more than one read, every byte kept. */
    static char data[100000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + i % 26);
    data[500] = '\0';
    write_file(path_in(dir, "big"), data, sizeof data);
    dr_strbuf sb = DR_STRBUF_INIT;
    dr_strbuf_puts(&sb, "head:");
    CHECK_INT(DR_OK, dr_strbuf_read_file(&sb, path_in(dir, "big"), sizeof data, DR_ERR_IO, &err));
    CHECK_INT(5 + sizeof data, sb.len);
    CHECK(memcmp(sb.buf + 5, data, sizeof data) == 0);
    CHECK_INT('\0', sb.buf[sb.len]);

    /* One byte over the limit: refused with the caller's status, nothing appended. */
    dr_strbuf_reset(&sb);
    dr_strbuf_puts(&sb, "kept");
    CHECK_INT(DR_ERR_STATE, dr_strbuf_read_file(&sb, path_in(dir, "big"), sizeof data - 1, DR_ERR_STATE, &err));
    CHECK_CONTAINS("is larger than 99999 bytes", err.detail);
    CHECK_STR("kept", dr_strbuf_str(&sb));

    /* A file with no size to stat (a pipe's, /dev/zero) is bounded by the read itself. */
    CHECK_INT(DR_ERR_IO, dr_strbuf_read_file(&sb, "/dev/zero", 65536, DR_ERR_IO, &err));
    CHECK_CONTAINS("is larger than 65536 bytes", err.detail);
    CHECK_STR("kept", dr_strbuf_str(&sb));

    /* A missing file: the caller's status, and errno says which failure it was. */
    CHECK_INT(DR_ERR_IO, dr_strbuf_read_file(&sb, path_in(dir, "missing"), 10, DR_ERR_IO, &err));
    CHECK_INT(ENOENT, errno);
    CHECK_CONTAINS("missing", err.detail);

    /* An empty file appends nothing and succeeds. */
    write_file(path_in(dir, "empty"), "", 0);
    CHECK_INT(DR_OK, dr_strbuf_read_file(&sb, path_in(dir, "empty"), 10, DR_ERR_IO, &err));
    CHECK_STR("kept", dr_strbuf_str(&sb));
    dr_strbuf_free(&sb);
    CHECK_INT(DR_OK, dr_remove_tree(dir, &err));
}

int main(void)
{
    an_empty_buffer_reads_as_the_empty_string();
    appends_and_formats_grow_the_buffer();
    a_failed_buffer_ignores_appends_and_detaches_to_null();
    json_strings_escape_quotes_backslashes_and_control_characters();
    json_strings_keep_utf8_and_replace_ill_formed_bytes();
    read_file_appends_the_whole_file_within_its_limit();
    return check_done("strbuf");
}
