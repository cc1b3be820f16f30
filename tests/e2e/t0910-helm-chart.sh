#!/usr/bin/env bash
# The Helm chart, as Helm renders it: `helm template` (Helm 4, which
# scripts/install-deps.sh installs; tests/helm/tools.sh says where) renders
# helm/drover, and this script checks what comes out: valid objects
# (tests/helm/main.go, drover-helm-check, checks what Helm does not), clean
# YAML, values reaching the containers, the refusals, the fixes found by
# reading the chart, and every flag and DROVER_* variable against the real
# programs' --help.  helm lint, the schema, the generated README and both
# Helm majors are t0911's; the alerts and the dashboard t0912's.
. "$(dirname "$0")/lib.sh"
SRC="${DROVER_SOURCE_DIR:?}"
. "$SRC/tests/helm/tools.sh"
YAMLLINT_CONFIG="$SRC/tests/helm/.yamllint"
test_lazy_prereq YAMLLINT 'command -v yamllint'

test_expect_success GO 'set-up: drover-helm-check builds from Debian'\''s Go packages alone' '
  build_check
'

# expect_jq NAME FILTER WHAT: the jq FILTER over $WORK/NAME.json is true.
expect_jq() {
  jq -e "$2" "$WORK/$1.json" >/dev/null || fail "$1: expected $3 (jq: $2)"
}

# A pod spec's container by workload name: "drover-worker" and so on.
workload() { echo ".[] | select(.metadata.name == \"$1\" and .spec.template != null)"; }

# --- the checker can fail: a document without labels is refused ---
refuses_unlabelled() {
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bare\n' >"$WORK/bare.yaml"
  expect_fail_with "no metadata.labels" "$CHECK" check "$WORK/bare.yaml"
}
test_expect_success GO 'the checker can fail: a document without labels is refused' '
  refuses_unlabelled
'

# --- defaults, and everything on ---
test_expect_success GO,HELM 'the chart renders with helm template, as valid objects, with the defaults and with every feature on' '
  render default "${REQUIRED[@]}"
  render all --values "$SRC/tests/helm/values-all.yaml"
'

test_expect_success GO,HELM 'NOTES.txt renders, warning that the agents run as root, and that KEDA and the Prometheus Operator are missing unless the cluster serves them' '
  render_notes notes-default "${REQUIRED[@]}"
  grep -q "is installed as release drover in namespace fleet" "$WORK/notes-default.txt" || fail "NOTES.txt does not say what was installed:
$(cat "$WORK/notes-default.txt")"
  ! grep -q "WARNING" "$WORK/notes-default.txt" || fail "NOTES.txt warns with the defaults"
  render_notes notes-all --values "$SRC/tests/helm/values-all.yaml"
  grep -q "AS ROOT" "$WORK/notes-all.txt" || fail "NOTES.txt does not warn that the agents run as root"
  grep -q "keda.sh/v1alpha1" "$WORK/notes-all.txt" || fail "NOTES.txt does not warn when KEDA is missing from the cluster"
  grep -q "monitoring.coreos.com/v1" "$WORK/notes-all.txt" || fail "NOTES.txt does not warn when the Prometheus Operator is missing"
  render_notes notes-crds --values "$SRC/tests/helm/values-all.yaml" --api-versions keda.sh/v1alpha1 \
    --api-versions monitoring.coreos.com/v1
  ! grep -q "keda.sh/v1alpha1" "$WORK/notes-crds.txt" || fail "NOTES.txt warns about KEDA although the cluster serves it"
  ! grep -q "monitoring.coreos.com/v1" "$WORK/notes-crds.txt" || fail "NOTES.txt warns about the Prometheus Operator although the cluster serves it"
'

test_expect_success GO,HELM,YAMLLINT 'the rendered YAML, values.yaml and Chart.yaml are clean for yamllint' '
  yamllint -c "$YAMLLINT_CONFIG" "$WORK/default.yaml" "$WORK/all.yaml" "$CHART/values.yaml" "$CHART/Chart.yaml" \
    "$SRC/tests/helm/values-all.yaml" >"$WORK/yamllint.out" 2>&1 || fail "yamllint:
$(cat "$WORK/yamllint.out")"
'

