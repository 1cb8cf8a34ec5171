package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine/config"
)

// writeNABTrace writes a NAB trace of n 5-minute rows whose value is v(i).
func writeNABTrace(t *testing.T, dir, name string, n int, v func(i int) float64) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	start := time.Date(2014, 2, 14, 14, 0, 0, 0, time.UTC)
	for i := range n {
		fmt.Fprintf(&b, "%s,%g\n", start.Add(time.Duration(i)*5*time.Minute).Format("2006-01-02 15:04:05"), v(i))
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) (string, bool) { return "", false }

// The issue writes the usage as `--trace FILE...`: files may follow the flag
// and flags may follow the files.
func TestBacktestTakesTraceFilesAfterTheFlag(t *testing.T) {
	dir := t.TempDir()
	a := writeNABTrace(t, dir, "a.csv", 40, func(i int) float64 { return float64(10 + i) })
	b := writeNABTrace(t, dir, "b.csv", 40, func(int) float64 { return 50 })
	c := writeNABTrace(t, dir, "c.csv", 40, func(i int) float64 { return float64(90 - i) })
	for _, args := range [][]string{
		{"--trace", a, b, c, "--policy", "oracle", "--json"},
		{"--trace", a, "--trace", b + "," + c, "--policy", "oracle", "--json"},
		{"--policy", "oracle", "--json", "--trace", a, b, c},
	} {
		var out bytes.Buffer
		if err := runBacktest(context.Background(), args, &out, io.Discard, noEnv); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		var rep struct {
			Traces []struct {
				Name string `json:"trace"`
			} `json:"traces"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%q: %v\n%s", args, err, out.String())
		}
		var names []string
		for _, tr := range rep.Traces {
			names = append(names, tr.Name)
		}
		if strings.Join(names, " ") != "a b c" {
			t.Errorf("%q: traces %q, want a b c", args, names)
		}
	}
}

func TestBacktestRefusesAMissingTraceWithoutOutput(t *testing.T) {
	var out bytes.Buffer
	err := runBacktest(context.Background(), []string{"--trace", filepath.Join(t.TempDir(), "nope.csv")}, &out, io.Discard, noEnv)
	if err == nil || !strings.Contains(err.Error(), "nope.csv") {
		t.Fatalf("err %v, want one naming nope.csv", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q before failing", out.String())
	}
}

// A trace too short for the warm-up, without load, or a folder is bad input
// (exit 2) under backtest as under --demo.
func TestBacktestBadTraceIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	short := writeNABTrace(t, dir, "short.csv", 5, func(int) float64 { return 40 })
	zero := writeNABTrace(t, dir, "zero.csv", 40, func(int) float64 { return 0 })
	for _, tc := range []struct{ path, name string }{{short, "short"}, {zero, "zero"}, {dir, filepath.Base(dir)}} {
		err := runBacktest(context.Background(), []string{"--trace", tc.path, "--policy", "oracle"}, io.Discard, io.Discard, noEnv)
		var ue *config.UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: err %v (%T), want a usage error naming the trace", tc.name, err, err)
		}
	}
}
