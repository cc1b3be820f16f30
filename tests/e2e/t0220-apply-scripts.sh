#!/usr/bin/env bash
# Scripts that fail, hang or flood their output: the exit code and the last
# 24 KiB are reported, a hung script is killed at its timeout together with
# its children, and megabytes of output are handled.  In every case nothing
# outside the target changes.  t0221 runs it again over ssh (then every case
# needs the prerequisite SSHD, "$APPLY_PREREQ").
. "$(dirname "$0")/apply_lib.sh"

write_script failing 1.0 install.sh 'echo "step one ok"; echo "cannot reach license server" >&2; exit 42'
write_script failing 1.0 uninstall.sh 'true'
write_script hanging 1.0 install.sh 'sleep 300 & echo $! > "$DROVER_TARGET_ROOT/child.pid"; echo $$ > "$DROVER_TARGET_ROOT/script.pid"; echo "about to hang"; sleep 300'
write_script hanging 1.0 uninstall.sh 'true'
# About 4 MiB on stdout and 1 MiB on stderr, each ending with a known line.
write_script noisy 1.0 install.sh 'i=0; while [ $i -lt 4000 ]; do printf "%01000d\n" $i; i=$((i+1)); done; echo "LAST STDOUT LINE"
  head -c 1048576 /dev/zero | tr "\0" "e" >&2; echo "LAST STDERR LINE" >&2; exit 3'
write_script noisy 1.0 uninstall.sh 'true'
for p in failing hanging noisy; do make_version "$p" 1.0; done
start_http
m() { echo "--manifest $BASE_URL/$1/1.0/manifest.json --artifacts $BASE_URL/$1/1.0"; }

test_expect_success "$APPLY_PREREQ" 'a failing script: FAILED with its exit code and output, nothing recorded, nothing left' '
  T=$(new_target t-failing)
  before=$(snapshot_outside "$T")
  apply "$T" --package failing $(m failing)
  expect_rc 1; expect_out "outcome: FAILED"; expect_out "reason: script-failed"; expect_out "exit-code: 42"
  expect_out "failed-step: install.sh 1.0"; expect_out "step one ok"; expect_out "cannot reach license server"
  expect_installed "$T" failing none
  [ -z "$(ls "$T/var/lib/drover/packages/failing/versions")" ] || fail "failed install left its unpacked tree"
  expect_same_outside "$T" "$before"
'

test_expect_success "$APPLY_PREREQ" 'a hung script is killed at its timeout with its children: TIMED_OUT, nothing recorded' '
  T=$(new_target t-hanging)
  before=$(snapshot_outside "$T")
  start=$(date +%s)
  apply "$T" --package hanging $(m hanging) --script-timeout 2
  elapsed=$(( $(date +%s) - start ))
  expect_rc 4; expect_out "outcome: TIMED_OUT"; expect_out "reason: script-timeout"; expect_out "timed out after 2 s"
  expect_out "about to hang"
  [ "$elapsed" -lt 15 ] || fail "timeout took ${elapsed}s"
  # Killed at the timeout: each is gone (or a zombie) within moments.
  for f in child.pid script.pid; do
    pid=$(cat "$T/$f")
    for _ in $(seq 1 100); do process_gone "$pid" && break; sleep 0.05; done
    process_gone "$pid" || fail "process $pid ($f) survived the timeout by 5 s: $(ps -o pid,stat,args -p "$pid" | tail -1)"
  done
  expect_installed "$T" hanging none
  expect_same_outside "$T" "$before"
'

test_expect_success "$APPLY_PREREQ" 'megabytes of output: the exit code and only the last 24 KiB of each stream are reported' '
  T=$(new_target t-noisy)
  before=$(snapshot_outside "$T")
  apply "$T" --package noisy $(m noisy)
  expect_rc 1; expect_out "exit-code: 3"; expect_out "LAST STDOUT LINE"; expect_out "LAST STDERR LINE"
  stdout_tail=$(sed -n "/^--- stdout (tail) ---\$/,/^--- stderr (tail) ---\$/p" <<<"$OUT" | wc -c)
  [ "$stdout_tail" -le $((24 * 1024 + 64)) ] && [ "$stdout_tail" -ge $((24 * 1024)) ] || fail "stdout tail is $stdout_tail bytes"
  stderr_tail=$(sed -n "/^--- stderr (tail) ---\$/,\$p" <<<"$OUT" | wc -c)
  [ "$stderr_tail" -le $((24 * 1024 + 64)) ] && [ "$stderr_tail" -ge $((24 * 1024)) ] || fail "stderr tail is $stderr_tail bytes"
  expect_same_outside "$T" "$before"
'

test_done
