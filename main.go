// Command scalepilot keeps an Azure Virtual Machine Scale Set at the right
// size, advised by a large language model served by Ollama, with a terminal
// dashboard for the operator or headless under a service manager.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/scalepilot/scalepilot/azure"
	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/engine/backtest"
	"github.com/scalepilot/scalepilot/engine/config"
	"github.com/scalepilot/scalepilot/engine/journal"
	"github.com/scalepilot/scalepilot/engine/lock"
	"github.com/scalepilot/scalepilot/engine/server"
	"github.com/scalepilot/scalepilot/engine/sim"
	"github.com/scalepilot/scalepilot/engine/statefile"
	"github.com/scalepilot/scalepilot/engine/trace"
	"github.com/scalepilot/scalepilot/llm"
	"github.com/scalepilot/scalepilot/prompts"
	"github.com/scalepilot/scalepilot/tui"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

// Exit codes (PRODUCT.md).
const (
	exitOK       = 0
	exitRuntime  = 1
	exitUsage    = 2
	exitNotFound = 3
)

func main() {
	// A hang-up (the SSH session or the terminal went away) stops as cleanly
	// as an interrupt: records flushed, waiting cards closed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// exitError carries an exit code with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, format string, a ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, a...)}
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env config.Env) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "metrics":
		err = runMetrics(ctx, args[1:], stdout, stderr, env)
	case len(args) > 0 && args[0] == "backtest":
		err = runBacktest(ctx, args[1:], stdout, stderr, env)
	default:
		err = runMain(ctx, args, stdout, stderr, env)
	}
	return report(err, stderr)
}

// report prints err and maps it to an exit code.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	var ue *config.UsageError
	var held *lock.HeldError
	code := exitRuntime
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case errors.As(err, &ue), errors.As(err, &held):
		code = exitUsage
	case errors.Is(err, engine.ErrNotFound):
		code = exitNotFound
	}
	fmt.Fprintf(stderr, "scalepilot: %v\n", err)
	return code
}

func versionString() string {
	v := version
	if v == "" {
		v = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok {
			if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			} else if rev := vcsRevision(bi); rev != "" {
				v += " (" + rev + ")"
			}
		}
	}
	return "scalepilot " + v
}

