/*
 * Zip extraction is all or nothing and refuses hostile archives before it
 * writes anything.  The zips are built here with libzip (and some patched
 * byte by byte), so each test shows exactly what it feeds in.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "archive.h"
#include "check.h"
#include "files.h"
#include "test_files.h"

static char workdir[] = "/tmp/drover-archive-test-XXXXXX";

/* ---- helpers ---- */

typedef struct zip_spec {
    const char *name;
    const char *data; /* NULL with a name ending in '/': a directory entry */
    size_t len;       /* 0: strlen(data) */
    unsigned mode;    /* st_mode for the Unix external attributes; 0: libzip's default; MADE_ON_DOS: none */
    int store;        /* 1: no compression, so tests can find and cut the data */
} zip_spec;

/* Not a valid st_mode: the entry is marked as made on MS-DOS, so it carries no Unix mode. */
#define MADE_ON_DOS 1u

static char *path_in_workdir(const char *name)
{
    return path_in(workdir, name);
}

static void make_zip(const char *path, const zip_spec *specs, size_t count)
{
    int code = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
    CHECK(za != NULL);
    if (!za)
        return;
    for (size_t i = 0; i < count; i++) {
        const zip_spec *s = &specs[i];
        zip_int64_t index;
        if (!s->data) {
            index = zip_dir_add(za, s->name, 0);
        } else {
            size_t len = s->len ? s->len : strlen(s->data);
            zip_source_t *src = zip_source_buffer(za, s->data, len, 0);
            index = zip_file_add(za, s->name, src, 0);
        }
        CHECK(index >= 0);
        if (index < 0)
            continue;
        if (s->mode == MADE_ON_DOS)
            CHECK_INT(0, zip_file_set_external_attributes(za, (zip_uint64_t)index, 0, ZIP_OPSYS_DOS, 0));
        else if (s->mode)
            CHECK_INT(0, zip_file_set_external_attributes(za, (zip_uint64_t)index, 0, ZIP_OPSYS_UNIX,
                                                          (zip_uint32_t)s->mode << 16));
        if (s->store)
            CHECK_INT(0, zip_set_file_compression(za, (zip_uint64_t)index, ZIP_CM_STORE, 0));
    }
    CHECK_INT(0, zip_close(za));
}

static unsigned char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    unsigned char *data = malloc(*len ? *len : 1);
    CHECK_INT(*len, fread(data, 1, *len, f));
    fclose(f);
    return data;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
    p[3] = (unsigned char)(v >> 24);
}

