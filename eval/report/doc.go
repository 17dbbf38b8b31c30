// Package report writes a run's outputs from its predictions: the summary,
// the workbook, per-model results, plots and the text and HTML reports.
//
// [Write] takes an [Input] (every model's predictions, the baseline, the
// run folder), computes the metrics with package eval/metrics unless given
// them, and writes into the run folder:
//
//	summary.json           every metric per model, intervals, the paired comparison,
//	                       the verdict (whether each model beats mean, the winner)
//	metrics.xlsx           sheets Run (verdict, settings), Metrics, one per model's
//	                       predictions, Side by side; formatted and filterable
//	<model>_results.json   each model's predictions, as compare_all_models.py wrote them
//	<model>_results.xlsx   the same as a sheet
//	plots/*.png, *.svg     metric bars with intervals, predicted vs expected,
//	                       error histograms, a confusion matrix per model
//	report.txt             the metrics table; the verdict: first whether each
//	                       model beats the mean baseline by the paired test
//	                       (or that mean was not run), then the winner and
//	                       whether the difference holds; which servers
//	                       answered each model ([ServedBy]); best and worst
//	                       predictions
//	report.html            one self-contained file with the same, the plots,
//	                       thumbnails of the worst-predicted images, and every
//	                       image in a table to sort and filter (html_every.go)
//
// Every file is written to a temporary name and renamed, so a reader never
// sees half a file. Write may be called again on the same folder (vlmcmp
// analyze): it replaces what it wrote before.
//
// The package does not read predictions files; package eval does, and the
// commands turn its records into an Input.
package report
