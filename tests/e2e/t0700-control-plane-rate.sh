#!/usr/bin/env bash
# Rate controls, end to end on the embedded broker with the control plane
# (drover-producer serve), two workers and the aggregator: max concurrency
# (a count or a percentage) is never exceeded, measured from the scripts'
# own start and end times; max errors 0, 1 and 10% stop releasing at the
# right error and end the rest CANCELLED, with exact counts; errors within
# the limit end INCOMPLETE.  (Rollups and /metrics are read with curl and
# jq: prerequisites CURL, JQ.)
. "$(dirname "$0")/pipeline_lib.sh"
MESSAGES="$DROVER_BUILD_DIR/drover_test_messages"

# "slow" records its span (start/end, ns) in the target root; "quick" fails where the root holds make-me-fail.
write_script slow 1.0 install.sh 'echo "start $(date +%s%N)" >> "$DROVER_TARGET_ROOT/span"; sleep 0.3; echo "end $(date +%s%N)" >> "$DROVER_TARGET_ROOT/span"; echo run >> "$DROVER_TARGET_ROOT/runs"'
write_script slow 1.0 uninstall.sh 'true'
make_version slow 1.0
write_script quick 1.0 install.sh 'if [ -e "$DROVER_TARGET_ROOT/make-me-fail" ]; then echo "told to fail" >&2; exit 3; fi; echo run >> "$DROVER_TARGET_ROOT/runs"'
write_script quick 1.0 uninstall.sh 'true'
make_version quick 1.0
start_http
start_broker
start_aggregator
start_control_plane
start_worker w1 --concurrency 4
start_worker w2 --concurrency 4
export DROVER_BROKERS="$BROKERS"
for p in slow quick; do
  "$PRODUCER" package publish --name "$p" --manifest "$BASE_URL/$p/1.0/manifest.json" --artifacts "$BASE_URL/$p/1.0" >/dev/null
done
{ echo "id,account,region,platform,platform_version,arch,tags"
  for g in c:24 m0:10 m1:10 p:20 i:6; do
    for i in $(seq -w 1 "${g#*:}"); do echo "${g%:*}-$i,111,eu-west-1,ubuntu,22.04,x86_64,group=${g%:*}"; done
  done; } >"$WORK/targets.csv"
"$PRODUCER" target register --file "$WORK/targets.csv" >/dev/null
# make_fail ID...: those targets' installs fail.
make_fail() { local t; for t in "$@"; do mkdir -p "$TARGETS/$t" && touch "$TARGETS/$t/make-me-fail"; done; }
# count STATE: the state's count in $ROLLUP (0 when absent).
count() { jq -r ".counts.$1 // 0" <<<"$ROLLUP"; }
# ran GROUP: how many of the group's targets ran an install.
ran() { ls "$TARGETS"/"$1"-*/runs 2>/dev/null | wc -l; }

# most_at_once GROUP: the most installs of the group running at one instant, from every install's start and end (ends first on a tie).
most_at_once() {
  cat "$TARGETS"/"$1"-*/span | awk '{ print $2, ($1 == "start" ? 1 : -1) }' | sort -k1,1n -k2,2n |
    awk '{ c += $2; if (c > m) m = c } END { print m + 0 }'
}

# Ready means: partitions from the group, and everything before the sync point read (not at start).
test_expect_success 'serve is ready (caught up) only after the group gave it partitions and it read up to its sync point' '
  wait_for_log "$CP_LOG" "event=serve.synced" 60
  first_assigned=$(grep -n "event=serve.partition_assigned" "$CP_LOG" | head -1 | cut -d: -f1)
  first_synced=$(grep -n "event=serve.synced" "$CP_LOG" | head -1 | cut -d: -f1)
  [ -n "$first_assigned" ] && [ "$first_synced" -gt "$first_assigned" ] ||
    fail "serve.synced (line $first_synced) before any partition was assigned (line ${first_assigned:-none}): $(head -8 "$CP_LOG")"
'

