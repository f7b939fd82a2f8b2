// Package apierr is the API-wide error a client is meant to read: a code
// (GraphQL extensions.code, the CSV export's error code) and a message that
// says what to fix. The control plane, analytics, re-pricing, the resolvers
// and the HTTP server all return or map it; it imports nothing of theirs, so
// each can use it without depending on the others.
package apierr

import (
	"errors"
	"fmt"
)

// Codes carried by errors to API clients.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeInvalidArgument = "INVALID_ARGUMENT"
	CodeConflict        = "CONFLICT"
	CodeRateLimited     = "RATE_LIMITED" // too many attempts; the message says when to retry
	CodeInternal        = "INTERNAL"
	// CodeUnavailable: a dependency (ClickHouse, NATS) cannot answer now, or
	// the request ended; the same request may succeed if retried later.
	CodeUnavailable = "UNAVAILABLE"
	// CodeResourceExhausted: a per-connection or per-user quota is used up.
	CodeResourceExhausted = "RESOURCE_EXHAUSTED"
	// CodeMFARequired: the password was right and the account has
	// two-factor authentication; send signIn again with mfaCode.
	CodeMFARequired = "MFA_REQUIRED"
)

// Error is an error meant for the API client. Anything else that escapes a
// service is INTERNAL and its details stay in the server log.
type Error struct {
	Code    string
	Message string
	// Cause, when set, is what went wrong underneath (for the server log;
	// never shown to the client).
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// New returns an Error with code and a formatted message.
func New(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid is an INVALID_ARGUMENT error: the input is wrong, the message says how.
func Invalid(format string, args ...any) error { return New(CodeInvalidArgument, format, args...) }

// ErrUnauthenticated is returned when no valid session is present.
var ErrUnauthenticated = &Error{Code: CodeUnauthenticated, Message: "sign in first: send Authorization: Bearer <access token>"}

// CodeOf returns the client code of err (CodeInternal for unknown errors).
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
