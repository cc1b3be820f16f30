#!/usr/bin/env bash
# Bad packages never run and never touch the target: a hash mismatch, a
# truncated zip, zip-slip, an absolute path, a symlink escape, a zip bomb, a
# missing install.sh, a manifest with no file for the platform, a malformed
# manifest.  Each ends with its own reason, and the target is untouched.
. "$(dirname "$0")/apply_lib.sh"

simple_package good 1.0
make_version good 1.0
start_http
SH="$WORK/script.sh"
printf '#!/bin/sh\necho ran > "$DROVER_TARGET_ROOT/RAN"\n' >"$SH"

# hostile NAME ENTRY... : a zip built with drover_test_zip, and its manifest (hash correct).
hostile() {
  local name=$1; shift
  mkdir -p "$REPO/$name/1.0"
  "$TEST_ZIP" "$REPO/$name/1.0/pkg.zip" "$@"
  write_manifest "$REPO/$name/1.0" 1.0 pkg.zip "$(sha256sum "$REPO/$name/1.0/pkg.zip" | cut -d' ' -f1)"
}
# check NAME EXIT REASON MESSAGE [apply flags...]: installing NAME on a fresh target fails so, touching nothing.
check() {
  local name=$1 rc=$2 reason=$3 message=$4
  local T; T=$(new_target "t-$name")
  local before; before=$(snapshot_outside "$T")
  apply "$T" --package "$name" --manifest "$BASE_URL/$name/1.0/manifest.json" --artifacts "$BASE_URL/$name/1.0" "${@:5}"
  expect_rc "$rc"; expect_out "reason: $reason"; expect_out "$message"
  [ ! -e "$T/RAN" ] || fail "$name: a script ran"
  [ ! -e "$T/var/lib/drover/packages/$name/installstate" ] || fail "$name: an install was recorded"
  local left; left=$(find "$T" -mindepth 1 -not -path "$T/var" -not -path "$T/var/lib" -not -path "$T/var/lib/drover" \
     -not -path "$T/var/lib/drover/packages" -not -path "$T/var/lib/drover/packages/$name" \
     -not -path "$T/var/lib/drover/lock" -not -path "$T/var/lib/drover/packages/$name/versions")
  [ -z "$left" ] || fail "$name: files left in the target: $left"
  [ ! -e "$TARGETS/evil" ] && [ ! -e "$WORK/evil" ] && [ ! -e /tmp/drover-evil ] || fail "$name: wrote outside"
  expect_same_outside "$T" "$before"
}

test_expect_success 'a tampered zip (sha256 mismatch) fails with reason checksum, touches nothing and is not kept in the cache' '
  mkdir -p "$REPO/tampered/1.0"; cp "$REPO/good/1.0/pkg.zip" "$REPO/tampered/1.0/pkg.zip"
  write_manifest "$REPO/tampered/1.0" 1.0 pkg.zip "$(printf "%064d" 0)"
  check tampered 1 checksum "sha256 mismatch"
  [ -z "$(ls "$CACHE/sha256" | grep "\.zip\$" | grep -v "$(sha256sum "$REPO/good/1.0/pkg.zip" | cut -c1-64)" || true)" ] \
    || fail "a zip with the wrong hash was kept in the cache"
'

test_expect_success 'a truncated zip whose hash matches fails the archive check, touching nothing' '
  mkdir -p "$REPO/truncated/1.0"
  head -c $(( $(stat -c %s "$REPO/good/1.0/pkg.zip") * 2 / 3 )) "$REPO/good/1.0/pkg.zip" >"$REPO/truncated/1.0/pkg.zip"
  write_manifest "$REPO/truncated/1.0" 1.0 pkg.zip "$(sha256sum "$REPO/truncated/1.0/pkg.zip" | cut -d" " -f1)"
  check truncated 1 archive "pkg.zip"
'

test_expect_success 'zip-slip (an entry ../../evil) is archive-unsafe, and nothing is written anywhere' '
  hostile zipslip install.sh="$SH" uninstall.sh="$SH" ../../evil="$SH"
  check zipslip 1 archive-unsafe "../../evil"
'

test_expect_success 'an absolute entry path is archive-unsafe, and nothing is written anywhere' '
  hostile absolute install.sh="$SH" uninstall.sh="$SH" /tmp/drover-evil="$SH"
  check absolute 1 archive-unsafe "/tmp/drover-evil"
'

test_expect_success 'a symlink pointing out of the target is archive-unsafe, and nothing is written anywhere' '
  hostile symlink install.sh="$SH" uninstall.sh="$SH" --symlink escape=../../../../evil
  check symlink 1 archive-unsafe "escape"
'

# A zip bomb: 64 MiB of zeros in a tiny zip, against a worker limit of 16 MiB
# (the same check as the default 4 GiB, at a size a test can afford).
test_expect_success 'a zip bomb over --max-unpacked-bytes is archive-limit, touching nothing' '
  head -c $((64 * 1024 * 1024)) /dev/zero >"$WORK/zeros"
  hostile bomb install.sh="$SH" uninstall.sh="$SH" zeros="$WORK/zeros"
  rm -f "$WORK/zeros"
  check bomb 1 archive-limit "zeros" --max-unpacked-bytes $((16 * 1024 * 1024))
'

test_expect_success 'a package without install.sh is package-layout, touching nothing' '
  hostile noinstall uninstall.sh="$SH"
  check noinstall 1 package-layout "install.sh"
'

test_expect_success 'a manifest with no file for this platform is REJECTED, saying what was tried' '
  mkdir -p "$REPO/nowindows/1.0"; cp "$REPO/good/1.0/pkg.zip" "$REPO/nowindows/1.0/"
  write_manifest "$REPO/nowindows/1.0" 1.0 pkg.zip "$(sha256sum "$REPO/good/1.0/pkg.zip" | cut -d" " -f1)" windows _any _any
  check nowindows 3 no-platform-match "ubuntu"
'

test_expect_success 'a malformed manifest is REJECTED with the reason manifest' '
  mkdir -p "$REPO/badjson/1.0"; echo "{\"schemaVersion\": \"2.0\", \"version\": " >"$REPO/badjson/1.0/manifest.json"
  check badjson 3 manifest "manifest"
'

test_expect_success 'a manifest URL that answers 404 fails with fetch-not-found' '
  mkdir -p "$REPO/missing/1.0"
  check missing 1 fetch-not-found "404"
'

test_done
