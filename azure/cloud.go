package azure

import (
	"fmt"
	"maps"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"
)

// ParseCloud turns a --cloud value into an SDK cloud configuration:
// AzurePublic (also "" and AzureCloud), AzureChina (AzureChinaCloud) or
// AzureUSGovernment (AzureGovernment), case-insensitive, or the https URL of
// a custom Resource Manager endpoint. The configuration always carries an
// entry for the Azure Monitor metrics client, which does not read the
// Resource Manager entry. The result is a copy: changing it changes no
// package-level cloud.
//
// A custom cloud uses its endpoint as the token audience and the public
// Microsoft Entra authority unless Config.AuthorityHost says otherwise.
// Clouds whose audience differs from the endpoint (Azure Stack Hub) would
// need the endpoint's metadata document, which is not read.
func ParseCloud(name string) (cloud.Configuration, error) {
	var base cloud.Configuration
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "azurepublic", "azurecloud", "public":
		base = cloud.AzurePublic
	case "azurechina", "azurechinacloud", "china":
		base = cloud.AzureChina
	case "azureusgovernment", "azuregovernment", "azureusgovernmentcloud", "usgovernment":
		base = cloud.AzureGovernment
	default:
		return customCloud(name)
	}
	cfg := cloud.Configuration{
		ActiveDirectoryAuthorityHost: base.ActiveDirectoryAuthorityHost,
		Services:                     maps.Clone(base.Services),
	}
	if _, ok := cfg.Services[azquery.ServiceNameMetrics]; !ok {
		// azquery registers its entries in an init function; never rely on
		// import order for something this cheap to state.
		arm := cfg.Services[cloud.ResourceManager]
		cfg.Services[azquery.ServiceNameMetrics] = cloud.ServiceConfiguration{
			Audience: strings.TrimSuffix(arm.Endpoint, "/"),
			Endpoint: arm.Endpoint,
		}
	}
	return cfg, nil
}

func customCloud(name string) (cloud.Configuration, error) {
	u, err := url.Parse(strings.TrimSpace(name))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return cloud.Configuration{}, fmt.Errorf("unknown cloud %q: use AzurePublic, AzureChina, "+
			"AzureUSGovernment or the https URL of a Resource Manager endpoint", name)
	}
	endpoint := u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/")
	svc := cloud.ServiceConfiguration{Audience: endpoint, Endpoint: endpoint}
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager:      svc,
			azquery.ServiceNameMetrics: svc,
		},
	}, nil
}
