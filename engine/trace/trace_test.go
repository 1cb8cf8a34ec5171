package trace

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shared is the project's trace folder (see testdata/traces/README.md).
var shared = filepath.Join("..", "..", "testdata", "traces")

func TestParseFormats(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		body     string
		format   Format
		kind     Kind
		step     time.Duration
		load     []float64
		memory   []float64
		hasNetIn bool
	}{
		{
			name:   "nab cpu with a missing 5-minute row",
			file:   "ec2_cpu_utilization_x.csv",
			body:   "timestamp,value\n2014-02-14 14:27:00,10\n2014-02-14 14:32:00,20\n2014-02-14 14:42:00,40\n",
			format: FormatNAB, kind: Percentages, step: 5 * time.Minute,
			load: []float64{10, 20, math.NaN(), 40},
		},
		{
			name:   "nab request count, a row off the grid goes to the nearest step",
			file:   "elb_request_count.csv",
			body:   "timestamp,value\n2014-04-10 00:04:00,1\n2014-04-10 00:09:00,2\n2014-04-10 00:15:00,3\n",
			format: FormatNAB, kind: Counts, step: 5 * time.Minute,
			load: []float64{1, 2, 3},
		},
		{
			name: "nasa requests per minute",
			file: "nasa.csv",
			body: "timestamp,requests,peak_requests_per_second\n" +
				"1995-07-01T00:00:00-04:00,42,5\n1995-07-01T00:01:00-04:00,61,4\n1995-07-01T00:03:00-04:00,0,0\n",
			format: FormatNASA, kind: Counts, step: time.Minute,
			load: []float64{42, 61, math.NaN(), 0},
		},
		{
			name: "alibaba cluster average",
			file: "alibaba.csv",
			body: "cpu_util_percent,mem_util_percent,net_in,net_out,disk_io_percent\n" +
				"16.5,87,34.8,27.6,4\n18,86,34.9,27.7,4.1\n",
			format: FormatAlibaba, kind: Percentages, step: 300 * time.Second,
			load: []float64{16.5, 18}, memory: []float64{87, 86}, hasNetIn: true,
		},
		{
			name: "google fractions become percent",
			file: "google.csv",
			body: "avg_cpu,avg_mem,avg_assigned_mem,avg_cycles_per_instruction\n" +
				"0.25,0.5,0.6,148\n0.5,0.25,0.6,147\n",
			format: FormatGoogle, kind: Percentages, step: 300 * time.Second,
			load: []float64{25, 50}, memory: []float64{50, 25},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Parse(tc.file, strings.NewReader(tc.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tr.Format != tc.format || tr.Kind != tc.kind || tr.Step != tc.step {
				t.Errorf("format, kind, step = %s, %s, %s; want %s, %s, %s",
					tr.Format, tr.Kind, tr.Step, tc.format, tc.kind, tc.step)
			}
			assertSeries(t, "load", tr.Load, tc.load)
			if tc.memory != nil {
				assertSeries(t, "memory", tr.Memory, tc.memory)
			}
			if (tr.NetIn != nil) != tc.hasNetIn {
				t.Errorf("NetIn present = %v, want %v", tr.NetIn != nil, tc.hasNetIn)
			}
		})
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name string
		body string
		line int
		want string
	}{
		{"not a number", "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n", 3, "not a number"},
		{"missing field", "timestamp,value\n2014-01-01 00:00:00\n", 2, "1 fields, expected 2"},
		{"bad time", "timestamp,value\nyesterday,1\n", 2, "not a time"},
		{"out of order", "timestamp,value\n2014-01-01 00:05:00,1\n2014-01-01 00:00:00,1\n", 3, "not after"},
		{"negative", "avg_cpu,avg_mem\n0.5,0.2\n-0.1,0.2\n", 3, "negative"},
		{"unknown header", "time,load\n1,2\n", 1, "unknown header"},
		{"empty", "", 1, "empty"},
		{"header only", "timestamp,value\n", 1, "no data rows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.csv", strings.NewReader(tc.body))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.File != "bad.csv" || pe.Line != tc.line || !strings.Contains(pe.Msg, tc.want) {
				t.Errorf("got %q (line %d), want line %d containing %q", err, pe.Line, tc.line, tc.want)
			}
			if !strings.Contains(err.Error(), "bad.csv line") {
				t.Errorf("error %q does not name the file and line", err)
			}
		})
	}
}

