// Package dataset reads the ground truth vlmcmp evaluates and fine-tunes on,
// and splits it into training and held-out images.
//
// [Load] detects which of the shapes such files have in practice it is given
// and reads it (see [Format]):
//
//   - a JSON list (or JSON lines) of records with an image path and a score,
//     under names such as image, image_path, img, path or file and score,
//     safety_score, rating or label, optionally with prompt, system and
//     answer text;
//   - LLaVA / Qwen-VL style records with "conversations": an "<image>" tag in
//     the human (user) turn and the answer, from which the score is read, in
//     the gpt (assistant) turn;
//   - LLaMA-Factory records with "messages" and "images";
//   - OpenAI chat fine-tuning JSON lines: "messages" whose user content holds
//     an image_url part with the image's path, and the answer in the
//     assistant message;
//   - CSV with a header row naming an image column and a score column.
//
// Image paths are relative to the data file. Records that cannot be used (no
// image, no score, a score outside 1..10, a missing or unreadable image, an
// image already used by an earlier record) are not fatal: each is kept in
// [Dataset.Skipped] with its record number and the reason, and the rest load.
//
// The split into training and validation images is stratified by score with a
// fixed seed ([Stratify]) and written down as a manifest ([Split],
// [WriteSplit], [ReadSplit]) so that every later step evaluates on exactly the
// held-out images ([Dataset.Subset]).
//
// Nothing in the package holds state between calls; a [Dataset] is safe for
// concurrent reads.
package dataset
