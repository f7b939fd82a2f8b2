package scalar

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/spendgate/spendgate/apierr"
)

func TestTimeUnmarshal(t *testing.T) {
	for in, want := range map[any]string{
		"2026-01-31T00:00:00Z":                "2026-01-31T00:00:00Z",
		"2026-01-31T01:02:03.123456789+02:00": "2026-01-30T23:02:03.123456789Z",
		"yesterday":                           `Time "yesterday" is not an RFC 3339 time`,
		"2026-13-01T00:00:00Z":                "is not an RFC 3339 time",
		"2026-01-31":                          "is not an RFC 3339 time",
		1700000000:                            "not a number",
		true:                                  "not a boolean",
		strings.Repeat("9", 100):              "…\" is not",
	} {
		got, err := UnmarshalTime(in)
		switch {
		case err == nil && got.UTC().Format(time.RFC3339Nano) != want:
			t.Errorf("%v: %v, want %s", in, got, want)
		case err != nil && (apierr.CodeOf(err) != apierr.CodeInvalidArgument || !strings.Contains(err.Error(), want)):
			t.Errorf("%v: %v, want INVALID_ARGUMENT %q", in, err, want)
		}
	}
}

// A Time is written as gqlgen's own scalar writes it.
func TestTimeMarshalIsGqlgens(t *testing.T) {
	at := time.Date(2026, 1, 31, 1, 2, 3, 4, time.FixedZone("", 3600))
	var ours, theirs bytes.Buffer
	MarshalTime(at).MarshalGQL(&ours)
	graphql.MarshalTime(at).MarshalGQL(&theirs)
	if ours.String() != theirs.String() {
		t.Fatalf("%s, gqlgen writes %s", ours.String(), theirs.String())
	}
}