/* Offset of the first 4-byte signature at or after from, or len when there is none. */
static size_t find_signature(const unsigned char *data, size_t len, size_t from, const char *signature)
{
    for (size_t i = from; i + 4 <= len; i++)
        if (memcmp(data + i, signature, 4) == 0)
            return i;
    return len;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Whether workdir holds a leftover "<something>.tmp-XXXXXX". */
static int temp_left_behind(void)
{
    int found = 0;
    DIR *d = opendir(workdir);
    for (struct dirent *de; d && (de = readdir(d)) != NULL;)
        if (strstr(de->d_name, ".tmp-"))
            found = 1;
    if (d)
        closedir(d);
    return found;
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    return (unsigned)st.st_mode & 07777;
}

/* A refused extraction: exact status, the detail names what, nothing at dest, no temp left. */
static void expect_refused(const char *zip_name, const dr_archive_limits *limits, dr_status expected,
                           const char *detail_part)
{
    char *zip = path_in_workdir(zip_name);
    char *dest = path_in_workdir("out");
    dr_error err = {0};
    CHECK_INT(expected, dr_archive_extract(zip, dest, limits, &err));
    CHECK_CONTAINS(detail_part, err.detail);
    CHECK_CONTAINS(zip_name, err.detail);
    CHECK(!exists(dest));
    CHECK(!temp_left_behind());
}

static const char *shell = "#!/bin/sh\necho hello\n";

/* ---- names ---- */

static void unsafe_names_are_named_with_their_reason(void)
{
    CHECK_STR("empty name", dr_archive_unsafe_name_reason(""));
    CHECK_STR("absolute path", dr_archive_unsafe_name_reason("/etc/passwd"));
    CHECK_STR("'..' component", dr_archive_unsafe_name_reason("../evil.sh"));
    CHECK_STR("'..' component", dr_archive_unsafe_name_reason("a/../../evil"));
    CHECK_STR("'..' component", dr_archive_unsafe_name_reason("a/.."));
    CHECK_STR("backslash", dr_archive_unsafe_name_reason("a\\b"));
    CHECK_STR("control character", dr_archive_unsafe_name_reason("a\nb"));
    CHECK_STR("control character", dr_archive_unsafe_name_reason("a\x7f"));
    char long_name[1100];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK_STR("name too long", dr_archive_unsafe_name_reason(long_name));
    long_name[1024] = '\0';
    CHECK(dr_archive_unsafe_name_reason(long_name) == NULL);
    CHECK(dr_archive_unsafe_name_reason("dir/") == NULL);
    CHECK(dr_archive_unsafe_name_reason("./x") == NULL);
    CHECK(dr_archive_unsafe_name_reason("a/..b/c..") == NULL);
    CHECK(dr_archive_unsafe_name_reason("install.sh") == NULL);
}

/* ---- the good path ---- */

static void good_zip_extracts_with_modes_dirs_and_safe_symlinks(void)
{
    const zip_spec specs[] = {
        {"bin/", NULL, 0, S_IFDIR | 0700, 0},
        {"bin/tool.sh", shell, 0, S_IFREG | 0755, 0},
        {"lib/deep/x/y.txt", "payload\n", 0, MADE_ON_DOS, 0},
        {"libzip-default", "payload\n", 0, 0, 0},
        {"setuid", shell, 0, S_IFREG | 04755, 0},
        {"group-write", "g\n", 0, S_IFREG | 0664, 0},
        {"lib/current", "deep/x", 0, S_IFLNK | 0777, 0},
        {"empty/", NULL, 0, 0, 0},
        {"./dot.txt", "dot\n", 0, S_IFREG | 0644, 0},
    };
    char *zip = path_in_workdir("good.zip");
    make_zip(zip, specs, sizeof specs / sizeof specs[0]);
    char *dest = path_in_workdir("good-out");
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_archive_extract(zip, dest, NULL, &err));
    CHECK_STR("", err.detail);

    char path[1200];
    snprintf(path, sizeof path, "%s", dest);
    CHECK_INT(0755, mode_of(path));
    snprintf(path, sizeof path, "%s/bin", dest);
    CHECK_INT(0755, mode_of(path)); /* directories are 0755 whatever the entry says */
    snprintf(path, sizeof path, "%s/bin/tool.sh", dest);
    CHECK_INT(0755, mode_of(path));
    size_t len = 0;
    unsigned char *data = read_whole(path, &len);
    CHECK_INT(strlen(shell), len);
    CHECK(data && memcmp(data, shell, len) == 0);
    free(data);
    snprintf(path, sizeof path, "%s/lib/deep/x/y.txt", dest);
    CHECK_INT(0644, mode_of(path)); /* no Unix mode in the entry */
    snprintf(path, sizeof path, "%s/libzip-default", dest);
    CHECK_INT(0644, mode_of(path)); /* libzip's own default is 0666, less group and other write */
    snprintf(path, sizeof path, "%s/setuid", dest);
    CHECK_INT(0755, mode_of(path)); /* setuid stripped */
    snprintf(path, sizeof path, "%s/group-write", dest);
    CHECK_INT(0644, mode_of(path)); /* only bits within 0755 */
    snprintf(path, sizeof path, "%s/lib/current", dest);
    char target[64] = {0};
    CHECK_INT(6, readlink(path, target, sizeof target - 1));
    CHECK_STR("deep/x", target);
    snprintf(path, sizeof path, "%s/lib/current/y.txt", dest);
    CHECK(access(path, R_OK) == 0);
    snprintf(path, sizeof path, "%s/empty", dest);
    CHECK_INT(0755, mode_of(path));
    snprintf(path, sizeof path, "%s/dot.txt", dest);
    CHECK(exists(path));
    CHECK(!temp_left_behind());

    /* dest must not exist beforehand: extraction never merges into old content */
    CHECK_INT(DR_ERR_IO, dr_archive_extract(zip, dest, NULL, &err));
    CHECK_CONTAINS("already exists", err.detail);
    CHECK(!temp_left_behind());
}

