#!/usr/bin/env bash
# The chart's monitoring: the PrometheusRule (metrics.prometheusRule) as
# helm template renders it passes `promtool check rules` and the cases of
# tests/helm/rules-test.yaml (`promtool test rules`: each alert fires when
# it should, with its labels and text, and not otherwise); the Grafana
# dashboard (metrics.grafanaDashboard) is a ConfigMap Grafana's sidecar
# loads, every panel with a query; and every metric a rule or a panel
# names is one the programs serve: the broker, an aggregator, a control
# plane and a worker run here and their /metrics are read.  promtool is
# only ever run as a command: no Prometheus server is started.
. "$(dirname "$0")/pipeline_lib.sh"
SRC="${DROVER_SOURCE_DIR:?}"
. "$SRC/tests/helm/tools.sh"
MONITORING=(--set metrics.prometheusRule.enabled=true --set metrics.grafanaDashboard.enabled=true)

test_expect_success GO 'set-up: drover-helm-check builds from Debian'\''s Go packages alone' '
  build_check
'

test_expect_success GO,HELM,JQ 'the PrometheusRule and the dashboard ConfigMap render, labelled for the Operator and the sidecar' '
  render monitoring "${REQUIRED[@]}" "${MONITORING[@]}" --set metrics.prometheusRule.labels.release=prometheus
  jq -e "[.[] | select(.kind == \"PrometheusRule\")] | length == 1 and .[0].metadata.labels.release == \"prometheus\"" \
    "$WORK/monitoring.json" >/dev/null || fail "expected one PrometheusRule labelled release=prometheus"
  jq -e "[.[] | select(.kind == \"ConfigMap\" and .metadata.labels.grafana_dashboard == \"1\")] | length == 1" \
    "$WORK/monitoring.json" >/dev/null || fail "expected one ConfigMap labelled grafana_dashboard=1"
  jq ".[] | select(.kind == \"PrometheusRule\") | .spec" "$WORK/monitoring.json" >"$WORK/drover-rules.yaml"
  jq -r ".[] | select(.kind == \"ConfigMap\" and .metadata.labels.grafana_dashboard == \"1\") | .data[\"drover.json\"]" \
    "$WORK/monitoring.json" >"$WORK/dashboard.json"
  render more "${REQUIRED[@]}" "${MONITORING[@]}" --set-json "metrics.prometheusRule.additionalRules=[{\"alert\": \"Mine\", \"expr\": \"vector(1)\"}]"
  jq -e "[.[] | select(.kind == \"PrometheusRule\") | .spec.groups[0].rules[-1].alert] == [\"Mine\"]" "$WORK/more.json" >/dev/null \
    || fail "metrics.prometheusRule.additionalRules not appended to the drover group"
  render none "${REQUIRED[@]}"
  jq -e "[.[] | select(.kind == \"PrometheusRule\" or .metadata.labels.grafana_dashboard != null)] == []" "$WORK/none.json" >/dev/null \
    || fail "a PrometheusRule or a dashboard without metrics.prometheusRule.enabled and metrics.grafanaDashboard.enabled"
'

test_expect_success HELM,JQ,PROMTOOL 'promtool: the rules are valid, and every alert fires when it should and only then (tests/helm/rules-test.yaml)' '
  promtool check rules "$WORK/drover-rules.yaml" >"$WORK/check.out" 2>&1 || fail "promtool check rules:
$(cat "$WORK/check.out")"
  grep -q "SUCCESS: 9 rules found" "$WORK/check.out" || fail "expected 9 rules: $(cat "$WORK/check.out")"
  cp "$SRC/tests/helm/rules-test.yaml" "$WORK/rules-test.yaml"
  promtool test rules "$WORK/rules-test.yaml" >"$WORK/test.out" 2>&1 || fail "promtool test rules:
$(cat "$WORK/test.out")"
  # Every alert of the file has a case.
  jq -r ".groups[].rules[].alert" "$WORK/drover-rules.yaml" | sort -u >"$WORK/alerts"
  sed -n "s/^ *alertname: //p" "$WORK/rules-test.yaml" | sort -u >"$WORK/tested"
  missing=$(comm -23 "$WORK/alerts" "$WORK/tested")
  [ -z "$missing" ] || fail "alerts without a case in tests/helm/rules-test.yaml: $missing"
'

