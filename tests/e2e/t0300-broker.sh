#!/usr/bin/env bash
# drover-broker: the embedded Kafka starts on loopback with every Drover
# topic, says its bootstrap address on stdout's first line and in
# --address-file, speaks Kafka to another client (kcat: the prerequisite
# KCAT), and stops cleanly on SIGTERM.
. "$(dirname "$0")/lib.sh"
BROKER="$DROVER_BUILD_DIR/drover-broker"
TOPICS=(jobs status rollups inventory events packages associations deployments control releases audit checkpoints aws-events fleet)
BROKER_PID=
BROKER_PIDS=()

# Every broker started, even one a failed case left running.
stop_broker_on_exit() {
  local pid
  for pid in ${BROKER_PIDS[@]+"${BROKER_PIDS[@]}"}; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap stop_broker_on_exit EXIT

# start NAME [flags...]: a broker writing NAME.addr, NAME.out and NAME.log; sets BROKER_PID and ADDR.
start() {
  local name=$1 i; shift
  "$BROKER" --address-file "$WORK/$name.addr" "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
  BROKER_PID=$!
  BROKER_PIDS+=("$BROKER_PID")
  for i in $(seq 1 400); do
    [ -s "$WORK/$name.addr" ] && [ -s "$WORK/$name.out" ] && break
    kill -0 "$BROKER_PID" 2>/dev/null || fail "drover-broker $* exited at start: $(cat "$WORK/$name.log")"
    sleep 0.05
  done
  [ -s "$WORK/$name.addr" ] || fail "no address in $WORK/$name.addr after 20 s: $(cat "$WORK/$name.log")"
  ADDR=$(cat "$WORK/$name.addr")
}

# stop_within SECONDS: SIGTERM, then the broker must exit 0 in time.
stop_within() {
  local i rc
  kill -TERM "$BROKER_PID"
  for i in $(seq 1 $(( $1 * 20 ))); do
    kill -0 "$BROKER_PID" 2>/dev/null || break
    sleep 0.05
  done
  ! kill -0 "$BROKER_PID" 2>/dev/null || fail "drover-broker still running $1 s after SIGTERM"
  rc=0
  wait "$BROKER_PID" || rc=$?
  BROKER_PID=
  [ "$rc" -eq 0 ] || fail "drover-broker exited $rc after SIGTERM: $(tail -5 "$WORK"/*.log)"
}

# ---- the table is the manual; bad settings are refused ----
test_expect_success '--help lists every setting; a replication over the broker count, 0 partitions and an unknown flag are refused' '
  expect_ok "$BROKER" --help
  for setting in brokers-count partitions replication topic-prefix address-file log-level; do
    grep -qF -- "--$setting" <<<"$OUT" || fail "--help does not mention --$setting: $OUT"
  done
  expect_fail_with "replication" "$BROKER" --replication 2
  expect_fail_with "partitions" "$BROKER" --partitions 0
  expect_fail_with "no-such-flag" "$BROKER" --no-such-flag
'

# ---- one broker, the defaults ----
test_expect_success 'one broker says its loopback address on stdout'\''s first line and in --address-file (no temporary copy left)' '
  start one
  FIRST_LINE=$(head -n 1 "$WORK/one.out")
  [ "$FIRST_LINE" = "$ADDR" ] || fail "stdout'\''s first line '\''$FIRST_LINE'\'' differs from the address file '\''$ADDR'\''"
  [[ "$ADDR" =~ ^127\.0\.0\.1:([0-9]+)$ ]] || fail "address '\''$ADDR'\'' is not 127.0.0.1:PORT"
  PORT=${BASH_REMATCH[1]}
  [ "$PORT" -gt 0 ] && [ "$PORT" -lt 65536 ] || fail "port $PORT out of range"
  ! ls "$WORK"/one.addr.tmp.* >/dev/null 2>&1 || fail "the address file'\''s temporary copy was left behind"
'

test_expect_success KCAT 'kcat sees every Drover topic, with 12 partitions each' '
  META=$(kcat -L -b "$ADDR" -m 10)
  for t in "${TOPICS[@]}"; do
    grep -qF "topic \"drover.$t\" with 12 partitions" <<<"$META" || fail "kcat -L does not list drover.$t with 12 partitions:
$META"
  done
  [ "$(grep -c "topic \"drover\." <<<"$META")" -eq "${#TOPICS[@]}" ] || fail "expected ${#TOPICS[@]} drover.* topics:
$META"
'

test_expect_success KCAT 'kcat produces keyed messages to drover.jobs (idempotent, acks=all) and consumes them back' '
  printf "target-1:hello\ntarget-2:world\ntarget-1:again\n" |
    kcat -P -b "$ADDR" -t drover.jobs -K: -X enable.idempotence=true -X acks=all ||
    fail "kcat could not produce to drover.jobs"
  GOT=$(kcat -C -b "$ADDR" -t drover.jobs -o beginning -e -q -f "%k=%s\n" -m 10 | sort)
  WANT=$(printf "target-1=again\ntarget-1=hello\ntarget-2=world\n")
  [ "$GOT" = "$WANT" ] || fail "kcat consumed from drover.jobs:
$GOT
expected:
$WANT"
'

test_expect_success 'SIGTERM stops the broker, exit 0, within 5 s' '
  stop_within 5
'

# ---- several brokers, another prefix and partition count ----
test_expect_success 'three brokers (--brokers-count 3) give three loopback addresses' '
  start three --brokers-count 3 --partitions 2 --topic-prefix test.
  [[ "$ADDR" =~ ^127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+$ ]] ||
    fail "three brokers should give three loopback addresses, got '\''$ADDR'\''"
'

test_expect_success KCAT 'kcat sees the 3 brokers and the topics with the prefix and partition count given' '
  META=$(kcat -L -b "$ADDR" -m 10)
  grep -qF " 3 brokers:" <<<"$META" || fail "kcat -L does not see 3 brokers:
$META"
  grep -qF "topic \"test.rollups\" with 2 partitions" <<<"$META" || fail "no test.rollups with 2 partitions:
$META"
'

test_expect_success 'SIGTERM stops the three brokers, exit 0, within 5 s' '
  stop_within 5
'

test_done
