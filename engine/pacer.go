package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"
)

// IntervalPacer paces a live run on the wall clock: the first decision at
// once, then one every interval.
type IntervalPacer struct {
	interval time.Duration
	clock    Clock
	mu       sync.Mutex
	next     time.Time
}

// NewIntervalPacer returns a pacer that ticks every interval of clock time.
func NewIntervalPacer(clock Clock, interval time.Duration) *IntervalPacer {
	return &IntervalPacer{interval: interval, clock: clock}
}

// Wait returns when the next decision is due.
func (p *IntervalPacer) Wait(ctx context.Context) error {
	p.mu.Lock()
	now := p.clock.Now()
	if p.next.IsZero() {
		p.next = now
	}
	due := p.next
	p.mu.Unlock()
	if d := due.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	p.mu.Lock()
	p.next = due.Add(p.interval)
	if now := p.clock.Now(); p.next.Before(now) {
		p.next = now.Add(p.interval)
	}
	p.mu.Unlock()
	return nil
}

// Next is when the next decision is due.
func (p *IntervalPacer) Next() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// Tee is a Journal that appends every record to each of its journals.
type Tee []Journal

// Append appends rec to every journal and returns their errors joined.
func (t Tee) Append(ctx context.Context, rec any) error {
	var errs []error
	for _, j := range t {
		if j != nil {
			errs = append(errs, j.Append(ctx, rec))
		}
	}
	return errors.Join(errs...)
}

// LineWriter is a Journal that writes each record as one JSON line, for
// headless stdout.
type LineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLineWriter returns a LineWriter on w.
func NewLineWriter(w io.Writer) *LineWriter { return &LineWriter{w: w} }

// Append writes rec as one JSON line.
func (l *LineWriter) Append(_ context.Context, rec any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(append(b, '\n'))
	return err
}
