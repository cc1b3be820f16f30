#!/usr/bin/env bash
# Soak benchmark (not part of make test): deployments of mixed sizes back to
# back on the embedded broker (default 500 over 20 minutes), with the
# control plane, the aggregator and two workers; the resident memory (RSS)
# of every program is sampled after each deployment, and the growth per 100
# deployments after a warm-up is printed (a least-squares slope over the
# samples).  Goal: flat, under 1 MiB per 100 deployments.
#
# Retention is what keeps memory flat, so the control plane and the
# aggregator run with --retention-seconds 60 here (the default, an hour,
# would hold a 20-minute soak's every deployment, by design).  The embedded
# broker keeps up to 5 MiB per partition and grows until it does: it is
# printed, not judged.
#
# Sizes cycle through 1, 10, 50 and 200 targets; every fourth deployment
# installs for real (a trivial script), the others are decided by the
# workers without a script (no platform matches), and every fifth is the
# same deployment again (every job already installed).
#
# usage: bench/soak.sh [BUILD_DIR] [DEPLOYMENTS] [MINUTES]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
COUNT=${2:-500}
MINUTES=${3:-20}
WARMUP=$((COUNT / 5))
. "$(dirname "$0")/fleet_lib.sh"
fleet_setup soak
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

"$BUILD/drover-aggregator" --http 127.0.0.1:0 --retention-seconds 60 >/dev/null 2>"$WORK/aggregator.log" & PIDS+=($!)
AGG_PID=$!
"$BUILD/drover-producer" serve --signing-key "$WORK/keys/$KEY_ID.key" --policy "$WORK/policy.json" \
  --operator-keys "$WORK/operators" --retention-seconds 60 >/dev/null 2>"$WORK/control-plane.log" & PIDS+=($!)
SERVE_PID=$!
W=()
for w in w1 w2; do
  "$BUILD/drover-worker" run --worker-id "$w" --targets-root "$WORK/targets" --cache-dir "$WORK/cache-$w" \
    --trusted-keys "$WORK/keys" --fetch-allow-private --http 127.0.0.1:0 >/dev/null 2>"$WORK/$w.log" & PIDS+=($!)
  W+=($!)
done
for p in trivial elsewhere; do
  "$BUILD/drover-producer" package publish --name "$p" --manifest "$BASE/$p/manifest.json" --artifacts "$BASE/$p" >/dev/null
done
{ echo "id,account,region,platform,platform_version,arch,tags"
  for i in $(seq 1 200); do
    echo "s-$i,$((111 * (i % 3 + 1))),r$((i % 2)),ubuntu,22.04,x86_64,size1=$((i <= 1));size10=$((i <= 10));size50=$((i <= 50));size200=1"
  done; } >"$WORK/targets.csv"
"$BUILD/drover-producer" target register --file "$WORK/targets.csv" >/dev/null

echo "soak: $COUNT deployments over $MINUTES minutes (RSS sampled after each; warm-up $WARMUP)"
echo "n serve aggregator w1 w2 broker" >"$WORK/rss"
interval_ms=$((MINUTES * 60000 / COUNT))
start=$(date +%s%3N)
sizes=(1 10 50 200)
for n in $(seq 1 "$COUNT"); do
  size=${sizes[$((n % 4))]}
  package=elsewhere
  [ $((n % 4)) -eq 0 ] && package=trivial
  id="soak-$n"
  [ $((n % 5)) -eq 0 ] && [ "$n" -gt 4 ] && id="soak-$((n - 4))-again-$n" && package=trivial
  rc=0
  "$BUILD/drover-producer" deploy --package "$package" --tag "size$size=1" --deployment-id "$id" \
    --max-concurrency 100% --wait-timeout 300 >"$WORK/deploy.out" 2>&1 || rc=$?
  [ "$rc" -le 1 ] || { echo "deployment $id: exit $rc: $(tail -3 "$WORK/deploy.out")" >&2; exit 1; }
  echo "$n $(rss_kib "$SERVE_PID") $(rss_kib "$AGG_PID") $(rss_kib "${W[0]}") $(rss_kib "${W[1]}") $(rss_kib "$BROKER_PID")" >>"$WORK/rss"
  [ $((n % 50)) -eq 0 ] && echo "  $n deployments, $(( ($(date +%s%3N) - start) / 1000 )) s: RSS (KiB) $(tail -1 "$WORK/rss")"
  due=$((start + n * interval_ms))
  now=$(date +%s%3N)
  [ "$now" -lt "$due" ] && sleep "$(awk -v ms=$((due - now)) 'BEGIN {printf "%.3f", ms / 1000}')"
done

awk -v warm="$WARMUP" '
  NR == 1 { for (i = 2; i <= NF; i++) name[i] = $i; cols = NF; next }
  $1 > warm {
    k++; x = $1
    for (i = 2; i <= cols; i++) { sx[i] += x; sy[i] += $i; sxx[i] += x * x; sxy[i] += x * $i; last[i] = $i }
  }
  END {
    printf "RSS growth per 100 deployments after the first %d (least squares over %d samples), goal < 1 MiB:\n", warm, k
    for (i = 2; i <= cols; i++) {
      slope = (k * sxy[i] - sx[i] * sy[i]) / (k * sxx[i] - sx[i] * sx[i])
      printf "  %-10s %8.3f MiB per 100   (last %.1f MiB)%s\n", name[i], slope * 100 / 1024, last[i] / 1024,
        name[i] == "broker" ? "   (the embedded broker: not judged)" : (slope * 100 < 1024 ? "   ok" : "   OVER")
    }
  }' "$WORK/rss"
