//go:build race

package report

// raceEnabled is true under the race detector, which makes the 20,000-image
// browser test too slow to be worth it.
const raceEnabled = true
