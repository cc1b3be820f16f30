#!/usr/bin/env bash
# The chart as Helm itself judges it, with Helm 4 and Helm 3 (the two
# majors clusters run; scripts/install-deps.sh installs both): helm lint
# --strict and helm template with the defaults and with every feature on;
# values.schema.json refusing a misspelt key and a value of the wrong type,
# with a message naming it; and the chart's README and schema being what
# tests/helm/generate.sh writes from values.yaml's @param comments.
. "$(dirname "$0")/lib.sh"
SRC="${DROVER_SOURCE_DIR:?}"
. "$SRC/tests/helm/tools.sh"
test_lazy_prereq README_GENERATOR '[ -x "${DROVER_README_GENERATOR:-$DROVER_TOOLS/bin/readme-generator}" ]'

# lint_and_template HELM: both succeed, with the defaults and with every feature on.
lint_and_template() {
  local helm=$1 version
  version=$("$helm" version --template '{{.Version}}')
  for values in required all; do
    local args=("${REQUIRED[@]}")
    [ $values = all ] && args=(--values "$SRC/tests/helm/values-all.yaml")
    "$helm" lint --strict "$CHART" "${args[@]}" >"$WORK/lint.out" 2>&1 || fail "helm $version lint --strict ($values) failed:
$(cat "$WORK/lint.out")"
    grep -q "1 chart(s) linted, 0 chart(s) failed" "$WORK/lint.out" || fail "helm $version lint ($values): $(cat "$WORK/lint.out")"
    "$helm" template drover "$CHART" --namespace fleet "${args[@]}" >"$WORK/template.out" 2>&1 || fail "helm $version template ($values) failed:
$(cat "$WORK/template.out")"
    grep -q "^kind: Deployment" "$WORK/template.out" || fail "helm $version template ($values) rendered no Deployment"
  done
  # Bare, as a chart repository's CI lints it: lint passes over the
  # templates' required values (it reports them), never over the schema.
  "$helm" lint --strict "$CHART" >"$WORK/lint.out" 2>&1 || fail "helm $version lint --strict without values failed:
$(cat "$WORK/lint.out")"
}
test_expect_success HELM 'helm 4: lint --strict and template pass with the required values, with every feature, and lint with none' '
  lint_and_template "$HELM"
'
test_expect_success HELM3 'helm 3: lint --strict and template pass with the required values, with every feature, and lint with none' '
  lint_and_template "$HELM3"
'

# What each major says of a refusal: Helm 4 names a path /a/b, Helm 3 a.b.
# typo_msg MAJOR PARENT KEY, type_msg MAJOR PATH WANT, enum_msg MAJOR PATH (dotted; "" is the top).
typo_msg() {
  case $1 in
    4) echo "at '${2:+/}${2//./\/}': additional properties '$3' not allowed" ;;
    3) echo "${2:-(root)}: Additional property $3 is not allowed" ;;
  esac
}
type_msg() {
  case $1 in
    4) echo "at '/${2//./\/}': got string, want $3" ;;
    3) echo "$2: Invalid type. Expected: $3, given: string" ;;
  esac
}
enum_msg() {
  case $1 in
    4) echo "at '/${2//./\/}': value must be one of" ;;
    3) echo "$2: ${2##*.} must be one of the following" ;;
  esac
}

# schema_refusals MAJOR HELM: the committed values.schema.json refuses, in
# helm template, lint and (Helm 4; Helm 3's wants a cluster) install --dry-run.
schema_refusals() {
  local major=$1 helm=$2 cmd
  local cmds=(template lint)
  [ "$major" = 4 ] && cmds+=(install)
  for cmd in "${cmds[@]}"; do
    local run=("$helm" "$cmd" drover "$CHART")
    [ "$cmd" = install ] && run+=(--dry-run=client)
    [ "$cmd" = lint ] && run=("$helm" lint "$CHART")
    expect_fail_with "$(typo_msg "$major" worker replcias)" "${run[@]}" "${REQUIRED[@]}" --set worker.replcias=3
    expect_fail_with "$(type_msg "$major" worker.replicas integer)" "${run[@]}" "${REQUIRED[@]}" --set worker.replicas=two
  done
  printf 'controlPlane:\n  replicsa: 3\n' >"$WORK/typo.yaml"
  expect_fail_with "$(typo_msg "$major" controlPlane replicsa)" "$helm" template drover "$CHART" "${REQUIRED[@]}" --values "$WORK/typo.yaml"
  # At the top and deep down: every object of the chart's own is closed.
  expect_fail_with "$(typo_msg "$major" "" kafak)" "$helm" template drover "$CHART" "${REQUIRED[@]}" --set kafak.brokers=x
  expect_fail_with "$(typo_msg "$major" metrics.prometheusRule enable)" "$helm" template drover "$CHART" "${REQUIRED[@]}" \
    --set metrics.prometheusRule.enable=true
  expect_fail_with "$(type_msg "$major" worker.keda.enabled boolean)" "$helm" template drover "$CHART" "${REQUIRED[@]}" \
    --set-string worker.keda.enabled=yes
  expect_fail_with "$(enum_msg "$major" logLevel)" "$helm" template drover "$CHART" "${REQUIRED[@]}" --set logLevel=verbose
  # Kubernetes' own objects stay open, and "" still means the chart's default.
  "$helm" template drover "$CHART" "${REQUIRED[@]}" --set worker.resources.limits.memory=1Gi \
    --set 'podSecurityContext.supplementalGroups[0]=5' --set worker.terminationGracePeriodSeconds= \
    --set worker.pdb.maxUnavailable=50% >"$WORK/open.out" 2>&1 || fail "helm $major: open objects or empty values refused:
$(cat "$WORK/open.out")"
}
test_expect_success HELM 'helm 4: values.schema.json refuses a misspelt key and a wrong type, at any depth, in template, lint and install' '
  schema_refusals 4 "$HELM"
'
test_expect_success HELM3 'helm 3: values.schema.json refuses a misspelt key and a wrong type, at any depth, in template and lint' '
  schema_refusals 3 "$HELM3"
'

test_expect_success README_GENERATOR,JQ 'the chart README'\''s parameters and values.schema.json are what tests/helm/generate.sh writes from values.yaml' '
  "$SRC/tests/helm/generate.sh" --check >"$WORK/generate.out" 2>&1 || fail "regenerate with tests/helm/generate.sh:
$(cat "$WORK/generate.out")"
'

test_done
