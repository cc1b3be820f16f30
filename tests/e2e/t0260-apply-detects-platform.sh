#!/usr/bin/env bash
# With no --platform, --platform-version or --arch, apply detects the
# platform from an os-release file and picks the manifest's build for it:
# Rocky 9 gets the redhat 9 build (the family of rocky), Linux Mint gets the
# ubuntu build, an unknown distribution gets the _any build.  The arch comes
# from the host's uname, so every build here is for _any arch.
. "$(dirname "$0")/apply_lib.sh"

# build_folder KEY: a package folder whose install.sh records which build ran
# (KEY) and the platform the worker passed it.
IN="$WORK/in"
build_folder() {
  local dir="$IN/$1"
  mkdir -p "$dir"
  cat >"$dir/install.sh" <<SH
#!/bin/sh
echo "$1" > "\$DROVER_TARGET_ROOT/picked"
echo "\$DROVER_PLATFORM_NAME \$DROVER_PLATFORM_VERSION" > "\$DROVER_TARGET_ROOT/platform"
SH
  printf '#!/bin/sh\nrm -f "$DROVER_TARGET_ROOT/picked" "$DROVER_TARGET_ROOT/platform"\n' >"$dir/uninstall.sh"
}
for key in ubuntu@_any@_any redhat@9.*@_any redhat@8.*@_any _any@_any@_any; do build_folder "$key"; done
mkdir -p "$REPO/detect"
expect_ok "$PRODUCER" package build "$IN" --name detect --version 1.0 --out "$REPO/detect/1.0"
start_http

# apply_detecting TARGET OS_RELEASE: install detect 1.0 with only the
# os-release file to say what the target is; output in $OUT, exit code in $RC.
apply_detecting() {
  local target=$1 os_release=$2
  RC=0
  # The environment could name a platform too; only the os-release file may.
  OUT=$(env -u DROVER_PLATFORM -u DROVER_PLATFORM_VERSION -u DROVER_ARCH -u DROVER_ID_LIKE -u DROVER_OS_RELEASE \
        "$WORKER" apply --target-root "$target" --cache-dir "$CACHE" --os-release "$os_release" \
        --package detect --manifest "$BASE_URL/detect/1.0/manifest.json" \
        --fetch-backoff-ms 50 --log-level warn 2>&1) || RC=$?
}

# expect_build OS_RELEASE_TEXT BUILD PLATFORM RULE: a fresh target whose
# os-release says OS_RELEASE_TEXT gets BUILD's install.sh, run for PLATFORM
# ("name version"), the summary naming RULE; nothing outside the target changes.
expect_build() {
  local os_release_text=$1 build=$2 platform=$3 rule=$4
  local T; T=$(new_target "t-${build%%@*}") # no "*" in the name: it is a find -path pattern
  printf '%s\n' "$os_release_text" >"$T.os-release"
  local before; before=$(snapshot_outside "$T")
  apply_detecting "$T" "$T.os-release"
  expect_rc 0; expect_out "outcome: SUCCESS"; expect_out "summary: installed detect 1.0 ($rule)"
  [ "$(cat "$T/picked")" = "$build" ] || fail "expected the $build build for: $os_release_text
got $(cat "$T/picked"); output:
$OUT"
  [ "$(cat "$T/platform")" = "$platform" ] || fail "expected scripts to see platform '$platform', got '$(cat "$T/platform")'"
  expect_same_outside "$T" "$before"
}

test_expect_success 'Rocky 9.3 gets the redhat 9.* build, the family of rocky (ID_LIKE and the built-in table)' '
  expect_build "NAME=\"Rocky Linux\"
ID=\"rocky\"
ID_LIKE=\"rhel centos fedora\"
VERSION_ID=\"9.3\"" \
    "redhat@9.*@_any" "rocky 9.3" "platform redhat (family of rocky), version 9.* (wildcard), arch _any"
'

test_expect_success 'Linux Mint gets the ubuntu build, the family of linuxmint' '
  expect_build "NAME=\"Linux Mint\"
ID=linuxmint
ID_LIKE=\"ubuntu debian\"
VERSION_ID=\"21.2\"" \
    "ubuntu@_any@_any" "linuxmint 21.2" "platform ubuntu (family of linuxmint), version _any, arch _any"
'

test_expect_success 'a distribution with nothing of its family in the manifest gets the _any build' '
  expect_build "NAME=\"Nimbus OS\"
ID=nimbus
ID_LIKE=gentoo
VERSION_ID=3" \
    "_any@_any@_any" "nimbus 3" "platform _any, version _any, arch _any"
'

test_done
