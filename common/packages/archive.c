/*
 * archive.c - zip reading, checking and writing over libzip.
 *
 * Extraction runs in two passes.  The first reads only the central directory
 * (and the few bytes of each symlink's target) and refuses the whole archive
 * if any entry is unsafe, over a limit, or collides with another entry; so a
 * hostile zip is turned away before one byte reaches the disk.  The second
 * writes into a private temporary directory through directory file
 * descriptors opened with O_NOFOLLOW, so no path we write can be redirected,
 * and counts the bytes it really writes, because the sizes in the headers
 * are only claims.  Symlinks are made last: until then nothing in the tree
 * can point anywhere.
 */
#include "archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "files.h"

/* Longest entry name (and symlink target) we accept; real packages are far below it. */
#define NAME_LENGTH_MAX 1024
#define COPY_BUFFER_SIZE (64 * 1024)
/* Entry names quoted in messages are cut to this, and control characters shown as '?'. */
#define QUOTED_NAME_MAX 200

void dr_archive_limits_default(dr_archive_limits *limits)
{
    limits->max_entries = 10000;
    limits->max_total_bytes = 4ULL << 30;
    limits->max_entry_bytes = 1ULL << 30;
}

/* ---- names ---- */

static const char *unsafe_path_reason(const char *path, size_t len)
{
    if (len == 0)
        return "empty name";
    if (len > NAME_LENGTH_MAX)
        return "name too long";
    if (path[0] == '/')
        return "absolute path";
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        if (i - start == 2 && path[start] == '.' && path[start + 1] == '.')
            return "'..' component";
        start = i + 1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '\\')
            return "backslash";
        if (c < 0x20 || c == 0x7f)
            return "control character";
    }
    return NULL;
}

const char *dr_archive_unsafe_name_reason(const char *name)
{
    if (!name)
        return "empty name";
    return unsafe_path_reason(name, strlen(name));
}

/* A name fit for an error message: hostile names may hold escapes or be very long. */
static const char *quoted(const char *name, char out[QUOTED_NAME_MAX + 4])
{
    size_t i = 0;
    for (; name[i] && i < QUOTED_NAME_MAX; i++) {
        unsigned char c = (unsigned char)name[i];
        out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (name[i])
        memcpy(out + i, "...", 3), i += 3;
    out[i] = '\0';
    return out;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/*
 * The path an entry lands on, relative to the destination: "." and empty
 * components dropped, no trailing '/'; "" for the destination itself.
 * Two entries that land on the same file have the same canonical path.
 */
static char *canonical_path(const char *name)
{
    char *out = malloc(strlen(name) + 1);
    if (!out)
        return NULL;
    size_t used = 0;
    const char *p = name;
    while (*p) {
        const char *end = strchrnul(p, '/');
        size_t len = (size_t)(end - p);
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (used > 0)
                out[used++] = '/';
            memcpy(out + used, p, len);
            used += len;
        }
        p = *end ? end + 1 : end;
    }
    out[used] = '\0';
    return out;
}

/* strcmp, except that '/' sorts before every other byte, so a path's children follow it directly. */
static int path_order(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
        if (ca == cb) {
            if (!ca)
                return 0;
            continue;
        }
        if (!ca || !cb)
            return ca ? 1 : -1;
        if (ca == '/' || cb == '/')
            return ca == '/' ? -1 : 1;
        return ca < cb ? -1 : 1;
    }
}

/* ---- reading a zip ---- */

static dr_status open_zip(const char *zip_path, zip_t **out, dr_error *err)
{
    int code = 0;
    *out = zip_open(zip_path, ZIP_CHECKCONS | ZIP_RDONLY, &code);
    if (*out)
        return DR_OK;
    dr_status status = DR_ERR_ARCHIVE;
    if (code == ZIP_ER_NOENT || code == ZIP_ER_OPEN || code == ZIP_ER_READ)
        status = DR_ERR_IO;
    else if (code == ZIP_ER_MEMORY)
        status = DR_ERR_NOMEM;
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    dr_error_set(err, status, "%s: %s", status == DR_ERR_IO ? zip_path : base_name(zip_path),
                 zip_error_strerror(&error));
    zip_error_fini(&error);
    return status;
}

/* Name, declared size, kind and mode of one entry, as the central directory tells them. */
typedef struct entry_info {
    const char *name; /* owned by the zip_t */
    uint64_t size;
    dr_archive_entry_kind kind;
    unsigned mode;      /* permission bits, 0 when none */
    bool has_unix_mode; /* the entry was made on Unix and carries a mode */
} entry_info;

