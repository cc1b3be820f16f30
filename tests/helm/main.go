// Command drover-helm-render renders and checks the Drover Helm chart
// without Helm, for tests on machines that have no helm binary and no
// cluster.  It is built from Debian's Go packages in GOPATH mode
// (GO111MODULE=off, GOPATH=/usr/share/gocode): the standard library, sprig
// and sigs.k8s.io/yaml.
//
//	drover-helm-render template CHART [--name N] [--namespace NS] [--values FILE]...
//	                                  [--set KEY=VALUE]... [--api-versions GROUP/VERSION]... [--notes]
//	drover-helm-render check FILE         every document is a Kubernetes object with labels
//	drover-helm-render containers FILE    one line per container flag and environment variable
//	drover-helm-render json FILE          the documents as one JSON array, for jq
//
// What it implements of Helm 3's rendering, as `helm template` does it:
//   - Chart.yaml as .Chart (Name, Version, AppVersion, ... as Helm's field names);
//   - values.yaml, then each --values file, then each --set, merged as Helm
//     coalesces values: maps merge key by key, anything else replaces, and a
//     null removes the key;
//   - .Release (Name, Namespace, Service "Helm", IsInstall, Revision 1),
//     .Capabilities (KubeVersion, APIVersions.Has over the built-in groups and
//     --api-versions), .Template (Name, BasePath);
//   - sprig's text functions without env and expandenv (as Helm), plus
//     include, tpl, required, fail, toYaml, fromYaml, fromYamlArray, toJson,
//     fromJson, fromJsonArray, and lookup (always an empty map: no cluster);
//   - every file under templates/ parsed into one template set; files whose
//     name starts with "_" are partials, NOTES.txt is rendered only with
//     --notes; "<no value>" is blanked (missingkey=zero) and the error of
//     fail or required is reported as "execution error at (FILE:LINE:COL): MESSAGE".
//
// What it does not: subcharts and dependencies, .Files, values.schema.json,
// --set lists (a[0]=x), comma-separated --set pairs and --set-string,
// ordering documents by kind (they come out in file order, each with its
// "# Source:" line), and anything that needs a cluster.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "template":
		err = runTemplate(os.Args[2:])
	case "check":
		err = runCheck(os.Args[2:])
	case "containers":
		err = runContainers(os.Args[2:])
	case "json":
		err = runJSON(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: drover-helm-render template CHART [--name N] [--namespace NS] [--values FILE]... [--set K=V]... [--api-versions G/V]... [--notes]\n"+
		"       drover-helm-render check FILE\n"+
		"       drover-helm-render containers FILE\n"+
		"       drover-helm-render json FILE")
	os.Exit(2)
}

// ---- values ----

// readYAMLMap reads a YAML file into a map the way Helm does (through JSON,
// so numbers are float64).
func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	values := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &values); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if values == nil {
		values = map[string]interface{}{}
	}
	return values, nil
}

// coalesce merges src over dst as Helm merges user values over the chart's:
// maps key by key, other values replaced, null deleting the key.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for key, value := range src {
		if value == nil {
			delete(dst, key)
			continue
		}
		srcMap, srcIsMap := value.(map[string]interface{})
		dstMap, dstIsMap := dst[key].(map[string]interface{})
		if srcIsMap && dstIsMap {
			dst[key] = coalesce(dstMap, srcMap)
		} else {
			dst[key] = value
		}
	}
	return dst
}

// parseSet turns "a.b\.c=value" into {"a": {"b.c": value}}, typing the value
// as Helm's --set does: true/false, null, integers, else a string.
func parseSet(assignment string) (map[string]interface{}, error) {
	eq := strings.Index(assignment, "=")
	if eq <= 0 {
		return nil, fmt.Errorf("--set %q: expected KEY=VALUE", assignment)
	}
	var keys []string
	var key strings.Builder
	raw := assignment[:eq]
	for i := 0; i < len(raw); i++ {
		switch {
		case raw[i] == '\\' && i+1 < len(raw) && raw[i+1] == '.':
			key.WriteByte('.')
			i++
		case raw[i] == '.':
			keys = append(keys, key.String())
			key.Reset()
		default:
			key.WriteByte(raw[i])
		}
	}
	keys = append(keys, key.String())
	text := assignment[eq+1:]
	var value interface{} = text
	switch {
	case text == "true":
		value = true
	case text == "false":
		value = false
	case text == "null":
		value = nil
	default:
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			value = n
		}
	}
	out := map[string]interface{}{keys[len(keys)-1]: value}
	for i := len(keys) - 2; i >= 0; i-- {
		out = map[string]interface{}{keys[i]: out}
	}
	return out, nil
}

