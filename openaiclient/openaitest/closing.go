package openaitest

// FineTuningClosedMessage is the refusal the fake gives job creation, with
// DenyFineTuning and DenyStatus 403, once OpenAI's self-serve fine-tuning
// has closed to the organisation (2026-05-07 for organisations that never
// fine-tuned, 2026-07-02 for inactive ones, 2027-01-06 for all). Reports
// of the closing describe a permission-denied (403) answer to
// fine_tuning.jobs.create without quoting its text; this wording is a
// faithful stand-in, not a copy.
const FineTuningClosedMessage = "Fine-tuning is no longer available: self-serve fine-tuning has been wound down and new fine-tuning jobs can no longer be created. Existing fine-tuned models remain available for inference until their base models are deprecated."
