package pricing

import "github.com/spendgate/spendgate/usage"

// Class indexes one usage class. The names are the json names of usage.Tokens
// and the keys of rate maps in catalogue files, overrides and the database.
type Class int

// Usage classes, in the order costs are explained.
const (
	Input Class = iota
	CachedInput
	CacheWrite5m
	CacheWrite1h
	Output
	Reasoning
	AudioInput
	AudioOutput
	ImageInput
	ImageOutput
	WebSearches
	Characters
	Seconds
	Images
	numClasses
)

var classNames = [numClasses]string{
	"input", "cached_input", "cache_write_5m", "cache_write_1h", "output", "reasoning",
	"audio_input", "audio_output", "image_input", "image_output", "web_searches",
	"characters", "seconds", "images",
}

// String returns the class's canonical name.
func (c Class) String() string {
	if c < 0 || c >= numClasses {
		return "unknown"
	}
	return classNames[c]
}

// ClassByName finds a class by its canonical name.
func ClassByName(name string) (Class, bool) {
	for i, n := range classNames {
		if n == name {
			return Class(i), true
		}
	}
	return 0, false
}

// ClassNames lists every class name in explanation order.
func ClassNames() []string { return append([]string(nil), classNames[:]...) }

// quantities spreads usage tokens over the class array.
func quantities(t *usage.Tokens) [numClasses]int64 {
	return [numClasses]int64{
		t.Input, t.CachedInput, t.CacheWrite5m, t.CacheWrite1h, t.Output, t.Reasoning,
		t.AudioInput, t.AudioOutput, t.ImageInput, t.ImageOutput, t.WebSearches,
		t.Characters, t.Seconds, t.Images,
	}
}

// Rates holds a rate per class in nano-USD per million units; unset classes
// are -1 so an overlay (tier, override) can change some classes only.
type Rates [numClasses]int64

func unsetRates() Rates {
	var r Rates
	for i := range r {
		r[i] = -1
	}
	return r
}

// overlay returns r with every class that o sets replaced.
func (r Rates) overlay(o *Rates) Rates {
	if o == nil {
		return r
	}
	for i, v := range o {
		if v >= 0 {
			r[i] = v
		}
	}
	return r
}

// Get returns the rate of class c and whether it is set.
func (r Rates) Get(c Class) (int64, bool) { return r[c], r[c] >= 0 }
