package natsembed

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream data survives a restart on the same directory.
func TestJetStreamPersistsAcrossRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	for round := 1; round <= 2; round++ {
		s, url, err := Start(dir)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(url)
		if err != nil {
			s.Shutdown()
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, "t.x", []byte("hi")); err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil || info.State.Msgs != uint64(round) {
			t.Fatalf("round %d: %d messages, %v", round, info.State.Msgs, err)
		}
		nc.Close()
		s.Shutdown()
		s.WaitForShutdown()
	}
}
