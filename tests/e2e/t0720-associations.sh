#!/usr/bin/env bash
# Associations, end to end on the embedded broker with the control plane,
# two workers and the aggregator: a cron association runs at its tick and
# not before (the control plane's schedule clock is shifted so the tick is
# seconds away); an association runs on creation, and again, in place, when
# the package's default version changes; a launched target gets the
# package of a matching on-launch association within seconds (and one that
# matches nothing gets nothing); terminate removes a target; list, show and
# delete.  (The aggregator is read with curl and jq: prerequisites CURL, JQ.)
. "$(dirname "$0")/pipeline_lib.sh"

for v in 1.0 2.0; do
  write_script agent "$v" install.sh 'mkdir -p "$DROVER_TARGET_ROOT/opt/agent"; echo "$DROVER_VERSION" > "$DROVER_TARGET_ROOT/opt/agent/version"'
  write_script agent "$v" update.sh 'echo "$DROVER_VERSION" > "$DROVER_TARGET_ROOT/opt/agent/version"; echo updated >> "$DROVER_TARGET_ROOT/opt/agent/updates"'
  write_script agent "$v" uninstall.sh 'rm -rf "$DROVER_TARGET_ROOT/opt/agent"'
  make_version agent "$v"
done
start_http
start_broker
start_aggregator
start_worker w1 --concurrency 4
start_worker w2 --concurrency 4
export DROVER_BROKERS="$BROKERS"

"$PRODUCER" package publish --name agent --manifest "$BASE_URL/agent/1.0/manifest.json" --artifacts "$BASE_URL/agent/1.0" >/dev/null
{ echo "id,account,region,platform,platform_version,arch,tags"
  for g in c a; do for i in 1 2 3; do echo "$g-$i,111,eu-west-1,ubuntu,22.04,x86_64,group=$g"; done; done; } >"$WORK/targets.csv"
"$PRODUCER" target register --file "$WORK/targets.csv" >/dev/null
version_on() { cat "$TARGETS/$1/opt/agent/version" 2>/dev/null || echo none; }
# deployment_of PREFIX: the first deployment id the aggregator knows that starts with PREFIX.
deployment_of() { get /deployments | jq -r --arg p "$1" '[.[] | select(.deployment_id | startswith($p))][0].deployment_id // empty'; }
wait_deployment_of() {
  local i id
  for i in $(seq 1 $(( $2 * 5 ))); do id=$(deployment_of "$1"); [ -n "$id" ] && { DEP=$id; return 0; }; sleep 0.2; done
  fail "no deployment $1* within $2 s: $(tail -5 "$CP_LOG")"
}
# cp_serving: the control plane has caught up and holds the associations' partitions.
cp_serving() { grep -q "event=serve.synced" "$CP_LOG" && grep -q "event=serve.partition_assigned topic=drover.associations " "$CP_LOG"; }

# ---- cron: runs at its tick, not before ----
# The association is created first, while no control plane runs: its first
# tick is then known (B, the minute after its creation, as dr_schedule_next
# counts), and the control plane starts with its schedule clock shifted so
# that B comes 12 s from now (time enough for the steps below on a loaded
# machine).  (This replaces waiting for a wall-clock instant before creating it.)
test_expect_success 'set-up: a cron association (every minute) is created; a control plane starts whose clock reaches its first tick in 12 s' '
  expect_ok "$PRODUCER" association create --name every-minute --package agent --tag group=c \
    --schedule "cron(* * * * *)" --no-run-on-create
  expect_ok "$PRODUCER" association show every-minute
  created=$(sed -n "s/^  created //p" <<<"$OUT")
  [ -n "$created" ] || fail "association show gave no creation time: $OUT"
  created_s=$(date -u -d "$created" +%s)
  B=$(( (created_s / 60 + 1) * 60000 ))
  t0=$(date +%s%3N)
  OFFSET=$((B - t0 - 12000))
  start_control_plane cp1 --schedule-clock-offset-ms "$OFFSET"
'

test_expect_success CURL,JQ 'the cron association does not run before its tick' '
  for _ in $(seq 1 200); do cp_serving && break; sleep 0.1; done
  cp_serving || fail "the control plane did not catch up and take the associations'\'' partitions in 20 s: $(tail -5 "$CP_LOG")"
  wait_taken every-minute
  # The behaviour'"'"'s own window, not a wait for an event: a tick that runs
  # nothing leaves no sign, so it must not have run in the second after it
  # was taken (ticks come after every poll of the control plane'"'"'s loop).
  sleep 1
  [ -z "$(deployment_of every-minute.)" ] || [ "$(date +%s%3N)" -ge $((t0 + 12000)) ] || fail "the cron association ran before its tick"
