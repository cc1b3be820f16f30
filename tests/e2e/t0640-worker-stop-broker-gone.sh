#!/usr/bin/env bash
# SIGTERM fits a Kubernetes grace period even when Kafka is gone: a worker
# with jobs running and statuses unacknowledged, whose broker died, still
# exits within --shutdown-timeout + 25 s (the chart's grace is + 30 s), and
# says which statuses it could not deliver (those jobs run again elsewhere);
# the control plane and the aggregator, with the same broker gone, exit
# within theirs (dr_program_exit_within).
. "$(dirname "$0")/pipeline_lib.sh"
PRODUCER="$DROVER_BUILD_DIR/drover-producer"

write_script slow 1.0 install.sh 'sleep 2'
write_script slow 1.0 uninstall.sh 'true'
make_version slow 1.0
start_http
start_broker
start_aggregator
start_control_plane cp1 --kafka-timeout 5
start_worker w1 --shutdown-timeout 5 --concurrency 2
export DROVER_BROKERS="$BROKERS"
"$PRODUCER" package publish --name slow --manifest "$BASE_URL/slow/1.0/manifest.json" --artifacts "$BASE_URL/slow/1.0" >/dev/null
for i in $(seq 1 8); do
  "$PRODUCER" target register --id "t-$i" --account 1 --region r --platform ubuntu --platform-version 22.04 --arch x86_64 >/dev/null
done
test_expect_success 'set-up: a deployment has jobs running on the worker' '
  "$PRODUCER" deploy --package slow --all --deployment-id d1 --wait-timeout 1 >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do grep -q "event=job.start" "$WORK/w1.log" && break; sleep 0.1; done
  grep -q "event=job.start" "$WORK/w1.log" || fail "no job started: $(tail -5 "$WORK/w1.log")"
'

test_expect_success 'with its broker dead, a worker sent SIGTERM exits (0 or 1) within --shutdown-timeout + 25 s, saying it stops' '
  kill -9 "${PIDS[0]}"   # the broker, with jobs running
  wait "${PIDS[0]}" 2>/dev/null || true
  started=$(date +%s)
  kill -TERM "$WORKER_PID"
  rc=0
  for _ in $(seq 1 600); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$WORKER_PID" 2>/dev/null; then
    kill -9 "$WORKER_PID"
    fail "the worker was still running 60 s after SIGTERM: $(grep -v kafka.error "$WORK/w1.log" | tail -5)"
  fi
  wait "$WORKER_PID" || rc=$?
  took=$(( $(date +%s) - started ))
  [ "$took" -le 30 ] || fail "the worker took $took s to exit, more than shutdown-timeout + 25"
  [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || fail "the worker exited $rc"
  grep -q "event=worker.stopping" "$WORK/w1.log" || fail "no worker.stopping line"
'

# (Unless everything got out before the broker died.)
test_expect_success 'what it could not deliver is named, job by job' '
  if grep -q "event=status.flush_failed" "$WORK/w1.log"; then
    grep -q "event=status.lost job=d1/t-" "$WORK/w1.log" || fail "statuses were not delivered, but no status.lost names them"
  fi
'

test_expect_success 'with their broker dead, the control plane and the aggregator sent SIGTERM exit within their bounds (kafka-timeout + 25 s, 25 s)' '
  started=$(date +%s); cp_took=; agg_took=
  kill -TERM "$CP_PID" "$AGG_PID"
  for _ in $(seq 1 450); do
    [ -z "$cp_took" ] && ! kill -0 "$CP_PID" 2>/dev/null && cp_took=$(( $(date +%s) - started ))
    [ -z "$agg_took" ] && ! kill -0 "$AGG_PID" 2>/dev/null && agg_took=$(( $(date +%s) - started ))
    [ -n "$cp_took" ] && [ -n "$agg_took" ] && break
    sleep 0.1
  done
  { kill -9 "$CP_PID" "$AGG_PID"; wait "$CP_PID" "$AGG_PID"; } 2>/dev/null || true
  [ -n "$cp_took" ] || fail "the control plane was still running 45 s after SIGTERM: $(grep -v kafka.error "$CP_LOG" | tail -3)"
  [ -n "$agg_took" ] || fail "the aggregator was still running 45 s after SIGTERM: $(grep -v kafka.error "$AGG_LOG" | tail -3)"
  echo "control plane exited after ${cp_took} s, aggregator after ${agg_took} s"
  [ "$cp_took" -le 32 ] || fail "the control plane took $cp_took s, more than kafka-timeout 5 + 25"
  [ "$agg_took" -le 27 ] || fail "the aggregator took $agg_took s, more than 25"
'

test_done
