package finetune

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// AzureDeployment is the one step Azure OpenAI needs before a fine-tuned
// model answers: a deployment of it in the resource, which `az` creates
// (data-plane keys cannot), and the models entry that scores it.
type AzureDeployment struct {
	// Resource is the resource's name, from its endpoint
	// (https://NAME.openai.azure.com); "<resource-name>" when the endpoint
	// does not show it.
	Resource string
	// Name is the deployment's name to create; Model the fine-tuned model
	// it serves.
	Name, Model string
	// Endpoint, APIVersion and APIKeyFile go into the models entry; an
	// empty key file means AZURE_OPENAI_API_KEY.
	Endpoint, APIVersion, APIKeyFile string
}

var notDeploymentChar = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// DeploymentFor is the deployment step of a succeeded Azure job's record.
// The deployment is named vlmcmp-SUFFIX, else vlmcmp-ft- and the end of
// the job ID.
func DeploymentFor(info *openaiclient.Info, apiKeyFile string) AzureDeployment {
	d := AzureDeployment{Resource: "<resource-name>", Model: info.FineTunedModel, Endpoint: info.Endpoint,
		APIVersion: info.APIVersion, APIKeyFile: apiKeyFile}
	if u, err := url.Parse(info.Endpoint); err == nil {
		host := u.Hostname()
		for _, domain := range []string{".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"} {
			if name, ok := strings.CutSuffix(host, domain); ok && name != "" && !strings.Contains(name, ".") {
				d.Resource = name
			}
		}
	}
	tag := info.Suffix
	if tag == "" {
		id := strings.TrimPrefix(info.JobID, "ftjob-")
		tag = "ft-" + id[max(0, len(id)-8):]
	}
	d.Name = strings.Trim(notDeploymentChar.ReplaceAllString("vlmcmp-"+tag, "-"), "-._")
	if len(d.Name) > 64 {
		d.Name = d.Name[:64]
	}
	return d
}

// Command is the az command that creates the deployment: standard
// deployment, one unit of capacity (1,000 tokens a minute), model version 1
// as Azure numbers fine-tuned models. The resource group is the user's to
// fill in.
func (d AzureDeployment) Command() string {
	return fmt.Sprintf("az cognitiveservices account deployment create \\\n"+
		"  --resource-group <resource-group> --name %s \\\n"+
		"  --deployment-name %s \\\n"+
		"  --model-name %s --model-version 1 --model-format OpenAI \\\n"+
		"  --sku-name Standard --sku-capacity 1", d.Resource, d.Name, d.Model)
}

// YAML is the models entry (for vlmcmp.yaml's models list) that scores the
// deployment with the azure backend.
func (d AzureDeployment) YAML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n", d.Name)
	b.WriteString("    backend: azure\n")
	fmt.Fprintf(&b, "    endpoint: %s\n", d.Endpoint)
	fmt.Fprintf(&b, "    deployment: %s\n", d.Name)
	fmt.Fprintf(&b, "    api_version: %s\n", d.APIVersion)
	fmt.Fprintf(&b, "    model: %s   # the model the deployment serves, for prices and limits\n", d.Model)
	if d.APIKeyFile != "" {
		fmt.Fprintf(&b, "    api_key_file: %s\n", d.APIKeyFile)
	} else {
		fmt.Fprintf(&b, "    # api_key_file: FILE   (else $%s)\n", openaiclient.AzureKeyEnv)
	}
	return b.String()
}
