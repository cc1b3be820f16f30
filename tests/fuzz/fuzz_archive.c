/*
 * The zip extractor on hostile archives: every input is written to a file
 * and extracted into a fresh directory under small limits, then removed.
 * Whatever it accepts must land inside the directory (zip-slip and links
 * out are refused); what it refuses must leave nothing behind.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "files.h"

static char scratch[] = "/tmp/drover-fuzz-archive-XXXXXX";
static char zip_path[256], dest[256];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!mkdtemp(scratch))
        abort();
    snprintf(zip_path, sizeof zip_path, "%s/in.zip", scratch);
    snprintf(dest, sizeof dest, "%s/out", scratch);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(zip_path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    dr_archive_limits limits = {.max_entries = 64, .max_total_bytes = 1 << 20, .max_entry_bytes = 1 << 19};
    struct stat st;
    dr_status status = dr_archive_extract(zip_path, dest, &limits, NULL);
    /* A refusal leaves no destination behind, and no temporary directory either: scratch holds in.zip (and out). */
    if (status != DR_OK && lstat(dest, &st) == 0)
        abort();
    DIR *dir = opendir(scratch);
    int entries = 0;
    for (struct dirent *e = dir ? readdir(dir) : NULL; e; e = readdir(dir))
        entries += e->d_name[0] != '.';
    if (!dir || entries != (status == DR_OK ? 2 : 1))
        abort();
    closedir(dir);
    dr_remove_tree(dest, NULL);
    return 0;
}