'

test_expect_success CURL,JQ 'the cron association runs at its tick, as the deployment named by it, on its own targets' '
  wait_deployment_of every-minute.s 20
  [ "$DEP" = "every-minute.s$((B / 1000))" ] || fail "the cron run is $DEP, want the tick every-minute.s$((B / 1000))"
  wait_for_rollup "$DEP" SUCCESS 30
  # Its first event was written at the tick or after, on the schedule'\''s clock.
  started=$(jq -r .started_at_ms <<<"$ROLLUP")
  [ $((started + OFFSET)) -ge "$B" ] || fail "the cron run started at $((started + OFFSET)) on the schedule clock, before its tick $B"
  for t in c-1 c-2 c-3; do [ "$(version_on $t)" = 1.0 ] || fail "$t has $(version_on $t)"; done
  [ "$(version_on a-1)" = none ] || fail "the cron run reached a-1"
'

# ---- runs on creation, then on a default-version change, in place ----
test_expect_success CURL,JQ 'an association runs on creation' '
  expect_ok "$PRODUCER" association create --name base --package agent --version default --tag group=a \
    --run-on-default-change --installation-type in-place
  wait_deployment_of base.c 10
  wait_for_rollup "$DEP" SUCCESS 30
  for t in a-1 a-2 a-3; do [ "$(version_on $t)" = 1.0 ] || fail "$t has $(version_on $t) after the create run"; done
'

test_expect_success CURL,JQ 'it runs again, in place, when the package'\''s default version changes; show names that last run' '
  "$PRODUCER" package publish --name agent --manifest "$BASE_URL/agent/2.0/manifest.json" --artifacts "$BASE_URL/agent/2.0" >/dev/null
  expect_ok "$PRODUCER" package set-default agent 2.0
  wait_deployment_of base.d 10
  wait_for_rollup "$DEP" SUCCESS 30
  for t in a-1 a-2 a-3; do
    [ "$(version_on $t)" = 2.0 ] || fail "$t has $(version_on $t) after the default changed"
    [ "$(cat "$TARGETS/$t/opt/agent/updates")" = updated ] || fail "$t was not updated in place"
  done
  expect_ok "$PRODUCER" association show base
  grep -q "last run .* $DEP 2.0" <<<"$OUT" || fail "show does not name the last run: $OUT"
'

# ---- launch ----
test_expect_success CURL,JQ 'a launched target matching an on-launch association gets its package within 3 s; one matching none, nothing' '
  expect_ok "$PRODUCER" association create --name new-hosts --package agent --tag group=l --run-on-launch --no-run-on-create
  # A launch handled before the control plane has taken the association in matches nothing.
  wait_taken new-hosts
  start_ms=$(date +%s%3N)
  expect_ok "$PRODUCER" target launch --id l-1 --account 222 --region us-east-1 --platform ubuntu \
    --platform-version 22.04 --arch x86_64 --tag group=l
  expect_ok "$PRODUCER" target launch --id z-1 --account 222 --region us-east-1 --platform ubuntu \
    --platform-version 22.04 --arch x86_64 --tag group=z
  for _ in $(seq 1 100); do [ "$(version_on l-1)" != none ] && break; sleep 0.1; done
  took=$(( $(date +%s%3N) - start_ms ))
  [ "$(version_on l-1)" = 2.0 ] || fail "the launched target did not get the package: $(tail -5 "$CP_LOG")"
  echo "launched target installed ${took} ms after the launch event"
  [ "$took" -lt 3000 ] || fail "the launched target waited $took ms"
  [ "$(version_on z-1)" = none ] || fail "a target matching no association got the package"
'

test_expect_success CURL,JQ 'launched targets are in the inventory; a terminated one leaves it' '
  # The holder of the event'\''s partition registers it as it takes it: z-1 (no association) may come after l-1 ran.
  for _ in $(seq 1 100); do
    expect_ok "$PRODUCER" target list
    grep -q "^l-1 " <<<"$OUT" && grep -q "^z-1 " <<<"$OUT" && break
    sleep 0.1
  done
  grep -q "^l-1 " <<<"$OUT" && grep -q "^z-1 " <<<"$OUT" || fail "launched targets are not in the inventory: $OUT"
  expect_ok "$PRODUCER" target terminate --id z-1
  for _ in $(seq 1 50); do grep -q "^z-1 " <<<"$("$PRODUCER" target list)" || break; sleep 0.1; done
  ! grep -q "^z-1 " <<<"$("$PRODUCER" target list)" || fail "a terminated target stayed in the inventory"
