/* The ssh executor (executor_ssh.h): every operation is one ssh command. */
#include "executor_ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "files.h"
#include "log.h"
#include "strbuf.h"

#define PROGRAM_PATH "/usr/local/bin:/usr/bin:/bin"
#define SSH_ARGV_MAX 48
/* Seconds an operation other than a script or a transfer may take, past the connection. */
#define SSH_OP_SECONDS 120
#define SSH_TRANSFER_SECONDS 1800
/* Ends a script's stderr with its exit status (see ssh_run_script); \036 never starts a line of ours. */
#define END_MARK "\036drover-ssh: exit "

typedef struct ssh_executor {
    dr_executor base;
    const dr_ssh_settings *settings;
    dr_ssh_address address;
    char port[16];
    const char *user;     /* the login user: the address's, else the settings', else root */
    long connect_seconds; /* ConnectTimeout, and the slack every operation's own limit gets for it */
    char where[300];      /* "user@host:port" for messages */
    char state_dir[1200]; /* set by lock: where lock.script lives */
    pid_t lock_pid;       /* the session holding the target lock; 0: none */
    int lock_lost;        /* that session ended before unlock: nothing more may run */
    int lock_in;          /* its stdin: "release\n" then EOF */
    /*
     * The lock session is also the connection's master (ControlMaster):
     * while it holds the lock, every other operation of the job is a new
     * channel on its connection, not a new connection.  "" when not shared.
     */
    char control_path[108];
} ssh_executor;

#define SSH(x) ((ssh_executor *)(x))

/* ---- settings and addresses ---- */

static int find_program(const char *name, char *out, size_t size)
{
    char dirs[] = PROGRAM_PATH;
    for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(out, size, "%s/%s", dir, name);
        if (access(out, X_OK) == 0)
            return 1;
    }
    out[0] = '\0';
    return 0;
}

/* Whether ssh could add a host to path: the file, or (when missing) its directory, is writable. */
static int known_hosts_writable(const char *path)
{
    if (access(path, W_OK) == 0)
        return 1;
    if (errno != ENOENT)
        return 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    return access(dir, W_OK) == 0;
}

/*
 * known_hosts (if any) into work_dir/known_hosts, which is used from now on.
 * work_dir is this process's own (new), so the copy starts from the original.
 */
