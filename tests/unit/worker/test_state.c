/* The install record (atomic, round trip) and the target lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "state.h"

static char root[] = "/tmp/drover-state-test-XXXXXX";

static void record_round_trips(void)
{
    char *dir = dr_state_package_dir(root, "acme");
    CHECK_CONTAINS("/var/lib/drover/packages/acme", dir);
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_make_directories(dir, &err));
    dr_install_record got;
    int found = 1;
    CHECK_INT(DR_OK, dr_install_record_read(dir, &got, &found, &err));
    CHECK_INT(0, found);

    char *args[] = {"A=1", "B=two words"};
    dr_install_record rec = {.package = "acme",
                             .version = "1.2",
                             .directory = "1.2-abc",
                             .manifest_sha256 = "m",
                             .file_sha256 = "f",
                             .args_digest = "d",
                             .args = args,
                             .arg_count = 2,
                             .job_id = "dep/t1",
                             .installed_at_ms = 1234,
                             .needs_repair = 1};
    CHECK_INT(DR_OK, dr_install_record_write(dir, &rec, &err));
    CHECK_INT(DR_OK, dr_install_record_read(dir, &got, &found, &err));
    CHECK_INT(1, found);
    CHECK_STR("1.2", got.version);
    CHECK_STR("1.2-abc", got.directory);
    CHECK_INT(2, got.arg_count);
    CHECK_STR("B=two words", got.args[1]);
    CHECK_INT(1234, got.installed_at_ms);
    CHECK_INT(1, got.needs_repair);
    dr_install_record_free(&got);

    /* A damaged record is an error, not "nothing installed". */
    char path[4200];
    snprintf(path, sizeof path, "%s/installstate", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"version\": ", f);
    fclose(f);
    CHECK_INT(DR_ERR_STATE, dr_install_record_read(dir, &got, &found, &err));
    CHECK_CONTAINS("installstate", err.detail);
    CHECK_INT(DR_OK, dr_install_record_remove(dir, &err));
    CHECK_INT(DR_OK, dr_install_record_read(dir, &got, &found, &err));
    CHECK_INT(0, found);
    free(dir);
}

static void lock_excludes_and_reports_take_over(void)
{
    char *dir = dr_state_package_dir(root, "locked");
    dr_error err = {0};
    dr_target_lock held;
    char previous[256];
    CHECK_INT(DR_OK, dr_target_lock_acquire(dir, "pid=1 job=first", 1, &held, previous, sizeof previous, &err));
    CHECK_STR("", previous);
    /* A second taker (another open file description) waits, then gives up naming the holder. */
    dr_target_lock second;
    CHECK_INT(DR_ERR_LOCKED, dr_target_lock_acquire(dir, "pid=2", 1, &second, previous, sizeof previous, &err));
    CHECK_CONTAINS("held by pid=1 job=first", err.detail);
    dr_target_lock_release(&held);
    CHECK_INT(DR_OK, dr_target_lock_acquire(dir, "pid=2", 1, &second, previous, sizeof previous, &err));
    CHECK_STR("", previous);
    dr_target_lock_release(&second);

    /* An owner that dies holding the lock: the kernel frees it, the next taker reports it. */
    pid_t child = fork();
    if (child == 0) {
        dr_target_lock mine;
        dr_target_lock_acquire(dir, "pid=child job=doomed", 1, &mine, NULL, 0, NULL);
        _exit(0); /* no release */
    }
    waitpid(child, NULL, 0);
    CHECK_INT(DR_OK, dr_target_lock_acquire(dir, "pid=3", 1, &second, previous, sizeof previous, &err));
    CHECK_STR("pid=child job=doomed", previous);
    dr_target_lock_release(&second);
    free(dir);
}

int main(void)
{
    if (!mkdtemp(root))
        return 1;
    record_round_trips();
    lock_excludes_and_reports_take_over();
    dr_remove_tree(root, NULL);
    return check_done("state");
}
