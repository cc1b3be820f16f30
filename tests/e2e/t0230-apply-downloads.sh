#!/usr/bin/env bash
# Downloads: a 404, a stalled server, a connection cut half way (resumed),
# the content-addressed cache (one download however many targets), and two
# concurrent installs sharing one download.  In every case nothing outside
# the target changes but the cache and the server's log.
. "$(dirname "$0")/apply_lib.sh"

simple_package big 1.0
head -c $((2 * 1024 * 1024)) /dev/urandom >"$WORK/src/big-1.0/payload.bin"
make_version big 1.0
# Same zip under other names, for the cut and stall cases.
for name in cut stall; do
  mkdir -p "$REPO/$name"; cp "$REPO/big/1.0/pkg.zip" "$REPO/$name/pkg.zip"
done
start_http --cut-once cut/pkg.zip --stall stall/pkg.zip
M="$BASE_URL/big/1.0/manifest.json"
downloads() { grep -c "^GET /$1 " "$WORK/http.log" || true; }

test_expect_success 'a 404 is final at once: FAILED fetch-not-found, not retried, nothing changed' '
  T=$(new_target t-404)
  before=$(snapshot_outside "$T")
  apply "$T" --package big --manifest "$M" --artifacts "$BASE_URL/nothing-here"
  expect_rc 1; expect_out "reason: fetch-not-found"; expect_out "/nothing-here/pkg.zip"
  [ "$(downloads nothing-here/pkg.zip)" -eq 1 ] || fail "404 was retried"
  expect_installed "$T" big none
  expect_same_outside "$T" "$before"
'

test_expect_success 'a stalled download is abandoned after the stall timeout, retried, then FAILED fetch-timeout' '
  T=$(new_target t-stall)
  before=$(snapshot_outside "$T")
  start=$(date +%s)
  apply "$T" --package big --manifest "$M" --artifacts "$BASE_URL/stall" --fetch-stall-timeout 1 --fetch-attempts 2
  expect_rc 1; expect_out "reason: fetch-timeout"
  [ $(( $(date +%s) - start )) -lt 20 ] || fail "stall detection took too long"
  [ "$(downloads stall/pkg.zip)" -eq 2 ] || fail "expected 2 attempts on the stalled URL, log: $(cat "$WORK/http.log")"
  expect_installed "$T" big none
  expect_same_outside "$T" "$before"
'

test_expect_success 'a download cut half way is resumed with a Range request, and the hash verifies' '
  T=$(new_target t-cut)
  before=$(snapshot_outside "$T")
  apply "$T" --package big --manifest "$M" --artifacts "$BASE_URL/cut"
  expect_rc 0; expect_installed "$T" big 1.0
  grep -q "^GET /cut/pkg.zip range=bytes=[1-9][0-9]*- status=206" "$WORK/http.log" || fail "no resumed request: $(cat "$WORK/http.log")"
  cmp -s "$T/var/lib/drover/packages/big/versions/"*/payload.bin "$WORK/src/big-1.0/payload.bin" || fail "resumed payload differs"
  expect_same_outside "$T" "$before"
'

test_expect_success 'the cache is content-addressed: ten more targets install the zip without fetching it' '
  downloaded=$(downloads big/1.0/pkg.zip)
  for i in $(seq 1 10); do
    T=$(new_target "t-cached-$i")
    before=$(snapshot_outside "$T")
    apply "$T" --package big --manifest "$M" --artifacts "$BASE_URL/big/1.0"
    expect_rc 0; expect_installed "$T" big 1.0
    expect_same_outside "$T" "$before"
  done
  [ "$(downloads big/1.0/pkg.zip)" -eq "$downloaded" ] || fail "cached zip was downloaded again"
'

test_expect_success 'two concurrent installs of a new zip on two targets share one download' '
  simple_package shared 1.0
  head -c $((4 * 1024 * 1024)) /dev/urandom >"$WORK/src/shared-1.0/payload.bin"
  make_version shared 1.0
  kill "$HTTP_PID"; wait "$HTTP_PID" 2>/dev/null || true
  start_http --delay-ms 300
  A=$(new_target t-shared-a); B=$(new_target t-shared-b)
  : >"$WORK/a.out"; : >"$WORK/b.out" # the test'\''s own, made before the snapshot
  before=$(snapshot_outside "$A" "$B" "$WORK/a.out" "$WORK/b.out")
  args=(--package shared --manifest "$BASE_URL/shared/1.0/manifest.json" --artifacts "$BASE_URL/shared/1.0"
        --cache-dir "$CACHE" --platform ubuntu --platform-version 22.04 --arch x86_64)
  "$WORKER" apply --target-root "$A" "${args[@]}" >"$WORK/a.out" 2>&1 & pa=$!
  "$WORKER" apply --target-root "$B" "${args[@]}" >"$WORK/b.out" 2>&1 & pb=$!
  wait $pa || fail "install on A failed: $(cat "$WORK/a.out")"
  wait $pb || fail "install on B failed: $(cat "$WORK/b.out")"
  [ "$(downloads shared/1.0/pkg.zip)" -eq 1 ] || fail "concurrent installs downloaded $(downloads shared/1.0/pkg.zip) times"
  expect_installed "$A" shared 1.0; expect_installed "$B" shared 1.0
  expect_same_outside "$A" "$B" "$WORK/a.out" "$WORK/b.out" "$before"
'

test_done
