package azure

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"
)

// CheckAutoscaleConflict looks for Azure Monitor autoscale settings in the
// subscription that target this scale set. It returns a warning for the
// person running scalepilot when an enabled one exists (two controllers
// would fight over the capacity), or "" when there is none. Disabled
// settings are not a conflict. An error means the check could not be made
// (for example no permission to read autoscale settings); it is not fatal.
func (s *ScaleSet) CheckAutoscaleConflict(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	id := s.cfg.resourceID()
	var found []string
	pager := s.autoscale.NewListBySubscriptionPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return "", s.classify(what{op: "check autoscale settings for", perm: permAutoscale}, err)
		}
		for _, r := range page.Value {
			if name, ok := conflicting(r, id); ok {
				found = append(found, name)
			}
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	return fmt.Sprintf("Azure Monitor autoscale setting %s also scales %s: two controllers "+
		"would fight over its capacity. Disable it (az monitor autoscale update --enabled false "+
		"--resource-group <group> --name <setting>) or run scalepilot in dry-run mode.",
		strings.Join(found, ", "), s.cfg.VMSSName), nil
}

// conflicting reports whether an autoscale setting is enabled and targets
// the resource id, and names it as "name (resource group)".
func conflicting(r *armmonitor.AutoscaleSettingResource, id string) (string, bool) {
	if r == nil || r.Properties == nil || !strings.EqualFold(str(r.Properties.TargetResourceURI), id) {
		return "", false
	}
	if r.Properties.Enabled != nil && !*r.Properties.Enabled {
		return "", false
	}
	name := fmt.Sprintf("%q", str(r.Name))
	if rg := resourceGroupOf(str(r.ID)); rg != "" {
		name += " (resource group " + rg + ")"
	}
	return name, true
}

// resourceGroupOf extracts the resource group from an ARM resource ID.
func resourceGroupOf(id string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return ""
}
