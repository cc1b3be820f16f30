#!/usr/bin/env bash
# The ssh executor's own rules, on a real sshd on loopback: only pinned host
# keys are trusted (a changed key is refused even with --ssh-accept-new; an
# unknown one only with it), a wrong client key is refused, bad addresses are
# usage errors, and a worker killed mid-script leaves a script that the next
# job waits for, then takes the lock over.
# Every case needs the prerequisite SSHD; the read-only
# known_hosts one a read-only bind mount too (root, CAP_SYS_ADMIN).
DROVER_APPLY_OVER_SSH=1
. "$(dirname "$0")/apply_lib.sh"
test_lazy_prereq BIND_MOUNT 'd=$(mktemp -d) && { mount --bind "$d" "$d" && mount -o remount,ro,bind "$d"; r=$?; umount "$d"; rmdir "$d"; [ "$r" -eq 0 ]; }'

simple_package acme 1.0
write_script slow 1.0 install.sh 'echo started > "$DROVER_TARGET_ROOT/slow-started"; sleep 4; echo end >> "$DROVER_TARGET_ROOT/drover-test.log"'
write_script slow 1.0 uninstall.sh 'true'
# daemon's install.sh leaves a process holding its stdout and stderr, as a
# service started carelessly does: the job must not wait for it.
write_script daemon 1.0 install.sh 'sleep 30 & echo "started $!" > "$DROVER_TARGET_ROOT/daemon.pid"; echo "service started"'
write_script daemon 1.0 uninstall.sh 'true'
make_version acme 1.0
make_version slow 1.0
make_version daemon 1.0
start_http
m() { echo "--manifest $BASE_URL/$1/1.0/manifest.json --artifacts $BASE_URL/$1/1.0"; }
# apply_to ADDRESS KNOWN_HOSTS TARGET [flags...]: apply through ssh with these settings.
apply_to() {
  local address=$1 known=$2 target=$3; shift 3
  local saved=("${APPLY_EXTRA[@]}")
  APPLY_EXTRA=(--ssh-address "$address" --ssh-key "${KEY:-$SSH_KEY}" --ssh-known-hosts "$known" --ssh-user "$(id -un)")
  apply "$target" "$@"
  APPLY_EXTRA=("${saved[@]}")
}

test_expect_success SSHD 'a host key that changed is refused, with or without --ssh-accept-new, and nothing is written through it' '
  T=$(new_target t-changed)
  ssh-keygen -q -t ed25519 -N "" -f "$WORK/other_host"
  echo "[127.0.0.1]:$SSHD_PORT $(cut -d" " -f1,2 "$WORK/other_host.pub")" >"$WORK/wrong_known_hosts"
  apply_to "127.0.0.1:$SSHD_PORT" "$WORK/wrong_known_hosts" "$T" --package acme $(m acme)
  expect_rc 1; expect_out "reason: unreachable"; expect_out "Host key verification failed"
  apply_to "127.0.0.1:$SSHD_PORT" "$WORK/wrong_known_hosts" "$T" --package acme $(m acme) --ssh-accept-new
  expect_rc 1; expect_out "Host key verification failed"
  [ ! -e "$T/var" ] && [ ! -e "$T/opt" ] || fail "something was written through a host with a changed key"
'

test_expect_success SSHD 'an unknown host is refused; with --ssh-accept-new it is trusted on first use and remembered' '
  : >"$WORK/empty_known_hosts"
  apply_to "127.0.0.1:$SSHD_PORT" "$WORK/empty_known_hosts" "$T" --package acme $(m acme)
  expect_rc 1; expect_out "Host key verification failed"
  apply_to "127.0.0.1:$SSHD_PORT" "$WORK/empty_known_hosts" "$T" --package acme $(m acme) --ssh-accept-new
  expect_rc 0; expect_installed "$T" acme 1.0
  grep -q "$(cut -d" " -f2 "$WORK/sshd/host_ed25519.pub")" "$WORK/empty_known_hosts" || fail "the accepted key was not added to known_hosts"
'

# known_hosts on a read-only mount, as a Kubernetes Secret is.
mkdir -p "$WORK/ro"
: >"$WORK/ro/known_hosts"
trap 'umount "$WORK/ro" 2>/dev/null || true; cleanup' EXIT
test_expect_success SSHD,BIND_MOUNT 'with a read-only known_hosts, an accepted key is kept in a copy in the cache and the original is untouched' '
  mount --bind "$WORK/ro" "$WORK/ro" && mount -o remount,ro,bind "$WORK/ro" || fail "cannot bind-mount $WORK/ro read-only"
  R=$(new_target t-read-only)
  apply_to "127.0.0.1:$SSHD_PORT" "$WORK/ro/known_hosts" "$R" --package acme $(m acme) --ssh-accept-new
  expect_rc 0; expect_installed "$R" acme 1.0
  grep -qs "$(cut -d" " -f2 "$WORK/sshd/host_ed25519.pub")" "$CACHE"/ssh-*/known_hosts ||
    fail "the accepted key is not in the copy: $(cat "$CACHE"/ssh-*/known_hosts 2>&1)"
  [ ! -s "$WORK/ro/known_hosts" ] || fail "the read-only known_hosts changed"
  umount "$WORK/ro"
