// Command drover-helm-check checks what `helm template` renders of the
// Drover chart, where Helm itself checks nothing, and lists what the
// chart's monitoring queries.  Helm renders (tests/e2e/t0910 and t0911 run
// the real helm binary that scripts/install-deps.sh installs); this program
// only reads its output.  It is built from Debian's Go packages in GOPATH
// mode (GO111MODULE=off, GOPATH=/usr/share/gocode): the standard library and
// sigs.k8s.io/yaml, the YAML library of Kubernetes itself, so what jq sees
// of a manifest is what the API server would decode.
//
//	drover-helm-check check FILE         every document is a Kubernetes object the chart stands behind
//	drover-helm-check containers FILE    one line per container flag and environment variable
//	drover-helm-check json FILE          the documents as one JSON array, for jq
//	drover-helm-check promql-metrics     the metric names in PromQL expressions (a JSON array on stdin)
//
// Why it is kept next to Helm: `helm lint` and `helm template` check that
// the templates render and that the values fit values.schema.json, not what
// the objects say.  check refuses what a cluster would refuse later or what
// the chart promises (names that are DNS labels, the chart's labels on
// every object, selectors matching their pods, no two objects of one kind
// and name, an image and an explicit command in every container);
// containers feeds t0910's check of every flag and DROVER_* variable
// against the programs' --help; promql-metrics feeds t0912's check that
// the alerts and the dashboard query only metrics the programs serve.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "check":
		err = runCheck(os.Args[2:])
	case "containers":
		err = runContainers(os.Args[2:])
	case "json":
		err = runJSON(os.Args[2:])
	case "promql-metrics":
		err = runPromQLMetrics(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: drover-helm-check check FILE\n"+
		"       drover-helm-check containers FILE\n"+
		"       drover-helm-check json FILE\n"+
		"       drover-helm-check promql-metrics <EXPRESSIONS.json")
	os.Exit(2)
}

// splitDocuments splits a YAML stream on "---" lines and drops empty documents.
var separator = regexp.MustCompile(`(?m)^---[ \t]*$`)

func splitDocuments(text string) []string {
	var docs []string
	for _, doc := range separator.Split(text, -1) {
		if strings.TrimSpace(doc) != "" {
			docs = append(docs, strings.Trim(doc, "\n"))
		}
	}
	return docs
}

// ---- checks of rendered manifests ----

func readDocuments(file string) ([]map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var objects []map[string]interface{}
	for i, doc := range splitDocuments(string(data)) {
		object := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(doc), &object); err != nil {
			return nil, fmt.Errorf("document %d is not YAML: %v\n%s", i+1, err, doc)
		}
		if len(object) == 0 {
			continue // only comments
		}
		objects = append(objects, object)
	}
	return objects, nil
}