# Every kind the chart can make, each once per component.
kinds_made() {
  kinds=$(jq -r '[.[] | .kind] | group_by(.) | map("\(.[0])=\(length)") | join(" ")' "$WORK/all.json")
  want="ConfigMap=3 DaemonSet=1 Deployment=3 Job=1 PodDisruptionBudget=3 PrometheusRule=1 ScaledObject=1 Service=4 ServiceAccount=1 ServiceMonitor=4 TriggerAuthentication=1"
  [ "$kinds" = "$want" ] || fail "values-all: expected $want; got $kinds"
  kinds=$(jq -r '[.[] | .kind] | group_by(.) | map("\(.[0])=\(length)") | join(" ")' "$WORK/default.json")
  [ "$kinds" = "Deployment=3 Job=1 PodDisruptionBudget=3 Service=3 ServiceAccount=1" ] \
    || fail "defaults: expected Deployment=3 Job=1 PodDisruptionBudget=3 Service=3 ServiceAccount=1; got $kinds"
}
test_expect_success GO,HELM,JQ 'every kind the chart can make, once per component (fewer by default)' '
  kinds_made
'

# --- every container: its program named, the security context, Kafka ---
containers_secure() {
  for name in default all; do
    expect_jq $name '[.[] | .spec.template.spec.containers[]?.command[0]] | length > 0 and all(startswith("/usr/local/bin/drover-"))' \
      "every container to name its program (the image's entrypoint is drover-worker)"
    expect_jq $name '[.[] | select(.kind != "DaemonSet") | .spec.template.spec.containers[]? | .securityContext
        | .runAsNonRoot == true and .runAsUser == 10001 and .readOnlyRootFilesystem == true
          and .allowPrivilegeEscalation == false and .capabilities.drop == ["ALL"] and .seccompProfile.type == "RuntimeDefault"]
        | length > 0 and all' \
      "every unprivileged container non-root (10001), read-only, no escalation, no capabilities, RuntimeDefault seccomp"
    expect_jq $name '[.[] | .spec.template.spec.containers[]? | [.volumeMounts[] | select(.mountPath == "/tmp")] | length == 1] | all' \
      "a writable /tmp in every container"
    expect_jq $name '[.[] | select(.kind == "Deployment" or .kind == "DaemonSet") | .spec.template.spec.containers[]
        | .livenessProbe.httpGet.path == "/healthz" and .readinessProbe.httpGet.path == "/readyz" and .ports[0].name == "http"]
        | length > 0 and all' \
      "liveness on /healthz and readiness on /readyz on the http port of every long-running container"
  done
}
test_expect_success GO,HELM,JQ 'every container names its program, runs non-root, read-only, without escalation or capabilities, with a /tmp and probes' '
  containers_secure
'

kafka_and_services() {
  expect_jq default "[.[] | .spec.template.spec.containers[]? | [.env[] | select(.name == \"DROVER_BROKERS\") | .value] == [\"kafka-0.kafka:9092\"]] | length == 4 and all" \
    "DROVER_BROKERS=kafka-0.kafka:9092 in all 4 containers"
  expect_jq all "[.[] | .spec.template.spec.containers[]? | [.env[] | select(.name == \"DROVER_BROKERS\") | .value] == [\"kafka-0.kafka:9094,kafka-1.kafka:9094\"]] | length == 5 and all" \
    "the brokers in all 5 containers"
  expect_jq all '[.[] | .spec.template.spec.containers[]? | [.env[] | select(.name == "DROVER_TOPIC_PREFIX") | .value] == ["prod.drover."]] | all' \
    "the topic prefix in every container"
  expect_jq default '[.[] | select(.kind == "Service") | .spec.ports[0] | .name == "http" and .port == 8080] | all' \
    "every Service's port named http, 8080"
  expect_jq default '[.[] | select(.kind == "Service" and .metadata.name != "drover-worker") | .spec.type] == ["ClusterIP", "ClusterIP"]' \
    "ClusterIP Services for the control plane and the aggregator"
}
test_expect_success GO,HELM,JQ 'the brokers and the topic prefix reach every container; every Service on http 8080, the control plane'\''s and the aggregator'\''s ClusterIP' '
  kafka_and_services
'

