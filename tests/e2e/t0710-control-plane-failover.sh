#!/usr/bin/env bash
# The control plane under failure, and stopping deployments, end to end:
#   - a replica that dies right after putting a release on record, before
#     writing its jobs (fault injected), is replaced: the new owner finds
#     which of those jobs are missing from the jobs topic, writes only those,
#     and finishes the rollout exactly (each job released once, each target
#     installed once, the cap held throughout);
#   - a replica SIGKILLed at an arbitrary point mid-rollout, the same;
#   - cancel stops a rollout: nothing more starts, the rest end CANCELLED;
#   - a job released after its deadline ends TIMED_OUT without running.
# All of it runs beside a busy loop on each core (start_cpu_load).
# (Rollups are read with curl and jq: prerequisites CURL, JQ.)
. "$(dirname "$0")/pipeline_lib.sh"
MESSAGES="$DROVER_BUILD_DIR/drover_test_messages"

write_script slow 1.0 install.sh 'echo "start $(date +%s%N)" >> "$DROVER_TARGET_ROOT/span"; sleep 0.3; echo "end $(date +%s%N)" >> "$DROVER_TARGET_ROOT/span"; echo run >> "$DROVER_TARGET_ROOT/runs"'
write_script slow 1.0 uninstall.sh 'true'
make_version slow 1.0
# Two seconds each: with one at a time, at most two start before a 4 s deadline, whatever the load.
write_script late 1.0 install.sh 'sleep 2; echo run >> "$DROVER_TARGET_ROOT/runs"'
write_script late 1.0 uninstall.sh 'true'
make_version late 1.0
start_cpu_load
start_http
start_broker
start_aggregator
start_worker w1 --concurrency 4
start_worker w2 --concurrency 4
export DROVER_BROKERS="$BROKERS"
"$PRODUCER" package publish --name slow --manifest "$BASE_URL/slow/1.0/manifest.json" --artifacts "$BASE_URL/slow/1.0" >/dev/null
"$PRODUCER" package publish --name late --manifest "$BASE_URL/late/1.0/manifest.json" --artifacts "$BASE_URL/late/1.0" >/dev/null
{ echo "id,account,region,platform,platform_version,arch,tags"
  for g in f:30 k:30 x:30 l:6; do
    for i in $(seq -w 1 "${g#*:}"); do echo "${g%:*}-$i,111,eu-west-1,ubuntu,22.04,x86_64,group=${g%:*}"; done
  done; } >"$WORK/targets.csv"
"$PRODUCER" target register --file "$WORK/targets.csv" >/dev/null
# A replaced replica's partitions move after its session times out: keep that short.
FAST=(--kafka-property session.timeout.ms=6000 --kafka-property heartbeat.interval.ms=500)
count() { jq -r ".counts.$1 // 0" <<<"$ROLLUP"; }
# most_at_once GROUP: the most installs of the group running at one instant (ends first on a tie).
most_at_once() {
  cat "$TARGETS"/"$1"-*/span | awk '{ print $2, ($1 == "start" ? 1 : -1) }' | sort -k1,1n -k2,2n |
    awk '{ c += $2; if (c > m) m = c } END { print m + 0 }'
}
# exactly_once ID GROUP N: N jobs released once each, N targets installed once each.
exactly_once() {
  local released dups t
  released=$("$MESSAGES" dump jobs | grep " deployment=$1 " | sed 's/.* job_id=\([^ ]*\) .*/\1/' | sort)
  dups=$(uniq -d <<<"$released")
  [ -z "$dups" ] || fail "$1: jobs released twice: $dups"
  [ "$(wc -l <<<"$released")" = "$3" ] || fail "$1: $(wc -l <<<"$released") jobs released, want $3"
  for t in "$TARGETS"/"$2"-*; do [ "$(wc -l <"$t/runs")" = 1 ] || fail "$t installed $(wc -l <"$t/runs") times"; done
}
# success_count ID: SUCCESS so far (0 before the first rollup).
success_count() { get "/deployments/$1" 2>/dev/null | jq -r '.counts.SUCCESS // 0' 2>/dev/null || echo 0; }

# ---- a replica dies between a release on record and its jobs ----
test_expect_success CURL,JQ 'a replica dies right after putting a release on record, before writing its jobs (exit 70, injected)' '
  start_control_plane cp1 "${FAST[@]}" --exit-after-releases 3; CP1=$CP_PID
  "$PRODUCER" deploy --package slow --tag group=f --max-concurrency 4 --deployment-id d-fault --no-wait >/dev/null
  rc=0; wait "$CP1" || rc=$?
  [ "$rc" = 70 ] || fail "cp1 exited $rc, want the injected 70: $(tail -3 "$WORK/cp1.log")"
  grep -q "event=serve.fault_exit" "$WORK/cp1.log" || fail "cp1 did not exit at the fault point"
'

test_expect_success CURL,JQ 'the new owner writes only the in-doubt jobs missing from the jobs topic and finishes exactly, the cap of 4 held' '
  start_control_plane cp2 "${FAST[@]}"
  wait_for_rollup d-fault SUCCESS 90
  [ "$(count SUCCESS)" = 30 ] || fail "d-fault: $ROLLUP"
  line=$(grep "event=serve.in_doubt_resolved deployment=d-fault " "$WORK/cp2.log" | head -1 || true)
  written=$(sed -n "s/.* written=\([0-9]*\).*/\1/p" <<<"$line")
  [ -n "$written" ] && [ "$written" -ge 1 ] || fail "cp2 wrote none of the in-doubt jobs: '\''$line'\''"
  exactly_once d-fault f 30
  [ "$(most_at_once f)" -le 4 ] || fail "d-fault: $(most_at_once f) jobs ran at once, cap 4"
