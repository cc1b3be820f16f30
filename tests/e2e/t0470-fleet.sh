#!/usr/bin/env bash
# What is installed where: the aggregator folds the workers' terminal
# statuses into the fleet table (the compacted fleet topic) and answers
# GET /fleet and drover_fleet_targets{package,version}.  Real deployments
# over the embedded broker: versions per package and per account/region, an
# uninstall leaving the table, a restarted aggregator answering the same
# from the topic, and a package removed from a target by hand found as drift
# by the next deployment, which puts it back.  (curl and jq: CURL, JQ.)
. "$(dirname "$0")/pipeline_lib.sh"

for v in 1.0 2.0; do
  write_script agent "$v" install.sh 'mkdir -p "$DROVER_TARGET_ROOT/opt/agent"; echo "$DROVER_VERSION" > "$DROVER_TARGET_ROOT/opt/agent/version"'
  write_script agent "$v" uninstall.sh 'rm -rf "$DROVER_TARGET_ROOT/opt/agent"'
  make_version agent "$v"
done
start_http
start_broker
start_aggregator
start_control_plane
start_worker w1 --concurrency 4
export DROVER_BROKERS="$BROKERS"
for v in 1.0 2.0; do
  "$PRODUCER" package publish --name agent --manifest "$BASE_URL/agent/$v/manifest.json" --artifacts "$BASE_URL/agent/$v" >/dev/null
done
{ echo "id,account,region,platform,platform_version,arch,tags"
  echo "f-1,111111111111,eu-west-1,ubuntu,22.04,x86_64,grp=a"
  echo "f-2,111111111111,eu-west-1,ubuntu,22.04,x86_64,grp=a"
  echo "f-3,222222222222,us-east-1,ubuntu,22.04,x86_64,grp=a"
  echo "f-4,222222222222,us-east-1,ubuntu,22.04,x86_64,grp=b"; } >"$WORK/targets.csv"
"$PRODUCER" target register --file "$WORK/targets.csv" >/dev/null
deploy() { # deploy ID FLAGS...: deploy and wait for it to end SUCCESS
  local id=$1; shift
  RC=0; OUT=$("$PRODUCER" deploy --package agent --deployment-id "$id" --wait-timeout 120 "$@" 2>&1) || RC=$?
  [ "$RC" -eq 0 ] || fail "deploy $id exited $RC: $OUT"
}
# fleet_is JQ-FILTER WANT [SECONDS]: until GET /fleet passed through the filter prints WANT.
fleet_is() {
  local got=""
  for _ in $(seq 1 $(( ${3:-10} * 10 ))); do
    got=$(get /fleet | jq -c "$1") && [ "$got" = "$2" ] && return 0
    sleep 0.1
  done
  fail "GET /fleet | $1: want $2, got $got"
}

test_expect_success CURL,JQ 'after 1.0 everywhere and 2.0 on one: the targets per version, per account and region, and the metric' '
  deploy d-one --version 1.0 --all
  deploy d-two --version 2.0 --tag grp=b
  fleet_is ".packages.agent | [.targets, .versions]" "[4,{\"1.0\":3,\"2.0\":1}]"
  fleet_is ".packages.agent.locations" "[{\"account\":\"111111111111\",\"region\":\"eu-west-1\",\"versions\":{\"1.0\":2}},{\"account\":\"222222222222\",\"region\":\"us-east-1\",\"versions\":{\"1.0\":1,\"2.0\":1}}]"
  metrics=$(get /metrics)
  grep -qx "drover_fleet_targets{package=\"agent\",version=\"1.0\"} 3" <<<"$metrics" || fail "no 1.0 gauge: $(grep fleet <<<"$metrics")"
  grep -qx "drover_fleet_targets{package=\"agent\",version=\"2.0\"} 1" <<<"$metrics" || fail "no 2.0 gauge: $(grep fleet <<<"$metrics")"
  ! grep -q "drover_fleet_targets{.*f-1" <<<"$metrics" || fail "a per-target series"
  [ "$(get "/fleet?package=nope" | jq -c .packages)" = "{}" ] || fail "a filter on an unknown package lists something"
