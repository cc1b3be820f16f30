#!/usr/bin/env bash
# One deployment over the three kinds of target at once: local targets under
# the workers' targets root, machines reached over ssh (a real sshd on
# loopback, several targets behind it), and agents (drover-worker --self on
# the target itself).  Each job runs exactly once, where its target says; the
# group's worker never runs an agent's job; an agent runs nothing but its
# own.  Unreachable ssh targets (a closed port, an unknown host key) end
# FAILED with reason "unreachable" and ssh's own words.  Every case needs the
# sshd (prerequisite SSHD); those reading rollups curl and jq (CURL, JQ).
. "$(dirname "$0")/pipeline_lib.sh"
. "$(dirname "$0")/ssh_lib.sh"
PRODUCER="$DROVER_BUILD_DIR/drover-producer"

simple_package acme 1.0
make_version acme 1.0
start_http
if test_have_prereq SSHD; then
  start_sshd
  HTTP_PIDS+=("$SSHD_PID")
fi
# Few partitions, so the agents share theirs with other targets' jobs.
start_broker --partitions 3
start_aggregator
start_control_plane
start_worker w1 --concurrency 4 ${SSH_FLAGS[@]+"${SSH_FLAGS[@]}"} --ssh-connect-timeout 5
REMOTE="$WORK/remote"
AGENTS="$WORK/agents"
for a in a-1 a-2; do
  mkdir -p "$AGENTS/$a"
  start_worker "agent-$a" --self "$a" --self-root "$AGENTS/$a" --concurrency 1
done
export DROVER_BROKERS="$BROKERS"
"$PRODUCER" package publish --name acme --manifest "$BASE_URL/acme/1.0/manifest.json" --artifacts "$BASE_URL/acme/1.0" >/dev/null

reg() { "$PRODUCER" target register --id "$1" --account 111 --region eu-west-1 --platform ubuntu \
          --platform-version 22.04 --arch x86_64 "${@:2}" >/dev/null; }
test_expect_success SSHD 'set-up: four local targets, four behind the sshd (one address each), two agents' '
  for i in 1 2 3 4; do reg "l-$i"; done
  for i in 1 2 3 4; do
    mkdir -p "$REMOTE/s-$i"
    reg "s-$i" --executor ssh --address "$(id -un)@127.0.0.1:$SSHD_PORT$REMOTE/s-$i"
  done
  for a in a-1 a-2; do reg "$a" --executor agent; done
'

test_expect_success SSHD,CURL,JQ 'one deployment over the three kinds of target: deploy exits 0 and all 10 end SUCCESS' '
  RC=0; OUT=$("$PRODUCER" deploy --package acme --targets l-1,l-2,l-3,l-4,s-1,s-2,s-3,s-4,a-1,a-2 --deployment-id d-mixed \
        --wait-timeout 120 2>&1) || RC=$?
  [ "$RC" -eq 0 ] || fail "deploy exited $RC: $OUT"
  wait_for_rollup d-mixed SUCCESS 30
  [ "$(jq -r ".counts.SUCCESS" <<<"$ROLLUP")" = 10 ] || fail "SUCCESS is not 10: $ROLLUP"
'

test_expect_success SSHD,CURL,JQ 'each local and ssh target is installed once, where its target says; nothing local for an ssh target' '
  for i in 1 2 3 4; do
    [ "$(cat "$TARGETS/l-$i/opt/acme/version")" = 1.0 ] || fail "local l-$i not installed"
    [ "$(cat "$REMOTE/s-$i/opt/acme/version")" = 1.0 ] || fail "ssh s-$i not installed"
    [ "$(cat "$REMOTE/s-$i/drover-test.log")" = "install.sh 1.0" ] || fail "s-$i: $(cat "$REMOTE/s-$i/drover-test.log")"
    [ -f "$REMOTE/s-$i/var/lib/drover/packages/acme/installstate" ] || fail "s-$i has no install record"
    [ ! -e "$TARGETS/s-$i" ] || fail "the worker made a local directory for ssh target s-$i"
  done
'

test_expect_success SSHD,CURL,JQ 'an agent runs its own job and no other, reporting as itself; the group'\''s worker runs no agent job' '
  for a in a-1 a-2; do
    [ "$(cat "$AGENTS/$a/drover-test.log")" = "install.sh 1.0" ] || fail "agent $a: $(cat "$AGENTS/$a/drover-test.log" 2>&1)"
    [ ! -e "$TARGETS/$a" ] || fail "the group'\''s worker ran agent target $a'\''s job"
    # The agent ran its own job and no other (its partition holds others'\'' jobs too).
    [ "$(grep -c "event=job.start" "$WORK/agent-$a.log")" = 1 ] || fail "agent $a started other jobs: $(grep job.start "$WORK/agent-$a.log")"
  done
  # Who ran what, from the status events: the agents report as themselves.
  for a in a-1 a-2; do
    grep -q "event=job.done .*target=$a state=SUCCESS" "$WORK/agent-$a.log" || fail "agent $a did not report its job"
  done
  [ "$(grep -c "event=job.start" "$WORK/w1.log")" = 8 ] || fail "w1 started $(grep -c "event=job.start" "$WORK/w1.log") jobs, want 8"
'

test_expect_success SSHD,CURL,JQ 'unreachable ssh targets (a closed port, an unknown host key) end FAILED unreachable in ssh'\''s words, nothing written' '
  mkdir -p "$REMOTE/s-unknown"
  reg s-closed --executor ssh --address "127.0.0.1:1$REMOTE/s-1"
  reg s-unknown --executor ssh --address "$(id -un)@localhost:$SSHD_PORT$REMOTE/s-unknown"
  RC=0; OUT=$("$PRODUCER" deploy --package acme --targets s-closed,s-unknown --max-errors 1 --deployment-id d-unreachable \
        --wait-timeout 120 2>&1) || RC=$?
  [ "$RC" -eq 1 ] || fail "deploy to unreachable targets exited $RC: $OUT"
  wait_for_rollup d-unreachable FAILED 30
  grep -q "event=job.done .*target=s-closed state=FAILED reason=unreachable msg=.*Connection refused" "$WORK/w1.log" ||
    fail "s-closed: $(grep "target=s-closed" "$WORK/w1.log")"
  grep -q "event=job.done .*target=s-unknown state=FAILED reason=unreachable msg=.*Host key verification failed" "$WORK/w1.log" ||
    fail "s-unknown: $(grep "target=s-unknown" "$WORK/w1.log")"
  [ ! -e "$REMOTE/s-unknown/var" ] || fail "something was written to a host whose key is unknown"
'

test_expect_success SSHD,CURL,JQ 'uninstall over ssh runs uninstall.sh there, and the record goes' '
  RC=0; OUT=$("$PRODUCER" deploy --package acme --action uninstall --targets s-1,s-2 --deployment-id d-remove --wait-timeout 120 2>&1) || RC=$?
  [ "$RC" -eq 0 ] || fail "uninstall deploy exited $RC: $OUT"
  for i in 1 2; do
    [ ! -e "$REMOTE/s-$i/opt/acme" ] || fail "s-$i still has acme"
    [ ! -e "$REMOTE/s-$i/var/lib/drover/packages/acme/installstate" ] || fail "s-$i still has its record"
  done
'

test_done
