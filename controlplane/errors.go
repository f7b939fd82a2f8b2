package controlplane

import "github.com/spendgate/spendgate/apierr"

// Shorthands for the service's client errors (apierr owns the type and codes).

func newErr(code, format string, args ...any) error { return apierr.New(code, format, args...) }

func invalid(format string, args ...any) error { return apierr.Invalid(format, args...) }
func notFound(what string) error               { return newErr(apierr.CodeNotFound, "%s not found", what) }
func forbidden(format string, args ...any) error {
	return newErr(apierr.CodeForbidden, format, args...)
}
