package azure

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// autoscaleSetting is an Azure Monitor autoscale setting as the list API
// returns it (only the fields the check reads, plus a profile for shape).
func autoscaleSetting(group, name, target string, enabled bool) map[string]any {
	return map[string]any{
		"id":       "/subscriptions/" + testSub + "/resourceGroups/" + group + "/providers/microsoft.insights/autoscalesettings/" + name,
		"name":     name,
		"type":     "Microsoft.Insights/autoscaleSettings",
		"location": "westus",
		"properties": map[string]any{
			"name":              name,
			"enabled":           enabled,
			"targetResourceUri": target,
			"profiles": []any{map[string]any{
				"name":     "default",
				"capacity": map[string]any{"minimum": "2", "maximum": "10", "default": "2"},
				"rules":    []any{},
			}},
		},
	}
}

func autoscaleServer(t *testing.T, pages ...[]map[string]any) *azureServer {
	t.Helper()
	var a *azureServer
	a = newAzureServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.Method != http.MethodGet || r.URL.Path != autoscalePath {
			a.unexpected(w, r)
			return
		}
		i := 0
		if r.URL.Query().Get("page") == "2" {
			i = 1
		}
		body := map[string]any{"value": pages[i]}
		if i+1 < len(pages) {
			body["nextLink"] = a.url(autoscalePath) + "?page=2"
		}
		b, _ := json.Marshal(body)
		writeJSON(w, http.StatusOK, b)
	})
	return a
}

func TestAutoscaleConflictWarning(t *testing.T) {
	ours := vmssPath
	// Portal-made settings often spell the path in another case.
	oursLower := strings.ToLower(vmssPath)
	other := strings.Replace(vmssPath, "/"+testVMSS, "/api", 1)
	a := autoscaleServer(t,
		[]map[string]any{
			autoscaleSetting(testGroup, "web-autoscale", oursLower, true),
			autoscaleSetting(testGroup, "old-rules", ours, false),
			autoscaleSetting(testGroup, "api-autoscale", other, true),
		},
		[]map[string]any{
			autoscaleSetting("ops", "central-autoscale", ours, true),
		})
	msg, err := a.scaleSet(t, nil).CheckAutoscaleConflict(t.Context())
	if err != nil {
		t.Fatalf("CheckAutoscaleConflict: %v", err)
	}
	for _, s := range []string{`"web-autoscale" (resource group rg1)`, `"central-autoscale" (resource group ops)`,
		testVMSS, "two controllers", "--enabled false", "dry-run"} {
		if !strings.Contains(msg, s) {
			t.Errorf("warning %q does not say %q", msg, s)
		}
	}
	for _, s := range []string{"old-rules", "api-autoscale"} {
		if strings.Contains(msg, s) {
			t.Errorf("warning names %s, which is disabled or scales another set: %q", s, msg)
		}
	}
	if n := a.count(http.MethodGet, autoscalePath); n != 2 {
		t.Errorf("%d list calls, want 2 (both pages)", n)
	}
}

func TestAutoscaleNoConflict(t *testing.T) {
	a := autoscaleServer(t, []map[string]any{
		autoscaleSetting(testGroup, "old-rules", vmssPath, false),
	})
	msg, err := a.scaleSet(t, nil).CheckAutoscaleConflict(t.Context())
	if err != nil || msg != "" {
		t.Errorf("CheckAutoscaleConflict = %q, %v; want no warning", msg, err)
	}
}

func TestAutoscaleCheckDenied(t *testing.T) {
	var a *azureServer
	a = newAzureServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path != autoscalePath {
			a.unexpected(w, r)
			return
		}
		writeJSON(w, http.StatusForbidden, testdata(t, "errors/403-AuthorizationFailed.real-world-cloudquery-16133.body.json"))
	})
	msg, err := a.scaleSet(t, nil).CheckAutoscaleConflict(t.Context())
	if err == nil || msg != "" {
		t.Fatalf("CheckAutoscaleConflict = %q, %v; want an error", msg, err)
	}
	for _, s := range []string{permAutoscale, "Monitoring Reader"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}
