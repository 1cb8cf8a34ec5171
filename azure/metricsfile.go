package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

// Defaults of the metrics subcommand.
const (
	DefaultMetricsLookback   = time.Hour
	DefaultMetricsInterval   = 15 * time.Minute
	DefaultMetricsOutputPath = "./data"
)

// MetricsReader is what WriteMetrics needs: the scale set's state and its
// metrics. *ScaleSet has both; so does the simulator.
type MetricsReader interface {
	State(ctx context.Context) (engine.ScaleSetState, error)
	engine.MetricsSource
}

// MetricsOptions are the metrics subcommand's settings.
type MetricsOptions struct {
	ResourceGroup string
	VMSSName      string
	VMSize        string        // written when the scale set does not say its size
	Lookback      time.Duration // DefaultMetricsLookback when 0
	Interval      time.Duration // metric grain; DefaultMetricsInterval when 0
	OutputPath    string        // folder; DefaultMetricsOutputPath when ""
	Stdout        bool          // also print the document
	NoSave        bool          // write no file; the document goes to stdout
	Now           func() time.Time
	Logger        *slog.Logger
}

// MetricsDocument is the file the metrics subcommand writes: the shape the
// original tool's users' scripts read. CPU and memory are percent, network
// bytes per second; each list is oldest first and a gap is null.
type MetricsDocument struct {
	Timestamp       time.Time      `json:"timestamp"`
	ResourceGroup   string         `json:"resourceGroup"`
	VMSSName        string         `json:"vmssName"`
	VMSize          string         `json:"vmSize"`
	CurrentCapacity int            `json:"currentCapacity"`
	LookbackHours   float64        `json:"lookbackHours"`
	IntervalMinutes float64        `json:"intervalMinutes"`
	Metrics         MetricsSection `json:"metrics"`
}

// MetricsSection holds the four series.
type MetricsSection struct {
	CPU        []MetricPoint `json:"cpu"`
	Memory     []MetricPoint `json:"memory"`
	NetworkIn  []MetricPoint `json:"networkIn"`
	NetworkOut []MetricPoint `json:"networkOut"`
}

// MetricPoint is one bucket: its start and its value, nil for a gap.
type MetricPoint struct {
	Timestamp time.Time `json:"timestamp"`
	Value     *float64  `json:"value"`
}

// WriteMetrics reads the state and one metrics window from src and writes
// the document to OutputPath/metrics_<vmss>_<UTC time>.json atomically
// (temporary file, then rename), to stdout when Stdout or NoSave is set, or
// both. It returns the file's path ("" with NoSave). A metric that is
// unavailable is written as an empty list and logged. A scale set that does
// not exist wraps engine.ErrNotFound.
func WriteMetrics(ctx context.Context, src MetricsReader, opts MetricsOptions, stdout io.Writer) (string, error) {
	opts = opts.withDefaults()
	doc, err := BuildMetricsDocument(ctx, src, opts)
	if err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode metrics of scale set %s: %w", opts.VMSSName, err)
	}
	data = append(data, '\n')
	if opts.Stdout || opts.NoSave {
		if _, err := stdout.Write(data); err != nil {
			return "", fmt.Errorf("print metrics of scale set %s: %w", opts.VMSSName, err)
		}
	}
	if opts.NoSave {
		return "", nil
	}
	path := filepath.Join(opts.OutputPath, MetricsFileName(opts.VMSSName, doc.Timestamp))
	if err := writeFileAtomic(path, data); err != nil {
		return "", fmt.Errorf("save metrics of scale set %s: %w (check --output-path)", opts.VMSSName, err)
	}
	return path, nil
}

// BuildMetricsDocument reads src and fills the document without writing it.
func BuildMetricsDocument(ctx context.Context, src MetricsReader, opts MetricsOptions) (MetricsDocument, error) {
	opts = opts.withDefaults()
	now := opts.Now().UTC()
	st, err := src.State(ctx)
	if err != nil {
		return MetricsDocument{}, err
	}
	m, err := src.Metrics(ctx, engine.MetricsQuery{End: now, Lookback: opts.Lookback, Grain: opts.Interval})
	if err != nil {
		return MetricsDocument{}, err
	}
	size := st.SKU
	if size == "" {
		size = opts.VMSize
	}
	name := opts.VMSSName
	if name == "" {
		name = st.Name
	}
	doc := MetricsDocument{
		Timestamp:       now,
		ResourceGroup:   opts.ResourceGroup,
		VMSSName:        name,
		VMSize:          size,
		CurrentCapacity: st.Capacity,
		LookbackHours:   opts.Lookback.Hours(),
		IntervalMinutes: opts.Interval.Minutes(),
		Metrics: MetricsSection{
			CPU:        points(m.CPU),
			Memory:     points(m.Memory),
			NetworkIn:  points(m.NetIn),
			NetworkOut: points(m.NetOut),
		},
	}
	for _, n := range engine.MetricNames {
		if s := m.Get(n); s.Err != "" {
			opts.Logger.Warn("metric unavailable: written as an empty list", "metric", string(n), "code", s.Err)
		}
	}
	return doc, nil
}

// MetricsFileName is metrics_<vmss>_<UTC time>.json, with the time in the
// compact ISO 8601 form 20060102T150405Z (no colons: safe on every file
// system).
func MetricsFileName(vmss string, t time.Time) string {
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, vmss)
	return fmt.Sprintf("metrics_%s_%s.json", safe, t.UTC().Format("20060102T150405Z"))
}

func points(s engine.Series) []MetricPoint {
	out := make([]MetricPoint, 0, len(s.Points))
	for _, p := range s.Points {
		mp := MetricPoint{Timestamp: p.T.UTC()}
		if p.Valid {
			v := p.V
			mp.Value = &v
		}
		out = append(out, mp)
	}
	return out
}

func (o MetricsOptions) withDefaults() MetricsOptions {
	if o.Lookback <= 0 {
		o.Lookback = DefaultMetricsLookback
	}
	if o.Interval <= 0 {
		o.Interval = DefaultMetricsInterval
	}
	if o.OutputPath == "" {
		o.OutputPath = DefaultMetricsOutputPath
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// writeFileAtomic writes data to a temporary file in path's folder and
// renames it over path, so a reader never sees half a document.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".metrics-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return errors.Join(err, f.Close())
	}
	if err = f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
