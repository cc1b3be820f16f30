#!/usr/bin/env bash
# package create: a .deb (and an .rpm, where rpmbuild is installed) becomes
# a package with one zip per file, keyed by what the file says of itself,
# whose generated scripts install it into the target root with the package
# manager itself: installed once, not again, upgraded in place by update.sh
# and removed by uninstall.  A file that is neither, one that does not
# parse, or two for the same platform and arch are refused, naming the
# file, and write nothing.
. "$(dirname "$0")/apply_lib.sh"

test_lazy_prereq DPKG 'command -v dpkg-deb && command -v dpkg-query'
# Debian's rpm package: rpm and rpmbuild (scripts/install-deps.sh installs it).
test_lazy_prereq RPM 'command -v rpm && command -v rpmbuild'

# make_deb NAME VERSION ARCH OUT: a .deb holding opt/NAME/hello.txt.
make_deb() {
  local name=$1 version=$2 arch=$3 out=$4 src="$WORK/debsrc-$1-$2-$3"
  mkdir -p "$src/DEBIAN" "$src/opt/$name" "$(dirname "$out")"
  echo "hello from $name $version" >"$src/opt/$name/hello.txt"
  printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Drover tests <tests@example.invalid>\nDescription: a test package\n' \
    "$name" "$version" "$arch" >"$src/DEBIAN/control"
  dpkg-deb --root-owner-group -b "$src" "$out" >/dev/null
}

# make_rpm NAME VERSION OUT: a noarch .rpm holding opt/NAME/hello.txt.
make_rpm() {
  local name=$1 version=$2 out=$3 top="$WORK/rpmbuild"
  mkdir -p "$top/SPECS"
  cat >"$top/SPECS/$name.spec" <<SPEC
Name: $name
Version: $version
Release: 1
Summary: a test package
License: MIT
BuildArch: noarch
%description
a test package
%install
mkdir -p %{buildroot}/opt/$name
echo "hello from $name $version" > %{buildroot}/opt/$name/hello.txt
%files
/opt/$name/hello.txt
SPEC
  rpmbuild --define "_topdir $top" -bb "$top/SPECS/$name.spec" >"$WORK/rpmbuild.log" 2>&1 || fail "rpmbuild failed: $(tail -5 "$WORK/rpmbuild.log")"
  cp "$top/RPMS/noarch/$name-$version-1.noarch.rpm" "$out"
}

IN="$WORK/in"
mkdir -p "$IN"
if test_have_prereq DPKG; then
  make_deb drover-hello 1.0-1 all "$IN/drover-hello_1.0-1_all.deb"
  make_deb drover-hello 1.0-1 amd64 "$IN/drover-hello_1.0-1_amd64.deb"
  make_deb drover-other 2.0 all "$IN/drover-other_2.0_all.deb"
  make_deb drover-hello 2.0-1 all "$WORK/v2/drover-hello_2.0-1_all.deb"
fi
test_have_prereq RPM && make_rpm drover-hello 1.0 "$IN/drover-hello-1.0-1.noarch.rpm"

PKG="$WORK/pkg"
# dpkg and rpm install into another root only as root.
test_expect_success DPKG,ROOT 'a .deb becomes debian@_any@ARCH, its arch read from the file, with the scripts and the file in each zip' '
  expect_ok "$PRODUCER" package create --from "$IN/drover-hello_1.0-1_all.deb" --from "$IN/drover-hello_1.0-1_amd64.deb" \
    --name hello --version 1.0 --out "$PKG"
  grep -qF "drover-hello_1.0-1_all.deb: drover-hello 1.0-1 (deb) for debian@_any@_any" <<<"$OUT" || fail "all not read as _any: $OUT"
  grep -qF "drover-hello_1.0-1_amd64.deb: drover-hello 1.0-1 (deb) for debian@_any@x86_64" <<<"$OUT" || fail "amd64 not read as x86_64: $OUT"
  for zip in "debian@_any@_any.zip" "debian@_any@x86_64.zip"; do
    [ "$(unzip -Z1 "$PKG/$zip" | sort | tr "\n" " ")" = "install.sh package.deb uninstall.sh update.sh " ] \
      || fail "$zip holds: $(unzip -Z1 "$PKG/$zip")"
    grep -qF "\"$(sha256sum "$PKG/$zip" | cut -d" " -f1)\"" "$PKG/manifest.json" || fail "$zip sha256 not in the manifest"
  done
  grep -q "\"schemaVersion\": \"2.0\"" "$PKG/manifest.json" || fail "not schemaVersion 2.0: $(cat "$PKG/manifest.json")"
  unzip -p "$PKG/debian@_any@_any.zip" package.deb | cmp - "$IN/drover-hello_1.0-1_all.deb" || fail "package.deb is not the .deb given"
  unzip -p "$PKG/debian@_any@_any.zip" install.sh | grep -q "^#   3 " || fail "install.sh does not list its exit codes"