# --- values reach the containers ---
values_reach() {
  render concurrency "${REQUIRED[@]}" --set worker.concurrency=7
  grep -qP '^Deployment/drover-worker\tworker\tdrover-worker run\tflag\t--concurrency\t7$' "$WORK/concurrency.containers" \
    || fail "--set worker.concurrency=7: expected --concurrency=7 in the worker container; got:
$(grep -- --concurrency "$WORK/concurrency.containers")"
  expect_jq default "$(workload drover-worker) | .spec.replicas == 2" "2 worker replicas by default"
}
test_expect_success GO,HELM,JQ 'values reach the containers: worker.concurrency as --concurrency; 2 worker replicas by default' '
  values_reach
'

# The policy and the operators' keys: mounted as directories (a change reaches the running control plane).
authority_reaches() {
  cp=$(workload drover-control-plane)
  expect_jq default "$cp | .spec.template.spec.containers[0].args | index(\"--policy=/etc/drover/policy/policy.json\") != null and index(\"--operator-keys=/etc/drover/operators\") != null" \
    "--policy and --operator-keys on the control plane"
  expect_jq default "$cp | .spec.template.spec.volumes | map(select(.name == \"policy\"))[0].configMap.name == \"drover-policy\"" \
    "the policy from authority.existingConfigMap"
  expect_jq default "$cp | .spec.template.spec.volumes | map(select(.name == \"operator-keys\"))[0].secret.secretName == \"drover-operators\"" \
    "the operators' keys from authority.operatorKeysSecret"
  expect_jq default "$cp | [.spec.template.spec.containers[0].volumeMounts[] | select(.name == \"policy\" or .name == \"operator-keys\") | .subPath] == [null, null]" \
    "policy and keys mounted whole (no subPath: updates reach the pod)"
  expect_jq all '.[] | select(.kind == "ConfigMap" and .metadata.name == "drover-policy") | .data["policy.json"] | fromjson | .rules[0].name == "platform-all"' \
    "an inline authority.policy rendered as JSON into the drover-policy ConfigMap"
}
test_expect_success GO,HELM,JQ 'the policy (a ConfigMap, inline or existing) and the operators'"'"' keys (a Secret) reach the control plane' '
  authority_reaches
'

aws_events_reach() {
  cp=$(workload drover-control-plane)
  expect_jq all "$cp | .spec.template.spec.containers[0].args | index(\"--target-templates=/etc/drover/aws-events/templates.json\") != null
      and index(\"--aws-events-topic=aws.eventbridge.ec2\") != null and index(\"--aws-event-max-age-seconds=600\") != null" \
    "the target templates, the topic and the age limit on the control plane"
  expect_jq all "$cp | .spec.template.spec.volumes | map(select(.name == \"target-templates\"))[0].configMap.name == \"drover-target-templates\"" \
    "the templates' ConfigMap mounted"
  expect_jq all '[.[] | select(.kind == "ConfigMap" and .metadata.name == "drover-target-templates") | .data["templates.json"] | fromjson
      | .templates[0].name == "web" and .templates[0].tags.Role == "web"] == [true]' \
    "the templates rendered as the JSON serve reads"
  expect_jq default "$cp | .spec.template.spec.containers[0].args | map(select(startswith(\"--target-templates\"))) == []" \
    "no AWS events read by default"
}
test_expect_success GO,HELM,JQ 'AWS events: the target templates (a ConfigMap), the topic and the age limit reach the control plane; off by default' '
  aws_events_reach
'