func TestResample(t *testing.T) {
	nan := math.NaN()
	tr := &Trace{Name: "x", Step: time.Minute, Load: []float64{1, 2, 3, nan, 5, 6, nan, nan, nan, 7}}
	tests := []struct {
		name string
		kind Kind
		want []float64
	}{
		// groups of 3: {1,2,3}, {nan,5,6}, {nan,nan,nan}; the trailing {7} is dropped
		{"counts are summed, a partial group scaled up", Counts, []float64{6, 16.5, nan}},
		{"percentages are averaged", Percentages, []float64{2, 5.5, nan}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := *tr
			in.Kind = tc.kind
			out, err := in.Resample(3 * time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if out.Step != 3*time.Minute {
				t.Errorf("step = %s", out.Step)
			}
			assertSeries(t, "load", out.Load, tc.want)
		})
	}
	if _, err := tr.Resample(90 * time.Second); err == nil {
		t.Error("Resample to a step that is not a multiple: no error")
	}
}

func TestDemandScalesMean(t *testing.T) {
	tr := &Trace{Name: "x", Load: []float64{10, math.NaN(), 30}}
	d, err := tr.Demand(5)
	if err != nil {
		t.Fatal(err)
	}
	assertSeries(t, "demand", d, []float64{2.5, math.NaN(), 7.5})
	zero := &Trace{Name: "z", Load: []float64{0, math.NaN()}}
	if _, err := zero.Demand(5); !errors.Is(err, ErrEmpty) {
		t.Errorf("all-zero trace: err = %v, want ErrEmpty", err)
	}
}

func TestDefaultTrace(t *testing.T) {
	tr, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if tr.Step != DefaultStep || tr.Len() != 14*288 || tr.Missing() != 0 {
		t.Fatalf("step %s, %d steps, %d missing; want 5m, %d, 0", tr.Step, tr.Len(), tr.Missing(), 14*288)
	}
	// A daily rhythm: afternoons busier than nights on every weekday.
	for day := range 14 {
		if wd := tr.Time(day * 288).Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		night := mean(tr.Load[day*288 : day*288+72])             // 00:00-06:00
		afternoon := mean(tr.Load[day*288+144 : day*288+144+72]) // 12:00-18:00
		if afternoon < 1.5*night {
			t.Errorf("day %d: afternoon mean %.0f not well above night mean %.0f", day, afternoon, night)
		}
	}
}

func TestLoadSharedTraces(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(shared, "*", "*.csv*"))
	if err != nil || len(files) < 9 {
		t.Fatalf("found %d shared traces (%v), want 9", len(files), err)
	}
	for _, f := range files {
		tr, err := Load(f)
		if err != nil {
			t.Errorf("Load(%s): %v", f, err)
			continue
		}
		if tr.Len() < 2000 || tr.Step <= 0 || tr.Missing() == tr.Len() {
			t.Errorf("%s: %d steps of %s, %d missing", f, tr.Len(), tr.Step, tr.Missing())
		}
	}
}

func TestNASAGapStaysMissing(t *testing.T) {
	tr, err := Load(filepath.Join(shared, "nasa-http-1995", "nasa_http_requests_per_minute.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) float64 {
		ts, _ := time.Parse(time.RFC3339, s)
		return tr.Load[int(ts.Sub(tr.Start)/tr.Step)]
	}
	if v := at("1995-07-30T12:00:00-04:00"); !math.IsNaN(v) {
		t.Errorf("inside the missing July stretch: %v, want NaN", v)
	}
	if v := at("1995-08-02T12:00:00-04:00"); v != 0 {
		t.Errorf("inside the August outage: %v, want a real 0", v)
	}
	if v := at("1995-07-05T12:00:00-04:00"); math.IsNaN(v) || v == 0 {
		t.Errorf("a busy weekday noon: %v", v)
	}
}

func assertSeries(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
	for i := range got {
		if math.IsNaN(want[i]) != math.IsNaN(got[i]) || (!math.IsNaN(want[i]) && math.Abs(got[i]-want[i]) > 1e-9) {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
