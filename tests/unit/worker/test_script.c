/* The script runner: exit codes, clean environment, tails, timeouts. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "script.h"

static char dir[] = "/tmp/drover-script-test-XXXXXX";

static void write_script(const char *name, const char *body)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(body, f);
    fclose(f);
}

/* Gone, or a zombie waiting for init to reap it. */
static int process_is_gone(int pid)
{
    char path[64], state = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    int ok = fscanf(f, "%*d (%*[^)]) %c", &state) == 1;
    fclose(f);
    return ok && (state == 'Z' || state == 'X');
}

static dr_script_result run(const char *name, long timeout, size_t tail)
{
    char *envp[] = {"PATH=/usr/bin:/bin", "GREETING=hi", NULL};
    dr_script_request req = {
        .script = name, .cwd = dir, .envp = envp, .timeout_seconds = timeout, .kill_grace_ms = 200, .tail_bytes = tail};
    dr_script_result r;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_script_run(&req, &r, &err));
    return r;
}

static void exit_code_and_output_are_reported(void)
{
    write_script("fail.sh", "echo out; echo err >&2; echo \"$GREETING $HOME\"; pwd; exit 5\n");
    dr_script_result r = run("fail.sh", 10, 0);
    CHECK_INT(5, r.exit_code);
    CHECK_INT(0, r.timed_out);
    CHECK_CONTAINS("out\nhi \n", r.stdout_tail); /* HOME is not inherited */
    CHECK_CONTAINS(dir, r.stdout_tail);
    CHECK_STR("err\n", r.stderr_tail);
    dr_script_result_free(&r);
}

static void only_the_tail_is_kept(void)
{
    write_script("loud.sh", "i=0; while [ $i -lt 2000 ]; do echo \"line $i\"; i=$((i+1)); done\n");
    dr_script_result r = run("loud.sh", 10, 100);
    CHECK_INT(0, r.exit_code);
    CHECK_INT(100, strlen(r.stdout_tail));
    CHECK(strstr(r.stdout_tail, "line 1999\n") != NULL);
    CHECK(r.stdout_bytes > 10000);
    dr_script_result_free(&r);
}

static void a_hung_script_and_its_children_are_killed(void)
{
    write_script("hang.sh", "trap '' TERM; sleep 60 & echo $! > child.pid; sleep 60\n");
    dr_script_result r = run("hang.sh", 1, 0);
    CHECK_INT(1, r.timed_out);
    CHECK(r.elapsed_ms >= 1000 && r.elapsed_ms < 5000);
    char path[256];
    snprintf(path, sizeof path, "%s/child.pid", dir);
    FILE *f = fopen(path, "r");
    int pid = 0;
    CHECK(f && fscanf(f, "%d", &pid) == 1);
    if (f)
        fclose(f);
    usleep(100000);
    CHECK(pid > 0 && process_is_gone(pid));
    char text[128];
    dr_script_describe_end(&r, 1, text, sizeof text);
    CHECK_STR("timed out after 1 s and was killed", text);
    dr_script_result_free(&r);
}

static void background_children_do_not_hold_up_a_finished_script(void)
{
    /* A daemon started by install.sh keeps stdout open; the script is done anyway. */
    write_script("daemon.sh", "sleep 30 & echo $! > daemon.pid; echo started\n");
    dr_script_result r = run("daemon.sh", 20, 0);
    CHECK_INT(0, r.exit_code);
    CHECK(r.elapsed_ms < 3000);
    CHECK_CONTAINS("started", r.stdout_tail);
    char path[256];
    snprintf(path, sizeof path, "%s/daemon.pid", dir);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f && fscanf(f, "%d", &pid) == 1 && pid > 0)
        kill(pid, SIGKILL);
    if (f)
        fclose(f);
    dr_script_result_free(&r);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    exit_code_and_output_are_reported();
    only_the_tail_is_kept();
    a_hung_script_and_its_children_are_killed();
    background_children_do_not_hold_up_a_finished_script();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return check_done("script");
}