static dr_status read_entry_info(zip_t *za, zip_uint64_t index, const char *label, entry_info *info, dr_error *err)
{
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, index, 0, &st) != 0)
        return dr_error_set(err, DR_ERR_ARCHIVE, "%s: entry #%llu: %s", label, (unsigned long long)index,
                            zip_strerror(za));
    info->name = (st.valid & ZIP_STAT_NAME) && st.name ? st.name : "";
    info->size = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;

    zip_uint8_t opsys = 0;
    zip_uint32_t attributes = 0;
    unsigned unix_mode = 0;
    if (zip_file_get_external_attributes(za, index, 0, &opsys, &attributes) == 0 && opsys == ZIP_OPSYS_UNIX)
        unix_mode = attributes >> 16;
    info->has_unix_mode = unix_mode != 0;
    info->mode = unix_mode & 07777;

    size_t len = strlen(info->name);
    bool directory_name = len > 0 && info->name[len - 1] == '/';
    switch (unix_mode & S_IFMT) {
    case 0: /* no type recorded: zippers that only store permissions */
    case S_IFREG:
        info->kind = directory_name ? DR_ARCHIVE_DIRECTORY : DR_ARCHIVE_FILE;
        break;
    case S_IFDIR:
        info->kind = DR_ARCHIVE_DIRECTORY;
        break;
    case S_IFLNK:
        info->kind = DR_ARCHIVE_SYMLINK;
        break;
    default: /* device, FIFO, socket, or a type bit pattern that is none of these */
        info->kind = DR_ARCHIVE_OTHER;
        break;
    }
    return DR_OK;
}

dr_status dr_archive_list(const char *zip_path, dr_archive_listing *out, dr_error *err)
{
    out->entries = NULL;
    out->count = 0;
    zip_t *za = NULL;
    dr_archive_listing listing = {0};
    const char *label = base_name(zip_path);
    dr_status status = open_zip(zip_path, &za, err);
    if (status != DR_OK)
        goto cleanup;
    zip_int64_t count = zip_get_num_entries(za, 0);
    listing.entries = calloc(count > 0 ? (size_t)count : 1, sizeof *listing.entries);
    if (!listing.entries) {
        status = dr_error_set(err, DR_ERR_NOMEM, "%s: listing %lld entries", label, (long long)count);
        goto cleanup;
    }
    for (zip_int64_t i = 0; i < count; i++) {
        entry_info info;
        status = read_entry_info(za, (zip_uint64_t)i, label, &info, err);
        if (status != DR_OK)
            goto cleanup;
        dr_archive_entry *entry = &listing.entries[listing.count];
        entry->name = strdup(info.name);
        if (!entry->name) {
            status = dr_error_set(err, DR_ERR_NOMEM, "%s: listing entries", label);
            goto cleanup;
        }
        entry->size = info.size;
        entry->kind = info.kind;
        entry->mode = info.mode;
        listing.count++;
    }
    *out = listing;
    listing.entries = NULL;
    listing.count = 0;

cleanup:
    dr_archive_listing_free(&listing);
    if (za)
        zip_discard(za);
    return status;
}

void dr_archive_listing_free(dr_archive_listing *listing)
{
    if (!listing)
        return;
    for (size_t i = 0; i < listing->count; i++)
        free(listing->entries[i].name);
    free(listing->entries);
    listing->entries = NULL;
    listing->count = 0;
}

/* ---- extraction, pass 1: the plan ---- */

typedef struct planned_entry {
    zip_uint64_t index;
    entry_info info;
    char *path;        /* canonical_path(info.name); owned */
    char *link_target; /* symlinks only; owned */
} planned_entry;

typedef struct extraction {
    zip_t *za;
    const char *label; /* the zip's base name, for messages */
    const dr_archive_limits *limits;
    planned_entry *entries;
    size_t count;
    int root_fd; /* the temporary directory */
    uint64_t total_written;
    char *buffer;
} extraction;

static void free_plan(extraction *x)
{
    for (size_t i = 0; i < x->count; i++) {
        free(x->entries[i].path);
        free(x->entries[i].link_target);
    }
    free(x->entries);
    x->entries = NULL;
    x->count = 0;
}

/* Open entry e's data for reading; DR_ERR_ARCHIVE names the entry and libzip's reason. */
static dr_status open_entry(extraction *x, const planned_entry *e, zip_file_t **out, dr_error *err)
{
    char name[QUOTED_NAME_MAX + 4];
    *out = zip_fopen_index(x->za, e->index, 0);
    if (!*out)
        return dr_error_set(err, DR_ERR_ARCHIVE, "%s: entry '%s': %s", x->label, quoted(e->info.name, name),
                            zip_strerror(x->za));
    return DR_OK;
}

