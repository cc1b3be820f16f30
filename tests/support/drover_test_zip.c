/*
 * drover_test_zip - write a zip with exactly the entries a test asks for,
 * including ones no well-behaved zip tool would write (zip-slip names,
 * absolute paths, symlinks that escape), so tests can feed them to Drover.
 *
 *   drover_test_zip OUT.zip [NAME=CONTENT_FILE | NAME= | --symlink NAME=TARGET |
 *                            --dir NAME | --mode NAME=0755] ...
 *
 * NAME=CONTENT_FILE stores the file's bytes under NAME exactly as given
 * (NAME= stores an empty file); --symlink stores a Unix symlink entry;
 * --dir a directory entry; --mode sets an entry's permission bits (applied
 * after all entries are added, so it may come before or after its entry).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

static int fail(zip_t *zip, const char *what, const char *name)
{
    fprintf(stderr, "drover_test_zip: %s '%s': %s\n", what, name, zip ? zip_strerror(zip) : "");
    return 1;
}

/* Split "NAME=VALUE" at the first '=' in place; NULL when there is none. */
static char *split_value(char *arg)
{
    char *eq = strchr(arg, '=');
    if (!eq)
        return NULL;
    *eq = '\0';
    return eq + 1;
}

static int set_mode(zip_t *zip, const char *name, mode_t type, mode_t mode)
{
    zip_int64_t index = zip_name_locate(zip, name, ZIP_FL_ENC_RAW);
    if (index < 0)
        return fail(zip, "no entry", name);
    if (zip_file_set_external_attributes(zip, (zip_uint64_t)index, 0, ZIP_OPSYS_UNIX,
                                         (zip_uint32_t)(type | mode) << 16) != 0)
        return fail(zip, "cannot set mode of", name);
    return 0;
}

static int add_entry(zip_t *zip, int argc, char **argv, int *i)
{
    char *arg = argv[*i];
    if (strcmp(arg, "--symlink") == 0 || strcmp(arg, "--dir") == 0 || strcmp(arg, "--mode") == 0) {
        if (*i + 1 >= argc)
            return fail(NULL, "missing value after", arg);
        (*i)++;
        if (strcmp(arg, "--mode") == 0)
            return 0; /* applied once every entry exists */
        if (strcmp(arg, "--dir") == 0)
            return zip_dir_add(zip, argv[*i], ZIP_FL_ENC_RAW) < 0 ? fail(zip, "cannot add directory", argv[*i]) : 0;
        char *name = argv[*i];
        char *target = split_value(name);
        if (!target)
            return fail(NULL, "expected NAME=TARGET, got", name);
        zip_source_t *src = zip_source_buffer(zip, target, strlen(target), 0);
        zip_int64_t index = src ? zip_file_add(zip, name, src, ZIP_FL_ENC_RAW) : -1;
        if (index < 0) {
            zip_source_free(src);
            return fail(zip, "cannot add symlink", name);
        }
        return set_mode(zip, name, S_IFLNK, 0777);
    }
    char *name = arg;
    char *content = split_value(name);
    if (!content)
        return fail(NULL, "expected NAME=CONTENT_FILE, got", name);
    zip_source_t *src =
        content[0] ? zip_source_file(zip, content, 0, -1 /* to the end */) : zip_source_buffer(zip, "", 0, 0);
    if (!src)
        return fail(zip, "cannot read", content);
    if (zip_file_add(zip, name, src, ZIP_FL_ENC_RAW) < 0) {
        zip_source_free(src);
        return fail(zip, "cannot add", name);
    }
    return set_mode(zip, name, S_IFREG, 0644);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: drover_test_zip OUT.zip [NAME=CONTENT_FILE | NAME= | --symlink NAME=TARGET | "
                "--dir NAME | --mode NAME=0755] ...\n");
        return 2;
    }
    int error = 0;
    zip_t *zip = zip_open(argv[1], ZIP_CREATE | ZIP_TRUNCATE, &error);
    if (!zip) {
        fprintf(stderr, "drover_test_zip: cannot create %s (libzip error %d)\n", argv[1], error);
        return 1;
    }
    int rc = 0;
    for (int i = 2; i < argc && rc == 0; i++)
        rc = add_entry(zip, argc, argv, &i);
    for (int i = 2; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "--mode") != 0)
            continue;
        char *name = argv[++i];
        char *mode = split_value(name);
        if (!mode)
            rc = fail(NULL, "expected NAME=MODE, got", name);
        else
            rc = set_mode(zip, name, S_IFREG, (mode_t)strtoul(mode, NULL, 8));
    }
    if (rc != 0) {
        zip_discard(zip);
        return rc;
    }
    if (zip_close(zip) != 0) {
        fail(zip, "cannot write", argv[1]);
        zip_discard(zip);
        return 1;
    }
    return 0;
}
