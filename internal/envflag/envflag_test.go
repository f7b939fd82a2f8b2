package envflag

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for name, c := range map[string]struct {
		args    []string
		env     map[string]string
		want    string
		wantN   int
		wantErr string
	}{
		"defaults when neither is set":  {want: "default", wantN: 1},
		"environment fills unset flags": {env: map[string]string{"SPENDGATE_LISTEN_ADDR": "from-env", "SPENDGATE_COUNT": "7"}, want: "from-env", wantN: 7},
		"command line wins over environment": {args: []string{"--listen-addr", "from-flag"},
			env: map[string]string{"SPENDGATE_LISTEN_ADDR": "from-env"}, want: "from-flag", wantN: 1},
		"malformed environment value names the variable": {env: map[string]string{"SPENDGATE_COUNT": "many"}, wantErr: `SPENDGATE_COUNT="many"`},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			fs := NewFlagSet("test")
			addr := fs.String("listen-addr", "default", "")
			n := fs.Int("count", 1, "")
			err := Parse(fs, c.args)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *addr != c.want || *n != c.wantN {
				t.Errorf("got %q %d, want %q %d", *addr, *n, c.want, c.wantN)
			}
		})
	}
}
