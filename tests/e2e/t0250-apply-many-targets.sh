#!/usr/bin/env bash
# One apply, many targets: the job runs on each --target-root, a few at a
# time, each target gets its own result, the zip is fetched once, and one bad
# target makes the whole run fail without stopping the others.
. "$(dirname "$0")/apply_lib.sh"

simple_package fleet 1.0
make_version fleet 1.0
start_http
roots=()
for i in $(seq 1 20); do roots+=(--target-root "$(new_target "t-$i")"); done

test_expect_success 'one apply over 20 targets, 4 at a time: each gets its own result, and the zip is fetched once' '
  apply "${roots[1]}" "${roots[@]:2}" --package fleet --manifest "$BASE_URL/fleet/1.0/manifest.json" --concurrency 4
  expect_rc 0
  expect_out "total: 20 targets: 20 SUCCESS, 0 FAILED, 0 TIMED_OUT, 0 REJECTED"
  for i in $(seq 1 20); do expect_installed "$TARGETS/t-$i" fleet 1.0; expect_out "target: t-$i"; done
  [ "$(grep -c "^GET /fleet/1.0/pkg.zip " "$WORK/http.log")" -eq 1 ] || fail "zip fetched more than once"
'

test_expect_success 'a missing target root is REJECTED, the others still succeed, and the run fails' '
  apply "$TARGETS/t-1" --target-root "$WORK/no-such-target" --target-root "$TARGETS/t-2" --package fleet \
    --manifest "$BASE_URL/fleet/1.0/manifest.json" --action uninstall
  expect_rc 3
  expect_out "total: 3 targets: 2 SUCCESS, 0 FAILED, 0 TIMED_OUT, 1 REJECTED"
  expect_out "target root '\''$WORK/no-such-target'\'' is not a directory"
  expect_installed "$TARGETS/t-1" fleet none; expect_installed "$TARGETS/t-2" fleet none
'

test_expect_success '--target-id with several targets is a usage error' '
  apply "$TARGETS/t-3" --target-root "$TARGETS/t-4" --target-id x --package fleet --manifest "$BASE_URL/fleet/1.0/manifest.json"
  expect_rc 2; expect_out "--target-id names one target"
'

test_done
