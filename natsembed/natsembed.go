// Package natsembed runs a NATS server with JetStream inside the spendgate
// process, for `spendgate serve` on a machine without a NATS server.
package natsembed

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start runs an embedded server on 127.0.0.1 (random port) storing JetStream
// data under dir. Call Shutdown on the returned server when done.
func Start(dir string) (*server.Server, string, error) {
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, "", fmt.Errorf("natsembed: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, "", errors.New("natsembed: server did not become ready")
	}
	url := s.ClientURL()
	return s, url, nil
}
