package prompts

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

var update = flag.Bool("update", false, "rewrite golden files")

// request builds an AdviceRequest with lookback/grain buckets per metric,
// network values in the hundreds of megabytes (the widest numbers), and
// every seventh bucket missing.
func request(lookback, grain time.Duration) engine.AdviceRequest {
	now := time.Date(2026, 3, 3, 9, 30, 0, 0, time.UTC)
	req := engine.AdviceRequest{
		Now: now, ScaleSet: "checkout-prod-vmss", VMSize: "Standard_D4s_v5",
		State: engine.ScaleSetState{Capacity: 7, Serving: 6, Updating: true},
		Min:   2, Max: 40, TargetCPU: 60,
		CooldownOutLeft: 90 * time.Second, CooldownInLeft: 14*time.Minute + 30*time.Second,
		LastAction: &engine.LastAction{At: now.Add(-3 * time.Minute), From: 5, To: 7,
			Outcome: engine.OutcomeApplied},
	}
	req.Metrics = engine.Metrics{End: now, Grain: grain, Lookback: lookback}
	n := int(lookback / grain)
	for i, name := range engine.MetricNames {
		s := req.Metrics.Get(name)
		s.Name, s.Unit, s.Derived = name, engine.UnitPercent, i == 1
		scale := 1.0
		if i >= 2 {
			s.Unit, scale = engine.UnitBytesPerSecond, 1.23456e6
		}
		for j := range n {
			t := now.Add(-lookback + time.Duration(j)*grain)
			v := (37.77 + float64(j%50)*1.13) * scale
			s.Points = append(s.Points, engine.Point{T: t, V: v, Valid: j%7 != 3})
		}
	}
	return req
}

func render(t *testing.T, req engine.AdviceRequest) (string, string) {
	t.Helper()
	v := VarsFrom(req)
	sys, err := DefaultSystem().Render(v)
	if err != nil {
		t.Fatal(err)
	}
	user, err := DefaultUser().Render(v)
	if err != nil {
		t.Fatal(err)
	}
	return sys, user
}

func TestDefaultPromptStaysUnder1500Tokens(t *testing.T) {
	for _, tc := range []struct {
		name            string
		lookback, grain time.Duration
	}{
		{"24h at 5m", 24 * time.Hour, 5 * time.Minute},
		{"24h at 1m", 24 * time.Hour, time.Minute},
		{"1h at 1m", time.Hour, time.Minute},
		{"23h55m at 5m", 23*time.Hour + 55*time.Minute, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys, user := render(t, request(tc.lookback, tc.grain))
			tokens := (len(sys) + len(user)) / 4
			if tokens >= 1500 {
				t.Errorf("default prompt is %d tokens (%d bytes), want under 1500",
					tokens, len(sys)+len(user))
			}
		})
	}
}

func TestDefaultPromptGolden(t *testing.T) {
	sys, user := render(t, request(24*time.Hour, 5*time.Minute))
	got := "=== system\n" + sys + "=== user\n" + user
	path := filepath.Join("testdata", "default_24h.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./prompts -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("default prompt changed; review and run with -update\n--- got\n%s", got)
	}
}