'

# ---- a replica SIGKILLed mid-rollout ----
test_expect_success CURL,JQ 'a replica SIGKILLed mid-rollout (some of 30 done) is replaced, and the rollout finishes exactly, the cap of 3 held' '
  "$PRODUCER" deploy --package slow --tag group=k --max-concurrency 3 --deployment-id d-kill --no-wait >/dev/null
  for _ in $(seq 1 300); do [ "$(success_count d-kill)" -ge 6 ] && break; sleep 0.1; done
  [ "$(success_count d-kill)" -ge 6 ] || fail "d-kill did not get going: $(tail -3 "$WORK/cp2.log")"
  [ "$(success_count d-kill)" -lt 30 ] || fail "d-kill finished before the kill: the test proves nothing"
  kill -9 "$CP_PID"; wait "$CP_PID" 2>/dev/null || true
  start_control_plane cp3 "${FAST[@]}"
  wait_for_rollup d-kill SUCCESS 90
  [ "$(count SUCCESS)" = 30 ] || fail "d-kill: $ROLLUP"
  exactly_once d-kill k 30
  [ "$(most_at_once k)" -le 3 ] || fail "d-kill: $(most_at_once k) jobs ran at once, cap 3"
'

# ---- cancel ----
test_expect_success CURL,JQ 'cancel stops a rollout: it ends CANCELLED, SUCCESS exactly the installs done, the rest CANCELLED (reason cancelled)' '
  "$PRODUCER" deploy --package slow --tag group=x --max-concurrency 2 --deployment-id d-cancel --no-wait >/dev/null
  for _ in $(seq 1 300); do [ "$(success_count d-cancel)" -ge 4 ] && break; sleep 0.1; done
  expect_ok "$PRODUCER" cancel d-cancel --reason "bad rollout"
  grep -q "^deployment d-cancel cancel requested" <<<"$OUT" || fail "cancel said: $OUT"
  wait_for_rollup d-cancel CANCELLED 30
  done_now=$(ls "$TARGETS"/x-*/runs 2>/dev/null | wc -l)
  [ "$(count SUCCESS)" = "$done_now" ] || fail "d-cancel: SUCCESS $(count SUCCESS) but $done_now installs: $ROLLUP"
  [ "$(($(count SUCCESS) + $(count CANCELLED)))" = 30 ] || fail "d-cancel: $ROLLUP"
  [ "$(count CANCELLED)" -ge 20 ] || fail "d-cancel: only $(count CANCELLED) cancelled: $ROLLUP"
  jq -e "[.failed_targets[] | select(.reason == \"cancelled\")] | length > 0" <<<"$ROLLUP" >/dev/null || fail "no '\''cancelled'\'' reason: $ROLLUP"
'

# cancel_settled: both workers have seen the cancel (so they start no job of
# d-cancel any more), and every job of it they started has ended.
cancel_settled() {
  local w started ended
  for w in w1 w2; do grep -q "event=worker.cancel_seen deployment=d-cancel" "$WORK/$w.log" || return 1; done
  started=$(cat "$WORK"/w[12].log | grep -c "event=job.start deployment=d-cancel " || true)
  ended=$(cat "$WORK"/w[12].log | grep -c "event=job.done deployment=d-cancel " || true)
  [ "$started" = "$ended" ]
}
test_expect_success CURL,JQ 'after the cancel nothing more runs: once both workers have seen it and finished what they started, the installs are as many' '
  # (Where a 1 s sleep stood.)
  for _ in $(seq 1 200); do cancel_settled && break; sleep 0.1; done
  cancel_settled || fail "in 20 s the workers did not both see the cancel and end what they started: $(grep -h "cancel_seen\|deployment=d-cancel" "$WORK"/w[12].log | tail -5)"
  [ "$(ls "$TARGETS"/x-*/runs 2>/dev/null | wc -l)" = "$done_now" ] || fail "installs went on after the cancel"
'

test_expect_success 'cancelling a deployment that does not exist is a usage error (exit 2), naming it' '
  expect_fail_with "no deployment has the id '\''d-nope'\''" "$PRODUCER" deploy --cancel d-nope
  [ "$RC" = 2 ] || fail "cancelling an unknown deployment exited $RC, want 2"
'

# ---- a deadline passes while jobs wait for their turn ----
test_expect_success CURL,JQ 'jobs whose deadline passes while they wait for their turn end TIMED_OUT (reason deadline) without running' '
  "$PRODUCER" deploy --package late --tag group=l --max-concurrency 1 --max-errors 100% --deadline-seconds 4 \
    --deployment-id d-late --no-wait >/dev/null
  wait_for_rollup d-late INCOMPLETE 30
  [ "$(count SUCCESS)" -ge 1 ] && [ "$(count TIMED_OUT)" -ge 1 ] && [ "$(($(count SUCCESS) + $(count TIMED_OUT)))" = 6 ] \
    || fail "d-late: $ROLLUP"
  jq -e "[.failed_targets[] | select(.state == \"TIMED_OUT\" and .reason == \"deadline\")] | length > 0" <<<"$ROLLUP" >/dev/null \
    || fail "no TIMED_OUT with reason deadline: $ROLLUP"
  [ "$(ls "$TARGETS"/l-*/runs 2>/dev/null | wc -l)" = "$(count SUCCESS)" ] || fail "a timed-out job ran"
'

test_done
