package trace

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ParseError is a row (or header) that does not fit the file's format.
type ParseError struct {
	File string
	Line int    // 1-based; the header is line 1
	Msg  string // what is wrong and what was expected
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("read trace %s line %d: %s", e.File, e.Line, e.Msg)
}

// Nominal starts for the formats that carry no timestamp. Their upstream
// data gives only relative times, so these dates are labels, not facts.
var (
	alibabaStart = time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	googleStart  = time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC)
)

// clusterStep is the row spacing of the Alibaba and Google files.
const clusterStep = 300 * time.Second

// Load reads a trace file, detecting the format from its header. A name
// ending in .gz is decompressed first. A row that does not fit is a
// *ParseError naming the file, the line and what was expected.
func Load(path string) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open trace: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("open trace %s: not a gzip file: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	return Parse(path, r)
}

// Parse reads a trace from r; name is used for the trace's name and in
// errors.
func Parse(name string, r io.Reader) (*Trace, error) {
	p := &parser{file: name, sc: bufio.NewScanner(r)}
	p.sc.Buffer(make([]byte, 64*1024), 1024*1024)
	header, ok := p.next()
	if !ok {
		if err := p.sc.Err(); err != nil {
			return nil, fmt.Errorf("read trace %s: %w", name, err)
		}
		return nil, &ParseError{File: name, Line: 1, Msg: "the file is empty; expected a header line, one of: " + knownHeaders}
	}
	cols := splitFields(strings.TrimPrefix(header, "\ufeff"))
	for i := range cols {
		cols[i] = strings.ToLower(cols[i])
	}
	t := &Trace{Name: baseName(name), Source: name}
	var err error
	switch {
	case equal(cols, "timestamp", "value"):
		err = p.stamped(t, FormatNAB, cols, kindFromName(t.Name))
	case equal(cols, "timestamp", "requests", "peak_requests_per_second"):
		err = p.stamped(t, FormatNASA, cols, Counts)
	case hasPrefix(cols, "cpu_util_percent", "mem_util_percent", "net_in", "net_out"):
		err = p.cluster(t, FormatAlibaba, cols, 1)
	case hasPrefix(cols, "avg_cpu", "avg_mem"):
		err = p.cluster(t, FormatGoogle, cols, 100)
	default:
		return nil, &ParseError{File: name, Line: 1,
			Msg: fmt.Sprintf("unknown header %q; expected one of: %s", header, knownHeaders)}
	}
	if err != nil {
		return nil, err
	}
	if t.Len() == 0 {
		return nil, &ParseError{File: name, Line: p.line, Msg: "no data rows after the header"}
	}
	return t, nil
}

const knownHeaders = `"timestamp,value" (NAB), "timestamp,requests,peak_requests_per_second" (NASA), ` +
	`"cpu_util_percent,mem_util_percent,net_in,net_out,..." (Alibaba), "avg_cpu,avg_mem,..." (Google)`

type parser struct {
	file string
	sc   *bufio.Scanner
	line int
}

// next returns the next non-blank line.
func (p *parser) next() (string, bool) {
	for p.sc.Scan() {
		p.line++
		s := strings.TrimSpace(p.sc.Text())
		if s != "" {
			return s, true
		}
	}
	return "", false
}

func (p *parser) errorf(format string, a ...any) error {
	return &ParseError{File: p.file, Line: p.line, Msg: fmt.Sprintf(format, a...)}
}

// fields splits a data row and checks its width against the header.
func (p *parser) fields(s string, cols []string) ([]string, error) {
	f := splitFields(s)
	if len(f) != len(cols) {
		return nil, p.errorf("%d fields, expected %d (%s)", len(f), len(cols), strings.Join(cols, ","))
	}
	return f, nil
}

// number parses a non-negative finite value of column col.
func (p *parser) number(s, col string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, p.errorf("%s %q is not a number; expected a decimal value", col, s)
	}
	if v < 0 {
		return 0, p.errorf("%s %v is negative; expected 0 or more", col, v)
	}
	return v, nil
}

type stampedRow struct {
	t    time.Time
	v    float64
	line int
}

// stamped reads timestamped rows (NAB, NASA) and lays them on a regular
// grid. The step is the most common spacing; a row off the grid goes to the
// nearest step; steps without a row stay missing.
func (p *parser) stamped(t *Trace, f Format, cols []string, kind Kind) error {
	t.Format, t.Kind = f, kind
	var rows []stampedRow
	for {
		s, ok := p.next()
		if !ok {
			break
		}
		fs, err := p.fields(s, cols)
		if err != nil {
			return err
		}
		ts, err := parseTime(fs[0])
		if err != nil {
			return p.errorf("timestamp %q is not a time; expected RFC 3339 or YYYY-MM-DD HH:MM:SS", fs[0])
		}
		if n := len(rows); n > 0 && !ts.After(rows[n-1].t) {
			return p.errorf("timestamp %s is not after the previous row's (%s); expected rows in time order",
				fs[0], rows[n-1].t.Format(time.RFC3339))
		}
		v, err := p.number(fs[1], cols[1])
		if err != nil {
			return err
		}
		for i := 2; i < len(fs); i++ { // checked, not kept (NASA's peak per second)
			if _, err := p.number(fs[i], cols[i]); err != nil {
				return err
			}
		}
		rows = append(rows, stampedRow{t: ts, v: v, line: p.line})
	}
	if err := p.sc.Err(); err != nil {
		return fmt.Errorf("read trace %s: %w", p.file, err)
	}
	if len(rows) == 0 {
		return nil
	}
	t.Start = rows[0].t
	t.Step = commonStep(rows)
	t.Load = grid(rows, t.Step, kind)
	return nil
}