/* Read a symlink's target (its data) now, so an unsafe one is refused before anything is written. */
static dr_status read_link_target(extraction *x, planned_entry *e, dr_error *err)
{
    char name[QUOTED_NAME_MAX + 4];
    char target[NAME_LENGTH_MAX + 2];
    zip_file_t *zf = NULL;
    dr_status status = DR_OK;
    if (e->info.size > NAME_LENGTH_MAX) {
        status = dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "%s: entry '%s': symlink target too long (%llu bytes)",
                              x->label, quoted(e->info.name, name), (unsigned long long)e->info.size);
        goto cleanup;
    }
    if ((status = open_entry(x, e, &zf, err)) != DR_OK)
        goto cleanup;
    size_t got = 0;
    for (;;) {
        zip_int64_t n = zip_fread(zf, target + got, sizeof target - 1 - got);
        if (n < 0) {
            status = dr_error_set(err, DR_ERR_ARCHIVE, "%s: entry '%s': %s", x->label, quoted(e->info.name, name),
                                  zip_file_strerror(zf));
            goto cleanup;
        }
        if (n == 0 || got + (size_t)n == sizeof target - 1) {
            got += (size_t)n;
            break;
        }
        got += (size_t)n;
    }
    if (got != e->info.size) {
        status = dr_error_set(err, DR_ERR_ARCHIVE, "%s: entry '%s': declared %llu bytes, holds %zu", x->label,
                              quoted(e->info.name, name), (unsigned long long)e->info.size, got);
        goto cleanup;
    }
    target[got] = '\0';
    const char *reason = unsafe_path_reason(target, got);
    if (reason) {
        char shown[QUOTED_NAME_MAX + 4];
        status = dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "%s: entry '%s': unsafe symlink target '%s' (%s)", x->label,
                              quoted(e->info.name, name), quoted(target, shown), reason);
        goto cleanup;
    }
    e->link_target = strdup(target);
    if (!e->link_target)
        status = dr_error_set(err, DR_ERR_NOMEM, "%s: symlink target", x->label);

cleanup:
    if (zf)
        zip_fclose(zf);
    return status;
}

static int compare_planned_paths(const void *a, const void *b)
{
    const planned_entry *pa = a, *pb = b;
    int order = path_order(pa->path, pb->path);
    if (order)
        return order;
    return pa->index < pb->index ? -1 : pa->index > pb->index;
}

/*
 * Refuse two entries landing on one path (unless both are directories), and
 * a file or symlink that another entry needs as a directory: extraction would
 * otherwise write through or over it.
 */
static dr_status check_collisions(extraction *x, dr_error *err)
{
    qsort(x->entries, x->count, sizeof *x->entries, compare_planned_paths);
    for (size_t i = 0; i + 1 < x->count; i++) {
        const planned_entry *a = &x->entries[i], *b = &x->entries[i + 1];
        char name[QUOTED_NAME_MAX + 4], other[QUOTED_NAME_MAX + 4];
        if (!a->path[0])
            continue;
        bool a_is_dir = a->info.kind == DR_ARCHIVE_DIRECTORY;
        if (strcmp(a->path, b->path) == 0 && !(a_is_dir && b->info.kind == DR_ARCHIVE_DIRECTORY))
            return dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "%s: entry '%s': more than one entry for this path",
                                x->label, quoted(b->info.name, name));
        size_t len = strlen(a->path);
        if (!a_is_dir && strncmp(a->path, b->path, len) == 0 && b->path[len] == '/')
            return dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "%s: entry '%s': '%s' is not a directory", x->label,
                                quoted(b->info.name, name), quoted(a->info.name, other));
    }
    return DR_OK;
}

