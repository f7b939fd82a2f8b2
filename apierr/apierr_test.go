package apierr

import (
	"errors"
	"fmt"
	"testing"
)

func TestCodeOf(t *testing.T) {
	for name, c := range map[string]struct {
		err  error
		want string
	}{
		"an API error":         {Invalid("name is empty"), CodeInvalidArgument},
		"a wrapped API error":  {fmt.Errorf("creating key: %w", New(CodeConflict, "taken")), CodeConflict},
		"the unauthenticated":  {ErrUnauthenticated, CodeUnauthenticated},
		"any other error":      {errors.New("connection refused"), CodeInternal},
		"no error is internal": {nil, CodeInternal},
	} {
		if got := CodeOf(c.err); got != c.want {
			t.Errorf("%s: CodeOf = %s, want %s", name, got, c.want)
		}
	}
	if got := Invalid("first must be between 1 and %d", 250).Error(); got != "INVALID_ARGUMENT: first must be between 1 and 250" {
		t.Errorf("message: %q", got)
	}
}