'

test_expect_success SSHD 'a client key the target does not accept is refused: unreachable, with ssh saying why' '
  ssh-keygen -q -t ed25519 -N "" -f "$WORK/stranger"
  KEY="$WORK/stranger" apply_to "127.0.0.1:$SSHD_PORT" "$SSH_KNOWN_HOSTS" "$T" --package acme $(m acme)
  expect_rc 1; expect_out "reason: unreachable"; expect_out "Permission denied"
'

test_expect_success SSHD 'addresses that are not addresses, or could be read as ssh options, are usage errors that run nothing' '
  for bad in "-oProxyCommand=touch${WORK}/pwned" "127.0.0.1:0" "user name@127.0.0.1" "[::1"; do
    apply_to "$bad" "$SSH_KNOWN_HOSTS" "$T" --package acme $(m acme)
    expect_rc 2; expect_out "ssh address"
  done
  [ ! -e "$WORK/pwned" ] || fail "an address ran a command"
'

test_expect_success SSHD 'a target root that is not a directory there is REJECTED, and nothing is created' '
  apply "$WORK/no-such-root" --package acme $(m acme)
  expect_rc 3; expect_out "outcome: REJECTED"; expect_out "target root '\''$WORK/no-such-root'\'' is not a directory on"
  [ ! -e "$WORK/no-such-root" ] || fail "a missing target root was created"
'

test_expect_success SSHD 'a root whose path has a space and a quote is one path there, not a command; a path in the address is refused' '
  Q=$(new_target "odd root'\''s dir")
  apply "$Q" --package acme $(m acme)
  expect_rc 0; expect_installed "$Q" acme 1.0
  [ "$(cat "$Q/opt/acme/version")" = 1.0 ] || fail "not installed under the odd root"
  apply_to "127.0.0.1:$SSHD_PORT/srv/x" "$SSH_KNOWN_HOSTS" "$Q" --package acme $(m acme)
  expect_rc 2; expect_out "give the target'\''s path there with --target-root"
'

test_expect_success SSHD 'a script that leaves a background process holding its output ends when it exits, well before its timeout' '
  D=$(new_target t-daemon)
  started=$(date +%s)
  apply "$D" --package daemon $(m daemon) --script-timeout 20
  expect_rc 0; expect_out "outcome: SUCCESS"
  [ $(( $(date +%s) - started )) -lt 15 ] || fail "the job waited for the script'\''s background process"
  kill "$(sed -n "s/^started //p" "$D/daemon.pid")" 2>/dev/null || true
'

test_expect_success SSHD 'the session holding the target lock dies mid-job: the job fails unreachable and records nothing; the next runs' '
  L=$(new_target t-lost-lock)
  (apply "$L" --package slow $(m slow) --job-id lost; echo "$RC" >"$WORK/lost.rc"; echo "$OUT" >"$WORK/lost.out") &
  lost=$!
  for _ in $(seq 1 100); do [ -e "$L/slow-started" ] && break; sleep 0.1; done
  [ -e "$L/slow-started" ] || fail "the slow script did not start"
  pkill -KILL -f "$L/var/lib/drover.*LOCKED" || fail "no lock session to kill"
  wait "$lost" || true
  [ "$(cat "$WORK/lost.rc")" = 1 ] || fail "the job whose lock session died exited $(cat "$WORK/lost.rc"): $(cat "$WORK/lost.out")"
  grep -q "reason: unreachable" "$WORK/lost.out" || fail "not reported unreachable: $(cat "$WORK/lost.out")"
  grep -q "the ssh session holding the target lock" "$WORK/lost.out" || fail "the lost lock is not named: $(cat "$WORK/lost.out")"
  [ ! -e "$L/var/lib/drover/packages/slow/installstate" ] || fail "the job wrote its record without the lock"
  apply "$L" --package slow $(m slow) --job-id after
  expect_rc 0
  expect_installed "$L" slow 1.0
  grep -q "\"job_id\": \"after\"" "$L/var/lib/drover/packages/slow/installstate" || fail "the lost job wrote its record"
'

test_expect_success SSHD 'killed mid-script: the remote script goes on, and the next job waits for it, then reports the take-over' '
  S=$(new_target t-killed)
  (apply "$S" --package slow $(m slow) --job-id first) &
  first=$!
  for _ in $(seq 1 100); do [ -e "$S/slow-started" ] && break; sleep 0.1; done
  [ -e "$S/slow-started" ] || fail "the first script did not start"
  pkill -KILL -f -- "$S --cache-dir .* --job-id first" || true
  wait "$first" 2>/dev/null || true
  [ "$(script_log "$S")" = "install.sh 1.0;" ] || fail "the script ended before the kill; the test proves nothing"
  apply "$S" --package slow $(m slow) --job-id second
  expect_rc 0
  expect_out "lock-taken-over-from: "
  expect_out "job=first"
  # The rerun'\''s script started only after the orphan had finished.
  expect_log "$S" "install.sh 1.0;end;install.sh 1.0;end;"
'

test_done
