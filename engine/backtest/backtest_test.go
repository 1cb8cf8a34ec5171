package backtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/engine/sim"
	"github.com/scalepilot/scalepilot/engine/trace"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// handTrace is a percentages trace whose demand equals its load when the
// mean demand is its own mean.
func handTrace(load ...float64) (*trace.Trace, float64) {
	sum := 0.0
	for _, v := range load {
		sum += v
	}
	return &trace.Trace{Name: "hand", Step: 5 * time.Minute, Start: t0, Kind: trace.Percentages, Load: load},
		sum / float64(len(load))
}

// tenMinuteLookback makes the warm-up two steps.
func tenMinuteLookback() *engine.Policy {
	p := engine.DefaultPolicy()
	p.Lookback = 10 * time.Minute
	return &p
}

// TestOracleHandComputed: two warm-up steps, then demands 1.7, 3.4, 8.5,
// 0.85, 4.25, 5.1 need ceil(d ÷ 0.85) = 2, 4, 10, 1, 5, 6 instances. The
// start capacity is ceil(mean 3.975 ÷ 0.6) = 7.
func TestOracleHandComputed(t *testing.T) {
	tr, mean := handTrace(4, 4, 1.7, 3.4, 8.5, 0.85, 4.25, 5.1)
	rep, err := Run(context.Background(), []*trace.Trace{tr}, Options{
		Policies: []string{PolicyOracle}, Min: 1, Max: 100, MeanDemand: mean, Engine: tenMinuteLookback(),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Traces[0]
	if got.Steps != 6 || got.StepSeconds != 300 || len(got.Policies) != 1 {
		t.Fatalf("%+v", got)
	}
	p := got.Policies[0]
	if want := []int{2, 4, 10, 1, 5, 6}; !slices.Equal(p.capacity, want) {
		t.Errorf("capacity %v, want %v", p.capacity, want)
	}
	// changes 7→2, 2→4, 4→10, 10→1, 1→5, 5→6: reversals after the 1st, 3rd and 4th.
	want := PolicyReport{Policy: PolicyOracle, InstanceHours: 28.0 / 12, CostRatio: 1, Actions: 6,
		ActionsPerDay: 6 / (30.0 / 1440), Flaps: 3, MaxStep: 9}
	if p.Policy != want.Policy || !near(p.InstanceHours, want.InstanceHours) || p.CostRatio != 1 ||
		p.UnmetShare != 0 || p.HotShare != 0 || p.Actions != want.Actions ||
		!near(p.ActionsPerDay, want.ActionsPerDay) || p.Flaps != want.Flaps || p.MaxStep != want.MaxStep {
		t.Errorf("got %+v\nwant %+v", p, want)
	}
}

// runDecider drives one baseline on a hand trace with a one-step warm-up and
// returns the capacity after each decision.
func runDecider(t *testing.T, d decider, start int, load ...float64) []int {
	t.Helper()
	tr, mean := handTrace(load...)
	s, err := sim.New(tr, sim.Options{MeanDemand: mean, StartCapacity: start, Warmup: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var caps []int
	for {
		if err := d.decide(ctx, s); err != nil {
			t.Fatal(err)
		}
		st, _ := s.State(ctx)
		caps = append(caps, st.Capacity)
		if !s.Advance() {
			return caps
		}
	}
}

// TestHPAFirstDecisions, from 4 instances at target 60 %:
//  1. step 0 read 3.6/4 = 90 %: ratio 1.5, ceil(1.5 × 4) = 6;
//  2. step 1 read 90 % again, still on the 4 that served it: 6, hold;
//  3. step 2 read 1/6 = 16.7 %: ceil(0.278 × 6) = 2, but the last 5 minutes
//     recommended 6: stabilized at 6;
//  4. step 3 read 16.7 % again: 2 and 2 in the window: 2;
//  5. step 4 read 1/2 = 50 %: ratio 0.83, ceil(0.83 × 2) = 2, hold.
func TestHPAFirstDecisions(t *testing.T) {
	got := runDecider(t, newHPA(Options{TargetCPU: 60, Min: 2, Max: 40}), 4, 3.6, 3.6, 1, 1, 1, 1)
	if want := []int{6, 6, 6, 2, 2}; !slices.Equal(got, want) {
		t.Errorf("capacity after each decision %v, want %v", got, want)
	}
	// Within the 10 % tolerance: 3.3/5 = 66 % is 1.1 × 60 %.
	got = runDecider(t, newHPA(Options{TargetCPU: 60, Min: 2, Max: 40}), 5, 3.3, 3.3, 3.3)
	if want := []int{5, 5}; !slices.Equal(got, want) {
		t.Errorf("within tolerance: %v, want %v", got, want)
	}
	// Rate limit: 1 instance at 100 % wants ceil(1.67 × 1) = 2 at most +4.
	got = runDecider(t, newHPA(Options{TargetCPU: 10, Min: 1, Max: 40}), 1, 2, 2)
	if want := []int{5}; !slices.Equal(got, want) {
		t.Errorf("rate limit: %v, want %v (ceil(10 × 1) = 10 cut to 1 + 4)", got, want)
	}
}

// TestAzureRulesFirstDecisions, from 4 instances (10-minute average):
//  1. only step 0 in the window: 90 % > 70: +1 = 5;
//  2. steps 0, 1: 90 % and 3.6/4 = 90 % (the new one still provisioning): 6;
//  3. steps 1, 2: 90 and 1/5 = 20: 55 %, hold;
//  4. steps 2, 3: 20 and 16.7: 18.3 % < 30, 18.3 × 6/5 = 22 < 70: 5;
//  5. steps 3, 4: 16.7 and 20: 18.3 %, projected 22.9: 4.
func TestAzureRulesFirstDecisions(t *testing.T) {
	got := runDecider(t, newAzureRules(Options{Min: 2, Max: 40}), 4, 3.6, 3.6, 1, 1, 1, 1)
	if want := []int{5, 6, 6, 5, 4}; !slices.Equal(got, want) {
		t.Errorf("capacity after each decision %v, want %v", got, want)
	}
	// Flapping estimate with a 50 % scale-in threshold: 0.8/2 = 40 % < 50,
	// but 40 × 2/1 = 80 ≥ 70: the scale-in is skipped.
	a := newAzureRules(Options{Min: 1, Max: 40})
	a.in = 50
	if got := runDecider(t, a, 2, 0.8, 0.8); !slices.Equal(got, []int{2}) {
		t.Errorf("flapping estimate: %v, want [2]", got)
	}
}

func TestParsePolicies(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		isUsage bool
	}{
		{"", AllPolicies, false},
		{"all", AllPolicies, false},
		{"hpa, oracle,hpa", []string{PolicyHPA, PolicyOracle}, false},
		{"all,llm", append(slices.Clone(AllPolicies), PolicyLLM), false},
		{"k8s", nil, true},
	}
	for _, tc := range tests {
		got, err := ParsePolicies(tc.in)
		if errors.Is(err, ErrUsage) != tc.isUsage || !slices.Equal(got, tc.want) {
			t.Errorf("ParsePolicies(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestJSONSchema checks the keys of PRODUCT.md's `backtest --json` schema
// and that the engine policy runs through the real engine.
func TestJSONSchema(t *testing.T) {
	tr, err := trace.Default()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), []*trace.Trace{tr}, Options{Steps: 288})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string][]map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	tr0 := doc["traces"][0]
	if got := keys(tr0); !slices.Equal(got, []string{"policies", "step_seconds", "steps", "trace"}) {
		t.Errorf("trace keys %v", got)
	}
	if tr0["steps"] != 288.0 || tr0["step_seconds"] != 300.0 {
		t.Errorf("steps %v, step_seconds %v", tr0["steps"], tr0["step_seconds"])
	}
	wantKeys := []string{"actions", "actions_per_day", "cost_ratio", "flaps", "hot_share", "instance_hours",
		"max_step", "policy", "unmet_share"}
	var names []string
	for _, p := range tr0["policies"].([]any) {
		m := p.(map[string]any)
		if got := keys(m); !slices.Equal(got, wantKeys) {
			t.Errorf("policy keys %v, want %v", got, wantKeys)
		}
		names = append(names, m["policy"].(string))
	}
	if !slices.Equal(names, AllPolicies) {
		t.Errorf("policies %v", names)
	}
	sp := rep.Traces[0].Policies[0]
	if sp.Actions == 0 || sp.InstanceHours <= 0 || sp.CostRatio < 1 {
		t.Errorf("scalepilot over a busy day: %+v", sp)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "azure-rules") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
	var chart bytes.Buffer
	if err := rep.WriteChart(&chart, 60, 5); err != nil || strings.Count(chart.String(), "└") != 4 {
		t.Errorf("chart: %v\n%s", err, chart.String())
	}
	var svg bytes.Buffer
	if err := rep.WriteSVG(&svg); err != nil || !strings.HasPrefix(svg.String(), "<svg") || strings.Count(svg.String(), "<path") != 5 {
		t.Errorf("svg: %v, %d paths", err, strings.Count(svg.String(), "<path"))
	}
}

// countingAdvisor is a model that recommends one more than the current
// capacity with high confidence, and counts its calls.
type countingAdvisor struct{ calls atomic.Int32 }

func (a *countingAdvisor) Advise(_ context.Context, req engine.AdviceRequest) (engine.Advice, error) {
	a.calls.Add(1)
	return engine.Advice{Recommended: req.State.Capacity + 1, Confidence: 0.9, HasConfidence: true,
		Advisor: engine.AdvisorModel, Model: "fake"}, nil
}

func TestLLMAnswersAreCached(t *testing.T) {
	tr, err := trace.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func(adv engine.Advisor) Report {
		rep, err := Run(context.Background(), []*trace.Trace{tr}, Options{
			Policies: []string{PolicyLLM}, Steps: 20, Advisor: adv, CacheDir: dir, CacheKey: "prompt-v1",
		})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	first, second := &countingAdvisor{}, &countingAdvisor{}
	a, b := run(first), run(second)
	if first.calls.Load() == 0 || second.calls.Load() != 0 {
		t.Errorf("model calls: first run %d, rerun %d (want some, then none)", first.calls.Load(), second.calls.Load())
	}
	if !slices.Equal(a.Traces[0].Policies[0].capacity, b.Traces[0].Policies[0].capacity) || a.Traces[0].Policies[0].Actions == 0 {
		t.Errorf("rerun differs or the model was not followed: %+v vs %+v", a.Traces[0].Policies[0], b.Traces[0].Policies[0])
	}
	if _, err := Run(context.Background(), []*trace.Trace{tr}, Options{Policies: []string{PolicyLLM}}); !errors.Is(err, ErrUsage) {
		t.Errorf("llm without an advisor: %v", err)
	}
}

// flakyAdvisor answers every other call and fails the rest, as a model that
// times out now and then; with down set it never answers.
type flakyAdvisor struct {
	calls atomic.Int32
	down  bool
}

func (a *flakyAdvisor) Advise(_ context.Context, req engine.AdviceRequest) (engine.Advice, error) {
	if n := a.calls.Add(1); a.down || n%2 == 0 {
		return engine.Advice{}, errors.New("ollama server unreachable")
	}
	return engine.Advice{Recommended: req.State.Capacity, Confidence: 0.9, HasConfidence: true,
		Advisor: engine.AdvisorModel, Model: "fake"}, nil
}

// An llm row says how many decisions the model answered; a model that
// answered none is an error, not a row of the rule advisor's figures under
// the model's name.
func TestLLMRowCountsModelAnswers(t *testing.T) {
	tr, err := trace.Default()
	if err != nil {
		t.Fatal(err)
	}
	run := func(adv engine.Advisor) (Report, error) {
		return Run(context.Background(), []*trace.Trace{tr}, Options{
			Policies: []string{PolicyLLM, PolicyScalepilot}, Steps: 10, Advisor: adv, CacheDir: t.TempDir(), CacheKey: "k",
		})
	}
	rep, err := run(&flakyAdvisor{})
	if err != nil {
		t.Fatal(err)
	}
	llm, rules := rep.Traces[0].Policies[0], rep.Traces[0].Policies[1]
	if llm.ModelAnswers == nil || *llm.ModelAnswers != 5 || llm.Decisions != 10 {
		t.Fatalf("llm model answers %v of %d, want 5 of 10", llm.ModelAnswers, llm.Decisions)
	}
	if rules.ModelAnswers != nil {
		t.Errorf("scalepilot row has model answers %d", *rules.ModelAnswers)
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "llm: the model answered 5 of 10 decisions") {
		t.Errorf("table lacks the model's share:\n%s", table.String())
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if strings.Count(js.String(), `"model_answers": 5`) != 1 {
		t.Errorf("JSON should carry model_answers on the llm row only:\n%s", js.String())
	}

	_, err = run(&flakyAdvisor{down: true})
	if err == nil || !strings.Contains(err.Error(), "answered none of the 10 decisions") ||
		!strings.Contains(err.Error(), "unreachable") {
		t.Errorf("a model that never answered: err %v", err)
	}
}

func TestRunCommandReportsBadTraceLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(path, []byte("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := RunCommand(context.Background(), &bytes.Buffer{}, Command{Traces: []string{path}, Policy: "oracle"})
	var pe *trace.ParseError
	if !errors.As(err, &pe) || pe.Line != 3 {
		t.Errorf("err = %v, want a parse error at line 3", err)
	}
}

// BenchmarkFourPolicies30Days replays the four policies over a 30-day,
// 5-minute trace: Google's 28 days, continued from its start for the last 2.
func BenchmarkFourPolicies30Days(b *testing.B) {
	g, err := trace.Load(filepath.Join("..", "..", "testdata", "traces", "google-2019",
		"instance_usage_grouped_300_seconds_month.csv"))
	if err != nil {
		b.Fatal(err)
	}
	steps := 30*288 + 12 // plus the one-hour warm-up
	long := *g
	long.Load = make([]float64, steps)
	for i := range long.Load {
		long.Load[i] = g.Load[i%g.Len()]
	}
	long.CPU, long.Memory = nil, nil
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Run(ctx, []*trace.Trace{&long}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