static void listing_reports_names_sizes_kinds_and_modes(void)
{
    const zip_spec specs[] = {
        {"dir/", NULL, 0, S_IFDIR | 0755, 0}, {"dir/run.sh", shell, 0, S_IFREG | 04755, 0},
        {"plain", "abc", 0, MADE_ON_DOS, 0},  {"link", "plain", 0, S_IFLNK | 0777, 0},
        {"fifo", "", 0, S_IFIFO | 0644, 0},
    };
    char *zip = path_in_workdir("list.zip");
    make_zip(zip, specs, sizeof specs / sizeof specs[0]);
    dr_archive_listing listing = {0};
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_archive_list(zip, &listing, &err));
    CHECK_INT(5, listing.count);
    if (listing.count == 5) {
        CHECK_STR("dir/", listing.entries[0].name);
        CHECK_INT(DR_ARCHIVE_DIRECTORY, listing.entries[0].kind);
        CHECK_STR("dir/run.sh", listing.entries[1].name);
        CHECK_INT(DR_ARCHIVE_FILE, listing.entries[1].kind);
        CHECK_INT(strlen(shell), listing.entries[1].size);
        CHECK_INT(04755, listing.entries[1].mode);
        CHECK_INT(DR_ARCHIVE_FILE, listing.entries[2].kind);
        CHECK_INT(0, listing.entries[2].mode);
        CHECK_INT(DR_ARCHIVE_SYMLINK, listing.entries[3].kind);
        CHECK_INT(DR_ARCHIVE_OTHER, listing.entries[4].kind);
    }
    dr_archive_listing_free(&listing);
    CHECK_INT(0, listing.count);
}

/* ---- unsafe entries ---- */

static void zip_slip_names_are_refused_before_anything_is_written(void)
{
    const zip_spec slip[] = {{"ok.txt", "fine", 0, 0, 0}, {"../evil.sh", shell, 0, S_IFREG | 0755, 0}};
    make_zip(path_in_workdir("slip.zip"), slip, 2);
    expect_refused("slip.zip", NULL, DR_ERR_ARCHIVE_UNSAFE, "entry '../evil.sh': '..' component");
    CHECK(!exists(path_in_workdir("evil.sh")));

    const zip_spec deep[] = {{"a/b.txt", "fine", 0, 0, 0}, {"a/../../evil", shell, 0, 0, 0}};
    make_zip(path_in_workdir("deep-slip.zip"), deep, 2);
    expect_refused("deep-slip.zip", NULL, DR_ERR_ARCHIVE_UNSAFE, "entry 'a/../../evil': '..' component");
    CHECK(!exists(path_in_workdir("evil")));

    char absolute[1100];
    snprintf(absolute, sizeof absolute, "%s/abs-evil", workdir);
    const zip_spec abs[] = {{"ok.txt", "fine", 0, 0, 0}, {absolute, shell, 0, 0, 0}};
    make_zip(path_in_workdir("absolute.zip"), abs, 2);
    expect_refused("absolute.zip", NULL, DR_ERR_ARCHIVE_UNSAFE, "absolute path");
    CHECK_CONTAINS("abs-evil", absolute);
    CHECK(!exists(absolute));

    const zip_spec backslash[] = {{"..\\evil.sh", shell, 0, 0, 0}};
    make_zip(path_in_workdir("backslash.zip"), backslash, 1);
    expect_refused("backslash.zip", NULL, DR_ERR_ARCHIVE_UNSAFE, "entry '..\\evil.sh': backslash");
}

