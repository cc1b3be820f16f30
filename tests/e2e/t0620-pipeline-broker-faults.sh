#!/usr/bin/env bash
# A bad day for Kafka, on a three-broker embedded cluster: during a
# deployment a broker goes down, the leaders of every partition move to the
# survivors, produce requests fail with retriable errors, and the broker
# comes back.  No job is lost, none runs twice on a target, and the rollup
# is exact.  With the whole cluster down, `deploy` fails saying so and
# publishes nothing; with every produce failing, it reports how much of the
# deployment was acknowledged (exit 1), and a re-run once Kafka is well
# completes it without a duplicate or a gap.  (The rollups are read with
# curl and jq: prerequisites CURL, JQ.)
. "$(dirname "$0")/pipeline_lib.sh"
PRODUCER="$DROVER_BUILD_DIR/drover-producer"
N=60

# Each install counts its runs; it takes a moment, so the faults land mid-deployment.
write_script tough 1.0 install.sh 'echo run >> "$DROVER_TARGET_ROOT/runs"; sleep 0.2'
write_script tough 1.0 uninstall.sh 'true'
make_version tough 1.0
start_http
start_broker --brokers-count 3 --replication 3 --control-fifo "$WORK/faults"
[ -p "$WORK/faults" ] || fail "the broker made no control FIFO"
# fault CMD...: one fault command; waits for the broker to log it done.
fault() {
  local before; before=$(grep -c 'event=broker.fault' "$WORK/broker.log" || true)
  echo "$*" >"$WORK/faults"
  for _ in $(seq 1 100); do [ "$(grep -c 'event=broker.fault' "$WORK/broker.log")" -gt "$before" ] && break; sleep 0.05; done
  grep 'event=broker.fault' "$WORK/broker.log" | tail -1 | grep -q 'result=ok' || fail "fault '$*': $(tail -1 "$WORK/broker.log")"
}
start_aggregator
start_control_plane
start_worker w1 --concurrency 3
start_worker w2 --concurrency 3
export DROVER_BROKERS="$BROKERS"
"$PRODUCER" package publish --name tough --manifest "$BASE_URL/tough/1.0/manifest.json" --artifacts "$BASE_URL/tough/1.0" >/dev/null
{ echo "id,account,region,platform,platform_version,arch,tags"
  for i in $(seq 1 $N); do echo "f-$i,111,eu-west-1,ubuntu,22.04,x86_64,"; done; } >"$WORK/targets.csv"
"$PRODUCER" target register --file "$WORK/targets.csv" >/dev/null

test_expect_success 'mid-deployment, broker 2 goes down and every partition of every topic moves to broker 1 or 3' '
  "$PRODUCER" deploy --package tough --all --deployment-id d-storm --max-concurrency 100% --no-wait >/dev/null
  for _ in $(seq 1 200); do grep -q "event=job.start" "$WORK"/w[12].log 2>/dev/null && break; sleep 0.05; done
  grep -q "event=job.start" "$WORK"/w[12].log || fail "no job started: $(tail -3 "$CP_LOG")"
  fault down 2
  for t in jobs status rollups inventory events packages associations deployments control releases; do
    for p in $(seq 0 11); do fault leader "$t" "$p" $((p % 2 ? 1 : 3)); done
  done
'

# lost_broker_2 LOG: the client logging to LOG saw broker 2 go (a transport
# error naming it, as librdkafka logs "ADDRESS/2: Disconnected").
lost_broker_2() { grep -q 'event=kafka.error .*msg="[0-9.]*:[0-9]*/2: \(Disconnected\|Connect to\)' "$1"; }
test_expect_success 'produce requests fail (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT), and every client has lost broker 2' '
  fault errors produce 4 NOT_LEADER_FOR_PARTITION
  fault errors produce 2 REQUEST_TIMED_OUT
  # (Where a 2 s sleep stood: the outage has reached each client.)
  for log in "$WORK/w1.log" "$WORK/w2.log" "$CP_LOG" "$AGG_LOG"; do
    for _ in $(seq 1 200); do lost_broker_2 "$log" && break; sleep 0.1; done
    lost_broker_2 "$log" || fail "$(basename "$log"): no sign of losing broker 2 in 20 s: $(grep kafka.error "$log" | tail -3)"
  done
'

test_expect_success 'broker 2 comes back, and fetch requests fail a few times' '
  fault up 2
  fault errors fetch 3 NOT_LEADER_FOR_PARTITION
'

test_expect_success CURL,JQ 'no job is lost and none runs twice: the rollup is exact (60 SUCCESS) and each target installed once' '
  wait_for_rollup d-storm SUCCESS 180
  [ "$(jq -r ".counts.SUCCESS" <<<"$ROLLUP")" = $N ] && [ "$(jq -r ".total" <<<"$ROLLUP")" = $N ] || fail "d-storm: $ROLLUP"
  for i in $(seq 1 $N); do
    [ "$(wc -l <"$TARGETS/f-$i/runs")" = 1 ] || fail "f-$i ran its install $(wc -l <"$TARGETS/f-$i/runs") times"
    expect_installed "$TARGETS/f-$i" tough 1.0
  done
  grep -q "event=broker.fault cmd=\"down 2\" result=ok" "$WORK/broker.log" || fail "broker 2 never went down"
'

# ---- the whole cluster down: deploy fails saying so, and publishes nothing ----
test_expect_success 'with the whole cluster down, deploy fails (exit 1) saying it cannot read drover.packages' '
  fault down -1
  RC=0; OUT=$("$PRODUCER" deploy --package tough --targets f-1,f-2,f-3 --deployment-id d-dark --no-wait --kafka-timeout 3 2>&1) || RC=$?
  fault up -1
  [ "$RC" = 1 ] && grep -q "^drover-producer: reading drover.packages: " <<<"$OUT" || fail "deploy with every broker down exited $RC: $OUT"
'

# ---- every produce fails (retriably): deploy reports the gap; a re-run fills it ----
test_expect_success 'with every produce failing (retriably), deploy reports that 0 of 4 messages were acknowledged (exit 1)' '
  fault errors produce 100000 NOT_ENOUGH_REPLICAS
  RC=0; OUT=$("$PRODUCER" deploy --package tough --targets f-1,f-2,f-3 --deployment-id d-dark --no-wait --kafka-timeout 3 2>&1) || RC=$?
  fault clear-errors produce
  [ "$RC" = 1 ] && grep -q "deployment d-dark not completely published: 0 of 4 messages acknowledged" <<<"$OUT" \
    || fail "deploy under produce errors exited $RC: $OUT"
'

test_expect_success CURL,JQ 're-run once Kafka is well, the deployment completes, without a duplicate or a gap' '
  RC=0; OUT=$("$PRODUCER" deploy --package tough --targets f-1,f-2,f-3 --deployment-id d-dark --wait-timeout 120 2>&1) || RC=$?
  [ "$RC" = 0 ] || fail "the re-run of d-dark exited $RC: $OUT"
  wait_for_rollup d-dark SUCCESS 60
  [ "$(jq -r ".counts.SUCCESS" <<<"$ROLLUP") $(jq -r ".total" <<<"$ROLLUP")" = "3 3" ] || fail "d-dark: $ROLLUP"
'

test_done
