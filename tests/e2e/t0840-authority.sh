#!/usr/bin/env bash
# Nothing runs unless an operator who may do it asked.  The control plane
# runs with a policy (an admin who may do anything; alice, who may deploy
# and cancel acme in account 111 only, at most 2 targets at a time; bob,
# whose key the control plane holds but no policy names), and requests come
# from the CLI with each operator's key and from a plain Kafka client
# (kcat, encoded with protoc from proto/drover.proto): a forged deployment,
# a forged package version, a forged cancel, requests outside an
# operator's scope, unknown keys, a replayed request and an expired one.
# Each is refused with its reason, in the audit trail too, nothing of it
# runs, and a legitimate deployment afterwards is exact.
. "$(dirname "$0")/pipeline_lib.sh"
PROTO_DIR="${DROVER_SOURCE_DIR:?}/proto"
test_lazy_prereq PROTOC 'command -v protoc'

# put TOPIC KEY TYPE TEXT: encode TEXT (protobuf text format) as drover.v1.TYPE and write it keyed KEY.
put() {
  printf '%s' "$4" | protoc --proto_path="$PROTO_DIR" --encode="drover.v1.$3" drover.proto >"$WORK/message.bin"
  kcat -b "$BROKERS" -P -t "drover.$1" -k "$2" "$WORK/message.bin"
}
key_of() { "$PRODUCER" keys generate --dir "$WORK/$1" | sed -n 's/^key_id: //p'; }
ADMIN=$DROVER_OPERATOR_KEY # operator_setup's "tester", named admin below
ALICE_ID=$(key_of operators); ALICE="$WORK/operators/$ALICE_ID.key"
BOB_ID=$(key_of operators); BOB="$WORK/operators/$BOB_ID.key"
CAROL_ID=$(key_of strangers); CAROL="$WORK/strangers/$CAROL_ID.key"
cat >"$WORK/policy.json" <<JSON
{"operators": [{"name": "admin", "keys": ["$OPERATOR_KEY_ID"]},
               {"name": "alice", "keys": ["$ALICE_ID"], "groups": ["eu-team"]}],
 "rules": [{"name": "admin-all", "operators": ["admin"], "actions": ["*"]},
           {"name": "eu-team-acme-111", "groups": ["eu-team"], "actions": ["deploy", "cancel"],
            "packages": ["acme"], "targets": {"accounts": ["111"]}, "limits": {"max_targets": 2}}]}
JSON

write_script acme 1.0 install.sh 'mkdir -p "$DROVER_TARGET_ROOT/opt/acme"; echo "$DROVER_VERSION" > "$DROVER_TARGET_ROOT/opt/acme/version"'
write_script acme 1.0 uninstall.sh 'rm -rf "$DROVER_TARGET_ROOT/opt/acme"'
make_version acme 1.0
write_script slow 1.0 install.sh 'sleep 2; touch "$DROVER_TARGET_ROOT/slow"'
write_script slow 1.0 uninstall.sh 'rm -f "$DROVER_TARGET_ROOT/slow"'
make_version slow 1.0
# The attacker's version: served like any other, so only the control plane's checks stand in its way.
write_script evil 6.6 install.sh 'touch "$DROVER_TARGET_ROOT/pwned"'
write_script evil 6.6 uninstall.sh 'true'
make_version evil 6.6
start_http
start_broker
start_aggregator
start_worker w1 --concurrency 4
export DROVER_BROKERS="$BROKERS"

