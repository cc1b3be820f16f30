#!/usr/bin/env bash
# Engine benchmark: install one package (1 MiB payload; install.sh copies it
# into the target root) onto N target directories with `drover-worker apply`,
# against the floor of the same work with no Drover (unzip + sh install.sh per
# target, one after another), all measured in this run.  Prints the times and
# the ratios Drover/floor for two ways of running apply:
#   per-process: one `drover-worker apply` process per target, sequentially
#                (pays process start-up, ~36 shared libraries, per target);
#   one process: one `drover-worker apply` with N --target-root and
#                --concurrency 1, i.e. the engine's own cost per target, as a
#                long-running worker pays it.
#
# usage: bench/engine_bench.sh [BUILD_DIR] [TARGETS]   (defaults: build 1000)
set -euo pipefail
BUILD=${1:-build}
N=${2:-${DROVER_BENCH_TARGETS:-1000}}
WORKER=$(cd "$BUILD" && pwd)/drover-worker
WORK=$(mktemp -d "${TMPDIR:-/tmp}/drover-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

. "$(dirname "$0")/bench_package.sh"

now() { date +%s.%N; }

# The floor: what any installer must do per target, with nothing else.
mkdir -p "$WORK/floor"
t0=$(now)
for i in $(seq 1 "$N"); do
  t="$WORK/floor/t$i"
  mkdir -p "$t/pkg"
  unzip -q "$WORK/repo/bench.zip" -d "$t/pkg"
  (cd "$t/pkg" && DROVER_TARGET_ROOT="$t" sh install.sh)
done
t1=$(now)

# Drover: the same install through the engine, one process per target.
mkdir -p "$WORK/drover"
t2=$(now)
for i in $(seq 1 "$N"); do
  t="$WORK/drover/t$i"
  mkdir -p "$t"
  "$WORKER" apply --package bench --target-root "$t" --manifest "$WORK/repo/manifest.json" \
    --artifacts "$WORK/repo" --cache-dir "$WORK/cache" --platform ubuntu --platform-version 22.04 \
    --arch x86_64 --fetch-schemes file --log-level error >/dev/null
done
t3=$(now)

# Drover, one process for all targets, one target at a time (like the floor).
mkdir -p "$WORK/batch"
roots=()
for i in $(seq 1 "$N"); do mkdir -p "$WORK/batch/t$i"; roots+=(--target-root "$WORK/batch/t$i"); done
t4=$(now)
"$WORKER" apply --package bench "${roots[@]}" --concurrency 1 --manifest "$WORK/repo/manifest.json" \
  --artifacts "$WORK/repo" --cache-dir "$WORK/cache2" --platform ubuntu --platform-version 22.04 \
  --arch x86_64 --fetch-schemes file --log-level error >"$WORK/batch.out"
t5=$(now)
grep -q "total: $N targets: $N SUCCESS" "$WORK/batch.out"

# Both did the work.
cmp -s "$WORK/floor/t$N/opt/bench/payload.bin" "$WORK/src/payload.bin"
cmp -s "$WORK/drover/t$N/opt/bench/payload.bin" "$WORK/src/payload.bin"
cmp -s "$WORK/batch/t$N/opt/bench/payload.bin" "$WORK/src/payload.bin"

awk -v n="$N" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v t4="$t4" -v t5="$t5" 'BEGIN {
  f = t1 - t0; d = t3 - t2; b = t5 - t4
  printf "engine benchmark: %d targets, 1 MiB payload\n", n
  printf "  floor  (unzip + sh install.sh): %8.2f s  (%.2f ms/target)\n", f, 1000 * f / n
  printf "  drover, one process per target: %8.2f s  (%.2f ms/target)\n", d, 1000 * d / n
  printf "  drover, one process, %d targets: %8.2f s  (%.2f ms/target)\n", n, b, 1000 * b / n
  printf "  ratio drover/floor, per-process: %.2f\n", d / f
  printf "  ratio drover/floor, one process: %.2f (target <= 1.3)\n", b / f
}'
