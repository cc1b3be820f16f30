#!/usr/bin/env bash
# drover-aggregator over the embedded broker: status events (some written
# before it starts, some while it runs, with redeliveries and a retried
# attempt) fold into exact counts, overall and per account/region, with the
# failed targets and their reasons; /deployments, /metrics, /healthz,
# /readyz and the page answer; the final Rollup is on the rollups topic; a
# malformed message is skipped while it keeps serving; killed with SIGKILL
# and restarted, it resumes from its checkpoints to the very same rollups (no double counting);
# a group whose offsets were committed at the end, and no checkpoint, rebuilds it all; SIGTERM leaves
# cleanly; --exit-when-caught-up prints the fold rate.  The HTTP cases need
# curl and jq (prerequisites CURL, JQ), the committed-offsets one kcat (KCAT).
. "$(dirname "$0")/lib.sh"
BROKER="$DROVER_BUILD_DIR/drover-broker"
AGGREGATOR="$DROVER_BUILD_DIR/drover-aggregator"
STATUS="$DROVER_BUILD_DIR/drover_test_status"
PIDS=()

test_expect_success '--help lists every setting, and an unknown flag is refused' '
  expect_ok "$AGGREGATOR" --help
  for setting in brokers topic-prefix kafka-property http group publish-interval-ms exit-when-caught-up log-level; do
    grep -qF -- "--$setting" <<<"$OUT" || fail "--help does not mention --$setting"
  done
  expect_fail_with "no-such-flag" "$AGGREGATOR" --no-such-flag
'

stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap stop_all EXIT

"$BROKER" --address-file "$WORK/broker.addr" >"$WORK/broker.out" 2>"$WORK/broker.log" &
PIDS+=($!)
for _ in $(seq 1 400); do [ -s "$WORK/broker.addr" ] && break; sleep 0.05; done
[ -s "$WORK/broker.addr" ] || fail "drover-broker did not start: $(cat "$WORK/broker.log")"
BROKERS=$(cat "$WORK/broker.addr")

# start_aggregator NAME [flags...]: logs to NAME.log; sets AGG_PID and URL once it serves.
start_aggregator() {
  local name=$1 i port=; shift
  "$AGGREGATOR" --brokers "$BROKERS" --http 127.0.0.1:0 --publish-interval-ms 100 "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.log" &
  AGG_PID=$!
  PIDS+=($AGG_PID)
  for i in $(seq 1 200); do
    port=$(sed -n 's/.*event=http.listening .*addr=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$WORK/$name.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$AGG_PID" 2>/dev/null || fail "drover-aggregator exited at start: $(cat "$WORK/$name.log")"
    sleep 0.05
  done
  [ -n "$port" ] || fail "no event=http.listening in $name.log: $(tail -5 "$WORK/$name.log")"
  URL="http://127.0.0.1:$port"
}

get() { curl -sS --max-time 10 "$URL$1"; }
code_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL$1"; }

# wait_until SECONDS WHAT CMD...: retry CMD until it succeeds.
wait_until() {
  local seconds=$1 what=$2 i; shift 2
  for i in $(seq 1 $((seconds * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "timed out after $seconds s waiting for $what"
}
is_ready() { [ "$(code_of /readyz)" = 200 ]; }
has_status() { [ "$(get "/deployments/$1" | jq -r .status)" = "$2" ]; }

# expect_json PATH JQ_FILTER WANT: the filter over PATH's JSON gives WANT.
expect_json() {
  local got
  got=$(get "$1" | jq -c "$2") || fail "GET $1 | jq '$2' failed"
  [ "$got" = "$3" ] || fail "GET $1 | jq '$2': expected $3, got $got"
}

produce() { "$STATUS" --brokers "$BROKERS" produce >/dev/null || fail "producing status events failed"; }

# ---- events written before the aggregator starts (it reads them from the beginning) ----
# dep-a: 12 targets over 2 accounts x 2 regions, 3 in each.
loc() { case $(( ($1 - 1) / 3 )) in 0) echo "111 eu-west-1";; 1) echo "111 us-east-1";; 2) echo "222 eu-west-1";; *) echo "222 us-east-1";; esac; }
events_before_start() {
  for i in $(seq -w 1 12); do echo "dep-a t$i $(loc $((10#$i))) PENDING"; done
  for i in 01 02 03 04 05 06; do
    echo "dep-a t$i $(loc $((10#$i))) IN_PROGRESS"
    echo "dep-a t$i $(loc $((10#$i))) SUCCESS duration-ms=1500"
  done
  echo "dep-a t01 $(loc 1) IN_PROGRESS"        # redelivered after its SUCCESS: ignored
  echo "dep-a t01 $(loc 1) SUCCESS"            # and its SUCCESS again: still one job
  echo "dep-a t12 $(loc 12) IN_PROGRESS"
  echo "dep-a t12 $(loc 12) FAILED reason=fetch message=connection refused"
  for t in b1 b2 b3 b4; do echo "dep-b $t 333 ap-south-1 PENDING"; done
  for t in b1 b2 b3 b4; do echo "dep-b $t 333 ap-south-1 SUCCESS"; done
}
test_expect_success CURL 'events written before it starts are read from the beginning, and it catches up (/readyz 200)' '
  events_before_start | produce
  start_aggregator agg1
  wait_until 60 "the aggregator to catch up" is_ready
