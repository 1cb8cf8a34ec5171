package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

// stubReader is a MetricsReader with fixed answers; it records the query.
type stubReader struct {
	state    engine.ScaleSetState
	stateErr error
	metrics  engine.Metrics
	queries  []engine.MetricsQuery
}

func (s *stubReader) State(context.Context) (engine.ScaleSetState, error) { return s.state, s.stateErr }

func (s *stubReader) Metrics(_ context.Context, q engine.MetricsQuery) (engine.Metrics, error) {
	s.queries = append(s.queries, q)
	return s.metrics, nil
}

var fileNow = time.Date(2026, 1, 5, 10, 0, 7, 0, time.FixedZone("CET", 3600))

func stubMetrics() engine.Metrics {
	t0 := time.Date(2026, 1, 5, 8, 30, 0, 0, time.UTC)
	pts := func(vs ...float64) []engine.Point {
		var out []engine.Point
		for i, v := range vs {
			p := engine.Point{T: t0.Add(time.Duration(i) * 15 * time.Minute)}
			if !math.IsNaN(v) {
				p.V, p.Valid = v, true
			}
			out = append(out, p)
		}
		return out
	}
	return engine.Metrics{
		CPU:    engine.Series{Name: engine.MetricCPU, Points: pts(41.5, gap, 63.25, 70)},
		Memory: engine.Series{Name: engine.MetricMemory, Err: ErrCodeVMSizeUnknown},
		NetIn:  engine.Series{Name: engine.MetricNetIn, Points: pts(1000, 2000, gap, 4000)},
		NetOut: engine.Series{Name: engine.MetricNetOut, Points: pts(0, 0, 0, 0)},
	}
}

func newStub() *stubReader {
	return &stubReader{
		state:   engine.ScaleSetState{Name: "web", SKU: "Standard_D2s_v3", Capacity: 4},
		metrics: stubMetrics(),
	}
}

