// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) in
// a test: a self-signed certificate made for the test, STARTTLS required
// before anything else, AUTH PLAIN required before MAIL, and every accepted
// message kept for the test to read. ImplicitTLS starts the same server
// speaking TLS from the first byte (SMTPS).
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
	// TLS and User say how the client reached DATA.
	TLS  bool
	User string
}

// Server is a running test SMTP server.
type Server struct {
	Host string
	Port int
	// Roots trusts the server's certificate (for the client's tls.Config);
	// CertPEM is the certificate, for clients configured from a file.
	Roots              *tls.Config
	CertPEM            []byte
	Username, Password string

	mu       sync.Mutex
	messages []Message
	arrived  chan struct{}
	// Refuse, when set, rejects DATA with this error (a failing server).
	refuse error
}

// Options tune the server.
type Options struct {
	ImplicitTLS bool
	// NoTLS offers no STARTTLS at all (a misconfigured relay).
	NoTLS bool
}

// Start starts a server on 127.0.0.1 that lives as long as the test.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	cert, pool := selfSigned(t)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	s := &Server{Username: "reports@example.com", Password: "s3cret-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		arrived: make(chan struct{}, 100), CertPEM: certPEM}
	s.Roots = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, c: c}, nil }))
	srv.Domain = "smtptest.local"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 20 << 20
	srv.MaxRecipients = 60
	srv.AllowInsecureAuth = false
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if !opts.NoTLS {
		srv.TLSConfig = tlsCfg
	}
	var l net.Listener
	var err error
	if opts.ImplicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.Host = "127.0.0.1"
	s.Port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Refuse makes the server reject every message with err (nil: accept again).
func (s *Server) Refuse(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = err
}

// Messages returns the accepted messages so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait waits until n messages arrived in all (or fails the test).
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.arrived:
		case <-deadline:
			t.Fatalf("smtptest: %d messages after %s, want %d", len(s.Messages()), timeout, n)
		}
	}
}

type session struct {
	s    *Server
	c    *smtp.Conn
	user string
	msg  Message
}

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (se *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != se.s.Username || password != se.s.Password {
			return errors.New("invalid username or password")
		}
		se.user = username
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if _, ok := se.c.TLSConnectionState(); !ok {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	if se.user == "" {
		return smtp.ErrAuthRequired
	}
	se.msg = Message{From: from, TLS: true, User: se.user}
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.msg.To = append(se.msg.To, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.s.mu.Lock()
	refuse := se.s.refuse
	if refuse == nil {
		se.msg.Data = b
		se.s.messages = append(se.s.messages, se.msg)
	}
	se.s.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	select {
	case se.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (se *session) Reset()        { se.msg = Message{} }
func (se *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "smtptest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
