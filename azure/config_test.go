package azure

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"
)

func TestParseCloud(t *testing.T) {
	tests := []struct {
		in        string
		arm       string // Resource Manager endpoint
		authority string
	}{
		{"", "https://management.azure.com", "https://login.microsoftonline.com/"},
		{"AzurePublic", "https://management.azure.com", "https://login.microsoftonline.com/"},
		{"azurecloud", "https://management.azure.com", "https://login.microsoftonline.com/"},
		{"AzureChina", "https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn/"},
		{"AzureUSGovernment", "https://management.usgovcloudapi.net", "https://login.microsoftonline.us/"},
		{"AzureGovernment", "https://management.usgovcloudapi.net", "https://login.microsoftonline.us/"},
		{"https://arm.example.test/", "https://arm.example.test", "https://login.microsoftonline.com/"},
		{" https://stack.example.test:8443/arm/ ", "https://stack.example.test:8443/arm", "https://login.microsoftonline.com/"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c, err := ParseCloud(tc.in)
			if err != nil {
				t.Fatalf("ParseCloud: %v", err)
			}
			arm := c.Services[cloud.ResourceManager]
			if strings.TrimSuffix(arm.Endpoint, "/") != tc.arm {
				t.Errorf("Resource Manager endpoint %q, want %q", arm.Endpoint, tc.arm)
			}
			if c.ActiveDirectoryAuthorityHost != tc.authority {
				t.Errorf("authority %q, want %q", c.ActiveDirectoryAuthorityHost, tc.authority)
			}
			// The metrics client reads its own entry, never the Resource
			// Manager one: it must be there and point at the same host.
			m, ok := c.Services[azquery.ServiceNameMetrics]
			if !ok || m.Endpoint == "" || m.Audience == "" {
				t.Fatalf("no Azure Monitor metrics entry: %+v", c.Services)
			}
			if strings.TrimSuffix(m.Endpoint, "/") != tc.arm {
				t.Errorf("metrics endpoint %q, want the Resource Manager host %q", m.Endpoint, tc.arm)
			}
			opts := &azquery.MetricsClientOptions{}
			opts.Cloud = c
			if _, err := azquery.NewMetricsClient(&fakeCredential{}, opts); err != nil {
				t.Errorf("the metrics client refuses the configuration: %v", err)
			}
		})
	}
}

func TestParseCloudCustomUsesEndpointAsAudience(t *testing.T) {
	c, err := ParseCloud("https://arm.example.test")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []cloud.ServiceName{cloud.ResourceManager, azquery.ServiceNameMetrics} {
		if s := c.Services[name]; s.Audience != "https://arm.example.test" || s.Endpoint != "https://arm.example.test" {
			t.Errorf("%s = %+v", name, s)
		}
	}
}

func TestParseCloudReturnsACopy(t *testing.T) {
	before := cloud.AzurePublic.Services[cloud.ResourceManager]
	c, err := ParseCloud("AzurePublic")
	if err != nil {
		t.Fatal(err)
	}
	c.Services[cloud.ResourceManager] = cloud.ServiceConfiguration{Endpoint: "https://changed.test"}
	if cloud.AzurePublic.Services[cloud.ResourceManager] != before {
		t.Error("changing the parsed cloud changed the SDK's AzurePublic")
	}
}

func TestParseCloudRejects(t *testing.T) {
	for _, in := range []string{"AzureGermany", "http://arm.example.test", "https://", "management.azure.com"} {
		_, err := ParseCloud(in)
		if err == nil {
			t.Errorf("ParseCloud(%q) accepted", in)
			continue
		}
		for _, s := range []string{"AzurePublic", "AzureChina", "AzureUSGovernment", "https"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("ParseCloud(%q) error %q does not name %q", in, err, s)
			}
		}
	}
}

// TestNewForEachCloud builds every client for each cloud without any
// network call: New only checks settings and builds clients.
func TestNewForEachCloud(t *testing.T) {
	for _, c := range []string{"AzurePublic", "AzureChina", "AzureUSGovernment", "https://arm.example.test"} {
		cfg := Config{SubscriptionID: testSub, ResourceGroup: testGroup, VMSSName: testVMSS, Cloud: c,
			Credential: &fakeCredential{}, Transport: refuseAll{t}}
		if _, err := New(t.Context(), cfg, nil); err != nil {
			t.Errorf("New with cloud %s: %v", c, err)
		}
	}
	_, err := New(t.Context(), Config{SubscriptionID: testSub, ResourceGroup: testGroup, VMSSName: testVMSS,
		Cloud: "AzureMoon", Credential: &fakeCredential{}, Transport: refuseAll{t}}, nil)
	if err == nil || !strings.Contains(err.Error(), "AzureMoon") {
		t.Errorf("New with an unknown cloud: %v", err)
	}
}