# Kafka security: the password only ever in a Secret reference, expanded by
# the kubelet into DROVER_KAFKA_PROPERTY after it is defined.
kafka_security() {
  ! grep -qi 'password' <(grep -P '\tflag\t' "$WORK/all.containers") || fail "a password on a command line"
  expect_jq all '[.[] | .spec.template.spec.containers[]? | .env | map(.name) as $names
        | ($names | index("KAFKA_SASL_PASSWORD")) as $secret | ($names | index("DROVER_KAFKA_PROPERTY")) as $props
        | $secret != null and $props != null and $secret < $props
          and (.[$secret].valueFrom.secretKeyRef == {"name": "kafka-drover-user", "key": "password"})
          and (.[$props].value | split("\n") | index("sasl.password=$(KAFKA_SASL_PASSWORD)") != null)
          and (.[$props].value | split("\n") | index("security.protocol=SASL_SSL") != null)
          and (.[$props].value | split("\n") | index("sasl.mechanism=SCRAM-SHA-512") != null)
          and (.[$props].value | split("\n") | index("session.timeout.ms=10000") != null)] | length == 5 and all' \
    "every container: KAFKA_SASL_PASSWORD from the Secret, defined before DROVER_KAFKA_PROPERTY, which holds SASL_SSL, the mechanism, the password reference and kafka.properties"
  expect_jq all '[.[] | .spec.template.spec | select(. != null) | (.volumes[] | select(.name == "kafka-tls") | .secret.secretName == "kafka-client-tls" and .secret.defaultMode == 256)
        and ([.containers[].volumeMounts[] | select(.name == "kafka-tls") | .mountPath == "/etc/drover/kafka-tls" and .readOnly] | length == 1 and all)] | length == 5 and all' \
    "the Kafka TLS Secret mounted read-only (0400) at /etc/drover/kafka-tls in every pod"
  expect_jq all '[.[] | .spec.template.spec.containers[]? | .env[] | select(.name == "DROVER_KAFKA_PROPERTY") | .value | split("\n")
        | index("ssl.ca.location=/etc/drover/kafka-tls/ca.crt") != null and index("ssl.key.location=/etc/drover/kafka-tls/tls.key") != null] | length == 5 and all' \
    "ssl.ca.location and ssl.key.location pointing into the mounted Secret"
  ! grep -qP '\tflag\t--kafka-property\t' "$WORK/all.containers" || fail "--kafka-property on a command line: flags would replace DROVER_KAFKA_PROPERTY"
}
test_expect_success GO,HELM,JQ 'Kafka security: the password only in a Secret reference, defined before DROVER_KAFKA_PROPERTY; the TLS Secret mounted read-only' '
  kafka_security
'

# Signing: the private key in the control plane alone, the public ones in the workers.
signing() {
  expect_jq default "$(workload drover-control-plane) | .spec.template.spec.volumes[] | select(.name == \"signing-key\") | .secret.items == [{\"key\": \"signing.key\", \"path\": \"signing.key\"}] and .secret.defaultMode == 256" \
    "the control plane mounting only the private key, 0400"
  grep -qP '^Deployment/drover-control-plane\t.*\tflag\t--signing-key\t/etc/drover/signing/signing.key$' "$WORK/default.containers" \
    || fail "expected --signing-key=/etc/drover/signing/signing.key on the control plane"
  expect_jq default "[.[] | select(.metadata.name != \"drover-control-plane\") | .spec.template.spec.volumes[]? | .secret.items[]?.key] | index(\"signing.key\") == null" \
    "no pod but the control plane's mounting the private key"
  expect_jq default "$(workload drover-worker) | .spec.template.spec.volumes[] | select(.name == \"trusted-keys\") | .secret.items == [{\"key\": \"signing.pub\", \"path\": \"control-plane.pub\"}]" \
    "workers trusting the public key of the signing Secret"
  grep -qP '^Deployment/drover-worker\t.*\tflag\t--trusted-keys\t/etc/drover/trusted-keys$' "$WORK/default.containers" \
    || fail "expected --trusted-keys=/etc/drover/trusted-keys on the workers"
  expect_jq all "$(workload drover-worker) | .spec.template.spec.volumes[] | select(.name == \"trusted-keys\") | .secret.secretName == \"drover-trusted-keys\" and .secret.items == null" \
    "a separate trusted-keys Secret mounted whole (keys added during a rotation appear without a restart)"
  render unsigned --set kafka.brokers=k:9092 --set signing.allowUnsigned=true --set authority.allowUnsignedRequests=true
  [ "$(grep -cP '\tflag\t--allow-unsigned\t' "$WORK/unsigned.containers")" = 2 ] \
    || fail "signing.allowUnsigned: expected --allow-unsigned on the control plane and the workers"
  [ "$(grep -cP '\tflag\t--allow-unsigned-requests\t' "$WORK/unsigned.containers")" = 1 ] &&
    ! grep -qP '\tflag\t--policy\t' "$WORK/unsigned.containers" \
    || fail "authority.allowUnsignedRequests: expected --allow-unsigned-requests (and no --policy) on the control plane"
}
test_expect_success GO,HELM,JQ 'signing: the private key in the control plane alone, the public keys in the workers; allowUnsigned on both' '
  signing
'

