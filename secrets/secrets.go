// Package secrets seals secrets kept at rest (an identity provider's client
// secret, a stored refresh token, a TOTP seed) with AES-256-GCM under a
// keyring from configuration (SPENDGATE_SECRETS_KEY), so a copy of the
// database alone reveals none of them.
//
// A keyring is a list of `id:key` entries (key: base64 of 32 bytes). The
// first entry seals; every entry opens, so keys rotate by putting a new key
// first and keeping the old ones until everything was sealed again. Each
// sealed value names the key that sealed it:
//
//	sg1:<key id>:<base64url(nonce || ciphertext || tag)>
//
// Seal and Open take associated data (what the secret belongs to, such as
// "oidc-client-secret/<tenant id>"): a sealed value copied to another row
// does not open there. Nothing here logs; errors never contain a secret.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// EnvVar is where the commands read the keyring from.
const EnvVar = "SPENDGATE_SECRETS_KEY"

// Errors a caller may tell apart (errors.Is).
var (
	// ErrNoKeyring: no key is configured, so no secret can be stored or read.
	ErrNoKeyring = errors.New("no secrets key is configured: set " + EnvVar + " (id:base64-of-32-bytes, comma-separated for rotation)")
	// ErrUnknownKey: the value was sealed by a key the keyring does not hold
	// (it was removed, or the keyring is another installation's).
	ErrUnknownKey = errors.New("the secret was sealed with a key that is not in " + EnvVar)
	// ErrOpen: the key id matches but the value does not open (wrong key
	// under that id, a damaged value, or one moved from another row).
	ErrOpen = errors.New("the secret does not open with the configured key (wrong key for its id, or the value was altered or moved)")
	// ErrMalformed: the stored value is not a sealed secret.
	ErrMalformed = errors.New("the stored value is not a sealed secret (sg1:<id>:<data>)")
)

const prefix = "sg1"

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// Keyring holds the keys; the zero value and nil hold none.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// Parse reads a keyring: comma-separated `id:base64key` entries, the first
// sealing. Ids are 1-32 characters of letters, digits, '.', '_' and '-';
// keys are exactly 32 bytes (standard or URL base64, padded or not).
func Parse(spec string) (*Keyring, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, ErrNoKeyring
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		id, b64, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("%s entry %d: want id:base64-key (for example k1:%s)", EnvVar, i+1, strings.Repeat("A", 43)+"=")
		}
		if !keyIDRE.MatchString(id) {
			return nil, fmt.Errorf("%s entry %d: key id %q must be 1-32 characters of A-Z, a-z, 0-9, '.', '_', '-'", EnvVar, i+1, id)
		}
		key, err := decodeKey(b64)
		if err != nil {
			return nil, fmt.Errorf("%s entry %d (key %s): %w", EnvVar, i+1, id, err)
		}
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("%s: key id %q appears twice", EnvVar, id)
		}
		aead, err := newAEAD(key)
		if err != nil {
			return nil, err
		}
		k.aeads[id] = aead
		if i == 0 {
			k.current = id
		}
	}
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("the key is %d bytes; AES-256 needs exactly 32 (generate one with: openssl rand -base64 32)", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("the key is not base64 (generate one with: openssl rand -base64 32)")
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return cipher.NewGCM(block)
}

// NewKey returns a fresh random key entry `id:base64key` for a keyring.
func NewKey(id string) (string, error) {
	if !keyIDRE.MatchString(id) {
		return "", fmt.Errorf("key id %q must be 1-32 characters of A-Z, a-z, 0-9, '.', '_', '-'", id)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(b), nil
}

// CurrentKeyID names the key that seals ("" for an empty keyring).
func (k *Keyring) CurrentKeyID() string {
	if k == nil {
		return ""
	}
	return k.current
}

// Seal encrypts plaintext bound to aad with the current key.
func (k *Keyring) Seal(plaintext []byte, aad string) (string, error) {
	if k == nil || k.current == "" {
		return "", ErrNoKeyring
	}
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	out := aead.Seal(nonce, nonce, plaintext, []byte(k.current+"\x00"+aad))
	return prefix + ":" + k.current + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// SealString is Seal for text.
func (k *Keyring) SealString(plaintext, aad string) (string, error) {
	return k.Seal([]byte(plaintext), aad)
}

// Open decrypts a value Seal returned for the same aad, with whichever key
// of the keyring sealed it.
func (k *Keyring) Open(sealed, aad string) ([]byte, error) {
	if k == nil || k.current == "" {
		return nil, ErrNoKeyring
	}
	p, rest, ok := strings.Cut(sealed, ":")
	if !ok || p != prefix {
		return nil, ErrMalformed
	}
	id, data, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, ErrMalformed
	}
	aead, known := k.aeads[id]
	if !known {
		return nil, fmt.Errorf("key %q: %w", id, ErrUnknownKey)
	}
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrMalformed
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(id+"\x00"+aad))
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", id, ErrOpen)
	}
	return pt, nil
}

// OpenString is Open for text.
func (k *Keyring) OpenString(sealed, aad string) (string, error) {
	b, err := k.Open(sealed, aad)
	return string(b), err
}

// NeedsReseal reports whether a sealed value was sealed by a key other than
// the current one (rotation: seal it again).
func (k *Keyring) NeedsReseal(sealed string) bool {
	parts := strings.SplitN(sealed, ":", 3)
	return k != nil && len(parts) == 3 && parts[1] != k.current
}
