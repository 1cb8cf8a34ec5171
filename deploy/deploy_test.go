package deploy

import (
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/engine/config"
	"github.com/scalepilot/scalepilot/engine/server"
)

// productFlags are the flags PRODUCT.md's "Command line" section promises.
// It is the one list of them in this package; the end-to-end test checks
// the examples against the built binary's --help as well.
var productFlags = []string{
	"auto", "demo", "list-models", "version", "help", "mode", "dry-run",
	"interval", "lookback", "min-instances", "max-instances", "cooldown-out", "cooldown-in",
	"cooldown", "confidence-threshold", "target-cpu",
	"ollama-url", "model", "fallback-model", "prompt-file", "system-prompt",
	"subscription", "resource-group", "vmss-name", "cloud", "vm-size",
	"trace", "speed", "steps", "mean-demand",
	"config", "state-dir", "listen", "print-config",
}

// knownEnv are the environment variables scalepilot or the Azure SDK's
// credential chain read; SCALEPILOT_* are scalepilot's own.
var knownEnv = []string{
	"OLLAMA_HOST", "AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZURE_VMSS_NAME", "AZURE_CLOUD",
	"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
	"AZURE_AUTHORITY_HOST", "XDG_STATE_HOME", "XDG_CONFIG_HOME",
}

func TestFlagParsers(t *testing.T) {
	unit := []byte("[Service]\n# ExecStart=/usr/bin/scalepilot --commented\n" +
		"ExecStartPre=/bin/mkdir -p /x\n" +
		"ExecStart=-/usr/local/bin/scalepilot --auto \\\n  --listen=127.0.0.1:1 \\\n  # a comment\n  -state-dir /s --speed -1\n")
	lines, err := UnitCommandLines(unit)
	if err != nil || len(lines) != 1 {
		t.Fatalf("UnitCommandLines = %v, %v; want one command line", lines, err)
	}
	got := flagNames(lines[0])
	if want := []string{"auto", "listen", "state-dir", "speed"}; !slices.Equal(got, want) {
		t.Errorf("flags %v, want %v", got, want)
	}
	if _, err := UnitCommandLines([]byte("[Service]\nExecStart=/bin/true\n")); err == nil {
		t.Error("a unit that does not run scalepilot passed")
	}
}

func TestEveryFlagTheExamplesUseExists(t *testing.T) {
	flags, err := Flags()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(flags, "auto") || len(flags) < 3 {
		t.Fatalf("Flags() = %v; the examples must run headless (--auto)", flags)
	}
	real := config.FlagNames()
	for _, f := range flags {
		if !slices.Contains(productFlags, f) {
			t.Errorf("--%s is used by an example but is not in PRODUCT.md's flag list", f)
		}
		if !slices.Contains(real, f) {
			t.Errorf("--%s is used by an example but scalepilot does not accept it", f)
		}
	}
}

func setting(settings []UnitSetting, section, key string) []string {
	var out []string
	for _, s := range settings {
		if s.Section == section && s.Key == key {
			out = append(out, s.Value)
		}
	}
	return out
}