// vcsRevision is the commit a build from a git checkout was made at, short,
// with "+dirty" when the tree had changes.
func vcsRevision(bi *debug.BuildInfo) string {
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return ""
	}
	return "commit " + rev + dirty
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer, env config.Env) error {
	cfg, err := config.Load(args, env, stderr)
	if err != nil {
		return err
	}
	switch {
	case cfg.Help:
		cfg.Usage(stdout)
		return nil
	case cfg.Version:
		fmt.Fprintln(stdout, versionString())
		return nil
	case cfg.PrintConfig:
		cfg.Print(stdout)
		if url, err := resolveOllamaURL(cfg); err == nil {
			fmt.Fprintf(stdout, "# ollama server in use: %s\n", url)
		}
		return nil
	case cfg.ListModels:
		return listModels(ctx, cfg, stdout)
	}
	if !cfg.Auto && !isTerminal(stdout) {
		return fail(exitUsage, "no terminal for the dashboard: run headless with --auto (add --dry-run to only decide)")
	}
	if cfg.Auto && cfg.Mode == string(engine.ModeApprove) {
		cfg.Mode = string(engine.ModeAuto)
	}
	// Settings that can still be wrong are checked before the state
	// directory is touched: a bad start leaves no lock and no journal.
	var listener net.Listener // the HTTP server's, bound now so that a bad --listen fails first
	if cfg.Listen != "" {
		if listener, err = openListener(cfg.Listen); err != nil {
			return err
		}
		defer listener.Close() // closed already once the server has served on it
	}
	advisorCfg, err := advisorConfig(cfg)
	if err != nil {
		return err
	}

	b, err := openBackend(ctx, cfg, env)
	if err != nil {
		return err
	}
	defer b.close()

	stateDir, err := resolveStateDir(cfg, env, b)
	if err != nil {
		return err
	}
	lk, err := lock.Acquire(stateDir)
	if err != nil {
		return err
	}
	defer lk.Release()

	logger, closeLog, err := openLogger(cfg, stateDir, stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	logger.Info("starting", "version", versionString(), "scale_set", b.name, "mode", cfg.Mode, "state_dir", stateDir)
	if pid := lk.StalePID(); pid != 0 {
		logger.Warn("took over the lock of a scalepilot that is gone", "pid", pid, "lock", lk.Path())
	}
	if b.warning != "" {
		logger.Warn(b.warning)
		if cfg.Auto {
			fmt.Fprintln(stderr, "scalepilot: warning:", b.warning)
		}
	}

	jr, err := journal.Open(stateDir, journal.Options{Logger: logger})
	if err != nil {
		return fmt.Errorf("open journal in %s: %w", stateDir, err)
	}
	defer jr.Close()

	closeLostCards(ctx, jr, logger)

	if b.sim != nil {
		if b.tempDir == "" {
			// A demo with its own --state-dir goes on where it stopped.
			if err := resumeDemo(ctx, cfg, b, jr, statefile.New(stateDir), logger); err != nil {
				return err
			}
		}
		if err := slowDemo(b, env); err != nil {
			return err
		}
	}

	advisor, err := llm.New(advisorCfg, logger)
	if err != nil {
		return &config.UsageError{Err: err}
	}
	ollamaURL := advisorCfg.URL
	go warnMissingModels(ctx, ollamaURL, cfg, logger)

	var observers fanout
	var records engine.Journal = jr
	if cfg.Auto {
		records = engine.Tee{jr, engine.NewLineWriter(stdout)}
	}
	var notes chan engine.Notification
	if !cfg.Auto {
		notes = make(chan engine.Notification, 1024)
		observers = append(observers, chanObserver(notes))
	}
	var srv *server.Server
	src := &lazySource{}
	if cfg.Listen != "" {
		srv = server.New(server.Options{Addr: cfg.Listen, Listener: listener, Logger: logger, Interval: b.wallInterval, Source: src})
		observers = append(observers, srv.Observer())
	}

	opts := engine.Options{
		ScaleSetName: b.name, VMSize: cfg.VMSize, Mode: engine.Mode(cfg.Mode), Policy: policyFrom(cfg),
		Models: engine.ModelChoice{Primary: cfg.Model, Fallback: cfg.FallbackModel},
		Clock:  b.clock, ScaleSet: b.scaleSet, Metrics: b.metrics, Advisor: advisor,
		Journal: records, State: statefile.New(stateDir), Observer: observers, Logger: logger,
		ReadOnly: cfg.Auto && cfg.Mode == string(engine.ModeDryRun), SyncApply: b.sim != nil,
		ApprovalTTL: cfg.ApprovalExpiry, MaxDecisions: cfg.Steps, AdviceTimeout: cfg.AdviceTimeout + 5*time.Second,
	}
	eng, err := engine.New(opts)
	if err != nil {
		return &config.UsageError{Err: err}
	}
	listenAddr := ""
	if srv != nil {
		src.set(eng)
		addr, err := srv.Start(ctx)
		listenAddr = addr
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		logger.Info("serving metrics and status", "addr", addr)
		if cfg.Auto {
			fmt.Fprintf(stderr, "scalepilot: serving /metrics, /healthz, /readyz and /api on http://%s\n", addr)
		}
	}

	if cfg.Auto {
		err := eng.Run(ctx, b.pacer)
		sum := eng.Summary()
		sum.Interrupted = ctx.Err() != nil
		if jerr := records.Append(context.WithoutCancel(ctx), sum); jerr != nil {
			logger.Error("write summary", "err", jerr)
		}
		logger.Info("stopped", "decisions", sum.Decisions, "applied", sum.Applied, "failed", sum.Failed,
			"final_capacity", sum.FinalCapacity, "interrupted", sum.Interrupted)
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		runErr = eng.Run(runCtx, b.pacer)
	}()
	line, tuiErr := tui.Run(runCtx, tui.Options{
		Controller: eng, Notes: notes, Title: b.title, Demo: b.sim != nil, VMSize: b.vmSize,
		ListModels: func(ctx context.Context) ([]engine.ModelInfo, error) {
			return llm.ListModels(ctx, ollamaURL, nil, eng.Status().Models)
		},
		Theme: tui.Theme(cfg.Theme), NoColor: noColor(env), Mouse: cfg.Mouse, Logger: logger,
		CPUThreshold: cfg.ScaleOutCPU, MemoryThreshold: cfg.ScaleOutMemory, Listen: listenAddr,
	})
	cancel()
	wg.Wait()
	sum := eng.Summary()
	sum.Interrupted = true
	_ = jr.Append(context.WithoutCancel(ctx), sum)
	if line != "" {
		fmt.Fprintln(stderr, line)
	}
	if tuiErr != nil {
		return tuiErr
	}
	return runErr
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func policyFrom(cfg *config.Config) engine.Policy {
	return engine.Policy{
		Min: cfg.Min, Max: cfg.Max, MaxStepOut: cfg.MaxStepOut, MaxStepIn: cfg.MaxStepIn,
		CooldownOut: cfg.CooldownOut, CooldownIn: cfg.CooldownIn, ConfidenceThreshold: cfg.ConfidenceThreshold,
		TargetCPU: cfg.TargetCPU, Tolerance: cfg.Tolerance, ScaleOutCPU: cfg.ScaleOutCPU,
		ScaleOutMemory: cfg.ScaleOutMemory, Interval: cfg.Interval, Lookback: cfg.Lookback, Grain: cfg.Grain,
		ScaleInWindow: cfg.ScaleInWindow,
	}
}

// backend is the scale set the engine works on: a real one or the simulator.
type backend struct {
	name, title, vmSize string
	sub, group          string
	clock               engine.Clock
	scaleSet            engine.ScaleSet
	metrics             engine.MetricsSource
	pacer               engine.Pacer
	sim                 *sim.Sim
	warning             string
	tempDir             string
	wallInterval        time.Duration // wall-clock time between decisions
}

func (b *backend) close() {
	if b.tempDir != "" {
		_ = os.RemoveAll(b.tempDir)
	}
}

func openBackend(ctx context.Context, cfg *config.Config, env config.Env) (*backend, error) {
	if cfg.Demo {
		return openDemo(cfg)
	}
	acfg := azureConfig(cfg)
	if err := azure.CheckSettings(acfg); err != nil {
		return nil, fail(exitUsage, "%v", err)
	}
	ss, err := azure.New(ctx, acfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	st, err := ss.State(ctx)
	if err != nil {
		if errors.Is(err, engine.ErrNotFound) {
			return nil, &exitError{code: exitNotFound, err: err}
		}
		return nil, fmt.Errorf("read scale set %s: %w", acfg.VMSSName, err)
	}
	b := &backend{
		name: acfg.VMSSName, title: fmt.Sprintf("%s/%s/%s", acfg.SubscriptionID, acfg.ResourceGroup, acfg.VMSSName),
		vmSize: st.SKU, sub: acfg.SubscriptionID, group: acfg.ResourceGroup,
		clock: engine.ClockFunc(time.Now), scaleSet: ss, metrics: ss,
	}
	b.pacer = engine.NewIntervalPacer(b.clock, cfg.Interval)
	b.wallInterval = cfg.Interval
	if msg, err := ss.CheckAutoscaleConflict(ctx); err == nil && msg != "" {
		b.warning = msg
	}
	return b, nil
}

func azureConfig(cfg *config.Config) azure.Config {
	return azure.Config{
		SubscriptionID: cfg.Subscription, ResourceGroup: cfg.ResourceGroup, VMSSName: cfg.VMSSName,
		Cloud: cfg.Cloud, VMSize: cfg.VMSize,
	}
}

func openDemo(cfg *config.Config) (*backend, error) {
	var tr *trace.Trace
	var err error
	if cfg.Trace != "" {
		tr, err = trace.Load(cfg.Trace)
		if err != nil {
			return nil, fail(exitUsage, "load trace: %v", err)
		}
	} else {
		tr, err = trace.Default()
		if err != nil {
			return nil, fmt.Errorf("load the bundled trace: %w", err)
		}
	}
	s, err := newDemoSim(tr, cfg, cfg.Lookback, 0)
	if err != nil {
		return nil, err
	}
	// One decision per trace step: the step is the interval and the grain.
	cfg.Interval, cfg.Grain = s.Step(), s.Step()
	if cfg.Lookback < s.Step() {
		cfg.Lookback = s.Step()
	}
	b := &backend{
		name: "demo", title: tr.Name, vmSize: "simulated",
		clock: s, scaleSet: s, metrics: s, sim: s, pacer: sim.Pacer(s, cfg.Speed),
	}
	if cfg.Speed > 0 {
		b.wallInterval = time.Duration(float64(time.Second) / cfg.Speed)
	}
	return b, nil
}

// demoApplyDelayEnv names an environment variable that makes every simulated
// capacity change take that much wall-clock time (a Go duration such as
// 30s), as a real scale set's does. Tests use it to stop scalepilot while
// an action is in flight; it is not a user setting.
const demoApplyDelayEnv = "SCALEPILOT_DEMO_APPLY_DELAY"

// slowDemo applies demoApplyDelayEnv to the demo's scale set.
func slowDemo(b *backend, env config.Env) error {
	v, ok := env(demoApplyDelayEnv)
	if !ok || v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fail(exitUsage, "%s: %q is not a duration such as 30s", demoApplyDelayEnv, v)
	}
	b.scaleSet = slowScaleSet{ScaleSet: b.scaleSet, delay: d}
	return nil
}

// slowScaleSet waits before each capacity change.
type slowScaleSet struct {
	engine.ScaleSet
	delay time.Duration
}

func (s slowScaleSet) SetCapacity(ctx context.Context, n int) error {
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	return s.ScaleSet.SetCapacity(ctx, n)
}

// lostCardsTail is how many of the newest journal records closeLostCards
// reads: far more than a run leaves between a card and its answer.
const lostCardsTail = 2000

// closeLostCards closes in the journal the approval cards an earlier process
// left open: a card lives in memory, so one that died without stopping
// cleanly (SIGKILL, a crash) took its cards with it. They were not applied.
func closeLostCards(ctx context.Context, jr *journal.Journal, logger *slog.Logger) {
	recs, err := jr.Tail(lostCardsTail)
	if err != nil {
		logger.Warn("read the journal for lost approval cards", "err", err)
		return
	}
	open := map[string]engine.Event{}
	var order []string
	var last time.Time // the newest record's time: when the earlier run was last heard of
	for _, r := range recs {
		var ev engine.Event
		if json.Unmarshal(r, &ev) != nil {
			continue
		}
		if ev.TS.After(last) {
			last = ev.TS
		}
		if ev.DecisionID == "" {
			continue
		}
		switch ev.Type {
		case engine.TypeApproval:
			if _, seen := open[ev.DecisionID]; !seen {
				order = append(order, ev.DecisionID)
			}
			open[ev.DecisionID] = ev
		case engine.TypeApproved, engine.TypeRejected, engine.TypeExpired:
			delete(open, ev.DecisionID)
		}
	}
	for _, id := range order {
		ev, ok := open[id]
		if !ok {
			continue
		}
		closed := engine.Event{Type: engine.TypeExpired, DecisionID: id, TS: last, ScaleSet: ev.ScaleSet,
			From: ev.From, To: ev.To, By: "engine",
			Error: "scalepilot restarted: the card was lost with the process that made it; not applied"}
		if err := jr.Append(context.WithoutCancel(ctx), closed); err != nil {
			logger.Warn("close a lost approval card", "decision_id", id, "err", err)
			continue
		}
		logger.Info("closed an approval card an earlier run left open", "decision_id", id)
	}
}

// resumeTail is how many journal records resumeDemo reads, newest first,
// to find the last decision.
const resumeTail = 64

// resumeDemo restarts the simulated scale set where an earlier demo run in
// the same state directory stopped: at the trace step after its last
// decision, with the capacity the state file expects. Starting the trace
// over instead would run engine time backwards, so the cooldowns kept in the
// state file would last hours, and the capacity would look changed by
// someone else. Instances that were still provisioning are taken as
// serving; the warm-up before the resumed step is replayed at that capacity.
func resumeDemo(ctx context.Context, cfg *config.Config, b *backend, jr *journal.Journal, store *statefile.Store, logger *slog.Logger) error {
	recs, err := jr.Tail(resumeTail)
	if err != nil {
		return fmt.Errorf("read the journal in %s: %w", jr.Dir(), err)
	}
	var last *engine.Decision
	for i := len(recs) - 1; i >= 0 && last == nil; i-- {
		var d engine.Decision
		if json.Unmarshal(recs[i], &d) == nil && d.Type == engine.TypeDecision {
			last = &d
		}
	}
	if last == nil {
		return nil // a fresh state directory
	}
	dir := jr.Dir()
	if last.ScaleSet != b.name {
		return fail(exitUsage, "state directory %s belongs to scale set %q, not to the demo: "+
			"choose another --state-dir for the demo", dir, last.ScaleSet)
	}
	tr, step := b.sim.Trace(), b.sim.Step()
	at := last.TS
	off := at.Sub(tr.Start)
	if off < 0 || off%step != 0 || !at.Before(tr.End()) {
		return fail(exitUsage, "state directory %s holds a demo of another trace (last decision at %s): "+
			"choose another --state-dir, or the same --trace as before", dir, at.Format(time.RFC3339))
	}
	next := at.Add(step)
	if !next.Before(tr.End()) {
		return fail(exitUsage, "the demo in state directory %s has replayed the whole trace: "+
			"remove the directory or choose another --state-dir to start over", dir)
	}
	capacity := last.Current
	if last.Applied {
		capacity = last.Desired
	}
	st, ok, err := store.Load(ctx)
	if err != nil {
		return &config.UsageError{Err: err}
	}
	if ok && st.ExpectedCapacity > 0 {
		capacity = st.ExpectedCapacity
	}
	s, err := newDemoSim(tr, cfg, next.Sub(tr.Start), capacity)
	if err != nil {
		return err
	}
	b.clock, b.scaleSet, b.metrics, b.sim, b.pacer = s, s, s, s, sim.Pacer(s, cfg.Speed)
	logger.Info("demo resumed", "at", next, "capacity", capacity, "last_decision", last.ID)
	return nil
}

// newDemoSim builds the demo's simulated scale set: its first decision comes
// after warmup, at capacity start (0: the simulator's default).
func newDemoSim(tr *trace.Trace, cfg *config.Config, warmup time.Duration, start int) (*sim.Sim, error) {
	delay := cfg.ProvisionDelay
	if delay == 0 {
		delay = sim.NoDelay
	}
	s, err := sim.New(tr, sim.Options{
		Name: "demo", MeanDemand: cfg.MeanDemand, ProvisionDelay: delay, Warmup: warmup, StartCapacity: start,
	})
	if err != nil {
		return nil, fail(exitUsage, "demo: %v", err)
	}
	return s, nil
}

// resolveStateDir returns --state-dir, a fresh temporary directory for the
// demo, or $XDG_STATE_HOME/scalepilot/<subscription>/<group>/<name>/.
func resolveStateDir(cfg *config.Config, env config.Env, b *backend) (string, error) {
	dir := cfg.StateDir
	switch {
	case dir != "":
	case b.sim != nil:
		tmp, err := os.MkdirTemp("", "scalepilot-demo-")
		if err != nil {
			return "", fmt.Errorf("create a temporary state directory: %w", err)
		}
		b.tempDir = tmp
		dir = tmp
	default:
		home := config.StateHome(env)
		if home == "" {
			return "", fail(exitUsage, "no state directory: set --state-dir, XDG_STATE_HOME or HOME")
		}
		dir = filepath.Join(home, "scalepilot", b.sub, b.group, b.name)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fail(exitUsage, "create state directory %s: %v (choose another with --state-dir)", dir, err)
	}
	return dir, nil
}

// openLogger logs to stderr when headless and to a file in the state
// directory under the dashboard (the dashboard owns the terminal).
func openLogger(cfg *config.Config, stateDir string, stderr io.Writer) (*slog.Logger, func(), error) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	hopts := &slog.HandlerOptions{Level: level}
	if cfg.Auto {
		return slog.New(slog.NewTextHandler(stderr, hopts)), func() {}, nil
	}
	path := filepath.Join(stateDir, "scalepilot.log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("open log file %s: %w", path, err)
	}
	return slog.New(slog.NewJSONHandler(f, hopts)), func() { _ = f.Close() }, nil
}

// llmOptions converts the [ollama.models."NAME"] tables to the advisor's
// per-model options.
func llmOptions(cfg *config.Config) (map[string]llm.ModelOptions, error) {
	out := map[string]llm.ModelOptions{}
	for name, mo := range cfg.ModelOptions {
		o := llm.ModelOptions{Temperature: mo.Temperature, Stop: mo.Stop, Seed: mo.Seed}
		if mo.NumCtx != nil {
			o.NumCtx = *mo.NumCtx
		}
		if mo.NumPredict != nil {
			o.NumPredict = *mo.NumPredict
		}
		if mo.KeepAlive != "" {
			d, err := time.ParseDuration(mo.KeepAlive)
			if err != nil {
				return nil, &config.UsageError{Err: fmt.Errorf("ollama.models.%q.keep_alive: %q is not a duration such as 10m", name, mo.KeepAlive)}
			}
			o.KeepAlive = d
		}
		out[name] = o
	}
	return out, nil
}

// openListener binds the --listen address, or says why it cannot: not
// HOST:PORT with a port from 0 (any free one) to 65535, in use, or not an
// address of this machine.
func openListener(addr string) (net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		var n int
		if n, err = strconv.Atoi(port); err == nil && (n < 0 || n > 65535) {
			err = fmt.Errorf("port %d is out of range", n)
		}
	}
	if err != nil {
		return nil, &config.UsageError{Err: fmt.Errorf("--listen %q: %v: write HOST:PORT, such as 127.0.0.1:9464 (port 0 picks a free one)", addr, err)}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &config.UsageError{Err: fmt.Errorf("--listen %s: %v (choose another address, or stop what uses it)", addr, err)}
	}
	return ln, nil
}

