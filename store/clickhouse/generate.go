package clickhouse

import (
	"time"
)

// Generated data for benchmarks and the two-engine test: events made inside
// ClickHouse with INSERT … SELECT over numbers(), so the rollups are fed as
// by real inserts, and the same on every engine (no rand(), no now()).

// Generation describes n events of one tenant spread evenly over [Start,
// End): 50 keys (given), 12 models of 6 providers (one model unpriced), two
// dimensions (team of 8, app of 3), 2 % provider errors, token counts that
// vary per event. Varied adds what tests need and benchmarks do not (it
// multiplies the attribution tuples by five): a second operation, a second
// service tier, and every 16th event without the app dimension.
type Generation struct {
	Database, Tenant string
	Keys             []string
	Start, End       time.Time
	Events           int
	// IDPrefix makes event ids unique across generations.
	IDPrefix string
	Varied   bool
	// V7IDs makes the event ids UUIDv7 of the event's time (as the data
	// plane's, meter.NewEventID), with the event's number in the random
	// bits, instead of IDPrefix and the number: usageEvent(id) finds them
	// by the time in the id.
	V7IDs bool
}

// GenerateSlice is the insert of events [lo, lo+n) of g; callers insert in
// slices so one INSERT never holds too much in memory on a small machine.
func GenerateSlice(g Generation, lo, n int) Query {
	models := []string{"gpt-4o-mini", "gpt-4o", "gpt-4.1", "o4-mini", "claude-sonnet-4-5", "claude-haiku-4-5",
		"gemini-2.5-flash", "gemini-2.5-pro", "llama-3.3-70b-versatile", "deepseek-chat", "mistral-large-latest", "acme-internal-llm"}
	providers := []string{"openai", "openai", "openai", "openai", "anthropic", "anthropic",
		"gemini", "gemini", "groq", "deepseek", "mistral", "openai"}
	inRate := []int64{150, 2500, 2000, 1100, 3000, 1000, 300, 1250, 590, 270, 2000, 0}       // nano-USD per token
	outRate := []int64{600, 10000, 8000, 4400, 15000, 5000, 2500, 10000, 790, 1100, 6000, 0} // nano-USD per token
	span := int64(g.End.Sub(g.Start) / time.Second)
	sql := `INSERT INTO ` + g.Database + `.usage_events (event_id, time, tenant_id, key_id, source, provider, operation, model_requested,
	model_served, catalogue_model, streaming, service_tier, complete, status_code, latency_ms, ttfb_ms, request_id,
	input, cached_input, cache_write_5m, cache_write_1h, output, reasoning, audio_input, audio_output, image_input, image_output,
	web_searches, characters, seconds, images, priced, list_cost_nano_usd, tenant_cost_nano_usd, provider_reported_nano_usd,
	has_provider_reported, override_id, pricing_tier, cost_lines, dim_names, dim_values, raw_usage, reservation_id, ingested_at)
SELECT if(?, concat(substring(lower(hex(toUInt64(time) * 1000 + 4503599627370496)), 3, 8), '-',
		substring(lower(hex(toUInt64(time) * 1000 + 4503599627370496)), 11, 4), '-7',
		substring(lower(hex(intHash32(n) % 4096 + 4096)), 2, 3), '-8', substring(lower(hex(intDiv(n, 281474976710656) % 4096 + 4096)), 2, 3), '-',
		substring(lower(hex(n % 281474976710656 + 4503599627370496)), 3, 12)), concat(?, toString(n))) AS event_id,
	toDateTime(? + intDiv(n * ?, ?)) AS time,
	? AS tenant_id,
	arrayElement(?, 1 + intHash32(n) % ?) AS key_id,
	'gateway', arrayElement(?, m) AS provider, if(? AND n % 97 = 0, 'embeddings', 'chat.completions'), arrayElement(?, m) AS model,
	arrayElement(?, m), if(m = ?, '', arrayElement(?, m)),
	toUInt8(n % 3 = 0), if(? AND n % 5 = 0, 'flex', ''), 1, toUInt16(if(n % 50 = 0, 429, 200)), toUInt32(200 + intHash32(n + 3) % 3000), toUInt32(80), '',
	toInt64(if(n % 50 = 0, 0, 50 + intHash32(n + 1) % 4000)) AS in_tokens, toInt64(0), toInt64(0), toInt64(0),
	toInt64(if(n % 50 = 0, 0, 5 + intHash32(n + 2) % 900)) AS out_tokens, toInt64(0), toInt64(0), toInt64(0), toInt64(0), toInt64(0),
	toInt64(0), toInt64(0), toInt64(0), toInt64(0),
	toUInt8(m != ?) AS priced,
	in_tokens * arrayElement(?, m) + out_tokens * arrayElement(?, m) AS list_cost, intDiv(list_cost * 9, 10), toInt64(0),
	toUInt8(0), '', 'standard', '[]',
	arrayConcat(if(? AND n % 16 = 0, ['team'], ['app', 'team']), if(n % 7 = 0, emptyArrayString(), ['sg.workspace', 'sg.team', 'sg.project'])),
	arrayConcat(if(? AND n % 16 = 0, [team], [arrayElement(['web', 'batch', 'slackbot'], 1 + intHash32(n + 5) % 3), team]),
		if(n % 7 = 0, emptyArrayString(), [if(has(['search', 'support', 'growth', 'research'], team), 'w-product', 'w-business'),
			concat('t-', team), concat('p-', team, '-', toString(intHash32(n + 6) % 2))])),
	'', '', toDateTime(?)
FROM (SELECT number + ? AS n, 1 + intHash32(number + ?) % ? AS m,
	arrayElement(['search', 'support', 'growth', 'research', 'platform', 'sales', 'legal', 'finance'], 1 + intHash32(number + ? + 4) % 8) AS team
	FROM numbers(?))`
	varied := 0
	if g.Varied {
		varied = 1
	}
	v7 := 0
	if g.V7IDs {
		v7 = 1
	}
	return Query{SQL: sql, Args: []any{v7, g.IDPrefix, g.Start.Unix(), span, int64(g.Events), g.Tenant, g.Keys, len(g.Keys),
		providers, varied, models, models, len(models), models, varied, len(models), inRate, outRate, varied, varied,
		g.End.Unix(), lo, lo + 7, len(models), lo, n}}
}

