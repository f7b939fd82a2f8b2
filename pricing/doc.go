// Package pricing turns usage into money, exactly and explainably.
//
// The catalogue (catalogue.yaml, embedded) lists each provider's models with
// effective-dated prices: rates per usage class (see usage.Tokens) in exact
// decimal USD per million units, optional batch (rates or a multiplier of the
// token rates), priority and flex variants, a
// long-context tier (above N input tokens every token of the request is priced
// at the tier's rates) and per-request fees. Every entry names its source and
// the date it was checked. `spendgate pricing sync` imports LiteLLM's
// model_prices_and_context_window.json into this format for review.
//
// Lookup precedence is exact model id > alias (dated snapshots, provider
// aliases, OpenRouter vendor/model ids) > prefix, where a prefix match is only
// a snapshot stamp after a catalogue id ("gpt-4o-2024-05-13"); any other
// suffix names another model. A model that matches nothing is unpriced:
// Cost.Priced is false and the amounts are absent, never a silent zero or a
// guess. A token class a price lists no rate for borrows the plain rate
// (reasoning, audio and image output: output; cache reads and writes, audio
// and image input: input); a non-token class without a rate is listed in
// Cost.UnratedClasses.
//
// Money: rates are integer nano-USD per million units; a cost is the exact sum
// of quantity × rate (in 1e-15 USD, 128-bit), rounded once, half up, to
// nano-USD. Tenant overrides replace rates per class (most specific override
// wins per class: exact model over glob, provider-specific over any, later
// effective_from first) and percent adjustments stack multiplicatively on the
// rounded tenant sum, each rounded half up. Provider-reported costs
// (OpenRouter usage.cost) win for the list cost; the computed figure is kept.
//
// Nothing in the cost path does I/O; a Catalogue is immutable and safe for
// concurrent use.
package pricing

//go:generate go run ./internal/gencatalogue
