package main

import (
	"errors"

	"github.com/vlmcmp/vlmcmp/llm/lora"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// hints is what to do about errors the user can act on: the packages export
// the sentinels, and the first entry whose sentinel the error wraps gives the
// line run prints under it. A plain table: nothing registers into it.
var hints = []struct {
	errs []error
	hint string
}{
	{[]error{openaiclient.ErrNoKey}, "Set OPENAI_API_KEY, or give --api-key-file FILE (a file named " + openaiclient.KeyFileName + " in the working directory is read too)."},
	{[]error{openaiclient.ErrAzureNoKey}, "Set " + openaiclient.AzureKeyEnv + ", or give the key's file (--api-key-file, or api_key_file in the model's entry); the key is on the resource's Keys and Endpoint page."},
	{[]error{openaiclient.ErrAzureUnauthorized}, "The Azure OpenAI resource refused the key: check " + openaiclient.AzureKeyEnv + " or the key file, and that the endpoint is that key's resource."},
	{[]error{openaiclient.ErrDeploymentNotFound}, "List the resource's deployments with: az cognitiveservices account deployment list --resource-group <resource-group> --name <resource-name>"},
	{[]error{openaiclient.ErrUnauthorized}, "The API refused the key: check OPENAI_API_KEY or the key file, and --base-url / OPENAI_BASE_URL."},
	{[]error{openaiclient.ErrFineTuningUnavailable}, "Models already fine-tuned on OpenAI keep answering until their base model retires: vlmcmp compare still scores them."},
	{[]error{lora.ErrNoConfig}, "Give --adapter the folder PEFT's save_pretrained wrote (adapter_config.json and adapter_model.safetensors)."},
	{[]error{lora.ErrShape, lora.ErrArchitecture}, "The adapter and the base GGUF must come from the same model: check --base (and --mmproj) against the adapter's base_model_name_or_path."},
}

// hintFor is the hint for err, or "".
func hintFor(err error) string {
	for _, h := range hints {
		for _, target := range h.errs {
			if errors.Is(err, target) {
				return h.hint
			}
		}
	}
	return ""
}
