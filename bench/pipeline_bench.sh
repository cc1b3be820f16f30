#!/usr/bin/env bash
# Pipeline benchmark, on the embedded broker, all measured in this run:
#
# 1. Deploy a trivial package to N targets (default 10,000) with 2 workers,
#    from `drover-producer deploy` to its exit on the last rollup.  Floor: the
#    engine floor of bench/engine_bench.sh (unzip + sh install.sh per target,
#    no Drover), run with the same parallelism as the workers (2 x C), on a
#    sample of S targets and scaled to N.  Prints jobs/s and pipeline/floor.
# 2. The aggregator alone: fold a pre-filled status topic (--exit-when-caught-up)
#    against kcat consuming the same topic to its end (the floor).
#
# usage: bench/pipeline_bench.sh [BUILD_DIR] [TARGETS] [SAMPLE]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-10000}
S=${3:-1000}
C=${DROVER_BENCH_WORKER_CONCURRENCY:-2}
P=$((2 * C))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/drover-pbench.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s.%N; }
wait_for() { for _ in $(seq 1 400); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "timed out: $1" >&2; exit 1; }

# The trivial package.
mkdir -p "$WORK/src" "$WORK/repo/trivial"
printf '#!/bin/sh\ntouch "$DROVER_TARGET_ROOT/installed"\n' >"$WORK/src/install.sh"
printf '#!/bin/sh\nrm -f "$DROVER_TARGET_ROOT/installed"\n' >"$WORK/src/uninstall.sh"
(cd "$WORK/src" && zip -q -X "$WORK/repo/trivial/pkg.zip" install.sh uninstall.sh)
sha=$(sha256sum "$WORK/repo/trivial/pkg.zip" | cut -d' ' -f1)
printf '{"schemaVersion":"2.0","version":"1.0","packages":{"_any":{"_any":{"_any":{"file":"pkg.zip"}}}},"files":{"pkg.zip":{"checksums":{"sha256":"%s"}}}}\n' \
  "$sha" >"$WORK/repo/trivial/manifest.json"

# Floor: unzip + sh install.sh per target, P at a time, on S targets.
floor_one() { mkdir -p "$1/pkg" && unzip -q "$2" -d "$1/pkg" && (cd "$1/pkg" && DROVER_TARGET_ROOT="$1" sh install.sh); }
export -f floor_one
t0=$(now)
seq 1 "$S" | xargs -P "$P" -I{} bash -c 'floor_one "$0/floor/t{}" "$1"' "$WORK" "$WORK/repo/trivial/pkg.zip"
t1=$(now)

# The pipeline.
"$BUILD/drover-broker" --address-file "$WORK/broker.addr" >/dev/null 2>"$WORK/broker.log" & PIDS+=($!)
wait_for "$WORK/broker.addr"
export DROVER_BROKERS; DROVER_BROKERS=$(cat "$WORK/broker.addr")
"$BUILD/drover_test_http" --root "$WORK/repo" --port-file "$WORK/http.port" >/dev/null 2>&1 & PIDS+=($!)
wait_for "$WORK/http.port"
BASE="http://127.0.0.1:$(cat "$WORK/http.port")/trivial"
"$BUILD/drover-aggregator" --http 127.0.0.1:0 --log-level warn >/dev/null 2>"$WORK/aggregator.log" & PIDS+=($!)
KEY_ID=$("$BUILD/drover-producer" keys generate --dir "$WORK/keys" | sed -n 's/^key_id: //p')
# An operator allowed everything: serve acts only on signed requests its policy allows.
OPERATOR=$("$BUILD/drover-producer" keys generate --dir "$WORK/operators" | sed -n 's/^key_id: //p')
export DROVER_OPERATOR_KEY="$WORK/operators/$OPERATOR.key"
printf '{"operators": [{"name": "bench", "keys": ["%s"]}], "rules": [{"name": "all", "operators": ["bench"], "actions": ["*"]}]}\n' \
  "$OPERATOR" >"$WORK/policy.json"
"$BUILD/drover-producer" serve --log-level warn --signing-key "$WORK/keys/$KEY_ID.key" --policy "$WORK/policy.json" \
  --operator-keys "$WORK/operators" >/dev/null 2>"$WORK/control-plane.log" & PIDS+=($!)
for w in w1 w2; do
  "$BUILD/drover-worker" run --worker-id "$w" --targets-root "$WORK/targets" --cache-dir "$WORK/cache-$w" \
    --trusted-keys "$WORK/keys" --fetch-allow-private \
    --concurrency "$C" --log-level warn >/dev/null 2>"$WORK/$w.log" & PIDS+=($!)
done
"$BUILD/drover-producer" package publish --name trivial --manifest "$BASE/manifest.json" --artifacts "$BASE" >/dev/null
{ echo "id,account,region,platform,platform_version,arch,tags"
  for i in $(seq 1 "$N"); do echo "b-$i,$((111 * (i % 3 + 1))),r$((i % 2)),ubuntu,22.04,x86_64,"; done; } >"$WORK/targets.csv"
"$BUILD/drover-producer" target register --file "$WORK/targets.csv" >/dev/null
sleep 4 # let both workers join the group before the clock starts
t2=$(now)
"$BUILD/drover-producer" deploy --package trivial --all --deployment-id bench --max-concurrency 100% --wait-timeout 3600 >"$WORK/deploy.out"
t3=$(now)
installed=$(find "$WORK/targets" -name installed | wc -l)
[ "$installed" -eq "$N" ] || { echo "only $installed of $N targets installed" >&2; exit 1; }

# The aggregator alone, on a pre-filled status topic, against kcat.
"$BUILD/drover-broker" --address-file "$WORK/broker2.addr" --partitions 1 >/dev/null 2>&1 & PIDS+=($!)
wait_for "$WORK/broker2.addr"
B2=$(cat "$WORK/broker2.addr")
events=$("$BUILD/drover_test_status" --brokers "$B2" generate 4 2000 | grep -o '[0-9]*' | head -1)
t4=$(now)
kcat -C -b "$B2" -t drover.status -o beginning -e -q -f '' >/dev/null
t5=$(now)
agg_line=$("$BUILD/drover-aggregator" --brokers "$B2" --http 127.0.0.1:0 --exit-when-caught-up --log-level warn 2>/dev/null | grep folded)
t6=$(now)

awk -v n="$N" -v s="$S" -v p="$P" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v t4="$t4" -v t5="$t5" \
    -v t6="$t6" -v ev="$events" -v agg="$agg_line" 'BEGIN {
  floor = (t1 - t0) * n / s; pipe = t3 - t2
  printf "pipeline benchmark: %d targets, 2 workers x %d, trivial package\n", n, p / 2
  printf "  floor (unzip + sh install.sh, %d at a time, %d sampled, scaled): %8.1f s  (%.0f targets/s)\n", p, s, floor, n / floor
  printf "  pipeline (deploy -> last rollup):                             %8.1f s  (%.0f jobs/s)\n", pipe, n / pipe
  printf "  ratio pipeline/floor: %.2f (target <= 1.2)\n", pipe / floor
  printf "aggregator: %d status events on one partition\n", ev
  printf "  kcat consuming the topic (floor):          %6.2f s  (%.0f events/s)\n", t5 - t4, ev / (t5 - t4)
  printf "  aggregator process, start to exit:         %6.2f s  (includes the ~3 s group join)\n", t6 - t5
  printf "  aggregator fold alone: %s\n", agg
}'