// ---- the objects templates see ----

// ChartMetadata is Chart.yaml with Helm's field names (.Chart.AppVersion).
type ChartMetadata struct {
	Name         string                   `json:"name"`
	Home         string                   `json:"home,omitempty"`
	Sources      []string                 `json:"sources,omitempty"`
	Version      string                   `json:"version"`
	Description  string                   `json:"description,omitempty"`
	Keywords     []string                 `json:"keywords,omitempty"`
	Maintainers  []map[string]interface{} `json:"maintainers,omitempty"`
	Icon         string                   `json:"icon,omitempty"`
	APIVersion   string                   `json:"apiVersion"`
	Condition    string                   `json:"condition,omitempty"`
	Tags         string                   `json:"tags,omitempty"`
	AppVersion   string                   `json:"appVersion,omitempty"`
	Deprecated   bool                     `json:"deprecated,omitempty"`
	Annotations  map[string]string        `json:"annotations,omitempty"`
	KubeVersion  string                   `json:"kubeVersion,omitempty"`
	Dependencies []map[string]interface{} `json:"dependencies,omitempty"`
	Type         string                   `json:"type,omitempty"`
}

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has reports whether the cluster serves this group/version (or group/version/Kind).
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// The API groups every supported cluster serves (Helm's default set, reduced
// to what matters here); --api-versions adds CRDs such as keda.sh/v1alpha1.
var builtinAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1", "autoscaling/v2",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1",
	"apiextensions.k8s.io/v1", "coordination.k8s.io/v1", "scheduling.k8s.io/v1",
}