'

# ---- nothing lost: a launch while no control plane runs ----
test_expect_success CURL,JQ 'a target launched while no control plane runs is registered and gets its package when one comes back, once' '
  kill -TERM "$CP_PID"; wait "$CP_PID" 2>/dev/null || true
  expect_ok "$PRODUCER" target launch --id l-2 --account 222 --region us-east-1 --platform ubuntu \
    --platform-version 22.04 --arch x86_64 --tag group=l
  sleep 1
  [ "$(version_on l-2)" = none ] || fail "l-2 got the package with no control plane running"
  start_control_plane cp2 --schedule-clock-offset-ms "$OFFSET"
  for _ in $(seq 1 300); do [ "$(version_on l-2)" != none ] && break; sleep 0.1; done
  [ "$(version_on l-2)" = 2.0 ] || fail "the target launched while no control plane ran did not get the package: $(tail -5 "$CP_LOG")"
  grep -q "^l-2 " <<<"$("$PRODUCER" target list)" || fail "l-2 is not in the inventory"
  runs=$(grep -c "event=association.run association=new-hosts deployment=new-hosts.ll-2-" "$CP_LOG" || true)
  [ "$runs" = 1 ] || fail "cp2 ran new-hosts for l-2 $runs times"
  # Acted on and committed: the next replica does not act on it again.
  kill -TERM "$CP_PID"; wait "$CP_PID" 2>/dev/null || true
  start_control_plane cp3 --schedule-clock-offset-ms "$OFFSET"
  for _ in $(seq 1 200); do grep -q "event=serve.events_assigned" "$CP_LOG" && break; sleep 0.1; done
  grep -q "event=serve.events_assigned" "$CP_LOG" || fail "cp3 never held the events partitions: $(tail -5 "$CP_LOG")"
  sleep 2
  ! grep -q "association=new-hosts deployment=new-hosts.ll-2-" "$CP_LOG" || fail "cp3 acted on the launch of l-2 again"
'

# ---- list, delete ----
test_expect_success CURL,JQ 'association list shows each, delete removes one; show of an unknown one and bad create flags are refused' '
  expect_ok "$PRODUCER" association list
  for a in every-minute base new-hosts; do grep -q "^$a " <<<"$OUT" || fail "list lacks $a: $OUT"; done
  expect_ok "$PRODUCER" association delete every-minute
  expect_ok "$PRODUCER" association list
  ! grep -q "^every-minute " <<<"$OUT" || fail "a deleted association is still listed"
  expect_fail_with "no association has the id '\''nope'\''" "$PRODUCER" association show nope
  expect_fail_with "--run-on-default-change needs --version default" \
    "$PRODUCER" association create --name x --package agent --version 1.0 --all --run-on-default-change
  expect_fail_with "schedule: rate() unit '\''weeks'\'' is not minutes, hours or days" \
    "$PRODUCER" association create --name x --package agent --all --schedule "rate(2 weeks)"
  expect_fail_with "exactly one must be '\''?'\''" \
    "$PRODUCER" association create --name x --package agent --all --schedule "cron(0 2 * * * *)"
'

# ---- State Manager's schedules: show prints the next three runs ----
test_expect_success 'a State Manager schedule (the third Thursday at 02:00) is taken, and show prints its next three runs' '
  expect_ok "$PRODUCER" association create --name third-thursday --package agent --tag group=none \
    --schedule "cron(0 2 ? * THU#3 *)" --no-run-on-create
  expect_ok "$PRODUCER" association show third-thursday
  runs=$(sed -n "s/^  next runs: //p" <<<"$OUT")
  [ "$(tr "," "\n" <<<"$runs" | grep -c .)" = 3 ] || fail "not three next runs: $OUT"
  for t in $(tr -d " " <<<"$runs" | tr "," " "); do
    when=$(date -u -d "$t" "+%u %H:%M %d") || fail "not a time: $t"
    set -- $when
    [ "$1 $2" = "4 02:00" ] && [ "${3#0}" -ge 15 ] && [ "${3#0}" -le 21 ] || fail "$t is not a third Thursday at 02:00"
  done
  expect_ok "$PRODUCER" association delete third-thursday
'

test_done