# ---- max concurrency: 10% of 24 is 3 (rounded up), with 8 worker slots free ----
test_expect_success CURL,JQ 'max concurrency 10% of 24 (3, rounded up) is never exceeded, and is used; each job released and run once' '
  RC=0; OUT=$("$PRODUCER" deploy --package slow --tag group=c --max-concurrency 10% --deployment-id d-cap --wait-timeout 120 2>&1) || RC=$?
  [ "$RC" -eq 0 ] || fail "d-cap exited $RC: $OUT"
  wait_for_rollup d-cap SUCCESS 30
  [ "$(count SUCCESS)" = 24 ] || fail "d-cap: $ROLLUP"
  most=$(most_at_once c)
  [ "$most" -le 3 ] || fail "d-cap: $most jobs ran at once, over its max concurrency of 3"
  [ "$most" -ge 2 ] || fail "d-cap: at most $most job ran at once; the cap of 3 was never used"
  [ "$("$MESSAGES" dump jobs | grep -c " deployment=d-cap ")" = 24 ] || fail "d-cap: jobs released more than once"
  for t in "$TARGETS"/c-*; do [ "$(wc -l <"$t/runs")" = 1 ] || fail "$t ran $(wc -l <"$t/runs") times"; done
'

# ---- max errors, one job at a time so the order is exact ----
# expect_stop ID GROUP MAX_ERRORS SUCCESS FAILED CANCELLED: deploy, check the counts and who ran.
expect_stop() {
  local id=$1 group=$2 max_errors=$3
  RC=0; OUT=$("$PRODUCER" deploy --package quick --tag "group=$group" --max-concurrency 1 --max-errors "$max_errors" \
    --deployment-id "$id" --wait-timeout 120 2>&1) || RC=$?
  [ "$RC" -eq 1 ] || fail "$id exited $RC, want 1: $OUT"
  grep -q "^deployment $id: FAILED" <<<"$OUT" || fail "$id: no FAILED verdict: $OUT"
  wait_for_rollup "$id" FAILED 30
  [ "$(count SUCCESS) $(count FAILED) $(count CANCELLED)" = "$4 $5 $6" ] \
    || fail "$id: SUCCESS FAILED CANCELLED are $(count SUCCESS) $(count FAILED) $(count CANCELLED), want $4 $5 $6: $ROLLUP"
  [ "$(jq '[.failed_targets[] | select(.state == "CANCELLED" and .reason == "max-errors")] | length' <<<"$ROLLUP")" = "$6" ] \
    || fail "$id: the cancelled jobs do not say max-errors: $ROLLUP"
  # Exactly the released jobs ran: the successful ones completed, the failing ones failed.
  [ "$(ran "$group")" = "$4" ] || fail "$id: $(ran "$group") targets completed an install, want $4"
  [ "$("$MESSAGES" dump jobs | grep -c " deployment=$id ")" = $(($4 + $5)) ] || fail "$id: wrong number of jobs released"
}
test_expect_success CURL,JQ 'max errors 0 stops at the first failure: 3 SUCCESS, 1 FAILED, the other 6 CANCELLED (max-errors), none run' '
  make_fail m0-04
  expect_stop d-m0 m0 0 3 1 6
  ! ls "$TARGETS"/m0-05/runs >/dev/null 2>&1 || fail "m0-05 ran after the first error"
'

test_expect_success CURL,JQ 'max errors 1 stops at the second failure: 4 SUCCESS, 2 FAILED, 4 CANCELLED' '
  make_fail m1-03 m1-06
  expect_stop d-m1 m1 1 4 2 4
'

test_expect_success CURL,JQ 'max errors 10% of 20 (2) stops at the third failure: 5 SUCCESS, 3 FAILED, 12 CANCELLED' '
  make_fail p-02 p-05 p-08
  expect_stop d-p p 10% 5 3 12
'

# ---- errors within the limit: INCOMPLETE, nothing cancelled ----
test_expect_success CURL,JQ 'errors within the limit end INCOMPLETE (exit 1), nothing cancelled' '
  make_fail i-2 i-4
  RC=0; OUT=$("$PRODUCER" deploy --package quick --tag group=i --max-concurrency 2 --max-errors 5 --deployment-id d-i --wait-timeout 120 2>&1) || RC=$?
  [ "$RC" -eq 1 ] || fail "d-i exited $RC, want 1: $OUT"
  wait_for_rollup d-i INCOMPLETE 30
  [ "$(count SUCCESS) $(count FAILED) $(count CANCELLED)" = "4 2 0" ] || fail "d-i: $ROLLUP"
