package config

import (
	"fmt"
	"time"
)

// define lists every setting with its default. The order is the order of
// --print-config and --help.
func (c *Config) define() {
	str := func(key, fl, env, usage string, p *string, def string) *setting {
		*p = def
		s := &setting{key: key, flag: fl, env: env, usage: usage, kind: kString, str: p, fileOK: true}
		c.settings = append(c.settings, s)
		return s
	}
	integer := func(key, fl, env, usage string, p *int, def int, check func() string) *setting {
		*p = def
		s := &setting{key: key, flag: fl, env: env, usage: usage, kind: kInt, i: p, fileOK: true, check: check}
		c.settings = append(c.settings, s)
		return s
	}
	float := func(key, fl, env, usage string, p *float64, def float64, check func() string) *setting {
		*p = def
		s := &setting{key: key, flag: fl, env: env, usage: usage, kind: kFloat, f: p, fileOK: true, check: check}
		c.settings = append(c.settings, s)
		return s
	}
	boolean := func(key, fl, env, usage string, p *bool, def bool) *setting {
		*p = def
		s := &setting{key: key, flag: fl, env: env, usage: usage, kind: kBool, b: p, fileOK: true}
		c.settings = append(c.settings, s)
		return s
	}
	dur := func(key, fl, env, usage, unit string, p *time.Duration, def time.Duration, check func() string) *setting {
		*p = def
		s := &setting{key: key, flag: fl, env: env, usage: usage, kind: kDuration, d: p, unit: unit,
			fileOK: true, check: check}
		c.settings = append(c.settings, s)
		return s
	}
	atLeast := func(p *int, n int) func() string {
		return func() string {
			if *p < n {
				return fmt.Sprintf("%d or more", n)
			}
			return ""
		}
	}
	between := func(p *float64, lo, hi float64, excl bool) func() string {
		return func() string {
			if *p < lo || *p > hi || (excl && *p == lo) {
				if excl {
					return fmt.Sprintf("above %g up to %g", lo, hi)
				}
				return fmt.Sprintf("%g to %g", lo, hi)
			}
			return ""
		}
	}
	durAtLeast := func(p *time.Duration, d time.Duration) func() string {
		return func() string {
			if *p < d {
				return fmt.Sprintf("%s or more", d)
			}
			return ""
		}
	}

	s := str("mode", "mode", "SCALEPILOT_MODE", "starting mode: auto, approve or dry-run", &c.Mode, "approve")
	s.check = func() string {
		switch c.Mode {
		case "auto", "approve", "dry-run":
			return ""
		}
		return "auto, approve or dry-run"
	}
	str("state_dir", "state-dir", "SCALEPILOT_STATE_DIR", "journal, state file, lock and logs", &c.StateDir, "")
	str("listen", "listen", "SCALEPILOT_LISTEN", "serve /metrics, /healthz, /readyz and /api on this address (e.g. 127.0.0.1:9464)", &c.Listen, "")
	s = str("log_level", "log-level", "SCALEPILOT_LOG_LEVEL", "debug, info, warn or error", &c.LogLevel, "info")
	s.check = func() string {
		switch c.LogLevel {
		case "debug", "info", "warn", "error":
			return ""
		}
		return "debug, info, warn or error"
	}

	dur("engine.interval", "interval", "SCALEPILOT_INTERVAL", "how often to decide (a bare number means minutes)", "m",
		&c.Interval, 5*time.Minute, durAtLeast(&c.Interval, time.Second))
	dur("engine.lookback", "lookback", "SCALEPILOT_LOOKBACK", "metrics window the advisor sees (a bare number means hours)", "h",
		&c.Lookback, time.Hour, durAtLeast(&c.Lookback, time.Minute))
	dur("engine.grain", "grain", "SCALEPILOT_GRAIN", "Azure Monitor time grain", "m",
		&c.Grain, time.Minute, durAtLeast(&c.Grain, time.Minute))
	integer("engine.min_instances", "min-instances", "SCALEPILOT_MIN_INSTANCES", "fewest instances", &c.Min, 2, atLeast(&c.Min, 1))
	integer("engine.max_instances", "max-instances", "SCALEPILOT_MAX_INSTANCES", "most instances", &c.Max, 10, func() string {
		if c.Max < c.Min {
			return fmt.Sprintf("at least engine.min_instances (%d, from %s)", c.Min, c.Source("engine.min_instances"))
		}
		if c.Max > 1000 {
			return "up to 1000 (a scale set's limit)"
		}
		return ""
	})
	dur("engine.cooldown_out", "cooldown-out", "SCALEPILOT_COOLDOWN_OUT", "wait after any action before a scale-out (a bare number means minutes)", "m",
		&c.CooldownOut, 5*time.Minute, durAtLeast(&c.CooldownOut, 0))
	dur("engine.cooldown_in", "cooldown-in", "SCALEPILOT_COOLDOWN_IN", "wait after any action before a scale-in (a bare number means minutes)", "m",
		&c.CooldownIn, 15*time.Minute, durAtLeast(&c.CooldownIn, 0))
	integer("engine.max_step_out", "max-step-out", "SCALEPILOT_MAX_STEP_OUT", "largest increase per decision", &c.MaxStepOut, 4, atLeast(&c.MaxStepOut, 1))
	integer("engine.max_step_in", "max-step-in", "SCALEPILOT_MAX_STEP_IN", "largest decrease per decision", &c.MaxStepIn, 2, atLeast(&c.MaxStepIn, 1))
	float("engine.confidence_threshold", "confidence-threshold", "SCALEPILOT_CONFIDENCE_THRESHOLD", "model answers below it hold (0 to 1)",
		&c.ConfidenceThreshold, 0.7, between(&c.ConfidenceThreshold, 0, 1, false))
	float("engine.target_cpu", "target-cpu", "SCALEPILOT_TARGET_CPU", "rule advisor's CPU target, percent",
		&c.TargetCPU, 60, between(&c.TargetCPU, 0, 100, true))
	float("engine.tolerance", "tolerance", "SCALEPILOT_TOLERANCE", "rule advisor's band around the target, a fraction of it: scale in below target×(1−t), out at max(scale-out threshold, target×(1+t))",
		&c.Tolerance, 0.10, between(&c.Tolerance, 0, 0.9, false))
	float("engine.scale_out_cpu", "scale-out-cpu", "SCALEPILOT_SCALE_OUT_CPU", "CPU percent a scale-in must not project above",
		&c.ScaleOutCPU, 75, between(&c.ScaleOutCPU, 0, 100, true))
	float("engine.scale_out_memory", "scale-out-memory", "SCALEPILOT_SCALE_OUT_MEMORY", "memory percent a scale-in must not project above",
		&c.ScaleOutMemory, 80, between(&c.ScaleOutMemory, 0, 100, true))
	dur("engine.scale_in_window", "scale-in-window", "SCALEPILOT_SCALE_IN_WINDOW", "load must stay low this long before the rule advisor scales in", "m",
		&c.ScaleInWindow, 15*time.Minute, durAtLeast(&c.ScaleInWindow, 0))
	dur("engine.approval_expiry", "approval-expiry", "SCALEPILOT_APPROVAL_EXPIRY", "how long an approval card waits (wall-clock)", "m",
		&c.ApprovalExpiry, 5*time.Minute, durAtLeast(&c.ApprovalExpiry, 10*time.Second))
	integer("engine.steps", "steps", "SCALEPILOT_STEPS", "stop after N decisions (0 = no limit)", &c.Steps, 0, atLeast(&c.Steps, 0))

	str("ollama.url", "ollama-url", "OLLAMA_HOST", "Ollama server", &c.OllamaURL, "")
	str("ollama.model", "model", "SCALEPILOT_MODEL", "primary model", &c.Model, "llama3:8b")
	str("ollama.fallback_model", "fallback-model", "SCALEPILOT_FALLBACK_MODEL", "model asked when the primary fails (empty = none)", &c.FallbackModel, "mistral:7b")
	str("ollama.prompt_file", "prompt-file", "SCALEPILOT_PROMPT_FILE", "user prompt template file (text/template)", &c.PromptFile, "")
	str("ollama.system_prompt", "system-prompt", "SCALEPILOT_SYSTEM_PROMPT", "system prompt template file (text/template)", &c.SystemPrompt, "")
	dur("ollama.connect_timeout", "connect-timeout", "SCALEPILOT_CONNECT_TIMEOUT", "time to connect to Ollama", "",
		&c.ConnectTimeout, 3*time.Second, durAtLeast(&c.ConnectTimeout, 100*time.Millisecond))
	dur("ollama.first_token_timeout", "first-token-timeout", "SCALEPILOT_FIRST_TOKEN_TIMEOUT", "time to the first token (a cold model load can take a minute)", "",
		&c.FirstTokenTimeout, 90*time.Second, durAtLeast(&c.FirstTokenTimeout, time.Second))
	dur("ollama.timeout", "model-timeout", "SCALEPILOT_MODEL_TIMEOUT", "overall time for one answer", "",
		&c.AdviceTimeout, 3*time.Minute, durAtLeast(&c.AdviceTimeout, time.Second))
	integer("ollama.retries", "model-retries", "SCALEPILOT_MODEL_RETRIES", "retries per model on network errors, 5xx and 429", &c.Retries, 2, func() string {
		if c.Retries < 0 || c.Retries > 10 {
			return "0 to 10"
		}
		return ""
	})

	str("azure.subscription_id", "subscription", "AZURE_SUBSCRIPTION_ID", "Azure subscription id", &c.Subscription, "")
	str("azure.resource_group", "resource-group", "AZURE_RESOURCE_GROUP", "resource group of the scale set", &c.ResourceGroup, "")
	str("azure.vmss_name", "vmss-name", "AZURE_VMSS_NAME", "scale set name", &c.VMSSName, "")
	str("azure.cloud", "cloud", "AZURE_CLOUD", "AzurePublic, AzureChina, AzureUSGovernment or a Resource Manager URL", &c.Cloud, "AzurePublic")
	str("azure.vm_size", "vm-size", "SCALEPILOT_VM_SIZE", "VM size for memory % when the SKU lookup fails (e.g. Standard_D4s_v5)", &c.VMSize, "")

	str("demo.trace", "trace", "SCALEPILOT_TRACE", "trace file for --demo (default: the bundled NASA 1995 trace)", &c.Trace, "")
	float("demo.speed", "speed", "SCALEPILOT_SPEED", "trace steps per second (0 = as fast as possible)", &c.Speed, 0, func() string {
		if c.Speed < 0 || c.Speed > 1000 {
			return "0 to 1000"
		}
		return ""
	})
	float("demo.mean_demand", "mean-demand", "SCALEPILOT_MEAN_DEMAND", "trace scaled to this mean, in instance-equivalents",
		&c.MeanDemand, 5, between(&c.MeanDemand, 0, 1000, true))
	dur("demo.provision_delay", "provision-delay", "SCALEPILOT_PROVISION_DELAY", "time before a new simulated instance serves", "m",
		&c.ProvisionDelay, 3*time.Minute, durAtLeast(&c.ProvisionDelay, 0))

	s = str("tui.theme", "theme", "SCALEPILOT_THEME", "auto, dark or light", &c.Theme, "auto")
	s.check = func() string {
		switch c.Theme {
		case "auto", "dark", "light":
			return ""
		}
		return "auto, dark or light"
	}
	boolean("tui.mouse", "mouse", "SCALEPILOT_MOUSE", "enable the mouse in the dashboard", &c.Mouse, false)
}