static void symlinks_leading_outside_are_refused(void)
{
    const zip_spec etc[] = {{"ok.txt", "fine", 0, 0, 0}, {"etc-link", "/etc", 0, S_IFLNK | 0777, 0}};
    make_zip(path_in_workdir("link-abs.zip"), etc, 2);
    expect_refused("link-abs.zip", NULL, DR_ERR_ARCHIVE_UNSAFE,
                   "entry 'etc-link': unsafe symlink target '/etc' (absolute path)");

    const zip_spec up[] = {{"up", "../outside", 0, S_IFLNK | 0777, 0}, {"z.txt", "fine", 0, 0, 0}};
    make_zip(path_in_workdir("link-up.zip"), up, 2);
    expect_refused("link-up.zip", NULL, DR_ERR_ARCHIVE_UNSAFE, "entry 'up': unsafe symlink target '../outside'");

    const zip_spec empty[] = {{"nothing", "", 0, S_IFLNK | 0777, 0}};
    make_zip(path_in_workdir("link-empty.zip"), empty, 1);
    expect_refused("link-empty.zip", NULL, DR_ERR_ARCHIVE_UNSAFE,
                   "entry 'nothing': unsafe symlink target '' (empty name)");

    /* a link that another entry would write through */
    const zip_spec through[] = {{"sub", "x", 0, S_IFLNK | 0777, 0}, {"sub/file", "data", 0, 0, 0}};
    make_zip(path_in_workdir("link-through.zip"), through, 2);
    expect_refused("link-through.zip", NULL, DR_ERR_ARCHIVE_UNSAFE, "entry 'sub/file': 'sub' is not a directory");
}

static void devices_fifos_and_sockets_are_refused(void)
{
    const zip_spec dev[] = {{"ok.txt", "fine", 0, 0, 0}, {"dev-null", "", 0, S_IFCHR | 0666, 0}};
    make_zip(path_in_workdir("device.zip"), dev, 2);
    expect_refused("device.zip", NULL, DR_ERR_ARCHIVE_UNSAFE, "entry 'dev-null': a device, FIFO or socket");

    const zip_spec fifo[] = {{"pipe", "", 0, S_IFIFO | 0644, 0}};
    make_zip(path_in_workdir("fifo.zip"), fifo, 1);
    expect_refused("fifo.zip", NULL, DR_ERR_ARCHIVE_UNSAFE, "entry 'pipe': a device, FIFO or socket");

    const zip_spec block[] = {{"disk", "", 0, S_IFBLK | 0600, 0}};
    make_zip(path_in_workdir("block.zip"), block, 1);
    expect_refused("block.zip", NULL, DR_ERR_ARCHIVE_UNSAFE, "entry 'disk'");
}

static void colliding_entries_are_refused(void)
{
    const zip_spec file_then_child[] = {{"x", "file", 0, 0, 0}, {"x/y", "child", 0, 0, 0}};
    make_zip(path_in_workdir("collide.zip"), file_then_child, 2);
    expect_refused("collide.zip", NULL, DR_ERR_ARCHIVE_UNSAFE, "entry 'x/y': 'x' is not a directory");

    const zip_spec same[] = {{"dup", "one", 0, 0, 0}, {"./dup", "two", 0, 0, 0}};
    make_zip(path_in_workdir("dup.zip"), same, 2);
    expect_refused("dup.zip", NULL, DR_ERR_ARCHIVE_UNSAFE, "entry './dup': more than one entry for this path");

    /* repeated directories are harmless */
    const zip_spec dirs[] = {{"d/", NULL, 0, 0, 0}, {"./d/", NULL, 0, 0, 0}, {"d/f", "f", 0, 0, 0}};
    char *zip = path_in_workdir("dirs.zip");
    make_zip(zip, dirs, 3);
    dr_error err = {0};
    char *dest = path_in_workdir("dirs-out");
    CHECK_INT(DR_OK, dr_archive_extract(zip, dest, NULL, &err));
}

/* ---- limits ---- */

