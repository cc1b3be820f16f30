#!/usr/bin/env bash
# drover-producer's control-plane verbs on the embedded broker: package
# publish/list/set-default keep the registry, target register/list keep the
# inventory (from flags, CSV and JSON), and deploy publishes exactly one job
# per selected target (tags OR'ed within a key and AND'ed across keys,
# accounts, regions, ids, all: one PENDING event each, and the control plane
# releases one Job each), refuses unknown targets, versions and empty
# selections without publishing anything, says so when a deployment is
# half-published, and follows rollups to the right exit code.  No worker or
# aggregator runs here: rollups are published by drover_test_messages.  The
# cases that count a deployment's messages with kcat need the prerequisite KCAT.
. "$(dirname "$0")/lib.sh"

BROKER="$DROVER_BUILD_DIR/drover-broker"
MESSAGES="$DROVER_BUILD_DIR/drover_test_messages"

BROKER_PID=
SERVE_PID=
stop_broker() {
  if [ -n "$SERVE_PID" ]; then kill -TERM "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
  if [ -n "$BROKER_PID" ]; then kill -TERM "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap stop_broker EXIT
"$BROKER" --address-file "$WORK/broker.addr" >"$WORK/broker.out" 2>"$WORK/broker.log" &
BROKER_PID=$!
for _ in $(seq 1 200); do [ -s "$WORK/broker.addr" ] && break; sleep 0.05; done
[ -s "$WORK/broker.addr" ] || fail "the broker wrote no address: $(cat "$WORK/broker.log")"
# Every command reads the broker from the environment, as a deployment's config would set it.
export DROVER_BROKERS
DROVER_BROKERS=$(cat "$WORK/broker.addr")

# expect_exit CODE: the last expect_fail_with exited CODE.
expect_exit() { [ "$RC" -eq "$1" ] || fail "exit $RC, want $1; output:
$OUT"; }

# ---- topics create ----
# librdkafka's mock cluster names no controller, so CreateTopics cannot
# succeed on it: what is checked here is the arguments and the error.
test_expect_success 'topics create: 0 partitions is a usage error (2); on the mock cluster it fails (1) as no controller answers' '
  expect_fail_with "partitions must be 1-10000" "$PRODUCER" topics create --partitions 0
  expect_exit 2
  expect_fail_with "no controller answered" "$PRODUCER" topics create --topic-prefix fresh. --kafka-timeout 2
  expect_exit 1
'

# ---- package publish, list, set-default ----
SRC="$WORK/src"
test_expect_success 'set-up: acme-agent 1.0 and 2.0 are built' '
  for v in 1.0 2.0; do
    mkdir -p "$SRC/$v/_any@_any@_any"
    printf "#!/bin/sh\necho installing %s\n" "$v" >"$SRC/$v/_any@_any@_any/install.sh"
    printf "#!/bin/sh\necho removing\n" >"$SRC/$v/_any@_any@_any/uninstall.sh"
    expect_ok "$PRODUCER" package build "$SRC/$v" --name acme-agent --version "$v" --out "$WORK/pkg-$v" --publisher "Acme Corp"
  done
  SUM1=$(sha256sum "$WORK/pkg-1.0/manifest.json" | cut -d" " -f1)
  SUM2=$(sha256sum "$WORK/pkg-2.0/manifest.json" | cut -d" " -f1)
'

test_expect_success 'package publish records the manifest and its sha256; package list shows the version, default and publisher' '
  expect_ok "$PRODUCER" package publish --name acme-agent --manifest "$WORK/pkg-1.0/manifest.json" \
    --artifacts "file://$WORK/pkg-1.0"
  grep -qx "published acme-agent 1.0 (default version: 1.0)" <<<"$OUT" || fail "publish said: $OUT"
  grep -qx "sha256: $SUM1" <<<"$OUT" || fail "publish did not record the manifest'\''s sha256 $SUM1: $OUT"
  expect_ok "$PRODUCER" package list
  grep -qx "acme-agent (default: 1.0)" <<<"$OUT" || fail "package list: $OUT"
  grep -qE "^  \* 1\.0 .*Acme Corp  $WORK/pkg-1.0/manifest.json\$" <<<"$OUT" || fail "package list version line: $OUT"
'

test_expect_success 'a relative manifest path is recorded absolute; set-default moves the default to 2.0' '
  expect_ok bash -c "cd \"$WORK\" && \"$PRODUCER\" package publish --name acme-agent --manifest pkg-2.0/manifest.json --artifacts http://artifacts.example/acme-agent/2.0"
  grep -qx "published acme-agent 2.0 (default version: 1.0)" <<<"$OUT" || fail "publish 2.0 said: $OUT"
  grep -qx "manifest: $WORK/pkg-2.0/manifest.json" <<<"$OUT" || fail "relative manifest path kept relative: $OUT"
  expect_ok "$PRODUCER" package set-default acme-agent 2.0
  grep -qx "acme-agent default version: 2.0 (was 1.0)" <<<"$OUT" || fail "set-default said: $OUT"
  expect_ok "$PRODUCER" package list acme-agent
  [ "$(grep -c "^  [ *] [12]\.0 " <<<"$OUT")" = 2 ] || fail "package list should show 2 versions: $OUT"
  grep -qE "^  \* 2\.0 " <<<"$OUT" || fail "2.0 is not marked default: $OUT"
  grep -qx "acme-agent (default: 2.0)" <<<"$OUT" || fail "package list default: $OUT"
'

test_expect_success 'publishing a version again replaces it, and the default stays' '
  expect_ok "$PRODUCER" package publish --name acme-agent --manifest "$WORK/pkg-1.0/manifest.json" --artifacts "file://$WORK/pkg-1.0"
  grep -qx "republished acme-agent 1.0 (default version: 2.0)" <<<"$OUT" || fail "republish said: $OUT"
'

refused_package_commands() {
  expect_fail_with "package acme-agent has no version 3.0; published: 1.0, 2.0" "$PRODUCER" package set-default acme-agent 3.0
  expect_exit 2
  expect_fail_with "package nope was never published" "$PRODUCER" package set-default nope 1.0
  expect_fail_with "needs --name, --manifest and --artifacts" "$PRODUCER" package publish --manifest "$WORK/pkg-1.0/manifest.json"
  expect_exit 2
  expect_fail_with "--name: 'bad/name' has '/'" "$PRODUCER" package publish --name bad/name --manifest x --artifacts y
  echo '{"schemaVersion": "2.0"' >"$WORK/broken.json"
  expect_fail_with "manifest $WORK/broken.json" "$PRODUCER" package publish --name broken --manifest "$WORK/broken.json" --artifacts x
  expect_exit 1
  expect_fail_with "$WORK/missing.json" "$PRODUCER" package publish --name broken --manifest "$WORK/missing.json" --artifacts x
  expect_ok "$PRODUCER" package list
  ! grep -q '^broken' <<<"$OUT" || fail "a refused publish was registered: $OUT"
}
test_expect_success 'an unknown version or package, missing or bad arguments and a broken or missing manifest are refused, registering nothing' '
  refused_package_commands
'

# ---- target register and list ----
# TRUTH holds every registered target as "id account region Env Tier" (- when untagged),
# so each selection's expected jobs are computed from it independently of the producer.
TRUTH="$WORK/truth.txt"
: >"$TRUTH"
register_flags() { # ID ACCOUNT REGION ENV TIER
  expect_ok "$PRODUCER" target register --id "$1" --account "$2" --region "$3" --platform ubuntu \
    --platform-version 22.04 --arch x86_64 --tag "Env=$4" --tag "Tier=$5"
  grep -qx "registered 1 target" <<<"$OUT" || fail "register $1 said: $OUT"
  echo "$1 $2 $3 $4 $5" >>"$TRUTH"
}
test_expect_success 'target register from flags registers one target each' '
  register_flags web-1 111111111111 eu-west-1 prod web
  register_flags web-2 222222222222 us-east-1 dev web
  register_flags db-1 111111111111 us-east-1 prod db
'

ACCOUNTS=(111111111111 222222222222 333333333333)
REGIONS=(eu-west-1 us-east-1)
ENVS=(prod dev test)
TIERS=(web db)
{
  echo "id,account,region,platform,platform_version,arch,tags"
  for i in $(seq 1 300); do
    a=${ACCOUNTS[$((i % 3))]} r=${REGIONS[$((i / 3 % 2))]} e=${ENVS[$((i / 6 % 3))]} t=${TIERS[$((i / 18 % 2))]}
    echo "t-$i,$a,$r,ubuntu,22.04,x86_64,Env=$e;Tier=$t"
    echo "t-$i $a $r $e $t" >>"$TRUTH"
  done
} >"$WORK/targets.csv"
test_expect_success 'target register --file registers the 300 targets of a CSV' '
  expect_ok "$PRODUCER" target register --file "$WORK/targets.csv"
  grep -qx "registered 300 targets" <<<"$OUT" || fail "CSV register said: $OUT"
'

{
  echo "["
  for i in $(seq 1 10); do
    sep=$([ "$i" -lt 10 ] && echo , || true)
    if [ $((i % 2)) -eq 0 ]; then
      echo "{\"id\": \"json-$i\", \"account\": \"444444444444\", \"region\": \"ap-south-1\", \"platform\": \"rocky\", \"platform_version\": \"9.3\", \"arch\": \"amd64\", \"id_like\": \"rhel centos fedora\", \"tags\": {\"Env\": \"prod\"}}$sep"
      echo "json-$i 444444444444 ap-south-1 prod -" >>"$TRUTH"
    else
      echo "{\"id\": \"json-$i\", \"account\": \"444444444444\", \"region\": \"ap-south-1\", \"platform\": \"amzn\", \"platform_version\": \"2023\", \"arch\": \"arm64\"}$sep"
      echo "json-$i 444444444444 ap-south-1 - -" >>"$TRUTH"
    fi
  done
  echo "]"
} >"$WORK/targets.json"
test_expect_success 'target register --file registers the 10 targets of a JSON array' '
  expect_ok "$PRODUCER" target register --file "$WORK/targets.json"
  grep -qx "registered 10 targets" <<<"$OUT" || fail "JSON register said: $OUT"
'

# list_count [flags]: targets target list prints (without its header).
list_count() { "$PRODUCER" target list "$@" | tail -n +2 | wc -l; }
target_list_filters() {
  [ "$(list_count)" = 313 ] || fail "target list shows $(list_count) targets, want 313"
  want=$(awk '$2 == "111111111111"' "$TRUTH" | wc -l)
  [ "$(list_count --account 111111111111)" = "$want" ] || fail "--account 111111111111: $(list_count --account 111111111111), want $want"
  want=$(awk '$2 == "222222222222" && $3 == "us-east-1"' "$TRUTH" | wc -l)
  [ "$(list_count --account 222222222222 --region us-east-1)" = "$want" ] || fail "--account and --region: want $want"
  expect_ok "$PRODUCER" target list --region ap-south-1
  grep -qE '^json-2 +444444444444 +ap-south-1 +rocky +9\.3 +amd64 +Env=prod$' <<<"$OUT" || fail "JSON target line: $OUT"
  grep -qE '^json-1 .* -$' <<<"$OUT" || fail "an untagged target lists tags as -: $OUT"
}
test_expect_success 'target list shows all 313, filters by account and region, and shows the tags (- when none)' '
  target_list_filters
'

test_expect_success 'registering a target again replaces it: new tags, the same count' '
  expect_ok "$PRODUCER" target register --id web-2 --account 222222222222 --region us-east-1 --platform ubuntu \
    --platform-version 22.04 --arch x86_64 --tag Env=dev --tag Tier=web --tag Team=blue
  expect_ok "$PRODUCER" target list --account 222222222222 --region us-east-1
  grep -qE "^web-2 .*Env=dev;Tier=web;Team=blue\$" <<<"$OUT" || fail "re-registered web-2: $OUT"
  [ "$(list_count)" = 313 ] || fail "re-registering changed the count"
'

refused_registrations() {
  printf 'id,account,region,platform,platform_version,arch\nok-1,1,r,ubuntu,22.04,x86_64\nbad/2,1,r,ubuntu,22.04,x86_64\n' >"$WORK/bad.csv"
  expect_fail_with "$WORK/bad.csv line 3: id: 'bad/2' has '/'" "$PRODUCER" target register --file "$WORK/bad.csv"
  expect_exit 2
  printf 'id,account,region,platform,arch\nx,1,r,ubuntu,x86_64\n' >"$WORK/nocol.csv"
  expect_fail_with "no platform_version column" "$PRODUCER" target register --file "$WORK/nocol.csv"
  printf 'id,account,region,platform,platform_version,arch\nd-1,1,r,ubuntu,22.04,x86_64\nd-1,1,r,ubuntu,22.04,x86_64\n' >"$WORK/dup.csv"
  expect_fail_with "target d-1 is given more than once" "$PRODUCER" target register --file "$WORK/dup.csv"
  echo '[{"id": "j", "account": "1", "region": "r", "platform": "ubuntu", "platform_version": "22.04", "arch": "x86_64", "colour": "red"}]' >"$WORK/bad.json"
  expect_fail_with "$WORK/bad.json item 1: unknown field 'colour'" "$PRODUCER" target register --file "$WORK/bad.json"
  expect_fail_with "either --file or one target's flags" "$PRODUCER" target register --file "$WORK/targets.csv" --id x
  expect_fail_with "needs --id, --account" "$PRODUCER" target register --id lonely
  [ "$(list_count)" = 313 ] || fail "a refused registration wrote targets"
}
test_expect_success 'bad input (a bad id, a missing column, a duplicate, an unknown field, mixed or missing flags) is refused whole, naming the line or item' '
  refused_registrations
'

# ---- deploy: selections ----
# deploy_no_wait ARGS...: deploy --no-wait; sets ID and JOBS (the sorted target ids of the deployment's
# jobs, as its PENDING events name them).
deploy_no_wait() {
  expect_ok "$PRODUCER" deploy --package acme-agent --no-wait "$@"
  ID=$(sed -n 's/^deployment \([^ ]*\) published: .*/\1/p' <<<"$OUT")
  [ -n "$ID" ] || fail "deploy printed no deployment id: $OUT"
  JOBS=$("$MESSAGES" dump status | awk -v id="$ID" 'index($0, " deployment=" id " ") && / state=PENDING / {
    for (i = 1; i <= NF; i++) if ($i ~ /^target=/) { sub(/^target=/, "", $i); print $i } }' | sort)
}
# released_job ID TARGET: wait (up to 20 s) for the control plane to release the job; sets JOB to its dump line.
released_job() {
  for _ in $(seq 1 100); do
    JOB=$("$MESSAGES" dump jobs | grep " job_id=$1/$2 ") && return 0
    sleep 0.2
  done
  fail "the control plane did not release $1/$2: $(tail -5 "$WORK/serve.log")"
}
# expect_jobs WANT: the deployment's jobs are exactly the ids in WANT (one per line), and its PENDING events as many.
expect_jobs() {
  local want; want=$(sort <<<"$1")
  [ "$JOBS" = "$want" ] || fail "deployment $ID: jobs for
$(head -5 <<<"$JOBS") ... ($(wc -l <<<"$JOBS") in all), want
$(head -5 <<<"$want") ... ($(wc -l <<<"$want") in all)"
  # The status topic is keyed by deployment id: kcat alone can count a deployment's PENDING events.
  local pending; pending=$(kcat -C -b "$DROVER_BROKERS" -t drover.status -e -q -f '%k\n' | grep -cxF "$ID" || true)
  [ "$pending" = "$(wc -l <<<"$want")" ] || fail "deployment $ID: $pending PENDING events, want $(wc -l <<<"$want")"
}
truth() { awk "$1 { print \$1 }" "$TRUTH"; }

test_expect_success KCAT 'deploy --targets publishes one job and one PENDING event per listed target' '
  deploy_no_wait --targets web-1,db-1
  expect_jobs "$(printf "web-1\ndb-1")"
'

deploy_by_tags() {
  deploy_no_wait --tag Env=prod
  expect_jobs "$(truth '$4 == "prod"')"
  deploy_no_wait --tag Env=prod --tag Env=dev
  expect_jobs "$(truth '$4 == "prod" || $4 == "dev"')"
  deploy_no_wait --tag Env=prod --tag Tier=web
  expect_jobs "$(truth '$4 == "prod" && $5 == "web"')"
  deploy_no_wait --tag Env=prod --tag Env=test --tag Tier=db
  expect_jobs "$(truth '($4 == "prod" || $4 == "test") && $5 == "db"')"
}
test_expect_success KCAT 'deploy --tag selects: values of one key OR'\''ed, keys AND'\''ed' '
  deploy_by_tags
'

deploy_by_location() {
  deploy_no_wait --accounts 111111111111,333333333333
  expect_jobs "$(truth '$2 == "111111111111" || $2 == "333333333333"')"
  deploy_no_wait --regions us-east-1
  expect_jobs "$(truth '$3 == "us-east-1"')"
  deploy_no_wait --accounts 222222222222 --regions eu-west-1 --tag Env=dev
  expect_jobs "$(truth '$2 == "222222222222" && $3 == "eu-west-1" && $4 == "dev"')"
}
test_expect_success KCAT 'deploy --accounts and --regions select, alone and with a tag' '
  deploy_by_location
'

test_expect_success KCAT 'deploy --targets with --tag selects the listed targets the tag matches' '
  deploy_no_wait --targets web-1,web-2,db-1 --tag Tier=web
  expect_jobs "$(printf "web-1\nweb-2")"
'

test_expect_success KCAT 'deploy --all selects every one of the 313 targets' '
  deploy_no_wait --all
  expect_jobs "$(truth 1)"
  [ "$(wc -l <<<"$JOBS")" = 313 ] || fail "--all published $(wc -l <<<"$JOBS") jobs"
'

# ---- deploy: what a job carries (the control plane releases it) ----
test_expect_success 'set-up: a control plane (drover-producer serve) with a signing key' '
  "$PRODUCER" keys generate --dir "$WORK/keys" >"$WORK/keys.out"
  "$PRODUCER" serve --replica-id cp-t0500 --log-level info --signing-key "$WORK/keys/$(sed -n "s/^key_id: //p" "$WORK/keys.out").key" \
    --allow-unsigned-requests \
    >/dev/null 2>"$WORK/serve.log" &
  SERVE_PID=$!
'

released_job_carries() {
  released_job d-carry json-2; job=$JOB
  for want in "key=json-2 " " job_id=d-carry/json-2 " " account=444444444444 " " region=ap-south-1 " " platform=rocky " \
    " package=acme-agent " " version=1.0 " " action=uninstall " " type=in-place " " manifest_sha256=$SUM1 " \
    " manifest_url=$WORK/pkg-1.0/manifest.json " " artifacts=file://$WORK/pkg-1.0 " " script_timeout=45 " \
    " attempt=1 " " schema=1 " " args=FOO=bar;MODE=fast"; do
    grep -qF -- "$want" <<<"$job" || fail "the job lacks '$want': $job"
  done
  deadline=$(sed -n 's/.* deadline_ms=\([0-9]*\) .*/\1/p' <<<"$job")
  now_ms=$(($(date +%s) * 1000))
  [ "$deadline" -gt $((now_ms + 500000)) ] && [ "$deadline" -le $((now_ms + 601000)) ] || fail "deadline_ms $deadline is not now + 600 s"
  dep=$("$MESSAGES" dump deployments | grep '^key=d-carry ')
  for want in " max_concurrency=10% " " max_errors=2 " " targets=json-2 " " action=uninstall " " version=1.0 "; do
    grep -qF -- "$want" <<<"$dep" || fail "the Deployment lacks '$want': $dep"
  done
}
test_expect_success 'a released job carries what deploy was given (version, action, type, args, timeouts, deadline), as does the Deployment' '
  deploy_no_wait --targets json-2 --version 1.0 --action uninstall --installation-type in-place --arg FOO=bar \
    --arg MODE=fast --deadline-seconds 600 --script-timeout 45 --max-concurrency 10% --max-errors 2 --deployment-id d-carry
  [ "$ID" = d-carry ] || fail "--deployment-id was not used: $ID"
  released_job_carries
'

test_expect_success 'without --version the default version (2.0) and its manifest hash are deployed' '
  deploy_no_wait --targets web-1
  released_job "$ID" web-1; job=$JOB
  grep -qF " version=2.0 " <<<"$job" && grep -qF " manifest_sha256=$SUM2 " <<<"$job" || fail "the default version was not deployed: $job"
'

# ---- deploy: refused requests publish nothing ----
published() { kcat -C -b "$DROVER_BROKERS" -t drover.status -t drover.deployments -e -q -f '%k\n' | wc -l; }
refused_deploys() {
  published_before=$(published)
  expect_fail_with "2 target ids are not in the inventory: nope-1, nope-2" \
    "$PRODUCER" deploy --package acme-agent --targets web-1,nope-2,nope-1 --no-wait
  expect_exit 2
  expect_fail_with "no target in the inventory (313 targets) matches tag Env=nowhere" \
    "$PRODUCER" deploy --package acme-agent --tag Env=nowhere --no-wait
  expect_fail_with "no target in the inventory (313 targets) matches accounts 444444444444; regions eu-west-1" \
    "$PRODUCER" deploy --package acme-agent --accounts 444444444444 --regions eu-west-1 --no-wait
  expect_fail_with "package acme-agent has no version 9.9; published: 1.0, 2.0" \
    "$PRODUCER" deploy --package acme-agent --version 9.9 --all --no-wait
  expect_exit 2
  expect_fail_with "package nope was never published" "$PRODUCER" deploy --package nope --all --no-wait
  expect_fail_with "no targets selected" "$PRODUCER" deploy --package acme-agent --no-wait
  expect_exit 2
  expect_fail_with "--arg PATH: the name is reserved" "$PRODUCER" deploy --package acme-agent --all --arg PATH=/x --no-wait
  expect_fail_with "--max-concurrency: '0' is not a count" "$PRODUCER" deploy --package acme-agent --all --max-concurrency 0 --no-wait
  expect_fail_with "--max-errors: '101%' is not a count" "$PRODUCER" deploy --package acme-agent --all --max-errors 101% --no-wait
  expect_fail_with "--deployment-id: 'a/b' has '/'" "$PRODUCER" deploy --package acme-agent --all --deployment-id a/b --no-wait
  expect_fail_with "--action: 'upgrade' is not install or uninstall" "$PRODUCER" deploy --package acme-agent --all --action upgrade --no-wait
  published_after=$(published)
  [ "$published_after" = "$published_before" ] || fail "refused deploys published $((published_after - published_before)) messages"
}
test_expect_success KCAT 'refused deploys (unknown targets, version or package, an empty selection, bad flags) publish nothing' '
  refused_deploys
'

# ---- deploy: a half-published deployment says so, and re-running finishes it ----
# A Deployment over the (lowered) message size limit: its PENDING event is acknowledged, it is not.
test_expect_success 'a half-published deployment says so (exit 1); re-run with its id it is finished, its job released once' '
  long=$(head -c 3000 /dev/zero | tr "\0" a)
  expect_fail_with "deployment d-half not completely published: 1 of 2 messages acknowledged; re-run with --deployment-id d-half to finish" \
    "$PRODUCER" deploy --package acme-agent --targets web-1 --arg "BIG=$long" --deployment-id d-half --no-wait \
    --kafka-property message.max.bytes=1000
  expect_exit 1
  # (Whole outputs, not pipes into grep -q: under pipefail an early grep exit fails the writer.)
  ! grep -q "^key=d-half " <<<"$("$MESSAGES" dump deployments)" || fail "the oversized Deployment was written"
  deploy_no_wait --targets web-1 --arg "BIG=$long" --deployment-id d-half
  grep -q "^key=d-half " <<<"$("$MESSAGES" dump deployments)" || fail "re-running d-half did not write its Deployment"
  released_job d-half web-1
  [ "$("$MESSAGES" dump jobs | grep -c " job_id=d-half/web-1 ")" = 1 ] || fail "d-half/web-1 released more than once"
'

# ---- deploy: following rollups ----
# follow_deploy NAME ARGS...: deploy in the background, output in $WORK/NAME.out, pid in FOLLOW_PID;
# returns once it has published (rollups published before would be, rightly, ignored).
follow_deploy() {
  local name=$1; shift
  "$PRODUCER" deploy --package acme-agent --deployment-id "$name" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  FOLLOW_PID=$!
  for _ in $(seq 1 1200); do grep -q ' published: ' "$WORK/$name.out" && return 0; sleep 0.05; done
  fail "deploy $name did not publish: $(cat "$WORK/$name.out" "$WORK/$name.err")"
}
# follow_exit NAME WANT: the background deploy exits WANT.
follow_exit() {
  local rc=0
  wait "$FOLLOW_PID" || rc=$?
  [ "$rc" = "$2" ] || fail "deploy $1 exited $rc, want $2: $(cat "$WORK/$1.out" "$WORK/$1.err")"
}
test_expect_success 'deploy follows its own rollups (not another deployment'\''s) to SUCCESS: exit 0, with progress lines' '
  follow_deploy d-ok --targets web-1,web-2,db-1
  "$MESSAGES" rollup d-ok IN_PROGRESS 3 PENDING=2 IN_PROGRESS=1
  "$MESSAGES" rollup d-other SUCCESS 1 SUCCESS=1 # another deployment'\''s rollup is not this one'\''s end
  "$MESSAGES" rollup d-ok IN_PROGRESS 3 SUCCESS=1 IN_PROGRESS=2
  "$MESSAGES" rollup d-ok SUCCESS 3 SUCCESS=3
  follow_exit d-ok 0
  grep -qE "^\[\.+\]   0%  0/3  SUCCESS 0  IN_PROGRESS 1  PENDING 2  elapsed [0-9]+s  ETA -\$" "$WORK/d-ok.out" ||
    fail "no plain progress line: $(cat "$WORK/d-ok.out")"
  grep -qE "^\[#+\] 100%  3/3  SUCCESS 3  elapsed [0-9]+s\$" "$WORK/d-ok.out" || fail "no final progress line: $(cat "$WORK/d-ok.out")"
  grep -qx "deployment d-ok: SUCCESS  (acme-agent 1.0)" "$WORK/d-ok.out" || fail "no final status: $(cat "$WORK/d-ok.out")"
'

test_expect_success 'a FAILED rollup: exit 1, the failed targets listed, the rest counted' '
  follow_deploy d-bad --all
  failed=()
  for i in $(seq 1 25); do failed+=("failed=t-$i:FAILED:script-failed:install.sh exited 3"); done
  "$MESSAGES" rollup d-bad FAILED 314 SUCCESS=284 FAILED=30 "${failed[@]:0:16}"
  follow_exit d-bad 1
  grep -qx "  t-1  FAILED  script-failed: install.sh exited 3" "$WORK/d-bad.out" || fail "failed target not listed: $(cat "$WORK/d-bad.out")"
  grep -qx "  ... and 14 more" "$WORK/d-bad.out" || fail "no '\''... and 14 more'\'': $(cat "$WORK/d-bad.out")"
'

test_expect_success 'no final rollup within --wait-timeout: deploy stops waiting, exit 5' '
  follow_deploy d-slow --targets web-1 --wait-timeout 1
  follow_exit d-slow 5
  grep -q "stopped waiting after 1 s" "$WORK/d-slow.out" || fail "no timeout message: $(cat "$WORK/d-slow.out")"
'

# ---- deployment show and list ----
test_expect_success 'deployment show says the status, selection and rate controls (or that no rollup came yet); list shows each' '
  expect_ok "$PRODUCER" deployment show d-bad
  grep -qx "deployment d-bad: FAILED  (acme-agent 1.0)" <<<"$OUT" || fail "deployment show: $OUT"
  grep -qx "selection: all" <<<"$OUT" || fail "deployment show lacks the selection: $OUT"
  expect_ok "$PRODUCER" deployment show d-carry
  grep -qx "no rollup yet.*" <<<"$OUT" || fail "deployment show without rollup: $OUT"
  grep -qx "rate controls: max-concurrency 10%, max-errors 2" <<<"$OUT" || fail "show: $OUT"
  expect_fail_with "no deployment d-none" "$PRODUCER" deployment show d-none
  expect_ok "$PRODUCER" deployment list
  grep -qE "^d-ok +.* SUCCESS +3/3\$" <<<"$OUT" || fail "deployment list: $OUT"
  grep -qE "^d-carry +.* uninstall +PUBLISHED +-\$" <<<"$OUT" || fail "deployment list: $OUT"
'

test_done
