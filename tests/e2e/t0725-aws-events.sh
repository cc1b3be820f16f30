#!/usr/bin/env bash
# AWS launch events as EventBridge delivers them to Kafka (JSON on the
# aws-events topic, written here with kcat as a connector would): an Auto
# Scaling launch completed by the operator's target template registers the
# instance and runs the matching on-launch association, even when written
# while no control plane runs; a state change to "terminated" removes it.
# Garbage, another detail-type, missing fields, an event no template matches
# and a stale event are logged, counted, refused (on the audit trail) and
# never stop serve.  (kcat writes the events: prerequisite KCAT.)
. "$(dirname "$0")/pipeline_lib.sh"

write_script agent 1.0 install.sh 'mkdir -p "$DROVER_TARGET_ROOT/opt/agent"; echo "$DROVER_VERSION" > "$DROVER_TARGET_ROOT/opt/agent/version"'
write_script agent 1.0 uninstall.sh 'rm -rf "$DROVER_TARGET_ROOT/opt/agent"'
make_version agent 1.0
start_http
start_broker
start_worker w1 --concurrency 2
export DROVER_BROKERS="$BROKERS"
"$PRODUCER" package publish --name agent --manifest "$BASE_URL/agent/1.0/manifest.json" --artifacts "$BASE_URL/agent/1.0" >/dev/null
cat >"$WORK/templates.json" <<'JSON'
{"templates": [
  {"name": "web", "auto_scaling_group": "web-*", "accounts": ["111111111111"], "regions": ["eu-west-1"],
   "platform": "ubuntu", "platform_version": "22.04", "arch": "x86_64", "tags": {"Role": "web"}},
  {"name": "tagged-db", "event_tags": {"Role": "db"},
   "platform": "ubuntu", "platform_version": "22.04", "arch": "x86_64", "tags": {"Role": "db"}}
]}
JSON
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
asg_launch() { # INSTANCE GROUP ACCOUNT [TIME]
  printf '{"version":"0","id":"e-%s","detail-type":"EC2 Instance Launch Successful","source":"aws.autoscaling","account":"%s","time":"%s","region":"eu-west-1","resources":[],"detail":{"StatusCode":"InProgress","AutoScalingGroupName":"%s","EC2InstanceId":"%s"}}\n' \
    "$1" "$3" "${4:-$NOW}" "$2" "$1"
}
state_change() { # INSTANCE STATE [TAGS-JSON]
  printf '{"version":"0","id":"s-%s","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"111111111111","time":"%s","region":"eu-west-1","resources":[],"detail":{"instance-id":"%s","state":"%s"%s}}\n' \
    "$1" "$NOW" "$1" "$2" "${3:+,\"tags\":$3}"
}
send() { kcat -P -b "$BROKERS" -t drover.aws-events; }
version_on() { cat "$TARGETS/$1/opt/agent/version" 2>/dev/null || echo none; }
cp_metric() { curl -fsS "http://127.0.0.1:$CP_PORT/metrics" | sed -n "s/^$1 //p"; }
in_inventory() { "$PRODUCER" target list | grep -q "^$1 "; }

test_expect_success KCAT 'an Auto Scaling launch written while no control plane runs is registered from its template and gets the on-launch package' '
  # The association first, taken in by a control plane that then stops: a launch handled before
  # the association is taken in matches nothing (control-plane.md), which is not what this case is about.
  expect_ok "$PRODUCER" association create --name web-hosts --package agent --tag Role=web --run-on-launch --no-run-on-create
  start_control_plane cp0 --target-templates "$WORK/templates.json"
  wait_taken web-hosts
  kill -TERM "$CP_PID"; wait "$CP_PID" 2>/dev/null || true
  asg_launch i-0aaaaaaaaaaaaaaa1 web-asg-blue 111111111111 | send
  start_control_plane cp1 --target-templates "$WORK/templates.json"
  CP_PORT=$(http_port_of "$CP_LOG")
  for _ in $(seq 1 300); do [ "$(version_on i-0aaaaaaaaaaaaaaa1)" != none ] && break; sleep 0.1; done
  [ "$(version_on i-0aaaaaaaaaaaaaaa1)" = 1.0 ] || fail "the launched instance did not get the package: $(grep aws_event "$CP_LOG" | tail -3)"
  expect_ok "$PRODUCER" target list
  grep -q "^i-0aaaaaaaaaaaaaaa1 .*111111111111.*eu-west-1.*ubuntu.*Role=web" <<<"$OUT" || fail "not registered as the template says: $OUT"
  grep -q "event=serve.aws_event instance=i-0aaaaaaaaaaaaaaa1 account=111111111111 region=eu-west-1 kind=launched template=web" "$CP_LOG" ||
    fail "no serve.aws_event line: $(grep aws_event "$CP_LOG")"
