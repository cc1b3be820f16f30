/*
 * executor_ssh.h - targets that are other machines, reached with the
 * OpenSSH client (executor.h's contract).
 *
 * The worker downloads, verifies, unpacks and checks the package as for a
 * local target; the checked tree then goes to the target as a tar stream
 * over ssh, so the target needs only sh, tar, flock and timeout (coreutils,
 * util-linux), and no zip code of its own.  The target's state (lock,
 * install records, versions/) is laid out exactly as for a local target,
 * under the address's root (state.h).
 *
 * Host keys: only those in the known_hosts file are trusted; with
 * accept_new, a host not in it yet is added on first contact (trust on
 * first use, off by default).  No agent, no ~/.ssh/config, no password.
 *
 * The lock is an flock(1) held on the target by a long-lived ssh session
 * for the whole job: if the worker dies, the session ends and the lock is
 * released with its owner line left, so the next taker reports a take-over
 * (as for a local target).  That session is also the connection's master:
 * the job's other operations are channels on its connection.  Each script
 * runs under a second lock
 * (lock.script) held by flock(1) on the target, so a script that outlives
 * its worker's connection (ssh cannot kill it) is waited for by the next
 * job before it starts: never two scripts on one target at once.
 */
#ifndef DROVER_EXECUTOR_SSH_H
#define DROVER_EXECUTOR_SSH_H

#include <stddef.h>

#include "error.h"
#include "executor.h"

typedef struct dr_ssh_settings {
    const char *key_file;         /* private key (-i); required */
    const char *known_hosts;      /* required; written to only with accept_new */
    const char *user;             /* login user when the address names none; NULL or "": root */
    int accept_new;               /* StrictHostKeyChecking=accept-new instead of yes */
    long connect_timeout_seconds; /* 0: 10 */
    const char *work_dir;         /* this process's own local directory (it exists) for staging trees,
                                     transfers and connection sockets */
    /* Filled by dr_ssh_settings_check: */
    char ssh_path[256];
    char tar_path[256];
    /*
     * With accept_new and a known_hosts that cannot be written (a Secret
     * mounted read-only): a copy in work_dir, made afresh at the check,
     * that known_hosts then points at, so a host accepted once is not
     * accepted again with another key for as long as the worker runs.
     */
    char known_hosts_copy[4200];
} dr_ssh_settings;

/*
 * Find ssh and tar, and check the key and known_hosts files can be read
 * (DR_ERR_USAGE naming what is missing); copy known_hosts into work_dir
 * when accept_new cannot write it.  Call once, before any executor.
 */
dr_status dr_ssh_settings_check(dr_ssh_settings *settings, dr_error *err);

/* "[user@]host[:port][/root/path]"; host may be "[v6:addr]". */
typedef struct dr_ssh_address {
    char user[64]; /* "" when not given */
    char host[256];
    int port;        /* 22 when not given */
    char root[1024]; /* the target root on that host; "/" when not given */
} dr_ssh_address;

/* DR_ERR_USAGE for an address that is malformed or could be read as an ssh option. */
dr_status dr_ssh_address_parse(const char *address, dr_ssh_address *out, dr_error *err);

/* An executor for one target; settings must outlive it.  Free with dr_executor_free. */
dr_status dr_executor_ssh_new(const dr_ssh_settings *settings, const dr_ssh_address *address, dr_executor **out,
                              dr_error *err);

#endif