/* Pass 1: read every entry and refuse the archive if any is unsafe or over a limit. */
static dr_status plan_extraction(extraction *x, dr_error *err)
{
    char name[QUOTED_NAME_MAX + 4];
    dr_status status = DR_OK;
    zip_int64_t count = zip_get_num_entries(x->za, 0);
    if (count < 0 || (uint64_t)count > x->limits->max_entries) {
        status = dr_error_set(err, DR_ERR_ARCHIVE_LIMIT, "%s: %lld entries, more than the limit of %llu", x->label,
                              (long long)count, (unsigned long long)x->limits->max_entries);
        goto cleanup;
    }
    x->entries = calloc(count > 0 ? (size_t)count : 1, sizeof *x->entries);
    if (!x->entries) {
        status = dr_error_set(err, DR_ERR_NOMEM, "%s: planning %lld entries", x->label, (long long)count);
        goto cleanup;
    }
    uint64_t declared_total = 0;
    for (zip_int64_t i = 0; i < count; i++) {
        planned_entry *e = &x->entries[x->count];
        e->index = (zip_uint64_t)i;
        status = read_entry_info(x->za, e->index, x->label, &e->info, err);
        if (status != DR_OK)
            goto cleanup;
        e->path = canonical_path(e->info.name);
        if (!e->path) {
            status = dr_error_set(err, DR_ERR_NOMEM, "%s: planning entries", x->label);
            goto cleanup;
        }
        x->count++;
        const char *reason = dr_archive_unsafe_name_reason(e->info.name);
        if (reason) {
            status = dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "%s: entry '%s': %s", x->label,
                                  quoted(e->info.name, name), reason);
            goto cleanup;
        }
        if (e->info.kind == DR_ARCHIVE_OTHER) {
            status = dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "%s: entry '%s': a device, FIFO or socket (mode %06o)",
                                  x->label, quoted(e->info.name, name), e->info.mode);
            goto cleanup;
        }
        if (!e->path[0] && e->info.kind != DR_ARCHIVE_DIRECTORY) {
            status = dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "%s: entry '%s': names the destination itself", x->label,
                                  quoted(e->info.name, name));
            goto cleanup;
        }
        if (e->info.kind == DR_ARCHIVE_DIRECTORY)
            continue; /* a directory's data, if any, is never read */
        if (e->info.size > x->limits->max_entry_bytes) {
            status = dr_error_set(err, DR_ERR_ARCHIVE_LIMIT, "%s: entry '%s': %llu bytes, more than the limit of %llu",
                                  x->label, quoted(e->info.name, name), (unsigned long long)e->info.size,
                                  (unsigned long long)x->limits->max_entry_bytes);
            goto cleanup;
        }
        declared_total += e->info.size;
        if (declared_total > x->limits->max_total_bytes) {
            status = dr_error_set(err, DR_ERR_ARCHIVE_LIMIT,
                                  "%s: entry '%s': the archive expands to more than the limit of %llu bytes", x->label,
                                  quoted(e->info.name, name), (unsigned long long)x->limits->max_total_bytes);
            goto cleanup;
        }
    }
    status = check_collisions(x, err);
    for (size_t i = 0; status == DR_OK && i < x->count; i++)
        if (x->entries[i].info.kind == DR_ARCHIVE_SYMLINK)
            status = read_link_target(x, &x->entries[i], err);

cleanup:
    return status;
}

/* ---- extraction, pass 2: writing ---- */

/* Open (making it if missing) the directory component under dir_fd, never following a symlink. */
static dr_status enter_directory(extraction *x, const planned_entry *e, int dir_fd, const char *component, int *out_fd,
                                 dr_error *err)
{
    char name[QUOTED_NAME_MAX + 4];
    dr_status status = DR_OK;
    bool created = mkdirat(dir_fd, component, 0755) == 0;
    if (!created && errno != EEXIST) {
        status = dr_error_set(err, DR_ERR_IO, "%s: entry '%s': mkdir %s: %s", x->label, quoted(e->info.name, name),
                              component, strerror(errno));
        goto cleanup;
    }
    *out_fd = openat(dir_fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*out_fd < 0) {
        bool not_dir = errno == ENOTDIR || errno == ELOOP;
        status = dr_error_set(err, not_dir ? DR_ERR_ARCHIVE_UNSAFE : DR_ERR_IO, "%s: entry '%s': %s: %s", x->label,
                              quoted(e->info.name, name), component,
                              not_dir ? "exists and is not a directory" : strerror(errno));
        goto cleanup;
    }
    /* mkdir's mode passes through the umask; directories are 0755 whatever it is. */
    if (created && fchmod(*out_fd, 0755) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "%s: entry '%s': chmod %s: %s", x->label, quoted(e->info.name, name),
                              component, strerror(errno));
        close(*out_fd);
        *out_fd = -1;
    }

cleanup:
    return status;
}

/*
 * Walk e's directory components from the root, making missing ones.  On
 * success *dir_fd is the directory holding the last component, and *leaf that
 * component (a pointer into path_buffer).
 */
