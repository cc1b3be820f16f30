# pipeline_lib.sh - start the real processes of the pipeline for an
# end-to-end test: the embedded broker, the aggregator, workers, and an HTTP
# server for artifacts.  Every process started here is stopped on exit.
. "$(dirname "${BASH_SOURCE[0]}")/apply_lib.sh"
BROKER="$DROVER_BUILD_DIR/drover-broker"
AGGREGATOR="$DROVER_BUILD_DIR/drover-aggregator"
PIDS=()
# Every request of a pipeline test is signed by an operator the control plane's policy allows.
operator_setup

# signing_key: once per test, a key pair in $WORK/keys; sets SIGNING_KEY (the
# control plane's private key) and TRUSTED_KEYS (the workers' directory).
signing_key() {
  [ -n "${SIGNING_KEY:-}" ] && return 0
  local id
  id=$("$PRODUCER" keys generate --dir "$WORK/keys" | sed -n 's/^key_id: //p')
  [ -n "$id" ] || fail "keys generate printed no key id"
  SIGNING_KEY="$WORK/keys/$id.key"
  TRUSTED_KEYS="$WORK/keys"
}

# Stop in the reverse order of starting, each before the next: workers and the
# control plane leave their groups while the broker still answers.
stop_pipeline() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
  PIDS=()
}
pipeline_cleanup() {
  stop_pipeline
  cleanup
}
trap pipeline_cleanup EXIT

# wait_for_file FILE [SECONDS]: until FILE is non-empty.
wait_for_file() {
  local i
  for i in $(seq 1 $(( ${2:-20} * 20 ))); do [ -s "$1" ] && return 0; sleep 0.05; done
  fail "timed out waiting for $1"
}

# wait_for_log LOG PATTERN [SECONDS] [COUNT]: until LOG has COUNT (default 1) lines matching PATTERN (grep -E).
wait_for_log() {
  local i want=${4:-1}
  for i in $(seq 1 $(( ${3:-20} * 20 ))); do
    [ "$(grep -cE -- "$2" "$1" 2>/dev/null)" -ge "$want" ] && return 0
    sleep 0.05
  done
  fail "not $want lines matching '$2' in $1 within ${3:-20} s: $(tail -3 "$1")"
}

# start_broker [flags...]: sets BROKERS.
start_broker() {
  "$BROKER" --address-file "$WORK/broker.addr" "$@" >"$WORK/broker.out" 2>"$WORK/broker.log" &
  PIDS+=($!)
  wait_for_file "$WORK/broker.addr"
  BROKERS=$(cat "$WORK/broker.addr")
}

# http_port_of LOG: the port a program logged in its event=http.listening line.
http_port_of() {
  local i
  for i in $(seq 1 200); do
    if grep -q 'event=http.listening' "$1" 2>/dev/null; then
      sed -n 's/.*event=http.listening.*addr=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$1" | head -1
      return 0
    fi
    sleep 0.05
  done
  fail "no http.listening line in $1: $(tail -5 "$1")"
}

# start_aggregator [flags...]: sets AGG_URL, AGG_PID and AGG_LOG (a new log per start).
AGG_STARTS=0
start_aggregator() {
  AGG_STARTS=$((AGG_STARTS + 1))
  AGG_LOG="$WORK/aggregator.$AGG_STARTS.log"
  "$AGGREGATOR" --brokers "$BROKERS" --http 127.0.0.1:0 --publish-interval-ms 100 "$@" >/dev/null 2>"$AGG_LOG" &
  AGG_PID=$!
  PIDS+=($AGG_PID)
  AGG_URL="http://127.0.0.1:$(http_port_of "$AGG_LOG")"
}

# start_control_plane [NAME [flags...]]: a drover-producer serve replica signing with
# $SIGNING_KEY and checking requests against $WORK/policy.json (operator_setup), with
# its own log ($WORK/NAME.log, default cp1); sets CP_PID and CP_LOG.
start_control_plane() {
  local name=${1:-cp1}; shift || true
  CP_LOG="$WORK/$name.log"
  signing_key
  "$PRODUCER" serve --brokers "$BROKERS" --replica-id "$name" --log-level info \
    --signing-key "$SIGNING_KEY" "${SERVE_AUTH[@]}" "$@" >/dev/null 2>"$CP_LOG" &
  CP_PID=$!
  PIDS+=($CP_PID)
}

# wait_taken ID: until the control plane ($CP_LOG) logs that it took association ID in (its triggers apply from then).
wait_taken() {
  for _ in $(seq 1 200); do grep -q "event=association.taken association=$1 " "$CP_LOG" && return 0; sleep 0.1; done
  fail "the control plane did not take association $1 in within 20 s: $(tail -5 "$CP_LOG")"
}

# start_cpu_load: a busy loop on each core, until the test ends: the fault
# cases run on a busy machine, as CI's and a developer's often is (t0710
# once stalled only while another build ran beside it).
start_cpu_load() {
  local i
  for i in $(seq 1 "$(nproc)"); do
    ( trap 'exit 0' TERM; while :; do :; done ) &
    PIDS+=($!)
  done
}

# start_worker NAME [flags...]: a worker trusting $TRUSTED_KEYS, with its own log; sets WORKER_PID.
start_worker() {
  local name=$1; shift
  signing_key
  "$WORKER" run --brokers "$BROKERS" --targets-root "$TARGETS" --cache-dir "$CACHE" --worker-id "$name" \
    --trusted-keys "$TRUSTED_KEYS" \
    --http 127.0.0.1:0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
  WORKER_PID=$!
  PIDS+=($WORKER_PID)
}

# get PATH: the aggregator's answer (curl).
get() { curl -sS --max-time 10 "$AGG_URL$1"; }

# wait_for_rollup ID STATUS [SECONDS]: until /deployments/ID says "status": "STATUS".
wait_for_rollup() {
  local i body
  for i in $(seq 1 $(( ${3:-60} * 5 ))); do
    body=$(get "/deployments/$1" 2>/dev/null || true)
    grep -q "\"status\": *\"$2\"" <<<"$body" && { ROLLUP=$body; return 0; }
    sleep 0.2
  done
  fail "deployment $1 did not reach $2; last: $body"
}

# json_count BODY STATE: the count of STATE in a rollup JSON's counts object.
json_count() { sed -n "s/.*\"$2\": *\([0-9][0-9]*\).*/\1/p" <<<"$(tr -d '\n' <<<"$1" | grep -o "\"counts\": *{[^}]*}" | head -1)" | head -1; }
