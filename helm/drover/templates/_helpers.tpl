{{/*
Named templates every manifest of the chart shares.  Components are
controlPlane, aggregator, worker, agent (the DaemonSet) and topics (the hook
Job); their label value is the kebab-case name.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "drover.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every resource name: <release>-<chart>, or the release name
alone when it already contains the chart name.  Truncated to 63 characters
because some names (Services) must be DNS labels.
*/}}
{{- define "drover.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's resource name: (dict "root" $ "component" "worker"). */}}
{{- define "drover.componentName" -}}
{{- printf "%s-%s" (include "drover.fullname" .root | trunc 45 | trimSuffix "-") .component | trimSuffix "-" -}}
{{- end -}}

{{/* chart-version, as the helm.sh/chart label. */}}
{{- define "drover.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object: (dict "root" $ "component" "worker"); component may be empty. */}}
{{- define "drover.labels" -}}
helm.sh/chart: {{ include "drover.chart" .root }}
{{ include "drover.selectorLabels" . }}
app.kubernetes.io/version: {{ include "drover.imageTag" .root | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: drover
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Labels a component's selectors match: (dict "root" $ "component" "worker").
Never changes across upgrades (selectors are immutable), so no version here.
*/}}
{{- define "drover.selectorLabels" -}}
app.kubernetes.io/name: {{ include "drover.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* The image tag: image.tag, else the chart's appVersion. */}}
{{- define "drover.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- end -}}

{{/* registry/repository:tag, or @digest when a digest is set. */}}
{{- define "drover.image" -}}
{{- $repository := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repository = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (include "drover.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets of a pod spec, or nothing. */}}
{{- define "drover.imagePullSecrets" -}}
{{- with .Values.image.pullSecrets -}}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* The ServiceAccount the pods run as. */}}
{{- define "drover.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "drover.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Where Kafka's TLS files and the other Secrets are mounted.  The programs
get these paths, never the contents.
*/}}
{{- define "drover.kafkaTlsDir" -}}/etc/drover/kafka-tls{{- end -}}
{{- define "drover.signingDir" -}}/etc/drover/signing{{- end -}}
{{- define "drover.trustedKeysDir" -}}/etc/drover/trusted-keys{{- end -}}
{{- define "drover.sshDir" -}}/etc/drover/ssh{{- end -}}

{{/*
The librdkafka properties every program gets, one KEY=VALUE per line: the
TLS and SASL ones the chart derives, then kafka.properties (sorted by key),
so a property set by the user comes last and wins.
*/}}
{{- define "drover.kafkaProperties" -}}
{{- $props := list -}}
{{- $tls := .Values.kafka.tls -}}
{{- $sasl := .Values.kafka.sasl -}}
{{- if and $tls.enabled $sasl.mechanism -}}
{{- $props = append $props "security.protocol=SASL_SSL" -}}
{{- else if $tls.enabled -}}
{{- $props = append $props "security.protocol=SSL" -}}
{{- else if $sasl.mechanism -}}
{{- $props = append $props "security.protocol=SASL_PLAINTEXT" -}}
{{- end -}}
{{- if and $tls.enabled $tls.existingSecret -}}
{{- if $tls.caKey -}}
{{- $props = append $props (printf "ssl.ca.location=%s/%s" (include "drover.kafkaTlsDir" .) $tls.caKey) -}}
{{- end -}}
{{- if $tls.certKey -}}
{{- $props = append $props (printf "ssl.certificate.location=%s/%s" (include "drover.kafkaTlsDir" .) $tls.certKey) -}}
{{- end -}}
{{- if $tls.keyKey -}}
{{- $props = append $props (printf "ssl.key.location=%s/%s" (include "drover.kafkaTlsDir" .) $tls.keyKey) -}}
{{- end -}}
{{- end -}}
{{- if $sasl.mechanism -}}
{{- /* $(KAFKA_SASL_...) is expanded by the kubelet from the variables defined just before. */ -}}
{{- $props = append $props (printf "sasl.mechanism=%s" $sasl.mechanism) -}}
{{- $props = append $props "sasl.username=$(KAFKA_SASL_USERNAME)" -}}
{{- $props = append $props "sasl.password=$(KAFKA_SASL_PASSWORD)" -}}
{{- end -}}
{{- range $key, $value := .Values.kafka.properties -}}
{{- /* YAML numbers arrive as float64: print 1000000 as such, not 1e+06. */ -}}
{{- if and (kindIs "float64" $value) (eq (float64 (int64 $value)) $value) -}}
{{- $value = int64 $value -}}
{{- end -}}
{{- $props = append $props (printf "%s=%v" $key $value) -}}
{{- end -}}
{{- join "\n" $props -}}
{{- end -}}

{{/*
Checks of the Kafka values, run by every template that uses them so any
render fails early with a message saying what to set.
*/}}
{{- define "drover.validateKafka" -}}
{{- $_ := required "kafka.brokers is required: the Kafka bootstrap servers, e.g. --set kafka.brokers=kafka-0.kafka:9092" .Values.kafka.brokers -}}
{{- $sasl := .Values.kafka.sasl -}}
{{- if $sasl.mechanism -}}
{{- if not (has $sasl.mechanism (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512")) -}}
{{- fail (printf "kafka.sasl.mechanism %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512" $sasl.mechanism) -}}
{{- end -}}
{{- $_ := required "kafka.sasl.existingSecret is required with kafka.sasl.mechanism: a Secret holding the SASL username and password" $sasl.existingSecret -}}
{{- end -}}
{{- range $key, $value := .Values.kafka.properties -}}
{{- if hasPrefix "sasl.password" $key -}}
{{- fail "kafka.properties must not hold sasl.password: values are not secret; use kafka.sasl.existingSecret" -}}
{{- end -}}
{{- if or (kindIs "map" $value) (kindIs "slice" $value) -}}
{{- fail (printf "kafka.properties.%s is not a single value: with --set, escape the dots of a property name (kafka.properties.session\\.timeout\\.ms=10000)" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The environment every program shares: Kafka and logging.  Every Kafka
property goes in the one variable DROVER_KAFKA_PROPERTY (one per line) and
never as --kafka-property flags: a list setting takes its items from one
source only (flags replace the environment), and the environment is the
source that can carry the SASL password without putting it on a command
line.  So do not pass --kafka-property in extraArgs; use kafka.properties.
Call with (dict "root" $ "http" true); http false leaves out DROVER_HTTP
(the topic Job's command has no such setting).
*/}}
{{- define "drover.commonEnv" -}}
{{- $root := .root -}}
{{- include "drover.validateKafka" $root -}}
- name: DROVER_BROKERS
  value: {{ $root.Values.kafka.brokers | quote }}
- name: DROVER_TOPIC_PREFIX
  value: {{ $root.Values.kafka.topicPrefix | quote }}
- name: DROVER_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
{{- if .http }}
- name: DROVER_HTTP
  value: {{ printf "0.0.0.0:%v" $root.Values.httpPort | quote }}
{{- end }}
{{- with $root.Values.kafka.sasl }}
{{- if .mechanism }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .usernameKey }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .passwordKey }}
{{- end }}
{{- end }}
{{- $props := include "drover.kafkaProperties" $root }}
{{- if $props }}
- name: DROVER_KAFKA_PROPERTY
  value: |-
    {{- $props | nindent 4 }}
{{- end }}
{{- end -}}

{{/* The volume mount of Kafka's TLS Secret, or nothing. */}}
{{- define "drover.kafkaTlsVolumeMount" -}}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  mountPath: {{ include "drover.kafkaTlsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* The volume of Kafka's TLS Secret, or nothing. */}}
{{- define "drover.kafkaTlsVolume" -}}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  secret:
    secretName: {{ .Values.kafka.tls.existingSecret }}
    defaultMode: 0400
{{- end }}
{{- end -}}

{{/*
Fails unless the jobs can be signed and checked: a signing Secret, or the
explicit demo switch.
*/}}
{{- define "drover.validateAuthority" -}}
{{- $a := .Values.authority -}}
{{- if not $a.allowUnsignedRequests -}}
{{- if and (not $a.existingConfigMap) (not $a.policy) -}}
{{- fail "authority.policy or authority.existingConfigMap is required: the policy saying which operator may do what (docs/operators.md). To act on every request in a demo, set authority.allowUnsignedRequests=true instead." -}}
{{- end -}}
{{- if and $a.existingConfigMap $a.policy -}}
{{- fail "authority.policy and authority.existingConfigMap are two ways to give the policy: set one." -}}
{{- end -}}
{{- if not $a.operatorKeysSecret -}}
{{- fail "authority.operatorKeysSecret is required with a policy: a Secret holding the operators' public keys (each key ending in .pub)." -}}
{{- end -}}
{{- if not .Values.signing.existingSecret -}}
{{- fail "a policy needs signing.existingSecret: what the control plane writes itself (association runs) is signed with its key." -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "drover.validateSigning" -}}
{{- if and (not .Values.signing.existingSecret) (not .Values.signing.allowUnsigned) -}}
{{- fail "signing.existingSecret is required: a Secret holding the control plane's Ed25519 key (drover-producer keys generate; see docs/kubernetes.md). To run unsigned jobs in a demo, set signing.allowUnsigned=true instead." -}}
{{- end -}}
{{- end -}}

{{/*
The worker's trusted keys: flags, volume mount and volume.  A separate
trustedKeysSecret is mounted whole (rotation without restarts); otherwise
only the public key of the signing Secret is projected, so no worker ever
holds the private key.
*/}}
{{- define "drover.trustedKeysArgs" -}}
{{- if or .Values.signing.trustedKeysSecret .Values.signing.existingSecret }}
- --trusted-keys={{ include "drover.trustedKeysDir" . }}
{{- end }}
{{- if .Values.signing.allowUnsigned }}
- --allow-unsigned
{{- end }}
{{- end -}}

{{- define "drover.trustedKeysVolumeMount" -}}
{{- if or .Values.signing.trustedKeysSecret .Values.signing.existingSecret }}
- name: trusted-keys
  mountPath: {{ include "drover.trustedKeysDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "drover.trustedKeysVolume" -}}
{{- if .Values.signing.trustedKeysSecret }}
- name: trusted-keys
  secret:
    secretName: {{ .Values.signing.trustedKeysSecret }}
    defaultMode: 0400
{{- else if .Values.signing.existingSecret }}
- name: trusted-keys
  secret:
    secretName: {{ .Values.signing.existingSecret }}
    defaultMode: 0400
    items:
      - key: {{ .Values.signing.publicKeyKey }}
        path: control-plane.pub
{{- end }}
{{- end -}}

{{/*
terminationGracePeriodSeconds from a wait the program does after SIGTERM:
(dict "wait" 60 "override" nil "what" "worker.shutdownTimeoutSeconds" "key" "worker.terminationGracePeriodSeconds").
The default leaves 30 s past the wait for flushing and leaving the group; an
override must still be strictly larger than the wait.
*/}}
{{- define "drover.gracePeriod" -}}
{{- $wait := int .wait -}}
{{- if or (kindIs "invalid" .override) (eq (toString .override) "") -}}
{{- add $wait 30 -}}
{{- else if le (int .override) $wait -}}
{{- fail (printf "%s (%v) must be larger than %s (%v): the kubelet would kill the process while it is still shutting down gracefully" .key .override .what .wait) -}}
{{- else -}}
{{- int .override -}}
{{- end -}}
{{- end -}}

{{/*
A writable volume: emptyDir (the default), one existing claim, or a
generic ephemeral volume (a claim per pod).  (dict "name" "cache" "spec" .Values.worker.cache)
*/}}
{{- define "drover.writableVolume" -}}
- name: {{ .name }}
{{- if .spec.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .spec.existingClaim }}
{{- else if .spec.ephemeral.enabled }}
  ephemeral:
    volumeClaimTemplate:
      spec:
        accessModes:
          - ReadWriteOnce
        {{- with .spec.ephemeral.storageClassName }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ .spec.ephemeral.size }}
{{- else if .spec.sizeLimit }}
  emptyDir:
    sizeLimit: {{ .spec.sizeLimit }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end -}}

{{/*
Probes on the http port: (dict "root" $).  A startup probe on /healthz
holds the other two back until the program serves HTTP at all (the
aggregator reads the whole fleet topic first, up to 30 s and more on a
slow cluster), so liveness can stay strict; then liveness on /healthz,
readiness on /readyz.
*/}}
{{- define "drover.probes" -}}
{{- with .Values.startupProbe }}
{{- if .enabled }}
startupProbe:
  httpGet:
    path: /healthz
    port: http
  {{- toYaml (omit . "enabled") | nindent 2 }}
{{- end }}
{{- end }}
{{- with .Values.livenessProbe }}
{{- if .enabled }}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  {{- toYaml (omit . "enabled") | nindent 2 }}
{{- end }}
{{- end }}
{{- with .Values.readinessProbe }}
{{- if .enabled }}
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  {{- toYaml (omit . "enabled") | nindent 2 }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The PodDisruptionBudget spec of a component: (dict "root" $ "component" "worker" "pdb" .Values.worker.pdb).
*/}}
{{- define "drover.pdbSpec" -}}
{{- if and (not (kindIs "invalid" .pdb.minAvailable)) (ne (toString .pdb.minAvailable) "") (not (kindIs "invalid" .pdb.maxUnavailable)) (ne (toString .pdb.maxUnavailable) "") -}}
{{- fail (printf "%s.pdb: set minAvailable or maxUnavailable, not both" .key) -}}
{{- end -}}
{{- if and (not (kindIs "invalid" .pdb.minAvailable)) (ne (toString .pdb.minAvailable) "") }}
minAvailable: {{ .pdb.minAvailable }}
{{- else if or (kindIs "invalid" .pdb.maxUnavailable) (eq (toString .pdb.maxUnavailable) "") }}
maxUnavailable: 1
{{- else }}
{{- /* Not `| default 1`: 0 (no voluntary disruption at all) is a value, not an absence. */}}
maxUnavailable: {{ .pdb.maxUnavailable }}
{{- end }}
selector:
  matchLabels:
    {{- include "drover.selectorLabels" (dict "root" .root "component" .component) | nindent 4 }}
{{- end -}}

{{/* KEDA's name for a SASL mechanism. */}}
{{- define "drover.kedaSasl" -}}
{{- get (dict "PLAIN" "plaintext" "SCRAM-SHA-256" "scram_sha256" "SCRAM-SHA-512" "scram_sha512") . -}}
{{- end -}}

{{/* The two autoscalers would fight over the worker Deployment's replicas. */}}
{{- define "drover.validateAutoscaling" -}}
{{- if and .Values.worker.autoscaling.enabled .Values.worker.keda.enabled -}}
{{- fail "worker.autoscaling.enabled and worker.keda.enabled are both true: KEDA makes its own HorizontalPodAutoscaler, and two autoscalers would fight over the workers' replicas. Enable one." -}}
{{- end -}}
{{- end -}}

{{/*
Scheduling fields of a pod spec from a component's values: nodeSelector,
affinity, tolerations, topologySpreadConstraints, priorityClassName.
*/}}
{{- define "drover.podScheduling" -}}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Labels and annotations of a pod template: (dict "root" $ "component" "worker" "values" .Values.worker).
podAnnotations go through tpl, so an annotation may name a value.
*/}}
{{- define "drover.podMetadata" -}}
labels:
  {{- include "drover.selectorLabels" (dict "root" .root "component" .component) | nindent 2 }}
  {{- with .values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .values.podAnnotations }}
annotations:
  {{- tpl (toYaml .) $.root | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
metadata of an object: (dict "root" $ "component" "worker"), optionally
"name" (default: the component's name) and "annotations" (merged over
commonAnnotations).
*/}}
{{- define "drover.metadata" -}}
name: {{ .name | default (include "drover.componentName" .) }}
namespace: {{ .root.Release.Namespace }}
labels:
  {{- include "drover.labels" . | nindent 2 }}
{{- $annotations := merge (dict) (.annotations | default (dict)) .root.Values.commonAnnotations }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