'

# ---- events while it runs ----
events_while_running() {
  for i in 07 08 09; do
    echo "dep-a t$i $(loc $((10#$i))) IN_PROGRESS"
    echo "dep-a t$i $(loc $((10#$i))) SUCCESS duration-ms=2500"
  done
  echo "dep-a t05 $(loc 5) SUCCESS"                      # redelivered terminal status
  echo "dep-a t10 $(loc 10) IN_PROGRESS"
  echo "dep-a t10 $(loc 10) FAILED reason=script-failed message=install.sh exited 3"
  echo "dep-a t11 $(loc 11) REJECTED reason=signature message=signature does not verify"
  echo "dep-a t12 $(loc 12) IN_PROGRESS attempt=2"       # retried: replaces the failed attempt 1
  echo "dep-a t12 $(loc 12) SUCCESS attempt=2"
  echo "dep-a t12 $(loc 12) FAILED reason=fetch"         # attempt 1's FAILED again: too old
  echo "dep-c c1 111 eu-west-1 PENDING"
  echo "dep-c c2 111 eu-west-1 PENDING"
  echo "dep-c c1 111 eu-west-1 IN_PROGRESS"
}
EVENTS=52 # 36 before the start, 16 since
test_expect_success CURL,JQ 'events while it runs (redeliveries, a retried attempt, a stale FAILED) fold: dep-a ends FAILED' '
  events_while_running | produce
  wait_until 30 "dep-a to finish FAILED" has_status dep-a FAILED
'

# ---- /deployments/{id}: exact counts, locations and failed targets ----
deployments_answer() {
  expect_json /deployments/dep-a '[.deployment_id, .package, .version, .status, .total, .failed_total]' \
    '["dep-a","acme-agent","1.0","FAILED",12,2]'
  expect_json /deployments/dep-a '.counts' \
    '{"PENDING":0,"IN_PROGRESS":0,"SUCCESS":10,"FAILED":1,"TIMED_OUT":0,"CANCELLED":0,"SKIPPED":0,"REJECTED":1}'
  expect_json /deployments/dep-a '[.locations[] | [.account, .region, .total, .counts.SUCCESS, .counts.FAILED, .counts.REJECTED]]' \
    '[["111","eu-west-1",3,3,0,0],["111","us-east-1",3,3,0,0],["222","eu-west-1",3,3,0,0],["222","us-east-1",3,1,1,1]]'
  expect_json /deployments/dep-a '[.failed_targets[] | [.target_id, .state, .reason, .message]]' \
    '[["t10","FAILED","script-failed","install.sh exited 3"],["t11","REJECTED","signature","signature does not verify"]]'
  expect_json /deployments/dep-a '[.finished_at_ms > 0, .finished_at_ms >= .started_at_ms]' '[true,true]'
  expect_json /deployments/dep-b '[.status, .total, .counts.SUCCESS, .failed_targets]' '["SUCCESS",4,4,[]]'
  expect_json /deployments/dep-c '[.status, .total, .counts.PENDING, .counts.IN_PROGRESS, .finished_at_ms]' \
    '["IN_PROGRESS",2,1,1,0]'
  expect_json /deployments '[.[] | .deployment_id] | sort' '["dep-a","dep-b","dep-c"]'
  expect_json /deployments '[.[] | select(.deployment_id == "dep-b") | .counts.SUCCESS]' '[4]'
  [ "$(code_of /deployments/no-such-deployment)" = 404 ] || fail "an unknown deployment is not 404"
  expect_json /deployments/no-such-deployment '.error' '"no such deployment"'
}
test_expect_success CURL,JQ '/deployments: exact counts, per account and region, the failed targets with their reasons; 404 for an unknown id' '
  deployments_answer
