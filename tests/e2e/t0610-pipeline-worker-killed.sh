#!/usr/bin/env bash
# A worker killed with SIGKILL in the middle of a deployment loses nothing:
# its jobs finish on the other workers, every target ends installed (each
# install completing exactly once), the rollup is exact, and two jobs never
# run on one target at once, even across the rebalance.  A worker stopped
# with SIGTERM finishes its job in flight, leaves the group and exits 0.
# (The rollups are read with curl and jq: prerequisites CURL, JQ.)
. "$(dirname "$0")/pipeline_lib.sh"
PRODUCER="$DROVER_BUILD_DIR/drover-producer"
N=48

# spans_overlap FILE: lines "start|end NANOS PACKAGE"; true when two completed runs overlap.
spans_overlap() {
  sort -k2 -n "$1" | awk '
    $1 == "start" { open_at[$3] = $2 }
    $1 == "end" && ($3 in open_at) { n++; from[n] = open_at[$3]; to[n] = $2; delete open_at[$3] }
    END {
      for (a = 1; a <= n; a++) for (b = a + 1; b <= n; b++)
        if (from[a] < to[b] && from[b] < to[a]) exit 0
      exit 1
    }'
}
# Each install records its span; "done" is written only by a run that completed.
for p in alpha beta; do
  write_script "$p" 1.0 install.sh "echo \"start \$(date +%s%N) $p\" >> \"\$DROVER_TARGET_ROOT/spans\"; sleep 0.4; echo \"end \$(date +%s%N) $p\" >> \"\$DROVER_TARGET_ROOT/spans\"; echo $p >> \"\$DROVER_TARGET_ROOT/done\""
  write_script "$p" 1.0 uninstall.sh 'true'
  make_version "$p" 1.0
done
write_script gamma 1.0 install.sh 'sleep 1; echo ok > "$DROVER_TARGET_ROOT/gamma"'
write_script gamma 1.0 uninstall.sh 'true'
make_version gamma 1.0
start_http
start_broker
start_aggregator
start_control_plane
FAST=(--kafka-property session.timeout.ms=6000 --kafka-property heartbeat.interval.ms=500)
start_worker w1 --concurrency 4 "${FAST[@]}"; W1=$WORKER_PID
start_worker w2 --concurrency 4 "${FAST[@]}"; W2=$WORKER_PID
start_worker w3 --concurrency 4 "${FAST[@]}"; W3=$WORKER_PID
export DROVER_BROKERS="$BROKERS"
for p in alpha beta; do
  "$PRODUCER" package publish --name "$p" --manifest "$BASE_URL/$p/1.0/manifest.json" --artifacts "$BASE_URL/$p/1.0" >/dev/null
done
{ echo "id,account,region,platform,platform_version,arch,tags"
  for i in $(seq 1 $N); do echo "k-$i,111,eu-west-1,ubuntu,22.04,x86_64,"; done; } >"$WORK/targets.csv"
"$PRODUCER" target register --file "$WORK/targets.csv" >/dev/null

test_expect_success CURL,JQ 'two deployments to the same 48 targets, w1 SIGKILLed once it has started jobs: both reach SUCCESS, counts exact' '
  "$PRODUCER" deploy --package alpha --all --deployment-id d-alpha --max-concurrency 100% --no-wait >/dev/null
  "$PRODUCER" deploy --package beta --all --deployment-id d-beta --max-concurrency 100% --no-wait >/dev/null
  # Once w1 has started some jobs, kill it outright.
  for _ in $(seq 1 200); do grep -q "event=job.start" "$WORK/w1.log" 2>/dev/null && break; sleep 0.05; done
  grep -q "event=job.start" "$WORK/w1.log" || fail "w1 never started a job: $(tail -5 "$CP_LOG")"
  kill -9 "$W1"
  wait "$W1" 2>/dev/null || true
  wait_for_rollup d-alpha SUCCESS 120
  [ "$(jq -r ".counts.SUCCESS" <<<"$ROLLUP")" = $N ] || fail "d-alpha: $ROLLUP"
  wait_for_rollup d-beta SUCCESS 120
  [ "$(jq -r ".counts.SUCCESS" <<<"$ROLLUP")" = $N ] || fail "d-beta: $ROLLUP"
  [ "$(jq -r ".total" <<<"$ROLLUP")" = $N ] || fail "d-beta total: $ROLLUP"
'

test_expect_success CURL,JQ 'every install completed exactly once per target, and no two ever ran at once on one target' '
  for i in $(seq 1 $N); do
    t="$TARGETS/k-$i"
    # Each package'\''s install completed exactly once on each target.
    [ "$(grep -c "^alpha\$" "$t/done")" = 1 ] && [ "$(grep -c "^beta\$" "$t/done")" = 1 ] \
      || fail "k-$i: completed installs: $(tr "\n" " " <"$t/done")"
    expect_installed "$t" alpha 1.0; expect_installed "$t" beta 1.0
    # Completed runs never overlap.  A run killed with w1 has a start and no end
    # (its script died with its worker); it is left out.
    ! spans_overlap "$t/spans" || fail "k-$i: two jobs ran at once: $(sort -k2 -n "$t/spans")"
  done
'

test_expect_success 'SIGTERM: a worker in the middle of a job finishes it, leaves cleanly and exits 0' '
  "$PRODUCER" package publish --name gamma --manifest "$BASE_URL/gamma/1.0/manifest.json" --artifacts "$BASE_URL/gamma/1.0" >/dev/null
  "$PRODUCER" deploy --package gamma --targets k-1 --deployment-id d-gamma --no-wait >/dev/null
  for _ in $(seq 1 200); do grep -q "job=d-gamma/k-1" "$WORK"/w[23].log && break; sleep 0.05; done
  w=$(grep -l "event=job.start.*job=d-gamma/k-1" "$WORK"/w[23].log | head -1 || true)
  [ -n "$w" ] || fail "no worker started d-gamma"
  # This test'\''s own process: other tests run workers of the same names at the same time.
  if [ "$(basename "$w" .log)" = w2 ]; then pid=$W2; else pid=$W3; fi
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "worker exited $rc after SIGTERM"
  grep -q "event=job.done.*job=d-gamma/k-1.*state=SUCCESS" "$w" || fail "job in flight did not finish: $(tail -5 "$w")"
  grep -q "event=worker.stopped" "$w" || fail "worker did not stop cleanly"
  [ -f "$TARGETS/k-1/gamma" ] || fail "gamma not installed"
'

test_done