// argValue returns the value of --name in args ("--name v" or "--name=v").
func argValue(args []string, name string) (string, bool) {
	for i, a := range args {
		a = "--" + strings.TrimLeft(a, "-")
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func TestSystemdUnit(t *testing.T) {
	s := UnitSettings(SystemdUnit)
	for _, sec := range []string{"Unit", "Service", "Install"} {
		if !slices.ContainsFunc(s, func(u UnitSetting) bool { return u.Section == sec }) {
			t.Errorf("no [%s] section", sec)
		}
	}
	lines, err := UnitCommandLines(SystemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	args := lines[0]
	if !slices.Contains(args, "--auto") {
		t.Errorf("ExecStart %v does not run headless (--auto)", args)
	}
	dir, _ := argValue(args, "state-dir")
	if dir != "/var/lib/"+strings.Join(setting(s, "Service", "StateDirectory"), "") {
		t.Errorf("--state-dir %q is not the unit's StateDirectory under /var/lib", dir)
	}
	listen, _ := argValue(args, "listen")
	if host, _, err := net.SplitHostPort(listen); err != nil || host != "127.0.0.1" {
		t.Errorf("--listen %q: want a loopback address for a host service", listen)
	}
	want := map[string]string{
		"Restart": "on-failure", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"ProtectHome": "yes", "PrivateTmp": "yes", "DynamicUser": "yes", "CapabilityBoundingSet": "",
		"KillSignal": "SIGTERM",
	}
	for k, v := range want {
		got := setting(s, "Service", k)
		if len(got) != 1 || got[0] != v {
			t.Errorf("[Service] %s = %q, want %q", k, got, v)
		}
	}
	// exit 2 (configuration or lock) and 3 (no such scale set) do not heal by restarting.
	prevent := strings.Fields(strings.Join(setting(s, "Service", "RestartPreventExitStatus"), " "))
	if !slices.Contains(prevent, "2") || !slices.Contains(prevent, "3") {
		t.Errorf("RestartPreventExitStatus = %v, want 2 and 3", prevent)
	}
	// SIGTERM must leave time for an in-flight action.
	if sec, err := strconv.Atoi(strings.Join(setting(s, "Service", "TimeoutStopSec"), "")); err != nil || sec < 30 {
		t.Errorf("TimeoutStopSec = %v, want 30 s or more", setting(s, "Service", "TimeoutStopSec"))
	}
}

func TestKubernetesManifest(t *testing.T) {
	m, err := ParseManifest(KubernetesManifest)
	if err != nil {
		t.Fatal(err)
	}
	deps := m.Find("Deployment")
	if len(deps) != 1 {
		t.Fatalf("%d Deployments, want 1", len(deps))
	}
	var dep struct {
		Spec struct {
			Replicas int `yaml:"replicas"`
			Strategy struct {
				Type string `yaml:"type"`
			} `yaml:"strategy"`
			Template struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
				Spec struct {
					Volumes []struct {
						Name string         `yaml:"name"`
						PVC  map[string]any `yaml:"persistentVolumeClaim"`
					} `yaml:"volumes"`
					SecurityContext struct {
						RunAsNonRoot bool `yaml:"runAsNonRoot"`
					} `yaml:"securityContext"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := Convert(deps[0], &dep); err != nil {
		t.Fatal(err)
	}
	// one scalepilot per scale set: never two pods at once, not even during a rollout.
	if dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != "Recreate" {
		t.Errorf("replicas %d, strategy %q; want 1 and Recreate", dep.Spec.Replicas, dep.Spec.Strategy.Type)
	}
	if !dep.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
		t.Error("the pod may run as root")
	}

	cs := m.Containers()
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	c := cs[0]
	args := append(slices.Clone(c.Command), c.Args...)
	if !slices.Contains(args, "--auto") {
		t.Errorf("args %v do not run headless (--auto)", args)
	}
	listen, ok := argValue(args, "listen")
	_, port, err := net.SplitHostPort(listen)
	if !ok || err != nil {
		t.Fatalf("--listen %q: %v", listen, err)
	}
	portName := ""
	for _, p := range c.Ports {
		if strconv.Itoa(p.ContainerPort) == port {
			portName = p.Name
		}
	}
	if portName == "" {
		t.Errorf("no container port for --listen %s", listen)
	}
	for _, pr := range []struct {
		name  string
		probe *Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if pr.probe == nil {
			t.Errorf("no %s probe", pr.name)
			continue
		}
		p := pr.probe.HTTPGet
		if p.Path != pr.path || (p.Port != portName && strconv.Itoa(toInt(p.Port)) != port) {
			t.Errorf("%s probe %s on %v, want %s on the --listen port %s", pr.name, p.Path, p.Port, pr.path, port)
		}
	}

	// the state directory is a persistent volume.
	dir, _ := argValue(args, "state-dir")
	mounted := ""
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == dir {
			mounted = vm.Name
		}
	}
	if !slices.ContainsFunc(dep.Spec.Template.Spec.Volumes, func(v struct {
		Name string         `yaml:"name"`
		PVC  map[string]any `yaml:"persistentVolumeClaim"`
	}) bool {
		return v.Name == mounted && v.PVC != nil
	}) {
		t.Errorf("--state-dir %q is not on a persistent volume claim", dir)
	}

	env, err := EnvVars()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZURE_VMSS_NAME"} {
		if !slices.Contains(env, want) {
			t.Errorf("the container does not get %s", want)
		}
	}
	for _, e := range env {
		if !slices.Contains(knownEnv, e) && !strings.HasPrefix(e, "SCALEPILOT_") {
			t.Errorf("environment variable %s is read by nothing", e)
		}
	}

	// the metrics Service reaches the pod's metrics port.
	svcs := m.Find("Service")
	if len(svcs) != 1 {
		t.Fatalf("%d Services, want 1", len(svcs))
	}
	var svc struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				TargetPort any `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	if err := Convert(svcs[0], &svc); err != nil {
		t.Fatal(err)
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the pod", k, v)
		}
	}
	if len(svc.Spec.Ports) != 1 || (svc.Spec.Ports[0].TargetPort != portName && strconv.Itoa(toInt(svc.Spec.Ports[0].TargetPort)) != port) {
		t.Errorf("Service ports %+v do not target the metrics port %s", svc.Spec.Ports, port)
	}
}

func toInt(v any) int {
	n, _ := v.(int)
	return n
}

// exported gathers a Server's registry after one decision's notifications
// and returns every series name it exports, histogram series included.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := server.New(server.Options{Source: stubSource{}, Registry: reg})
	obs := s.Observer()
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	in := engine.Inputs{CPU: engine.MetricSummary{Available: true, Current: 70},
		Memory: engine.MetricSummary{Available: true, Current: 40},
		NetIn:  engine.MetricSummary{Available: true, Current: 1e6}, NetOut: engine.MetricSummary{Available: true, Current: 2e6}}
	obs.Notify(engine.TickNote{At: now, Seq: 1})
	obs.Notify(engine.MetricsNote{At: now, State: engine.ScaleSetState{Name: "web", Capacity: 3}, Inputs: in})
	obs.Notify(engine.AdviceNote{Seq: 1, Model: engine.Advice{Advisor: engine.AdvisorModel, Model: "llama3:8b",
		Confidence: 0.8, HasConfidence: true, Attempts: []engine.Attempt{{Model: "llama3:8b", DurationMS: 900}}}})
	obs.Notify(engine.DecisionNote{Decision: engine.Decision{Type: engine.TypeDecision, ID: "d-1", TS: now,
		Action: engine.ActionScaleOut, Reason: engine.ReasonRecommended, Current: 3, Desired: 4}})
	obs.Notify(engine.EventNote{Event: engine.Event{Type: engine.TypeActionResult, DecisionID: "d-1",
		From: 3, To: 4, Outcome: engine.OutcomeApplied}})
	obs.Notify(engine.StatusNote{Status: stubSource{}.Status()})

	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+suffix] = true
			}
		}
	}
	return names
}

