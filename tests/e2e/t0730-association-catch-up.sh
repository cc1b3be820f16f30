#!/usr/bin/env bash
# An association's schedule while no control plane runs: ten ticks of a
# rate(1 minutes) association pass with no replica up (the replica that
# comes back reads a clock ten minutes ahead); it runs once, not ten times,
# and then waits for its next tick.  Its "default" version follows a
# default-version change by uninstall-and-reinstall when not in place.
# (The aggregator is read with curl and jq: prerequisites CURL, JQ.)
. "$(dirname "$0")/pipeline_lib.sh"

for v in 1.0 2.0; do
  write_script agent "$v" install.sh 'mkdir -p "$DROVER_TARGET_ROOT/opt/agent"; echo "$DROVER_VERSION" > "$DROVER_TARGET_ROOT/opt/agent/version"; echo "install $DROVER_VERSION" >> "$DROVER_TARGET_ROOT/history"'
  write_script agent "$v" uninstall.sh 'rm -rf "$DROVER_TARGET_ROOT/opt/agent"; echo "uninstall $DROVER_VERSION" >> "$DROVER_TARGET_ROOT/history"'
  make_version agent "$v"
done
start_http
start_broker
start_aggregator
start_worker w1 --concurrency 4
export DROVER_BROKERS="$BROKERS"
"$PRODUCER" package publish --name agent --manifest "$BASE_URL/agent/1.0/manifest.json" --artifacts "$BASE_URL/agent/1.0" >/dev/null
for i in 1 2; do
  "$PRODUCER" target register --id h-$i --account 111 --region eu-west-1 --platform ubuntu --platform-version 22.04 \
    --arch x86_64 --tag group=h >/dev/null
done
runs_of() { get /deployments | jq -r --arg p "$1" '[.[] | select(.deployment_id | startswith($p))] | length'; }

# first_run_of PREFIX: the id of the first deployment whose id starts with PREFIX.
first_run_of() { get /deployments | jq -r --arg p "$1" '[.[] | select(.deployment_id | startswith($p))][0].deployment_id'; }

# No replica runs while the association is created.
test_expect_success CURL,JQ 'ten ticks of rate(1 minutes) missed with no control plane up: the replica that comes back runs it once' '
  expect_ok "$PRODUCER" association create --name hourly-ish --package agent --version default --tag group=h \
    --schedule "rate(1 minutes)" --no-run-on-create --run-on-default-change
  start_control_plane cp1 --schedule-clock-offset-ms 600000
  for _ in $(seq 1 100); do [ "$(runs_of hourly-ish.s)" -ge 1 ] && break; sleep 0.1; done
  [ "$(runs_of hourly-ish.s)" = 1 ] || fail "missed ticks gave $(runs_of hourly-ish.s) runs, want 1: $(tail -3 "$CP_LOG")"
  wait_for_rollup "$(first_run_of hourly-ish.s)" SUCCESS 30
'

test_expect_success CURL,JQ 'after that run it waits for its next tick: no second run, each target installed once' '
  # no event to wait for: a tick that runs nothing leaves no sign (no log
  # line); 3 s of such ticks (a rate of 1 minute is not due) must run nothing.
  sleep 3
  [ "$(runs_of hourly-ish.s)" = 1 ] || fail "the association ran again before its next tick"
  for i in 1 2; do [ "$(cat "$TARGETS/h-$i/history")" = "install 1.0" ] || fail "h-$i: $(cat "$TARGETS/h-$i/history")"; done
'

# A new default: uninstall 1.0, install 2.0 (the association's installation type is reinstall).
test_expect_success CURL,JQ 'a new default version is followed by uninstall and reinstall (not in place): uninstall 1.0, install 2.0' '
  "$PRODUCER" package publish --name agent --manifest "$BASE_URL/agent/2.0/manifest.json" --artifacts "$BASE_URL/agent/2.0" >/dev/null
  expect_ok "$PRODUCER" package set-default agent 2.0
  for _ in $(seq 1 100); do [ "$(runs_of hourly-ish.d)" -ge 1 ] && break; sleep 0.1; done
  wait_for_rollup "$(first_run_of hourly-ish.d)" SUCCESS 30
  for i in 1 2; do
    [ "$(tr "\n" "," <"$TARGETS/h-$i/history")" = "install 1.0,uninstall 1.0,install 2.0," ] \
      || fail "h-$i after the default change: $(tr "\n" "," <"$TARGETS/h-$i/history")"
  done
'

test_done