// commonStep returns the most frequent spacing between rows (the shortest
// among equals), or one minute for a single row.
func commonStep(rows []stampedRow) time.Duration {
	count := map[time.Duration]int{}
	for i := 1; i < len(rows); i++ {
		count[rows[i].t.Sub(rows[i-1].t)]++
	}
	if len(count) == 0 {
		return time.Minute
	}
	steps := make([]time.Duration, 0, len(count))
	for d := range count {
		steps = append(steps, d)
	}
	sort.Slice(steps, func(i, j int) bool {
		if count[steps[i]] != count[steps[j]] {
			return count[steps[i]] > count[steps[j]]
		}
		return steps[i] < steps[j]
	})
	return steps[0]
}

// grid places rows on steps from the first row's time. Two rows that land
// on the same step are summed (counts) or averaged (percentages).
func grid(rows []stampedRow, step time.Duration, kind Kind) []float64 {
	start := rows[0].t
	last := slot(rows[len(rows)-1].t.Sub(start), step)
	load := make([]float64, last+1)
	n := make([]int, last+1)
	for i := range load {
		load[i] = math.NaN()
	}
	for _, r := range rows {
		k := slot(r.t.Sub(start), step)
		if n[k] == 0 {
			load[k] = 0
		}
		load[k] += r.v
		n[k]++
	}
	if kind == Percentages {
		for k := range load {
			if n[k] > 1 {
				load[k] /= float64(n[k])
			}
		}
	}
	return load
}

func slot(d, step time.Duration) int {
	return int((d + step/2) / step)
}

// cluster reads the timestamp-less cluster averages (Alibaba, Google): one
// row per 300 s from a nominal start. scale turns the CPU and memory columns
// into percent (100 for fractions).
func (p *parser) cluster(t *Trace, f Format, cols []string, scale float64) error {
	t.Format, t.Kind, t.Step = f, Percentages, clusterStep
	if f == FormatAlibaba {
		t.Start = alibabaStart
		t.NetUnit = UnitRelative
		t.Note = "no timestamps upstream: rows are consecutive 300 s buckets from a nominal 2018-01-01 00:00 UTC; " +
			"day 2 lacks about 5 h upstream, so the row index is not exactly time"
	} else {
		t.Start = googleStart
		t.Note = "no timestamps upstream: row i is 300*i s after a nominal 2019-05-01 00:00 UTC"
	}
	for {
		s, ok := p.next()
		if !ok {
			break
		}
		fs, err := p.fields(s, cols)
		if err != nil {
			return err
		}
		v := make([]float64, len(fs))
		for i := range fs {
			if v[i], err = p.number(fs[i], cols[i]); err != nil {
				return err
			}
		}
		cpu, mem := v[0]*scale, v[1]*scale
		t.Load = append(t.Load, cpu)
		t.CPU = append(t.CPU, cpu)
		t.Memory = append(t.Memory, mem)
		if f == FormatAlibaba {
			t.NetIn = append(t.NetIn, v[2])
			t.NetOut = append(t.NetOut, v[3])
		}
	}
	if err := p.sc.Err(); err != nil {
		return fmt.Errorf("read trace %s: %w", p.file, err)
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("parse time %q", s)
}

// kindFromName guesses whether a timestamp,value file holds percentages
// (NAB's CPU utilization files) or counts (request counts, bytes).
func kindFromName(name string) Kind {
	n := strings.ToLower(name)
	for _, w := range []string{"cpu", "util", "percent"} {
		if strings.Contains(n, w) {
			return Percentages
		}
	}
	return Counts
}

func baseName(path string) string {
	b := filepath.Base(path)
	b = strings.TrimSuffix(b, ".gz")
	return strings.TrimSuffix(b, ".csv")
}

func splitFields(s string) []string {
	f := strings.Split(s, ",")
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	return f
}

func equal(cols []string, want ...string) bool {
	return len(cols) == len(want) && hasPrefix(cols, want...)
}

func hasPrefix(cols []string, want ...string) bool {
	if len(cols) < len(want) {
		return false
	}
	for i, w := range want {
		if cols[i] != w {
			return false
		}
	}
	return true
}
