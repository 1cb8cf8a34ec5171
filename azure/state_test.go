package azure

import (
	"net/http"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

// TestStateFromOfficialExample reads the official VirtualMachineScaleSets_Get
// example (sku Standard_D2s_v3, capacity 4, provisioning state "succeeded"
// in lower case) and variants of it.
func TestStateFromOfficialExample(t *testing.T) {
	body := specBody(t, "compute/VirtualMachineScaleSet_Get_WithUserData.2024-11-01.json", "200")
	tests := []struct {
		name     string
		body     []byte
		capacity int
		state    string
		updating bool
	}{
		{"as published", body, 4, "succeeded", false},
		{"updating: a change in flight", withField(t, body, []string{"properties", "provisioningState"}, "Updating"), 4, "Updating", true},
		{"creating", withField(t, body, []string{"properties", "provisioningState"}, "Creating"), 4, "Creating", true},
		{"failed is final", withField(t, body, []string{"properties", "provisioningState"}, "Failed"), 4, "Failed", false},
		{"scaled to zero", withField(t, body, []string{"sku", "capacity"}, 0), 0, "succeeded", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a *azureServer
			a = newAzureServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				if r.Method != http.MethodGet || r.URL.Path != vmssPath {
					a.unexpected(w, r)
					return
				}
				writeJSON(w, http.StatusOK, tc.body)
			})
			st, err := a.scaleSet(t, nil).State(t.Context())
			if err != nil {
				t.Fatalf("State: %v", err)
			}
			want := engine.ScaleSetState{
				Name: testVMSS, Location: "westus", SKU: "Standard_D2s_v3", Capacity: tc.capacity,
				ProvisioningState: tc.state, Updating: tc.updating,
				ID: "/subscriptions/{subscription-id}/resourceGroups/myResourceGroup/providers/Microsoft.Compute/virtualMachineScaleSets/myVirtualMachineScaleSet",
			}
			if st != want {
				t.Errorf("State = %+v\nwant    %+v", st, want)
			}
		})
	}
}

func TestRetryAfterHeader(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"none", http.Header{}, 0},
		{"seconds", http.Header{"Retry-After": {"1200"}}, 20 * time.Minute},
		{"milliseconds first", http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"9"}}, 1500 * time.Millisecond},
		{"x-ms milliseconds", http.Header{"X-Ms-Retry-After-Ms": {"250"}}, 250 * time.Millisecond},
		{"HTTP date against the response's Date", http.Header{
			"Retry-After": {"Wed, 21 Oct 2026 07:30:00 GMT"}, "Date": {"Wed, 21 Oct 2026 07:28:00 GMT"}}, 2 * time.Minute},
		{"HTTP date without Date", http.Header{"Retry-After": {"Wed, 21 Oct 2026 07:30:00 GMT"}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"negative", http.Header{"Retry-After": {"-5"}}, 0},
	}
	for _, tc := range tests {
		if got := retryAfter(tc.h); got != tc.want {
			t.Errorf("%s: retryAfter = %s, want %s", tc.name, got, tc.want)
		}
	}
}