static dr_status open_parent(extraction *x, const planned_entry *e, char path_buffer[NAME_LENGTH_MAX + 1], int *dir_fd,
                             const char **leaf, dr_error *err)
{
    dr_status status = DR_OK;
    snprintf(path_buffer, NAME_LENGTH_MAX + 1, "%s", e->path);
    int fd = fcntl(x->root_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        status = dr_error_set(err, DR_ERR_IO, "%s: dup: %s", x->label, strerror(errno));
        goto cleanup;
    }
    char *component = path_buffer;
    for (char *slash; (slash = strchr(component, '/')) != NULL; component = slash + 1) {
        *slash = '\0';
        int next = -1;
        status = enter_directory(x, e, fd, component, &next, err);
        close(fd);
        fd = next;
        if (status != DR_OK)
            goto cleanup;
    }
    *leaf = component;

cleanup:
    *dir_fd = fd;
    return status;
}

/* Copy one entry's data to leaf under dir_fd, counting what is really written against the limits. */
static dr_status write_file(extraction *x, const planned_entry *e, int dir_fd, const char *leaf, dr_error *err)
{
    char name[QUOTED_NAME_MAX + 4];
    dr_status status = DR_OK;
    zip_file_t *zf = NULL;
    mode_t mode = e->info.has_unix_mode ? (mode_t)(e->info.mode & 0755) : 0644;
    int fd = openat(dir_fd, leaf, O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_WRONLY, mode);
    if (fd < 0) {
        status = dr_error_set(err, errno == EEXIST ? DR_ERR_ARCHIVE_UNSAFE : DR_ERR_IO, "%s: entry '%s': create: %s",
                              x->label, quoted(e->info.name, name), strerror(errno));
        goto cleanup;
    }
    if ((status = open_entry(x, e, &zf, err)) != DR_OK)
        goto cleanup;
    uint64_t written = 0;
    for (;;) {
        zip_int64_t n = zip_fread(zf, x->buffer, COPY_BUFFER_SIZE);
        if (n < 0) {
            status = dr_error_set(err, DR_ERR_ARCHIVE, "%s: entry '%s': %s", x->label, quoted(e->info.name, name),
                                  zip_file_strerror(zf));
            goto cleanup;
        }
        if (n == 0)
            break;
        if (written + (uint64_t)n > x->limits->max_entry_bytes ||
            x->total_written + (uint64_t)n > x->limits->max_total_bytes) {
            status = dr_error_set(err, DR_ERR_ARCHIVE_LIMIT,
                                  "%s: entry '%s': expands past the limit (%llu bytes per entry, %llu in all)",
                                  x->label, quoted(e->info.name, name), (unsigned long long)x->limits->max_entry_bytes,
                                  (unsigned long long)x->limits->max_total_bytes);
            goto cleanup;
        }
        if (dr_write_all(fd, x->buffer, (size_t)n) != 0) {
            status = dr_error_set(err, DR_ERR_IO, "%s: entry '%s': write: %s", x->label, quoted(e->info.name, name),
                                  strerror(errno));
            goto cleanup;
        }
        written += (uint64_t)n;
        x->total_written += (uint64_t)n;
    }
    if (written != e->info.size) {
        status =
            dr_error_set(err, DR_ERR_ARCHIVE, "%s: entry '%s': declared %llu bytes, holds %llu", x->label,
                         quoted(e->info.name, name), (unsigned long long)e->info.size, (unsigned long long)written);
        goto cleanup;
    }
    int zip_code = zip_fclose(zf);
    zf = NULL;
    if (zip_code != 0) {
        zip_error_t error;
        zip_error_init_with_code(&error, zip_code);
        status = dr_error_set(err, DR_ERR_ARCHIVE, "%s: entry '%s': %s", x->label, quoted(e->info.name, name),
                              zip_error_strerror(&error));
        zip_error_fini(&error);
        goto cleanup;
    }
    /* The create mode passes through the umask; the entry's bits are what we promise. */
    bool chmod_ok = fchmod(fd, mode) == 0;
    int saved_errno = errno;
    bool close_ok = close(fd) == 0;
    fd = -1;
    if (!chmod_ok || !close_ok) {
        errno = chmod_ok ? errno : saved_errno;
        status =
            dr_error_set(err, DR_ERR_IO, "%s: entry '%s': %s", x->label, quoted(e->info.name, name), strerror(errno));
        goto cleanup;
    }

cleanup:
    if (zf)
        zip_fclose(zf);
    if (fd >= 0)
        close(fd);
    return status;
}

