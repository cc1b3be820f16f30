#include "script.h"

#include "clock.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TAIL_BYTES (24 * 1024)
#define DEFAULT_KILL_GRACE_MS 2000

/* The last `capacity` bytes of a stream. */
typedef struct output_tail {
    char *data;
    size_t capacity;
    size_t length;
    uint64_t total;
} output_tail;

static void tail_append(output_tail *tail, const char *bytes, size_t n)
{
    tail->total += n;
    if (n >= tail->capacity) {
        memcpy(tail->data, bytes + (n - tail->capacity), tail->capacity);
        tail->length = tail->capacity;
        return;
    }
    if (tail->length + n > tail->capacity) {
        size_t drop = tail->length + n - tail->capacity;
        memmove(tail->data, tail->data + drop, tail->length - drop);
        tail->length -= drop;
    }
    memcpy(tail->data + tail->length, bytes, n);
    tail->length += n;
}

/* Read what is available; returns 0 at EOF or error (the fd is then done). */
static int drain(int fd, output_tail *tail)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            tail_append(tail, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        return 0;
    }
}

/* In the child: never returns. */
static void exec_script(const dr_script_request *req, int out_fd, int err_fd, pid_t parent)
{
    setpgid(0, 0);
    /*
     * If the worker dies (SIGKILL, OOM), the script dies with it instead of
     * running on unwatched: its job is redelivered and runs again anyway.
     */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    int in_fd = open(req->stdin_path ? req->stdin_path : "/dev/null", O_RDONLY);
    if (in_fd < 0 || dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(127);
    /* Nothing of the worker's (lock files, sockets) leaks into the script. */
    closefrom(3);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (req->run_as) {
        const dr_script_identity *who = req->run_as;
        if (setgroups((size_t)who->group_count, who->groups) != 0 || setgid(who->gid) != 0 || setuid(who->uid) != 0 ||
            getuid() != who->uid || geteuid() != who->uid) {
            dprintf(2, "drover: cannot switch to user %s: %s\n", who->name, strerror(errno));
            _exit(126);
        }
    }
    if (chdir(req->cwd) != 0) {
        dprintf(2, "drover: cannot enter %s: %s\n", req->cwd, strerror(errno));
        _exit(127);
    }
    char *const shell[] = {"sh", (char *)req->script, NULL};
    char *const *argv = req->argv ? req->argv : shell;
    const char *program = req->argv ? req->argv[0] : "/bin/sh";
    execve(program, argv, req->envp);
    dprintf(2, "drover: cannot run %s: %s\n", program, strerror(errno));
    _exit(127);
}

dr_status dr_script_identity_lookup(const char *user, dr_script_identity *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    char buf[16384];
    struct passwd pw, *found = NULL;
    char *end = NULL;
    unsigned long numeric = strtoul(user, &end, 10);
    int by_uid = user[0] && end && *end == '\0';
    int rc = by_uid ? getpwuid_r((uid_t)numeric, &pw, buf, sizeof buf, &found)
                    : getpwnam_r(user, &pw, buf, sizeof buf, &found);
    if (rc != 0 || !found)
        return dr_error_set(err, DR_ERR_USAGE, "script-user: there is no user '%s'%s%s", user, rc ? ": " : "",
                            rc ? strerror(rc) : "");
    if (geteuid() != 0 && found->pw_uid != geteuid())
        return dr_error_set(err, DR_ERR_USAGE, "script-user: running scripts as %s needs the worker to run as root",
                            user);
    snprintf(out->name, sizeof out->name, "%s", found->pw_name);
    out->uid = found->pw_uid;
    out->gid = found->pw_gid;
    out->group_count = DR_SCRIPT_MAX_GROUPS;
    if (getgrouplist(found->pw_name, found->pw_gid, out->groups, &out->group_count) < 0)
        return dr_error_set(err, DR_ERR_USAGE, "script-user: %s is in more than %d groups", user, DR_SCRIPT_MAX_GROUPS);
    return DR_OK;
}

static int tail_init(output_tail *tail, size_t capacity)
{
    tail->capacity = capacity;
    tail->length = 0;
    tail->total = 0;
    tail->data = malloc(capacity);
    return tail->data ? 0 : -1;
}

static char *tail_take(output_tail *tail)
{
    char *text = malloc(tail->length + 1);
    if (text) {
        memcpy(text, tail->data, tail->length);
        text[tail->length] = '\0';
    }
    free(tail->data);
    tail->data = NULL;
    return text;
}

dr_status dr_script_run(const dr_script_request *req, dr_script_result *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    size_t tail_bytes = req->tail_bytes ? req->tail_bytes : DEFAULT_TAIL_BYTES;
    long grace_ms = req->kill_grace_ms ? req->kill_grace_ms : DEFAULT_KILL_GRACE_MS;
    dr_status status = DR_OK;
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    int pidfd = -1;
    output_tail out_tail = {0}, err_tail = {0};

    if (tail_init(&out_tail, tail_bytes) != 0 || tail_init(&err_tail, tail_bytes) != 0) {
        status = dr_error_set(err, DR_ERR_NOMEM, "output buffers for %s", req->script);
        goto done;
    }
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "pipe for %s: %s", req->script, strerror(errno));
        goto done;
    }
    long long started = dr_monotonic_ms();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        status = dr_error_set(err, DR_ERR_IO, "fork for %s: %s", req->script, strerror(errno));
        goto done;
    }
    if (pid == 0)
        exec_script(req, out_pipe[1], err_pipe[1], parent);
    /* Set the group from both sides so a kill right after fork reaches it. */
    setpgid(pid, pid);
    close(out_pipe[1]);
    close(err_pipe[1]);
    out_pipe[1] = err_pipe[1] = -1;
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
    pidfd = pidfd_open(pid, 0);

    long long deadline = started + req->timeout_seconds * 1000;
    long long kill_at = 0; /* when SIGTERM was sent, SIGKILL follows after the grace */
    int out_open = 1, err_open = 1, exited = 0;
    int wstatus = 0;
    while (!exited) {
        struct pollfd fds[3];
        int nfds = 0, out_index = -1, err_index = -1;
        if (out_open) {
            out_index = nfds;
            fds[nfds++] = (struct pollfd){.fd = out_pipe[0], .events = POLLIN};
        }
        if (err_open) {
            err_index = nfds;
            fds[nfds++] = (struct pollfd){.fd = err_pipe[0], .events = POLLIN};
        }
        if (pidfd >= 0)
            fds[nfds++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        long long now = dr_monotonic_ms();
        long long wake = kill_at ? kill_at + grace_ms : deadline;
        int wait_ms = wake > now ? (int)(wake - now) : 0;
        /* Without a pidfd (old kernel) poll the child's state every 50 ms. */
        if (pidfd < 0 && wait_ms > 50)
            wait_ms = 50;
        int ready = poll(fds, (nfds_t)nfds, wait_ms);
        if (ready < 0 && errno != EINTR) {
            status = dr_error_set(err, DR_ERR_IO, "waiting for %s: %s", req->script, strerror(errno));
            kill(-pid, SIGKILL);
            waitpid(pid, &wstatus, 0);
            goto done;
        }
        if (out_index >= 0 && fds[out_index].revents)
            out_open = drain(out_pipe[0], &out_tail);
        if (err_index >= 0 && fds[err_index].revents)
            err_open = drain(err_pipe[0], &err_tail);
        if (waitpid(pid, &wstatus, WNOHANG) == pid) {
            exited = 1;
            break;
        }
        now = dr_monotonic_ms();
        if (!kill_at && now >= deadline) {
            out->timed_out = 1;
            kill(-pid, SIGTERM);
            kill_at = now;
        } else if (kill_at && now >= kill_at + grace_ms) {
            kill(-pid, SIGKILL);
            waitpid(pid, &wstatus, 0);
            exited = 1;
        }
    }
    if (out->timed_out)
        kill(-pid, SIGKILL); /* children that ignored SIGTERM */
    /* What the script wrote just before it ended is still in the pipes. */
    if (out_open)
        drain(out_pipe[0], &out_tail);
    if (err_open)
        drain(err_pipe[0], &err_tail);
    out->elapsed_ms = dr_monotonic_ms() - started;
    if (WIFSIGNALED(wstatus)) {
        out->signaled = 1;
        out->term_signal = WTERMSIG(wstatus);
    } else {
        out->exit_code = WEXITSTATUS(wstatus);
    }

done:
    out->stdout_bytes = out_tail.total;
    out->stderr_bytes = err_tail.total;
    out->stdout_tail = out_tail.data ? tail_take(&out_tail) : NULL;
    out->stderr_tail = err_tail.data ? tail_take(&err_tail) : NULL;
    if (status == DR_OK && (!out->stdout_tail || !out->stderr_tail))
        status = dr_error_set(err, DR_ERR_NOMEM, "output of %s", req->script);
    for (int i = 0; i < 2; i++) {
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
        if (err_pipe[i] >= 0)
            close(err_pipe[i]);
    }
    if (pidfd >= 0)
        close(pidfd);
    return status;
}

void dr_script_result_free(dr_script_result *result)
{
    free(result->stdout_tail);
    free(result->stderr_tail);
    result->stdout_tail = result->stderr_tail = NULL;
}

void dr_script_describe_end(const dr_script_result *result, long timeout_seconds, char *buf, size_t size)
{
    if (result->timed_out)
        snprintf(buf, size, "timed out after %ld s and was killed", timeout_seconds);
    else if (result->signaled)
        snprintf(buf, size, "killed by signal %d", result->term_signal);
    else
        snprintf(buf, size, "exit %d", result->exit_code);
}