// GenerateDenialsSQL inserts n denials of g's tenant over g's range.
func GenerateDenialsSQL(g Generation, n int) Query {
	span := int64(g.End.Sub(g.Start) / time.Second)
	return Query{SQL: `INSERT INTO ` + g.Database + `.denial_events (event_id, time, tenant_id, key_id, source, provider, operation,
	model_requested, denial_reason, denial_message, dim_names, dim_values, ingested_at)
SELECT concat(?, 'd', toString(number)), toDateTime(? + intDiv(number * ?, ?)), ?, arrayElement(?, 1 + intHash32(number) % ?),
	'gateway', 'openai', 'chat.completions', if(number % 3 = 0, 'gpt-4o', 'o4-mini'),
	arrayElement(['budget_exceeded', 'model_not_allowed', 'rate_limited'], 1 + intHash32(number + 1) % 3), 'denied',
	['team'], [arrayElement(['search', 'support'], 1 + number % 2)], toDateTime(?)
FROM numbers(?)`, Args: []any{g.IDPrefix, g.Start.Unix(), span, int64(n), g.Tenant, g.Keys, len(g.Keys), g.End.Unix(), n}}
}

// GenerateCorrectionsSQL re-prices the unpriced events of g's tenant before
// until that have no correction yet, as the re-pricing service would: the cost at a
// fixed rate per token, unpriced_delta -1, the event's attributes copied.
func GenerateCorrectionsSQL(g Generation, until time.Time) Query {
	return Query{SQL: `INSERT INTO ` + g.Database + `.` + CorrectionsTable + ` (correction_id, event_id, time, tenant_id, key_id, source,
	provider, operation, model, service_tier, status_code, dim_names, dim_values, list_delta, tenant_delta, unpriced_delta,
	catalogue_model, override_id, pricing_tier, cost_lines, created_at)
SELECT concat('c-', event_id), event_id, time, tenant_id, key_id, source, provider, operation,
	if(model_served != '', model_served, model_requested), service_tier, status_code, dim_names, dim_values,
	(input + output) * 100, (input + output) * 90, toInt64(-1), 'acme-internal-llm', '', 'standard', '[]', toDateTime(?)
FROM ` + g.Database + `.usage_events
WHERE tenant_id = ? AND time < ? AND priced = 0 AND event_id NOT IN (SELECT event_id FROM ` + g.Database + `.` + CorrectionsTable + ` WHERE tenant_id = ?)`,
		Args: []any{g.End.Unix(), g.Tenant, until.UTC(), g.Tenant}}
}
