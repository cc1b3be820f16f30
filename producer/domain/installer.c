#include "installer.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

/* Three short fields; anything longer than this is not a package we take. */
#define TOOL_OUTPUT_MAX 1024
/* Reading a package's header takes a moment; a minute is a tool that is stuck. */
#define TOOL_TIMEOUT_MS 60000
/* The shell's "command not found", which the child exits with when exec fails. */
#define EXIT_NOT_FOUND 127

/* The package managers' architectures and the manifest arch keys they install on. */
static const struct {
    const char *raw;
    const char *key;
} arch_keys[] = {
    {"amd64", "x86_64"}, {"x86_64", "x86_64"}, {"arm64", "arm64"}, {"aarch64", "arm64"},
    {"i386", "386"},     {"i686", "386"},      {"all", "_any"},    {"noarch", "_any"},
};

const char *dr_installer_extension(dr_installer_kind kind)
{
    return kind == DR_INSTALLER_DEB ? "deb" : "rpm";
}

/* The child's side of run_tool: stdout to the pipe, stdin and stderr to /dev/null, then exec. */
static void exec_tool(char *const argv[], int out_fd)
{
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDERR_FILENO) < 0 ||
        dup2(out_fd, STDOUT_FILENO) < 0)
        _exit(EXIT_NOT_FOUND);
    execvp(argv[0], argv);
    _exit(EXIT_NOT_FOUND);
}

/*
 * Run argv (no shell) and keep its stdout, NUL-terminated, in out (size
 * bytes); *exit_code is its exit status, or -1 when it was killed, wrote
 * more than fits or ran past TOOL_TIMEOUT_MS (then it is killed).  The
 * errors returned are only about starting it at all.
 */
static dr_status run_tool(char *const argv[], char *out, size_t size, int *exit_code, dr_error *err)
{
    dr_status status = DR_OK;
    int fds[2] = {-1, -1};
    size_t used = 0;
    int gave_up = 0;
    pid_t pid = -1;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot run %s: %s", argv[0], strerror(errno));
        goto cleanup;
    }
    pid = fork();
    if (pid < 0) {
        status = dr_error_set(err, DR_ERR_IO, "cannot run %s: %s", argv[0], strerror(errno));
        goto cleanup;
    }
    if (pid == 0)
        exec_tool(argv, fds[1]);
    close(fds[1]);
    fds[1] = -1;
    int64_t deadline = dr_monotonic_ms() + TOOL_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - dr_monotonic_ms();
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0) {
            /* A tool stuck on a crafted file must not hang create: stop it and call the file unreadable. */
            gave_up = 1;
            break;
        }
        char chunk[512];
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (used + (size_t)n >= size) {
            /* A flood of output is not a package's three fields: stop reading and stop the tool. */
            gave_up = 1;
            break;
        }
        memcpy(out + used, chunk, (size_t)n);
        used += (size_t)n;
    }
    out[used] = '\0';
    if (gave_up)
        kill(pid, SIGKILL);
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    *exit_code = !gave_up && WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;

cleanup:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return status;
}

/* 1-128 characters, the first a letter or digit, the rest alphanumerics or one of extra. */
static int valid_field(const char *value, const char *extra)
{
    size_t len = strlen(value);
    if (len == 0 || len > 128 || !isalnum((unsigned char)value[0]))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)value[i]) && !strchr(extra, value[i]))
            return 0;
    return 1;
}

/* The next line of *cursor (its newline cut off), or NULL when there is none. */
static char *next_line(char **cursor)
{
    char *line = *cursor;
    char *newline = line ? strchr(line, '\n') : NULL;
    if (!newline)
        return NULL;
    *newline = '\0';
    *cursor = newline + 1;
    return line;
}

