#!/usr/bin/env bash
# The embedded HTTP server (common/http) beside libmicrohttpd, on loopback:
# requests/s (a new connection per request, and kept alive where the server
# can), memory and threads after the load, and /healthz and /metrics probes
# beside 200 idle or trickling connections.  bench/http_bench.c is the
# program; this builds it against BUILD_DIR's libraries and runs both
# servers the same way.  docs/aggregator.md keeps the figures.
#
# usage: bench/http_bench.sh [BUILD_DIR] [SECONDS_PER_RUN]   (needs libmicrohttpd-dev)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SECONDS_PER_RUN=${2:-3}
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
pkg-config --exists libmicrohttpd || { echo "http_bench: libmicrohttpd-dev is missing (apt-get install libmicrohttpd-dev)" >&2; exit 1; }
cc -O2 -D_GNU_SOURCE -std=c11 -Wall -o "$WORK/http_bench" "$SRC/bench/http_bench.c" -I "$SRC/common/http" -I "$SRC/common/base" \
  "$BUILD/libdrover_http.a" "$BUILD/libdrover_base.a" $(pkg-config --cflags --libs libmicrohttpd) -lcrypto -lpthread
B="$WORK/http_bench"
CLIENTS=${DROVER_BENCH_CLIENTS:-8}

printf '%-8s %-34s %s\n' server measure result
for kind in drover mhd; do
  mkfifo "$WORK/in.$kind"
  "$B" serve "$kind" "$WORK/port.$kind" <"$WORK/in.$kind" &
  pid=$!
  exec {keep}>"$WORK/in.$kind"   # the server runs until this closes
  for _ in $(seq 1 100); do [ -s "$WORK/port.$kind" ] && break; sleep 0.05; done
  port=$(cat "$WORK/port.$kind")
  rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  for path in /healthz /metrics; do
    printf '%-8s %-34s %s\n' "$kind" "GET $path, $CLIENTS clients, close" "$("$B" load "$port" "$path" "$CLIENTS" "$SECONDS_PER_RUN" close)"
  done
  if [ "$kind" = mhd ]; then
    printf '%-8s %-34s %s\n' "$kind" "GET /metrics, $CLIENTS clients, keep-alive" "$("$B" load "$port" /metrics "$CLIENTS" "$SECONDS_PER_RUN" keepalive)"
  fi
  printf '%-8s %-34s %s\n' "$kind" "memory" "RSS ${rss0} kB idle, $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") kB after, peak $(awk '/^VmHWM/ {print $2}' "/proc/$pid/status") kB, threads $(awk '/^Threads/ {print $2}' "/proc/$pid/status")"
  printf '%-8s %-34s %s\n' "$kind" "probes beside 200 idle" "$("$B" slow "$port" 200 0 20)"
  printf '%-8s %-34s %s\n' "$kind" "probes beside 100 idle, 100 trickling" "$("$B" slow "$port" 100 100 20)"
  printf '%-8s %-34s %s\n' "$kind" "memory with 200 open" "peak $(awk '/^VmHWM/ {print $2}' "/proc/$pid/status") kB"
  exec {keep}>&-
  wait "$pid"
done