func TestWriteMetricsFileFormat(t *testing.T) {
	dir := t.TempDir()
	src := newStub()
	var logs, stdout bytes.Buffer
	path, err := WriteMetrics(t.Context(), src, MetricsOptions{
		ResourceGroup: "rg1", VMSSName: "web", OutputPath: dir,
		Now:    func() time.Time { return fileNow },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}, &stdout)
	if err != nil {
		t.Fatalf("WriteMetrics: %v", err)
	}
	if want := filepath.Join(dir, "metrics_web_20260105T090007Z.json"); path != want {
		t.Errorf("path %q, want %q (UTC time in the name)", path, want)
	}
	if stdout.Len() != 0 {
		t.Errorf("printed %q without --stdout", stdout.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range doc {
			if !yield(k) {
				return
			}
		}
	})
	wantKeys := []string{"currentCapacity", "intervalMinutes", "lookbackHours", "metrics", "resourceGroup",
		"timestamp", "vmSize", "vmssName"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("top-level keys %v, want %v", keys, wantKeys)
	}
	for k, want := range map[string]string{
		"timestamp": `"2026-01-05T09:00:07Z"`, "resourceGroup": `"rg1"`, "vmssName": `"web"`,
		"vmSize": `"Standard_D2s_v3"`, "currentCapacity": `4`, "lookbackHours": `1`, "intervalMinutes": `15`,
	} {
		if got := string(doc[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}

	var metrics map[string][]map[string]any
	if err := json.Unmarshal(doc["metrics"], &metrics); err != nil {
		t.Fatalf("metrics: %v", err)
	}
	if len(metrics) != 4 {
		t.Errorf("metrics has %d lists, want cpu, memory, networkIn, networkOut", len(metrics))
	}
	wantLists := map[string][]any{
		"cpu":        {41.5, nil, 63.25, 70.0},
		"memory":     {},
		"networkIn":  {1000.0, 2000.0, nil, 4000.0},
		"networkOut": {0.0, 0.0, 0.0, 0.0},
	}
	for name, want := range wantLists {
		list, ok := metrics[name]
		if !ok || list == nil {
			t.Errorf("metrics.%s missing or null, want a list", name)
			continue
		}
		if len(list) != len(want) {
			t.Errorf("metrics.%s has %d points, want %d", name, len(list), len(want))
			continue
		}
		var prev string
		for i, p := range list {
			if len(p) != 2 {
				t.Errorf("metrics.%s[%d] = %v, want only timestamp and value", name, i, p)
			}
			v, has := p["value"]
			if !has || v != want[i] {
				t.Errorf("metrics.%s[%d].value = %v (present %v), want %v (a gap is null)", name, i, v, has, want[i])
			}
			ts, _ := p["timestamp"].(string)
			if ts <= prev || !strings.HasSuffix(ts, "Z") {
				t.Errorf("metrics.%s[%d].timestamp %q after %q: want UTC, oldest first", name, i, ts, prev)
			}
			prev = ts
		}
	}

	// The source was asked for the defaults: an hour at a 15-minute grain,
	// ending now.
	if len(src.queries) != 1 {
		t.Fatalf("%d metrics queries", len(src.queries))
	}
	if q := src.queries[0]; q.Lookback != time.Hour || q.Grain != 15*time.Minute || !q.End.Equal(fileNow) {
		t.Errorf("query %+v, want 1h at 15m ending %s", q, fileNow)
	}
	if !strings.Contains(logs.String(), "memory") || !strings.Contains(logs.String(), ErrCodeVMSizeUnknown) {
		t.Errorf("the unavailable metric was not logged: %q", logs.String())
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// gap marks a bucket without a value in stubMetrics.
var gap = math.NaN()

func TestWriteMetricsStdoutAndNoSave(t *testing.T) {
	dir := t.TempDir()
	opts := MetricsOptions{VMSSName: "web", OutputPath: dir, Stdout: true, Lookback: 3 * time.Hour,
		Interval: 5 * time.Minute, Now: func() time.Time { return fileNow }}
	var stdout bytes.Buffer
	path, err := WriteMetrics(t.Context(), newStub(), opts, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, stdout.Bytes()) {
		t.Errorf("--stdout printed another document than the file:\n%s\nvs\n%s", stdout.Bytes(), file)
	}
	var doc MetricsDocument
	if err := json.Unmarshal(file, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.LookbackHours != 3 || doc.IntervalMinutes != 5 {
		t.Errorf("lookbackHours %v intervalMinutes %v, want 3 and 5", doc.LookbackHours, doc.IntervalMinutes)
	}

	noSaveDir := filepath.Join(t.TempDir(), "never")
	stdout.Reset()
	opts.OutputPath, opts.Stdout, opts.NoSave = noSaveDir, false, true
	path, err = WriteMetrics(t.Context(), newStub(), opts, &stdout)
	if err != nil || path != "" {
		t.Fatalf("--no-save: path %q, err %v", path, err)
	}
	if _, err := os.Stat(noSaveDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--no-save created %s (%v)", noSaveDir, err)
	}
	if !json.Valid(stdout.Bytes()) || !bytes.Contains(stdout.Bytes(), []byte(`"vmssName": "web"`)) {
		t.Errorf("--no-save printed %q, want the document", stdout.String())
	}
}

func TestWriteMetricsVMSizeFallbackAndErrors(t *testing.T) {
	src := newStub()
	src.state.SKU = ""
	doc, err := BuildMetricsDocument(t.Context(), src, MetricsOptions{VMSSName: "web", VMSize: "Standard_D4s_v5",
		Now: func() time.Time { return fileNow }})
	if err != nil || doc.VMSize != "Standard_D4s_v5" {
		t.Errorf("vmSize %q, %v; want --vm-size when the scale set does not say", doc.VMSize, err)
	}

	src = newStub()
	src.stateErr = fmt.Errorf("read scale set web: %w", engine.ErrNotFound)
	_, err = WriteMetrics(t.Context(), src, MetricsOptions{VMSSName: "web", OutputPath: t.TempDir()}, &bytes.Buffer{})
	if !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("missing scale set: %v, want ErrNotFound", err)
	}

	// An output path that is a file: a clear error, nothing left behind.
	dir := t.TempDir()
	blocker := filepath.Join(dir, "data")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = WriteMetrics(t.Context(), newStub(), MetricsOptions{VMSSName: "web", OutputPath: blocker}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--output-path") {
		t.Errorf("unwritable output path: %v, want an error naming --output-path", err)
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestMetricsFileName(t *testing.T) {
	if got := MetricsFileName("web/01", fileNow); got != "metrics_web_01_20260105T090007Z.json" {
		t.Errorf("MetricsFileName = %q", got)
	}
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".metrics-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestWriteMetricsFromLoopbackAzure runs the metrics subcommand's path end
// to end: the scale set and the recorded CPU answer from the loopback Azure
// into the file.
func TestWriteMetricsFromLoopbackAzure(t *testing.T) {
	rec := recordedCPUPoints(t)
	a := metricsServer(t, "Standard_A1", 200, fourMetrics(t, 0.25*1.75*gib, 6e6))
	var stdout bytes.Buffer
	_, err := WriteMetrics(t.Context(), a.scaleSet(t, nil), MetricsOptions{
		ResourceGroup: testGroup, VMSSName: testVMSS, Interval: time.Minute, NoSave: true,
		Now: func() time.Time { return recordedEnd },
	}, &stdout)
	if err != nil {
		t.Fatalf("WriteMetrics: %v", err)
	}
	var doc MetricsDocument
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.VMSize != "Standard_A1" || doc.CurrentCapacity != 4 {
		t.Errorf("vmSize %q capacity %d, want the scale set's Standard_A1 and 4", doc.VMSize, doc.CurrentCapacity)
	}
	if len(doc.Metrics.CPU) != len(rec) || len(doc.Metrics.Memory) != len(rec) || len(doc.Metrics.NetworkOut) != 0 {
		t.Fatalf("lists: cpu %d memory %d networkOut %d, want %d, %d, 0",
			len(doc.Metrics.CPU), len(doc.Metrics.Memory), len(doc.Metrics.NetworkOut), len(rec), len(rec))
	}
	for i, p := range doc.Metrics.CPU {
		if (p.Value == nil) != (rec[i].Average == nil) || (p.Value != nil && *p.Value != *rec[i].Average) {
			t.Errorf("cpu[%d] = %v, recorded %v", i, p.Value, rec[i].Average)
		}
	}
}