'

# ---- /healthz, /readyz, the page ----
test_expect_success CURL '/healthz and /readyz answer, and the page loads nothing external' '
  [ "$(get /healthz)" = ok ] || fail "/healthz: $(get /healthz)"
  [ "$(get /readyz)" = ready ] || fail "/readyz: $(get /readyz)"
  PAGE=$(get /)
  grep -q "<title>Drover deployments</title>" <<<"$PAGE" || fail "GET / is not the page"
  ! grep -qE "(src|href)=\"https?:" <<<"$PAGE" || fail "the page loads external assets"
'

# ---- /metrics ----
expect_metric() { grep -qxF -- "$1" <<<"$METRICS" || fail "/metrics lacks the line: $1
$(grep -F "${1%% *}" <<<"$METRICS" | head -5)"; }
metrics_answer() {
  METRICS=$(get /metrics)
  expect_metric 'drover_jobs{deployment="dep-a",state="SUCCESS",account="111",region="eu-west-1",package="acme-agent"} 3'
  expect_metric 'drover_jobs{deployment="dep-a",state="FAILED",account="222",region="us-east-1",package="acme-agent"} 1'
  expect_metric 'drover_jobs{deployment="dep-a",state="REJECTED",account="222",region="us-east-1",package="acme-agent"} 1'
  expect_metric 'drover_jobs{deployment="dep-c",state="IN_PROGRESS",account="111",region="eu-west-1",package="acme-agent"} 1'
  expect_metric 'drover_deployments{status="FAILED"} 1'
  expect_metric 'drover_deployments{status="SUCCESS"} 1'
  expect_metric 'drover_deployments{status="IN_PROGRESS"} 1'
  expect_metric "drover_status_events_total $EVENTS"
  expect_metric 'drover_status_events_malformed_total 0'
  # Durations, once per job and attempt: t01's and t05's second SUCCESS are not timed again;
  # t12 is timed as FAILED (attempt 1) and as SUCCESS (attempt 2).
  expect_metric 'drover_job_duration_seconds_count{package="acme-agent",state="SUCCESS"} 14'
  expect_metric 'drover_job_duration_seconds_bucket{package="acme-agent",state="SUCCESS",le="1"} 5'
  expect_metric 'drover_job_duration_seconds_count{package="acme-agent",state="FAILED"} 2'
  grep -q '^drover_aggregator_consumer_lag{topic="drover.status",partition="[0-9]*"} 0$' <<<"$METRICS" ||
    fail "no consumer lag series: $(grep lag <<<"$METRICS")"
}
test_expect_success CURL,JQ '/metrics: jobs by state and location, deployments by status, events, durations once per job and attempt, lag' '
  metrics_answer
'

# ---- the rollups topic has the final Rollup ----
read_rollup() { "$STATUS" --brokers "$BROKERS" rollup "$1" >"$WORK/rollup.txt" 2>&1; }
rollup_says() { read_rollup "$1" && grep -qxF -- "$2" "$WORK/rollup.txt"; }
test_expect_success CURL,JQ 'the rollups topic holds the final Rollup of each deployment, with no IN_PROGRESS left' '
  wait_until 20 "dep-a'\''s FAILED Rollup" rollup_says dep-a status=FAILED
  for line in total_jobs=12 "count SUCCESS=10" "count FAILED=1" "count REJECTED=1" \
    "location 222/us-east-1 FAILED=1" "location 111/eu-west-1 SUCCESS=3" \
    "failed t10 FAILED reason=script-failed message=install.sh exited 3" \
    "failed t11 REJECTED reason=signature message=signature does not verify"; do
    grep -qxF -- "$line" "$WORK/rollup.txt" || fail "the published Rollup lacks '\''$line'\'':
$(cat "$WORK/rollup.txt")"
  done
  ! grep -q "^count IN_PROGRESS" "$WORK/rollup.txt" || fail "the final Rollup still counts IN_PROGRESS jobs"
  wait_until 20 "dep-b'\''s Rollup" rollup_says dep-b status=SUCCESS
'

# ---- a malformed message is skipped; the aggregator keeps serving and folding ----
test_expect_success CURL,JQ 'a malformed message is skipped and logged; the aggregator keeps serving and folding' '
  "$STATUS" --brokers "$BROKERS" raw dep-c "not a status event\xff\xff" >/dev/null || fail "producing garbage failed"
  echo "dep-c c1 111 eu-west-1 SUCCESS" | produce
  echo "dep-c c2 111 eu-west-1 SKIPPED" | produce
  EVENTS=$((EVENTS + 2))
  wait_until 20 "dep-c to finish after the garbage" has_status dep-c SUCCESS
  grep -q "event=status.malformed partition=[0-9]* offset=[0-9]*" "$WORK/agg1.log" ||
    fail "no status.malformed line: $(tail -5 "$WORK/agg1.log")"
  [ "$(get /healthz)" = ok ] || fail "/healthz after garbage"
  wait_until 10 "the malformed counter" sh -c "curl -s '\''$URL/metrics'\'' | grep -qx '\''drover_status_events_malformed_total 1'\''"
'

# ---- events lost to retention: the rollup says it is short ----
test_expect_success CURL,JQ 'a deployment whose events name more jobs than the topic still holds is incomplete, never SUCCESS' '
  { echo "dep-x x1 111 eu-west-1 SUCCESS jobs=5"; echo "dep-x x2 111 eu-west-1 SUCCESS jobs=5"; } | produce
  EVENTS=$((EVENTS + 2))
  wait_until 20 "dep-x to be folded" sh -c "curl -s '\''$URL/deployments/dep-x'\'' | grep -q total"
  expect_json /deployments/dep-x "[.status, .total, .expected_total, .complete]" "[\"INCOMPLETE\",2,5,false]"
  expect_json /deployments/dep-c "[.expected_total, .complete]" "[0,true]"
'

# ---- SIGKILL and restart: the same rollups, nothing counted twice ----
test_expect_success CURL 'killed with SIGKILL and restarted, it says it is catching up (503) while the group waits for the dead member' '
  for d in dep-a dep-b dep-c; do get "/deployments/$d" >"$WORK/before-$d.json"; done
  get /deployments >"$WORK/before-list.json"
  get /metrics | grep "^drover_jobs{" | sort >"$WORK/before-jobs.prom"
  kill -KILL "$AGG_PID"
  wait "$AGG_PID" 2>/dev/null || true
  start_aggregator agg2
  # The group still waits for the killed member: nothing is assigned yet.
  [ "$(get /readyz)" = "catching up" ] || fail "/readyz right after the restart: $(get /readyz)"
  [ "$(code_of /readyz)" = 503 ] || fail "/readyz is not 503 while catching up"
'

test_expect_success CURL,JQ 'restarted, it resumes from its checkpoints and rebuilds the very same rollups and metrics: nothing counted twice' '
  wait_until 60 "the restarted aggregator to catch up" is_ready
  for d in dep-a dep-b dep-c; do
    get "/deployments/$d" >"$WORK/after-$d.json"
    cmp -s "$WORK/before-$d.json" "$WORK/after-$d.json" || fail "$d differs after the restart:
$(diff "$WORK/before-$d.json" "$WORK/after-$d.json")"
  done
  get /deployments >"$WORK/after-list.json"
  cmp -s "$WORK/before-list.json" "$WORK/after-list.json" || fail "/deployments differs after the restart"
  get /metrics | grep "^drover_jobs{" | sort >"$WORK/after-jobs.prom"
  cmp -s "$WORK/before-jobs.prom" "$WORK/after-jobs.prom" || fail "drover_jobs differs after the restart:
$(diff "$WORK/before-jobs.prom" "$WORK/after-jobs.prom")"
  expect_json /deployments/dep-a "[.total, .counts.SUCCESS, .counts.FAILED, .counts.REJECTED]" "[12,10,1,1]"
  # It resumed from the checkpoints the first one wrote: what they cover is not read again.
  grep -q "event=checkpoint.restored" "$WORK/agg2.log" || fail "the restart did not resume from a checkpoint:
$(grep -E "checkpoint|partition.assigned" "$WORK/agg2.log" | head)"
  METRICS=$(get /metrics)
  folded=$(sed -n "s/^drover_status_events_total //p" <<<"$METRICS")
  [ -n "$folded" ] && [ "$folded" -lt "$EVENTS" ] || fail "resumed from checkpoints, it folded ${folded:-?} of $EVENTS events again"
'

# SIGTERM: publish, leave the group, exit 0.
test_expect_success CURL 'SIGTERM: it publishes, leaves the group and exits 0' '
  kill -TERM "$AGG_PID"
  rc=0
  wait "$AGG_PID" || rc=$?
  [ "$rc" -eq 0 ] || fail "SIGTERM: exit $rc: $(tail -5 "$WORK/agg2.log")"
  grep -q "event=aggregator.stopped" "$WORK/agg2.log" || fail "no aggregator.stopped line"
'

# ---- committed offsets are not trusted: a group whose offsets sit at the end still rebuilds everything ----
# kcat reads the topic to its end and commits there.  Its short session timeout keeps the group from
# waiting long for it in case it does not leave cleanly.
test_expect_success KCAT,CURL,JQ 'a group whose committed offsets sit at the end of the topic (and no checkpoint) rebuilds everything, the garbage skipped once' '
  kcat -b "$BROKERS" -G committed-group -X session.timeout.ms=6000 -o beginning -e -q -f "" drover.status \
    >/dev/null 2>"$WORK/kcat.log" || fail "kcat could not consume as group committed-group: $(cat "$WORK/kcat.log")"
  start_aggregator agg3 --group committed-group
  wait_until 60 "the committed-group aggregator to catch up" is_ready
  expect_json /deployments/dep-a "[.total, .counts.SUCCESS, .counts.FAILED, .counts.REJECTED]" "[12,10,1,1]"
  # A group with no checkpoint of its own reads every event once, the garbage skipped once.
  METRICS=$(get /metrics)
  grep -qx "drover_status_events_total $EVENTS" <<<"$METRICS" || fail "a new group folded other than $EVENTS events"
  grep -qx "drover_status_events_malformed_total 1" <<<"$METRICS" || fail "a new group did not skip the garbage once"
  kill -TERM "$AGG_PID"
  wait "$AGG_PID" || fail "SIGTERM: exit $?: $(tail -5 "$WORK/agg3.log")"
'

# ---- retention: finished deployments leave memory; their final rollups still answer ----
test_expect_success CURL,JQ 'with --retention-seconds 2, finished deployments leave /deployments and /metrics, GET still answers from the rollups topic, and a late event does not bring one back' '
  start_aggregator agg4 --group retention-group --retention-seconds 2
  wait_until 60 "the retention aggregator to catch up" is_ready
  wait_until 20 "dep-a to leave /deployments" sh -c "! curl -s '\''$URL/deployments'\'' | grep -q '\''\"dep-a\"'\''"
  expect_json /deployments/dep-a "[.archived, .status, .total, .counts.SUCCESS, .counts.FAILED, .counts.REJECTED]" \
    "[true,\"FAILED\",12,10,1,1]"
  expect_json /deployments/dep-a "[.failed_targets[].target_id]" "[\"t10\",\"t11\"]"
  # (Read whole, then searched: grep -q leaving early would fail curl, and the pipeline with it.)
  metrics=$(get /metrics)
  ! grep -q "drover_jobs{deployment=\"dep-a\"" <<<"$metrics" || fail "dep-a still has drover_jobs series"
  grep -q "^drover_aggregator_deployments_expired_total [1-9]" <<<"$metrics" || fail "no expired deployments counted"
  grep -q "event=aggregator.expired deployments=" "$WORK/agg4.log" || fail "no aggregator.expired line"
  echo "dep-a t01 $(loc 1) SUCCESS" | produce
  EVENTS=$((EVENTS + 1))
  sleep 1
  ! grep -q "\"dep-a\"" <<<"$(get /deployments)" || fail "a late event brought dep-a back"
  [ "$(code_of /deployments/never-was)" = 404 ] || fail "an unknown id is not a 404"
  kill -TERM "$AGG_PID"
  wait "$AGG_PID" || fail "SIGTERM: exit $?: $(tail -5 "$WORK/agg4.log")"
'

# ---- benchmark mode: read to the end, print the rate, exit 0 ----
test_expect_success CURL,JQ 'with --exit-when-caught-up it reads to the end, prints the fold rate and exits 0' '
  expect_ok "$AGGREGATOR" --brokers "$BROKERS" --http "" --group bench --exit-when-caught-up
  grep -qE "^folded $EVENTS status events in [0-9.]+ s: [0-9]+ events/s\$" <<<"$OUT" || fail "benchmark line: $OUT"
'

test_done