// resolveOllamaURL is the Ollama server to use: ollama.url as the
// configuration resolved it (--ollama-url, OLLAMA_HOST, the file), read as
// the ollama command reads OLLAMA_HOST, else the default. A bad value names
// where it came from.
func resolveOllamaURL(cfg *config.Config) (string, error) {
	v := strings.Trim(strings.TrimSpace(cfg.OllamaURL), `"'`)
	if v == "" {
		return llm.DefaultURL, nil
	}
	u, err := llm.ParseHost(v)
	if err != nil {
		return "", fmt.Errorf("ollama url from %s: %w", cfg.Source("ollama.url"), err)
	}
	return u, nil
}

// warnMissingModels logs, once at start, a configured model the Ollama
// server does not have, with the command that fetches it. An unreachable
// server says nothing here: each decision's attempt reports it.
func warnMissingModels(ctx context.Context, url string, cfg *config.Config, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	choice := engine.ModelChoice{Primary: cfg.Model, Fallback: cfg.FallbackModel}
	models, err := llm.ListModels(ctx, url, llm.NewHTTPClient(cfg.ConnectTimeout), choice)
	if err != nil {
		return
	}
	for _, m := range models {
		if m.Present {
			continue
		}
		for _, c := range []struct{ role, name string }{{"primary", choice.Primary}, {"fallback", choice.Fallback}} {
			if c.name != "" && llm.SameModel(m.Name, c.name) {
				logger.Warn("model missing on the Ollama server; the next model or the rule advisor answers instead",
					"role", c.role, "model", c.name, "ollama_url", url, "fix", "ollama pull "+c.name)
			}
		}
	}
}

