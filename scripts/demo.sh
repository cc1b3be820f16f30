#!/usr/bin/env bash
# The main demo: the whole pipeline on the embedded broker.  It starts the
# broker, the control plane, an aggregator and two workers; builds acme-agent 1.0 and 2.0 and
# serves their artifacts over HTTP on loopback; publishes them; registers 300
# targets across 3 accounts x 2 regions on three platforms; deploys 1.0 to all
# with a live progress line; prints the rollup; deploys 2.0 as an in-place
# update under rate controls; uninstalls from one account; and stops
# everything it started.
# DROVER_DEMO_KEEP=1 keeps the working directory (targets, logs) afterwards.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PRODUCER="$BUILD/drover-producer"
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/drover-demo.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${DROVER_DEMO_KEEP:-0}" = 1 ]; then echo "demo files kept in $DEMO"; else rm -rf "$DEMO"; fi
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }
wait_for() { for _ in $(seq 1 400); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "timed out waiting for $1" >&2; exit 1; }
http_port() { for _ in $(seq 1 400); do grep -q event=http.listening "$1" 2>/dev/null && break; sleep 0.05; done
  sed -n 's/.*event=http.listening.*addr=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$1" | head -1; }

say "Starting the embedded broker, the control plane, an aggregator and two workers"
"$BUILD/drover-broker" --address-file "$DEMO/broker.addr" >/dev/null 2>"$DEMO/broker.log" & PIDS+=($!)
wait_for "$DEMO/broker.addr"
export DROVER_BROKERS; DROVER_BROKERS=$(cat "$DEMO/broker.addr")
# The control plane signs every job; the workers run only what a key they trust signed.
KEY_ID=$("$PRODUCER" keys generate --dir "$DEMO/keys" | sed -n 's/^key_id: //p')
echo "signing key $KEY_ID: the control plane signs with $DEMO/keys/$KEY_ID.key, workers trust $DEMO/keys/$KEY_ID.pub"
# Every request is signed by an operator, and the control plane acts only on what its policy allows.
OPERATOR_ID=$("$PRODUCER" keys generate --dir "$DEMO/operators" | sed -n 's/^key_id: //p')
INTERN_ID=$("$PRODUCER" keys generate --dir "$DEMO/operators" | sed -n 's/^key_id: //p')
export DROVER_OPERATOR_KEY="$DEMO/operators/$OPERATOR_ID.key"
cat >"$DEMO/policy.json" <<POLICY
{"operators": [{"name": "platform-team", "keys": ["$OPERATOR_ID"], "groups": ["platform"]},
               {"name": "intern", "keys": ["$INTERN_ID"]}],
 "rules": [{"name": "platform-runs-acme", "groups": ["platform"],
            "actions": ["package.publish", "package.set-default", "target.register", "deploy", "cancel"],
            "packages": ["acme-*"],
            "limits": {"max_targets": 1000}},
           {"name": "intern-staging-111", "operators": ["intern"], "actions": ["deploy"], "packages": ["acme-*"],
            "targets": {"accounts": ["111111111111"], "tags": {"env": ["staging"]}},
            "limits": {"max_targets": 50, "max_concurrency_at_most": "10%"}}]}
POLICY
echo "operator key $OPERATOR_ID (platform-team) signs every request; the policy is $DEMO/policy.json"
"$PRODUCER" serve --replica-id control-plane-1 --signing-key "$DEMO/keys/$KEY_ID.key" \
  --policy "$DEMO/policy.json" --operator-keys "$DEMO/operators" >/dev/null 2>"$DEMO/control-plane.log" & PIDS+=($!)
"$BUILD/drover-aggregator" --http 127.0.0.1:0 >/dev/null 2>"$DEMO/aggregator.log" & PIDS+=($!)
for w in worker-1 worker-2; do
  "$BUILD/drover-worker" run --worker-id "$w" --targets-root "$DEMO/targets" --cache-dir "$DEMO/cache-$w" \
    --trusted-keys "$DEMO/keys/$KEY_ID.pub" --fetch-allow-private \
    --concurrency 4 --log-level warn >/dev/null 2>"$DEMO/$w.log" & PIDS+=($!)
done
AGG="http://127.0.0.1:$(http_port "$DEMO/aggregator.log")"
echo "broker $DROVER_BROKERS, aggregator $AGG (open it in a browser for the live page)"

say "Building acme-agent 1.0 and 2.0 (builds for ubuntu, the redhat family, and anything else)"
mkdir -p "$DEMO/repo/acme-agent"
for version in 1.0 2.0; do
  src="$DEMO/src/$version"
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
"$BUILD/drover_test_http" --root "$DEMO/repo" --port-file "$DEMO/http.port" >/dev/null 2>&1 & PIDS+=($!)
wait_for "$DEMO/http.port"
BASE="http://127.0.0.1:$(cat "$DEMO/http.port")/acme-agent"

say "Publishing 1.0 (the default) to the packages topic"
"$PRODUCER" package publish --name acme-agent --manifest "$BASE/1.0/manifest.json" --artifacts "$BASE/1.0"

say "Registering 300 targets: 3 accounts x 2 regions x 50, on ubuntu, rocky and amazon linux"
{
  echo "id,account,region,platform,platform_version,arch,tags"
  for account in 111111111111 222222222222 333333333333; do
    for region in eu-west-1 us-east-1; do
      for i in $(seq 1 50); do
        case $((i % 3)) in 0) p="ubuntu,22.04";; 1) p="rocky,9";; *) p="amzn,2023";; esac
        echo "i-${account:0:3}-$region-$i,$account,$region,$p,x86_64,env=$([ $((i % 2)) = 0 ] && echo prod || echo staging)"
      done
    done
  done
} >"$DEMO/targets.csv"
"$PRODUCER" target register --file "$DEMO/targets.csv"

