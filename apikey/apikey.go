// Package apikey defines spendgate data-plane API keys:
//
//	sg_<prefix>_<secret>
//
// prefix: 10 characters of lowercase base32 (a-z, 2-7), unique, stored in the
// clear and shown in lists so people can tell keys apart; secret: 40
// characters of base62 (≈238 bits). Only HMAC-SHA-256(pepper, whole key) is
// stored; the pepper lives in the server's configuration, never in the
// database, so a database leak alone does not allow offline guessing.
package apikey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
)

const (
	// PrefixLen and SecretLen are the lengths of the two random parts.
	PrefixLen = 10
	SecretLen = 40
	// KeyLen is the length of a whole key.
	KeyLen = 3 + PrefixLen + 1 + SecretLen

	prefixAlphabet = "abcdefghijklmnopqrstuvwxyz234567"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// ErrMalformed is returned for strings that cannot be spendgate keys.
var ErrMalformed = errors.New("malformed spendgate API key: want sg_<10 chars>_<40 chars>")

// Generated is a new key. Key is shown to its owner once and never stored.
type Generated struct {
	Key    string
	Prefix string
	Hash   []byte
}

// Generate makes a new random key and its stored hash.
func Generate(pepper []byte) (Generated, error) {
	prefix, err := randomString(prefixAlphabet, PrefixLen)
	if err != nil {
		return Generated{}, err
	}
	secret, err := randomString(secretAlphabet, SecretLen)
	if err != nil {
		return Generated{}, err
	}
	key := "sg_" + prefix + "_" + secret
	return Generated{Key: key, Prefix: prefix, Hash: Hash(pepper, key)}, nil
}

// randomString draws uniformly from alphabet (rejection sampling avoids the
// modulo bias a plain byte % len would add).
func randomString(alphabet string, n int) (string, error) {
	out := make([]byte, 0, n)
	limit := 256 - 256%len(alphabet)
	buf := make([]byte, n*2)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// Parse checks a key's format and returns its prefix.
func Parse(key string) (prefix string, err error) {
	if len(key) != KeyLen || !strings.HasPrefix(key, "sg_") || key[3+PrefixLen] != '_' {
		return "", ErrMalformed
	}
	prefix = key[3 : 3+PrefixLen]
	for i := 0; i < len(prefix); i++ {
		if !strings.ContainsRune(prefixAlphabet, rune(prefix[i])) {
			return "", ErrMalformed
		}
	}
	secret := key[4+PrefixLen:]
	for i := 0; i < len(secret); i++ {
		if !strings.ContainsRune(secretAlphabet, rune(secret[i])) {
			return "", ErrMalformed
		}
	}
	return prefix, nil
}

// Hash is the stored form of a key.
func Hash(pepper []byte, key string) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(key))
	return m.Sum(nil)
}

// Verify compares a presented key with a stored hash in constant time.
func Verify(pepper []byte, key string, stored []byte) bool {
	return hmac.Equal(Hash(pepper, key), stored)
}

// Redact shows a key's prefix only, for logs and errors.
func Redact(key string) string {
	if p, err := Parse(key); err == nil {
		return "sg_" + p + "_…"
	}
	return "(malformed key)"
}
