package meter

import (
	"errors"
	"strings"

	"github.com/spendgate/spendgate/dataplane/contract"
)

// DimensionHeaderPrefix starts a header that sets an attribution dimension:
// "x-spendgate-dim-team: search" sets team=search for this call.
const DimensionHeaderPrefix = "x-spendgate-dim-"

// KeyHeader carries the caller's spendgate API key. It is stripped before the
// request is forwarded; the provider's own Authorization stays untouched.
const KeyHeader = contract.KeyHeader

// Limits on dimensions, so attribution stays cheap to store and query.
const (
	MaxDimensions     = 16
	MaxDimensionName  = 32
	MaxDimensionValue = 128
)

// ErrBadDimension is returned for a dimension header that breaks the rules.
var ErrBadDimension = errors.New("invalid dimension")

// DimensionFromHeader returns the dimension a header sets, if it is one.
// Names are [a-z0-9_], at most 32 bytes; values are at most 128 bytes of
// printable characters.
func DimensionFromHeader(name, value string) (dim, val string, isDim bool, err error) {
	if len(name) <= len(DimensionHeaderPrefix) || !strings.EqualFold(name[:len(DimensionHeaderPrefix)], DimensionHeaderPrefix) {
		return "", "", false, nil
	}
	dim = strings.ToLower(name[len(DimensionHeaderPrefix):])
	if err := ValidDimensionName(dim); err != nil {
		return "", "", true, err
	}
	val = strings.TrimSpace(value)
	if val == "" || len(val) > MaxDimensionValue {
		return dim, "", true, errors.New("invalid dimension: value of " + dim + " must be 1..128 bytes")
	}
	for i := 0; i < len(val); i++ {
		if val[i] < 0x20 || val[i] == 0x7f {
			return dim, "", true, errors.New("invalid dimension: value of " + dim + " has control characters")
		}
	}
	return dim, val, true, nil
}

// ValidDimensionName checks a dimension name.
func ValidDimensionName(dim string) error {
	if dim == "" || len(dim) > MaxDimensionName {
		return errors.New("invalid dimension: name must be 1..32 characters of a-z, 0-9, _")
	}
	for i := 0; i < len(dim); i++ {
		c := dim[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return errors.New("invalid dimension: name " + dim + " must use only a-z, 0-9, _")
		}
	}
	return nil
}

// MergeDimensions overlays request dimensions on a key's defaults. When
// one side is empty the other is returned as it is, not copied (a call's
// dimensions, like a policy answer's, are only ever read): the common call
// sets no dimension headers, or its key has no defaults.
func MergeDimensions(defaults, request map[string]string) (map[string]string, error) {
	switch {
	case len(defaults) == 0 && len(request) == 0:
		return nil, nil
	case len(request) == 0 && len(defaults) <= MaxDimensions:
		return defaults, nil
	case len(defaults) == 0 && len(request) <= MaxDimensions:
		return request, nil
	}
	out := make(map[string]string, len(defaults)+len(request))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range request {
		out[k] = v
	}
	if len(out) > MaxDimensions {
		return nil, errors.New("invalid dimension: at most 16 dimensions per call")
	}
	return out, nil
}