/* Check the tool's three lines (name, version, arch) and fill out from them. */
static dr_status parse_fields(const char *path, char *text, dr_installer *out, dr_error *err)
{
    char *cursor = text;
    const char *name = next_line(&cursor), *version = next_line(&cursor), *arch = next_line(&cursor);
    if (!name || !version || !arch || *cursor != '\0')
        return dr_error_set(err, DR_ERR_USAGE, "%s: its name, version and architecture do not read as one line each",
                            path);
    if (!valid_field(name, "._+-"))
        return dr_error_set(err, DR_ERR_USAGE,
                            "%s: package name '%.64s' is not 1-128 of A-Z a-z 0-9 . _ + - starting with a letter "
                            "or digit",
                            path, name);
    if (!valid_field(version, "._+~:-"))
        return dr_error_set(err, DR_ERR_USAGE,
                            "%s: version '%.64s' is not 1-128 of A-Z a-z 0-9 . _ + ~ : - starting with a letter or "
                            "digit",
                            path, version);
    const char *key = NULL;
    for (size_t i = 0; i < sizeof arch_keys / sizeof arch_keys[0] && !key; i++)
        if (strcmp(arch, arch_keys[i].raw) == 0)
            key = arch_keys[i].key;
    if (!key)
        return dr_error_set(err, DR_ERR_USAGE,
                            "%s: architecture '%.32s' has no manifest key (known: amd64/x86_64, arm64/aarch64, "
                            "i386/i686, all/noarch)",
                            path, arch);
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->version, sizeof out->version, "%s", version);
    snprintf(out->arch, sizeof out->arch, "%s", key);
    snprintf(out->platform, sizeof out->platform, "%s", out->kind == DR_INSTALLER_DEB ? "debian" : "redhat");
    return DR_OK;
}

/* The kind path's name says, or -1 for neither. */
static int kind_of(const char *path)
{
    size_t len = strlen(path);
    if (len > 4 && strcmp(path + len - 4, ".deb") == 0)
        return DR_INSTALLER_DEB;
    if (len > 4 && strcmp(path + len - 4, ".rpm") == 0)
        return DR_INSTALLER_RPM;
    return -1;
}

dr_status dr_installer_inspect(const char *path, dr_installer *out, dr_error *err)
{
    dr_status status = DR_OK;
    char text[TOOL_OUTPUT_MAX];
    int exit_code = 0;
    memset(out, 0, sizeof *out);
    int kind = kind_of(path);
    if (kind < 0) {
        status =
            dr_error_set(err, DR_ERR_USAGE, "%s: neither a .deb nor an .rpm (package create takes only those)", path);
        goto cleanup;
    }
    out->kind = (dr_installer_kind)kind;
    /* "--" and a path that cannot start with '-' keep the file from being read as an option. */
    char *deb_argv[] = {"dpkg-deb", "--show",     "--showformat=${Package}\\n${Version}\\n${Architecture}\\n",
                        "--",       (char *)path, NULL};
    char *rpm_argv[] = {"rpm", "-qp",        "--queryformat=%{NAME}\\n" DR_INSTALLER_RPM_VERSION_FORMAT "\\n%{ARCH}\\n",
                        "--",  (char *)path, NULL};
    char *const *argv = kind == DR_INSTALLER_DEB ? deb_argv : rpm_argv;
    status = run_tool(argv, text, sizeof text, &exit_code, err);
    if (status != DR_OK)
        goto cleanup;
    if (exit_code == EXIT_NOT_FOUND) {
        status = dr_error_set(err, DR_ERR_IO, "%s: cannot run %s; install %s to create packages from .%s files", path,
                              argv[0], kind == DR_INSTALLER_DEB ? "dpkg" : "rpm", dr_installer_extension(out->kind));
        goto cleanup;
    }
    if (exit_code != 0) {
        status = exit_code < 0 ? dr_error_set(err, DR_ERR_USAGE,
                                              "%s: %s cannot read it as a .%s (stopped: it ran over a minute or "
                                              "printed more than a package's name, version and arch)",
                                              path, argv[0], dr_installer_extension(out->kind))
                               : dr_error_set(err, DR_ERR_USAGE, "%s: %s cannot read it as a .%s (exit %d)", path,
                                              argv[0], dr_installer_extension(out->kind), exit_code);
        goto cleanup;
    }
    status = parse_fields(path, text, out, err);

cleanup:
    return status;
}
