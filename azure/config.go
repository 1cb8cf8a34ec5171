// Package azure is scalepilot's production backend: it reads a Virtual
// Machine Scale Set's state and Azure Monitor metrics and changes its
// capacity through the Azure SDK for Go. *ScaleSet implements the engine's
// ScaleSet and MetricsSource ports.
//
// Errors follow the engine's contract: a scale set that does not exist wraps
// engine.ErrNotFound; a change the platform refuses for now (a conflicting
// operation, throttling with a long Retry-After) is an *engine.RetryLaterError;
// everything else is a plain error whose text says what to do next.
package azure

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Defaults for the optional Config fields.
const (
	DefaultApplyTimeout  = 10 * time.Minute
	DefaultPollFrequency = 10 * time.Second
	DefaultCallTimeout   = time.Minute
)

// Config says which scale set to work on and how to reach it.
type Config struct {
	SubscriptionID string // required
	ResourceGroup  string // required
	VMSSName       string // required

	// Cloud is AzurePublic (the default when empty), AzureChina,
	// AzureUSGovernment or a custom Resource Manager endpoint URL.
	Cloud string
	// AuthorityHost overrides the Microsoft Entra authority of the cloud,
	// e.g. from AZURE_AUTHORITY_HOST; needed for most custom clouds.
	AuthorityHost string

	// VMSize is the last resort for the VM size's memory, used when neither
	// the Resource SKUs API nor the bundled table knows the scale set's size:
	// either a size name (Standard_D2s_v3) or a memory amount (3.5GiB, 512MiB).
	VMSize string

	// ApplyTimeout bounds one capacity change, polling included.
	ApplyTimeout time.Duration
	// PollFrequency is how often a capacity change is polled when Azure
	// does not say (Retry-After).
	PollFrequency time.Duration
	// CallTimeout bounds each read (scale set, metrics, SKUs, autoscale).
	CallTimeout time.Duration

	// Test hooks. Credential replaces DefaultAzureCredential; Transport
	// replaces the HTTP client of every Azure client; Retry replaces the
	// tuned retry policy (see retryOptions).
	Credential azcore.TokenCredential
	Transport  policy.Transporter
	Retry      *policy.RetryOptions
}

// ErrMissingSetting is wrapped by CheckSettings's errors: a usage error.
var ErrMissingSetting = errors.New("missing Azure settings")

// setting names one required setting and the three ways to give it.
type setting struct {
	what, flag, env, key string
	value                func(Config) string
}

var requiredSettings = []setting{
	{"subscription", "--subscription", "AZURE_SUBSCRIPTION_ID", "subscription_id",
		func(c Config) string { return c.SubscriptionID }},
	{"resource group", "--resource-group", "AZURE_RESOURCE_GROUP", "resource_group",
		func(c Config) string { return c.ResourceGroup }},
	{"scale set name", "--vmss-name", "AZURE_VMSS_NAME", "vmss_name",
		func(c Config) string { return c.VMSSName }},
}

// CheckSettings reports every required setting that is missing, each with
// the flag, environment variable and config key that set it. The error
// wraps ErrMissingSetting.
func CheckSettings(cfg Config) error {
	var lines []string
	for _, s := range requiredSettings {
		if strings.TrimSpace(s.value(cfg)) != "" {
			continue
		}
		lines = append(lines, fmt.Sprintf("  the Azure %s is not set: pass %s, set %s, or set %s under [azure] in the config file",
			s.what, s.flag, s.env, s.key))
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("%w (or use --demo for the simulated scale set):\n%s\n"+
		"  the config file is --config, by default $XDG_CONFIG_HOME/scalepilot/config.toml",
		ErrMissingSetting, strings.Join(lines, "\n"))
}

// withDefaults fills the zero optional fields.
func (c Config) withDefaults() Config {
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = DefaultApplyTimeout
	}
	if c.PollFrequency <= 0 {
		c.PollFrequency = DefaultPollFrequency
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	return c
}

// resourceID is the scale set's Azure resource ID.
func (c Config) resourceID() string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s",
		c.SubscriptionID, c.ResourceGroup, c.VMSSName)
}
