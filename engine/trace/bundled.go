package trace

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"time"
)

// DefaultStep is the step traces are resampled to for the demo and the
// backtest (PRODUCT.md: 5 minutes).
const DefaultStep = 5 * time.Minute

// defaultName is the bundled trace's file name; see bundled/PROVENANCE.md.
const defaultName = "nasa_http_1995-07-01_14d.csv.gz"

//go:embed bundled/nasa_http_1995-07-01_14d.csv.gz
var defaultGz []byte

// Default returns the bundled trace: NASA KSC web-server requests, the
// first 14 days of July 1995, resampled from 1-minute rows to DefaultStep
// (4,032 steps). Its provenance and licence are in bundled/PROVENANCE.md.
func Default() (*Trace, error) {
	zr, err := gzip.NewReader(bytes.NewReader(defaultGz))
	if err != nil {
		return nil, fmt.Errorf("open bundled trace %s: %w", defaultName, err)
	}
	defer zr.Close()
	t, err := Parse("bundled:"+defaultName, zr)
	if err != nil {
		return nil, err
	}
	t.Name = "nasa-http-1995-07"
	return t.Resample(DefaultStep)
}