nothing_ran() { for t in "$@"; do [ ! -e "$TARGETS/$t/drover-test.log" ] || fail "a script ran on $t: $(cat "$TARGETS/$t/drover-test.log")"; done; }
# Found whole before testing: with pipefail, a writer cut off by grep -q leaving early would turn "found" into "not found".
no_pwned() { local found; found=$(find "$TARGETS" -name pwned); [ -z "$found" ] || fail "the attacker's install.sh ran: $found"; }
# refused_with ID REASON: the deployment is REJECTED, every job with REASON.
refused_with() {
  wait_for_rollup "$1" REJECTED 60
  [ "$(jq -r "[.failed_targets[] | select(.reason != \"$2\")] | length" <<<"$ROLLUP")" = 0 ] ||
    fail "$1: every job should be REJECTED for $2: $ROLLUP"
}
# audited ACTION SUBJECT REASON: the audit trail has this refusal.
audited() {
  expect_ok "$PRODUCER" audit --refused -o json
  jq -s -e --arg a "$1" --arg s "$2" --arg r "$3" \
    'any(.[]; .action == $a and .subject == $s and .reason == $r and .allowed == false)' <<<"$OUT" >/dev/null ||
    fail "no refusal of $1 $2 for $3 in the audit trail: $OUT"
}

test_expect_success KCAT,PROTOC,CURL,JQ 'set-up: the admin publishes and registers; the control plane runs with the policy' '
  expect_ok "$PRODUCER" package publish --name acme --manifest "$BASE_URL/acme/1.0/manifest.json" --artifacts "$BASE_URL/acme/1.0"
  expect_ok "$PRODUCER" package publish --name slow --manifest "$BASE_URL/slow/1.0/manifest.json" --artifacts "$BASE_URL/slow/1.0"
  { echo "id,account,region,platform,platform_version,arch"
    for t in t-1 t-2 t-3 t-4 t-5; do echo "$t,111,eu-west-1,ubuntu,22.04,x86_64"; done
    echo "t-9,222,eu-west-1,ubuntu,22.04,x86_64"; } >"$WORK/targets.csv"
  expect_ok "$PRODUCER" target register --file "$WORK/targets.csv"
  start_control_plane cp1
  wait_for_log "$CP_LOG" "event=serve.synced"
'

test_expect_success KCAT,PROTOC,CURL,JQ 'a forged deployment (PENDING events and a Deployment, unsigned) is REJECTED: unsigned' '
  put status d-forged StatusEvent "schema_version: 1 job_id: \"d-forged/t-1\" deployment_id: \"d-forged\" target_id: \"t-1\" account: \"111\" region: \"eu-west-1\" package: \"acme\" version: \"1.0\" state: JOB_STATE_PENDING attempt: 1"
  put deployments d-forged Deployment "schema_version: 1 deployment_id: \"d-forged\" package: \"acme\" version: \"1.0\" action: ACTION_INSTALL selection { target_ids: \"t-1\" } job_count: 1"
  refused_with d-forged unsigned
  audited deploy d-forged unsigned
  nothing_ran t-1
'

test_expect_success KCAT,PROTOC,CURL,JQ 'a forged package version (an unsigned PackageVersions record) is never used: its jobs end REJECTED' '
  sum=$(sha256sum "$REPO/evil/6.6/manifest.json" | cut -d" " -f1)
  put packages acme PackageVersions "schema_version: 1 name: \"acme\" default_version: \"6.6\" versions { version: \"6.6\" package: \"acme\" manifest_url: \"$BASE_URL/evil/6.6/manifest.json\" manifest_sha256: \"$sum\" artifacts_base_url: \"$BASE_URL/evil/6.6\" }"
  RC=0; "$PRODUCER" deploy --package acme --version 6.6 --targets t-2 --deployment-id d-evil >"$WORK/evil.out" 2>&1 || RC=$?
  [ "$RC" = 3 ] || fail "deploy of the forged version: exit $RC: $(cat "$WORK/evil.out")"
  grep -q "package acme version 6.6 may not be used (signed): the request is unsigned" "$WORK/evil.out" ||
    fail "the refusal does not say why: $(cat "$WORK/evil.out")"
  audited package.publish acme unsigned
  # An association following the default does not follow a default no allowed operator set.
  expect_ok "$PRODUCER" association create --name follow-acme --package acme --targets t-2
  for _ in $(seq 1 100); do "$PRODUCER" audit --refused -o json | grep -q "\"action\":\"package.set-default\"" && break; sleep 0.2; done
  audited package.set-default acme unsigned
  expect_ok "$PRODUCER" association delete follow-acme
  nothing_ran t-2
  no_pwned
  # The admin publishes 1.0 again (signed) and makes it the default again: the forged record had made 6.6 the default.
  expect_ok "$PRODUCER" package publish --name acme --manifest "$BASE_URL/acme/1.0/manifest.json" --artifacts "$BASE_URL/acme/1.0"
  expect_ok "$PRODUCER" package set-default acme 1.0
'

test_expect_success KCAT,PROTOC,CURL,JQ 'a forged cancel does not stop a deployment' '
  expect_ok "$PRODUCER" deploy --package slow --targets t-3,t-4 --max-concurrency 1 --deployment-id d-slow --no-wait
  put control d-slow Cancel "schema_version: 1 deployment_id: \"d-slow\" reason: \"forged\""
  wait_for_rollup d-slow SUCCESS 60
  audited cancel d-slow unsigned
  [ -e "$TARGETS/t-3/slow" ] && [ -e "$TARGETS/t-4/slow" ] || fail "the deployment did not run on both targets"
'

test_expect_success KCAT,PROTOC,CURL,JQ 'a forged association, launch event and inventory record are refused; nothing of them runs' '
  now=$(date +%s%3N)
  put associations a-forged Association "schema_version: 1 association_id: \"a-forged\" name: \"x\" package: \"acme\" version: \"1.0\" action: ACTION_INSTALL selection { all: true } run_on_create: true created_at_ms: $now"
  put events t-6 TargetEvent "schema_version: 1 kind: KIND_LAUNCHED at_ms: $now target { schema_version: 1 target_id: \"t-6\" account: \"111\" region: \"eu-west-1\" platform_name: \"ubuntu\" platform_version: \"22.04\" arch: \"x86_64\" }"
  put inventory t-7 Target "schema_version: 1 target_id: \"t-7\" account: \"111\" region: \"eu-west-1\" platform_name: \"ubuntu\" platform_version: \"22.04\" arch: \"x86_64\""
  for _ in $(seq 1 100); do "$PRODUCER" audit --refused -o json | grep -q "\"subject\":\"t-6\"" && break; sleep 0.2; done
  audited association.create a-forged unsigned
  audited target.launch t-6 unsigned
  listed=$("$PRODUCER" target list)
  ! grep -q "^t-6 " <<<"$listed" || fail "the forged launch registered t-6"
  # The forged record is in the inventory topic, so deploy finds t-7; the control plane does not take it.
  RC=0; "$PRODUCER" deploy --package acme --version 1.0 --targets t-7 --deployment-id d-t7 >"$WORK/t7.out" 2>&1 || RC=$?
  [ "$RC" = 1 ] && grep -q "unknown-target" "$WORK/t7.out" || fail "deploy to the forged target: exit $RC: $(cat "$WORK/t7.out")"
  audited target.register t-7 unsigned
  [ -z "$(get /deployments | jq -r "[.[] | select(.deployment_id | startswith(\"a-forged\"))][0].deployment_id // empty")" ] ||
    fail "the forged association ran"
  nothing_ran t-6 t-7
'

test_expect_success CURL,JQ 'requests outside the operator'"'"'s scope are refused naming the rule: another account, another package, too many targets' '
  RC=0; DROVER_OPERATOR_KEY=$ALICE "$PRODUCER" deploy --package acme --targets t-9 --deployment-id d-alice-222 >"$WORK/a1.out" 2>&1 || RC=$?
  [ "$RC" = 3 ] && grep -q "target t-9 (account 222, region eu-west-1) is outside the targets rule eu-team-acme-111 lets alice deploy" "$WORK/a1.out" ||
    fail "another account: exit $RC: $(cat "$WORK/a1.out")"
  RC=0; DROVER_OPERATOR_KEY=$ALICE "$PRODUCER" deploy --package slow --targets t-5 --deployment-id d-alice-slow >"$WORK/a2.out" 2>&1 || RC=$?
  [ "$RC" = 3 ] && grep -q "no rule lets alice deploy package slow" "$WORK/a2.out" || fail "another package: exit $RC: $(cat "$WORK/a2.out")"
  RC=0; DROVER_OPERATOR_KEY=$ALICE "$PRODUCER" deploy --package acme --targets t-1,t-2,t-5 --deployment-id d-alice-3 >"$WORK/a3.out" 2>&1 || RC=$?
  [ "$RC" = 3 ] && grep -q "rule eu-team-acme-111 allows at most 2 targets per deployment; this one has 3" "$WORK/a3.out" ||
    fail "too many targets: exit $RC: $(cat "$WORK/a3.out")"
  for d in d-alice-222 d-alice-slow d-alice-3; do refused_with "$d" not-allowed; audited deploy "$d" not-allowed; done
  expect_ok "$PRODUCER" audit --operator alice
  [ "$(grep -c "REFUSED" <<<"$OUT")" = 3 ] && ! grep -q " admin " <<<"$OUT" || fail "audit --operator alice: $OUT"
  nothing_ran t-5 t-9
'

test_expect_success CURL,JQ 'a key the policy does not name, and one the control plane does not hold, are unknown operators' '
  RC=0; DROVER_OPERATOR_KEY=$BOB "$PRODUCER" deploy --package acme --targets t-5 --deployment-id d-bob >"$WORK/b.out" 2>&1 || RC=$?
  [ "$RC" = 3 ] && grep -q "key $BOB_ID verifies, but the policy names no operator with it" "$WORK/b.out" || fail "bob: exit $RC: $(cat "$WORK/b.out")"
  RC=0; DROVER_OPERATOR_KEY=$CAROL "$PRODUCER" deploy --package acme --targets t-5 --deployment-id d-carol >"$WORK/c.out" 2>&1 || RC=$?
  [ "$RC" = 3 ] && grep -q "signed by key $CAROL_ID, which no operator has" "$WORK/c.out" || fail "carol: exit $RC: $(cat "$WORK/c.out")"
  refused_with d-bob unknown-operator
  audited deploy d-carol unknown-operator
  nothing_ran t-5
'

test_expect_success KCAT,CURL,JQ 'a signed deployment copied off the topic and written again is refused as replayed; nothing runs again' '
  expect_ok "$PRODUCER" deploy --package acme --targets t-1 --deployment-id d-once
  wait_for_rollup d-once SUCCESS 60
  where=$(kcat -C -b "$BROKERS" -t drover.deployments -e -q -f "%k %p %o\n" | grep "^d-once ")
  kcat -C -b "$BROKERS" -t drover.deployments -p "$(cut -d" " -f2 <<<"$where")" -o "$(cut -d" " -f3 <<<"$where")" -c 1 -e -q -f "%s" >"$WORK/once.bin"
  rm -rf "$TARGETS/t-1/opt"
  kcat -P -b "$BROKERS" -t drover.deployments -k d-once "$WORK/once.bin"
  for _ in $(seq 1 100); do "$PRODUCER" audit --refused -o json | grep -q "\"subject\":\"d-once\",.*\"reason\":\"replayed\"" && break; sleep 0.2; done
  audited deploy d-once replayed
  [ ! -e "$TARGETS/t-1/opt/acme/version" ] || fail "the replayed deployment ran again"
'

test_expect_success KCAT,CURL,JQ 'an older registration of a target written again is refused as replayed, not taken' '
  expect_ok "$PRODUCER" target register --id t-8 --account 111 --region eu-west-1 --platform ubuntu --platform-version 22.04 --arch x86_64
  where=$(kcat -C -b "$BROKERS" -t drover.inventory -e -q -f "%k %p %o\n" | grep "^t-8 " | tail -1)
  kcat -C -b "$BROKERS" -t drover.inventory -p "$(cut -d" " -f2 <<<"$where")" -o "$(cut -d" " -f3 <<<"$where")" -c 1 -e -q -f "%s" >"$WORK/t8-old.bin"
  expect_ok "$PRODUCER" target register --id t-8 --account 111 --region eu-west-1 --platform ubuntu --platform-version 22.04 --arch x86_64 --tag env=new
  expect_ok "$PRODUCER" deploy --package acme --version 1.0 --targets t-8 --deployment-id d-t8
  kcat -P -b "$BROKERS" -t drover.inventory -k t-8 "$WORK/t8-old.bin"
  # A target the control plane does not know yet makes it read the inventory again.
  expect_ok "$PRODUCER" target register --id t-11 --account 111 --region eu-west-1 --platform ubuntu --platform-version 22.04 --arch x86_64
  expect_ok "$PRODUCER" deploy --package acme --version 1.0 --targets t-11 --deployment-id d-t11
  audited target.register t-8 replayed
'

test_expect_success CURL,JQ 'a deployment signed longer ago than the request expiry, taken by a control plane only now, is REJECTED: expired' '
  kill -TERM "$CP_PID"; wait "$CP_PID" 2>/dev/null || true
  expect_ok "$PRODUCER" deploy --package acme --targets t-2 --deployment-id d-late --no-wait
  sleep 3
  start_control_plane cp2 --request-expiry-seconds 2
  refused_with d-late expired
  audited deploy d-late expired
  nothing_ran t-2
'

test_expect_success CURL,JQ 'a legitimate deployment afterwards is exact' '
  expect_ok "$PRODUCER" deploy --package acme --targets t-2,t-5 --deployment-id d-good
  [ "$(cat "$TARGETS/t-2/opt/acme/version")" = 1.0 ] && [ "$(cat "$TARGETS/t-5/opt/acme/version")" = 1.0 ] ||
    fail "acme 1.0 is not on t-2 and t-5"
  expect_ok "$PRODUCER" audit --deployment d-good -o json
  jq -s -e "any(.[]; .action == \"deploy\" and .allowed == true and .operator == \"admin\" and .rule == \"admin-all\")" <<<"$OUT" >/dev/null ||
    fail "the allowed deployment is not in the audit trail: $OUT"
  no_pwned
'

# A cancel and a launch event are decided by each control plane that reads them (cp2 reads them again at its
# start), so they may be counted twice.
test_expect_success CURL 'the aggregator counts the refusals by action and reason' '
  for _ in $(seq 1 50); do
    metrics=$(get /metrics)
    grep -q "^drover_requests_refused_total{action=\"deploy\",reason=\"expired\"} 1$" <<<"$metrics" && break
    sleep 0.2
  done
  for want in "action=\"deploy\",reason=\"unsigned\"} 1" "action=\"deploy\",reason=\"not-allowed\"} 3" \
    "action=\"cancel\",reason=\"unsigned\"} [12]" "action=\"package.publish\",reason=\"unsigned\"} 1" \
    "action=\"deploy\",reason=\"expired\"} 1" "action=\"target.launch\",reason=\"unsigned\"} [12]"; do
    grep -q "^drover_requests_refused_total{$want$" <<<"$metrics" || fail "no drover_requests_refused_total{$want: $(grep refused <<<"$metrics")"
  done
'

test_expect_success 'serve refuses to start without a policy, or with one that does not parse, saying why' '
  expect_fail_with "no --policy" "$PRODUCER" serve --brokers "$BROKERS" --http "" --signing-key "$SIGNING_KEY"
  printf "{\"operators\": [], \"rules\": [], \"extra\": 1}" >"$WORK/bad-policy.json"
  expect_fail_with "policy: the policy has an unknown key \"extra\"" "$PRODUCER" serve --brokers "$BROKERS" --http "" \
    --signing-key "$SIGNING_KEY" --policy "$WORK/bad-policy.json" --operator-keys "$WORK/operators"
'

test_done
