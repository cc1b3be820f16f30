#!/usr/bin/env bash
# The command-line contract every program keeps (docs/cli.md): a bad flag,
# a bad --log-level and a stray argument are refused alike (three lines on
# stderr: "PROGRAM: what is wrong", the usage's first line, where --help is;
# exit 2), --help exits 0 and ends with the one table of exit codes, which
# docs/cli.md states too; -o json of every list and show verb (and of
# deploy --no-wait) parses and has the documented fields, -o wide has more
# columns; deploy's live line, under a pseudo-terminal, shows a percentage
# and an ETA within the width, and --quiet turns it off; and the bash
# completion each program prints completes verbs, flags and their values.
. "$(dirname "$0")/lib.sh"

BROKER="$DROVER_BUILD_DIR/drover-broker"
AGGREGATOR="$DROVER_BUILD_DIR/drover-aggregator"
MESSAGES="$DROVER_BUILD_DIR/drover_test_messages"
CLI_DOC="${DROVER_SOURCE_DIR:?set DROVER_SOURCE_DIR to the source tree}/docs/cli.md"
test_lazy_prereq SCRIPT 'command -v script'

# Every program and every verb, as command lines: the producer's verbs from its own --help.
commands=("$BROKER" "$AGGREGATOR" "$WORKER apply" "$WORKER run" "$PRODUCER" "$WORKER")
while read -r name; do
  commands+=("$PRODUCER $name")
done < <("$PRODUCER" --help | sed -n "/^commands:/,/^\$/s/^  \(.\{20\}\) .*/\1/p" | sed "s/ *\$//")

# refused_alike WHAT CMD...: CMD exits 2 with nothing on stdout and three lines on stderr:
# "drover-...: WHAT", the usage line, "(--help lists every setting)".
refused_alike() {
  local want=$1; shift
  RC=0
  "$@" >"$WORK/out" 2>"$WORK/err" || RC=$?
  [ "$RC" -eq 2 ] || fail "$*: exit $RC, want 2: $(cat "$WORK/err")"
  [ ! -s "$WORK/out" ] || fail "$*: refused with something on stdout: $(cat "$WORK/out")"
  mapfile -t lines <"$WORK/err"
  [ "${#lines[@]}" -eq 3 ] && [[ ${lines[0]} =~ ^drover-[a-z]+(\ [a-z]+)?:\ $want ]] &&
    [[ ${lines[1]} == "usage: drover-"* ]] && [ "${lines[2]}" = "(--help lists every setting)" ] ||
    fail "$*: refused otherwise than every program: $(cat "$WORK/err")"
}

test_expect_success 'every program and verb refuses an unknown flag, a bad --log-level and a stray argument alike (exit 2)' '
  [ "${#commands[@]}" -gt 25 ] || fail "the producer lists too few verbs: ${commands[*]}"
  for command in "${commands[@]}"; do
    refused_alike "unknown flag '"'"'--no-such-flag'"'"'" $command --no-such-flag
    case $command in *" keys id" | *" completion") continue ;; esac # any number of files; a shell, no settings
    case $command in "$PRODUCER" | "$WORKER") continue ;; esac # no verb: a stray word is an unknown one
    refused_alike "log-level: '"'"'loud'"'"' is not debug, info, warn or error" $command --log-level loud
    refused_alike "unexpected argument '"'"'stray-" $command stray-1 stray-2 stray-3
  done
  refused_alike "unknown command '"'"'frob'"'"'" "$PRODUCER" frob
  refused_alike "unknown verb '"'"'frob'"'"'" "$WORKER" frob
'

test_expect_success '--help exits 0 everywhere and ends with the exit codes docs/cli.md states' '
  # The table of docs/cli.md: "| 3 | `rejected (nothing ran)` | ..." rows.
  table=$(sed -n "s/^| \([0-9]*\) | \`\([^\`]*\)\` |.*/  \1  \2/p" "$CLI_DOC")
  [ "$(wc -l <<<"$table")" -ge 6 ] || fail "docs/cli.md has no table of exit codes: $table"
  for command in "${commands[@]}"; do
    expect_ok $command --help
    listed=$(sed -n "/^Exit status (the same in every Drover program/,\$p" <<<"$OUT" | sed 1d)
    [ "$listed" = "$table" ] || fail "$command --help lists other exit codes than docs/cli.md:
$listed
docs/cli.md:
$table"
  done
'