'

test_lazy_prereq SHELLCHECK 'command -v shellcheck'
test_expect_success DPKG,ROOT,SHELLCHECK 'the generated scripts are POSIX sh that shellcheck finds nothing in' '
  mkdir -p "$WORK/check" && unzip -q "$PKG/debian@_any@_any.zip" -d "$WORK/check"
  shellcheck -s sh "$WORK/check/install.sh" "$WORK/check/update.sh" "$WORK/check/uninstall.sh" || fail "shellcheck found the above"
'

test_expect_success DPKG,ROOT 'a Debian-family target resolves to the .deb for its arch, and falls back to the arch-free one' '
  expect_ok "$PRODUCER" package resolve "$PKG/manifest.json" --platform ubuntu --platform-version 22.04 --arch x86_64
  grep -qx "file: debian@_any@x86_64.zip" <<<"$OUT" || fail "ubuntu x86_64 got: $OUT"
  expect_ok "$PRODUCER" package resolve "$PKG/manifest.json" --platform debian --platform-version 12 --arch arm64
  grep -qx "file: debian@_any@_any.zip" <<<"$OUT" || fail "debian arm64 got: $OUT"
'

T=$(new_target deb)
dpkg_state() { dpkg-query --admindir="$T/var/lib/dpkg" -W -f="\${Status} \${Version}" drover-hello 2>/dev/null || echo none; }
test_expect_success DPKG,ROOT 'apply installs the created package into the target root: the file lands there and the root'\''s dpkg database says installed' '
  apply "$T" --package hello --manifest "$PKG/manifest.json"
  expect_rc 0; expect_out "outcome: SUCCESS"; expect_out "ran: install.sh 1.0: exit 0"
  [ "$(cat "$T/opt/drover-hello/hello.txt")" = "hello from drover-hello 1.0-1" ] || fail "the file did not land under the target root"
  [ "$(dpkg_state)" = "install ok installed 1.0-1" ] || fail "dpkg in the root says: $(dpkg_state)"
  [ ! -e /opt/drover-hello ] || fail "the package was installed outside the target root"
'

test_expect_success DPKG,ROOT 'installing again runs nothing, and install.sh run again by hand succeeds without reinstalling' '
  apply "$T" --package hello --manifest "$PKG/manifest.json"
  expect_rc 0; expect_out "already installed; nothing ran"
  mkdir -p "$WORK/unpacked" && unzip -q -o "$PKG/debian@_any@x86_64.zip" -d "$WORK/unpacked"
  RC=0; OUT=$(DROVER_TARGET_ROOT="$T" sh "$WORK/unpacked/install.sh" 2>&1) || RC=$?
  expect_rc 0; expect_out "drover-hello 1.0-1 is already installed; nothing to do"
  RC=0; OUT=$(DROVER_TARGET_ROOT="$T" sh "$WORK/unpacked/update.sh" 2>&1) || RC=$?
  expect_rc 0; expect_out "already installed; nothing to do"
'

test_expect_success DPKG,ROOT 'an in-place update runs update.sh, which upgrades the package in the root to the new version' '
  expect_ok "$PRODUCER" package create --from "$WORK/v2/drover-hello_2.0-1_all.deb" --name hello --version 2.0 --out "$WORK/pkg2"
  apply "$T" --package hello --manifest "$WORK/pkg2/manifest.json" --installation-type in-place
  expect_rc 0; expect_out "ran: update.sh 2.0: exit 0"; expect_no_out "install.sh"
  [ "$(dpkg_state)" = "install ok installed 2.0-1" ] || fail "dpkg in the root says: $(dpkg_state)"
  [ "$(cat "$T/opt/drover-hello/hello.txt")" = "hello from drover-hello 2.0-1" ] || fail "the file was not upgraded"
'

test_expect_success DPKG,ROOT 'uninstall removes it from the root, and uninstall.sh of what is not installed succeeds doing nothing' '
  apply "$T" --package hello --action uninstall
  expect_rc 0; expect_out "ran: uninstall.sh 2.0: exit 0"
  [ ! -e "$T/opt/drover-hello/hello.txt" ] || fail "the file is still under the target root"
  [ "$(dpkg_state)" = none ] || fail "dpkg in the root still knows it: $(dpkg_state)"
  RC=0; OUT=$(DROVER_TARGET_ROOT="$T" sh "$WORK/unpacked/uninstall.sh" 2>&1) || RC=$?
  expect_rc 0; expect_out "drover-hello is not installed; nothing to do"
'

test_expect_success DPKG 'a script missing its installer exits 2 saying so' '
  rm "$WORK/unpacked/package.deb"
  RC=0; OUT=$(DROVER_TARGET_ROOT="$T" sh "$WORK/unpacked/install.sh" 2>&1) || RC=$?
  expect_rc 2; expect_out "package.deb is missing"
