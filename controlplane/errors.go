package controlplane

import (
	"errors"
	"fmt"
)

// Codes carried by errors to API clients (GraphQL extensions.code).
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeInvalidArgument = "INVALID_ARGUMENT"
	CodeConflict        = "CONFLICT"
	CodeRateLimited     = "RATE_LIMITED" // too many attempts; the message says when to retry
	CodeInternal        = "INTERNAL"
)

// Error is an error meant for the API client: a code and a message that says
// what to fix. Anything else that escapes the service is INTERNAL and its
// details stay in the server log.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newErr(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error   { return newErr(CodeInvalidArgument, format, args...) }
func notFound(what string) error                 { return newErr(CodeNotFound, "%s not found", what) }
func forbidden(format string, args ...any) error { return newErr(CodeForbidden, format, args...) }

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