// newAdvisor builds the Ollama advisor from the configuration and returns
// it with the server's URL.
func newAdvisor(cfg *config.Config, logger *slog.Logger) (engine.Advisor, string, error) {
	lc, err := advisorConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	adv, err := llm.New(lc, logger)
	if err != nil {
		return nil, "", &config.UsageError{Err: err}
	}
	return adv, lc.URL, nil
}

// advisorConfig reads and checks what the advisor needs: the server's URL,
// the per-model options and the prompt files (read once, each checked with
// its path in the error). llm.New cannot then fail on them.
func advisorConfig(cfg *config.Config) (llm.Config, error) {
	url, err := resolveOllamaURL(cfg)
	if err != nil {
		return llm.Config{}, &config.UsageError{Err: err}
	}
	lc := llm.Config{
		URL: url, ConnectTimeout: cfg.ConnectTimeout, FirstTokenTimeout: cfg.FirstTokenTimeout,
		Timeout: cfg.AdviceTimeout, Retries: cfg.Retries,
	}
	if cfg.Retries == 0 {
		lc.Retries = -1
	}
	if lc.Options, err = llmOptions(cfg); err != nil {
		return llm.Config{}, err
	}
	for _, p := range []struct {
		path, name string
		dst        *string
		key        string
	}{{cfg.PromptFile, "user", &lc.UserPrompt, "--prompt-file"}, {cfg.SystemPrompt, "system", &lc.SystemPrompt, "--system-prompt"}} {
		if p.path == "" {
			continue
		}
		data, err := os.ReadFile(p.path)
		if err != nil {
			return llm.Config{}, &config.UsageError{Err: fmt.Errorf("%s: %v", p.key, err)}
		}
		if strings.TrimSpace(string(data)) == "" {
			return llm.Config{}, &config.UsageError{Err: fmt.Errorf("%s %s is empty: write a template in it (prompts/ has the defaults and examples), or drop %s to use the default",
				p.key, p.path, p.key)}
		}
		if _, err := prompts.Parse(p.name, string(data)); err != nil {
			return llm.Config{}, &config.UsageError{Err: fmt.Errorf("%s %s: %v", p.key, p.path, err)}
		}
		*p.dst = string(data)
	}
	return lc, nil
}

