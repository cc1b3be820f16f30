#!/usr/bin/env bash
# Every program and command starts the same way (common/base/program.h):
# --help prints the usage and exits 0, a bad flag or a bad --log-level is
# refused with "PROGRAM: what is wrong", the usage's first line and exit 2,
# and --help wins over a bad flag.
. "$(dirname "$0")/lib.sh"

# Each program or command, as a command line.
commands=(
  "$DROVER_BUILD_DIR/drover-broker"
  "$DROVER_BUILD_DIR/drover-aggregator"
  "$DROVER_BUILD_DIR/drover-worker run"
  "$DROVER_BUILD_DIR/drover-worker apply"
  "$DROVER_BUILD_DIR/drover-producer serve"
  "$DROVER_BUILD_DIR/drover-producer deploy"
  "$DROVER_BUILD_DIR/drover-producer package publish"
)

test_expect_success 'a bad --log-level is refused by every program alike (exit 2)' '
  for command in "${commands[@]}"; do
    expect_fail_with "log-level: '"'"'loud'"'"' is not debug, info, warn or error" $command --log-level loud
    [ "$RC" -eq 2 ] || fail "$command --log-level loud: exit $RC, want 2"
    grep -q "^usage: " <<<"$OUT" || fail "$command: no usage line after the error: $OUT"
  done
'

test_expect_success 'an unknown flag is refused by every program alike (exit 2)' '
  for command in "${commands[@]}"; do
    expect_fail_with "no-such-flag" $command --no-such-flag
    [ "$RC" -eq 2 ] || fail "$command --no-such-flag: exit $RC, want 2"
  done
'

test_expect_success '--help prints the settings and exits 0, even beside a bad flag' '
  for command in "${commands[@]}"; do
    expect_ok $command --help --no-such-flag
    grep -q -- "--log-level" <<<"$OUT" || fail "$command --help does not list --log-level: $OUT"
  done
'

test_expect_success 'the producer lists every verb of every command, from the commands'"'"' own tables' '
  expect_ok "$DROVER_BUILD_DIR/drover-producer" --help
  for verb in "package build" "package set-default" "target terminate" "deployment list" "association delete" \
              "keys generate" "topics create" deploy cancel serve; do
    grep -q "^  $verb " <<<"$OUT" || fail "drover-producer --help does not list $verb: $OUT"
  done
  expect_ok "$DROVER_BUILD_DIR/drover-producer" target --help
  grep -q "^  terminate " <<<"$OUT" || fail "target --help does not list terminate: $OUT"
  expect_fail_with "unknown target verb '"'"'frob'"'"'" "$DROVER_BUILD_DIR/drover-producer" target frob
'

test_done