static dr_status write_entry(extraction *x, const planned_entry *e, dr_error *err)
{
    char name[QUOTED_NAME_MAX + 4];
    char path[NAME_LENGTH_MAX + 1];
    const char *leaf = NULL;
    int dir_fd = -1;
    dr_status status = open_parent(x, e, path, &dir_fd, &leaf, err);
    if (status != DR_OK)
        goto cleanup;
    if (e->info.kind == DR_ARCHIVE_DIRECTORY) {
        int fd = -1;
        status = enter_directory(x, e, dir_fd, leaf, &fd, err);
        if (fd >= 0)
            close(fd);
    } else if (e->info.kind == DR_ARCHIVE_SYMLINK) {
        if (symlinkat(e->link_target, dir_fd, leaf) != 0)
            status = dr_error_set(err, errno == EEXIST ? DR_ERR_ARCHIVE_UNSAFE : DR_ERR_IO,
                                  "%s: entry '%s': symlink: %s", x->label, quoted(e->info.name, name), strerror(errno));
    } else {
        status = write_file(x, e, dir_fd, leaf, err);
    }

cleanup:
    if (dir_fd >= 0)
        close(dir_fd);
    return status;
}

static int compare_entry_index(const void *a, const void *b)
{
    const planned_entry *pa = a, *pb = b;
    return pa->index < pb->index ? -1 : pa->index > pb->index;
}

dr_status dr_archive_extract(const char *zip_path, const char *dest_dir, const dr_archive_limits *limits, dr_error *err)
{
    dr_archive_limits default_limits;
    if (!limits) {
        dr_archive_limits_default(&default_limits);
        limits = &default_limits;
    }
    extraction x = {.label = base_name(zip_path), .limits = limits, .root_fd = -1};
    char *dest = strdup(dest_dir);
    char *temp_dir = NULL;
    bool temp_made = false;
    dr_status status = DR_OK;
    if (!dest) {
        status = dr_error_set(err, DR_ERR_NOMEM, "extracting %s", x.label);
        goto cleanup;
    }
    /* "dir/" must give "dir.tmp-XXXXXX" beside dir, not inside it. */
    for (size_t len = strlen(dest); len > 1 && dest[len - 1] == '/'; len--)
        dest[len - 1] = '\0';

    status = open_zip(zip_path, &x.za, err);
    if (status != DR_OK)
        goto cleanup;
    status = plan_extraction(&x, err);
    if (status != DR_OK)
        goto cleanup;

    struct stat st;
    bool dest_exists = lstat(dest, &st) == 0;
    if (dest_exists || errno != ENOENT) {
        status = dr_error_set(err, DR_ERR_IO, "extracting %s: %s: %s", x.label, dest,
                              dest_exists ? "already exists" : strerror(errno));
        goto cleanup;
    }
    x.buffer = malloc(COPY_BUFFER_SIZE);
    if (!x.buffer || asprintf(&temp_dir, "%s.tmp-XXXXXX", dest) < 0) {
        temp_dir = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "extracting %s", x.label);
        goto cleanup;
    }
    if (!mkdtemp(temp_dir)) {
        status = dr_error_set(err, DR_ERR_IO, "extracting %s: mkdtemp %s: %s", x.label, temp_dir, strerror(errno));
        goto cleanup;
    }
    temp_made = true;
    x.root_fd = open(temp_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (x.root_fd < 0 || fchmod(x.root_fd, 0755) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "extracting %s: %s: %s", x.label, temp_dir, strerror(errno));
        goto cleanup;
    }

    /* Archive order for files and directories (reads the zip front to back), then symlinks. */
    qsort(x.entries, x.count, sizeof *x.entries, compare_entry_index);
    for (int symlinks = 0; symlinks <= 1; symlinks++) {
        for (size_t i = 0; i < x.count; i++) {
            const planned_entry *e = &x.entries[i];
            if ((e->info.kind == DR_ARCHIVE_SYMLINK) != symlinks || !e->path[0])
                continue;
            status = write_entry(&x, e, err);
            if (status != DR_OK)
                goto cleanup;
        }
    }

    if (renameat2(AT_FDCWD, temp_dir, AT_FDCWD, dest, RENAME_NOREPLACE) != 0) {
        /* A filesystem without RENAME_NOREPLACE: dest was checked above, plain rename will do. */
        if ((errno != EINVAL && errno != ENOSYS) || rename(temp_dir, dest) != 0) {
            status = dr_error_set(err, DR_ERR_IO, "extracting %s: rename to %s: %s", x.label, dest,
                                  errno == EEXIST ? "already exists" : strerror(errno));
            goto cleanup;
        }
    }
    temp_made = false;

