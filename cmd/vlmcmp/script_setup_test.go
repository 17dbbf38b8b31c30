package main

import "github.com/rogpeppe/go-internal/testscript"

// setupScript starts what scripts talk to.
//
// TODO(integration): start openaiclient/openaitest and point OPENAI_BASE_URL
// at it.
func setupScript(env *testscript.Env) error { return nil }