'

RPKG="$WORK/rpkg"
R=$(new_target rpm)
# rpm -q says "not installed" on stdout: print none instead.
rpm_query() { local v; v=$(rpm --root "$R" --dbpath /var/lib/rpm -q --qf "%{VERSION}-%{RELEASE}" drover-hello 2>/dev/null) && echo "$v" || echo none; }
rpm_apply() {
  RC=0
  OUT=$("$WORKER" apply --target-root "$R" --cache-dir "$CACHE" --platform rocky --platform-version 9.3 --arch x86_64 \
    --log-level warn "$@" 2>&1) || RC=$?
}
test_expect_success DPKG,RPM,ROOT 'an .rpm becomes redhat@_any@ARCH beside the .deb; a Rocky target gets it' '
  expect_ok "$PRODUCER" package create --from "$IN/drover-hello_1.0-1_all.deb" --from "$IN/drover-hello-1.0-1.noarch.rpm" \
    --name hello --version 1.0 --out "$RPKG"
  grep -qF "drover-hello-1.0-1.noarch.rpm: drover-hello 1.0-1 (rpm) for redhat@_any@_any" <<<"$OUT" || fail "rpm not read: $OUT"
  [ "$(unzip -Z1 "$RPKG/redhat@_any@_any.zip" | sort | tr "\n" " ")" = "install.sh package.rpm uninstall.sh update.sh " ] \
    || fail "the rpm zip holds: $(unzip -Z1 "$RPKG/redhat@_any@_any.zip")"
  if test_have_prereq SHELLCHECK; then
    mkdir -p "$WORK/rcheck" && unzip -q "$RPKG/redhat@_any@_any.zip" -d "$WORK/rcheck"
    shellcheck -s sh "$WORK/rcheck/install.sh" "$WORK/rcheck/update.sh" "$WORK/rcheck/uninstall.sh" || fail "shellcheck found the above"
  fi
  expect_ok "$PRODUCER" package resolve "$RPKG/manifest.json" --platform rocky --platform-version 9.3 --arch x86_64
  grep -qx "file: redhat@_any@_any.zip" <<<"$OUT" || fail "rocky got: $OUT"
'

test_expect_success DPKG,RPM,ROOT 'the .rpm installs into the target root (rpm database inside it), once, and uninstalls' '
  rpm_apply --package hello --manifest "$RPKG/manifest.json"
  expect_rc 0; expect_out "ran: install.sh 1.0: exit 0"
  [ -f "$R/opt/drover-hello/hello.txt" ] || fail "the file did not land under the target root"
  [ "$(rpm_query)" = "1.0-1" ] || fail "rpm in the root says: $(rpm_query)"
  rpm_apply --package hello --manifest "$RPKG/manifest.json"
  expect_rc 0; expect_out "already installed; nothing ran"
  rpm_apply --package hello --action uninstall
  expect_rc 0; expect_out "ran: uninstall.sh 1.0: exit 0"
  [ ! -e "$R/opt/drover-hello/hello.txt" ] || fail "the file is still under the target root"
  [ "$(rpm_query)" = none ] || fail "rpm in the root still has it: $(rpm_query)"
'

test_expect_success DPKG 'FILE=PLATFORM@VERSION[@ARCH] puts a file under other keys, the arch staying the file'\''s unless given' '
  expect_ok "$PRODUCER" package create --from "$IN/drover-hello_1.0-1_all.deb=ubuntu@22.04" \
    --from "$IN/drover-hello_1.0-1_amd64.deb=debian@12@arm64" --name hello --version 1.0 --out "$WORK/keyed"
  [ "$(ls "$WORK/keyed" | tr "\n" " ")" = "debian@12@arm64.zip manifest.json ubuntu@22.04@_any.zip " ] \
    || fail "keyed package holds: $(ls "$WORK/keyed")"
  expect_ok "$PRODUCER" package resolve "$WORK/keyed/manifest.json" --platform ubuntu --platform-version 22.04 --arch x86_64
  grep -qx "file: ubuntu@22.04@_any.zip" <<<"$OUT" || fail "ubuntu 22.04 got: $OUT"
'

