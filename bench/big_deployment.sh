#!/usr/bin/env bash
# One big deployment on the embedded broker (not part of make test): N
# targets (default 50,000) in one deployment, whose status events (two of
# about 128 B a job) are more than one partition of the embedded broker
# keeps (5 MiB).  Half-way through, the aggregator and the control plane are
# killed (SIGKILL) and started again; they come back from the checkpoints
# of their fold (docs/pipeline.md).  The run passes when:
#   - the deployment finishes, every job released once (the jobs topic),
#   - the restarted aggregator's rollup is exact: total and expected N,
#     complete, every job REJECTED (no-platform-match: decided by the
#     workers without a script, so the run is quick),
#   - the restarted control plane's fold agrees (it finished the rollout).
# It prints the timings and the checkpoint sizes, and for comparison what
# an aggregator of a new group (no checkpoint) makes of the same history.
#
# usage: bench/big_deployment.sh [BUILD_DIR] [TARGETS]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-50000}
. "$(dirname "$0")/fleet_lib.sh"
fleet_setup big
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
fail() { echo "FAILED: $*" >&2; exit 1; }

# start_pair NAME: the aggregator and the control plane; sets AGG_PID, SERVE_PID, AGG_URL.
start_pair() {
  "$BUILD/drover-aggregator" --http 127.0.0.1:0 --log-level debug >/dev/null 2>"$WORK/$1-agg.log" & PIDS+=($!)
  AGG_PID=$!
  "$BUILD/drover-producer" serve --signing-key "$WORK/keys/$KEY_ID.key" --policy "$WORK/policy.json" \
    --operator-keys "$WORK/operators" --log-level debug >/dev/null 2>"$WORK/$1-serve.log" & PIDS+=($!)
  SERVE_PID=$!
  AGG_URL="http://127.0.0.1:$(port_of "$WORK/$1-agg.log")"
}
start_pair first
for w in w1 w2; do
  "$BUILD/drover-worker" run --worker-id "$w" --targets-root "$WORK/targets" --cache-dir "$WORK/cache-$w" \
    --trusted-keys "$WORK/keys" --fetch-allow-private --http 127.0.0.1:0 >/dev/null 2>"$WORK/$w.log" & PIDS+=($!)
done
"$BUILD/drover-producer" package publish --name elsewhere --manifest "$BASE/elsewhere/manifest.json" \
  --artifacts "$BASE/elsewhere" >/dev/null
t=$(now)
{ echo "id,account,region,platform,platform_version,arch,tags"
  for i in $(seq 1 "$N"); do echo "b-$i,$((111 * (i % 3 + 1))),r$((i % 2)),ubuntu,22.04,x86_64,fleet=big"; done; } >"$WORK/targets.csv"
"$BUILD/drover-producer" target register --file "$WORK/targets.csv" >/dev/null
echo "registered $N targets in $(since "$t") s"

# rollup: the deployment's summary from the aggregator's list (the light answer: polled every 0.1 s).
rollup() { curl -s --max-time 10 "$AGG_URL/deployments" | jq -c '.[] | select(.deployment_id == "big")' 2>/dev/null || true; }
terminal_jobs() { rollup | jq -r '[.counts | to_entries[] | select(.key != "PENDING" and .key != "IN_PROGRESS") | .value] | add // 0' 2>/dev/null || echo 0; }

t=$(now)
"$BUILD/drover-producer" deploy --package elsewhere --tag fleet=big --deployment-id big --max-concurrency 5% \
  --no-wait >"$WORK/deploy.out" 2>&1 || fail "deploy: $(tail -3 "$WORK/deploy.out")"
echo "deployment published in $(since "$t") s"
for _ in $(seq 1 3000); do [ "$(terminal_jobs)" -ge $((N / 2)) ] && break; sleep 0.1; done
half=$(terminal_jobs)
echo "half-way ($half of $N jobs terminal) at $(since "$t") s: SIGKILL the aggregator and the control plane, start them again"
kill -KILL "$AGG_PID" "$SERVE_PID"
wait "$AGG_PID" 2>/dev/null || true
wait "$SERVE_PID" 2>/dev/null || true
start_pair second
for _ in $(seq 1 6000); do
  status=$(rollup | jq -r '.status // ""' 2>/dev/null || true)
  case "$status" in SUCCESS|FAILED|INCOMPLETE|CANCELLED|REJECTED) break ;; esac
  sleep 0.2
done
echo "finished (${status:-not}) at $(since "$t") s"
ROLLUP=$(rollup)
echo "rollup: $(jq -c '{status, total, expected_total, complete, counts}' <<<"$ROLLUP")"
[ "$(jq -r '[.total, .expected_total, .complete, .counts.REJECTED] | @tsv' <<<"$ROLLUP")" = "$N	$N	true	$N" ] ||
  fail "the restarted aggregator's rollup is not exact"
grep -h "event=checkpoint.restored" "$WORK/second-agg.log" | head -3
grep -h "event=serve.checkpoint_restored\|event=serve.synced" "$WORK/second-serve.log" | head -4
grep -q "event=serve.finished deployment=big" "$WORK/second-serve.log" || fail "the restarted control plane did not finish the rollout"
released=$("$BUILD/drover_test_messages" dump jobs | grep -c " deployment=big " || true)
[ "$released" = "$N" ] || fail "$released jobs on the jobs topic, want $N (each released once)"
echo "jobs released: $released (each once)"
sizes=$(grep -h "event=checkpoint.written" "$WORK"/*-agg.log | sed -n 's/.*bytes=\([0-9]*\).*/\1/p' | sort -n | tail -1)
echo "largest aggregator checkpoint: ${sizes:-?} bytes deflated"
if grep -q "kafka.data_loss\|history_truncated" "$WORK"/*.log; then
  echo "the status partition overflowed (expected: more than 5 MiB of events):"
  grep -h "history_truncated\|kafka.data_loss" "$WORK"/*.log | head -3
fi

# For comparison: a new group has no checkpoint and finds the oldest events gone.
"$BUILD/drover-aggregator" --http 127.0.0.1:0 --group fresh-group >/dev/null 2>"$WORK/fresh-agg.log" & PIDS+=($!)
FRESH_URL="http://127.0.0.1:$(port_of "$WORK/fresh-agg.log")"
for _ in $(seq 1 600); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$FRESH_URL/readyz")" = 200 ] && break; sleep 0.1; done
echo "a new group without checkpoint: $(curl -s "$FRESH_URL/deployments/big" | jq -c '{status, total, expected_total, complete}')"
echo "PASS: one deployment of $N targets, exact after the restart half-way"
