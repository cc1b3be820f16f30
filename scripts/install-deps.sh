#!/usr/bin/env bash
# Install the Debian packages Drover builds and tests with, when missing.
# Runs apt-get only if something is absent, so repeated runs are quick.
set -euo pipefail
packages=(build-essential cmake pkg-config
          librdkafka-dev libprotobuf-c-dev protobuf-c-compiler
          libcurl4-openssl-dev libzip-dev libssl-dev libjansson-dev zlib1g-dev
          zip unzip procps kcat jq curl perl openssl
          protobuf-compiler          # protoc: tests write hand-made messages from proto/drover.proto
          clang libclang-rt-14-dev   # the ASan build and the libFuzzer targets
          clang-format               # the style test
          openssh-client openssh-server  # the ssh executor and its tests (a loopback sshd)
          rpm                        # rpm and rpmbuild: package create's .rpm tests (t0555)
          shellcheck                 # t0555 checks the scripts package create writes
          golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev yamllint  # the Helm chart's tests
          chromium python3 fonts-dejavu-core)  # t0480: the console in headless Chromium (tests/e2e/browser.py)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
