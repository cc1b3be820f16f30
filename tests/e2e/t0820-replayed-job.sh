#!/usr/bin/env bash
# A signed job copied off the jobs topic and written again later must not
# run again: the worker that ran it knows its id and refuses it (job.replayed,
# no status), and every job the control plane releases expires (serve
# --job-expiry-seconds, a deployment's --deadline-seconds if sooner), so any
# worker ends an expired job TIMED_OUT (reason deadline) without running it.
# The replay is done as an attacker would, with kcat, bytes unchanged (the
# signature still verifies).
. "$(dirname "$0")/pipeline_lib.sh"
MESSAGES="$DROVER_BUILD_DIR/drover_test_messages"
test_lazy_prereq KCAT 'command -v kcat'

write_script once 1.0 install.sh 'echo run >> "$DROVER_TARGET_ROOT/runs"'
write_script once 1.0 uninstall.sh 'rm -f "$DROVER_TARGET_ROOT/runs"'
make_version once 1.0
start_http
start_broker
start_aggregator
start_control_plane cp1 --job-expiry-seconds 3
start_worker w1
export DROVER_BROKERS="$BROKERS"
"$PRODUCER" package publish --name once --manifest "$BASE_URL/once/1.0/manifest.json" --artifacts "$BASE_URL/once/1.0" >/dev/null
"$PRODUCER" target register --id r-1 --account 111 --region eu-west-1 --platform ubuntu --platform-version 22.04 \
  --arch x86_64 >/dev/null

test_expect_success CURL 'every released job expires --job-expiry-seconds after its release' '
  "$PRODUCER" deploy --package once --targets r-1 --deployment-id d-1 --no-wait >/dev/null
  wait_for_rollup d-1 SUCCESS 60
  job=$("$MESSAGES" dump jobs | grep " deployment=d-1 ")
  deadline=$(sed -n "s/.* deadline_ms=\([0-9]*\).*/\1/p" <<<"$job")
  released=$(sed -n "s/.* released_at_ms=\([0-9]*\).*/\1/p" <<<"$job")
  [ -n "$deadline" ] && [ -n "$released" ] || fail "no deadline or release time in: $job"
  [ $((deadline - released)) -ge 2900 ] && [ $((deadline - released)) -le 3100 ] ||
    fail "the job expires $((deadline - released)) ms after its release, want 3000: $job"
'

test_expect_success CURL,KCAT 'the install job written again while fresh is refused by the worker that ran it (job.replayed) and does not run' '
  key=$(kcat -b "$BROKERS" -C -t drover.jobs -o beginning -e -q -c 1 -f "%k")
  kcat -b "$BROKERS" -C -t drover.jobs -o beginning -e -q -c 1 -f "%s" >"$WORK/job-d-1.bin"
  [ "$key" = r-1 ] || fail "the jobs topic does not start with d-1'"'"'s job (key $key)"
  # Uninstalled since: a replayed install that ran would install it again.
  "$PRODUCER" deploy --package once --targets r-1 --action uninstall --deployment-id d-2 --no-wait >/dev/null
  wait_for_rollup d-2 SUCCESS 60
  [ ! -e "$TARGETS/r-1/runs" ] || fail "the uninstall left $TARGETS/r-1/runs"
  kcat -b "$BROKERS" -P -t drover.jobs -k "$key" "$WORK/job-d-1.bin"
  wait_for_log "$WORK/w1.log" "event=job.replayed job=d-1/r-1 "
  [ ! -e "$TARGETS/r-1/runs" ] || fail "the replayed install ran: $(cat "$TARGETS/r-1/runs")"
  wait_for_rollup d-1 SUCCESS 10
'

test_expect_success CURL,KCAT 'written again after it expired, to a worker that never saw it, it ends TIMED_OUT (deadline) and does not run' '
  kill -TERM "$WORKER_PID"; wait "$WORKER_PID" || true
  start_worker w2
  # The event waited for is the deadline itself.
  while [ "$(date +%s%3N)" -le "$deadline" ]; do sleep 0.1; done
  kcat -b "$BROKERS" -P -t drover.jobs -k "$key" "$WORK/job-d-1.bin"
  wait_for_log "$WORK/w2.log" "event=job.rejected deployment=d-1 job=d-1/r-1 state=TIMED_OUT reason=deadline"
  [ ! -e "$TARGETS/r-1/runs" ] || fail "the replayed install ran: $(cat "$TARGETS/r-1/runs")"
'

test_expect_success 'serve refuses a job expiry outside 0 .. 366 days' '
  expect_fail_with "job-expiry-seconds: -1 is not between 0 and 31622400" "$PRODUCER" serve --job-expiry-seconds -1
'

test_done