'

test_expect_success CURL,JQ 'drover-producer fleet: counts per version and location; who has 2.0, who lacks the default, by account and tag' '
  # The aggregator writes the fleet topic a moment after /fleet shows a change.
  for _ in $(seq 1 100); do
    expect_ok "$PRODUCER" fleet --package agent
    grep -qE "^  version 2.0 +1$" <<<"$OUT" && break
    sleep 0.1
  done
  grep -qE "^package agent: 4 targets$" <<<"$OUT" || fail "no package line: $OUT"
  grep -qE "^  version 1.0 +3$" <<<"$OUT" && grep -qE "^  version 2.0 +1$" <<<"$OUT" || fail "versions: $OUT"
  grep -qx "  account 222222222222 region us-east-1 version 2.0: 1" <<<"$OUT" || fail "locations: $OUT"
  grep -q "^  f-4  222222222222  us-east-1  2.0  20[0-9-]*T[0-9:]*Z  d-two$" <<<"$OUT" || fail "target line of f-4: $OUT"
  expect_ok "$PRODUCER" fleet --package agent --not-version default
  [ "$(grep -c "^  f-" <<<"$OUT")" = 1 ] && grep -q "^  f-4 " <<<"$OUT" || fail "not the default (1.0): want f-4 alone: $OUT"
  expect_ok "$PRODUCER" fleet --package agent --version 1.0 --account 111111111111
  grep -qE "^package agent: 2 targets$" <<<"$OUT" || fail "1.0 in account 111111111111: $OUT"
  expect_ok "$PRODUCER" fleet --tag grp=b
  grep -qE "^package agent: 1 target$" <<<"$OUT" && grep -q "^  f-4 " <<<"$OUT" || fail "tag grp=b: $OUT"
  expect_fail_with "needs --package" "$PRODUCER" fleet --version default
  expect_fail_with "--account" "$PRODUCER" fleet --account "a/b"
'

test_expect_success CURL,JQ 'an uninstall leaves the table; an aggregator started again answers the same from the fleet topic' '
  deploy d-rm --action uninstall --targets f-3
  fleet_is ".packages.agent | [.targets, .versions]" "[3,{\"1.0\":2,\"2.0\":1}]"
  for _ in $(seq 1 100); do
    expect_ok "$PRODUCER" fleet --package agent --version none
    grep -q "^  f-3 " <<<"$OUT" && break
    sleep 0.1
  done
  grep -q "^  f-3  222222222222  us-east-1  none  -  -$" <<<"$OUT" || fail "f-3 without the package: $OUT"
  before=$(get /fleet)
  kill -TERM "$AGG_PID"; wait "$AGG_PID" 2>/dev/null || true
  start_aggregator --group another-aggregator
  for _ in $(seq 1 100); do curl -fsS "$AGG_URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  [ "$(get /fleet | jq -S .)" = "$(jq -S . <<<"$before")" ] || fail "the restarted aggregator says otherwise: $(get /fleet)"
  grep -q "event=fleet.loaded entries=3 skipped=0" "$AGG_LOG" || fail "no fleet.loaded line: $(grep fleet "$AGG_LOG")"
'

test_expect_success CURL,JQ 'a package removed by hand is found as drift by the next deployment, which puts it back' '
  rm -rf "$TARGETS/f-1/var/lib/drover/packages/agent" "$TARGETS/f-1/opt/agent"
  deploy d-again --version 1.0 --targets f-1,f-2
  [ "$(cat "$TARGETS/f-1/opt/agent/version")" = 1.0 ] || fail "f-1 was not put back"
  fleet_is ".packages.agent.drifted | map({target_id, expected, found, repaired})" "[{\"target_id\":\"f-1\",\"expected\":\"1.0\",\"found\":\"\",\"repaired\":true}]"
  fleet_is ".packages.agent.versions" "{\"1.0\":2,\"2.0\":1}"
'

test_done