say "Deploying acme-agent (default version 1.0) to every target"
"$PRODUCER" deploy --package acme-agent --all --deployment-id demo-install --arg LOG_LEVEL=debug

say "The rollup, from the aggregator ($AGG/deployments/demo-install)"
"$PRODUCER" deployment show demo-install

say "Publishing 2.0, making it the default, and updating in place (update.sh keeps the configuration),
at most 10% of the targets at once, stopping at the 4th error"
"$PRODUCER" package publish --name acme-agent --manifest "$BASE/2.0/manifest.json" --artifacts "$BASE/2.0"
"$PRODUCER" package set-default acme-agent 2.0
"$PRODUCER" deploy --package acme-agent --all --installation-type in-place --arg LOG_LEVEL=debug \
  --max-concurrency 10% --max-errors 3 --deployment-id demo-update

t="$DEMO/targets/i-111-eu-west-1-1"
echo "on $(basename "$t"): $("$t/opt/acme-agent/bin/acme-agent"); $(tr '\n' ' ' <"$t/etc/acme-agent/agent.conf")"

say "Uninstalling from account 333333333333, production only"
"$PRODUCER" deploy --package acme-agent --action uninstall --accounts 333333333333 --tag env=prod \
  --deployment-id demo-uninstall

say "A request outside the policy: the intern may deploy only to staging in account 111111111111,
and asks for every target"
if DROVER_OPERATOR_KEY="$DEMO/operators/$INTERN_ID.key" "$PRODUCER" deploy --package acme-agent --all \
  --deployment-id demo-intern; then
  echo "unexpected: the control plane allowed it" >&2
  exit 1
fi
echo "refused, and nothing ran: the audit trail says who asked what, and why it was refused"
"$PRODUCER" audit --deployment demo-intern

say "All deployments"
"$PRODUCER" deployment list
say "Demo complete: stopping the workers, the aggregator, the control plane and the broker"