cleanup:
    if (x.root_fd >= 0)
        close(x.root_fd);
    if (temp_made)
        dr_remove_tree(temp_dir, NULL); /* best effort: the error that brought us here is the one to report */
    free_plan(&x);
    if (x.za)
        zip_discard(x.za);
    free(x.buffer);
    free(temp_dir);
    free(dest);
    return status;
}

/* ---- creating a zip ---- */

typedef struct zip_writer {
    zip_t *za;
    const char *src_dir;
    size_t added;
} zip_writer;

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted bytewise so the zip does not depend on readdir order or locale. */
static dr_status sorted_names(const char *dir, char ***out, size_t *out_count, dr_error *err)
{
    dr_status status = DR_OK;
    char **names = NULL;
    size_t count = 0, capacity = 0;
    DIR *d = opendir(dir);
    if (!d) {
        status = dr_error_set(err, DR_ERR_IO, "opendir %s: %s", dir, strerror(errno));
        goto cleanup;
    }
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (count == capacity) {
            size_t grown = capacity ? capacity * 2 : 16;
            char **bigger = realloc(names, grown * sizeof *names);
            if (!bigger) {
                status = dr_error_set(err, DR_ERR_NOMEM, "listing %s", dir);
                goto cleanup;
            }
            names = bigger;
            capacity = grown;
        }
        if (!(names[count] = strdup(de->d_name))) {
            status = dr_error_set(err, DR_ERR_NOMEM, "listing %s", dir);
            goto cleanup;
        }
        count++;
    }
    if (count)
        qsort(names, count, sizeof *names, compare_names);
    *out = names;
    *out_count = count;
    names = NULL;

cleanup:
    if (names) {
        for (size_t i = 0; i < count; i++)
            free(names[i]);
        free(names);
    }
    if (d)
        closedir(d);
    return status;
}

/* Add the file system object at src_dir/relative as an entry, recursing into directories. */
static dr_status add_path(zip_writer *w, const char *relative, dr_error *err);

static dr_status add_children(zip_writer *w, const char *relative, dr_error *err)
{
    char **names = NULL;
    size_t count = 0;
    char *dir = NULL;
    dr_status status = DR_OK;
    if (asprintf(&dir, "%s%s%s", w->src_dir, relative[0] ? "/" : "", relative) < 0) {
        dir = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "zipping %s", w->src_dir);
        goto cleanup;
    }
    status = sorted_names(dir, &names, &count, err);
    for (size_t i = 0; status == DR_OK && i < count; i++) {
        char *child = NULL;
        if (asprintf(&child, "%s%s%s", relative, relative[0] ? "/" : "", names[i]) < 0) {
            status = dr_error_set(err, DR_ERR_NOMEM, "zipping %s", w->src_dir);
            break;
        }
        status = add_path(w, child, err);
        free(child);
    }

cleanup:
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    free(dir);
    return status;
}

