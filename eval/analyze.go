package eval

import (
	"context"

	"github.com/vlmcmp/vlmcmp/eval/report"
)

// AnalyzeOptions are the settings of [Analyze].
type AnalyzeOptions struct {
	// Baseline is the model the others are compared with; "" the run's.
	Baseline string
	// Partial analyzes an incomplete sharded run (see [MergeOptions]).
	Partial bool
	// Warn is told about torn last lines; nil: none.
	Warn func(msg string, args ...any)
}

// Analysis is what [Analyze] read and wrote.
type Analysis struct {
	// Info is the run as analyzed (merged, for a sharded run).
	Info *RunInfo
	// Shards is what the merge found; nil for an unsharded run.
	Shards *ShardReport
	// Outputs are the files written and their metrics.
	Outputs *report.Written
	// Incomplete is the marker the outputs carry when some image × model
	// lacks an answer; nil for a complete run.
	Incomplete *report.Incomplete
}

// Analyze rebuilds a run's outputs (summary.json, workbooks, plots,
// reports) in runDir from its predictions files. A sharded run's shards are
// merged first ([ReadShards]): a set that is incomplete (unless
// opts.Partial) or does not fit together is refused with a
// *ShardSetError. A baseline without predictions is a [usage.Error].
func Analyze(ctx context.Context, runDir string, opts AnalyzeOptions) (*Analysis, error) {
	info, recs, rep, err := ReadAnyRun(runDir, MergeOptions{Partial: opts.Partial, Warn: opts.Warn})
	if err != nil {
		return nil, err
	}
	if opts.Baseline != "" {
		if len(recs[opts.Baseline]) == 0 {
			return nil, optionErrorf("--baseline %q has no predictions in %s", opts.Baseline, runDir)
		}
		info.Baseline = opts.Baseline
	}
	w, err := writeOutputs(ctx, runDir, info, recs, rep, nil)
	if err != nil {
		return nil, err
	}
	return &Analysis{Info: info, Shards: rep, Outputs: w, Incomplete: incompleteOf(info, recs, rep)}, nil
}
