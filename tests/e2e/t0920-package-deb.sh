#!/usr/bin/env bash
# The Debian package and make install (docs/install.md), for real: cpack
# builds drover_VERSION_ARCH.deb from the build, whose Depends dpkg-shlibdeps
# computed; dpkg installs it on this machine; the installed programs answer
# --version and --help, run a tiny pipeline whose every /metrics says what
# it was built from, and apply a package; systemd-analyze verifies the
# installed units; the man pages are there; dpkg removes every file.  Then
# make install into a DESTDIR, with another prefix.
#
# It installs into / (as root), so one run at a time holds a lock, and it
# leaves alone a machine that already has a drover package.
. "$(dirname "$0")/pipeline_lib.sh"
SRC="${DROVER_SOURCE_DIR:?}"
test_lazy_prereq PACKAGING 'command -v cpack && command -v dpkg-deb && command -v dpkg-shlibdeps'
test_lazy_prereq SYSTEMD_ANALYZE 'command -v systemd-analyze'
test_lazy_prereq MAN 'command -v man'
# No drover package installed before this test: it would replace it and then remove it.
test_lazy_prereq NO_DROVER_PACKAGE 'case "$(dpkg-query -W -f="\${db:Status-Abbrev}" drover 2>/dev/null)" in ""|un*) true ;; *) false ;; esac'

VERSION=$(sed -n 's/^project(drover VERSION \([0-9.]*\) .*/\1/p' "$SRC/CMakeLists.txt")
[ -n "$VERSION" ] || fail "no version in CMakeLists.txt's project()"
PROGRAMS=(drover-producer drover-worker drover-aggregator drover-broker)
UNITS=(drover-aggregator.service drover-control-plane.service drover-worker@.service)
SETTINGS=(aggregator.conf control-plane.conf worker-agent.conf)

# One package test at a time on this machine (another build's suite, another checkout's).
if test_have_prereq ROOT; then
  exec 9>/run/drover-package-test.lock
  flock -w 600 9 || fail "another package test held /run/drover-package-test.lock for 10 minutes"
fi

# Whatever happens, what this test installed goes: the processes first (they
# run from /usr/bin), then the package, then the user its postinst made.
INSTALLED=
USER_BEFORE=$(getent passwd drover || true)
package_cleanup() {
  pipeline_cleanup
  if [ -n "$INSTALLED" ]; then
    dpkg --purge drover >/dev/null 2>&1 || true
    if [ -z "$USER_BEFORE" ] && getent passwd drover >/dev/null; then userdel drover 2>/dev/null || true; fi
  fi
}
trap package_cleanup EXIT

COMMIT=
test_expect_success 'every program answers --version: the version of CMakeLists.txt and a commit of this checkout' '
  for program in "${PROGRAMS[@]}"; do
    expect_ok "$DROVER_BUILD_DIR/$program" --version
    [ "$(sed -n 1p <<<"$OUT")" = "$program (drover) $VERSION" ] || fail "$program --version: $OUT"
    [ "$(wc -l <<<"$OUT")" -eq 2 ] || fail "$program --version: $OUT"
    commit=$(sed -n "s/^commit //p" <<<"$OUT")
    [ -z "$COMMIT" ] || [ "$commit" = "$COMMIT" ] || fail "$program was built from $commit, another from $COMMIT"
    COMMIT=$commit
  done
  if git -c safe.directory="*" -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
    [[ $COMMIT =~ ^[0-9a-f]{12}$ ]] || fail "commit $COMMIT is not 12 hex digits"
    git -c safe.directory="*" -C "$SRC" cat-file -e "$COMMIT^{commit}" || fail "commit $COMMIT is not a commit of this checkout"
  else
    [ "$COMMIT" = unknown ] || fail "outside a checkout the commit is unknown, not $COMMIT"
  fi
'

