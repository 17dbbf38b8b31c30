// Command vlmcmp compares vision-language models that score images: an OpenAI
// baseline, a fine-tuned GPT-4o-mini and a LoRA-fine-tuned Qwen2-VL running
// in-process through llama.cpp. Run `vlmcmp help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vlmcmp/vlmcmp/native"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runStreams(ctx, os.Args, &streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, processLog: native.SetLogger})
	stop()
	os.Exit(code)
}