# refuse SUBSTRING FILE...: package create of FILEs fails naming the problem, and writes nothing.
refuse() {
  local want=$1; shift
  local args=() f
  for f in "$@"; do args+=(--from "$f"); done
  expect_fail_with "$want" "$PRODUCER" package create "${args[@]}" --name bad --version 1 --out "$WORK/refused"
  [ ! -e "$WORK/refused" ] || fail "a refused create left $WORK/refused"
  [ -z "$(ls "$WORK" | grep "refused\.tmp-" || true)" ] || fail "a refused create left its staging directory"
}
test_expect_success DPKG 'a file that is neither, a .deb that does not parse, or two files for one platform and arch are refused, naming the file' '
  echo "not a package" >"$WORK/notes.txt"
  refuse "notes.txt: neither a .deb nor an .rpm" "$WORK/notes.txt"
  cp "$WORK/notes.txt" "$WORK/broken.deb"
  refuse "broken.deb: dpkg-deb cannot read it as a .deb" "$WORK/broken.deb"
  refuse "missing.deb: No such file" "$WORK/missing.deb"
  refuse "both $IN/drover-hello_1.0-1_all.deb and $IN/drover-other_2.0_all.deb are for debian _any _any; keep one" \
    "$IN/drover-hello_1.0-1_all.deb" "$IN/drover-other_2.0_all.deb"
  expect_fail_with "needs --from" "$PRODUCER" package create --name bad --version 1
  refuse "after '\''='\'' give PLATFORM@PLATFORM_VERSION" "$IN/drover-hello_1.0-1_all.deb=ubuntu"
  refuse "after '\''='\'' give PLATFORM@PLATFORM_VERSION" "$IN/drover-hello_1.0-1_all.deb=../x@1"
'

test_expect_success RPM 'an .rpm that does not parse is refused, naming it' '
  echo "not a package" >"$WORK/broken.rpm"
  refuse "broken.rpm: rpm cannot read it as a .rpm" "$WORK/broken.rpm"
'

test_expect_success DPKG 'a missing dpkg-deb is said, not taken for a broken file' '
  RC=0; OUT=$(PATH=/nonexistent "$PRODUCER" package create --from "$IN/drover-hello_1.0-1_all.deb" --name bad --version 1 --out "$WORK/refused" 2>&1) || RC=$?
  [ "$RC" -ne 0 ] || fail "create without dpkg-deb succeeded"
  grep -qF "cannot run dpkg-deb; install dpkg" <<<"$OUT" || fail "unexpected output: $OUT"
'

# dpkg-deb itself refuses such a name; installer.c checks every field again, for tools that do not.
test_expect_success DPKG 'a .deb whose package name is a shell command is refused, and nothing runs it' '
  src="$WORK/hostile"; mkdir -p "$src"
  printf "2.0\n" >"$src/debian-binary"
  printf "Package: evil\$(touch pwned)\nVersion: 1.0\nArchitecture: all\nDescription: x\n" >"$src/control"
  (cd "$src" && tar -czf control.tar.gz control && tar -czf data.tar.gz --files-from /dev/null && \
    ar rc "$WORK/hostile.deb" debian-binary control.tar.gz data.tar.gz)
  (cd "$WORK" && refuse "hostile.deb: " "$WORK/hostile.deb")
  [ ! -e "$WORK/pwned" ] || fail "the package name ran as a command"
'

# A dpkg-deb that prints what it is told ($FAKE_FIELDS, or endless output):
# what create does with fields a real tool would have let through.
mkdir -p "$WORK/fakebin"
cat >"$WORK/fakebin/dpkg-deb" <<'SH'
#!/bin/sh
[ "$FAKE_FIELDS" = flood ] && exec yes drover
printf "$FAKE_FIELDS"
SH
chmod +x "$WORK/fakebin/dpkg-deb"
# refuse_fields SUBSTRING FIELDS: a .deb whose dpkg-deb says FIELDS (printf format) is refused with SUBSTRING.
refuse_fields() {
  RC=0
  OUT=$(FAKE_FIELDS=$2 PATH="$WORK/fakebin:$PATH" "$PRODUCER" package create --from "$IN/drover-hello_1.0-1_all.deb" \
    --name bad --version 1 --out "$WORK/refused" 2>&1) || RC=$?
  [ "$RC" -ne 0 ] || fail "fields $2 were taken: $OUT"
  grep -qF -- "$1" <<<"$OUT" || fail "for fields $2 expected '\''$1'\'', got: $OUT"
  [ ! -e "$WORK/refused" ] || fail "a refused create left $WORK/refused"
}
test_expect_success DPKG 'every field the tool prints is checked again: quotes, spaces, unknown arches, extra lines and floods are refused' '
  refuse_fields "package name '\''evil'\''\$(id)'\''" "evil'\''\$(id)\\n1.0\\nall\\n"
  refuse_fields "version '\''1.0 \`id\`'\''" "ok\\n1.0 \`id\`\\nall\\n"
  refuse_fields "architecture '\''s390x'\'' has no manifest key" "ok\\n1.0\\ns390x\\n"
  refuse_fields "do not read as one line each" "ok\\n1.0\\nall\\nextra\\n"
  refuse_fields "do not read as one line each" "ok\\n1.0"
  refuse_fields "printed more than a package'\''s name, version and arch" flood
'

test_done