func listModels(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	url, err := resolveOllamaURL(cfg)
	if err != nil {
		return &config.UsageError{Err: err}
	}
	choice := engine.ModelChoice{Primary: cfg.Model, Fallback: cfg.FallbackModel}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	models, err := llm.ListModels(lctx, url, nil, choice)
	if err != nil {
		return fail(exitRuntime, "%v", err)
	}
	llm.PrintModels(stdout, models, choice)
	return nil
}

// fanout sends each notification to every observer.
type fanout []engine.Observer

func (f fanout) Notify(n engine.Notification) {
	for _, o := range f {
		o.Notify(n)
	}
}

// chanObserver feeds the dashboard. Streamed tokens are dropped when the
// dashboard falls behind; everything else waits briefly for room.
func chanObserver(ch chan engine.Notification) engine.Observer {
	return engine.ObserverFunc(func(n engine.Notification) {
		if _, ok := n.(engine.TokenNote); ok {
			select {
			case ch <- n:
			default:
			}
			return
		}
		select {
		case ch <- n:
		case <-time.After(200 * time.Millisecond):
		}
	})
}

// lazySource lets the HTTP server exist before the engine it reports on.
type lazySource struct {
	mu  sync.Mutex
	eng *engine.Engine
}

func (l *lazySource) set(e *engine.Engine) {
	l.mu.Lock()
	l.eng = e
	l.mu.Unlock()
}