type KubeVersion struct {
	Version, Major, Minor, GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// ---- rendering ----

type renderer struct {
	root     *template.Template
	values   map[string]interface{}
	chart    *ChartMetadata
	release  map[string]interface{}
	caps     *Capabilities
	basePath string
	depth    map[string]int
}

// scope is the top-level object a template sees, with .Template set for the file.
func (r *renderer) scope(name string) map[string]interface{} {
	return map[string]interface{}{
		"Values":       r.values,
		"Chart":        r.chart,
		"Release":      r.release,
		"Capabilities": r.caps,
		"Template":     map[string]interface{}{"Name": name, "BasePath": r.basePath},
		"Files":        nil,
	}
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func (r *renderer) funcMap() template.FuncMap {
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["fromYamlArray"] = func(s string) []interface{} {
		var a []interface{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	funcs["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	funcs["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["fromJsonArray"] = func(s string) []interface{} {
		var a []interface{}
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	funcs["required"] = func(message string, value interface{}) (interface{}, error) {
		if value == nil {
			return value, fmt.Errorf("%s", message)
		}
		if s, ok := value.(string); ok && s == "" {
			return value, fmt.Errorf("%s", message)
		}
		return value, nil
	}
	funcs["fail"] = func(message string) (string, error) { return "", fmt.Errorf("%s", message) }
	funcs["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	// include and tpl need the parsed set: bound late, below.
	funcs["include"] = func(name string, data interface{}) (string, error) { return "", nil }
	funcs["tpl"] = func(text string, data interface{}) (string, error) { return "", nil }
	return funcs
}

// bindLate replaces include and tpl with versions that see the whole set.
func (r *renderer) bindLate() {
	r.root.Funcs(template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			if r.depth[name] > 1000 {
				return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
			}
			r.depth[name]++
			defer func() { r.depth[name]-- }()
			var out strings.Builder
			err := r.root.ExecuteTemplate(&out, name, data)
			return out.String(), err
		},
		"tpl": func(text string, data interface{}) (string, error) {
			clone, err := r.root.Clone()
			if err != nil {
				return "", err
			}
			t, err := clone.New("tpl").Parse(text)
			if err != nil {
				return "", err
			}
			var out strings.Builder
			if err := t.Execute(&out, data); err != nil {
				return "", err
			}
			return strings.ReplaceAll(out.String(), "<no value>", ""), nil
		},
	})
}

// execError words a template error as Helm does for fail and required.
var callError = regexp.MustCompile(`error calling (?:fail|required): (.*)$`)

func execError(err error) error {
	tokens := strings.SplitN(err.Error(), ": ", 3)
	if len(tokens) == 3 {
		if m := callError.FindStringSubmatch(tokens[2]); m != nil {
			return fmt.Errorf("execution error at (%s): %s", tokens[1], m[1])
		}
	}
	return err
}

type stringList []string

func runTemplate(args []string) error {
	if len(args) < 1 {
		usage()
	}
	chartDir := args[0]
	releaseName, namespace, notes := "drover", "default", false
	var valueFiles, sets, apiVersions stringList
	for i := 1; i < len(args); i++ {
		takes := func() string {
			if i+1 >= len(args) {
				usage()
			}
			i++
			return args[i]
		}
		switch args[i] {
		case "--name":
			releaseName = takes()
		case "--namespace":
			namespace = takes()
		case "--values", "-f":
			valueFiles = append(valueFiles, takes())
		case "--set":
			sets = append(sets, takes())
		case "--api-versions":
			apiVersions = append(apiVersions, takes())
		case "--notes":
			notes = true
		default:
			return fmt.Errorf("unknown argument %q", args[i])
		}
	}

	chart := &ChartMetadata{}
	chartData, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(chartData, chart); err != nil {
		return fmt.Errorf("Chart.yaml: %v", err)
	}
	if chart.APIVersion != "v2" || chart.Name == "" || chart.Version == "" {
		return fmt.Errorf("Chart.yaml: apiVersion v2, name and version are required")
	}

	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, file := range valueFiles {
		overlay, err := readYAMLMap(file)
		if err != nil {
			return err
		}
		values = coalesce(values, overlay)
	}
	for _, assignment := range sets {
		overlay, err := parseSet(assignment)
		if err != nil {
			return err
		}
		values = coalesce(values, overlay)
	}

	r := &renderer{
		values:   values,
		chart:    chart,
		release:  map[string]interface{}{"Name": releaseName, "Namespace": namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
		caps:     &Capabilities{KubeVersion: KubeVersion{"v1.30.0", "1", "30", "v1.30.0"}, APIVersions: append(VersionSet(builtinAPIVersions), apiVersions...), HelmVersion: map[string]string{"Version": "v3"}},
		basePath: path.Join(chart.Name, "templates"),
		depth:    map[string]int{},
	}
	r.root = template.New("chart").Funcs(r.funcMap()).Option("missingkey=zero")

	// Every file under templates/, named as Helm names them: CHART/templates/PATH.
	templatesDir := filepath.Join(chartDir, "templates")
	var names []string
	err = filepath.WalkDir(templatesDir, func(file string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(templatesDir, file)
		name := path.Join(r.basePath, filepath.ToSlash(rel))
		text, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if _, err := r.root.New(name).Parse(string(text)); err != nil {
			return fmt.Errorf("parse error: %v", err)
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	r.bindLate()

	var out bytes.Buffer
	for _, name := range names {
		base := path.Base(name)
		isNotes := base == "NOTES.txt"
		if strings.HasPrefix(base, "_") || isNotes != notes {
			continue
		}
		var rendered strings.Builder
		if err := r.root.ExecuteTemplate(&rendered, name, r.scope(name)); err != nil {
			return execError(err)
		}
		text := strings.ReplaceAll(rendered.String(), "<no value>", "")
		if notes {
			out.WriteString(strings.TrimRight(text, "\n") + "\n")
			continue
		}
		for _, doc := range splitDocuments(text) {
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, doc)
		}
	}
	_, err = os.Stdout.Write(out.Bytes())
	return err
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
