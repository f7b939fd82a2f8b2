package secrets

import (
	"errors"
	"strings"
	"testing"
)

func mustKey(t *testing.T, id string) string {
	t.Helper()
	k, err := NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	k1 := mustKey(t, "k1")
	ring, err := Parse(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := ring.SealString("client-secret-value", "oidc/tenant-a")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "client-secret-value") || !strings.HasPrefix(sealed, "sg1:k1:") {
		t.Fatalf("sealed form %q", sealed)
	}
	again, _ := ring.SealString("client-secret-value", "oidc/tenant-a")
	if again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	got, err := ring.OpenString(sealed, "oidc/tenant-a")
	if err != nil || got != "client-secret-value" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := ring.Open(sealed, "oidc/tenant-b"); !errors.Is(err, ErrOpen) {
		t.Fatalf("opened under another row's associated data: %v", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if tampered == sealed {
		tampered = sealed[:len(sealed)-2] + "BB"
	}
	if _, err := ring.Open(tampered, "oidc/tenant-a"); !errors.Is(err, ErrOpen) && !errors.Is(err, ErrMalformed) {
		t.Fatalf("tampered value: %v", err)
	}
}

func TestRotation(t *testing.T) {
	old, next := mustKey(t, "2025"), mustKey(t, "2026")
	oldRing, _ := Parse(old)
	sealedOld, _ := oldRing.SealString("s", "a")
	rotated, err := Parse(next + ", " + old)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.OpenString(sealedOld, "a"); err != nil || got != "s" {
		t.Fatalf("old value under the rotated keyring: %q %v", got, err)
	}
	if !rotated.NeedsReseal(sealedOld) {
		t.Fatal("a value of the old key should need resealing")
	}
	sealedNew, _ := rotated.SealString("s", "a")
	if !strings.HasPrefix(sealedNew, "sg1:2026:") || rotated.NeedsReseal(sealedNew) {
		t.Fatalf("the newest key must seal: %q", sealedNew)
	}
	// Dropping the old key: its values are refused by id, not garbled.
	newOnly, _ := Parse(next)
	if _, err := newOnly.Open(sealedOld, "a"); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `"2025"`) {
		t.Fatalf("value of a removed key: %v", err)
	}
	// The same id with another key: the value does not open.
	impostor, _ := Parse(strings.Replace(mustKey(t, "x"), "x:", "2025:", 1))
	if _, err := impostor.Open(sealedOld, "a"); !errors.Is(err, ErrOpen) {
		t.Fatalf("wrong key under the right id: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	good := mustKey(t, "k1")
	for name, spec := range map[string]string{
		"empty":         "",
		"no id":         strings.TrimPrefix(good, "k1:"),
		"short key":     "k1:" + "c2hvcnQ=",
		"not base64":    "k1:!!!notbase64!!!",
		"bad id":        "k 1:" + strings.TrimPrefix(good, "k1:"),
		"duplicate ids": good + "," + good,
	} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), strings.TrimPrefix(good, "k1:")) {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
	if _, err := Parse(""); !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("empty spec: %v", err)
	}
	var none *Keyring
	if _, err := none.SealString("x", "a"); !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("nil keyring seal: %v", err)
	}
	if _, err := none.Open("sg1:k1:AAAA", "a"); !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("nil keyring open: %v", err)
	}
	ring, _ := Parse(good)
	for _, bad := range []string{"plain", "sg1:k1", "sg2:k1:AAAA", "sg1:k1:@@@"} {
		if _, err := ring.Open(bad, "a"); !errors.Is(err, ErrMalformed) {
			t.Errorf("open %q: %v", bad, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	ring, _ := Parse("k1:" + strings.Repeat("A", 43) + "=")
	s, _ := ring.SealString("x", "a")
	f.Add(s)
	f.Add("sg1:k1:")
	f.Fuzz(func(t *testing.T, v string) {
		_, _ = ring.Open(v, "a") // never panics
	})
}