'

# ---- the control plane's own /healthz, /readyz and /metrics ----
metric() { awk -v name="$1" '$1 == name {print $2}' <<<"$CP_METRICS"; }
test_expect_success CURL,JQ 'the control plane serves /healthz, /readyz (200 once caught up) and /metrics: every job released by it, nothing owned' '
  port=$(http_port_of "$CP_LOG")
  CP_URL="http://127.0.0.1:$port"
  [ "$(curl -sS --max-time 5 "$CP_URL/healthz")" = ok ] || fail "serve /healthz"
  [ "$(curl -sS --max-time 5 -o /dev/null -w "%{http_code}" "$CP_URL/readyz")" = 200 ] || fail "serve /readyz is not 200 once caught up"
  CP_METRICS=$(curl -sS --max-time 5 "$CP_URL/metrics") || fail "serve /metrics"
  # Every job of every deployment here went through this one replica: released or ended by it.
  released=$(metric drover_control_plane_jobs_released_total)
  [ "$released" = "$("$MESSAGES" dump jobs | grep -c " deployment=")" ] || fail "jobs_released_total is $released: $CP_METRICS"
  [ "$(metric "drover_control_plane_jobs_ended_total{reason=\"max-errors\"}")" -ge 1 ] || fail "no max-errors ends counted: $CP_METRICS"
  [ "$(metric drover_control_plane_caught_up)" = 1 ] || fail "caught_up is not 1: $CP_METRICS"
  [ "$(metric drover_control_plane_deployments_owned)" = 0 ] || fail "deployments_owned after all finished: $CP_METRICS"
  [ "$(metric drover_control_plane_deployments_known)" = 5 ] || fail "deployments_known is not the 5 finished: $CP_METRICS"
'

# ---- retention and checkpoints: a restart resumes from the fold it wrote, finished deployments leave memory ----
cp_metrics() { CP_METRICS=$(curl -sS --max-time 5 "$CP_URL/metrics"); }
test_expect_success CURL,JQ 'restarted with --retention-seconds 2, serve resumes from its checkpoints, lets the finished deployments go, and releases a new one' '
  kill -TERM "$CP_PID"
  wait "$CP_PID" || fail "serve did not stop cleanly: $(tail -3 "$CP_LOG")"
  start_control_plane cp2 --retention-seconds 2
  wait_for_log "$CP_LOG" "event=serve.synced" 60
  grep -q "event=serve.checkpoint_restored" "$CP_LOG" || fail "no checkpoint restored: $(grep -i checkpoint "$CP_LOG" | head)"
  CP_URL="http://127.0.0.1:$(http_port_of "$CP_LOG")"
  for i in $(seq 1 100); do
    cp_metrics
    [ "$(metric drover_control_plane_deployments_known) $(metric drover_control_plane_deployments_owned)" = "0 0" ] && break
    sleep 0.2
  done
  [ "$(metric drover_control_plane_deployments_known)" = 0 ] || fail "the finished deployments stayed in memory: $CP_METRICS"
  [ "$(metric drover_control_plane_deployments_expired_total)" -ge 5 ] || fail "expired_total: $CP_METRICS"
  [ "$(metric drover_control_plane_deployments_owned)" = 0 ] || fail "requests read again stay owned: $CP_METRICS"
  grep -q "event=serve.expired" "$CP_LOG" || fail "no serve.expired line"
  rm -f "$TARGETS"/i-*/make-me-fail
  RC=0; OUT=$("$PRODUCER" deploy --package quick --tag group=i --max-concurrency 2 --deployment-id d-after --wait-timeout 120 2>&1) || RC=$?
  [ "$RC" -eq 0 ] || fail "d-after exited $RC: $OUT"
  wait_for_rollup d-after SUCCESS 30
  [ "$(count SUCCESS)" = 6 ] || fail "d-after: $ROLLUP"
  # An expired deployment is not released again (its jobs are where they were).
  [ "$("$MESSAGES" dump jobs | grep -c " deployment=d-cap ")" = 24 ] || fail "d-cap released again after the restart"
'

test_done
