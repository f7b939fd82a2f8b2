package scalar

import (
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/spendgate/spendgate/apierr"
)

// MarshalTime writes a Time as gqlgen does (RFC 3339 with nanoseconds).
func MarshalTime(t time.Time) graphql.Marshaler { return graphql.MarshalTime(t) }

// UnmarshalTime reads a Time argument: an RFC 3339 string. Anything else is
// INVALID_ARGUMENT saying what a Time looks like (gqlgen's own scalar
// answers some malformed times with errors the API could only call INTERNAL).
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, apierr.Invalid("Time must be an RFC 3339 string such as \"2026-01-31T00:00:00Z\", not %s", jsonKind(v))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, apierr.Invalid("Time %q is not an RFC 3339 time such as \"2026-01-31T00:00:00Z\"", truncate(s, 64))
	}
	return t, nil
}

// jsonKind names the JSON kind of a decoded value for an error message.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		return "a number"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
