// Package eval runs the comparison: every model predicts on the same images,
// and each answer is appended to the run's predictions file as it arrives.
//
// A run is a folder (results/model_comparison/<run-id>/) holding run.json
// (the images and models of the run, see [RunInfo]) and predictions/<model>.jsonl,
// one [Record] per line and image. Those files are the run's only state: the
// metrics, workbook, plots and reports (packages eval/metrics and eval/report)
// are rebuilt from them, and a resumed run reads them to do only what is
// missing.
//
// # The runner
//
// [Runner.Run] runs every model at once, each on its own goroutine into its
// own file (see parallel.go). For each it opens the model's predictions
// file, keeps the answered images (a torn last line, as a crash leaves it, is
// dropped and redone with a warning; lines that recorded an error are
// redone), and asks the model for the rest, in the order of the run's images:
//
//   - when the model's predictor implements [llm.BatchPredictor], requests go
//     to PredictBatch a few at a time (twice the sequences a local model
//     decodes together, twice an API model's concurrency) and the backend
//     schedules them (the local backend decodes many sequences per step, the
//     OpenAI backend runs them concurrently under its rate limit);
//   - otherwise the runner calls Predict from Concurrency goroutines
//     ([Model.Concurrency], else [Runner.Concurrency], else 4).
//
// The models share one window of images ([Runner.Window]): each image is an
// [llm.SharedImage], read once for every model (its decoded or prepared
// pixels made once per kind of backend that needs them: llm.DecodeKey, a
// local projector's key), held until every model has answered it; the
// leading model waits at the window's edge, so the images in flight are
// bounded whatever the number of images, and backends share work on an image
// through it (local models of one projector share its embedding). Progress is reported on Run's goroutine, every model's as it
// comes; [Runner.Timing] gives each model's wall time and rate, and the run's.
//
// Every answer is written, one JSON line, to the file as soon as it arrives;
// the file is fsynced every [SyncEvery] lines or [SyncInterval], and at the
// end. An item the model could not answer (an unreadable image, a refused
// request) is recorded with its error and the run goes on; when a model's
// first answers all fail ([MaxLeadingErrors]), the runner stops that model
// and reports its error instead of writing the same failure for every image.
//
// Cancelling the context (Ctrl-C) stops the run cleanly: requests in flight
// are abandoned without a line, answers already written stay, and the file is
// synced, so a resumed run neither loses nor repeats an answer.
//
// # Shards
//
// A run can be split over machines sharing a filesystem: with
// [CompareOptions.Shard] K/N, a comparison runs the images whose ID hashes to
// K ([ShardOf]) into the run's shards/K-of-N folder ([ShardDir]), a run
// folder of its own (run.json with a [ShardInfo], .lock, predictions/) that
// no other shard writes. [ParseShard] reads K/N from a --shard value or from
// a Slurm job array or Kubernetes Indexed Job. [Analyze] (through
// [ReadShards]) merges the shards into one run, in the order of the whole
// image set, and refuses with a [ShardSetError] a set that is incomplete
// (unless Partial) or does not fit together.
//
// The baselines ([Baseline]) are predictors too: the mean or median of the
// training split's scores, the floor every model must beat.
package eval