static void zip_bombs_are_refused(void)
{
    dr_archive_limits limits;
    dr_archive_limits_default(&limits);
    CHECK_INT(10000, limits.max_entries);
    CHECK_INT(4ULL << 30, limits.max_total_bytes);
    CHECK_INT(1ULL << 30, limits.max_entry_bytes);

    zip_spec many[200];
    char names[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(names[i], sizeof names[i], "f%03d", i);
        many[i] = (zip_spec){names[i], "x", 0, 0, 0};
    }
    make_zip(path_in_workdir("many.zip"), many, 200);
    limits.max_entries = 100;
    expect_refused("many.zip", &limits, DR_ERR_ARCHIVE_LIMIT, "200 entries, more than the limit of 100");

    size_t big = 64u << 20;
    char *zeros = calloc(1, big);
    const zip_spec bomb[] = {{"ok.txt", "fine", 0, 0, 0}, {"zeros.bin", zeros, big, 0, 0}};
    make_zip(path_in_workdir("bomb.zip"), bomb, 2);
    free(zeros);
    struct stat st;
    CHECK(stat(path_in_workdir("bomb.zip"), &st) == 0 && st.st_size < (1 << 20)); /* it really is a bomb */
    dr_archive_limits_default(&limits);
    limits.max_total_bytes = 16u << 20;
    expect_refused("bomb.zip", &limits, DR_ERR_ARCHIVE_LIMIT, "entry 'zeros.bin'");
    dr_archive_limits_default(&limits);
    limits.max_entry_bytes = 16u << 20;
    expect_refused("bomb.zip", &limits, DR_ERR_ARCHIVE_LIMIT, "entry 'zeros.bin': 67108864 bytes");
}

/* Headers that claim 1000 bytes for 4 MiB: the bytes written are what count. */
static void a_lying_size_header_does_not_beat_the_limit(void)
{
    size_t big = 4u << 20;
    char *zeros = calloc(1, big);
    const zip_spec liar[] = {{"liar.bin", zeros, big, 0, 0}};
    char *zip = path_in_workdir("liar.zip");
    make_zip(zip, liar, 1);
    free(zeros);
    size_t len = 0;
    unsigned char *data = read_whole(zip, &len);
    size_t local = find_signature(data, len, 0, "PK\x03\x04");
    size_t central = find_signature(data, len, 0, "PK\x01\x02");
    CHECK(local < len && central < len);
    if (local < len && central < len) {
        CHECK_INT(big, get32(data + local + 22));
        put32(data + local + 22, 1000);
        put32(data + central + 24, 1000);
        write_file(zip, data, len);
    }
    free(data);
    dr_archive_limits limits;
    dr_archive_limits_default(&limits);
    limits.max_entry_bytes = 1u << 20;
    expect_refused("liar.zip", &limits, DR_ERR_ARCHIVE_LIMIT, "entry 'liar.bin': expands past the limit");
    /* with room for it all, the lie is still caught: the entry is corrupt */
    expect_refused("liar.zip", NULL, DR_ERR_ARCHIVE, "entry 'liar.bin'");
}

/* ---- corrupt archives ---- */