# The ssh executor: the Secret's files mounted read-only, 0400, readable by
# the fsGroup, and their paths are the flags.
ssh_executor() {
  expect_jq all "$(workload drover-worker) | .spec.template.spec | (.volumes[] | select(.name == \"ssh\") | .secret.secretName == \"drover-ssh\" and .secret.defaultMode == 256
        and .secret.items == [{\"key\": \"id_ed25519\", \"path\": \"id_ed25519\"}, {\"key\": \"known_hosts\", \"path\": \"known_hosts\"}])
        and (.containers[0].volumeMounts[] | select(.name == \"ssh\") | .mountPath == \"/etc/drover/ssh\" and .readOnly == true)
        and .securityContext.fsGroup == 10001" \
    "the ssh Secret (id_ed25519, known_hosts) mounted read-only at /etc/drover/ssh with mode 0400 and fsGroup 10001"
  for want in '--ssh-key	/etc/drover/ssh/id_ed25519' '--ssh-known-hosts	/etc/drover/ssh/known_hosts' '--ssh-user	deploy' '--ssh-accept-new	'; do
    grep -qF "$(printf 'Deployment/drover-worker\tworker\tdrover-worker run\tflag\t%s' "$want")" "$WORK/all.containers" \
      || fail "worker.ssh: expected the flag '${want//	/=}' on the worker"
  done
  ! grep -qP '\tflag\t--ssh-' "$WORK/default.containers" || fail "ssh flags without worker.ssh.enabled"
  expect_fail_with "worker.ssh.existingSecret is required" helm_template "${REQUIRED[@]}" --set worker.ssh.enabled=true
}
test_expect_success GO,HELM,JQ 'the ssh executor: its Secret mounted read-only, 0400, for the fsGroup, the paths as flags; none without it; a Secret required' '
  ssh_executor
'

# The agent DaemonSet: this node's name, the node's root at /host, root, every taint.
agent_daemonset() {
  grep -qF "$(printf 'DaemonSet/drover-agent\tagent\tdrover-worker run\tflag\t--self\t$(NODE_NAME)')" "$WORK/all.containers" \
    || fail "the DaemonSet: expected --self=\$(NODE_NAME)"
  grep -qF "$(printf 'DaemonSet/drover-agent\tagent\tdrover-worker run\tflag\t--self-root\t/host')" "$WORK/all.containers" \
    || fail "the DaemonSet: expected --self-root=/host"
  expect_jq all '.[] | select(.kind == "DaemonSet") | .spec.template.spec
        | (.containers[0].env | map(select(.name == "NODE_NAME"))[0].valueFrom.fieldRef.fieldPath == "spec.nodeName")
        and (.containers[0].env | map(.name) | index("NODE_NAME") == 0)
        and (.volumes[] | select(.name == "host") | .hostPath.path == "/")
        and (.containers[0].volumeMounts[] | select(.name == "host") | .mountPath == "/host")
        and .securityContext.runAsUser == 0 and .containers[0].securityContext.runAsUser == 0
        and (.tolerations | index({"operator": "Exists"}) != null)' \
    "the DaemonSet: NODE_NAME from spec.nodeName (first, so \$(NODE_NAME) expands), hostPath / at /host, root, tolerating every taint"
  expect_jq default '[.[] | select(.kind == "DaemonSet")] | length == 0' "no DaemonSet unless workerDaemonSet.enabled"
}
test_expect_success GO,HELM,JQ 'the agent DaemonSet: the node name, the node root at /host, root, every taint; none unless enabled' '
  agent_daemonset
'

# SIGTERM: the grace period outlasts the program's own wait.
grace_periods() {
  for name in default all; do
    expect_jq $name '[.[] | select(.spec.template.spec.containers[0].command[0] == "/usr/local/bin/drover-worker")
        | .spec.template.spec.terminationGracePeriodSeconds > (.spec.template.spec.containers[0].args | map(select(startswith("--shutdown-timeout=")))[0] | ltrimstr("--shutdown-timeout=") | tonumber)]
        | length > 0 and all' \
      "every worker's terminationGracePeriodSeconds larger than its --shutdown-timeout"
    expect_jq $name "$(workload drover-control-plane) | .spec.template.spec.terminationGracePeriodSeconds > (.spec.template.spec.containers[0].args | map(select(startswith(\"--kafka-timeout=\")))[0] | ltrimstr(\"--kafka-timeout=\") | tonumber)" \
      "the control plane's terminationGracePeriodSeconds larger than its --kafka-timeout"
  done
  expect_jq default "$(workload drover-worker) | .spec.template.spec.terminationGracePeriodSeconds == 90" "a grace of 60 + 30 s by default"
  render grace "${REQUIRED[@]}" --set worker.shutdownTimeoutSeconds=300 --set worker.terminationGracePeriodSeconds=301
  expect_jq grace "$(workload drover-worker) | .spec.template.spec.terminationGracePeriodSeconds == 301" "an override larger than the timeout kept"
  expect_fail_with "worker.terminationGracePeriodSeconds (300) must be larger than worker.shutdownTimeoutSeconds (300)" \
    helm_template "${REQUIRED[@]}" --set worker.shutdownTimeoutSeconds=300 --set worker.terminationGracePeriodSeconds=300
  expect_fail_with "controlPlane.terminationGracePeriodSeconds (20) must be larger than controlPlane.kafkaTimeoutSeconds (30)" \
    helm_template "${REQUIRED[@]}" --set controlPlane.terminationGracePeriodSeconds=20
}
test_expect_success GO,HELM,JQ 'every grace period outlasts the program'\''s own wait on SIGTERM; a grace not larger is refused' '
  grace_periods
'

# Autoscaling: KEDA on the jobs topic's lag of the workers' group, or an HPA; never both.
autoscaling() {
  expect_jq all '.[] | select(.kind == "ScaledObject") | .spec.scaleTargetRef.name == "drover-worker"
        and .spec.triggers[0].type == "kafka" and .spec.triggers[0].metadata.topic == "prod.drover.jobs"
        and .spec.triggers[0].metadata.consumerGroup == "drover-workers"
        and .spec.triggers[0].metadata.bootstrapServers == "kafka-0.kafka:9094,kafka-1.kafka:9094"
        and .spec.triggers[0].metadata.lagThreshold == "20" and .spec.triggers[0].metadata.sasl == "scram_sha512"
        and .spec.triggers[0].authenticationRef.name == "drover-worker"' \
    "a ScaledObject on topic prod.drover.jobs, group drover-workers, lag 20, SCRAM through the TriggerAuthentication"
  grep -qP '^Deployment/drover-worker\t.*\tflag\t--group\tdrover-workers$' "$WORK/all.containers" \
    || fail "expected the workers' --group to be the group KEDA watches (drover-workers)"
  expect_jq all "$(workload drover-worker) | .spec.replicas == null" "no replicas in the worker Deployment while KEDA scales it"
  render hpa "${REQUIRED[@]}" --set worker.autoscaling.enabled=true
  expect_jq hpa '[.[] | select(.kind == "HorizontalPodAutoscaler")] | length == 1 and .[0].apiVersion == "autoscaling/v2"
        and .[0].spec.scaleTargetRef.name == "drover-worker" and .[0].spec.metrics[0].resource.name == "cpu"' \
    "an autoscaling/v2 HorizontalPodAutoscaler on the worker Deployment"
  expect_fail_with "worker.autoscaling.enabled and worker.keda.enabled are both true" \
    helm_template "${REQUIRED[@]}" --set worker.autoscaling.enabled=true --set worker.keda.enabled=true
}
test_expect_success GO,HELM,JQ 'autoscaling: KEDA on the jobs topic lag of the workers'\'' group, or an HPA; never both' '
  autoscaling
'

# The topic hook.
topic_hook() {
  expect_jq all '.[] | select(.kind == "Job") | (.metadata.annotations["helm.sh/hook"] == "pre-install,pre-upgrade")
        and (.metadata.annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded")
        and .spec.template.spec.containers[0].command == ["/usr/local/bin/drover-producer", "topics", "create"]
        and .spec.template.spec.containers[0].args == ["--partitions=24", "--replication-factor=3"]' \
    "a pre-install,pre-upgrade hook Job running drover-producer topics create --partitions=24 --replication-factor=3"
  render notopics "${REQUIRED[@]}" --set topics.create.enabled=false
  expect_jq notopics '[.[] | select(.kind == "Job")] | length == 0' "no Job with topics.create.enabled=false"
}
test_expect_success GO,HELM,JQ 'the topics are made by a pre-install,pre-upgrade hook Job; none with topics.create.enabled=false' '
  topic_hook
'

# PodDisruptionBudgets and ServiceMonitors select their component's pods.
pdbs_and_monitors() {
  expect_jq all '[.[] | select(.kind == "PodDisruptionBudget" or .kind == "ServiceMonitor") | .spec.selector.matchLabels["app.kubernetes.io/component"]] | sort
        == ["agent", "aggregator", "aggregator", "control-plane", "control-plane", "worker", "worker"]' \
    "a PodDisruptionBudget per Deployment and a ServiceMonitor per Service, each selecting its component"
  expect_jq all '.[] | select(.kind == "PodDisruptionBudget" and .metadata.name == "drover-control-plane") | .spec.minAvailable == 2 and .spec.maxUnavailable == null' \
    "controlPlane.pdb.minAvailable=2 alone in its PodDisruptionBudget"
  expect_fail_with "set minAvailable or maxUnavailable, not both" \
    helm_template "${REQUIRED[@]}" --set worker.pdb.minAvailable=1 --set worker.pdb.maxUnavailable=1
}
test_expect_success GO,HELM,JQ 'a PodDisruptionBudget per Deployment and a ServiceMonitor per Service select their component; minAvailable or maxUnavailable' '
  pdbs_and_monitors
'

# --- fixes found by reading the chart, each kept by a check ---
# KEDA counted lag from "latest" for a group without commits, while the
# workers read from "earliest": a new group's backlog was no lag to KEDA.
keda_counts_backlog() {
  expect_jq all '.[] | select(.kind == "ScaledObject") | .spec.triggers[0].metadata.offsetResetPolicy == "earliest"' \
    "KEDA's offsetResetPolicy earliest, as the workers' auto.offset.reset"
  render keda-latest "${REQUIRED[@]}" --set worker.keda.enabled=true --set worker.keda.offsetResetPolicy=latest
  expect_jq keda-latest '.[] | select(.kind == "ScaledObject") | .spec.triggers[0].metadata.offsetResetPolicy == "latest"' \
    "worker.keda.offsetResetPolicy=latest still honoured"
}
test_expect_success GO,HELM,JQ 'KEDA counts a new group'\''s backlog as lag: offsetResetPolicy earliest, as the workers read' '
  keda_counts_backlog
'

# maxUnavailable: 0 (no voluntary disruption) went through `| default 1`.
pdb_zero() {
  render pdb0 "${REQUIRED[@]}" --set worker.pdb.maxUnavailable=0 --set aggregator.pdb.maxUnavailable=25%
  expect_jq pdb0 '.[] | select(.kind == "PodDisruptionBudget" and .metadata.name == "drover-worker") | .spec.maxUnavailable == 0 and .spec.minAvailable == null' \
    "worker.pdb.maxUnavailable=0 kept as 0"
  expect_jq pdb0 '.[] | select(.kind == "PodDisruptionBudget" and .metadata.name == "drover-aggregator") | .spec.maxUnavailable == "25%"' \
    "a percentage kept as a percentage"
  render pdb-empty "${REQUIRED[@]}" --set worker.pdb.maxUnavailable=
  expect_jq pdb-empty '.[] | select(.kind == "PodDisruptionBudget" and .metadata.name == "drover-worker") | .spec.maxUnavailable == 1' \
    "an empty maxUnavailable (and no minAvailable) as 1"
}
test_expect_success GO,HELM,JQ 'a PodDisruptionBudget keeps maxUnavailable 0 (and a percentage); empty means 1' '
  pdb_zero
'

# No container requested anything, although the HPA scales on CPU utilization (usage over the request).
requests() {
  for name in default all; do
    expect_jq $name '[.[] | (.spec.template.spec.containers[]?, .spec.jobTemplate.spec.template.spec.containers[]?)
        | .resources.requests.cpu != null and .resources.requests.memory != null] | length > 0 and all' \
      "a CPU and a memory request in every container"
  done
  expect_jq default '[.[] | .spec.template.spec.containers[]? | .resources.requests] | length == 4' "4 containers with requests by default"
  expect_fail_with "worker.autoscaling.targetCPUUtilizationPercentage needs worker.resources.requests.cpu" \
    helm_template "${REQUIRED[@]}" --set worker.autoscaling.enabled=true --set worker.resources.requests.cpu=null
  expect_fail_with "worker.autoscaling.targetMemoryUtilizationPercentage needs worker.resources.requests.memory" \
    helm_template "${REQUIRED[@]}" --set worker.autoscaling.enabled=true --set worker.autoscaling.targetMemoryUtilizationPercentage=80 \
    --set worker.resources.requests.memory=null
}
test_expect_success GO,HELM,JQ 'every container requests CPU and memory; an HPA on a resource without its request is refused' '
  requests
'

# No startupProbe: a slow start counted against liveness.
startup_probes() {
  for name in default all; do
    expect_jq $name '[.[] | select(.kind == "Deployment" or .kind == "DaemonSet") | .spec.template.spec.containers[] | .startupProbe
        | .httpGet.path == "/healthz" and .httpGet.port == "http" and .successThreshold == 1 and .failureThreshold * .periodSeconds >= 300]
        | length > 0 and all' \
      "a startupProbe on /healthz giving every long-running container 5 minutes to start"
  done
  render nostartup "${REQUIRED[@]}" --set startupProbe.enabled=false
  expect_jq nostartup '[.[] | .spec.template.spec.containers[]? | select(.startupProbe != null)] == []' "no startupProbe with startupProbe.enabled=false"
}
test_expect_success GO,HELM,JQ 'every long-running container has a startup probe on /healthz (5 minutes to start); none when disabled' '
  startup_probes
'

# --- what must refuse to render ---
refusals() {
  expect_fail_with "kafka.brokers is required" helm_template --set signing.existingSecret=drover-signing
  expect_fail_with "signing.existingSecret is required" helm_template --set kafka.brokers=kafka-0.kafka:9092
  expect_fail_with "kafka.sasl.existingSecret is required" helm_template "${REQUIRED[@]}" --set kafka.sasl.mechanism=SCRAM-SHA-512
  # values.schema.json refuses it before the templates' own check does.
  expect_fail_with "'/kafka/sasl/mechanism': value must be one of '', 'PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'" \
    helm_template "${REQUIRED[@]}" --set kafka.sasl.mechanism=GSSAPI --set kafka.sasl.existingSecret=s
  expect_fail_with "kafka.properties must not hold sasl.password" helm_template "${REQUIRED[@]}" --set 'kafka.properties.sasl\.password=x'
  expect_fail_with "authority.policy or authority.existingConfigMap is required" helm_template \
    --set kafka.brokers=k:9092 --set signing.existingSecret=s --set authority.operatorKeysSecret=o
  expect_fail_with "authority.operatorKeysSecret is required with a policy" helm_template \
    --set kafka.brokers=k:9092 --set signing.existingSecret=s --set authority.existingConfigMap=p
  expect_fail_with "set one" helm_template "${REQUIRED[@]}" --set authority.policy.rules=x
}
test_expect_success GO,HELM 'what must refuse to render: no brokers, no signing Secret, SASL without a Secret or with an unknown mechanism, a password in kafka.properties, no policy or no operator keys' '
  refusals
'

# --- last: every flag and DROVER_* variable is one the program lists in --help ---
settings_in_help() {
  missing=()
  declare -A help_of
  while IFS=$'\t' read -r owner container program kind name _value; do
    if [ -z "${help_of[$program]+set}" ]; then
      read -r -a words <<<"$program"
      help_file="$WORK/help.$(tr ' ' '_' <<<"$program")"
      "$DROVER_BUILD_DIR/${words[0]}" "${words[@]:1}" --help >"$help_file" 2>&1 || true
      help_of[$program]=$help_file
    fi
    help_file=${help_of[$program]}
    case $kind in
      flag) grep -qE -- "^  $name( |$)" "$help_file" || missing+=("$program: $name ($owner)") ;;
      env)
        case $name in DROVER_*) ;; *) continue ;; esac
        grep -qE -- "env $name(,|$)" "$help_file" || missing+=("$program: env $name ($owner)") ;;
    esac
  done < <(sort -u "$WORK/default.containers" "$WORK/all.containers" "$WORK/unsigned.containers")
  if [ ${#missing[@]} -gt 0 ]; then
    fail "settings the chart passes that the programs' --help does not list:
$(printf '  %s\n' "${missing[@]}" | sort -u)"
  fi
}
test_expect_success GO,HELM,JQ 'every flag and DROVER_* variable the chart passes is one the program lists in its --help' '
  settings_in_help
'

test_done
