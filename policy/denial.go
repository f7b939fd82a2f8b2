package policy

import (
	"strconv"

	"github.com/spendgate/spendgate/event"
)

// DenialStatus is the HTTP status a denial answers with: 401 for key
// problems, 429 for budgets and rate limits (so SDK retry logic treats them
// as quotas), 413 for oversize bodies, 503 when the policy or budget service
// is unreachable, 403 otherwise.
func DenialStatus(reason string) int {
	switch reason {
	case event.DenialMissingKey, event.DenialUnknownKey, event.DenialKeyRevoked:
		return 401
	case event.DenialBudgetExceeded, event.DenialRateLimited:
		return 429
	case event.DenialBodyTooLarge:
		return 413
	case event.DenialAuthUnavailable, event.DenialBudgetUnavailable:
		return 503
	case event.DenialUnknownRoute:
		return 404
	case event.DenialInvalidDimension, event.DenialSignedKeyHeader:
		return 400
	}
	return 403
}

// ShouldRetry tells the caller's SDK whether repeating a denied call can
// succeed, sent as the x-should-retry header that the OpenAI and Anthropic
// SDKs obey. An unreachable policy or budget service and a rate limit (with
// retry-after, which the SDKs wait for, up to a minute) are worth retrying:
// without the header the SDKs would retry a 429 budget denial (and 409/5xx)
// on their own, each attempt denied again and recorded as another denial.
func ShouldRetry(reason string) bool {
	switch reason {
	case event.DenialAuthUnavailable, event.DenialBudgetUnavailable, event.DenialRateLimited:
		return true
	}
	return false
}

// DenialResponse renders a denial in the error shape the provider's own SDK
// parses, so callers see a normal API error with spendgate's message:
//
//	openai style: {"error":{"message":...,"type":...,"param":null,"code":"<reason>"}}
//	anthropic:    {"type":"error","error":{"type":...,"message":...}}
//	gemini:       {"error":{"code":403,"message":...,"status":"PERMISSION_DENIED"}}
//	bedrock:      {"message":...,"__type":"AccessDeniedException"} (AWS restJson: the SDK reads __type as the error code)
//
// apiStyle is "openai", "anthropic", "gemini" or "bedrock" (meter.APIStyle.String()).
func DenialResponse(apiStyle, reason, message string) (status int, contentType string, body []byte) {
	return ErrorResponse(apiStyle, DenialStatus(reason), reason, message)
}

// ErrorResponse renders any spendgate-side error (a denial, an unreachable
// provider) with the given status in the provider's error shape.
func ErrorResponse(apiStyle string, status int, reason, message string) (int, string, []byte) {
	msg := "spendgate: " + message
	b := make([]byte, 0, 128+len(msg))
	switch apiStyle {
	case "anthropic":
		b = append(b, `{"type":"error","error":{"type":`...)
		b = event.AppendString(b, anthropicType(status))
		b = append(b, `,"message":`...)
		b = event.AppendString(b, msg)
		b = append(b, `}}`...)
	case "bedrock":
		b = append(b, `{"message":`...)
		b = event.AppendString(b, msg)
		b = append(b, `,"__type":`...)
		b = event.AppendString(b, awsErrorType(status, reason))
		b = append(b, '}')
	case "gemini":
		b = append(b, `{"error":{"code":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `,"message":`...)
		b = event.AppendString(b, msg)
		b = append(b, `,"status":`...)
		b = event.AppendString(b, googleStatus(status))
		b = append(b, `}}`...)
	default:
		b = append(b, `{"error":{"message":`...)
		b = event.AppendString(b, msg)
		b = append(b, `,"type":`...)
		b = event.AppendString(b, openAIType(status, reason))
		b = append(b, `,"param":null,"code":`...)
		b = event.AppendString(b, reason)
		b = append(b, `}}`...)
	}
	return status, "application/json", b
}

func openAIType(status int, reason string) string {
	if reason == event.DenialRateLimited {
		// OpenAI's own rate-limit code; "insufficient_quota" (429 below)
		// tells clients that waiting will not help.
		return "rate_limit_exceeded"
	}
	switch status {
	case 401:
		return "invalid_request_error"
	case 429:
		return "insufficient_quota"
	case 502, 503:
		return "server_error"
	}
	return "invalid_request_error"
}

func anthropicType(status int) string {
	switch status {
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 429:
		return "rate_limit_error"
	case 413:
		return "request_too_large"
	case 404:
		return "not_found_error"
	case 503:
		return "overloaded_error"
	case 502:
		return "api_error"
	}
	return "invalid_request_error"
}

func googleStatus(status int) string {
	switch status {
	case 401:
		return "UNAUTHENTICATED"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 400, 413:
		return "INVALID_ARGUMENT"
	case 404:
		return "NOT_FOUND"
	case 502, 503:
		return "UNAVAILABLE"
	}
	return "PERMISSION_DENIED"
}

// awsErrorType is the AWS error code of a status: the AWS SDKs retry
// ThrottlingException and 5xx by themselves, so a budget denial (429, not
// worth retrying) is ServiceQuotaExceededException, which they do not.
func awsErrorType(status int, reason string) string {
	switch {
	case reason == event.DenialRateLimited:
		return "ThrottlingException"
	case status == 429:
		return "ServiceQuotaExceededException"
	case status == 401 || status == 403:
		return "AccessDeniedException"
	case status == 404:
		return "ResourceNotFoundException"
	case status == 503:
		return "ServiceUnavailableException"
	case status >= 500:
		return "InternalServerException"
	}
	return "ValidationException"
}
