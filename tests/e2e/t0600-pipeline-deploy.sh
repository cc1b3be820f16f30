#!/usr/bin/env bash
# The pipeline end to end on the embedded broker: a deployment over 120
# targets in 3 accounts x 2 regions reaches SUCCESS on every target with the
# files really there; a failing target shows FAILED with its reason in the
# rollup; garbage and truncated messages on the jobs topic are rejected while
# the fleet keeps working.  (The aggregator is read with curl and jq, the
# jobs topic written with kcat and perl: prerequisites CURL, JQ, KCAT, PERL.)
. "$(dirname "$0")/pipeline_lib.sh"
PRODUCER="$DROVER_BUILD_DIR/drover-producer"

simple_package acme 1.0
make_version acme 1.0
# A package whose install fails on targets tagged role=broken.
write_script flaky 1.0 install.sh 'if [ "$ROLE" = broken ]; then echo "disk is read-only" >&2; exit 5; fi; touch "$DROVER_TARGET_ROOT/flaky-ok"'
write_script flaky 1.0 uninstall.sh 'rm -f "$DROVER_TARGET_ROOT/flaky-ok"'
make_version flaky 1.0
start_http
start_broker
start_aggregator
start_control_plane
start_worker w1 --concurrency 3
start_worker w2 --concurrency 3
export DROVER_BROKERS="$BROKERS"

"$PRODUCER" package publish --name acme --manifest "$BASE_URL/acme/1.0/manifest.json" --artifacts "$BASE_URL/acme/1.0" >/dev/null
"$PRODUCER" package publish --name flaky --manifest "$BASE_URL/flaky/1.0/manifest.json" --artifacts "$BASE_URL/flaky/1.0" >/dev/null
{
  echo "id,account,region,platform,platform_version,arch,tags"
  for a in 111 222 333; do for r in eu-west-1 us-east-1; do for i in $(seq 1 20); do
    echo "t-$a-$r-$i,$a,$r,ubuntu,22.04,x86_64,role=web"
  done; done; done
} >"$WORK/targets.csv"
"$PRODUCER" target register --file "$WORK/targets.csv" >/dev/null

# every_location_succeeded: 20 SUCCESS per account and region in $ROLLUP, the files there.
every_location_succeeded() {
  for a in 111 222 333; do for r in eu-west-1 us-east-1; do
    n=$(jq -r --arg a "$a" --arg r "$r" '.locations[] | select(.account == $a and .region == $r) | .counts.SUCCESS' <<<"$ROLLUP")
    [ "$n" = 20 ] || fail "location $a/$r has $n SUCCESS: $ROLLUP"
    for i in 1 20; do
      [ "$(cat "$TARGETS/t-$a-$r-$i/opt/acme/version")" = 1.0 ] || fail "t-$a-$r-$i not installed"
    done
  done; done
}
test_expect_success CURL,JQ 'a deployment over 120 targets in 3 accounts x 2 regions: deploy exits 0, every target SUCCESS and installed once' '
  RC=0; OUT=$("$PRODUCER" deploy --package acme --all --deployment-id d-all --wait-timeout 120 2>&1) || RC=$?
  [ "$RC" -eq 0 ] || fail "deploy exited $RC: $OUT"
  wait_for_rollup d-all SUCCESS 30
  [ "$(jq -r ".total" <<<"$ROLLUP")" = 120 ] || fail "total is not 120: $ROLLUP"
  [ "$(jq -r ".counts.SUCCESS" <<<"$ROLLUP")" = 120 ] || fail "SUCCESS is not 120: $ROLLUP"
  every_location_succeeded
  # Each target installed exactly once.
  [ "$(cat "$TARGETS"/t-*/drover-test.log | grep -c "^install.sh 1.0\$")" = 120 ] || fail "install.sh did not run exactly 120 times"
'

