#!/usr/bin/env bash
# Extraction on a bad day.  A target whose disk fills while a new version is
# unpacked: the job FAILS naming the full disk, the target keeps its
# previous version whole, nothing is left behind, and the next job runs.  A
# worker killed outright in the middle of unpacking, or of a script: the
# target's record is untouched, and the job run again finishes it and
# clears what the killed run left.
# The full disk is a small tmpfs: its case needs the prerequisite TMPFS (root).
. "$(dirname "$0")/apply_lib.sh"
test_lazy_prereq TMPFS 'd=$(mktemp -d) && { mount -t tmpfs -o size=1m drover-prereq "$d"; r=$?; umount "$d"; rmdir "$d"; [ "$r" -eq 0 ]; }'

simple_package tool 1.0
make_version tool 1.0
# 2.0 carries 3 MiB that do not compress: more than the small disk holds.
simple_package tool 2.0
head -c $((3 * 1024 * 1024)) /dev/urandom >"$WORK/src/tool-2.0/blob.bin"
make_version tool 2.0
# 3.0 carries 4000 small files: unpacking takes long enough to be interrupted.
simple_package tool 3.0
mkdir -p "$WORK/src/tool-3.0/many"
for i in $(seq 1 4000); do echo "$i" >"$WORK/src/tool-3.0/many/f$i"; done
make_version tool 3.0
# 4.0's install takes a while, to be killed in the middle.
write_script tool 4.0 install.sh 'echo started >> "$DROVER_TARGET_ROOT/install-4"; sleep 5; mkdir -p "$DROVER_TARGET_ROOT/opt/tool"; echo 4.0 > "$DROVER_TARGET_ROOT/opt/tool/version"'
write_script tool 4.0 uninstall.sh 'rm -rf "$DROVER_TARGET_ROOT/opt/tool"'
make_version tool 4.0
start_http
M() { echo "$BASE_URL/tool/$1/manifest.json"; }
versions_left() { ls -A "$1/var/lib/drover/packages/tool/versions" | tr '\n' ' '; }

# ---- the disk fills while 2.0 is unpacked ----
MNT="$WORK/small-disk"; mkdir -p "$MNT"
trap 'umount "$MNT" 2>/dev/null || true; cleanup' EXIT
test_expect_success TMPFS 'a disk that fills while 2.0 is unpacked: FAILED (reason io), 1.0 kept whole, nothing left, the next job runs' '
  mount -t tmpfs -o size=2m drover-test "$MNT" || fail "cannot mount a 2 MiB tmpfs"
  T="$MNT/t-full"; mkdir -p "$T"
  apply "$T" --package tool --manifest "$(M 1.0)"
  expect_rc 0
  apply "$T" --package tool --manifest "$(M 2.0)"
  expect_rc 1; expect_out "No space left on device"
  grep -q "^reason: io" <<<"$OUT" || fail "the full disk is not reason io: $OUT"
  expect_installed "$T" tool 1.0
  [ "$(cat "$T/opt/tool/version")" = 1.0 ] || fail "1.0'\''s files changed: $(cat "$T/opt/tool/version")"
  [ "$(versions_left "$T")" = "$(ls -A "$T/var/lib/drover/packages/tool/versions" | grep "^1\.0-" | tr "\n" " ")" ] \
    || fail "left behind after the full disk: $(versions_left "$T")"
  # The next job on that target runs as usual.
  apply "$T" --package tool --manifest "$(M 1.0)" --action uninstall
  expect_rc 0
  expect_installed "$T" tool none
  umount "$MNT"
'

# ---- killed while unpacking 3.0 ----
test_expect_success 'killed while unpacking 3.0: the record is untouched; run again, the job finishes and clears what was left' '
  T=$(new_target t-killed-unpacking)
  apply "$T" --package tool --manifest "$(M 1.0)"
  expect_rc 0
  before=$(cat "$T/var/lib/drover/packages/tool/installstate")
  "$WORKER" apply --target-root "$T" --cache-dir "$CACHE" --platform ubuntu --platform-version 22.04 --arch x86_64 \
    --package tool --manifest "$(M 3.0)" --log-level warn >"$WORK/killed.out" 2>&1 &
  pid=$!
  found=
  for _ in $(seq 1 2000); do
    if ls -d "$T"/var/lib/drover/packages/tool/versions/.staging-3.0-* >/dev/null 2>&1; then found=1; break; fi
    sleep 0.005
  done
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  [ -n "$found" ] || fail "never caught 3.0 being unpacked: $(cat "$WORK/killed.out")"
  [ "$(cat "$T/var/lib/drover/packages/tool/installstate")" = "$before" ] || fail "the record changed under a killed unpack"
  expect_installed "$T" tool 1.0
  apply "$T" --package tool --manifest "$(M 3.0)"
  expect_rc 0
  expect_installed "$T" tool 3.0
  [ "$(versions_left "$T")" = "$(ls -A "$T/var/lib/drover/packages/tool/versions" | grep "^3\.0-" | tr "\n" " ")" ] \
    || fail "the killed unpack left: $(versions_left "$T")"
  [ "$(ls "$T/var/lib/drover/packages/tool/versions/"3.0-*/many | wc -l)" = 4000 ] || fail "3.0 is not whole"
'

# ---- killed in the middle of 4.0's install.sh ----
test_expect_success 'killed in the middle of install.sh: the record still says 3.0; run again, 4.0 installs' '
  "$WORKER" apply --target-root "$T" --cache-dir "$CACHE" --platform ubuntu --platform-version 22.04 --arch x86_64 \
    --package tool --manifest "$(M 4.0)" --log-level warn >"$WORK/killed4.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 400); do [ -s "$T/install-4" ] && break; sleep 0.025; done
  [ -s "$T/install-4" ] || fail "4.0'\''s install never started: $(cat "$WORK/killed4.out")"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  # (The script'\''s shell dies with the worker; its "sleep" runs out on its own and does nothing after.)
  expect_installed "$T" tool 3.0
  apply "$T" --package tool --manifest "$(M 4.0)"
  expect_rc 0
  expect_installed "$T" tool 4.0
  [ "$(cat "$T/opt/tool/version")" = 4.0 ] && [ "$(wc -l <"$T/install-4")" = 2 ] || fail "4.0 after the rerun: $(cat "$T/install-4")"
'

test_done
