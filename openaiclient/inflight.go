package openaiclient

// Concurrency is the most requests the predictor has in flight at once
// (Config.Concurrency): the comparison runner hands it twice as many, so
// that its slots never wait on the runner.
func (p *Predictor) Concurrency() int { return cap(p.sem) }