func (l *lazySource) get() *engine.Engine {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.eng
}

// Status implements server.Source.
func (l *lazySource) Status() engine.Status {
	if e := l.get(); e != nil {
		return e.Status()
	}
	return engine.Status{}
}

// Recent implements server.Source.
func (l *lazySource) Recent(n int) []engine.Decision {
	if e := l.get(); e != nil {
		return e.Recent(n)
	}
	return nil
}

func noColor(env config.Env) bool {
	v, ok := env("NO_COLOR")
	return ok && v != ""
}

// stringList collects a repeatable flag (--trace A --trace B, or A,B).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// subFlags is a flag set for a subcommand whose errors are usage errors.
func subFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("scalepilot "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseSub(fs *flag.FlagSet, args []string, stdout io.Writer) (help bool, err error) {
	return parseSubArgs(fs, args, stdout, nil)
}

// parseSubArgs is parseSub for a subcommand that also takes arguments: each
// argument that is not a flag goes to arg, and flags may follow arguments
// (`--trace a.csv b.csv --json`).
func parseSubArgs(fs *flag.FlagSet, args []string, stdout io.Writer, arg func(string)) (help bool, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				fmt.Fprintf(stdout, "Usage of %s:\n", fs.Name())
				fs.PrintDefaults()
				return true, nil
			}
			return false, &config.UsageError{Err: fmt.Errorf("%s: %v (see %s --help)", fs.Name(), err, fs.Name())}
		}
		args = fs.Args()
		if len(args) == 0 {
			return false, nil
		}
		if arg == nil {
			return false, &config.UsageError{Err: fmt.Errorf("%s: unexpected argument %q", fs.Name(), args[0])}
		}
		for len(args) > 0 && (args[0] == "-" || !strings.HasPrefix(args[0], "-")) {
			arg(args[0])
			args = args[1:]
		}
	}
}