# ---- -o json and -o wide, on the embedded broker ----
BROKER_PID=
TTY_PID=
stop_broker() {
  if [ -n "$TTY_PID" ]; then kill -TERM "$TTY_PID" 2>/dev/null || true; wait "$TTY_PID" 2>/dev/null || true; fi
  if [ -n "$BROKER_PID" ]; then kill -TERM "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap stop_broker EXIT
test_expect_success 'set-up: a broker, a published package, two targets, a deployment and its rollup, an association' '
  "$BROKER" --partitions 2 --address-file "$WORK/broker.addr" >"$WORK/broker.out" 2>"$WORK/broker.log" &
  BROKER_PID=$!
  for _ in $(seq 1 200); do [ -s "$WORK/broker.addr" ] && break; sleep 0.05; done
  [ -s "$WORK/broker.addr" ] || fail "the broker wrote no address: $(cat "$WORK/broker.log")"
  export DROVER_BROKERS
  DROVER_BROKERS=$(cat "$WORK/broker.addr")
  mkdir -p "$WORK/src/_any@_any@_any"
  printf "#!/bin/sh\n" >"$WORK/src/_any@_any@_any/install.sh"
  printf "#!/bin/sh\n" >"$WORK/src/_any@_any@_any/uninstall.sh"
  expect_ok "$PRODUCER" package build "$WORK/src" --name acme --version 1.0 --out "$WORK/pkg"
  expect_ok "$PRODUCER" package publish --name acme --manifest "$WORK/pkg/manifest.json" --artifacts "file://$WORK/pkg"
  expect_ok "$PRODUCER" target register --id web-1 --account 111 --region eu-west-1 --platform ubuntu \
    --platform-version 22.04 --arch x86_64 --tag Env=prod --id-like debian
  expect_ok "$PRODUCER" target register --id web-2 --account 111 --region eu-west-1 --platform ubuntu \
    --platform-version 22.04 --arch x86_64 --executor ssh --address "root@web-2"
  expect_ok "$PRODUCER" deploy --package acme --targets web-1,web-2 --deployment-id d-1 --no-wait -o json
  DEPLOYED=$OUT
  "$MESSAGES" rollup d-1 FAILED 2 SUCCESS=1 FAILED=1 "failed=web-2:FAILED:script-failed:install.sh exited 3"
  expect_ok "$PRODUCER" association create --name nightly --package acme --all --schedule "rate(2 days)" --no-run-on-create
'

# has_fields JSON FIELD...: JSON (one object) parses and has every FIELD.
has_fields() {
  local json=$1; shift
  for field in "$@"; do
    jq -e --arg f "$field" "has(\$f)" <<<"$json" >/dev/null || fail "no field $field in: $json"
  done
}

test_expect_success JQ 'deploy --no-wait -o json: one object, the deployment published and no rollup' '
  [ "$(wc -l <<<"$DEPLOYED")" = 1 ] || fail "deploy -o json printed more than one line: $DEPLOYED"
  has_fields "$DEPLOYED" deployment_id package version action installation_type selection jobs rollup
  jq -e ".deployment_id == \"d-1\" and .jobs == 2 and .rollup == null and .selection.target_ids == [\"web-1\", \"web-2\"]" \
    <<<"$DEPLOYED" >/dev/null || fail "deploy -o json: $DEPLOYED"
'

test_expect_success JQ 'the list verbs print an object per item with the documented fields' '
  expect_ok "$PRODUCER" package list -o json
  has_fields "$OUT" name default_version versions error
  jq -e ".name == \"acme\" and .versions[0].default and (.versions[0] | has(\"manifest_sha256\") and has(\"artifacts_url\") and has(\"published_at\"))" \
    <<<"$OUT" >/dev/null || fail "package list -o json: $OUT"
  expect_ok "$PRODUCER" target list -o json
  [ "$(wc -l <<<"$OUT")" = 2 ] || fail "target list -o json: not one line per target: $OUT"
  has_fields "$(head -1 <<<"$OUT")" id account region platform platform_version arch tags id_like executor address
  jq -s -e ".[0].tags.Env == \"prod\" and .[0].id_like == [\"debian\"] and .[1].executor == \"ssh\"" <<<"$OUT" >/dev/null ||
    fail "target list -o json: $OUT"
  jq -s . <<<"$OUT" >"$WORK/targets.json"
  expect_ok "$PRODUCER" target register --file "$WORK/targets.json"
  grep -qx "registered 2 targets" <<<"$OUT" || fail "target list -o json is not a file target register takes: $OUT"
  expect_ok "$PRODUCER" deployment list -o json
  has_fields "$OUT" deployment_id created_at package version action installation_type status done total_jobs created_by \
    association_id selection
  jq -e ".deployment_id == \"d-1\" and .status == \"FAILED\" and .done == 2" <<<"$OUT" >/dev/null || fail "deployment list -o json: $OUT"
  expect_ok "$PRODUCER" association list -o json
  has_fields "$OUT" association_id name package version action installation_type arguments selection max_concurrency \
    max_errors schedule run_on_create run_on_default_change run_on_launch created_at last_run_at last_deployment_id last_run_version
  expect_ok "$PRODUCER" fleet --package acme -o json
  [ "$(wc -l <<<"$OUT")" = 2 ] || fail "fleet -o json: not one line per target: $OUT"
  has_fields "$(head -1 <<<"$OUT")" package target_id account region version installed_at deployment_id drifted drift_repaired
'

test_expect_success JQ 'the show verbs print one object with the documented fields' '
  expect_ok "$PRODUCER" deployment show d-1 -o json
  has_fields "$OUT" deployment_id request rollup
  jq -e ".request.package == \"acme\" and .rollup.status == \"FAILED\" and .rollup.counts.SUCCESS == 1 and
         .rollup.failed_targets[0].target_id == \"web-2\" and .rollup.percent == 100" <<<"$OUT" >/dev/null ||
    fail "deployment show -o json: $OUT"
  has_fields "$(jq -c .rollup <<<"$OUT")" deployment_id status package version total_jobs expected_jobs done percent counts \
    started_at updated_at finished_at locations failed_targets
  expect_ok "$PRODUCER" association show nightly -o json
  jq -e ".association_id == \"nightly\" and .schedule == \"rate(2 days)\" and (.next_runs | length) == 3" <<<"$OUT" >/dev/null ||
    fail "association show -o json: $OUT"
'

test_expect_success JQ 'deploy -o json, followed to its end: nothing until then, then one object with the last rollup' '
  "$PRODUCER" deploy --package acme --targets web-1 --deployment-id d-json -o json >"$WORK/d-json.out" 2>"$WORK/d-json.err" &
  pid=$!
  # Once the deployment is in Kafka, deploy is following: its watch opens before it publishes.
  for _ in $(seq 1 200); do "$PRODUCER" deployment show d-json >/dev/null 2>&1 && break; sleep 0.1; done
  [ ! -s "$WORK/d-json.out" ] || fail "deploy -o json printed before the end: $(cat "$WORK/d-json.out")"
  "$MESSAGES" rollup d-json SUCCESS 1 SUCCESS=1
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "deploy -o json exited $rc: $(cat "$WORK/d-json.out" "$WORK/d-json.err")"
  [ "$(wc -l <"$WORK/d-json.out")" = 1 ] || fail "deploy -o json printed more than one line: $(cat "$WORK/d-json.out")"
  jq -e ".deployment_id == \"d-json\" and .jobs == 1 and .rollup.status == \"SUCCESS\" and .rollup.counts.SUCCESS == 1" \
    "$WORK/d-json.out" >/dev/null || fail "deploy -o json: $(cat "$WORK/d-json.out")"
'

test_expect_success '-o wide adds columns to the list tables; a format a verb lacks is refused (2)' '
  expect_ok "$PRODUCER" target list -o wide
  grep -qE "^ID +ACCOUNT +REGION +PLATFORM +VERSION +ARCH +ID_LIKE +EXECUTOR +ADDRESS +TAGS\$" <<<"$OUT" || fail "target list -o wide: $OUT"
  grep -qE "^web-2 .* ssh +root@web-2 +-\$" <<<"$OUT" || fail "target list -o wide: $OUT"
  expect_ok "$PRODUCER" deployment list -o wide
  grep -qE "^d-1 .* reinstall .*targets web-1,web-2\$" <<<"$OUT" || fail "deployment list -o wide: $OUT"
  expect_ok "$PRODUCER" package list -o wide
  grep -q "sha256:" <<<"$OUT" || fail "package list -o wide: $OUT"
  expect_ok "$PRODUCER" association list -o wide
  grep -q "nightly .* install .* all" <<<"$OUT" || fail "association list -o wide: $OUT"
  expect_fail_with "--output: '"'"'wide'"'"' is not table or json" "$PRODUCER" deployment show d-1 -o wide
  [ "$RC" -eq 2 ] || fail "deployment show -o wide: exit $RC"
  expect_fail_with "is not table, wide or json" "$PRODUCER" target list -o yaml
'

# ---- deploy's live line ----
# follow_in_tty NAME COLUMNS ARGS...: deploy NAME under a pseudo-terminal (script) of COLUMNS columns,
# in the background; the rollups come from drover_test_messages.  Its output (stdout and stderr) is in $WORK/NAME.tty.
follow_in_tty() {
  local name=$1 columns=$2; shift 2
  COLUMNS=$columns script -q -e -f -c "$PRODUCER deploy --package acme --targets web-1,web-2 --deployment-id $name --wait-timeout 60 $*" \
    "$WORK/$name.tty" </dev/null >/dev/null 2>&1 &
  TTY_PID=$!
  for _ in $(seq 1 400); do grep -q " published: " "$WORK/$name.tty" 2>/dev/null && return 0; sleep 0.05; done
  kill -TERM "$TTY_PID" 2>/dev/null || true
  fail "deploy $name did not publish: $(cat "$WORK/$name.tty")"
}
finish_tty() {
  "$MESSAGES" rollup "$1" IN_PROGRESS 2 SUCCESS=1 IN_PROGRESS=1
  for _ in $(seq 1 100); do grep -q "ETA [0-9]" "$WORK/$1.tty" && break; grep -q "SUCCESS 1" "$WORK/$1.tty" && break; sleep 0.05; done
  "$MESSAGES" rollup "$1" SUCCESS 2 SUCCESS=2
  local rc=0
  wait "$TTY_PID" || rc=$?
  [ "$rc" -eq 0 ] || fail "deploy $1 under a terminal exited $rc: $(cat "$WORK/$1.tty")"
}

test_expect_success SCRIPT 'on a terminal deploy redraws one line with a percentage and an ETA, within the width' '
  follow_in_tty d-tty 72
  finish_tty d-tty
  tr "\r" "\n" <"$WORK/d-tty.tty" | sed "s/\x1b\[K//g" >"$WORK/d-tty.lines"
  grep -qE "^\[#+\.+\] +50%  1/2  SUCCESS 1  IN_PROGRESS 1  elapsed [0-9]+s  ETA [0-9]+s *\$" "$WORK/d-tty.lines" ||
    fail "no live line with 50% and an ETA: $(cat -v "$WORK/d-tty.tty")"
  grep -qE "^\[#+\] 100%  2/2  SUCCESS 2" "$WORK/d-tty.lines" || fail "no final live line: $(cat -v "$WORK/d-tty.tty")"
  grep -q $'"'"'\r'"'"' "$WORK/d-tty.tty" || fail "the line is not redrawn in place: $(cat -v "$WORK/d-tty.tty")"
  long=$(grep "%" "$WORK/d-tty.lines" | awk "length > 71")
  [ -z "$long" ] || fail "a live line wider than the terminal (72): $long"
'

test_expect_success SCRIPT 'in a narrow terminal the line gives up its parts, the percentage and ETA last; --quiet draws none' '
  follow_in_tty d-narrow 16
  finish_tty d-narrow
  tr "\r" "\n" <"$WORK/d-narrow.tty" | sed "s/\x1b\[K//g" >"$WORK/d-narrow.lines"
  grep -qE "^ +50%  ETA [0-9]+s *\$" "$WORK/d-narrow.lines" || fail "no narrow live line: $(cat -v "$WORK/d-narrow.tty")"
  follow_in_tty d-quiet 80 --quiet
  finish_tty d-quiet
  ! grep -q "ETA\|%" "$WORK/d-quiet.tty" || fail "--quiet drew progress: $(cat -v "$WORK/d-quiet.tty")"
  grep -q "deployment d-quiet: SUCCESS" "$WORK/d-quiet.tty" || fail "--quiet left out the report: $(cat -v "$WORK/d-quiet.tty")"
'

# ---- bash completion ----
# complete_words PROGRAM WORD...: what PROGRAM's completion offers for the last WORD, as bash would ask.
complete_words() {
  local program=$1; shift
  "$program" completion bash >"$WORK/completion.bash"
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); fn=_${1//-/_}; "$fn"; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$WORK/completion.bash" "$(basename "$program")" "$@"
}

test_expect_success 'each program prints a bash completion of its verbs, flags and their values' '
  [ "$(complete_words "$PRODUCER" dep | xargs)" = "deploy deployment" ] || fail "verbs: $(complete_words "$PRODUCER" dep)"
  [ "$(complete_words "$PRODUCER" deployment l | xargs)" = "list" ] || fail "a verb of a command"
  [ "$(complete_words "$PRODUCER" deploy --no-w | xargs)" = "--no-wait" ] || fail "a flag: $(complete_words "$PRODUCER" deploy --no-w)"
  [ "$(complete_words "$PRODUCER" deployment list -o "" | xargs)" = "table wide json" ] || fail "-o values"
  [ "$(complete_words "$PRODUCER" deployment show --output "" | xargs)" = "table json" ] || fail "show has no wide"
  [ "$(complete_words "$WORKER" apply --log-level w | xargs)" = "warn" ] || fail "a log level"
  [ "$(complete_words "$WORKER" apply --installation-type "" | xargs)" = "reinstall in-place" ] || fail "a value"
  [ "$(complete_words "$BROKER" --parti | xargs)" = "--partitions" ] || fail "the broker: $(complete_words "$BROKER" --parti)"
  [ "$(complete_words "$AGGREGATOR" --exit | xargs)" = "--exit-when-caught-up" ] || fail "the aggregator"
  expect_fail_with "'"'"'zsh'"'"' is not a shell it knows" "$PRODUCER" completion zsh
'

test_done
