#!/usr/bin/env bash
# A worker that has paused its partitions (more jobs queued than it can run
# soon) and is then rebalanced, getting some of the same partitions back,
# fetches from them again: a second worker joining in the middle of a
# deployment does not strand the jobs the first one had paused on.  (The
# rollup is read with curl and jq: prerequisites CURL, JQ.)
. "$(dirname "$0")/pipeline_lib.sh"
PRODUCER="$DROVER_BUILD_DIR/drover-producer"
N=40

write_script nap 1.0 install.sh 'sleep 0.2; echo run >> "$DROVER_TARGET_ROOT/runs"'
write_script nap 1.0 uninstall.sh 'true'
make_version nap 1.0
start_http
start_broker
start_aggregator
start_control_plane
FAST=(--kafka-property session.timeout.ms=6000 --kafka-property heartbeat.interval.ms=500)
# One job at a time: it queues at most 8 before pausing its partitions.
start_worker w1 --concurrency 1 "${FAST[@]}"
export DROVER_BROKERS="$BROKERS"
"$PRODUCER" package publish --name nap --manifest "$BASE_URL/nap/1.0/manifest.json" --artifacts "$BASE_URL/nap/1.0" >/dev/null
{ echo "id,account,region,platform,platform_version,arch,tags"
  for i in $(seq 1 $N); do echo "n-$i,111,eu-west-1,ubuntu,22.04,x86_64,"; done; } >"$WORK/targets.csv"
"$PRODUCER" target register --file "$WORK/targets.csv" >/dev/null
# Once w1 is busy (and paused: 40 jobs, room for 8), a second worker joins and the group rebalances.
test_expect_success 'a second worker joins while w1, one job at a time, has paused its partitions: the group rebalances' '
  "$PRODUCER" deploy --package nap --all --deployment-id d-nap --max-concurrency 100% --no-wait >/dev/null
  for _ in $(seq 1 200); do [ "$(grep -c "event=job.start" "$WORK/w1.log" 2>/dev/null)" -ge 2 ] && break; sleep 0.05; done
  [ "$(grep -c "event=job.start" "$WORK/w1.log")" -ge 2 ] || fail "w1 did not start: $(tail -3 "$WORK/w1.log")"
  start_worker w2 --concurrency 1 "${FAST[@]}"
  for _ in $(seq 1 300); do grep -q "event=partitions.assigned" "$WORK/w2.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "event=partitions.assigned" "$WORK/w2.log" || fail "w2 never joined the group"
'

# w1_ran_after_its_last_assignment: w1 started a job after its last partitions.assigned.
w1_ran_after_its_last_assignment() {
  last_assign=$(grep 'event=partitions.assigned' "$WORK/w1.log" | tail -1 | cut -d' ' -f1 | cut -d= -f2)
  grep 'event=job.start' "$WORK/w1.log" | cut -d' ' -f1 | cut -d= -f2 | awk -v t="$last_assign" '$1 > t {n++} END {exit !(n > 0)}'
}
test_expect_success CURL,JQ 'no job is stranded: all 40 succeed, w1 runs jobs again after the rebalance, each target once' '
  wait_for_rollup d-nap SUCCESS 90
  [ "$(jq -r ".counts.SUCCESS" <<<"$ROLLUP")" = $N ] || fail "d-nap: $ROLLUP"
  # w1 kept running jobs after the rebalance (on partitions it got back).
  w1_ran_after_its_last_assignment || fail "w1 started nothing after its last assignment at $last_assign"
  for i in $(seq 1 $N); do [ "$(wc -l <"$TARGETS/n-$i/runs")" = 1 ] || fail "n-$i ran $(wc -l <"$TARGETS/n-$i/runs") times"; done
'

test_done
