package engine

import "time"

// ServedPoint is a capacity the engine saw serving at a moment: the
// scale set's serving instances (or its capacity, when the source does not
// tell them apart) read at a decision.
type ServedPoint struct {
	At time.Time
	N  int
}

// ServedHistory is what the engine saw serving over the look-back window,
// oldest first. It turns a utilization reading back into load: the same
// 60 % on 4 instances and on 12 is three times as much work.
type ServedHistory []ServedPoint

// During returns how many instances served the bucket that starts at
// start. The history is a step function (each point holds until the next);
// a bucket a change falls in counts the larger capacity, so that its load
// is not underestimated. Before the first point the first point's capacity
// is assumed. ok is false for an empty history.
func (h ServedHistory) During(start time.Time, grain time.Duration) (int, bool) {
	if len(h) == 0 {
		return 0, false
	}
	end := start.Add(grain)
	n := h[0].N
	for _, p := range h {
		switch {
		case !p.At.After(start):
			n = p.N
		case p.At.Before(end):
			n = max(n, p.N)
		}
	}
	return n, true
}

// keepServed appends what served at now to h, when it changed, and drops
// the points that no longer say anything about the window: of those at or
// before its start, only the newest stays.
func keepServed(h ServedHistory, now time.Time, n int, window time.Duration) ServedHistory {
	if n < 1 {
		return h
	}
	if len(h) == 0 || h[len(h)-1].N != n {
		h = append(h, ServedPoint{At: now, N: n})
	}
	cut := 0
	for cut+1 < len(h) && !h[cut+1].At.After(now.Add(-window)) {
		cut++
	}
	return append(h[:0:0], h[cut:]...)
}