func TestVarsFrom(t *testing.T) {
	req := request(24*time.Hour, 5*time.Minute)
	v := VarsFrom(req)
	checks := []struct{ name, got, want string }{
		{"scale set", v.ScaleSet, "checkout-prod-vmss"},
		{"cooldown out", v.CooldownOutLeft, "1m30s"},
		{"cooldown in", v.CooldownInLeft, "14m30s"},
		{"last action", v.LastAction, "scale_out 5 -> 7, 3m ago"},
		{"outcome", v.LastOutcome, "applied"},
		{"time", v.LocalTime, "09:30"},
		{"weekday", v.Weekday, "Tuesday"},
		{"lookback", v.Lookback, "24h"},
		{"series step", v.SeriesStep, "1h"},
		{"cpu unit", v.CPU.Unit, "%"},
		{"net unit", v.NetIn.Unit, "B/s"},
		{"net label", v.NetOut.Label, "network out"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if v.CooldownOutReady || v.CooldownInReady {
		t.Error("cooldowns reported ready while time is left")
	}
	if !v.Memory.Derived || v.CPU.Derived {
		t.Errorf("derived flags: cpu %v memory %v", v.CPU.Derived, v.Memory.Derived)
	}
	if v.CPU.Points != 24 || len(strings.Fields(v.CPU.Series)) != 24 {
		t.Errorf("cpu series has %d points (%q), want 24", v.CPU.Points, v.CPU.Series)
	}
	if len(v.Metrics) != 4 || v.Metrics[2].Name != "network_in" {
		t.Errorf("metrics order: %+v", v.Metrics)
	}
	// No Inputs in the request: the summary comes from the series.
	if !v.CPU.Available || v.CPU.Min != 37.77 || v.CPU.Max < 93 || v.CPU.Current == 0 {
		t.Errorf("cpu summary from series: %+v", v.CPU)
	}
}

func TestVarsFromPrefersInputsAndReportsErrors(t *testing.T) {
	req := request(time.Hour, 5*time.Minute)
	req.Inputs.CPU = engine.MetricSummary{Available: true, Current: 81, Mean: 70, Min: 50,
		Max: 90, Trend: 12.5, Unit: engine.UnitPercent}
	req.Metrics.Memory = engine.Series{Name: engine.MetricMemory, Err: "metric not enabled"}
	req.LastAction = nil
	v := VarsFrom(req)
	if v.CPU.Current != 81 || v.CPU.Trend != 12.5 {
		t.Errorf("cpu = %+v, want the Inputs summary", v.CPU)
	}
	if v.Memory.Available || v.Memory.Error != "metric not enabled" || v.Memory.Series != "" {
		t.Errorf("memory = %+v, want unavailable with the source's error", v.Memory)
	}
	if v.HasLastAction || v.LastAction != "none" {
		t.Errorf("last action = %q", v.LastAction)
	}
	user, err := DefaultUser().Render(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- memory: no data (metric not enabled)", "trend +12.5/h", "now 81,"} {
		if !strings.Contains(user, want) {
			t.Errorf("user prompt lacks %q:\n%s", want, user)
		}
	}
}

func TestDownsample(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pts := func(vals ...float64) []engine.Point {
		var out []engine.Point
		for i, v := range vals {
			out = append(out, engine.Point{T: t0.Add(time.Duration(i) * time.Minute), V: v,
				Valid: v >= 0})
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		pts   []engine.Point
		n     int
		want  string
		wantK int
	}{
		{"empty", nil, 24, "", 1},
		{"short kept", pts(1, 2, 3), 24, "1 2 3", 1},
		{"gap kept", pts(1, -1, 3), 24, "1 - 3", 1},
		{"pairs averaged", pts(1, 3, 5, 7), 2, "2 6", 2},
		{"gap ignored in mean", pts(1, -1, 5, 7), 2, "1 6", 2},
		{"all gaps", pts(-1, -1, 5, 7), 2, "- 6", 2},
		{"uneven tail", pts(1, 2, 3, 4, 5), 2, "2 4.5", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, k := Downsample(tc.pts, tc.n)
			if got := formatSeries(vals); got != tc.want || k != tc.wantK {
				t.Errorf("Downsample = %q (k %d), want %q (k %d)", got, k, tc.want, tc.wantK)
			}
		})
	}
}

func TestNum(t *testing.T) {
	for in, want := range map[float64]string{
		0: "0", 4: "4", 63.24: "63.2", 63.25: "63.3", -0.04: "0", -2.5: "-2.5",
		999.94: "999.9", 1234: "1.2k", 12345678: "12.3M", 2.5e9: "2.5G", -1500: "-1.5k",
	} {
		if got := Num(in); got != want {
			t.Errorf("Num(%v) = %q, want %q", in, got, want)
		}
	}
	if got := Signed(3); got != "+3" {
		t.Errorf("Signed(3) = %q", got)
	}
	if got := Signed(-3); got != "-3" {
		t.Errorf("Signed(-3) = %q", got)
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"syntax", "{{.ScaleSet", "does not parse"},
		{"unknown top-level", "{{.Capacityy}}", "unknown variable .Capacityy"},
		{"unknown in else branch", "{{if .Updating}}x{{else}}{{.Nope}}{{end}}", "unknown variable .Nope"},
		{"unknown metric field", "{{range .Metrics}}{{.Avg}}{{end}}", "Metric has no field Avg"},
		{"unknown nested", "{{.CPU.Average}}", "unknown variable .CPU.Average"},
		{"unknown via with", "{{with .CPU}}{{.Latest}}{{end}}", "unknown variable .Latest"},
		{"unknown via $", "{{range .Metrics}}{{$.Foo}}{{end}}", "unknown variable .Foo"},
		{"unknown function", "{{round .TargetCPU}}", "does not parse"},
		{"wrong argument type", "{{num .ScaleSet}}", "fails on sample values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("custom", tc.text)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error", tc.text)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "valid variables: .ScaleSet") ||
				!strings.Contains(msg, "custom") {
				t.Errorf("error %q lacks %q, the template name or the variable list", msg, tc.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, text := range []string{
		"{{.ScaleSet}} {{.CPU.Current}} {{num .Memory.Mean}}",
		"{{range $i, $m := .Metrics}}{{$i}} {{$m.Label}} {{.Series}}{{end}}",
		"{{with .NetIn}}{{.Unit}} {{$.Capacity}}{{end}}",
		"{{if gt .Capacity 3}}big{{end}} {{len .Metrics}} {{(index .Metrics 0).Name}}",
		"{{define \"m\"}}{{.Label}}{{end}}{{template \"m\" .CPU}}",
	} {
		tpl, err := Parse("ok", text)
		if err != nil {
			t.Errorf("Parse(%q): %v", text, err)
			continue
		}
		if _, err := tpl.Render(SampleVars()); err != nil {
			t.Errorf("Render(%q): %v", text, err)
		}
	}
}

func TestExamplesParseAndFitLlama3Context(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("examples", "*-system.tmpl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example prompts found: %v", err)
	}
	v := VarsFrom(request(24*time.Hour, 5*time.Minute))
	for _, sysPath := range files {
		userPath := strings.TrimSuffix(sysPath, "-system.tmpl") + "-user.tmpl"
		var total int
		for _, p := range []string{sysPath, userPath} {
			text, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			tpl, err := Parse(filepath.Base(p), string(text))
			if err != nil {
				t.Fatalf("example %s: %v", p, err)
			}
			out, err := tpl.Render(v)
			if err != nil {
				t.Fatalf("example %s: %v", p, err)
			}
			total += len(out)
		}
		// 4,096-token context: leave at least 1,000 tokens for the chat
		// template and the answer.
		if total/4 > 3000 {
			t.Errorf("%s renders to %d tokens, too many for a 4,096-token context", sysPath, total/4)
		}
	}
}

func BenchmarkDefaultPrompt(b *testing.B) {
	for _, tc := range []struct {
		name     string
		lookback time.Duration
	}{{"lookback=1h", time.Hour}, {"lookback=24h", 24 * time.Hour}} {
		b.Run(tc.name, func(b *testing.B) {
			req := request(tc.lookback, 5*time.Minute)
			sys, user := DefaultSystem(), DefaultUser()
			var size int
			for b.Loop() {
				v := VarsFrom(req)
				s, err := sys.Render(v)
				if err != nil {
					b.Fatal(err)
				}
				u, err := user.Render(v)
				if err != nil {
					b.Fatal(err)
				}
				size = len(s) + len(u)
			}
			b.ReportMetric(float64(size), "prompt-bytes")
			b.ReportMetric(float64(size)/4, "prompt-tokens")
		})
	}
}

func TestThresholdsReachThePrompt(t *testing.T) {
	req := request(time.Hour, 5*time.Minute)
	sys, _ := render(t, req)
	if !strings.Contains(sys, "passes\n  75% or memory passes 80%") {
		t.Errorf("unset thresholds should read as the defaults 75 and 80:\n%s", sys)
	}
	req.ScaleOutCPU, req.ScaleOutMemory = 85, 92.5
	sys, _ = render(t, req)
	for _, want := range []string{"85% or memory passes 92.5%", "rise above 85%"} {
		if !strings.Contains(sys, want) {
			t.Errorf("system prompt lacks %q:\n%s", want, sys)
		}
	}
	if strings.Contains(sys, "75%") {
		t.Errorf("system prompt still names 75%% with a threshold of 85:\n%s", sys)
	}
}
