/*
 * files.h: mkdir -p, and rm -rf that never follows a symlink out of the tree
 * (the engine removes package trees that hold the package's own symlinks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "test_files.h"

static char workdir[] = "/tmp/drover-files-test-XXXXXX";

static char *path_in_workdir(const char *name)
{
    return path_in(workdir, name);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void make_directories_creates_every_missing_parent(void)
{
    dr_error err = {0};
    char *deep = path_in_workdir("made/a/b/c");
    CHECK_INT(DR_OK, dr_make_directories(deep, &err));
    struct stat st;
    CHECK_INT(0, stat(deep, &st));
    CHECK(S_ISDIR(st.st_mode));
    /* Again: what exists is fine. */
    CHECK_INT(DR_OK, dr_make_directories(deep, &err));
    CHECK_INT(DR_OK, dr_make_directories(path_in_workdir("made/a/b/c/"), &err));

    char *file = path_in_workdir("made/file");
    write_file(file, "x", 1);
    CHECK_INT(DR_ERR_IO, dr_make_directories(path_in_workdir("made/file/below"), &err));
    CHECK_CONTAINS("cannot create", err.detail);
    CHECK_CONTAINS("made/file/below", err.detail);

    char too_long[5000];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[0] = '/';
    too_long[sizeof too_long - 1] = '\0';
    CHECK_INT(DR_ERR_IO, dr_make_directories(too_long, &err));
    CHECK_CONTAINS("path too long", err.detail);
}

static void remove_tree_removes_links_but_not_what_they_point_to(void)
{
    dr_error err = {0};
    char outside[1024], kept[1024]; /* used past path_in_workdir's few */
    snprintf(outside, sizeof outside, "%s", path_in_workdir("outside"));
    snprintf(kept, sizeof kept, "%s", path_in_workdir("outside/kept"));
    CHECK_INT(DR_OK, dr_make_directories(outside, &err));
    write_file(kept, "keep", 4);

    char tree[1024];
    snprintf(tree, sizeof tree, "%s", path_in_workdir("tree"));
    CHECK_INT(DR_OK, dr_make_directories(path_in_workdir("tree/sub/deeper"), &err));
    write_file(path_in_workdir("tree/top"), "1", 1);
    write_file(path_in_workdir("tree/sub/deeper/leaf"), "2", 1);
    CHECK_INT(0, symlink(outside, path_in_workdir("tree/link-to-dir")));
    CHECK_INT(0, symlink(kept, path_in_workdir("tree/sub/link-to-file")));
    CHECK_INT(0, symlink("nowhere", path_in_workdir("tree/dangling")));

    CHECK_INT(DR_OK, dr_remove_tree(tree, &err));
    CHECK(!exists(tree));
    CHECK(exists(kept));

    /* The path itself a symlink: only the link goes. */
    char *link = path_in_workdir("link");
    CHECK_INT(0, symlink(outside, link));
    CHECK_INT(DR_OK, dr_remove_tree(link, &err));
    CHECK(!exists(link));
    CHECK(exists(kept));

    /* A single file is a tree of one. */
    CHECK_INT(DR_OK, dr_remove_tree(kept, &err));
    CHECK(!exists(kept));
}

static void remove_tree_of_nothing_is_fine(void)
{
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_remove_tree(path_in_workdir("never-made"), &err));
    CHECK_INT(DR_OK, dr_remove_tree(path_in_workdir("never-made/below"), &err));
}

static void remove_tree_failure_names_the_path(void)
{
    dr_error err = {0};
    char *file = path_in_workdir("plain");
    write_file(file, "x", 1);
    CHECK_INT(DR_ERR_IO, dr_remove_tree(path_in_workdir("plain/below"), &err));
    CHECK_CONTAINS("cannot remove", err.detail);
    CHECK_CONTAINS("plain/below", err.detail);
    CHECK(exists(file));
}

/* An entry it cannot remove does not stop the rest going; the error names that entry. */
static void remove_tree_keeps_going_past_what_it_cannot_remove(void)
{
    if (geteuid() == 0) {
        printf("files: skipped the permission check: root may remove anything\n");
        return;
    }
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_make_directories(path_in_workdir("stuck/locked"), &err));
    write_file(path_in_workdir("stuck/locked/held"), "x", 1);
    write_file(path_in_workdir("stuck/free"), "y", 1);
    CHECK_INT(0, chmod(path_in_workdir("stuck/locked"), 0555));

    CHECK_INT(DR_ERR_IO, dr_remove_tree(path_in_workdir("stuck"), &err));
    CHECK_CONTAINS("stuck/locked/held", err.detail);
    CHECK(!exists(path_in_workdir("stuck/free")));
    CHECK(exists(path_in_workdir("stuck/locked/held")));
    CHECK_INT(0, chmod(path_in_workdir("stuck/locked"), 0755));
}

static void copy_file_copies_into_a_new_file_only(void)
{
    char src[512], dest[512], missing[512];
    snprintf(src, sizeof src, "%s", path_in_workdir("copy-src"));
    snprintf(dest, sizeof dest, "%s", path_in_workdir("copy-dest"));
    snprintf(missing, sizeof missing, "%s", path_in_workdir("copy-missing"));
    FILE *f = fopen(src, "w");
    CHECK(f != NULL);
    for (int i = 0; i < 20000; i++) /* more than one read */
        fprintf(f, "line %d\n", i);
    fclose(f);
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_copy_file(src, dest, &err));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", src, dest);
    CHECK_INT(0, system(cmd));
    /* dest exists now: refused, and left as it was. */
    CHECK_INT(DR_ERR_IO, dr_copy_file(src, dest, &err));
    CHECK_CONTAINS(dest, err.detail);
    CHECK_INT(DR_ERR_IO, dr_copy_file(missing, path_in_workdir("copy-none"), &err));
    CHECK_CONTAINS("cannot read", err.detail);
    CHECK_CONTAINS(missing, err.detail);
    CHECK_INT(0, system(cmd));
}

static void make_temp_directory_makes_a_new_private_directory_each_time(void)
{
    dr_error err = {0};
    char *prefix = path_in_workdir("tmp-");
    char *first = NULL, *second = NULL;
    CHECK_INT(DR_OK, dr_make_temp_directory(prefix, &first, &err));
    CHECK_INT(DR_OK, dr_make_temp_directory(prefix, &second, &err));
    CHECK(strncmp(first, prefix, strlen(prefix)) == 0 && strlen(first) == strlen(prefix) + 6);
    CHECK(strcmp(first, second) != 0);
    struct stat st;
    CHECK_INT(0, stat(first, &st));
    CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    /* A prefix under a missing folder: refused, naming it, and no name handed out. */
    char *missing = path_in_workdir("no-such-folder/tmp-");
    char *none = (char *)"untouched";
    CHECK_INT(DR_ERR_IO, dr_make_temp_directory(missing, &none, &err));
    CHECK(none == NULL);
    CHECK_CONTAINS(missing, err.detail);
    free(first);
    free(second);
}

int main(void)
{
    if (!mkdtemp(workdir)) {
        perror("mkdtemp");
        return 1;
    }
    make_directories_creates_every_missing_parent();
    remove_tree_removes_links_but_not_what_they_point_to();
    remove_tree_of_nothing_is_fine();
    remove_tree_failure_names_the_path();
    remove_tree_keeps_going_past_what_it_cannot_remove();
    copy_file_copies_into_a_new_file_only();
    make_temp_directory_makes_a_new_private_directory_each_time();
    CHECK_INT(DR_OK, dr_remove_tree(workdir, NULL));
    CHECK(!exists(workdir));
    return check_done("files");
}
