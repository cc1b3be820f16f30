# tools.sh - where the chart's tests find their tools; sourced by
# tests/e2e/t0910, t0911 and t0912 after lib.sh.  scripts/install-deps.sh
# installs them all: Helm 4 and Helm 3 (unzipped from AWS CDK's kubectl
# layers on npm) and Bitnami's readme-generator-for-helm, linked from
# $DROVER_TOOLS/bin; Go with sigs.k8s.io/yaml and promtool from Debian.
DROVER_TOOLS=${DROVER_TOOLS:-/opt/drover-tools}
HELM=${DROVER_HELM:-$DROVER_TOOLS/bin/helm}    # Helm 4
HELM3=${DROVER_HELM3:-$DROVER_TOOLS/bin/helm3} # Helm 3
CHART="$DROVER_SOURCE_DIR/helm/drover"
CHECK="$WORK/bin/drover-helm-check" # per test: the suite runs them in parallel
test_lazy_prereq HELM '[ -x "$HELM" ]'
test_lazy_prereq HELM3 '[ -x "$HELM3" ]'
test_lazy_prereq GO 'command -v go'
test_lazy_prereq PROMTOOL 'command -v promtool'

# Helm keeps its caches and settings under HOME, which may not be
# writable: give it the test's own.
export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"

# The values every install needs: the brokers, the signing Secret, the policy and the operators' keys.
REQUIRED=(--set kafka.brokers=kafka-0.kafka:9092 --set signing.existingSecret=drover-signing
  --set authority.existingConfigMap=drover-policy --set authority.operatorKeysSecret=drover-operators)

# build_check: drover-helm-check, from Debian's Go packages alone: GOPATH
# mode, no module downloads, the cache inside the build directory (HOME
# may not be writable).  Once per build directory and source.
build_check() {
  (
    cd "$DROVER_SOURCE_DIR/tests/helm"
    GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off GOENV=off \
      GOCACHE="$DROVER_BUILD_DIR/helm-go-cache" go build -o "$CHECK" .
  ) 2>"$WORK/build.err" || fail "building tests/helm failed (needs golang-go and golang-k8s-sigs-yaml-dev):
$(cat "$WORK/build.err")"
}

# helm_template [helm args...]: `helm template drover CHART --namespace fleet ARGS` (Helm 4).
helm_template() {
  "$HELM" template drover "$CHART" --namespace fleet "$@"
}

# render NAME ARGS...: helm template into $WORK/NAME.yaml, checked, as JSON
# ($WORK/NAME.json) and as container settings ($WORK/NAME.containers).
render() {
  local name=$1; shift
  helm_template "$@" >"$WORK/$name.yaml" 2>"$WORK/$name.err" || fail "rendering $name ($*) failed:
$(cat "$WORK/$name.err")"
  "$CHECK" check "$WORK/$name.yaml" >"$WORK/$name.check" 2>&1 || fail "$name: invalid objects:
$(cat "$WORK/$name.check")"
  "$CHECK" json "$WORK/$name.yaml" >"$WORK/$name.json" || fail "$name: cannot convert to JSON"
  "$CHECK" containers "$WORK/$name.yaml" >"$WORK/$name.containers" || fail "$name: cannot list containers"
}

# render_notes NAME ARGS...: NOTES.txt as `helm install` would print it,
# into $WORK/NAME.txt.  helm template leaves NOTES.txt out and helm install
# takes no --api-versions, so a copy of the chart renders it inside a
# ConfigMap: NOTES.txt becomes a named template, included with the same
# root context.
render_notes() {
  local name=$1; shift
  local copy="$WORK/notes-chart/drover"
  if [ ! -d "$copy" ]; then
    mkdir -p "$WORK/notes-chart"
    cp -r "$CHART" "$copy"
    { printf '{{- define "test.notes" -}}\n'; cat "$CHART/templates/NOTES.txt"; printf '{{- end -}}\n'; } >"$copy/templates/_test_notes.tpl"
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test-notes\ndata:\n  notes: {{ include "test.notes" . | toJson }}\n' \
      >"$copy/templates/test-notes.yaml"
  fi
  "$HELM" template drover "$copy" --namespace fleet --show-only templates/test-notes.yaml "$@" >"$WORK/$name.notes.yaml" 2>&1 \
    || fail "NOTES.txt does not render ($*):
$(cat "$WORK/$name.notes.yaml")"
  "$CHECK" json "$WORK/$name.notes.yaml" | jq -r '.[0].data.notes' >"$WORK/$name.txt"
}