static void truncated_and_corrupt_zips_are_archive_errors(void)
{
    char text[8192];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + (i * 7 + i / 13) % 26);
    const zip_spec specs[] = {
        {"first.txt", text, sizeof text, 0, 1},
        {"second.txt", "hello second\n", 0, 0, 0},
        {"packed.txt", text, sizeof text, 0, 0},
    };
    char *zip = path_in_workdir("whole.zip");
    make_zip(zip, specs, 3);
    size_t len = 0;
    unsigned char *data = read_whole(zip, &len);
    if (!data)
        return;

    /* the last third gone: no central directory */
    write_file(path_in_workdir("chopped.zip"), data, len - len / 3);
    expect_refused("chopped.zip", NULL, DR_ERR_ARCHIVE, "chopped.zip: ");
    dr_archive_listing listing = {0};
    dr_error err = {0};
    CHECK_INT(DR_ERR_ARCHIVE, dr_archive_list(path_in_workdir("chopped.zip"), &listing, &err));
    CHECK_INT(0, listing.count);

    /* only the last few bytes gone */
    write_file(path_in_workdir("short.zip"), data, len - 5);
    expect_refused("short.zip", NULL, DR_ERR_ARCHIVE, "short.zip: ");

    /*
     * 100 bytes cut from inside first.txt's stored data, with the central
     * directory's offsets moved to match: the directory is valid, the data short.
     */
    size_t first_data = 30 + strlen("first.txt"); /* local header, no extra field */
    CHECK_INT(0, find_signature(data, len, 0, "PK\x03\x04"));
    CHECK_INT(0, data[28] | data[29] << 8);
    size_t cut = 100, cut_at = first_data + 1000;
    unsigned char *shorter = malloc(len - cut);
    memcpy(shorter, data, cut_at);
    memcpy(shorter + cut_at, data + cut_at + cut, len - cut_at - cut);
    size_t shorter_len = len - cut;
    for (size_t at = 0; (at = find_signature(shorter, shorter_len, at, "PK\x01\x02")) < shorter_len; at += 4) {
        uint32_t offset = get32(shorter + at + 42);
        if (offset > cut_at)
            put32(shorter + at + 42, offset - (uint32_t)cut);
    }
    size_t end = find_signature(shorter, shorter_len, 0, "PK\x05\x06");
    CHECK(end < shorter_len);
    if (end < shorter_len)
        put32(shorter + end + 16, get32(shorter + end + 16) - (uint32_t)cut);
    write_file(path_in_workdir("cut.zip"), shorter, shorter_len);
    free(shorter);
    expect_refused("cut.zip", NULL, DR_ERR_ARCHIVE, "entry 'first.txt'");

    /* one flipped byte in packed.txt's deflated data */
    size_t packed = len;
    for (size_t at = 0; (at = find_signature(data, len, at, "PK\x03\x04")) < len; at += 4)
        if (memcmp(data + at + 30, "packed.txt", 10) == 0)
            packed = at;
    CHECK(packed < len);
    if (packed < len) {
        size_t compressed = get32(data + packed + 18);
        data[packed + 30 + 10 + compressed / 2] ^= 0x20;
        write_file(path_in_workdir("flipped.zip"), data, len);
        expect_refused("flipped.zip", NULL, DR_ERR_ARCHIVE, "entry 'packed.txt'");
    }
    free(data);

    /* not a zip at all, and no file at all */
    write_file(path_in_workdir("text.zip"), "hello", 5);
    expect_refused("text.zip", NULL, DR_ERR_ARCHIVE, "text.zip: ");
    expect_refused("missing.zip", NULL, DR_ERR_IO, "missing.zip");
}

/* ---- creating ---- */

static void make_file(const char *path, const char *text, mode_t mode)
{
    write_file(path, text, strlen(text));
    CHECK_INT(0, chmod(path, mode));
}

