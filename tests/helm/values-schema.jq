# values-schema.jq - turns the schema Bitnami's readme-generator-for-helm
# writes from the @param comments of helm/drover/values.yaml into
# helm/drover/values.schema.json (tests/helm/generate.sh runs both):
#
#   - every object of the chart's own is closed (additionalProperties:
#     false), so helm install, template and lint refuse a misspelt key;
#   - numbers are integers, with ranges, enums and patterns where the
#     programs or Kubernetes accept only some values;
#   - objects that are Kubernetes' own (security contexts, resources, the
#     DaemonSet's update strategy) stay open: any of their fields may be
#     added, as Kubernetes checks them;
#   - values that take a number or "" (empty: the chart's default) take both.
#
# Free-form maps (labels, annotations, nodeSelector, affinity, the policy,
# kafka.properties, ...) have no properties in the generated schema and stay
# open.  Change values.yaml, then run tests/helm/generate.sh: t0911 fails
# while the committed schema or README differs from what it writes.

def path_of($dotted): $dotted | split(".") | map(["properties", .]) | flatten;
def at($dotted; f): path_of($dotted) as $p | setpath($p; getpath($p) | f);
def set($dotted; $schema): path_of($dotted) as $p | setpath($p; $schema);
def open: walk(if type == "object" and .type == "object" then del(.additionalProperties) else . end);
def enum($values): .enum = $values;
def port: .minimum = 1 | .maximum = 65535;
# A number, or "" for the chart's default.
def int_or_empty: .type = ["integer", "string"] | .pattern = "^$" | .minimum = 1;
# A count or a percentage (PodDisruptionBudget, rolling update), or "" for none.
def int_or_percent: .type = ["integer", "string"] | .pattern = "^([0-9]+%?)?$" | .minimum = 0;
def duration: .pattern = "^([0-9]+(ms|s|m|h|d|w|y))+$";
def duration_or_empty: .pattern = "^([0-9]+(ms|s|m|h))*$";
def strings: .items = {"type": "string"};

walk(if type == "object" and .type == "number" then .type = "integer" else . end)
| walk(if type == "object" and .type == "object" and has("properties") then .additionalProperties = false else . end)
| {"$schema": "http://json-schema.org/draft-07/schema#"} + .
| .title = "Values of the Drover chart"

# Kubernetes' own objects: open, their documented fields typed.
| reduce ("podSecurityContext", "containerSecurityContext",
          "workerDaemonSet.podSecurityContext", "workerDaemonSet.containerSecurityContext",
          "workerDaemonSet.updateStrategy",
          "controlPlane.resources", "aggregator.resources", "worker.resources",
          "workerDaemonSet.resources", "topics.create.resources",
          "metrics.grafanaDashboard.labels") as $k (.; at($k; open))
| at("workerDaemonSet.updateStrategy.rollingUpdate.maxUnavailable"; int_or_percent)
| at("workerDaemonSet.updateStrategy.type"; enum(["RollingUpdate", "OnDelete"]))
| set("workerDaemonSet.tolerations"; {"type": "array", "description": "Tolerations; by default every taint, so every node gets its agent",
      "default": [{"operator": "Exists"}], "items": {"type": "object"}})

# Values the programs or Kubernetes take only some of.
| at("logLevel"; enum(["debug", "info", "warn", "error"]))
| at("httpPort"; port)
| at("image.pullPolicy"; enum(["Always", "IfNotPresent", "Never"]))
| at("image.pullSecrets"; strings)
| at("kafka.sasl.mechanism"; enum(["", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]))
| at("worker.keda.offsetResetPolicy"; enum(["earliest", "latest"]))
| reduce ("controlPlane", "aggregator") as $c (.;
    at("\($c).service.type"; enum(["ClusterIP", "NodePort", "LoadBalancer"]))
    | at("\($c).service.port"; port))
| reduce ("controlPlane", "aggregator", "worker") as $c (.;
    at("\($c).pdb.minAvailable"; int_or_percent) | at("\($c).pdb.maxUnavailable"; int_or_percent)
    | at("\($c).replicas"; .minimum = 0))
| reduce ("controlPlane", "worker", "workerDaemonSet") as $c (.; at("\($c).terminationGracePeriodSeconds"; int_or_empty))
| at("aggregator.terminationGracePeriodSeconds"; .minimum = 1)
| at("worker.autoscaling.targetCPUUtilizationPercentage"; int_or_empty)
| at("worker.autoscaling.targetMemoryUtilizationPercentage"; int_or_empty)
| reduce ("controlPlane", "aggregator", "worker", "workerDaemonSet", "topics.create") as $c (.; at("\($c).extraArgs"; strings))
| reduce ("startupProbe", "livenessProbe", "readinessProbe") as $p (.;
    at("\($p).initialDelaySeconds"; .minimum = 0) | at("\($p).periodSeconds"; .minimum = 1)
    | at("\($p).timeoutSeconds"; .minimum = 1) | at("\($p).failureThreshold"; .minimum = 1)
    | at("\($p).successThreshold"; .minimum = 1))
| at("startupProbe.successThreshold"; .maximum = 1)
| at("livenessProbe.successThreshold"; .maximum = 1)
| at("metrics.serviceMonitor.interval"; duration_or_empty)
| at("metrics.serviceMonitor.scrapeTimeout"; duration_or_empty)
| at("metrics.prometheusRule.deploymentStuckFor"; duration)
| at("metrics.prometheusRule.workersLaggingFor"; duration)
| at("metrics.prometheusRule.controlPlaneNotReadyFor"; duration)
| at("metrics.prometheusRule.additionalRules"; .items = {"type": "object"})