type stubSource struct{}

func (stubSource) Status() engine.Status {
	return engine.Status{ScaleSet: "web", Mode: engine.ModeAuto, Capacity: 4, Min: 2, Max: 10,
		Decisions: 1, ScaleSetOK: true, ModelOK: true, LastTickWall: time.Now()}
}

func (stubSource) Recent(int) []engine.Decision { return nil }

func TestDashboardQueriesOnlyExportedMetrics(t *testing.T) {
	queried, err := DashboardMetrics()
	if err != nil {
		t.Fatal(err)
	}
	if len(queried) < 10 {
		t.Fatalf("the dashboard queries only %v", queried)
	}
	names := exported(t)
	for _, q := range queried {
		if !names[q] {
			t.Errorf("the dashboard queries %s, which engine/server does not export", q)
		}
	}
	// and it shows the metrics issue 7 asks for.
	for _, want := range []string{"scalepilot_capacity_current", "scalepilot_capacity_desired",
		"scalepilot_decisions_total", "scalepilot_actions_total", "scalepilot_advisor_latency_seconds_bucket",
		"scalepilot_advisor_confidence", "scalepilot_advisor_fallbacks_total", "scalepilot_metric_value",
		"scalepilot_metric_age_seconds", "scalepilot_cooldown_remaining_seconds"} {
		if !slices.Contains(queried, want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

func TestDashboardIsWellFormed(t *testing.T) {
	var d struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			GridPos struct {
				X, Y, W, H int
			} `json:"gridPos"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(GrafanaDashboard, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}
	if !slices.ContainsFunc(d.Templating.List, func(v struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}) bool {
		return v.Type == "datasource"
	}) {
		t.Error("no data source variable: the dashboard would be tied to one Prometheus")
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q has a bad grid position %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, "scalepilot_") || strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") {
				t.Errorf("panel %q target %s: bad query %q", p.Title, tg.RefID, tg.Expr)
			}
		}
	}
}

// A dashboard that names a metric engine/server does not export must fail.
func TestDashboardCheckCatchesAnUnknownMetric(t *testing.T) {
	q, err := QueriedMetrics([]byte(`{"panels":[{"targets":[{"expr":"rate(scalepilot_made_up_total[5m])"}]}]}`))
	if err != nil || !slices.Equal(q, []string{"scalepilot_made_up_total"}) {
		t.Fatalf("DashboardMetrics = %v, %v", q, err)
	}
	if exported(t)["scalepilot_made_up_total"] {
		t.Error("a made-up metric counts as exported")
	}
	if _, err := ParseManifest([]byte("a: [")); err == nil {
		t.Error("a broken manifest parsed")
	}
}