static void a_directory_zips_reproducibly_and_round_trips(void)
{
    char *src = path_in_workdir("src");
    char path[1200];
    CHECK_INT(0, mkdir(src, 0755));
    snprintf(path, sizeof path, "%s/sub", src);
    CHECK_INT(0, mkdir(path, 0755));
    snprintf(path, sizeof path, "%s/empty", src);
    CHECK_INT(0, mkdir(path, 0755));
    snprintf(path, sizeof path, "%s/install.sh", src);
    make_file(path, shell, 0755);
    snprintf(path, sizeof path, "%s/sub/data.txt", src);
    make_file(path, "data\n", 0640);
    snprintf(path, sizeof path, "%s/sub/link", src);
    CHECK_INT(0, symlink("data.txt", path));
    snprintf(path, sizeof path, "%s/Zebra", src); /* bytewise order: 'Z' before 'e' */
    make_file(path, "z\n", 0644);

    char *zip = path_in_workdir("created.zip");
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_archive_create_from_dir(src, zip, &err));
    CHECK_STR("", err.detail);
    CHECK(!temp_left_behind());
    CHECK_INT(0644, mode_of(zip));

    dr_archive_listing listing = {0};
    CHECK_INT(DR_OK, dr_archive_list(zip, &listing, &err));
    const char *expected[] = {"Zebra", "empty/", "install.sh", "sub/", "sub/data.txt", "sub/link"};
    const dr_archive_entry_kind kinds[] = {DR_ARCHIVE_FILE,      DR_ARCHIVE_DIRECTORY, DR_ARCHIVE_FILE,
                                           DR_ARCHIVE_DIRECTORY, DR_ARCHIVE_FILE,      DR_ARCHIVE_SYMLINK};
    CHECK_INT(6, listing.count);
    for (size_t i = 0; i < listing.count && i < 6; i++) {
        CHECK_STR(expected[i], listing.entries[i].name);
        CHECK_INT(kinds[i], listing.entries[i].kind);
    }
    if (listing.count == 6)
        CHECK_INT(0755, listing.entries[2].mode);
    dr_archive_listing_free(&listing);

    /* the same tree gives the same bytes */
    char *again = path_in_workdir("created-again.zip");
    CHECK_INT(DR_OK, dr_archive_create_from_dir(src, again, &err));
    size_t len1 = 0, len2 = 0;
    unsigned char *one = read_whole(zip, &len1), *two = read_whole(again, &len2);
    CHECK(one && two && len1 == len2 && memcmp(one, two, len1) == 0);
    free(one);
    free(two);

    char *dest = path_in_workdir("created-out");
    CHECK_INT(DR_OK, dr_archive_extract(zip, dest, NULL, &err));
    snprintf(path, sizeof path, "%s/install.sh", dest);
    CHECK_INT(0755, mode_of(path));
    snprintf(path, sizeof path, "%s/sub/data.txt", dest);
    CHECK_INT(0640, mode_of(path));
    snprintf(path, sizeof path, "%s/sub/link", dest);
    char target[64] = {0};
    CHECK_INT(8, readlink(path, target, sizeof target - 1));
    CHECK_STR("data.txt", target);
    snprintf(path, sizeof path, "%s/empty", dest);
    CHECK_INT(0755, mode_of(path));
}

static void creating_refuses_what_extraction_would_refuse(void)
{
    char *src = path_in_workdir("bad-src");
    char path[1200];
    CHECK_INT(0, mkdir(src, 0755));
    snprintf(path, sizeof path, "%s/install.sh", src);
    make_file(path, shell, 0755);
    snprintf(path, sizeof path, "%s/etc", src);
    CHECK_INT(0, symlink("/etc", path));
    char *zip = path_in_workdir("bad.zip");
    dr_error err = {0};
    CHECK_INT(DR_ERR_ARCHIVE_UNSAFE, dr_archive_create_from_dir(src, zip, &err));
    CHECK_CONTAINS("entry 'etc': unsafe symlink target '/etc' (absolute path)", err.detail);
    CHECK(!exists(zip));
    CHECK(!temp_left_behind());

    char *empty = path_in_workdir("empty-src");
    CHECK_INT(0, mkdir(empty, 0755));
    CHECK_INT(DR_ERR_IO, dr_archive_create_from_dir(empty, zip, &err));
    CHECK_CONTAINS("empty", err.detail);
    CHECK(!exists(zip));
    CHECK(!temp_left_behind());
}

int main(void)
{
    if (!mkdtemp(workdir)) {
        perror("mkdtemp");
        return 1;
    }
    unsafe_names_are_named_with_their_reason();
    good_zip_extracts_with_modes_dirs_and_safe_symlinks();
    listing_reports_names_sizes_kinds_and_modes();
    zip_slip_names_are_refused_before_anything_is_written();
    symlinks_leading_outside_are_refused();
    devices_fifos_and_sockets_are_refused();
    colliding_entries_are_refused();
    zip_bombs_are_refused();
    a_lying_size_header_does_not_beat_the_limit();
    truncated_and_corrupt_zips_are_archive_errors();
    a_directory_zips_reproducibly_and_round_trips();
    creating_refuses_what_extraction_would_refuse();
    CHECK_INT(DR_OK, dr_remove_tree(workdir, NULL));
    return check_done("archive");
}