// dig follows keys through nested maps; nil when one is missing.
func dig(v interface{}, keys ...string) interface{} {
	for _, key := range keys {
		m, ok := v.(map[string]interface{})
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

func str(v interface{}) string {
	s, _ := v.(string)
	return s
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// podSpec returns the pod spec of a workload, or nil for other kinds.
func podSpec(object map[string]interface{}) map[string]interface{} {
	switch str(object["kind"]) {
	case "Deployment", "DaemonSet", "StatefulSet", "Job", "ReplicaSet":
		spec, _ := dig(object, "spec", "template", "spec").(map[string]interface{})
		return spec
	case "CronJob":
		spec, _ := dig(object, "spec", "jobTemplate", "spec", "template", "spec").(map[string]interface{})
		return spec
	case "Pod":
		spec, _ := object["spec"].(map[string]interface{})
		return spec
	}
	return nil
}

func containersOf(spec map[string]interface{}) []map[string]interface{} {
	var out []map[string]interface{}
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := spec[key].([]interface{})
		for _, c := range list {
			if m, ok := c.(map[string]interface{}); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// runCheck asserts what any cluster would refuse, or what this chart
// promises: apiVersion, kind, a DNS-safe name and labels on every object;
// on workloads, selectors that match the pod labels and an explicit command
// and image in every container (the image's entrypoint is drover-worker).
func runCheck(args []string) error {
	if len(args) != 1 {
		usage()
	}
	objects, err := readDocuments(args[0])
	if err != nil {
		return err
	}
	if len(objects) == 0 {
		return fmt.Errorf("%s holds no objects", args[0])
	}
	var problems []string
	seen := map[string]bool{}
	for i, object := range objects {
		kind, name := str(object["kind"]), str(dig(object, "metadata", "name"))
		where := fmt.Sprintf("document %d (%s %s)", i+1, kind, name)
		problem := func(format string, a ...interface{}) {
			problems = append(problems, where+": "+fmt.Sprintf(format, a...))
		}
		if str(object["apiVersion"]) == "" {
			problem("no apiVersion")
		}
		if kind == "" {
			problem("no kind")
		}
		if name == "" {
			problem("no metadata.name")
		} else if len(name) > 63 || !dnsLabel.MatchString(name) {
			problem("metadata.name %q is not a DNS label of at most 63 characters", name)
		}
		labels, _ := dig(object, "metadata", "labels").(map[string]interface{})
		if len(labels) == 0 {
			problem("no metadata.labels")
		}
		for _, key := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
			if str(labels[key]) == "" {
				problem("label %s missing", key)
			}
		}
		for key, value := range labels {
			if s, ok := value.(string); !ok || len(s) > 63 {
				problem("label %s=%v is not a string of at most 63 characters", key, value)
			}
		}
		id := kind + "/" + name
		if seen[id] {
			problem("a second %s named %s", kind, name)
		}
		seen[id] = true

		spec := podSpec(object)
		if spec == nil {
			continue
		}
		podLabels, _ := dig(object, "spec", "template", "metadata", "labels").(map[string]interface{})
		if kind != "Job" && kind != "CronJob" && kind != "Pod" {
			selector, _ := dig(object, "spec", "selector", "matchLabels").(map[string]interface{})
			if len(selector) == 0 {
				problem("no spec.selector.matchLabels")
			}
			for key, value := range selector {
				if podLabels[key] != value {
					problem("selector %s=%v does not match the pod labels", key, value)
				}
			}
		}
		containers := containersOf(spec)
		if len(containers) == 0 {
			problem("no containers")
		}
		for _, c := range containers {
			if str(c["image"]) == "" {
				problem("container %s has no image", str(c["name"]))
			}
			if command, _ := c["command"].([]interface{}); len(command) == 0 {
				problem("container %s has no command (the image's entrypoint is drover-worker)", str(c["name"]))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s):\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	fmt.Printf("%d objects checked\n", len(objects))
	return nil
}

// runContainers prints, for every container of every workload, one line per
// flag and per environment variable, tab-separated:
//
//	KIND/NAME  CONTAINER  PROGRAM  flag|env  NAME  VALUE
//
// PROGRAM is the command's base name and its verbs ("drover-worker run"), so
// a test can check each name against that program's --help.  A flag's VALUE
// is what follows "=" (the chart always writes --name=value); a variable's is
// its value with newlines as \n, or "<secretKeyRef NAME/KEY>",
// "<fieldRef PATH>" for one taken from elsewhere.
func runContainers(args []string) error {
	if len(args) != 1 {
		usage()
	}
	objects, err := readDocuments(args[0])
	if err != nil {
		return err
	}
	for _, object := range objects {
		spec := podSpec(object)
		if spec == nil {
			continue
		}
		owner := str(object["kind"]) + "/" + str(dig(object, "metadata", "name"))
		for _, c := range containersOf(spec) {
			var words []string
			command, _ := c["command"].([]interface{})
			containerArgs, _ := c["args"].([]interface{})
			program := ""
			for i, w := range command {
				s := fmt.Sprint(w)
				if i == 0 {
					program = path.Base(s)
				} else if !strings.HasPrefix(s, "-") {
					program += " " + s
				} else {
					words = append(words, s)
				}
			}
			for _, w := range containerArgs {
				words = append(words, fmt.Sprint(w))
			}
			for _, w := range words {
				if strings.HasPrefix(w, "--") {
					flag := strings.SplitN(w+"=", "=", 3)
					fmt.Printf("%s\t%s\t%s\tflag\t%s\t%s\n", owner, str(c["name"]), program, flag[0], flag[1])
				}
			}
			env, _ := c["env"].([]interface{})
			for _, e := range env {
				value := strings.ReplaceAll(str(dig(e, "value")), "\n", `\n`)
				if ref := dig(e, "valueFrom", "secretKeyRef"); ref != nil {
					value = fmt.Sprintf("<secretKeyRef %s/%s>", str(dig(ref, "name")), str(dig(ref, "key")))
				} else if ref := dig(e, "valueFrom", "fieldRef"); ref != nil {
					value = fmt.Sprintf("<fieldRef %s>", str(dig(ref, "fieldPath")))
				}
				fmt.Printf("%s\t%s\t%s\tenv\t%s\t%s\n", owner, str(c["name"]), program, str(dig(e, "name")), value)
			}
		}
	}
	return nil
}

// runJSON prints the documents as one JSON array.
func runJSON(args []string) error {
	if len(args) != 1 {
		usage()
	}
	objects, err := readDocuments(args[0])
	if err != nil {
		return err
	}
	if objects == nil {
		objects = []map[string]interface{}{}
	}
	data, err := json.MarshalIndent(objects, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(data))
	return nil
}

// ---- metric names in PromQL ----

// Words of PromQL that are neither functions nor metrics.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "bool": true, "offset": true, "inf": true, "nan": true,
	"start": true, "end": true,
	// aggregations, which may stand before their by/without list instead of "("
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// Keywords followed by a parenthesised list of label names.
var promqlLabelLists = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// Grafana's label_values(METRIC, LABEL): the LABEL is not a metric.
var labelValuesLabel = regexp.MustCompile(`,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)

// promqlMetrics returns the metric names an expression selects: every
// identifier that is not a keyword, a function or aggregation (followed by
// "("), a label name (inside {...} or a by/on/... list), a duration (inside
// [...]), a number, a string or a Grafana variable ($name, ${name}).
func promqlMetrics(expr string) ([]string, error) {
	if strings.HasPrefix(strings.TrimSpace(expr), "label_values(") {
		expr = labelValuesLabel.ReplaceAllString(expr, ")")
	}
	var names []string
	s := expr
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
	isIdent := func(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }
	skipSpace := func(i int) int {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
		return i
	}
	// skipTo returns the index after the bracket closing the one at i, over strings.
	skipTo := func(i int, open, close byte) (int, error) {
		depth := 0
		for ; i < len(s); i++ {
			switch c := s[i]; {
			case c == '"' || c == '\'' || c == '`':
				j := i + 1
				for j < len(s) && s[j] != c {
					if s[j] == '\\' && c != '`' {
						j++
					}
					j++
				}
				i = j
			case c == open:
				depth++
			case c == close:
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unbalanced %c in %q", open, expr)
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string in %q", expr)
			}
			i = j + 1
		case c == '{':
			j, err := skipTo(i, '{', '}')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '[':
			j, err := skipTo(i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				j, err := skipTo(i, '{', '}')
				if err != nil {
					return nil, err
				}
				i = j
			} else {
				for i < len(s) && isIdent(s[i]) {
					i++
				}
			}
		case c >= '0' && c <= '9' || c == '.':
			// a number or a duration (5m, 1e3, 0x1f, 1.5)
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			word := s[i:j]
			next := skipSpace(j)
			lower := strings.ToLower(word)
			switch {
			case promqlLabelLists[lower] && next < len(s) && s[next] == '(':
				k, err := skipTo(next, '(', ')')
				if err != nil {
					return nil, err
				}
				j = k
			case promqlKeywords[lower]:
			case next < len(s) && s[next] == '(':
				// a function or an aggregation
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names, nil
}

// runPromQLMetrics reads a JSON array of expressions on stdin and prints
// one line per metric each selects: NAME, a tab, and the expression.
func runPromQLMetrics(args []string) error {
	if len(args) != 0 {
		usage()
	}
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	var exprs []string
	if err := json.Unmarshal(data, &exprs); err != nil {
		return fmt.Errorf("stdin is not a JSON array of strings: %v", err)
	}
	var lines []string
	for _, expr := range exprs {
		names, err := promqlMetrics(expr)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			return fmt.Errorf("no metric in %q", expr)
		}
		flat := strings.Join(strings.Fields(expr), " ")
		for _, name := range names {
			lines = append(lines, name+"\t"+flat)
		}
	}
	sort.Strings(lines)
	for i, line := range lines {
		if i == 0 || line != lines[i-1] {
			fmt.Println(line)
		}
	}
	return nil
}