test_expect_success ROOT,PACKAGING,NO_DROVER_PACKAGE 'make deb: cpack makes drover_VERSION_ARCH.deb from the build' '
  make -s -n -C "$SRC" deb BUILD="$DROVER_BUILD_DIR" >"$WORK/make-deb.txt"
  grep -q "cpack -G DEB" "$WORK/make-deb.txt" || fail "make deb does not run cpack -G DEB: $(cat "$WORK/make-deb.txt")"
  cpack -G DEB --config "$DROVER_BUILD_DIR/CPackConfig.cmake" -B "$WORK/deb" >"$WORK/cpack.log" 2>&1 ||
    fail "cpack failed: $(tail -20 "$WORK/cpack.log")"
  DEB="$WORK/deb/drover_${VERSION}_$(dpkg --print-architecture).deb"
  [ -f "$DEB" ] || fail "no $DEB; cpack made: $(ls "$WORK/deb")"
'

test_expect_success ROOT,PACKAGING,NO_DROVER_PACKAGE 'its Depends, computed by dpkg-shlibdeps, name every package of scripts/runtime-packages.txt' '
  depends=$(dpkg-deb -f "$DEB" Depends)
  for pkg in $(grep -v "^#" "$SRC/scripts/runtime-packages.txt"); do
    grep -qE "(^|, )$pkg( |,|$)" <<<"$depends" || fail "Depends lacks $pkg: $depends"
  done
  # dpkg-shlibdeps writes the lowest version of each library the programs need.
  for pkg in libc6 libcurl4 librdkafka1 libssl3; do
    grep -qE "(^|, )$pkg \(>= [^)]+\)" <<<"$depends" || fail "Depends has no version for $pkg: $depends"
  done
  [ "$(dpkg-deb -f "$DEB" Package Version | tr "\n" " ")" = "Package: drover Version: $VERSION " ] ||
    fail "package and version: $(dpkg-deb -f "$DEB" Package Version)"
'

test_expect_success ROOT,PACKAGING,NO_DROVER_PACKAGE 'dpkg -i installs the programs, man pages, docs, units and settings files, and makes the user drover' '
  INSTALLED=1
  DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB" >"$WORK/dpkg-i.log" 2>&1 || fail "dpkg -i: $(cat "$WORK/dpkg-i.log")"
  dpkg-query -L drover >"$WORK/files"
  for program in "${PROGRAMS[@]}"; do
    [ -x "/usr/bin/$program" ] || fail "no /usr/bin/$program"
    grep -qx "/usr/share/man/man1/$program.1.gz" "$WORK/files" || fail "no man page for $program"
  done
  for unit in "${UNITS[@]}"; do grep -qx "/usr/lib/systemd/system/$unit" "$WORK/files" || fail "no unit $unit"; done
  for file in "${SETTINGS[@]}"; do [ -f "/etc/drover/$file" ] || fail "no /etc/drover/$file"; done
  dpkg-query -W -f="\${Conffiles}\n" drover >"$WORK/conffiles"
  [ "$(grep -c "^ /etc/drover/" "$WORK/conffiles")" -eq "${#SETTINGS[@]}" ] ||
    fail "the settings files are not all conffiles: $(cat "$WORK/conffiles")"
  [ -f /usr/share/doc/drover/install.md ] || fail "no /usr/share/doc/drover/install.md"
  getent passwd drover >/dev/null || fail "postinst made no user drover"
'

test_expect_success ROOT,PACKAGING,NO_DROVER_PACKAGE 'the installed programs answer --version as the build does, and --help' '
  for program in "${PROGRAMS[@]}"; do
    expect_ok "$DROVER_BUILD_DIR/$program" --version
    built=$OUT
    expect_ok "/usr/bin/$program" --version
    [ "$OUT" = "$built" ] || fail "installed $program says $OUT; the build says $built"
    expect_ok "/usr/bin/$program" --help
    grep -q "^usage: $program" <<<"$OUT" || fail "$program --help: $OUT"
  done
'

