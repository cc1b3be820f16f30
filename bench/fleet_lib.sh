# fleet_lib.sh - what the benchmarks of a whole fleet share (fleet_bench,
# restart_bench, soak, big_deployment).  Source it with BUILD set, then call
# fleet_setup NAME, which leaves:
#   WORK           a fresh folder, removed on exit with every process in
#                  PIDS stopped first (DROVER_BENCH_KEEP=1 keeps it)
#   $WORK/repo     two packages of one trivial zip: "trivial" for every
#                  platform, "elsewhere" for one no target has (windows)
#   BROKER_PID     the embedded broker; DROVER_BROKERS exported
#   BASE           the HTTP server's URL for $WORK/repo
#   DROVER_OPERATOR_KEY (exported) and $WORK/policy.json: an operator the
#                  policy allows everything; $WORK/operators its public key
#   KEY_ID         the control plane's signing key, $WORK/keys/$KEY_ID.key
# and the helpers wait_for FILE and port_of LOG.

PIDS=()

# wait_for FILE: until it exists and is not empty (20 s), or exit.
wait_for() { for _ in $(seq 1 400); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "timed out: $1" >&2; exit 1; }

# port_of LOG: the port a program logged in its http.listening line (30 s), or exit.
port_of() {
  local p
  for _ in $(seq 1 600); do
    p=$(sed -n 's/.*event=http.listening.*addr=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$1" | head -1)
    [ -n "$p" ] && { echo "$p"; return 0; }
    sleep 0.05
  done
  echo "no http.listening in $1" >&2; exit 1
}

fleet_cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${DROVER_BENCH_KEEP:-}" ]; then echo "kept: $WORK" >&2; else rm -rf "$WORK"; fi
}

fleet_setup() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/drover-$1.XXXXXX")
  trap fleet_cleanup EXIT
  local sha
  mkdir -p "$WORK/src" "$WORK/repo/trivial" "$WORK/repo/elsewhere"
  printf '#!/bin/sh\ntouch "$DROVER_TARGET_ROOT/installed"\n' >"$WORK/src/install.sh"
  printf '#!/bin/sh\nrm -f "$DROVER_TARGET_ROOT/installed"\n' >"$WORK/src/uninstall.sh"
  (cd "$WORK/src" && zip -q -X "$WORK/repo/trivial/pkg.zip" install.sh uninstall.sh)
  cp "$WORK/repo/trivial/pkg.zip" "$WORK/repo/elsewhere/pkg.zip"
  sha=$(sha256sum "$WORK/repo/trivial/pkg.zip" | cut -d' ' -f1)
  printf '{"schemaVersion":"2.0","version":"1.0","packages":{"_any":{"_any":{"_any":{"file":"pkg.zip"}}}},"files":{"pkg.zip":{"checksums":{"sha256":"%s"}}}}\n' \
    "$sha" >"$WORK/repo/trivial/manifest.json"
  printf '{"schemaVersion":"2.0","version":"1.0","packages":{"windows":{"_any":{"x86_64":{"file":"pkg.zip"}}}},"files":{"pkg.zip":{"checksums":{"sha256":"%s"}}}}\n' \
    "$sha" >"$WORK/repo/elsewhere/manifest.json"

  "$BUILD/drover-broker" --address-file "$WORK/broker.addr" >/dev/null 2>"$WORK/broker.log" & PIDS+=($!)
  BROKER_PID=$!
  wait_for "$WORK/broker.addr"
  export DROVER_BROKERS; DROVER_BROKERS=$(cat "$WORK/broker.addr")
  "$BUILD/drover_test_http" --root "$WORK/repo" --port-file "$WORK/http.port" >/dev/null 2>&1 & PIDS+=($!)
  wait_for "$WORK/http.port"
  BASE="http://127.0.0.1:$(cat "$WORK/http.port")"

  local operator
  operator=$("$BUILD/drover-producer" keys generate --dir "$WORK/operators" | sed -n 's/^key_id: //p')
  export DROVER_OPERATOR_KEY="$WORK/operators/$operator.key"
  printf '{"operators": [{"name": "bench", "keys": ["%s"]}], "rules": [{"name": "all", "operators": ["bench"], "actions": ["*"]}]}\n' \
    "$operator" >"$WORK/policy.json"
  KEY_ID=$("$BUILD/drover-producer" keys generate --dir "$WORK/keys" | sed -n 's/^key_id: //p')
}