type refuseAll struct{ t *testing.T }

func (r refuseAll) Do(req *http.Request) (*http.Response, error) {
	r.t.Errorf("unexpected request %s %s", req.Method, req.URL)
	return nil, errors.New("no network in this test")
}

// TestCustomCloudTokensAndHosts: in a custom cloud every client, the
// metrics client included, goes to the custom endpoint and asks for a token
// for it.
func TestCustomCloudTokensAndHosts(t *testing.T) {
	a := metricsServer(t, "Standard_D2s_v3", http.StatusOK, testdata(t, cpuRecording))
	s := a.scaleSet(t, nil)
	if _, err := s.State(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Metrics(t.Context(), query(recordedEnd)); err != nil {
		t.Fatal(err)
	}
	if a.count(http.MethodGet, metricsPath) != 1 || a.count(http.MethodGet, vmssPath) != 1 {
		t.Fatalf("calls: metrics %d, scale set %d", a.count(http.MethodGet, metricsPath), a.count(http.MethodGet, vmssPath))
	}
	scopes := a.cred.scopeList()
	if len(scopes) == 0 {
		t.Fatal("no token was asked for")
	}
	for _, sc := range scopes {
		if sc != a.srv.URL+"/.default" {
			t.Errorf("token scope %q, want %q", sc, a.srv.URL+"/.default")
		}
	}
}

func TestCheckSettingsNamesWhatIsMissing(t *testing.T) {
	full := Config{SubscriptionID: testSub, ResourceGroup: testGroup, VMSSName: testVMSS}
	if err := CheckSettings(full); err != nil {
		t.Fatalf("complete settings: %v", err)
	}
	type want struct{ what, flag, env, key string }
	sub := want{"subscription", "--subscription", "AZURE_SUBSCRIPTION_ID", "subscription_id"}
	group := want{"resource group", "--resource-group", "AZURE_RESOURCE_GROUP", "resource_group"}
	name := want{"scale set name", "--vmss-name", "AZURE_VMSS_NAME", "vmss_name"}
	tests := []struct {
		name    string
		mod     func(*Config)
		missing []want
		present []want
	}{
		{"subscription", func(c *Config) { c.SubscriptionID = "" }, []want{sub}, []want{group, name}},
		{"resource group, blank", func(c *Config) { c.ResourceGroup = "  " }, []want{group}, []want{sub, name}},
		{"scale set name", func(c *Config) { c.VMSSName = "" }, []want{name}, []want{sub, group}},
		{"all three", func(c *Config) { *c = Config{} }, []want{sub, group, name}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := full
			tc.mod(&cfg)
			err := CheckSettings(cfg)
			if !errors.Is(err, ErrMissingSetting) {
				t.Fatalf("error %v does not wrap ErrMissingSetting", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.missing)+2 {
				t.Fatalf("%d lines, want a heading, one per missing setting and the config file's place:\n%s", len(lines), err)
			}
			if !strings.Contains(lines[0], "--demo") || !strings.Contains(lines[len(lines)-1], "$XDG_CONFIG_HOME/scalepilot/config.toml") {
				t.Errorf("heading or last line:\n%s", err)
			}
			for i, w := range tc.missing {
				for _, s := range []string{"Azure " + w.what + " is not set", w.flag, w.env, "[azure]", w.key, "config file"} {
					if !strings.Contains(lines[1+i], s) {
						t.Errorf("line %q does not say %q", lines[1+i], s)
					}
				}
			}
			for _, w := range tc.present {
				if strings.Contains(err.Error(), w.flag) {
					t.Errorf("error names %s, which is set:\n%s", w.flag, err)
				}
			}
		})
	}
}

func TestNewChecksSettingsBeforeAnything(t *testing.T) {
	_, err := New(t.Context(), Config{SubscriptionID: testSub, ResourceGroup: testGroup,
		Credential: &fakeCredential{}, Transport: refuseAll{t}}, nil)
	if !errors.Is(err, ErrMissingSetting) || !strings.Contains(err.Error(), "--vmss-name") {
		t.Errorf("New without a scale set name: %v", err)
	}
}