test_expect_success CURL,JQ 'failing targets end FAILED with their reason, in the rollup and in deploy'\''s output (exit 1)' '
  "$PRODUCER" target register --id t-bad-1 --account 111 --region eu-west-1 --platform ubuntu --platform-version 22.04 --arch x86_64 --tag role=broken >/dev/null
  "$PRODUCER" target register --id t-bad-2 --account 222 --region us-east-1 --platform ubuntu --platform-version 22.04 --arch x86_64 --tag role=broken >/dev/null
  RC=0; OUT=$("$PRODUCER" deploy --package flaky --targets t-bad-1,t-bad-2,t-111-eu-west-1-1 --arg ROLE=broken --deployment-id d-bad-args --wait-timeout 120 2>&1) || RC=$?
  [ "$RC" -eq 1 ] || fail "deploy of a failing package exited $RC: $OUT"
  grep -q "script-failed" <<<"$OUT" || fail "deploy output lacks the reason: $OUT"
  wait_for_rollup d-bad-args FAILED 30
  [ "$(jq -r ".counts.FAILED" <<<"$ROLLUP")" = 3 ] || fail "expected 3 FAILED: $ROLLUP"
  jq -e ".failed_targets[] | select(.target_id == \"t-bad-1\" and .reason == \"script-failed\") | .message | test(\"install.sh 1.0 exit 5\")" <<<"$ROLLUP" >/dev/null \
    || fail "failed target lacks its reason: $ROLLUP"
'

# Garbage and a truncated Job on the jobs topic: a log line (garbage) and
# REJECTED (truncated: its ids can still be read); the fleet goes on.
test_expect_success KCAT,PERL,CURL,JQ 'garbage on the jobs topic is logged, a truncated Job REJECTED as malformed; the fleet goes on, d-all untouched' '
  printf "this is not protobuf\xff\xfe" >"$WORK/garbage.bin"
  kcat -P -b "$BROKERS" -t drover.jobs -k t-garbage "$WORK/garbage.bin"
  # A real job of d-all, renamed to deployment d-trn (same length) and cut short.
  kcat -C -b "$BROKERS" -t drover.jobs -o beginning -c 1 -e -q -f "%s" >"$WORK/job.bin" 2>/dev/null
  perl -0777 -pe "s/d-all/d-trn/g" "$WORK/job.bin" | head -c $(( $(stat -c %s "$WORK/job.bin") - 30 )) >"$WORK/truncated.bin"
  kcat -P -b "$BROKERS" -t drover.jobs -k t-truncated "$WORK/truncated.bin"
  RC=0; OUT=$("$PRODUCER" deploy --package acme --accounts 333 --regions us-east-1 --deployment-id d-after-garbage --wait-timeout 120 2>&1) || RC=$?
  [ "$RC" -eq 0 ] || fail "deploy after garbage exited $RC: $OUT"
  for _ in $(seq 1 50); do grep -q "event=job.malformed" "$WORK"/w[12].log && break; sleep 0.1; done
  grep -q "event=job.malformed" "$WORK"/w[12].log || fail "garbage job was not logged"
  wait_for_rollup d-trn FAILED 30
  [ "$(jq -r ".counts.REJECTED" <<<"$ROLLUP")" = 1 ] || fail "truncated job not REJECTED: $ROLLUP"
  jq -e ".failed_targets[] | select(.reason == \"malformed\")" <<<"$ROLLUP" >/dev/null || fail "no malformed reason: $ROLLUP"
  # d-all is untouched by the damaged copy of its job.
  [ "$(jq -r ".counts.SUCCESS" <<<"$(get /deployments/d-all)")" = 120 ] || fail "d-all changed"
'

test_expect_success CURL,JQ 'workers serve /healthz and Prometheus /metrics counting the jobs they ran' '
  for w in w1 w2; do
    port=$(http_port_of "$WORK/$w.log")
    [ "$(curl -sS --max-time 5 "http://127.0.0.1:$port/healthz")" = ok ] || fail "$w /healthz"
    curl -sS --max-time 5 "http://127.0.0.1:$port/metrics" >"$WORK/$w.metrics" || fail "$w /metrics"
    grep -q "^# TYPE drover_worker_jobs_total counter" "$WORK/$w.metrics" || fail "$w metrics lack jobs_total: $(head -20 "$WORK/$w.metrics")"
  done
  ran=$(cat "$WORK"/w[12].metrics | awk "/^drover_worker_jobs_total\{/ && /state=\"SUCCESS\"/ {s += \$2} END {print s + 0}")
  [ "$ran" -ge 120 ] || fail "workers'\'' metrics count $ran successful jobs, want >= 120"
'

test_done