// runMetrics is `scalepilot metrics`: collect metrics once and write them in
// the original tool's file format.
func runMetrics(ctx context.Context, args []string, stdout, stderr io.Writer, env config.Env) error {
	fs := subFlags("metrics")
	lookback := fs.String("lookback", "1h", "how far back to read (a bare number means hours)")
	interval := fs.String("interval", "15m", "metric grain (a bare number means minutes); --demo always uses its trace's step")
	out := fs.String("output-path", azure.DefaultMetricsOutputPath, "folder for metrics_<vmss>_<UTC time>.json")
	toStdout := fs.Bool("stdout", false, "also print the document on stdout")
	noSave := fs.Bool("no-save", false, "write no file; print the document on stdout")
	demo := fs.Bool("demo", false, "read the simulated scale set instead of Azure")
	var pass []string
	for _, name := range []string{"subscription", "resource-group", "vmss-name", "cloud", "vm-size", "config", "trace", "mean-demand"} {
		name := name
		fs.Func(name, "as for scalepilot --"+name, func(v string) error {
			pass = append(pass, "--"+name, v)
			return nil
		})
	}
	if help, err := parseSub(fs, args, stdout); help || err != nil {
		return err
	}
	lb, err := config.ParseDuration(*lookback, "h")
	if err != nil {
		return &config.UsageError{Err: fmt.Errorf("--lookback: %v", err)}
	}
	iv, err := config.ParseDuration(*interval, "m")
	if err != nil {
		return &config.UsageError{Err: fmt.Errorf("--interval: %v", err)}
	}
	if *demo {
		pass = append(pass, "--demo")
	}
	cfg, err := config.Load(pass, env, stderr)
	if err != nil {
		return err
	}
	opts := azure.MetricsOptions{
		ResourceGroup: cfg.ResourceGroup, VMSSName: cfg.VMSSName, VMSize: cfg.VMSize,
		Lookback: lb, Interval: iv, OutputPath: *out, Stdout: *toStdout, NoSave: *noSave,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	var src azure.MetricsReader
	if *demo {
		cfg.Lookback = lb
		b, err := openDemo(cfg)
		if err != nil {
			return err
		}
		src, opts.VMSSName, opts.ResourceGroup, opts.Now = b.sim, b.name, "demo", b.sim.Now
		// Replay the whole warm-up so that the window is full.
		opts.Interval = b.sim.Step()
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "interval" && iv != b.sim.Step() {
				fmt.Fprintf(stderr, "scalepilot: --demo serves the trace's %s steps; --interval %s is not applied\n", b.sim.Step(), iv)
			}
		})
	} else {
		acfg := azureConfig(cfg)
		if err := azure.CheckSettings(acfg); err != nil {
			return fail(exitUsage, "%v", err)
		}
		ss, err := azure.New(ctx, acfg, opts.Logger)
		if err != nil {
			return err
		}
		src = ss
	}
	path, err := azure.WriteMetrics(ctx, src, opts, stdout)
	if err != nil {
		return err
	}
	if path != "" {
		fmt.Fprintln(stderr, "scalepilot: wrote", path)
	}
	return nil
}

