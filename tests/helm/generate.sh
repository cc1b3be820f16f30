#!/usr/bin/env bash
# Writes the chart's generated files from the @param comments of
# helm/drover/values.yaml, with Bitnami's readme-generator-for-helm:
#   helm/drover/README.md          its "## Parameters" tables
#   helm/drover/values.schema.json the generator's schema, tightened by
#                                  tests/helm/values-schema.jq
# Run it after changing values.yaml.  With --check it writes into a
# temporary copy and fails, showing the difference, when the committed
# files are not what it would write (t0911 runs that).
# The generator comes from scripts/install-deps.sh ($DROVER_TOOLS/bin).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CHART="$SRC/helm/drover"
GENERATOR=${DROVER_README_GENERATOR:-${DROVER_TOOLS:-/opt/drover-tools}/bin/readme-generator}
[ -x "$GENERATOR" ] || { echo "generate.sh: no $GENERATOR (scripts/install-deps.sh installs it)" >&2; exit 2; }
check=false
[ "${1:-}" = --check ] && check=true
tmp=$(mktemp -d "${TMPDIR:-/tmp}/drover-chart-gen.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$CHART/README.md" "$tmp/README.md"
if ! "$GENERATOR" --values "$CHART/values.yaml" --readme "$tmp/README.md" --schema "$tmp/generated.json" >"$tmp/log" 2>&1; then
  grep -v '^INFO\|^Skipping' "$tmp/log" >&2
  exit 1
fi
jq --indent 2 -f "$SRC/tests/helm/values-schema.jq" "$tmp/generated.json" >"$tmp/values.schema.json"
if $check; then
  status=0
  diff -u "$CHART/README.md" "$tmp/README.md" || { echo "helm/drover/README.md is not what tests/helm/generate.sh writes" >&2; status=1; }
  diff -u "$CHART/values.schema.json" "$tmp/values.schema.json" || { echo "helm/drover/values.schema.json is not what tests/helm/generate.sh writes" >&2; status=1; }
  exit $status
fi
cp "$tmp/README.md" "$CHART/README.md"
cp "$tmp/values.schema.json" "$CHART/values.schema.json"