test_expect_success HELM,JQ 'the dashboard: valid JSON with a uid, every panel queries, every query through the ${datasource} variable' '
  jq -e ".uid == \"drover-fleet\" and .title == \"Drover\" and (.templating.list | map(.name) | index(\"datasource\") != null)" \
    "$WORK/dashboard.json" >/dev/null || fail "dashboard: no uid drover-fleet, title or datasource variable"
  jq -e "[.panels[] | select(.type != \"row\") | (.targets | length > 0) and all(.targets[]; .expr != \"\" and .datasource.uid == \"\${datasource}\")]
      | length >= 15 and all" "$WORK/dashboard.json" >/dev/null \
    || fail "dashboard: a panel without a query, or a query not through \${datasource}"
  for panel in "Fleet by version" "Deployments in flight" "Jobs per second" "Jobs failed, by state" \
      "Jobs ended unreleased, by reason" "Requests refused, by reason" "Workers: jobs queued and running" "Aggregator lag"; do
    jq -e --arg t "$panel" "[.panels[] | select(.title == \$t)] | length == 1" "$WORK/dashboard.json" >/dev/null \
      || fail "dashboard: no panel \"$panel\""
  done
'

# scrape NAME URL FAMILY: the TYPE lines of URL/metrics into $WORK/NAME.types, once FAMILY is among them.
scrape() {
  for _ in $(seq 1 100); do
    curl -sS --max-time 5 "$2/metrics" >"$WORK/$1.metrics" 2>/dev/null || true
    if grep -q "^# TYPE $3 " "$WORK/$1.metrics"; then
      sed -n "s/^# TYPE \([a-zA-Z_:][a-zA-Z0-9_:]*\) \([a-z]*\)$/\1 \2/p" "$WORK/$1.metrics" >"$WORK/$1.types"
      return 0
    fi
    sleep 0.2
  done
  fail "$1 never served $3 on $2/metrics: $(head -5 "$WORK/$1.metrics")"
}

test_expect_success CURL 'the programs serve their metrics: an aggregator, a control plane and a worker over the embedded broker' '
  start_broker
  start_aggregator
  start_control_plane cp1 --http 127.0.0.1:0
  start_worker w1
  scrape aggregator "$AGG_URL" drover_fleet_targets
  scrape control-plane "http://127.0.0.1:$(http_port_of "$CP_LOG")" drover_control_plane_caught_up
  scrape worker "http://127.0.0.1:$(http_port_of "$WORK/w1.log")" drover_worker_jobs_total
  # A histogram is queried by its _bucket, _sum and _count series.
  cat "$WORK"/{aggregator,control-plane,worker}.types | while read -r name type; do
    echo "$name"
    if [ "$type" = histogram ]; then printf "%s\n" "${name}_bucket" "${name}_sum" "${name}_count"; fi
  done | sort -u >"$WORK/served"
  [ "$(wc -l <"$WORK/served")" -ge 25 ] || fail "too few metrics served: $(cat "$WORK/served")"
'

# used_metrics: every metric the rules and the dashboard name, with the expression, into $WORK/used.
used_metrics() {
  { jq "[.groups[].rules[].expr]" "$WORK/drover-rules.yaml"
    jq "[.panels[].targets[]?.expr] + [.templating.list[] | select(.type == \"query\") | .query.query]" "$WORK/dashboard.json"; } \
    | jq -s "add" >"$WORK/exprs.json"
  "$CHECK" promql-metrics <"$WORK/exprs.json" >"$WORK/used" || fail "cannot read the expressions: $(cat "$WORK/exprs.json")"
}

# unserved: the lines of $WORK/used whose metric is not in $WORK/served.
unserved() {
  [ -s "$WORK/served" ] && [ -s "$WORK/used" ] || fail "nothing to compare: no metrics served, or none used"
  awk -F "\t" "NR == FNR { served[\$1] = 1; next } !(\$1 in served)" "$WORK/served" "$WORK/used"
}

test_expect_success GO,HELM,JQ,CURL 'every metric a rule or a dashboard panel names is one the programs serve' '
  used_metrics
  grep -q "^drover_fleet_targets	" "$WORK/used" && grep -q "^drover_worker_job_slot_seconds_bucket	" "$WORK/used" \
    || fail "the metrics read from the expressions miss some: $(cut -f1 "$WORK/used" | sort -u)"
  bad=$(unserved)
  [ -z "$bad" ] || fail "metrics no program serves (name, then the expression):
$bad"
'

test_expect_success GO,JQ,CURL 'the check can fail: a made-up metric and a misspelt one are found' '
  printf "%s\n" "[\"sum by (pod) (rate(drover_jobs_done_total{namespace=\\\"x\\\"}[5m]))\", \"drover_worker_jobs_queue > 0\"]" \
    | "$CHECK" promql-metrics >"$WORK/used"
  bad=$(unserved | cut -f1 | sort | tr "\n" " ")
  [ "$bad" = "drover_jobs_done_total drover_worker_jobs_queue " ] || fail "expected both names refused; got: $bad"
'

test_done
