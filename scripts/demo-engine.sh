#!/usr/bin/env bash
# The demo: build a real package (two versions, three platform builds), serve
# it over HTTP on loopback, and drive the install engine across a small fleet
# of target directories in 3 accounts x 2 regions on three platforms:
# install, already installed, in-place update, uninstall.  Everything it makes
# lives in a temporary directory that is removed at the end (DROVER_DEMO_KEEP=1
# keeps it).
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PRODUCER="$BUILD/drover-producer"
WORKER="$BUILD/drover-worker"
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/drover-demo.XXXXXX")
HTTP_PID=
cleanup() {
  [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null
  if [ "${DROVER_DEMO_KEEP:-0}" = 1 ]; then echo "demo files kept in $DEMO"; else rm -rf "$DEMO"; fi
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }

say "Building acme-agent 1.0 and 2.0 (one build per platform: ubuntu, redhat family, anything else)"
for version in 1.0 2.0; do
  src="$DEMO/src/$version"; mkdir -p "$DEMO/repo/acme-agent"
  for key in "ubuntu@_any@_any" "redhat@_any@_any" "_any@_any@_any"; do
    mkdir -p "$src/$key/bin"
    cp "$ROOT"/examples/acme-agent/*.sh "$src/$key/"
    printf '#!/bin/sh\necho "acme-agent %s"\n' "$version" >"$src/$key/bin/acme-agent"
    build=${key%%@*}; [ "$build" = _any ] && build=generic
    echo "$build" >"$src/$key/build.txt"
  done
  "$PRODUCER" package build "$src" --name acme-agent --version "$version" --publisher "Acme Corp" \
    --out "$DEMO/repo/acme-agent/$version" | sed "s|$DEMO/||"
done

say "Which build each platform gets"
for p in "ubuntu 22.04" "rocky 9" "amzn 2023"; do
  set -- $p
  printf '%-14s ' "$1 $2:"
  "$PRODUCER" package resolve "$DEMO/repo/acme-agent/1.0/manifest.json" --platform "$1" --platform-version "$2" \
    --arch x86_64 | sed -n 's/^rule: //p'
done

"$BUILD/drover_test_http" --root "$DEMO/repo" --port-file "$DEMO/http.port" >/dev/null 2>&1 &
HTTP_PID=$!
for _ in $(seq 1 100); do [ -s "$DEMO/http.port" ] && break; sleep 0.05; done
BASE="http://127.0.0.1:$(cat "$DEMO/http.port")/acme-agent"
echo "artifacts served at $BASE"

# The fleet: 3 accounts x 2 regions x 3 platforms = 18 targets.
targets=()
for account in 111111111111 222222222222 333333333333; do
  for region in eu-west-1 us-east-1; do
    for platform in "ubuntu 22.04" "rocky 9" "amzn 2023"; do
      set -- $platform
      targets+=("$account $region $1 $2 i-${account:0:3}-${region}-$1")
    done
  done
done

# run_one ACCOUNT REGION PLATFORM PLATFORM_VERSION ID: one job, one summary line.
# FLEET_VERSION, FLEET_ACTION and FLEET_FLAGS (space separated) say what to do.
run_one() {
  local account=$1 region=$2 platform=$3 pversion=$4 id=$5 out rc
  mkdir -p "$DEMO/targets/$id"
  # shellcheck disable=SC2086 # FLEET_FLAGS is a list of words
  out=$("$WORKER" apply --package acme-agent --target-root "$DEMO/targets/$id" --target-id "$id" \
    --account "$account" --region "$region" --platform "$platform" --platform-version "$pversion" --arch x86_64 \
    --manifest "$BASE/$FLEET_VERSION/manifest.json" --cache-dir "$DEMO/cache" --action "$FLEET_ACTION" \
    --fetch-allow-private --log-level warn $FLEET_FLAGS 2>&1) && rc=0 || rc=$?
  printf "%-28s %-9s %s\n" "$id" "$(sed -n "s/^outcome: //p" <<<"$out")" "$(sed -n "s/^summary: //p" <<<"$out" | cut -c1-110)"
  return $rc
}
export -f run_one
export DEMO WORKER BASE

# run_fleet VERSION ACTION [flags...]: one job per target, four at a time.
run_fleet() {
  export FLEET_VERSION=$1 FLEET_ACTION=$2; shift 2
  export FLEET_FLAGS="$*"
  printf '%s\n' "${targets[@]}" | xargs -P 4 -L 1 bash -c 'run_one "$@"' _ | sort
}

say "Install acme-agent 1.0 on 18 targets (3 accounts x 2 regions x 3 platforms)"
run_fleet 1.0 install --arg LOG_LEVEL=debug

say "Install 1.0 again: already installed everywhere, nothing runs"
run_fleet 1.0 install --arg LOG_LEVEL=debug | awk '{print $2}' | sort | uniq -c

say "Update to 2.0 in place (update.sh; the configuration is kept)"
run_fleet 2.0 install --arg LOG_LEVEL=debug --installation-type in-place

say "What one target holds now"
t="$DEMO/targets/i-111-eu-west-1-rocky"
(cd "$t" && find opt etc var -type f | sort | sed 's/^/  /')
echo "  etc/acme-agent/agent.conf:"; sed 's/^/    /' "$t/etc/acme-agent/agent.conf"
echo "  opt/acme-agent/bin/acme-agent says: $("$t/opt/acme-agent/bin/acme-agent")"

say "Uninstall everywhere"
run_fleet 2.0 uninstall | awk '{print $2}' | sort | uniq -c
echo "downloads: $(ls "$DEMO/cache/sha256/"*.zip | wc -l) zips fetched once each for 54 installs and updates"
say "Demo complete. The Kafka pipeline (broker, producer, workers, aggregator) is the next milestone."