static dr_status copy_known_hosts(dr_ssh_settings *s, dr_error *err)
{
    snprintf(s->known_hosts_copy, sizeof s->known_hosts_copy, "%s/known_hosts", s->work_dir);
    dr_status status;
    if (access(s->known_hosts, F_OK) == 0) {
        status = dr_copy_file(s->known_hosts, s->known_hosts_copy, err);
    } else {
        int fd = open(s->known_hosts_copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        status =
            fd < 0 ? dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", s->known_hosts_copy, strerror(errno)) : DR_OK;
        if (fd >= 0)
            close(fd);
    }
    if (status != DR_OK)
        return dr_error_wrap(err, "ssh executor: copying %s", s->known_hosts);
    dr_log(DR_LOG_INFO, "ssh.known_hosts_copy",
           "from=%s to=%s msg=\"%s cannot be written: hosts accepted on "
           "first contact are kept in the copy while this worker runs\"",
           s->known_hosts, s->known_hosts_copy, s->known_hosts);
    s->known_hosts = s->known_hosts_copy;
    return DR_OK;
}

dr_status dr_ssh_settings_check(dr_ssh_settings *s, dr_error *err)
{
    if (!find_program("ssh", s->ssh_path, sizeof s->ssh_path))
        return dr_error_set(err, DR_ERR_USAGE, "ssh executor: no ssh program in %s (install openssh-client)",
                            PROGRAM_PATH);
    if (!find_program("tar", s->tar_path, sizeof s->tar_path))
        return dr_error_set(err, DR_ERR_USAGE, "ssh executor: no tar program in %s", PROGRAM_PATH);
    if (!s->key_file || !s->key_file[0] || access(s->key_file, R_OK) != 0)
        return dr_error_set(err, DR_ERR_USAGE, "ssh executor: ssh-key '%s' cannot be read%s",
                            s->key_file ? s->key_file : "", s->key_file && s->key_file[0] ? "" : " (none given)");
    if (!s->known_hosts || !s->known_hosts[0])
        return dr_error_set(err, DR_ERR_USAGE, "ssh executor: no ssh-known-hosts file given");
    if (access(s->known_hosts, R_OK) != 0 && !s->accept_new)
        return dr_error_set(err, DR_ERR_USAGE,
                            "ssh executor: ssh-known-hosts '%s' cannot be read: %s (ssh-keyscan makes one; "
                            "ssh-accept-new trusts hosts on first contact)",
                            s->known_hosts, strerror(errno));
    if (!s->work_dir || !s->work_dir[0])
        return dr_error_set(err, DR_ERR_USAGE, "ssh executor: no local work directory");
    if (s->accept_new && !known_hosts_writable(s->known_hosts))
        return copy_known_hosts(s, err);
    return DR_OK;
}

static int all_of(const char *text, size_t len, const char *allowed)
{
    for (size_t i = 0; i < len; i++)
        if (!text[i] || !strchr(allowed, text[i]))
            return 0;
    return 1;
}

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

dr_status dr_ssh_address_parse(const char *address, dr_ssh_address *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    out->port = 22;
    const char *p = address ? address : "";
    const char *at = strchr(p, '@'), *slash = strchr(p, '/');
    if (at && (!slash || at < slash)) {
        size_t len = (size_t)(at - p);
        if (len == 0 || len >= sizeof out->user || p[0] == '-' || !all_of(p, len, NAME_CHARS "._-"))
            return dr_error_set(err, DR_ERR_USAGE, "ssh address '%.128s': bad user name", address);
        memcpy(out->user, p, len);
        p = at + 1;
    }
    const char *host_end;
    if (*p == '[') { /* [v6]:port */
        const char *close = strchr(p, ']');
        if (!close || close == p + 1 || !all_of(p + 1, (size_t)(close - p - 1), "0123456789abcdefABCDEF:."))
            return dr_error_set(err, DR_ERR_USAGE, "ssh address '%.128s': bad [IPv6] host", address);
        snprintf(out->host, sizeof out->host, "%.*s", (int)(close - p - 1), p + 1);
        host_end = close + 1;
    } else {
        size_t len = strcspn(p, ":/");
        if (len == 0 || len >= sizeof out->host || p[0] == '-' || !all_of(p, len, NAME_CHARS ".-_"))
            return dr_error_set(err, DR_ERR_USAGE, "ssh address '%.128s': bad host name", address);
        memcpy(out->host, p, len);
        host_end = p + len;
    }
    p = host_end;
    if (*p == ':') {
        char *end = NULL;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/'))
            return dr_error_set(err, DR_ERR_USAGE, "ssh address '%.128s': bad port", address);
        out->port = (int)port;
        p = end;
    }
    if (*p && *p != '/')
        return dr_error_set(err, DR_ERR_USAGE, "ssh address '%.128s': unexpected '%.16s'", address, p);
    if (!*p)
        snprintf(out->root, sizeof out->root, "/");
    else if (strlen(p) >= sizeof out->root || strstr(p, "/../") ||
             (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0))
        return dr_error_set(err, DR_ERR_USAGE, "ssh address '%.128s': bad root path", address);
    else
        snprintf(out->root, sizeof out->root, "%s", p);
    return DR_OK;
}

/* ---- running ssh ---- */

static void quote(dr_strbuf *sb, const char *text);

/* "exec /bin/sh -c 'COMMAND'": our commands are POSIX sh, whatever the login user's shell is. */
static char *wrap_command(const char *command)
{
    dr_strbuf sb = {0};
    dr_strbuf_puts(&sb, "exec /bin/sh -c ");
    quote(&sb, command);
    if (sb.failed) {
        dr_strbuf_free(&sb);
        return NULL;
    }
    return dr_strbuf_detach(&sb, NULL);
}

/* 'text' for sh, with ' written as '\'' */
static void quote(dr_strbuf *sb, const char *text)
{
    dr_strbuf_puts(sb, "'");
    for (const char *c = text; *c; c++) {
        if (*c == '\'')
            dr_strbuf_puts(sb, "'\\''");
        else
            dr_strbuf_append(sb, c, 1);
    }
    dr_strbuf_puts(sb, "'");
}

typedef struct ssh_argv {
    char *items[SSH_ARGV_MAX];
    char options[6][1200];
    size_t count;
} ssh_argv;

typedef enum { OWN_CONNECTION, MASTER, SHARED } connection_use;

/* The ssh command line: nothing from the user's ssh config or agent, only these settings. */
static void build_argv(ssh_executor *x, const char *remote_command, connection_use use, ssh_argv *a)
{
    const dr_ssh_settings *s = x->settings;
    snprintf(a->options[0], sizeof a->options[0], "UserKnownHostsFile=%s", s->known_hosts);
    snprintf(a->options[1], sizeof a->options[1], "StrictHostKeyChecking=%s", s->accept_new ? "accept-new" : "yes");
    snprintf(a->options[2], sizeof a->options[2], "ConnectTimeout=%ld", x->connect_seconds);
    snprintf(a->options[3], sizeof a->options[3], "%s", x->user);
    /* A client falls back to its own connection if the master is gone. */
    snprintf(a->options[4], sizeof a->options[4], "ControlMaster=%s", use == MASTER ? "yes" : "no");
    snprintf(a->options[5], sizeof a->options[5], "ControlPath=%s",
             use != OWN_CONNECTION && x->control_path[0] ? x->control_path : "none");
    char *items[] = {(char *)s->ssh_path,
                     "-F",
                     "/dev/null",
                     "-T",
                     "-i",
                     (char *)s->key_file,
                     "-o",
                     "BatchMode=yes",
                     "-o",
                     "IdentitiesOnly=yes",
                     "-o",
                     "IdentityAgent=none",
                     "-o",
                     a->options[0],
                     "-o",
                     "GlobalKnownHostsFile=/dev/null",
                     "-o",
                     a->options[1],
                     "-o",
                     a->options[2],
                     "-o",
                     "ServerAliveInterval=15",
                     "-o",
                     "ServerAliveCountMax=4",
                     "-o",
                     "LogLevel=ERROR",
                     "-o",
                     a->options[4],
                     "-o",
                     a->options[5],
                     "-p",
                     x->port,
                     "-l",
                     a->options[3],
                     "--",
                     x->address.host,
                     (char *)remote_command,
                     NULL};
    a->count = 0;
    for (size_t i = 0; items[i] && a->count + 1 < SSH_ARGV_MAX; i++)
        a->items[a->count++] = items[i];
    a->items[a->count] = NULL;
}

static char *const ssh_env[] = {"PATH=" PROGRAM_PATH, "LC_ALL=C", NULL};

/* The last line of text, for a one-line reason. */
static void last_line(const char *text, char *buf, size_t size)
{
    size_t len = text ? strlen(text) : 0;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    size_t start = len;
    while (start > 0 && text[start - 1] != '\n')
        start--;
    snprintf(buf, size, "%.*s", (int)(len - start), text ? text + start : "");
}

/*
 * Whether the lock session ended on its own (network, a signal, the remote
 * side): then the lock is no longer ours, and every later operation of the
 * job is refused rather than run unlocked.
 */
static int lock_session_lost(ssh_executor *x)
{
    if (x->lock_lost)
        return 1;
    if (x->lock_pid <= 0 || waitpid(x->lock_pid, NULL, WNOHANG) != x->lock_pid)
        return 0;
    dr_log(DR_LOG_WARN, "ssh.lock_lost", "target=%s msg=\"the session holding the target lock ended\"", x->where);
    close(x->lock_in);
    x->lock_in = -1;
    x->lock_pid = 0;
    x->lock_lost = 1;
    return 1;
}

/*
 * Run remote_command on the target.  out is filled either way (free it with
 * dr_script_result_free).  DR_OK when it ran (look at out);
 * DR_ERR_UNREACHABLE when ssh itself failed (exit 255: connection, host key,
 * authentication), with its reason.
 */
static dr_status ssh_run(ssh_executor *x, const char *what, const char *remote_command, const char *stdin_path,
                         long timeout_seconds, size_t tail_bytes, dr_script_result *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    if (lock_session_lost(x))
        return dr_error_set(err, DR_ERR_UNREACHABLE,
                            "%s: the ssh session holding the target lock on %s ended; nothing more runs there", what,
                            x->where);
    char *wrapped = wrap_command(remote_command);
    if (!wrapped)
        return dr_error_set(err, DR_ERR_NOMEM, "building the ssh command for %s", what);
    ssh_argv argv;
    build_argv(x, wrapped, x->lock_pid > 0 ? SHARED : OWN_CONNECTION, &argv);
    dr_script_request req = {.script = what,
                             .cwd = "/",
                             .envp = ssh_env,
                             .argv = argv.items,
                             .stdin_path = stdin_path,
                             .tail_bytes = tail_bytes,
                             .timeout_seconds = timeout_seconds + x->connect_seconds};
    dr_status status = dr_script_run(&req, out, err);
    free(wrapped);
    if (status != DR_OK)
        return status;
    if (out->timed_out)
        return dr_error_set(err, DR_ERR_UNREACHABLE, "%s on %s: no answer within %ld s", what, x->where,
                            req.timeout_seconds);
    if (!out->signaled && out->exit_code == 255) {
        char line[512];
        last_line(out->stderr_tail, line, sizeof line);
        return dr_error_set(err, DR_ERR_UNREACHABLE, "%s: ssh to %s failed: %s", what, x->where,
                            line[0] ? line : "exit 255");
    }
    return DR_OK;
}

/* ssh_run for commands that must exit 0; anything else is DR_ERR_IO with the remote's stderr. */
static dr_status ssh_simple(ssh_executor *x, const char *what, const char *remote_command, const char *stdin_path,
                            long timeout_seconds, dr_error *err)
{
    dr_script_result ran = {0};
    dr_status status = ssh_run(x, what, remote_command, stdin_path, timeout_seconds, 0, &ran, err);
    if (status == DR_OK && (ran.signaled || ran.exit_code != 0)) {
        char line[512];
        last_line(ran.stderr_tail, line, sizeof line);
        status =
            dr_error_set(err, DR_ERR_IO, "%s on %s: %s", what, x->where, line[0] ? line : "the remote command failed");
    }
    dr_script_result_free(&ran);
    return status;
}

/* sb's text, or an out-of-memory error. */
static dr_status command_text(dr_strbuf *sb, const char *what, dr_error *err)
{
    return sb->failed ? dr_error_set(err, DR_ERR_NOMEM, "building the ssh command for %s", what) : DR_OK;
}

/* ---- the operations ---- */

/*
 * Read one line from fd until deadline_ms (monotonic); 0 on a line, -1 on EOF
 * or timeout.  buf is NUL-terminated either way.
 */
static int read_line(int fd, char *buf, size_t size, long long deadline_ms)
{
    size_t len = 0;
    buf[0] = '\0';
    while (len + 1 < size) {
        long long now = dr_monotonic_ms();
        if (now >= deadline_ms)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, (int)(deadline_ms - now));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break;
        ssize_t n = read(fd, buf + len, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (buf[len] == '\n') {
            buf[len] = '\0';
            return 0;
        }
        buf[++len] = '\0';
    }
    return len + 1 < size ? -1 : 0;
}

/* Wait for pid up to seconds, then kill it; returns its wait status. */
static int reap(pid_t pid, int seconds)
{
    int wstatus = 0;
    for (int i = 0; i < seconds * 20; i++) {
        if (waitpid(pid, &wstatus, WNOHANG) == pid)
            return wstatus;
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &wstatus, 0);
    return wstatus;
}

/*
 * The lock session (see the header): refuses a root that is not a
 * directory ("NOROOT", before creating anything), takes STATE/lock, waits for any
 * script of an earlier session to end (STATE/lock.script), writes the owner,
 * says "LOCKED <previous owner>", and holds the lock until it reads
 * "release" (clearing the owner) or its stdin ends (leaving it).
 */
static void lock_command(dr_strbuf *cmd, const char *root, const char *state_dir, const char *owner, long wait_seconds)
{
    dr_strbuf_puts(cmd, "if ! test -d ");
    quote(cmd, root);
    dr_strbuf_puts(cmd, "; then echo NOROOT; exit 2; fi; d=");
    quote(cmd, state_dir);
    dr_strbuf_printf(cmd,
                     "; mkdir -p \"$d\" || exit 1; exec 9>>\"$d/lock\" || exit 1; "
                     "if ! flock -w %ld 9; then printf 'HELD %%s\\n' \"$(cat \"$d/lock\")\"; exit 75; fi; "
                     "exec 8>>\"$d/lock.script\" || exit 1; "
                     "if ! flock -w %ld 8; then echo 'HELD a script of an earlier job still running'; exit 75; fi; "
                     "exec 8>&-; prev=$(cat \"$d/lock\"); printf '%%s\\n' ",
                     wait_seconds, wait_seconds);
    quote(cmd, owner);
    dr_strbuf_puts(cmd,
                   " > \"$d/lock\" || exit 1; printf 'LOCKED %s\\n' \"$prev\"; "
                   "read -r what; if [ \"$what\" = release ]; then : > \"$d/lock\"; fi");
}

static dr_status ssh_lock(dr_executor *base, const char *root, const char *state_dir, const char *owner,
                          long wait_seconds, char *taken_over, size_t size, dr_error *err)
{
    ssh_executor *x = SSH(base);
    dr_status status = DR_OK;
    dr_strbuf cmd = {0};
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errfd = -1;
    pid_t pid = -1;
    char *wrapped = NULL;
    taken_over[0] = '\0';
    x->lock_lost = 0;
    snprintf(x->state_dir, sizeof x->state_dir, "%s", state_dir);
    lock_command(&cmd, root, state_dir, owner, wait_seconds);
    if ((status = command_text(&cmd, "the target lock", err)) != DR_OK)
        goto done;
    ssh_argv argv;
    static unsigned long counter;
    int used = snprintf(x->control_path, sizeof x->control_path, "%s/cm-%ld-%lu", x->settings->work_dir, (long)getpid(),
                        __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    /* ssh binds PATH.<16 random characters> first, in a 108-byte socket address: too long, no sharing. */
    if (used < 0 || used >= 90)
        x->control_path[0] = '\0';
    unlink(x->control_path);
    wrapped = wrap_command(dr_strbuf_str(&cmd));
    if (!wrapped) {
        status = dr_error_set(err, DR_ERR_NOMEM, "building the ssh command for the target lock");
        goto done;
    }
    build_argv(x, wrapped, x->control_path[0] ? MASTER : OWN_CONNECTION, &argv);
    errfd = memfd_create("drover-ssh-lock", MFD_CLOEXEC);
    if (errfd < 0 || pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "pipes for the target lock: %s", strerror(errno));
        goto done;
    }
    pid_t parent = getpid();
    pid = fork();
    if (pid < 0) {
        status = dr_error_set(err, DR_ERR_IO, "fork for the target lock: %s", strerror(errno));
        goto done;
    }
    if (pid == 0) {
        /* The session (and so the lock) ends when the worker does, however it dies; a terminal's signals do not reach it. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(errfd, 2) < 0)
            _exit(127);
        closefrom(3);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(argv.items[0], argv.items, ssh_env);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    in[0] = out[1] = -1;
    long long deadline = dr_monotonic_ms() + (wait_seconds + x->connect_seconds + 30) * 1000;
    char line[1024];
    if (read_line(out[0], line, sizeof line, deadline) == 0 && strncmp(line, "LOCKED ", 7) == 0) {
        snprintf(taken_over, size, "%s", line + 7);
        x->lock_pid = pid;
        x->lock_in = in[1];
        in[1] = -1;
        pid = -1;
        goto done;
    }
    if (strcmp(line, "NOROOT") == 0) {
        status = dr_error_set(err, DR_ERR_USAGE, "target root '%s' is not a directory on %s", root, x->where);
        goto done;
    }
    if (strncmp(line, "HELD ", 5) == 0) {
        status = dr_error_set(err, DR_ERR_LOCKED, "target lock on %s still held after %ld s by %s", x->where,
                              wait_seconds, line[5] ? line + 5 : "an unnamed owner");
        goto done;
    }
    close(in[1]);
    in[1] = -1;
    int wstatus = reap(pid, 5);
    pid = -1;
    char reason[512] = "";
    char text[2048] = "";
    ssize_t n = pread(errfd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    last_line(text, reason, sizeof reason);
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 255)
        status = dr_error_set(err, DR_ERR_UNREACHABLE, "taking the target lock: ssh to %s failed: %s", x->where,
                              reason[0] ? reason : "exit 255");
    else
        status = dr_error_set(err, DR_ERR_IO, "taking the target lock on %s failed: %s", x->where,
                              reason[0] ? reason : "no answer");
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (status != DR_OK && x->control_path[0]) {
        unlink(x->control_path);
        x->control_path[0] = '\0';
    }
    int fds[] = {in[0], in[1], out[0], out[1], errfd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(wrapped);
    dr_strbuf_free(&cmd);
    return status;
}

static void ssh_unlock(dr_executor *base)
{
    ssh_executor *x = SSH(base);
    if (x->lock_pid <= 0 || lock_session_lost(x))
        return;
    /* A failed write leaves the owner line: the next taker reports a take-over, which is harmless. */
    ssize_t ignored = write(x->lock_in, "release\n", 8);
    (void)ignored;
    close(x->lock_in);
    reap(x->lock_pid, 30);
    x->lock_pid = 0;
    x->lock_in = -1;
    if (x->control_path[0])
        unlink(x->control_path);
    x->control_path[0] = '\0';
}

static dr_status ssh_read_record(dr_executor *base, const char *package_dir, dr_install_record *out_record, int *found,
                                 dr_error *err)
{
    ssh_executor *x = SSH(base);
    memset(out_record, 0, sizeof *out_record);
    *found = 0;
    dr_strbuf cmd = {0};
    dr_strbuf_puts(&cmd, "f=");
    quote(&cmd, package_dir);
    dr_strbuf_puts(&cmd, "/installstate; if [ -e \"$f\" ]; then cat \"$f\"; else exit 3; fi");
    dr_script_result ran = {0};
    dr_status status = command_text(&cmd, "the install record", err);
    if (status == DR_OK)
        status = ssh_run(x, "reading the install record", dr_strbuf_str(&cmd), NULL, SSH_OP_SECONDS,
                         DR_INSTALL_RECORD_MAX + 1, &ran, err);
    if (status != DR_OK)
        goto done;
    char where[1300];
    snprintf(where, sizeof where, "%s:%s/installstate", x->where, package_dir);
    if (!ran.signaled && ran.exit_code == 3)
        goto done; /* nothing installed */
    if (ran.signaled || ran.exit_code != 0)
        status = dr_error_set(err, DR_ERR_STATE, "cannot read %s: %s", where, ran.stderr_tail ? ran.stderr_tail : "");
    else if (ran.stdout_bytes > DR_INSTALL_RECORD_MAX)
        status = dr_error_set(err, DR_ERR_STATE, "%s is larger than the largest record", where);
    else if ((status = dr_install_record_decode(ran.stdout_tail, (size_t)ran.stdout_bytes, where, out_record, err)) ==
             DR_OK)
        *found = 1;
done:
    dr_script_result_free(&ran);
    dr_strbuf_free(&cmd);
    return status;
}

/* A local file holding text, for an ssh command's stdin: path in buf. */
static dr_status write_temp(ssh_executor *x, const char *text, char *path, size_t size, dr_error *err)
{
    snprintf(path, size, "%s/record-XXXXXX", x->settings->work_dir);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return dr_error_set(err, DR_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    int ok = write(fd, text, len) == (ssize_t)len;
    close(fd);
    if (!ok) {
        unlink(path);
        return dr_error_set(err, DR_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    return DR_OK;
}

/* Temp file beside the record, then rename: a kill at any instant leaves the old or the new record. */
static dr_status ssh_write_record(dr_executor *base, const char *package_dir, const dr_install_record *record,
                                  dr_error *err)
{
    ssh_executor *x = SSH(base);
    char temp[1200] = "";
    dr_strbuf cmd = {0};
    char *text = dr_install_record_encode(record);
    dr_status status = text ? DR_OK : dr_error_set(err, DR_ERR_NOMEM, "encoding the install record");
    if (status == DR_OK)
        status = write_temp(x, text, temp, sizeof temp, err);
    dr_strbuf_puts(&cmd, "d=");
    quote(&cmd, package_dir);
    dr_strbuf_puts(&cmd,
                   "; t=\"$d/.installstate.$$\"; mkdir -p \"$d\" && cat > \"$t\" && "
                   "{ sync \"$t\" 2>/dev/null; true; } && mv -f \"$t\" \"$d/installstate\" || "
                   "{ rm -f \"$t\"; exit 1; }");
    if (status == DR_OK && (status = command_text(&cmd, "the install record", err)) == DR_OK)
        status = ssh_simple(x, "writing the install record", dr_strbuf_str(&cmd), temp, SSH_OP_SECONDS, err);
    if (temp[0])
        unlink(temp);
    free(text);
    dr_strbuf_free(&cmd);
    return status;
}

/* One remote command: PREFIX 'path' SUFFIX, which must exit 0. */
static dr_status ssh_path_command(ssh_executor *x, const char *what, const char *prefix, const char *path,
                                  const char *suffix, dr_error *err)
{
    dr_strbuf cmd = {0};
    dr_strbuf_puts(&cmd, prefix);
    quote(&cmd, path);
    dr_strbuf_puts(&cmd, suffix);
    dr_status status = command_text(&cmd, what, err);
    if (status == DR_OK)
        status = ssh_simple(x, what, dr_strbuf_str(&cmd), NULL, SSH_OP_SECONDS, err);
    dr_strbuf_free(&cmd);
    return status;
}

static dr_status ssh_remove_record(dr_executor *base, const char *package_dir, dr_error *err)
{
    return ssh_path_command(SSH(base), "removing the install record", "rm -f ", package_dir, "/installstate", err);
}

static dr_status ssh_make_directories(dr_executor *base, const char *path, dr_error *err)
{
    return ssh_path_command(SSH(base), "making a directory", "mkdir -p ", path, "", err);
}

static void ssh_remove_tree(dr_executor *base, const char *path)
{
    dr_error ignored = {0};
    ssh_path_command(SSH(base), "removing a tree", "rm -rf ", path, "", &ignored);
}

static void ssh_prune(dr_executor *base, const char *versions_dir, const char *keep)
{
    ssh_executor *x = SSH(base);
    dr_strbuf cmd = {0};
    dr_strbuf_puts(&cmd, "cd ");
    quote(&cmd, versions_dir);
    dr_strbuf_puts(&cmd, " 2>/dev/null || exit 0; k=");
    quote(&cmd, keep ? keep : "");
    dr_strbuf_puts(&cmd,
                   "; for e in * .[!.]* ..?*; do [ -e \"$e\" ] || continue; "
                   "[ -n \"$k\" ] && [ \"$e\" = \"$k\" ] && continue; rm -rf -- \"$e\"; done");
    dr_error ignored = {0};
    if (!cmd.failed)
        ssh_simple(x, "pruning versions", dr_strbuf_str(&cmd), NULL, SSH_OP_SECONDS, &ignored);
    dr_strbuf_free(&cmd);
}

static void ssh_staging_dir(dr_executor *base, const char *final_dir, char *buf, size_t size)
{
    (void)final_dir;
    static unsigned long counter;
    snprintf(buf, size, "%s/staging-%ld-%lu", SSH(base)->settings->work_dir, (long)getpid(),
             __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
}

/*
 * tar the checked tree here, stream it to a staging directory beside
 * final_dir there, then rename: the target never sees half a version.
 */
static dr_status ssh_place_tree(dr_executor *base, const char *staging, const char *final_dir, dr_error *err)
{
    ssh_executor *x = SSH(base);
    char archive[1200];
    snprintf(archive, sizeof archive, "%s.tar", staging);
    char *tar_argv[] = {(char *)x->settings->tar_path,
                        "--owner=0",
                        "--group=0",
                        "--numeric-owner",
                        "-C",
                        (char *)staging,
                        "-cf",
                        archive,
                        ".",
                        NULL};
    dr_script_request pack = {
        .script = "tar", .cwd = "/", .envp = ssh_env, .argv = tar_argv, .timeout_seconds = SSH_TRANSFER_SECONDS};
    dr_script_result ran;
    dr_strbuf cmd = {0};
    dr_status status = dr_script_run(&pack, &ran, err);
    if (status == DR_OK && (ran.signaled || ran.exit_code != 0)) {
        char line[512];
        last_line(ran.stderr_tail, line, sizeof line);
        status = dr_error_set(err, DR_ERR_IO, "packing %s for %s: %s", staging, x->where, line);
    }
    dr_script_result_free(&ran);
    dr_strbuf_puts(&cmd, "f=");
    quote(&cmd, final_dir);
    dr_strbuf_puts(&cmd,
                   "; s=\"${f%/*}/.staging-${f##*/}\"; rm -rf \"$s\" && mkdir -p \"$s\" && "
                   "tar -xf - -C \"$s\" --no-same-owner && rm -rf \"$f\" && mv \"$s\" \"$f\" || "
                   "{ rm -rf \"$s\"; exit 1; }");
    if (status == DR_OK && (status = command_text(&cmd, "the package tree", err)) == DR_OK)
        status = ssh_simple(x, "copying the package tree", dr_strbuf_str(&cmd), archive, SSH_TRANSFER_SECONDS, err);
    unlink(archive);
    dr_remove_tree(staging, NULL);
    dr_strbuf_free(&cmd);
    return status;
}

/*
 * The script runs there as
 *   cd CWD && env -i VARS... flock -o STATE/lock.script timeout -k 5 T /bin/sh SCRIPT
 * with its output in files beside the lock, not in the ssh channel: a
 * service the script leaves running keeps those files open, not the
 * connection (as locally, such children are left alone).  Then the tails of
 * both files come back, and stderr ends with END_MARK and the exit status:
 * without it, the connection was lost (or never made) and nothing is known
 * of how the script ended.  timeout ends it there, since ssh cannot; the
 * local limit is a backstop.
 */
static dr_status ssh_run_script(dr_executor *base, const dr_script_request *req, dr_script_result *out, dr_error *err)
{
    ssh_executor *x = SSH(base);
    memset(out, 0, sizeof *out);
    size_t tail = req->tail_bytes ? req->tail_bytes : 24 * 1024;
    dr_strbuf cmd = {0};
    dr_strbuf_puts(&cmd, "d=");
    quote(&cmd, x->state_dir);
    dr_strbuf_puts(&cmd, "; cd ");
    quote(&cmd, req->cwd);
    dr_strbuf_puts(&cmd, " || exit 127; env -i");
    for (size_t i = 0; req->envp && req->envp[i]; i++) {
        if (!strchr(req->envp[i], '='))
            continue; /* env would take it for the command */
        dr_strbuf_puts(&cmd, " ");
        quote(&cmd, req->envp[i]);
    }
    dr_strbuf_printf(&cmd, " flock -o \"$d/lock.script\" timeout -k 5 %ld /bin/sh ", req->timeout_seconds);
    quote(&cmd, req->script);
    dr_strbuf_printf(
        &cmd,
        " </dev/null >\"$d/script.stdout\" 2>\"$d/script.stderr\"; rc=$?; "
        "tail -c %zu \"$d/script.stdout\"; tail -c %zu \"$d/script.stderr\" >&2; "
        "rm -f \"$d/script.stdout\" \"$d/script.stderr\"; printf '\\036drover-ssh: exit %%d\\n' \"$rc\" >&2; "
        "exit \"$rc\"",
        tail, tail);
    dr_status status = command_text(&cmd, req->script, err);
    if (status == DR_OK)
        status = ssh_run(x, req->script, dr_strbuf_str(&cmd), NULL, req->timeout_seconds + 30, tail + 64, out, err);
    char *mark = NULL;
    for (char *at = out->stderr_tail; at && (at = strstr(at, END_MARK)); at++)
        mark = at;
    if (status == DR_ERR_UNREACHABLE && mark) {
        dr_error_clear(err); /* the script ran and ended, whatever its status (255 included) */
        status = DR_OK;
    }
    if (status == DR_ERR_UNREACHABLE && !mark) {
        /* The job's channels ride on the lock session's connection: when it dies, they do (give it a moment to be reaped). */
        for (int i = 0; i < 10 && x->lock_pid > 0 && !lock_session_lost(x); i++)
            usleep(50 * 1000);
        dr_error_wrap(err, "%sno end of %s was seen (it may still run there, under the script lock)",
                      x->lock_lost ? "the ssh session holding the target lock ended; " : "", req->script);
    }
    if (status != DR_OK)
        goto done;
    if (mark) {
        out->exit_code = atoi(mark + sizeof END_MARK - 1);
        out->signaled = 0;
        out->timed_out = 0;
        *mark = '\0';
        out->stderr_bytes = strlen(out->stderr_tail);
    }
    if (!out->signaled && (out->exit_code == 124 || out->exit_code == 137) &&
        out->elapsed_ms >= req->timeout_seconds * 1000)
        out->timed_out = 1;
done:
    dr_strbuf_free(&cmd);
    return status;
}

static void ssh_free(dr_executor *base)
{
    ssh_unlock(base);
    free(base);
}

static const dr_executor_ops ssh_ops = {
    .name = "ssh",
    .lock = ssh_lock,
    .unlock = ssh_unlock,
    .read_record = ssh_read_record,
    .write_record = ssh_write_record,
    .remove_record = ssh_remove_record,
    .make_directories = ssh_make_directories,
    .remove_tree = ssh_remove_tree,
    .prune = ssh_prune,
    .staging_dir = ssh_staging_dir,
    .place_tree = ssh_place_tree,
    .run_script = ssh_run_script,
    .free = ssh_free,
};

dr_status dr_executor_ssh_new(const dr_ssh_settings *settings, const dr_ssh_address *address, dr_executor **out,
                              dr_error *err)
{
    ssh_executor *x = calloc(1, sizeof *x);
    if (!x)
        return dr_error_set(err, DR_ERR_NOMEM, "ssh executor");
    x->base.ops = &ssh_ops;
    x->settings = settings;
    x->address = *address;
    x->lock_in = -1;
    snprintf(x->port, sizeof x->port, "%d", address->port);
    x->user = x->address.user[0] ? x->address.user : (settings->user && settings->user[0] ? settings->user : "root");
    x->connect_seconds = settings->connect_timeout_seconds > 0 ? settings->connect_timeout_seconds : 10;
    snprintf(x->where, sizeof x->where, "%s@%s:%d", x->user, address->host, address->port);
    *out = &x->base;
    return DR_OK;
}
