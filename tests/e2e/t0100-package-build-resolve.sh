#!/usr/bin/env bash
# drover-producer package build and resolve: a package built from folders and
# zips has a manifest whose hashes are the zips', resolve picks the file each
# platform would get and says why, and build refuses what a worker would.
. "$(dirname "$0")/lib.sh"

SRC="$WORK/src"
mkdir -p "$SRC"
printf '#!/bin/sh\necho installing\n' >"$SRC/install.sh"
printf '#!/bin/sh\necho removing\n' >"$SRC/uninstall.sh"
printf 'Write-Output installing\n' >"$SRC/install.ps1"
printf 'payload\n' >"$SRC/payload.txt"
SH_ZIP_ARGS=(install.sh="$SRC/install.sh" uninstall.sh="$SRC/uninstall.sh" payload.txt="$SRC/payload.txt")

# folder DIR NAME: a package folder with the shell scripts and a payload.
folder() {
  mkdir -p "$1/$2"
  cp "$SRC/install.sh" "$SRC/uninstall.sh" "$SRC/payload.txt" "$1/$2/"
  echo "$2" >"$1/$2/platform.txt" # so each zip's hash differs
}

# expect_manifest_hashes OUT: every zip in OUT is in OUT/manifest.json with its sha256sum.
expect_manifest_hashes() {
  local out=$1 n=0
  for zip in "$out"/*.zip; do
    local name sum
    name=$(basename "$zip")
    sum=$(sha256sum "$zip" | cut -d' ' -f1)
    local got
    got=$(grep -A2 "\"$name\": {" "$out/manifest.json" | grep -o '"sha256": "[0-9a-f]*"' || true)
    [ "$got" = "\"sha256\": \"$sum\"" ] || fail "$name: manifest has '$got', sha256sum says $sum"
    grep -qF "$sum  $out/$name" <<<"$BUILD_OUT" || fail "build did not print '$sum  $out/$name'; printed:
$BUILD_OUT"
    n=$((n + 1))
  done
  echo "$n"
}

# ---- build from folders ----
IN="$WORK/in-folders"
folder "$IN" "ubuntu@22.04@x86_64"
folder "$IN" "ubuntu@_any@arm64"
folder "$IN" "redhat@8.*@_any"
folder "$IN" "debian@_any@_any"
folder "$IN" "_any@_any@x86_64"

test_expect_success 'a package built from folders has a zip per folder, each with its sha256 in the manifest' '
  expect_ok "$PRODUCER" package build "$IN" --name acme-agent --version 1.2.0 --out "$WORK/out1" --publisher "Acme Corp"
  BUILD_OUT=$OUT
  [ -f "$WORK/out1/manifest.json" ] || fail "no manifest.json in $WORK/out1"
  grep -qF "manifest: $WORK/out1/manifest.json" <<<"$BUILD_OUT" || fail "build did not print the manifest path: $BUILD_OUT"
  [ "$(expect_manifest_hashes "$WORK/out1")" = 5 ] || fail "expected 5 zips in $WORK/out1: $(ls "$WORK/out1")"
  grep -q "\"schemaVersion\": \"2.0\"" "$WORK/out1/manifest.json" || fail "schemaVersion"
  grep -q "\"publisher\": \"Acme Corp\"" "$WORK/out1/manifest.json" || fail "publisher"
  [ -z "$(ls -a "$WORK" | grep "\.tmp-" || true)" ] || fail "staging directory left behind"
  listing=$(unzip -l "$WORK/out1/redhat@8.*@_any.zip")
  grep -q " install.sh\$" <<<"$listing" || fail "folder was not zipped with install.sh at the root"
'

# ---- resolve ----
M="$WORK/out1/manifest.json"
# resolve_is PLATFORM VERSION ARCH ID_LIKE FILE RULE
resolve_is() {
  local args=(package resolve "$M" --platform "$1" --platform-version "$2" --arch "$3")
  [ -n "$4" ] && args+=(--id-like "$4")
  expect_ok "$PRODUCER" "${args[@]}"
  local sum; sum=$(sha256sum "$WORK/out1/$5" | cut -d' ' -f1)
  local want; want=$(printf 'file: %s\nsha256: %s\nrule: %s' "$5" "$sum" "$6")
  [ "$OUT" = "$want" ] || fail "resolve $1 $2 $3: expected
$want
got
$OUT"
}
test_expect_success 'resolve picks the file each platform would get: exact, family, wildcard version, any' '
  resolve_is ubuntu 22.04 x86_64 "" "ubuntu@22.04@x86_64.zip" "platform ubuntu (exact), version 22.04 (exact), arch x86_64 (exact)"
  resolve_is ubuntu 22.04 aarch64 "" "ubuntu@_any@arm64.zip" "platform ubuntu (exact), version _any, arch arm64 (exact)"
  resolve_is ubuntu 20.04 x86_64 "" "debian@_any@_any.zip" "platform debian (family of ubuntu), version _any, arch _any"
  resolve_is rocky 8.9 x86_64 "rhel centos fedora" "redhat@8.*@_any.zip" "platform redhat (family of rocky), version 8.* (wildcard), arch _any"
  resolve_is rhel 8 arm64 "" "redhat@8.*@_any.zip" "platform redhat (exact), version 8.* (wildcard), arch _any"
  resolve_is rocky 9.3 amd64 "rhel centos fedora" "_any@_any@x86_64.zip" "platform _any, version _any, arch x86_64 (exact)"
  resolve_is linuxmint 21 x86_64 "ubuntu debian" "debian@_any@_any.zip" "platform debian (family of linuxmint), version _any, arch _any"
  resolve_is amzn 2023 x86_64 "fedora" "_any@_any@x86_64.zip" "platform _any, version _any, arch x86_64 (exact)"
'

test_expect_success 'resolve with no file for the platform says what it tried (exit 1); without one a usage error (exit 2)' '
  expect_fail_with "no file for windows 2022 arm64: tried platforms windows, _any; windows not in manifest; _any had versions _any (_any had arches x86_64)" \
    "$PRODUCER" package resolve "$M" --platform windows --platform-version 2022 --arch arm64
  [ "$RC" -eq 1 ] || fail "no-match resolve exited $RC, want 1"
  expect_fail_with "needs MANIFEST" "$PRODUCER" package resolve "$M" --platform ubuntu
  [ "$RC" -eq 2 ] || fail "usage error exited $RC, want 2"
'

# ---- build from zips (and a folder alongside) ----
IN2="$WORK/in-zips"
mkdir -p "$IN2"
(cd "$WORK/in-folders/ubuntu@22.04@x86_64" && zip -q -X "$IN2/ubuntu@22.04@x86_64.zip" install.sh uninstall.sh payload.txt)
"$TEST_ZIP" "$IN2/windows@_any@_any.zip" install.ps1="$SRC/install.ps1" uninstall.ps1="$SRC/install.ps1"
folder "$IN2" "_any@_any@_any"

test_expect_success 'a package built from zips and a folder copies each given zip byte for byte' '
  expect_ok "$PRODUCER" package build "$IN2" --name acme-agent --version 1.2.1 --out "$WORK/out2/"
  BUILD_OUT=$OUT
  [ "$(expect_manifest_hashes "$WORK/out2")" = 3 ] || fail "expected 3 zips in $WORK/out2"
  cmp -s "$IN2/ubuntu@22.04@x86_64.zip" "$WORK/out2/ubuntu@22.04@x86_64.zip" || fail "a given zip was not copied byte for byte"
  expect_ok "$PRODUCER" package resolve "$WORK/out2/manifest.json" --platform windows --platform-version 2019 --arch x86_64
  grep -qx "file: windows@_any@_any.zip" <<<"$OUT" || fail "windows resolved to: $OUT"
'

test_expect_success 'build writes to ./NAME-VERSION by default and never over an existing output' '
  (cd "$WORK" && "$PRODUCER" package build "$IN2" --name acme-agent --version 1.2.2 >/dev/null) || fail "build with default --out"
  [ -f "$WORK/acme-agent-1.2.2/manifest.json" ] || fail "default --out is not ./NAME-VERSION"
  expect_fail_with "already exists" "$PRODUCER" package build "$IN2" --name acme-agent --version 1.2.1 --out "$WORK/out2"
'

# ---- build refuses ----
# refuse SUBSTRING ZIP_NAME drover_test_zip-args...: a package of one such zip is refused, naming it, with no output left.
REFUSED=0
refuse() {
  local want=$1 name=$2; shift 2
  REFUSED=$((REFUSED + 1))
  local dir="$WORK/bad-$REFUSED"
  mkdir -p "$dir"
  "$TEST_ZIP" "$dir/$name" "$@"
  expect_fail_with "$want" "$PRODUCER" package build "$dir" --name bad --version 1 --out "$dir.out"
  grep -qF "$name" <<<"$OUT" || fail "the error does not name $name: $OUT"
  [ ! -e "$dir.out" ] || fail "a refused build left $dir.out"
  [ -z "$(ls "$WORK" | grep "bad-.*\.tmp-" || true)" ] || fail "a refused build left its staging directory"
}
test_expect_success 'build refuses a zip without install.sh or uninstall.sh, or with both install scripts, naming it and writing nothing' '
  refuse "no install.sh" "ubuntu@_any@_any.zip" uninstall.sh="$SRC/uninstall.sh"
  refuse "no uninstall.sh" "ubuntu@_any@_any.zip" install.sh="$SRC/install.sh"
  refuse "has both install.sh and install.ps1" "_any@_any@_any.zip" "${SH_ZIP_ARGS[@]}" install.ps1="$SRC/install.ps1"
'

test_expect_success 'build refuses a zip with a path out of its folder (../ or absolute), naming it and writing nothing' '
  refuse "../evil" "_any@_any@_any.zip" "${SH_ZIP_ARGS[@]}" ../evil="$SRC/payload.txt"
  refuse "/tmp/drover-evil" "_any@_any@_any.zip" "${SH_ZIP_ARGS[@]}" /tmp/drover-evil="$SRC/payload.txt"
'

test_expect_success 'a bad zip among good folders is named, and nothing is written' '
  BAD="$WORK/bad-mixed"
  folder "$BAD" "ubuntu@_any@_any"
  "$TEST_ZIP" "$BAD/redhat@_any@_any.zip" uninstall.sh="$SRC/uninstall.sh"
  expect_fail_with "redhat@_any@_any.zip: no install.sh" "$PRODUCER" package build "$BAD" --name bad --version 1 --out "$WORK/bad-mixed.out"
  [ ! -e "$WORK/bad-mixed.out" ] || fail "a refused build left output"
'

test_expect_success 'build refuses 21 zips (the 20-file quota) and builds 20' '
  MANY="$WORK/many"
  mkdir -p "$MANY"
  for i in $(seq 1 21); do "$TEST_ZIP" "$MANY/ubuntu@$i@_any.zip" "${SH_ZIP_ARGS[@]}"; done
  expect_fail_with "21 zips and folders; a package may have at most 20 files" \
    "$PRODUCER" package build "$MANY" --name many --version 1 --out "$WORK/many.out"
  rm "$MANY/ubuntu@21@_any.zip"
  expect_ok "$PRODUCER" package build "$MANY" --name many --version 1 --out "$WORK/many.out"
'

test_expect_success 'build refuses a name it cannot map to the manifest, a bad version (exit 2) and a name over 128 characters' '
  ODD="$WORK/odd"
  mkdir -p "$ODD"
  "$TEST_ZIP" "$ODD/ubuntu-22.04-x86_64.zip" "${SH_ZIP_ARGS[@]}"
  expect_fail_with "ubuntu-22.04-x86_64.zip: not a package zip or folder" "$PRODUCER" package build "$ODD" --name odd --version 1
  expect_fail_with "--version: '\''v 1'\'' has '\'' '\''" "$PRODUCER" package build "$IN" --name acme --version "v 1"
  [ "$RC" -eq 2 ] || fail "bad version exited $RC, want 2"
  expect_fail_with "--name: 129 characters" "$PRODUCER" package build "$IN" --name "$(printf "a%.0s" $(seq 1 129))" --version 1
'

# ---- resolve refuses a manifest with an empty checksums map ----
EMPTY="$WORK/empty-checksums.json"
cat >"$EMPTY" <<'JSON'
{ "schemaVersion": "2.0", "version": "1.0",
  "packages": { "_any": { "_any": { "_any": { "file": "a.zip" } } } },
  "files": { "a.zip": { "checksums": {} } } }
JSON
test_expect_success 'resolve refuses a manifest whose file has an empty checksums map (exit 1)' '
  expect_fail_with "files.a.zip.checksums: empty; a sha256 is required" \
    "$PRODUCER" package resolve "$EMPTY" --platform ubuntu --platform-version 22.04 --arch x86_64
  [ "$RC" -eq 1 ] || fail "invalid manifest exited $RC, want 1"
'

# ---- dispatch ----
test_expect_success 'no command and an unknown verb are usage errors (exit 2); build --help explains the naming' '
  expect_fail_with "usage: drover-producer" "$PRODUCER"
  [ "$RC" -eq 2 ] || fail "no command exited $RC, want 2"
  expect_fail_with "unknown package verb '\''frobnicate'\''" "$PRODUCER" package frobnicate
  [ "$RC" -eq 2 ] || fail "unknown verb exited $RC, want 2"
  expect_ok "$PRODUCER" package build --help
  grep -qF "PLATFORM@PLATFORM_VERSION@ARCH" <<<"$OUT" || fail "build --help does not explain the naming"
'

test_done
