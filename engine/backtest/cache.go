package backtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

// cachedAdvisor answers from disk when it has seen the same request before,
// else asks the model and keeps a successful answer. A rerun over the same
// trace with the same settings therefore gets the same answers, fast.
// Failed answers are not kept: the engine's rule advisor answered for them,
// and a rerun asks the model again.
type cachedAdvisor struct {
	next engine.Advisor
	dir  string
	salt string
	log  *slog.Logger
}

var _ engine.Advisor = (*cachedAdvisor)(nil)

func newCachedAdvisor(next engine.Advisor, dir, salt string, log *slog.Logger) (engine.Advisor, error) {
	if next == nil {
		return nil, fmt.Errorf("%w: the llm policy needs a model advisor", ErrUsage)
	}
	if dir == "" {
		log.Warn("llm backtest without a cache directory: answers are not kept, a rerun asks the model again")
		return next, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create llm answer cache: %w", err)
	}
	return &cachedAdvisor{next: next, dir: dir, salt: salt, log: log}, nil
}

// cacheRequest is what identifies a request: everything the advisor is
// given except the streaming callback.
type cacheRequest struct {
	Salt            string
	Now             time.Time
	ScaleSet        string
	VMSize          string
	State           engine.ScaleSetState
	Metrics         engine.Metrics
	Inputs          engine.Inputs
	Min, Max        int
	TargetCPU       float64
	CooldownOutLeft time.Duration
	CooldownInLeft  time.Duration
	LastAction      *engine.LastAction
	Models          engine.ModelChoice
}

func (c *cachedAdvisor) key(req engine.AdviceRequest) (string, error) {
	b, err := json.Marshal(cacheRequest{
		Salt: c.salt, Now: req.Now, ScaleSet: req.ScaleSet, VMSize: req.VMSize, State: req.State,
		Metrics: req.Metrics, Inputs: req.Inputs, Min: req.Min, Max: req.Max, TargetCPU: req.TargetCPU,
		CooldownOutLeft: req.CooldownOutLeft, CooldownInLeft: req.CooldownInLeft,
		LastAction: req.LastAction, Models: req.Models,
	})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Advise returns the kept answer for req, or asks the model.
func (c *cachedAdvisor) Advise(ctx context.Context, req engine.AdviceRequest) (engine.Advice, error) {
	key, err := c.key(req)
	if err != nil {
		c.log.Warn("llm request cannot be hashed: not cached", "err", err)
		return c.next.Advise(ctx, req)
	}
	path := filepath.Join(c.dir, key+".json")
	if b, err := os.ReadFile(path); err == nil {
		var adv engine.Advice
		if err := json.Unmarshal(b, &adv); err == nil {
			return adv, nil
		}
		c.log.Warn("unreadable cached llm answer: asking again", "path", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("read cached llm answer failed", "path", path, "err", err)
	}
	adv, err := c.next.Advise(ctx, req)
	if err != nil {
		return adv, err
	}
	if err := writeAtomic(path, adv); err != nil {
		c.log.Warn("keep llm answer failed", "path", path, "err", err)
	}
	return adv, nil
}

func writeAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".answer-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}