BUILD_INFO=
test_expect_success ROOT,PACKAGING,NO_DROVER_PACKAGE,CURL 'the installed broker, package list, aggregator, control plane and worker run; each /metrics says drover_build_info{version,commit} 1' '
  BROKER=/usr/bin/drover-broker AGGREGATOR=/usr/bin/drover-aggregator PRODUCER=/usr/bin/drover-producer WORKER=/usr/bin/drover-worker
  BUILD_INFO="drover_build_info{version=\"$VERSION\",commit=\"$COMMIT\"} 1"
  start_broker
  out=$("$PRODUCER" package list --brokers "$BROKERS" 2>&1) || fail "package list: $out"
  [ "$out" = "no packages published yet" ] || fail "package list: $out"
  start_aggregator
  start_control_plane cp1
  mkdir -p "$WORK/self"
  start_worker agent --self this-machine --self-root "$WORK/self"
  for url in "$AGG_URL" "http://127.0.0.1:$(http_port_of "$CP_LOG")" "http://127.0.0.1:$(http_port_of "$WORK/agent.log")"; do
    curl -sS --max-time 10 "$url/metrics" >"$WORK/metrics" || fail "$url/metrics"
    grep -qxF "$BUILD_INFO" "$WORK/metrics" || fail "$url/metrics lacks $BUILD_INFO: $(grep build_info "$WORK/metrics")"
  done
'

test_expect_success ROOT,PACKAGING,NO_DROVER_PACKAGE 'the installed worker applies a package from a folder' '
  WORKER=/usr/bin/drover-worker
  simple_package acme 1.0
  make_version acme 1.0
  T=$(new_target t1)
  apply "$T" --package acme --manifest "$REPO/acme/1.0/manifest.json" --artifacts "$REPO/acme/1.0"
  expect_rc 0
  expect_installed "$T" acme 1.0
  [ "$(cat "$T/opt/acme/version")" = 1.0 ] || fail "install.sh did not run"
'

test_expect_success ROOT,PACKAGING,NO_DROVER_PACKAGE,SYSTEMD_ANALYZE,MAN 'systemd-analyze verify passes the installed units, whose man pages exist; the aggregator and control plane are hardened' '
  RC=0
  systemd-analyze verify drover-aggregator.service drover-control-plane.service drover-worker@agent.service \
    >"$WORK/verify.txt" 2>&1 || RC=$?
  [ "$RC" -eq 0 ] && [ ! -s "$WORK/verify.txt" ] || fail "systemd-analyze verify (exit $RC): $(cat "$WORK/verify.txt")"
  for unit in drover-aggregator.service drover-control-plane.service; do
    # Exposure below 2.0 ("OK"): the threshold counts tenths.
    systemd-analyze security --offline=yes --threshold=20 "/usr/lib/systemd/system/$unit" >"$WORK/security.txt" 2>&1 ||
      fail "$unit is exposed: $(tail -1 "$WORK/security.txt")"
  done
  grep -qx "ExecStart=/usr/bin/drover-worker run" /usr/lib/systemd/system/drover-worker@.service || fail "the worker unit runs something else"
  grep -qx "Environment=DROVER_SELF=%H" /usr/lib/systemd/system/drover-worker@.service || fail "the agent is not its host"
'

test_expect_success ROOT,PACKAGING,NO_DROVER_PACKAGE,MAN 'the man pages render, name their program and version, and the verbs'"'"' own settings' '
  for program in "${PROGRAMS[@]}"; do
    page=/usr/share/man/man1/$program.1.gz
    zcat "$page" >"$WORK/page.1"
    grep -q "^\.TH ${program^^} \"1\" .* \"drover $VERSION\"" "$WORK/page.1" || fail "$page: $(head -3 "$WORK/page.1")"
    MANWIDTH=200 man -l "$page" >"$WORK/page.txt" 2>"$WORK/man.err" || fail "man -l $page: $(cat "$WORK/man.err")"
    grep -q "^SETTINGS\$\|^COMMANDS\$" "$WORK/page.txt" || fail "$page has no settings: $(head -40 "$WORK/page.txt")"
  done
  MANWIDTH=200 man -l /usr/share/man/man1/drover-producer.1.gz >"$WORK/producer.txt"
  for verb in "package build" "association delete" "serve"; do
    grep -q "^   $verb\$" "$WORK/producer.txt" || fail "drover-producer(1) lacks $verb"
  done
  grep -q -- "--signing-key TEXT" "$WORK/producer.txt" || fail "drover-producer(1) lacks serve'"'"'s --signing-key"
  MANWIDTH=200 man -l /usr/share/man/man1/drover-worker.1.gz >"$WORK/worker.txt"
  grep -q -- "--self-root TEXT" "$WORK/worker.txt" || fail "drover-worker(1) lacks run'"'"'s --self-root"
