package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/vlmcmp/vlmcmp/eval"
)

// writeOutputs builds a run's outputs from its records and returns the short
// table compare and analyze print.
//
// TODO(integration): eval/metrics and eval/report write the outputs; until
// they land this prints the counts only.
func writeOutputs(ctx context.Context, runDir string, info *eval.RunInfo, recs map[string][]eval.Record) (string, error) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tanswered\tno score\terrors")
	for _, m := range info.Models {
		var ans, noScore, errs int
		for _, r := range recs[m] {
			switch {
			case r.Error != "":
				errs++
			case r.Score() == nil:
				noScore++
				ans++
			default:
				ans++
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", m, ans, noScore, errs)
	}
	tw.Flush()
	return b.String(), nil
}
