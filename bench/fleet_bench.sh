#!/usr/bin/env bash
# Fleet benchmark: the per-job cost of the pipeline when the work per job is
# small, on the embedded broker, 2 workers with the default concurrency (the
# number of cores), every program at its default settings.  Three runs over
# the same N targets (default 20,000):
#
#   decided    a package no target's platform matches: every job is decided
#              by the worker without a script (REJECTED, no-platform-match)
#   install    a trivial install (unzip, sh install.sh touching one file)
#   installed  the same deployment again: every job "already installed"
#
# Each run is SLICES deployments of N/SLICES targets at once (see run()).
# For each: jobs/s from `deploy` to the last one's exit on its last rollup, the CPU
# seconds per 1,000 jobs of each program (from /proc), and the slot latency
# of a job (arrival at the worker to its terminal status acknowledged by
# Kafka: p50 and p99, interpolated from drover_worker_job_slot_seconds).
#
# The floor, measured in the same run: kcat producing and then consuming as
# many messages, of the same sizes, as the run put on the jobs and status
# topics (the Kafka traffic with no Drover logic).
#
# usage: bench/fleet_bench.sh [BUILD_DIR] [TARGETS]
# (DROVER_BENCH_ONLY=decided: the first run alone, for a quick look.)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-20000}
SLICES=${DROVER_BENCH_SLICES:-4} # deployments a run is made of (see run())
. "$(dirname "$0")/fleet_lib.sh"
fleet_setup fbench
now() { date +%s.%N; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

"$BUILD/drover-aggregator" --http 127.0.0.1:0 ${DROVER_BENCH_AGGREGATOR_FLAGS:-} >/dev/null 2>"$WORK/aggregator.log" & PIDS+=($!)
AGG_PID=$!
"$BUILD/drover-producer" serve --signing-key "$WORK/keys/$KEY_ID.key" --policy "$WORK/policy.json" \
  --operator-keys "$WORK/operators" >/dev/null 2>"$WORK/control-plane.log" & PIDS+=($!)
SERVE_PID=$!
WORKER_PIDS=()
for w in w1 w2; do
  "$BUILD/drover-worker" run --worker-id "$w" --targets-root "$WORK/targets" --cache-dir "$WORK/cache-$w" \
    --trusted-keys "$WORK/keys" --fetch-allow-private --http 127.0.0.1:0 ${DROVER_BENCH_WORKER_FLAGS:-} >/dev/null 2>"$WORK/$w.log" & PIDS+=($!)
  WORKER_PIDS+=($!)
done
W1_PORT=$(port_of "$WORK/w1.log")
W2_PORT=$(port_of "$WORK/w2.log")
for p in trivial elsewhere; do
  "$BUILD/drover-producer" package publish --name "$p" --manifest "$BASE/$p/manifest.json" --artifacts "$BASE/$p" >/dev/null
done
{ echo "id,account,region,platform,platform_version,arch,tags"
  for i in $(seq 1 "$N"); do echo "f-$i,$((111 * (i % 3 + 1))),r$((i % 2)),ubuntu,22.04,x86_64,slice=s$((i % SLICES))"; done; } >"$WORK/targets.csv"
"$BUILD/drover-producer" target register --file "$WORK/targets.csv" >/dev/null
# Both workers in the group, holding partitions, before the clock starts (the first join can take 10 s).
assigned() { awk '/event=partitions.assigned/ {a = 1} /event=partitions.revoked/ {a = 0} END {exit !a}' "$1"; }
for _ in $(seq 1 600); do assigned "$WORK/w1.log" && assigned "$WORK/w2.log" && break; sleep 0.1; done
assigned "$WORK/w1.log" && assigned "$WORK/w2.log" || { echo "the workers never both held partitions" >&2; exit 1; }
sleep 1
assigned "$WORK/w1.log" && assigned "$WORK/w2.log" || { echo "the workers' group is still rebalancing" >&2; exit 1; }

# slot_histogram: both workers' drover_worker_job_slot_seconds buckets, summed, as "le count" lines.
slot_histogram() {
  for port in "$W1_PORT" "$W2_PORT"; do
    curl -fsS "http://127.0.0.1:$port/metrics" | sed -n 's/^drover_worker_job_slot_seconds_bucket{le="\([^"]*\)"} \(.*\)$/\1 \2/p'
  done | awk '{sum[$1] += $2} END {for (le in sum) print le, sum[le]}' | sort -g
}
# quantile Q BEFORE AFTER: the Q quantile (ms) of the observations between two histograms, interpolated.
quantile() {
  join -a 2 -e 0 -o 0,1.2,2.2 <(sort "$2") <(sort "$3") | sort -g | awk -v q="$1" '
    { le[NR] = $1; c[NR] = $3 - $2 } END {
      total = c[NR]; want = q * total; prev_le = 0; prev_c = 0
      for (i = 1; i <= NR; i++) {
        if (c[i] >= want) {
          if (le[i] == "+Inf") { printf ">%g", prev_le * 1000; exit }
          span = c[i] - prev_c; f = span > 0 ? (want - prev_c) / span : 0
          printf "%.2f", (prev_le + f * (le[i] - prev_le)) * 1000; exit
        }
        prev_le = le[i]; prev_c = c[i]
      }
    }'
}

PROGRAMS=(serve w1 w2 aggregator broker)
PROGRAM_PIDS=("$SERVE_PID" "${WORKER_PIDS[0]}" "${WORKER_PIDS[1]}" "$AGG_PID" "$BROKER_PID")
HZ=$(getconf CLK_TCK)
RESULTS="$WORK/results"
: >"$RESULTS"
# Each run deploys the N targets as SLICES deployments at once, whose ids are
# chosen so that their status events land on SLICES different partitions:
# a deployment's status events share one partition (keyed by its id), and
# a partition of the embedded broker keeps only 5 MiB, which 20,000 jobs'
# events (about 40,000 of 128 B) overflow.  An aggregator that falls 5 MiB
# behind then loses events (kafka.data_loss; the rollup says complete:
# false) and deploy never sees the end.  See docs/pipeline.md.
PARTITIONS=12
# partition_of KEY: the partition librdkafka's consistent partitioner gives KEY (CRC-32, the gzip trailer's).
partition_of() { printf %s "$1" | gzip -c | tail -c8 | head -c4 | od -An -tu4 | awk -v p="$PARTITIONS" '{ print $1 % p }'; }
# slice_ids PREFIX: SLICES deployment ids PREFIX-N whose partitions differ.
slice_ids() {
  local used=" " k=0 id part ids=()
  while [ "${#ids[@]}" -lt "$SLICES" ]; do
    id="$1-$k"; part=$(partition_of "$id"); k=$((k + 1))
    case "$used" in *" $part "*) continue ;; esac
    used+="$part "; ids+=("$id")
  done
  echo "${ids[@]}"
}
run() { # run NAME PACKAGE DEPLOYMENT-PREFIX
  local before=() after=() t0 t1 ids i deploys=()
  read -r -a ids <<<"$(slice_ids "$3")"
  for pid in "${PROGRAM_PIDS[@]}"; do before+=("$(cpu_ticks "$pid")"); done
  slot_histogram >"$WORK/$1.slots0"
  t0=$(now)
  for i in "${!ids[@]}"; do
    "$BUILD/drover-producer" deploy --package "$2" --tag "slice=s$i" --deployment-id "${ids[$i]}" --max-concurrency 100% \
      --max-errors 100% --wait-timeout 600 >"$WORK/$1.$i.out" 2>&1 &
    deploys+=($!)
  done
  for pid in "${deploys[@]}"; do wait "$pid" || true; done
  t1=$(now)
  cat "$WORK/$1".[0-9]*.out >"$WORK/$1.out"
  slot_histogram >"$WORK/$1.slots1"
  for pid in "${PROGRAM_PIDS[@]}"; do after+=("$(cpu_ticks "$pid")"); done
  local cpu=""
  for i in "${!PROGRAMS[@]}"; do
    cpu+=$(awk -v a="${after[$i]}" -v b="${before[$i]}" -v hz="$HZ" -v n="$N" -v name="${PROGRAMS[$i]}" \
      'BEGIN { printf " %s %.2f", name, (a - b) / hz * 1000 / n }')
  done
  echo "$1 $t0 $t1 $(quantile 0.5 "$WORK/$1.slots0" "$WORK/$1.slots1") $(quantile 0.99 "$WORK/$1.slots0" "$WORK/$1.slots1")$cpu" >>"$RESULTS"
}
expect_summary() { # expect_summary NAME PATTERN: every slice's deploy ended so
  local n
  n=$(grep -c "$2" "$WORK/$1.out" || true)
  ! grep -q "^incomplete:" "$WORK/$1.out" || n=0 # events lost: the counts are short
  [ "$n" -eq "$SLICES" ] || { echo "$1: $n of $SLICES deployments ended as expected ($2):" >&2; grep "^deployment\|^incomplete\|stopped" "$WORK/$1.out" >&2; exit 1; }
}
run decided elsewhere fb-decided
expect_summary decided "^deployment .*: INCOMPLETE"
if [ "${DROVER_BENCH_ONLY:-}" = decided ]; then # a quick look at the first run alone
  awk -v n="$N" '{ printf "%s %.1f s %.0f jobs/s slot p50 %s ms p99 %s ms\n", $1, $3 - $2, n / ($3 - $2), $4, $5 }' "$RESULTS"
  exit 0
