// Package metrics computes how well each model's scores match the ground
// truth, and whether one model beats another on the same images.
//
// The input is, per model, one [Sample] per image: the expected score, the
// predicted score or none, the latency and the cost. [Evaluate] returns a
// [Summary] per model and, for every model but the baseline, a [Paired]
// comparison against the baseline.
//
// # Missing scores
//
// An image whose answer held no score (or which got no answer at all) is
// excluded from every error metric (MAE, RMSE, Acc@1, Acc@2, bias, the
// correlations, kappa, the intervals) and counted in NoScoreRate. Each
// Summary reports both N (images) and NScored (images with a score), so a
// model that answers only the easy images cannot hide it. The paired
// comparison uses only the images both models scored.
//
// A missing answer ([Sample.Missing]: the server could not be reached, kept
// failing, or lacks the model) is not a "no score": it is left out of every
// figure, N included, and counted in NMissing.
//
// # Undefined values
//
// A metric that is undefined on the data (the Pearson correlation of a
// constant prediction, any error metric of a model that scored nothing, an
// interval from fewer than two scores) is NaN; reports write it as null or
// "n/a". Functions never panic on such data; they panic only on programmer
// mistakes (slices of different lengths), as gonum's stat package does.
//
// # Definitions
//
// With e_i = pred_i − exp_i over the n scored images:
//
//	MAE   = (1/n) Σ |e_i|
//	RMSE  = sqrt((1/n) Σ e_i²)
//	Acc@k = (1/n) #{ i : |e_i| ≤ k }        (a fraction in [0, 1]; k = 1, 2)
//	bias  = (1/n) Σ e_i                     (positive: the model scores too high)
//
// exactly as the original compare_all_models.py computed MAE, RMSE and
// accuracy within 1 and 2 points, except that Acc@k compares with a slack of
// [AccuracySlack] so that 7.3 against 6.3 (|e| = 1.0000000000000004 in
// floating point) counts as within one point. Accuracies are fractions here
// and percentages in the reports.
//
// Pearson's r, Spearman's ρ (Pearson's r of the average ranks, so ties get
// the mean of the ranks they span), Cohen's quadratic weighted kappa on
// scores rounded half away from zero and clamped to 1..10, latency
// percentiles (linear interpolation, R's type 7 and NumPy's default), bootstrap
// percentile intervals and the paired sign-flip permutation test are
// documented on their functions with formula and source.
//
// All functions are safe for concurrent use; they do not keep their
// arguments.
package metrics
