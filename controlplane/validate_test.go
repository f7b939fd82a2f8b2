package controlplane

import (
	"context"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/meter"
)

func TestValidationCodes(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 201)
	cases := []struct {
		name string
		err  error
		ok   bool
	}{
		{"name ok", second(cleanName("name", "  CI key ")), true},
		{"name empty", second(cleanName("name", "   ")), false},
		{"name too long", second(cleanName("name", long)), false},
		{"email ok", second(cleanEmail("Ann@Example.com")), true},
		{"email no at", second(cleanEmail("ann.example.com")), false},
		{"email no dot in domain", second(cleanEmail("ann@localhost")), false},
		{"email display name", second(cleanEmail("Ann <ann@example.com>")), false},
		{"email too long", second(cleanEmail(strings.Repeat("a", 250) + "@example.com")), false},
		{"slug ok", second(cleanSlug("acme-1")), true},
		{"slug upper", second(cleanSlug("Acme")), false},
		{"slug leading dash", second(cleanSlug("-acme")), false},
		{"slug too long", second(cleanSlug(strings.Repeat("a", 64))), false},
		{"policy ok", validatePolicy(&KeyPolicy{AllowedProviders: []string{"openai", "nebius"}, AllowedModels: []string{"gpt-4o*"}, RequiredDimensions: []string{"team"}, DefaultDimensions: map[string]string{"env": "prod"}}), true},
		{"policy unknown provider", validatePolicy(&KeyPolicy{AllowedProviders: []string{"azure"}}), false},
		{"policy record-only vendors", validatePolicy(&KeyPolicy{AllowedProviders: []string{"elevenlabs", "google_tts", "google_stt", "deepgram"}}), true},
		{"policy every known provider", validatePolicy(&KeyPolicy{AllowedProviders: meter.KnownProviderIDs()}), true},
		{"policy too many providers", validatePolicy(&KeyPolicy{AllowedProviders: append(meter.KnownProviderIDs(), "openai")}), false},
		{"policy bad glob", validatePolicy(&KeyPolicy{AllowedModels: []string{"gpt-[4"}}), false},
		{"policy empty glob", validatePolicy(&KeyPolicy{AllowedModels: []string{""}}), false},
		{"policy bad dimension name", validatePolicy(&KeyPolicy{RequiredDimensions: []string{"bad name!"}}), false},
		{"policy empty default value", validatePolicy(&KeyPolicy{DefaultDimensions: map[string]string{"env": ""}}), false},
		{"policy too many globs", validatePolicy(&KeyPolicy{AllowedModels: make([]string, 101)}), false},
		{"webhook ok", validateWebhook(context.Background(), nil, nil, ptr("https://hooks.example.com/x")), true},
		{"webhook none", validateWebhook(context.Background(), nil, nil, nil), true},
		{"webhook relative", validateWebhook(context.Background(), nil, nil, ptr("/hook")), false},
		{"webhook ftp", validateWebhook(context.Background(), nil, nil, ptr("ftp://example.com/x")), false},
		{"webhook junk", validateWebhook(context.Background(), nil, nil, ptr("http://[::1")), false},
	}
	for _, c := range cases {
		if c.ok != (c.err == nil) {
			t.Errorf("%s: err = %v", c.name, c.err)
			continue
		}
		if c.err != nil && apierr.CodeOf(c.err) != apierr.CodeInvalidArgument {
			t.Errorf("%s: code %s, want %s", c.name, apierr.CodeOf(c.err), apierr.CodeInvalidArgument)
		}
	}
}

func TestNormalisation(t *testing.T) {
	t.Parallel()
	if e, _ := cleanEmail(" Ann@Example.COM "); e != "ann@example.com" {
		t.Errorf("email not normalised: %q", e)
	}
	p := KeyPolicy{AllowedProviders: []string{"openai", "openai"}, AllowedModels: []string{"a*", "a*"}}
	if err := validatePolicy(&p); err != nil || len(p.AllowedProviders) != 1 || len(p.AllowedModels) != 1 || p.DefaultDimensions == nil {
		t.Errorf("policy not normalised: %+v %v", p, err)
	}
}

func second[T any](_ T, err error) error { return err }

func ptr(s string) *string { return &s }
