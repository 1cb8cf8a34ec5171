package backtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/engine/sim"
	"github.com/scalepilot/scalepilot/engine/trace"
)

// Command is `scalepilot backtest` with its flags parsed. Unlike Options,
// every value is taken as given: the flag parser supplies the defaults.
type Command struct {
	Traces []string // --trace FILE...; empty: the bundled default trace
	Policy string   // --policy LIST: "all" (or "") or names separated by commas
	JSON   bool     // --json: one JSON document instead of the table and chart
	SVG    string   // an SVG chart file to write as well; "" for none

	ProvisionDelay time.Duration // --provision-delay (flag default 3m); 0 means none
	TargetCPU      float64       // --target-cpu
	Min, Max       int           // --min-instances, --max-instances (backtest defaults 2 and 40)
	MeanDemand     float64       // --mean-demand
	Steps          int           // --steps; 0: whole traces

	Engine   *engine.Policy     // the configured guardrails; nil: defaults
	Advisor  engine.Advisor     // the model advisor, for --policy llm
	Models   engine.ModelChoice //
	CacheDir string             // where llm answers are kept
	CacheKey string             // changes with the prompt and model settings
	Logger   *slog.Logger

	ChartWidth, ChartHeight int // terminal chart size; 100 × 8 when 0
}

// RunCommand loads the traces, runs the backtest and writes the table and a
// terminal chart (or the JSON document) to stdout. Errors wrapping ErrUsage
// are the caller's (exit 2); a trace that cannot be read is reported with its
// file and line.
func RunCommand(ctx context.Context, stdout io.Writer, c Command) error {
	policies, err := ParsePolicies(c.Policy)
	if err != nil {
		return err
	}
	var traces []*trace.Trace
	if len(c.Traces) == 0 {
		t, err := trace.Default()
		if err != nil {
			return err
		}
		traces = append(traces, t)
	}
	for _, path := range c.Traces {
		t, err := trace.Load(path)
		if err != nil {
			return fmt.Errorf("backtest: %w", err)
		}
		traces = append(traces, t)
	}
	delay := c.ProvisionDelay
	if delay == 0 {
		delay = sim.NoDelay
	}
	rep, err := Run(ctx, traces, Options{
		Policies: policies, ProvisionDelay: delay, TargetCPU: c.TargetCPU, Min: c.Min, Max: c.Max,
		MeanDemand: c.MeanDemand, Steps: c.Steps, Engine: c.Engine, Advisor: c.Advisor, Models: c.Models,
		CacheDir: c.CacheDir, CacheKey: c.CacheKey, Logger: c.Logger,
	})
	if err != nil {
		return err
	}
	if c.SVG != "" {
		if err := writeSVGFile(c.SVG, rep); err != nil {
			return err
		}
	}
	if c.JSON {
		return rep.WriteJSON(stdout)
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	w, h := c.ChartWidth, c.ChartHeight
	if w == 0 {
		w = 100
	}
	if h == 0 {
		h = 8
	}
	fmt.Fprintln(stdout)
	return rep.WriteChart(stdout, w, h)
}

func writeSVGFile(path string, rep Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write backtest chart: %w", err)
	}
	if err := rep.WriteSVG(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write backtest chart %s: %w", path, err)
	}
	return nil
}