fi
run install trivial fb-install
installed=$(find "$WORK/targets" -name installed | wc -l)
[ "$installed" -eq "$N" ] || { echo "install: only $installed of $N targets installed" >&2; exit 1; }
run installed trivial fb-installed
expect_summary installed "^deployment .*: SUCCESS"

# The floor: the same Kafka traffic (message count and mean size per topic) through kcat alone.
B=$DROVER_BROKERS
job_stats=$(kcat -C -b "$B" -t drover.jobs -o beginning -e -q -f '%S\n' | awk '{n++; s += $1} END {printf "%d %d", n, s / n}')
status_stats=$(kcat -C -b "$B" -t drover.status -o beginning -e -q -f '%S\n' | awk '{n++; s += $1} END {printf "%d %d", n, s / n}')
read -r jobs job_size <<<"$job_stats"
read -r statuses status_size <<<"$status_stats"
floor_topic() { # floor_topic TOPIC COUNT SIZE: seconds to produce then consume COUNT messages of SIZE bytes
  local t0 t1
  t0=$(now)
  head -c "$2" /dev/zero | tr '\0' '\n' | awk -v s="$3" 'BEGIN { x = sprintf("%*s", s - 1, ""); gsub(/ /, "x", x) } { print x }' |
    kcat -P -b "$B" -t "$1"
  kcat -C -b "$B" -t "$1" -o beginning -e -q -f '' >/dev/null
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
fj=$(floor_topic floor.jobs "$jobs" "$job_size")
fs=$(floor_topic floor.status "$statuses" "$status_size")
floor=$(awk -v a="$fj" -v b="$fs" -v n="$N" 'BEGIN { printf "%.3f", (a + b) / 3 }') # per run: the three runs share the topics

echo "fleet benchmark: $N targets (as $SLICES deployments at once), 2 workers with the default concurrency ($(nproc) cores), default settings"
echo "  floor: kcat producing and consuming $jobs jobs of ${job_size} B and $statuses status events of ${status_size} B"
awk -v floor="$floor" -v n="$N" '{
  secs = $3 - $2
  printf "  %-9s %7.1f s  %6.0f jobs/s  slot p50 %s ms p99 %s ms  ratio to floor %.1f (floor %.2f s a run)\n", $1, secs, n / secs, $4, $5, secs / floor, floor
  printf "            CPU s per 1,000 jobs:"
  for (i = 6; i <= NF; i += 2) printf " %s %s", $i, $(i + 1)
  printf "\n"
}' "$RESULTS"
echo "  goals: decided and installed >= 2,000 jobs/s, slot p50 < 5 ms"