'

test_expect_success KCAT 'garbage, another detail-type, missing fields, no matching template and a stale event are refused, counted, and serve goes on' '
  { echo "this is not json"
    echo "{\"detail-type\":\"AWS API Call via CloudTrail\",\"source\":\"aws.ec2\",\"account\":\"111111111111\",\"region\":\"eu-west-1\",\"detail\":{}}"
    echo "{\"detail-type\":\"EC2 Instance Launch Successful\",\"source\":\"aws.autoscaling\",\"account\":\"111111111111\",\"region\":\"eu-west-1\",\"detail\":{\"AutoScalingGroupName\":\"web-asg-blue\"}}"
    asg_launch i-0bbbbbbbbbbbbbbb2 web-asg-blue 222222222222
    asg_launch i-0ccccccccccccccc3 web-asg-blue 111111111111 2015-11-11T21:31:47Z
    state_change i-0ddddddddddddddd4 running "{\"Role\":\"db\"}"
  } | send
  for _ in $(seq 1 100); do in_inventory i-0ddddddddddddddd4 && break; sleep 0.1; done
  in_inventory i-0ddddddddddddddd4 || fail "the tagged state change after the bad events was not registered: $(grep aws_event "$CP_LOG" | tail -5)"
  ! in_inventory i-0bbbbbbbbbbbbbbb2 || fail "an event no template matches was registered"
  ! in_inventory i-0ccccccccccccccc3 || fail "a stale event was registered"
  kill -0 "$CP_PID" || fail "serve stopped"
  [ "$(cp_metric "drover_control_plane_aws_events_total{result=\"malformed\"}")" = 3 ] || fail "malformed count: $(curl -fsS "http://127.0.0.1:$CP_PORT/metrics" | grep aws_events)"
  [ "$(cp_metric "drover_control_plane_aws_events_total{result=\"refused\"}")" = 2 ] || fail "refused count: $(curl -fsS "http://127.0.0.1:$CP_PORT/metrics" | grep aws_events)"
  grep -q "event=serve.aws_event_malformed .*detail-type .*AWS API Call via CloudTrail.* is not an EC2 state change" "$CP_LOG" || fail "the wrong detail-type is not named: $(grep aws_event_malformed "$CP_LOG")"
  grep -q "event=serve.aws_event_malformed .*detail.EC2InstanceId is missing" "$CP_LOG" || fail "the missing field is not named: $(grep aws_event_malformed "$CP_LOG")"
  expect_ok "$PRODUCER" audit --refused -o json
  jq -s -e "any(.[]; .subject == \"i-0bbbbbbbbbbbbbbb2\" and .reason == \"not-allowed\" and (.message | test(\"no target template matches\")))" <<<"$OUT" >/dev/null ||
    fail "the unmatched event is not on the audit trail: $OUT"
  jq -s -e "any(.[]; .subject == \"i-0ccccccccccccccc3\" and .reason == \"expired\")" <<<"$OUT" >/dev/null ||
    fail "the stale event is not on the audit trail: $OUT"
'

test_expect_success KCAT 'an EC2 state change to terminated removes the instance from the inventory' '
  state_change i-0aaaaaaaaaaaaaaa1 terminated | send
  for _ in $(seq 1 100); do in_inventory i-0aaaaaaaaaaaaaaa1 || break; sleep 0.1; done
  ! in_inventory i-0aaaaaaaaaaaaaaa1 || fail "the terminated instance stayed in the inventory: $(grep aws_event "$CP_LOG" | tail -3)"
  [ "$(cp_metric "drover_control_plane_aws_events_total{result=\"terminated\"}")" = 1 ] || fail "terminated count"
'

test_expect_success 'a templates file with a misspelt condition is refused at start, naming it' '
  echo "{\"templates\": [{\"name\": \"x\", \"acount\": \"1\", \"platform\": \"ubuntu\", \"platform_version\": \"22.04\", \"arch\": \"x86_64\"}]}" >"$WORK/bad.json"
  expect_fail_with "unknown key \"acount\"" "$DROVER_BUILD_DIR/drover-producer" serve --brokers "$BROKERS" \
    --signing-key "$SIGNING_KEY" "${SERVE_AUTH[@]}" --target-templates "$WORK/bad.json"
'

test_done
