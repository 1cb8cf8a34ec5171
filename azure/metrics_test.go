package azure

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

const cpuRecording = "monitor/vm-metrics-cpu-pt1m-with-gaps.azure-cli-2022.body.json"

// recordedCPU is the recorded Percentage CPU answer: 60 PT1M buckets from
// 01:42 to 02:41 on 2022-05-19, the first 54 without a value.
type recordedPoint struct {
	TimeStamp time.Time `json:"timeStamp"`
	Average   *float64  `json:"average"`
}

func recordedCPUPoints(t *testing.T) []recordedPoint {
	t.Helper()
	var body struct {
		Value []struct {
			Timeseries []struct {
				Data []recordedPoint `json:"data"`
			} `json:"timeseries"`
		} `json:"value"`
	}
	if err := json.Unmarshal(testdata(t, cpuRecording), &body); err != nil {
		t.Fatal(err)
	}
	return body.Value[0].Timeseries[0].Data
}

// fourMetrics builds a four-metric answer from the recordings: the recorded
// CPU entry verbatim; Available Memory Bytes and Network In Total at the
// same timestamps, with a value where CPU has one and a gap where it has
// none (availBytes and netBytes per bucket); Network Out Total as the
// failed entry of the official GetMetricError example, renamed. Azure
// publishes no recorded multi-metric VMSS answer (see the README).
func fourMetrics(t *testing.T, availBytes, netBytes float64) []byte {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(testdata(t, cpuRecording), &body); err != nil {
		t.Fatal(err)
	}
	values := body["value"].([]any)
	entry := func(name, unit, agg string, v float64) map[string]any {
		var data []any
		for _, p := range recordedCPUPoints(t) {
			d := map[string]any{"timeStamp": p.TimeStamp.Format(time.RFC3339)}
			if p.Average != nil {
				d[agg] = v
			}
			data = append(data, d)
		}
		return map[string]any{
			"id": "x/" + name, "type": "Microsoft.Insights/metrics",
			"name": map[string]any{"value": name, "localizedValue": name}, "unit": unit,
			"timeseries": []any{map[string]any{"metadatavalues": []any{}, "data": data}},
			"errorCode":  "Success",
		}
	}
	var failed struct {
		Responses map[string]struct {
			Body struct {
				Value []map[string]any `json:"value"`
			} `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(testdata(t, "monitor/GetMetricError.2023-10-01.json"), &failed); err != nil {
		t.Fatal(err)
	}
	bad := failed.Responses["200"].Body.Value[0]
	if bad["errorCode"] != "InvalidSamplingType" {
		t.Fatalf("GetMetricError example changed: %v", bad["errorCode"])
	}
	bad["name"] = map[string]any{"value": "Network Out Total", "localizedValue": "Network Out Total"}
	values = append(values,
		entry("Available Memory Bytes", "Bytes", "average", availBytes),
		entry("Network In Total", "Bytes", "total", netBytes),
		bad)
	body["value"] = values
	out, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// metricsServer answers the scale set GET (the official example with the
// given size), the Resource SKUs list (the official example, in two pages,
// or skusStatus with a real 403 body), and the metrics query with metrics.
func metricsServer(t *testing.T, size string, skusStatus int, metrics []byte) *azureServer {
	t.Helper()
	vmss := specBody(t, "compute/VirtualMachineScaleSet_Get_WithUserData.2024-11-01.json", "200")
	vmss = withField(t, vmss, []string{"sku", "name"}, size)
	skus := specBody(t, "compute/ListAvailableResourceSkusForARegion.2021-07-01.json", "200")
	var a *azureServer
	a = newAzureServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == vmssPath:
			writeJSON(w, http.StatusOK, vmss)
		case r.Method == http.MethodGet && r.URL.Path == skusPath && skusStatus != http.StatusOK:
			writeJSON(w, skusStatus, testdata(t, "errors/403-AuthorizationFailed.real-world-cloudquery-16133.body.json"))
		case r.Method == http.MethodGet && r.URL.Path == skusPath && r.URL.Query().Get("page") == "2":
			writeJSON(w, http.StatusOK, []byte(`{"value":[]}`))
		case r.Method == http.MethodGet && r.URL.Path == skusPath:
			// The example's nextLink names the public endpoint: point it
			// here so that paging is followed on loopback.
			writeJSON(w, http.StatusOK, withField(t, skus, []string{"nextLink"}, a.url(skusPath)+"?page=2"))
		case r.Method == http.MethodGet && r.URL.Path == metricsPath:
			writeJSON(w, http.StatusOK, metrics)
		default:
			a.unexpected(w, r)
		}
	})
	return a
}

var recordedEnd = time.Date(2022, 5, 19, 2, 42, 26, 0, time.UTC) // the recording's timespan end

func query(end time.Time) engine.MetricsQuery {
	return engine.MetricsQuery{End: end, Lookback: time.Hour, Grain: time.Minute}
}

const gib = 1 << 30

func TestMetricsFromRecordedBodies(t *testing.T) {
	rec := recordedCPUPoints(t)
	a := metricsServer(t, "Standard_A1", http.StatusOK, fourMetrics(t, 0.25*1.75*gib, 6e6))
	s := a.scaleSet(t, nil)
	m, err := s.Metrics(t.Context(), query(recordedEnd))
	if err != nil {
		t.Fatalf("Metrics: %v", err)
	}

	calls := a.callsTo(http.MethodGet, metricsPath)
	if len(calls) != 1 {
		t.Fatalf("%d metrics queries, want 1 for all four metrics", len(calls))
	}
	q := calls[0].Query
	for k, want := range map[string]string{
		"metricnames":     "Percentage CPU,Available Memory Bytes,Network In Total,Network Out Total",
		"metricnamespace": "Microsoft.Compute/virtualMachineScaleSets",
		"interval":        "PT1M",
		"timespan":        "2022-05-19T01:42:26Z/2022-05-19T02:42:26Z",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("query %s = %q, want %q", k, got, want)
		}
	}
	if agg := strings.ToLower(q.Get("aggregation")); !strings.Contains(agg, "average") || !strings.Contains(agg, "total") {
		t.Errorf("aggregation %q, want average and total", q.Get("aggregation"))
	}
	if calls[0].Auth != "Bearer test-token" {
		t.Errorf("metrics query Authorization %q", calls[0].Auth)
	}

	// CPU: the recording as it is, gaps as gaps.
	if len(m.CPU.Points) != len(rec) {
		t.Fatalf("CPU has %d points, want the recording's %d", len(m.CPU.Points), len(rec))
	}
	for i, p := range m.CPU.Points {
		r := rec[i]
		if !p.T.Equal(r.TimeStamp) {
			t.Errorf("CPU point %d at %s, want %s (oldest first)", i, p.T, r.TimeStamp)
		}
		if p.Valid != (r.Average != nil) || (r.Average != nil && p.V != *r.Average) {
			t.Errorf("CPU point %d = %+v, recorded average %v", i, p, r.Average)
		}
	}
	// Memory: 100 × (1 − available ÷ 1.75 GiB from the Resource SKUs API).
	// Network: bytes per one-minute bucket → bytes per second.
	checkSeries(t, m.Memory, rec, 75)
	checkSeries(t, m.NetIn, rec, 1e5)
	if m.Memory.Unit != engine.UnitPercent || m.NetIn.Unit != engine.UnitBytesPerSecond {
		t.Errorf("units %q %q", m.Memory.Unit, m.NetIn.Unit)
	}
	// Failed inside the 200 answer: missing, with Azure's code.
	if m.NetOut.Err != "InvalidSamplingType" || len(m.NetOut.Points) != 0 {
		t.Errorf("network out = %+v, want missing with InvalidSamplingType", m.NetOut)
	}
}

// checkSeries wants a value of want wherever the recording has one and a
// gap (never a zero) elsewhere.
func checkSeries(t *testing.T, s engine.Series, rec []recordedPoint, want float64) {
	t.Helper()
	if s.Err != "" || len(s.Points) != len(rec) {
		t.Fatalf("%s: err %q, %d points, want %d", s.Name, s.Err, len(s.Points), len(rec))
	}
	for i, p := range s.Points {
		if r := rec[i]; r.Average == nil {
			if p.Valid {
				t.Errorf("%s point %d at %s is %v, want a gap", s.Name, i, p.T, p.V)
			}
		} else if !p.Valid || math.Abs(p.V-want) > 1e-9 {
			t.Errorf("%s point %d = %+v, want %v", s.Name, i, p, want)
		}
	}
}

func TestMetricsLeaveOutTheBucketStillFilling(t *testing.T) {
	rec := recordedCPUPoints(t)
	last := rec[len(rec)-1] // 02:41, value 1.54
	a := metricsServer(t, "Standard_A1", http.StatusOK, testdata(t, cpuRecording))
	s := a.scaleSet(t, nil)

	// At 02:41:40 the 02:41 bucket has 20 seconds to go.
	m, err := s.Metrics(t.Context(), query(last.TimeStamp.Add(40*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.CPU.Points); n != len(rec)-1 {
		t.Fatalf("%d CPU points, want %d without the filling bucket", n, len(rec)-1)
	}
	latest, ok := m.CPU.Latest()
	prev := rec[len(rec)-2]
	if !ok || !latest.T.Equal(prev.TimeStamp) || latest.V != *prev.Average {
		t.Errorf("latest = %+v, want the complete bucket %s = %v", latest, prev.TimeStamp, *prev.Average)
	}

	// At 02:42:00 exactly it is complete.
	m, err = s.Metrics(t.Context(), query(last.TimeStamp.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if latest, _ := m.CPU.Latest(); !latest.T.Equal(last.TimeStamp) || latest.V != *last.Average {
		t.Errorf("latest = %+v, want %s = %v", latest, last.TimeStamp, *last.Average)
	}
	// The verbatim recording has CPU only: the other metrics are missing,
	// not zero.
	for _, s := range []engine.Series{m.Memory, m.NetIn, m.NetOut} {
		if s.Err != ErrCodeNotReturned || len(s.Points) != 0 {
			t.Errorf("%s = %+v, want missing (%s)", s.Name, s, ErrCodeNotReturned)
		}
	}
}

func TestMetricsMemorySources(t *testing.T) {
	tests := []struct {
		name   string
		size   string
		vmSize string // Config.VMSize (--vm-size)
		skus   int    // status of the Resource SKUs API
		memory float64
		// avail is the available bytes that make memory 75 % used for the
		// memory the size really has; 0 when memory must be unavailable.
		avail float64
	}{
		{name: "Resource SKUs API, fractional GiB", size: "Standard_A1", skus: 200, memory: 1.75 * gib},
		{name: "SKU API unavailable: bundled table", size: "Standard_D2s_v3", skus: 403, memory: 8 * gib},
		{name: "not in the SKU answer: bundled table", size: "Standard_D2s_v3", skus: 200, memory: 8 * gib},
		{name: "table truncated 3.5 GiB to 3 GiB: corrected", size: "Standard_D1_v2", skus: 403, memory: 3.5 * gib},
		{name: "table says 0 MB: corrected", size: "Standard_B1ls", skus: 403, memory: 0.5 * gib},
		{name: "unknown size, --vm-size names a size", size: "Standard_Unknown9", vmSize: "Standard_A1", skus: 200, memory: 1.75 * gib},
		{name: "unknown size, --vm-size is an amount", size: "Standard_Unknown9", vmSize: "3.5GiB", skus: 200, memory: 3.5 * gib},
		{name: "unknown size, no --vm-size: unavailable", size: "Standard_Unknown9", skus: 200},
		{name: "fractional size only the SKU API knows, API down: unavailable", size: "Standard_A1", skus: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			avail := 0.25 * tc.memory
			if tc.memory == 0 {
				avail = 1 * gib
			}
			a := metricsServer(t, tc.size, tc.skus, fourMetrics(t, avail, 6e6))
			s := a.scaleSet(t, func(c *Config) { c.VMSize = tc.vmSize })
			for range 2 {
				m, err := s.Metrics(t.Context(), query(recordedEnd))
				if err != nil {
					t.Fatalf("Metrics: %v", err)
				}
				if tc.memory == 0 {
					if m.Memory.Err != ErrCodeVMSizeUnknown || len(m.Memory.Points) != 0 {
						t.Fatalf("memory = %+v, want unavailable (%s), never guessed", m.Memory, ErrCodeVMSizeUnknown)
					}
				} else {
					checkSeries(t, m.Memory, recordedCPUPoints(t), 75)
				}
				if len(m.CPU.Points) == 0 {
					t.Error("CPU lost along with memory")
				}
			}
			// The SKU list is read once per process and location, even when
			// it failed: page 1 and page 2 when it answers, one 403 when not.
			want := 2
			if tc.skus != 200 {
				want = 1
			}
			if n := a.count(http.MethodGet, skusPath); n != want {
				t.Errorf("Resource SKUs API asked %d times over two reads, want %d (cached)", n, want)
			}
			if n := a.count(http.MethodGet, vmssPath); n != 1 {
				t.Errorf("scale set read %d times for its size, want 1", n)
			}
		})
	}
}

func TestMetricsQueryDenied(t *testing.T) {
	var a *azureServer
	a = newAzureServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch r.URL.Path {
		case vmssPath:
			writeJSON(w, http.StatusOK, specBody(t, "compute/VirtualMachineScaleSet_Get_WithUserData.2024-11-01.json", "200"))
		case skusPath:
			writeJSON(w, http.StatusOK, []byte(`{"value":[]}`))
		case metricsPath:
			writeJSON(w, http.StatusForbidden, testdata(t, "errors/403-AuthorizationFailed.real-world-cloudquery-16133.body.json"))
		default:
			a.unexpected(w, r)
		}
	})
	_, err := a.scaleSet(t, nil).Metrics(t.Context(), query(recordedEnd))
	if err == nil {
		t.Fatal("Metrics succeeded on a 403")
	}
	for _, s := range []string{permMetrics, "Monitoring Reader", "AuthorizationFailed"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}

func TestGrainAndLookbackChecks(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Minute: "PT1M", 15 * time.Minute: "PT15M", time.Hour: "PT1H", 24 * time.Hour: "P1D"} {
		if g, err := Grain(d); err != nil || g != want {
			t.Errorf("Grain(%s) = %q, %v; want %q", d, g, err, want)
		}
	}
	if _, err := Grain(7 * time.Minute); err == nil || !strings.Contains(err.Error(), "15m") {
		t.Errorf("Grain(7m) error %v, want one naming the grains Azure offers", err)
	}
	a := newAzureServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {})
	a.handle = func(w http.ResponseWriter, r *http.Request, _ []byte) { a.unexpected(w, r) }
	_, err := a.scaleSet(t, nil).Metrics(t.Context(),
		engine.MetricsQuery{End: recordedEnd, Lookback: 5 * time.Minute, Grain: 15 * time.Minute})
	if err == nil || !strings.Contains(err.Error(), "shorter") {
		t.Errorf("look-back shorter than the grain: error %v", err)
	}
}
