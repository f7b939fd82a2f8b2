package controlplane

import (
	"context"
	"testing"

	"github.com/spendgate/spendgate/apikey"
)

// BenchmarkVerifyKeyWarm measures key verification (prefix lookup + HMAC in
// constant time) with a warm cache, single-threaded, and reports
// verifications per second (goal: ≥ 20k/s on one core).
func BenchmarkVerifyKeyWarm(b *testing.B) {
	s, secret := benchKey(b)
	ctx := context.Background()
	if rec, err := s.VerifyKey(ctx, secret); err != nil || rec == nil {
		b.Fatalf("warm-up: %v %v", rec, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rec, err := s.VerifyKey(ctx, secret); err != nil || rec == nil {
			b.Fatal("verification failed")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

// BenchmarkVerifyKeyCold is the same verification when the cache misses every
// time (first use of a key, or after the cache entry expired): the cost of
// the Postgres lookup, for comparison with the warm figure.
func BenchmarkVerifyKeyCold(b *testing.B) {
	s, secret := benchKey(b)
	ctx := context.Background()
	prefix, err := apikey.Parse(secret)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.evictKey(prefix)
		if rec, err := s.VerifyKey(ctx, secret); err != nil || rec == nil {
			b.Fatal("verification failed")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

func benchKey(b *testing.B) (*Service, string) {
	s, _ := newTestService(b)
	ctx, tenant := owner(b, s, "bench@example.com", "bench")
	k, err := s.CreateAPIKey(ctx, tenant, "bench", KeyPolicy{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return s, k.Secret
}
