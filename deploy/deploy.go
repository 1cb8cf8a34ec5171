// Package deploy holds the examples for running scalepilot headless as a
// service, and the parsers their tests use to keep them honest:
//
//	systemd/scalepilot.service   a hardened systemd unit (--auto)
//	kubernetes/scalepilot.yaml   a one-replica Deployment (Recreate), probes, a metrics Service
//	grafana/scalepilot.json      a Grafana dashboard over the scalepilot_* metrics
//
// The tests check that every flag the unit and the manifest pass exists and
// that every metric the dashboard queries is exported by engine/server.
package deploy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The example files, as shipped.
var (
	//go:embed systemd/scalepilot.service
	SystemdUnit []byte
	//go:embed kubernetes/scalepilot.yaml
	KubernetesManifest []byte
	//go:embed grafana/scalepilot.json
	GrafanaDashboard []byte
)

// Flags returns the flags (without dashes) that the systemd unit and the
// Kubernetes manifest pass to scalepilot, sorted, each once.
func Flags() ([]string, error) {
	unit, err := UnitCommandLines(SystemdUnit)
	if err != nil {
		return nil, err
	}
	k8s, err := ParseManifest(KubernetesManifest)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, args := range unit {
		names = append(names, flagNames(args)...)
	}
	for _, c := range k8s.Containers() {
		names = append(names, flagNames(append(slices.Clone(c.Command), c.Args...))...)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// flagNames picks the flags out of a command line: "--name", "--name=value"
// and "-name" (Go's flag package takes both).
func flagNames(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" || isNumber(a) {
			continue
		}
		name := strings.TrimLeft(a, "-")
		name, _, _ = strings.Cut(name, "=")
		out = append(out, name)
	}
	return out
}

func isNumber(s string) bool {
	_, err := fmt.Sscanf(s, "%g", new(float64))
	return err == nil
}

// UnitCommandLines returns the command lines of a unit's Exec* settings that
// run scalepilot, split into words, with continuation lines joined. Quoting
// is not interpreted: the examples do not need it.
func UnitCommandLines(unit []byte) ([][]string, error) {
	var out [][]string
	for _, l := range UnitSettings(unit) {
		if !strings.HasPrefix(l.Key, "Exec") {
			continue
		}
		words := strings.Fields(l.Value)
		if len(words) == 0 {
			return nil, fmt.Errorf("systemd unit: %s is empty", l.Key)
		}
		bin := strings.TrimLeft(words[0], "-@:+!")
		if strings.HasSuffix(bin, "/scalepilot") || bin == "scalepilot" {
			out = append(out, words[1:])
		}
	}
	if len(out) == 0 {
		return nil, errors.New("systemd unit: no Exec line runs scalepilot")
	}
	return out, nil
}

// UnitSetting is one key=value line of a systemd unit.
type UnitSetting struct {
	Section, Key, Value string
}

// UnitSettings reads a unit file: sections, settings, comments skipped,
// lines ending in a backslash joined with the next.
func UnitSettings(unit []byte) []UnitSetting {
	var out []UnitSetting
	section := ""
	var pending string
	for raw := range strings.Lines(string(unit)) {
		line := strings.TrimSpace(raw)
		if pending == "" && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if pending != "" && (strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")) {
			continue // a comment inside a continued line is dropped, as systemd does
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending += cont + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out = append(out, UnitSetting{Section: section, Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	return out
}

// Manifest is the list of objects in a Kubernetes YAML file.
type Manifest []map[string]any

// ParseManifest reads every document of a Kubernetes YAML file.
func ParseManifest(b []byte) (Manifest, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out Manifest
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("kubernetes manifest: %w", err)
		}
		if doc != nil {
			out = append(out, doc)
		}
	}
}

// Find returns the objects of that kind.
func (m Manifest) Find(kind string) []map[string]any {
	var out []map[string]any
	for _, o := range m {
		if o["kind"] == kind {
			out = append(out, o)
		}
	}
	return out
}

// Container is the part of a container spec the tests look at.
type Container struct {
	Name    string   `yaml:"name"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name string `yaml:"name"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *Probe `yaml:"livenessProbe"`
	ReadinessProbe *Probe `yaml:"readinessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

// Probe is an HTTP probe.
type Probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
}

// Containers returns the containers of every Deployment.
func (m Manifest) Containers() []Container {
	var out []Container
	for _, d := range m.Find("Deployment") {
		var spec struct {
			Spec struct {
				Template struct {
					Spec struct {
						Containers []Container `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if Convert(d, &spec) == nil {
			out = append(out, spec.Spec.Template.Spec.Containers...)
		}
	}
	return out
}

// Convert re-decodes a generic object into a typed one.
func Convert(obj any, into any) error {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(b, into)
}

// EnvVars returns the environment variables the manifest sets, sorted.
func EnvVars() ([]string, error) {
	k8s, err := ParseManifest(KubernetesManifest)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range k8s.Containers() {
		for _, e := range c.Env {
			out = append(out, e.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

var metricName = regexp.MustCompile(`\bscalepilot_[a-zA-Z0-9_]+`)

// DashboardMetrics returns the metric names the shipped Grafana dashboard
// queries; see QueriedMetrics.
func DashboardMetrics() ([]string, error) { return QueriedMetrics(GrafanaDashboard) }

// QueriedMetrics returns the scalepilot_* metric names a Grafana dashboard
// queries (in panel targets and template variables), sorted, each once.
// Histogram series keep their _bucket, _sum or _count suffix.
func QueriedMetrics(dashboard []byte) ([]string, error) {
	var dash any
	if err := json.Unmarshal(dashboard, &dash); err != nil {
		return nil, fmt.Errorf("grafana dashboard: %w", err)
	}
	var names []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(x, k)
			}
		case []any:
			for _, x := range v {
				walk(x, key)
			}
		case string:
			if key == "expr" || key == "query" || key == "definition" {
				names = append(names, metricName.FindAllString(v, -1)...)
			}
		}
	}
	walk(dash, "")
	slices.Sort(names)
	return slices.Compact(names), nil
}