// runBacktest is `scalepilot backtest`: replay traces through policies.
func runBacktest(ctx context.Context, args []string, stdout, stderr io.Writer, env config.Env) error {
	fs := subFlags("backtest")
	var traces stringList
	fs.Var(&traces, "trace", "trace file (several may follow it, or repeat the flag, or separate with commas); default: the bundled trace")
	policy := fs.String("policy", "all", "policies: all (scalepilot, hpa, azure-rules, oracle) or a comma list; llm runs only when named")
	asJSON := fs.Bool("json", false, "print one JSON document instead of the table and chart")
	svg := fs.String("svg", "", "also write an SVG chart of demand and capacity to this file")
	delay := fs.String("provision-delay", "3m", "time before a new instance serves (0 = none)")
	target := fs.Float64("target-cpu", 60, "the scalepilot policy's CPU target, percent")
	minN := fs.Int("min-instances", 2, "fewest instances")
	maxN := fs.Int("max-instances", 40, "most instances")
	mean := fs.Float64("mean-demand", 5, "each trace is scaled to this mean demand, in instance-equivalents")
	steps := fs.Int("steps", 0, "stop each trace after N steps (0 = whole trace)")
	model := fs.String("model", "", "model for --policy llm (default: the configured one)")
	ollamaURL := fs.String("ollama-url", "", "Ollama server for --policy llm")
	cfgFile := fs.String("config", "", "TOML configuration file (guardrails and model settings)")
	addTrace := func(a string) { _ = traces.Set(a) }
	if help, err := parseSubArgs(fs, args, stdout, addTrace); help || err != nil {
		return err
	}
	d, err := config.ParseDuration(*delay, "m")
	if err != nil {
		return &config.UsageError{Err: fmt.Errorf("--provision-delay: %v", err)}
	}
	var pass []string
	if *cfgFile != "" {
		pass = append(pass, "--config", *cfgFile)
	}
	if *ollamaURL != "" {
		pass = append(pass, "--ollama-url", *ollamaURL)
	}
	if *model != "" {
		pass = append(pass, "--model", *model)
	}
	pass = append(pass, "--min-instances", fmt.Sprint(*minN), "--max-instances", fmt.Sprint(*maxN),
		"--target-cpu", fmt.Sprint(*target))
	cfg, err := config.Load(pass, env, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pol := policyFrom(cfg)
	cmd := backtest.Command{
		Traces: traces, Policy: *policy, JSON: *asJSON, SVG: *svg, ProvisionDelay: d, TargetCPU: *target,
		Min: *minN, Max: *maxN, MeanDemand: *mean, Steps: *steps, Engine: &pol, Logger: logger,
		Models: engine.ModelChoice{Primary: cfg.Model, Fallback: cfg.FallbackModel},
	}
	if strings.Contains(*policy, "llm") {
		adv, _, err := newAdvisor(cfg, logger)
		if err != nil {
			return err
		}
		cmd.Advisor = adv
		cmd.CacheDir = filepath.Join(config.StateHome(env), "scalepilot", "backtest-cache")
		cmd.CacheKey = cfg.Model + "|" + cfg.FallbackModel + "|" + cfg.PromptFile + "|" + cfg.SystemPrompt
	}
	if err := backtest.RunCommand(ctx, stdout, cmd); err != nil {
		if errors.Is(err, backtest.ErrUsage) {
			return &config.UsageError{Err: err}
		}
		var pe *trace.ParseError
		if errors.As(err, &pe) || errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.EISDIR) ||
			errors.Is(err, trace.ErrEmpty) || errors.Is(err, sim.ErrTooShort) {
			return &config.UsageError{Err: err}
		}
		return err
	}
	return nil
}