'

test_expect_success ROOT,PACKAGING,NO_DROVER_PACKAGE 'dpkg -r removes every file but the settings; dpkg --purge those too' '
  stop_pipeline
  dpkg -r drover >"$WORK/dpkg-r.log" 2>&1 || fail "dpkg -r: $(cat "$WORK/dpkg-r.log")"
  while read -r path; do
    case $path in /etc/drover/*) continue ;; esac
    [ -d "$path" ] || [ ! -e "$path" ] || fail "$path is still there"
  done <"$WORK/files"
  [ ! -e /usr/share/doc/drover ] || fail "/usr/share/doc/drover is still there"
  for file in "${SETTINGS[@]}"; do [ -f "/etc/drover/$file" ] || fail "dpkg -r removed /etc/drover/$file"; done
  dpkg --purge drover >"$WORK/dpkg-p.log" 2>&1 || fail "dpkg --purge: $(cat "$WORK/dpkg-p.log")"
  [ ! -e /etc/drover ] || fail "/etc/drover is still there: $(ls -A /etc/drover)"
  INSTALLED=
  if [ -z "$USER_BEFORE" ]; then userdel drover; fi
'

test_expect_success 'make install DESTDIR=... PREFIX=...: every file under DESTDIR, the units naming the prefix'"'"'s paths, settings kept' '
  make -s -n -C "$SRC" install BUILD="$DROVER_BUILD_DIR" DESTDIR="$WORK/stage" PREFIX=/opt/drover >"$WORK/make-install.txt"
  grep -q "DESTDIR=\"$WORK/stage\" cmake --install $DROVER_BUILD_DIR --prefix /opt/drover" "$WORK/make-install.txt" ||
    fail "make install does not run cmake --install with DESTDIR and PREFIX: $(cat "$WORK/make-install.txt")"
  DESTDIR="$WORK/stage" cmake --install "$DROVER_BUILD_DIR" --prefix /opt/drover >"$WORK/install.log" 2>&1 ||
    fail "cmake --install: $(cat "$WORK/install.log")"
  stage=$WORK/stage/opt/drover
  for program in "${PROGRAMS[@]}"; do
    [ -x "$stage/bin/$program" ] || fail "no $stage/bin/$program"
    [ -f "$stage/share/man/man1/$program.1.gz" ] || fail "no man page for $program"
  done
  [ -f "$stage/share/doc/drover/install.md" ] || fail "no docs"
  unit=$stage/lib/systemd/system/drover-control-plane.service
  grep -qx "ExecStart=/opt/drover/bin/drover-producer serve" "$unit" || fail "$unit: $(grep ExecStart "$unit")"
  grep -qx "Environment=DROVER_CONFIG=/opt/drover/etc/drover/control-plane.conf" "$unit" || fail "$unit: $(grep CONFIG "$unit")"
  [ -f "$stage/etc/drover/control-plane.conf" ] || fail "no $stage/etc/drover/control-plane.conf"
  [ "$(find "$WORK/stage" -mindepth 1 -maxdepth 1)" = "$WORK/stage/opt" ] || fail "installed outside the prefix: $(ls "$WORK/stage")"
  echo "brokers = kafka:9092" >"$stage/etc/drover/control-plane.conf"
  DESTDIR="$WORK/stage" cmake --install "$DROVER_BUILD_DIR" --prefix /opt/drover >"$WORK/install.log" 2>&1
  [ "$(cat "$stage/etc/drover/control-plane.conf")" = "brokers = kafka:9092" ] || fail "a second install replaced the settings"
'

test_done