static dr_status add_path(zip_writer *w, const char *relative, dr_error *err)
{
    char quoted_name[QUOTED_NAME_MAX + 4];
    char *full = NULL, *entry_name = NULL, *link_data = NULL;
    zip_source_t *source = NULL;
    zip_int64_t index = -1;
    dr_status status = DR_OK;
    struct stat st;
    if (asprintf(&full, "%s/%s", w->src_dir, relative) < 0) {
        full = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "zipping %s", w->src_dir);
        goto cleanup;
    }
    if (lstat(full, &st) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "zipping %s: %s", full, strerror(errno));
        goto cleanup;
    }
    if (asprintf(&entry_name, "%s%s", relative, S_ISDIR(st.st_mode) ? "/" : "") < 0) {
        entry_name = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "zipping %s", w->src_dir);
        goto cleanup;
    }
    const char *reason = dr_archive_unsafe_name_reason(entry_name);
    if (reason) {
        status = dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "zipping %s: entry '%s': %s", w->src_dir,
                              quoted(entry_name, quoted_name), reason);
        goto cleanup;
    }

    if (S_ISDIR(st.st_mode)) {
        index = zip_dir_add(w->za, entry_name, 0);
    } else if (S_ISREG(st.st_mode)) {
        source = zip_source_file(w->za, full, 0, -1);
        if (source && (index = zip_file_add(w->za, entry_name, source, 0)) >= 0)
            source = NULL; /* the archive owns it now */
    } else if (S_ISLNK(st.st_mode)) {
        char target[NAME_LENGTH_MAX + 2];
        ssize_t len = readlink(full, target, sizeof target - 1);
        if (len < 0) {
            status = dr_error_set(err, DR_ERR_IO, "zipping %s: readlink: %s", full, strerror(errno));
            goto cleanup;
        }
        target[len] = '\0';
        /* Extraction would refuse it; better to say so now, at build time. */
        if ((reason = unsafe_path_reason(target, (size_t)len)) != NULL) {
            char shown[QUOTED_NAME_MAX + 4];
            status = dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "zipping %s: entry '%s': unsafe symlink target '%s' (%s)",
                                  w->src_dir, quoted(entry_name, quoted_name), quoted(target, shown), reason);
            goto cleanup;
        }
        if (!(link_data = strdup(target))) {
            status = dr_error_set(err, DR_ERR_NOMEM, "zipping %s", w->src_dir);
            goto cleanup;
        }
        source = zip_source_buffer(w->za, link_data, (zip_uint64_t)len, 1);
        if (source) {
            link_data = NULL; /* freed with the source */
            if ((index = zip_file_add(w->za, entry_name, source, 0)) >= 0)
                source = NULL;
        }
    } else {
        status = dr_error_set(err, DR_ERR_ARCHIVE_UNSAFE, "zipping %s: entry '%s': not a file, directory or symlink",
                              w->src_dir, quoted(entry_name, quoted_name));
        goto cleanup;
    }
    /* The mode goes in the Unix half of the external attributes; mtime from the source keeps output reproducible. */
    if (index < 0 ||
        zip_file_set_external_attributes(w->za, (zip_uint64_t)index, 0, ZIP_OPSYS_UNIX,
                                         (zip_uint32_t)st.st_mode << 16) != 0 ||
        zip_file_set_mtime(w->za, (zip_uint64_t)index, st.st_mtime, 0) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "zipping %s: entry '%s': %s", w->src_dir, quoted(entry_name, quoted_name),
                              zip_strerror(w->za));
        goto cleanup;
    }
    w->added++;
    if (S_ISDIR(st.st_mode))
        status = add_children(w, relative, err);

cleanup:
    if (source)
        zip_source_free(source);
    free(link_data);
    free(entry_name);
    free(full);
    return status;
}

dr_status dr_archive_create_from_dir(const char *src_dir, const char *zip_path, dr_error *err)
{
    zip_writer w = {.src_dir = src_dir};
    char *temp_path = NULL;
    bool temp_made = false;
    dr_status status = DR_OK;
    if (asprintf(&temp_path, "%s.tmp-XXXXXX", zip_path) < 0) {
        temp_path = NULL;
        status = dr_error_set(err, DR_ERR_NOMEM, "zipping %s", src_dir);
        goto cleanup;
    }
    int fd = mkstemp(temp_path);
    if (fd < 0) {
        status = dr_error_set(err, DR_ERR_IO, "zipping %s: mkstemp %s: %s", src_dir, temp_path, strerror(errno));
        goto cleanup;
    }
    temp_made = true;
    /* libzip keeps the mode of the file it replaces; mkstemp's 0600 would make an unpublishable artifact. */
    bool chmod_ok = fchmod(fd, 0644) == 0;
    close(fd);
    if (!chmod_ok) {
        status = dr_error_set(err, DR_ERR_IO, "zipping %s: chmod %s: %s", src_dir, temp_path, strerror(errno));
        goto cleanup;
    }
    int code = 0;
    w.za = zip_open(temp_path, ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (!w.za) {
        zip_error_t error;
        zip_error_init_with_code(&error, code);
        status = dr_error_set(err, DR_ERR_IO, "zipping %s: %s: %s", src_dir, temp_path, zip_error_strerror(&error));
        zip_error_fini(&error);
        goto cleanup;
    }
    status = add_children(&w, "", err);
    if (status != DR_OK)
        goto cleanup;
    /* libzip writes no file at all for an empty archive. */
    if (w.added == 0) {
        status = dr_error_set(err, DR_ERR_IO, "zipping %s: the directory is empty", src_dir);
        goto cleanup;
    }
    if (zip_close(w.za) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "zipping %s into %s: %s", src_dir, zip_path, zip_strerror(w.za));
        goto cleanup;
    }
    w.za = NULL;
    if (rename(temp_path, zip_path) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "zipping %s: rename to %s: %s", src_dir, zip_path, strerror(errno));
        goto cleanup;
    }
    temp_made = false;

cleanup:
    if (w.za)
        zip_discard(w.za);
    if (temp_made)
        unlink(temp_path);
    free(temp_path);
    return status;
}
