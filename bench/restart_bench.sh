#!/usr/bin/env bash
# Restart benchmark: how long the control plane (serve) and the aggregator
# take from start to ready (/readyz 200) with no history, and with H
# finished deployments (default 1,000, of 10 targets each) in Kafka, on the
# embedded broker.  Restarts resume from the checkpoints of their fold
# (docs/pipeline.md), so the time should follow active work, not history:
# the goal is the two within 2x of each other.  For reference the same
# restart under a new consumer group, which has no checkpoint and reads the
# status topic from its start, is measured too.
#
# Start to ready includes joining the consumer group, which on the
# embedded broker takes seconds whatever the history; "caught up" is the
# part after the group assigned the partitions (reading checkpoints and
# history), printed apart.
#
# usage: bench/restart_bench.sh [BUILD_DIR] [DEPLOYMENTS]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
H=${2:-1000}
TARGETS=10
. "$(dirname "$0")/fleet_lib.sh"
fleet_setup rbench
now_ms() { date +%s%3N; }
# log_ms FILE EVENT: the time (ms since the epoch) of the first line of EVENT in FILE.
log_ms() {
  local ts
  ts=$(grep -m1 "event=$2" "$1" | sed -n 's/^ts=\([^ ]*\) .*/\1/p')
  [ -n "$ts" ] && date -d "$ts" +%s%3N
}

# start_pair NAME [GROUP_SUFFIX]: serve and the aggregator, logging to NAME-*.log; sets SERVE_PID, AGG_PID.
start_pair() {
  local groups=()
  [ -n "${2:-}" ] && groups=(--group "drover-$2")
  "$BUILD/drover-producer" serve --signing-key "$WORK/keys/$KEY_ID.key" --policy "$WORK/policy.json" \
    --operator-keys "$WORK/operators" --log-level debug "${groups[@]}" >/dev/null 2>"$WORK/$1-serve.log" & PIDS+=($!)
  SERVE_PID=$!
  "$BUILD/drover-aggregator" --http 127.0.0.1:0 "${groups[@]}" >/dev/null 2>"$WORK/$1-agg.log" & PIDS+=($!)
  AGG_PID=$!
}
# ready_ms LOG START_MS: ms from START_MS until the program of LOG answers /readyz 200.
ready_ms() {
  local port
  port=$(port_of "$1")
  for _ in $(seq 1 6000); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && { echo $(($(now_ms) - $2)); return 0; }
    sleep 0.02
  done
  echo "never ready: $1" >&2; exit 1
}
stop_pair() {
  kill -TERM "$SERVE_PID" "$AGG_PID"
  wait "$SERVE_PID" || true
  wait "$AGG_PID" || true
}
# measure KEY DESCRIPTION [GROUP_SUFFIX]: start the pair, print the figures, stop it.
measure() {
  local key=$1 what=$2 start serve_ready agg_ready serve_caught agg_caught serve_read agg_read
  shift 2
  start=$(now_ms)
  start_pair "$key" "$@"
  serve_ready=$(ready_ms "$WORK/$key-serve.log" "$start")
  agg_ready=$(ready_ms "$WORK/$key-agg.log" "$start")
  serve_caught=$(($(log_ms "$WORK/$key-serve.log" serve.synced) - $(log_ms "$WORK/$key-serve.log" serve.partition_assigned)))
  agg_caught=$(($(log_ms "$WORK/$key-agg.log" aggregator.caught_up) - $(log_ms "$WORK/$key-agg.log" partition.assigned)))
  serve_read=$(grep -m1 "event=serve.synced" "$WORK/$key-serve.log" | sed -n 's/.*status_events_read=\([0-9]*\).*/\1/p')
  agg_read=$(grep -m1 "event=aggregator.caught_up" "$WORK/$key-agg.log" | sed -n 's/.* events=\([0-9]*\).*/\1/p')
  printf '%-40s serve: ready %5d ms, %6d status events read | aggregator: ready %5d ms, caught up %4d ms after assignment, %6d events read\n' \
    "$what" "$serve_ready" "$serve_read" "$agg_ready" "$agg_caught" "$agg_read"
  echo "$key $serve_ready $serve_caught $agg_ready $agg_caught" >>"$WORK/figures"
  stop_pair
}

"$BUILD/drover-producer" package publish --name elsewhere --manifest "$BASE/elsewhere/manifest.json" \
  --artifacts "$BASE/elsewhere" >/dev/null
{ echo "id,account,region,platform,platform_version,arch,tags"
  for i in $(seq 1 "$TARGETS"); do echo "r-$i,111,eu-west-1,ubuntu,22.04,x86_64,"; done; } >"$WORK/targets.csv"
"$BUILD/drover-producer" target register --file "$WORK/targets.csv" >/dev/null
ids=$(seq -s, 1 "$TARGETS" | sed 's/\([0-9]*\)/r-\1/g')

measure first "no history (first start)"
measure none "no history (restart)"

# History: H deployments, each decided by the workers at once (no platform matches).
start_pair history
for w in w1 w2; do
  "$BUILD/drover-worker" run --worker-id "$w" --targets-root "$WORK/targets" --cache-dir "$WORK/cache-$w" \
    --trusted-keys "$WORK/keys" --fetch-allow-private --http 127.0.0.1:0 >/dev/null 2>"$WORK/$w.log" & PIDS+=($!)
done
ready_ms "$WORK/history-serve.log" "$(now_ms)" >/dev/null
t0=$(now_ms)
seq 1 "$H" | xargs -P 2 -I{} "$BUILD/drover-producer" deploy --package elsewhere --targets "$ids" \
  --deployment-id "h-{}" --max-concurrency 100% --no-wait >/dev/null
AGG_PORT=$(port_of "$WORK/history-agg.log")
for _ in $(seq 1 3000); do
  done_count=$(curl -s "http://127.0.0.1:$AGG_PORT/deployments" | grep -o '"status": *"INCOMPLETE"' | wc -l || true)
  [ "$done_count" -ge "$H" ] && break
  sleep 0.2
done
[ "$done_count" -ge "$H" ] || { echo "only $done_count of $H deployments finished" >&2; exit 1; }
echo "history: $H deployments of $TARGETS targets finished in $(( ($(now_ms) - t0) / 1000 )) s"
sleep 6 # a checkpoint of every moved partition is due within 5 s
stop_pair

measure history1 "$H finished (restart)"
measure fresh "$H finished (new group: no checkpoint)" fresh

awk -v h="$H" '
  { ready_s[$1] = $2; caught_s[$1] = $3; ready_a[$1] = $4; caught_a[$1] = $5 }
  END {
    printf "ratio, %d finished deployments to none, start to ready: serve %.2f, aggregator %.2f (goal: within 2)\n",
      h, ready_s["history1"] / ready_s["none"], ready_a["history1"] / ready_a["none"]
    printf "aggregator caught up after assignment: %d ms from its checkpoints, %d ms without (new group)\n",
      caught_a["history1"], caught_a["fresh"]
  }' "$WORK/figures"
