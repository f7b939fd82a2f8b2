package controlplane

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/store/postgres"
)

// BenchmarkVerifyKeyWarm measures key verification (prefix lookup + HMAC in
// constant time) with a warm cache, single-threaded, and reports
// verifications per second (goal: ≥ 20k/s on one core).
func BenchmarkVerifyKeyWarm(b *testing.B) {
	ctx := context.Background()
	dsn := testenv.Postgres(b)
	if err := postgres.Migrate(ctx, dsn); err != nil {
		b.Fatal(err)
	}
	pool, err := postgres.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	tokens, _ := auth.NewTokens([]byte(strings.Repeat("j", 32)))
	s, err := New(pool, []byte("pepper-pepper-pepper"), tokens, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	u, tn, err := s.CreateOwner(ctx, "bench@example.com", "password-123", "Bench", "bench")
	if err != nil {
		b.Fatal(err)
	}
	k, err := s.createKey(ctx, auth.Principal{UserID: u.ID, Email: u.Email}, tn.ID, "bench", KeyPolicy{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if rec, err := s.VerifyKey(ctx, k.Secret); err != nil || rec == nil {
		b.Fatalf("warm-up: %v %v", rec, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rec, err := s.VerifyKey(ctx, k.Secret); err != nil || rec == nil {
			b.Fatal("verification failed")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}
