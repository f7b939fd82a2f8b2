package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMailFlags(t *testing.T) {
	t.Parallel()
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-the-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		args []string
		want string // "" is valid
	}{
		"off by default":                 {nil, ""},
		"on":                             {[]string{"--smtp-host", "smtp.example.com", "--smtp-from", "spend@example.com"}, ""},
		"from is required":               {[]string{"--smtp-host", "smtp.example.com"}, `from address "" is not a bare address`},
		"a bad TLS mode":                 {[]string{"--smtp-host", "h", "--smtp-from", "a@b.co", "--smtp-tls", "none"}, `TLS mode must be "starttls" or "tls", not "none"`},
		"settings without a host":        {[]string{"--smtp-from", "a@b.co"}, "need --smtp-host"},
		"password twice":                 {[]string{"--smtp-host", "h", "--smtp-from", "a@b.co", "--smtp-username", "u", "--smtp-password", "p", "--smtp-password-file", pwFile}, "not both"},
		"a missing password file":        {[]string{"--smtp-host", "h", "--smtp-from", "a@b.co", "--smtp-username", "u", "--smtp-password-file", pwFile + ".nope"}, "--smtp-password-file: open"},
		"a CA file without certificates": {[]string{"--smtp-host", "h", "--smtp-from", "a@b.co", "--smtp-ca-file", pwFile}, "holds no PEM certificate"},
		"negative debounce":              {[]string{"--alert-email-debounce", "-1m", "--smtp-host", "h", "--smtp-from", "a@b.co"}, "must not be negative"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var m Mail
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			m.Register(fs)
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			err := m.Validate()
			if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	var m Mail
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	m.Register(fs)
	_ = fs.Parse([]string{"--smtp-host", "h", "--smtp-from", "a@b.co", "--smtp-username", "u", "--smtp-password-file", pwFile})
	cfg, err := m.config()
	if err != nil || cfg.Password != "from-the-secret" || cfg.Port != 587 || cfg.TLSMode != "starttls" {
		t.Fatalf("config %+v %v", cfg, err)
	}
}
