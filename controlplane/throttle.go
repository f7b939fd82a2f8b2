package controlplane

import (
	"net/netip"
	"sync"
	"time"
)

// ThrottleConfig sets how failed password checks (signIn, changePassword's
// current password) slow a guesser down. Failures are counted per account
// and per client address; past the free failures, each further failure
// locks that account or address for a window that doubles, from BaseLock up
// to MaxLock. A locked sign-in is refused at once, before any password is
// checked (so it costs no bcrypt work either), even with the right
// password. A successful sign-in clears the account's count, never the
// address's (a guesser with one account of their own could otherwise reset
// it between guesses).
type ThrottleConfig struct {
	AccountFree int           // failures of one account before it locks
	AddressFree int           // failures from one client address before it locks
	BaseLock    time.Duration // the first lock
	MaxLock     time.Duration // the longest lock
	Forget      time.Duration // a count with no failure for this long starts again
	MaxEntries  int           // accounts and addresses tracked at most (memory bound)
}

// DefaultThrottle: 5 free failures per account, 20 per address (an office
// behind one NAT), then 1 s, 2 s, 4 s … up to 15 minutes; counts are
// forgotten after an hour without failures.
func DefaultThrottle() ThrottleConfig {
	return ThrottleConfig{AccountFree: 5, AddressFree: 20, BaseLock: time.Second, MaxLock: 15 * time.Minute,
		Forget: time.Hour, MaxEntries: 100_000}
}

// signInThrottle is the in-memory state of one API process: with several
// processes a guesser gets each one's allowance.
type signInThrottle struct {
	cfg ThrottleConfig
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures    int
	last        time.Time
	lockedUntil time.Time
}

func newSignInThrottle(cfg ThrottleConfig) *signInThrottle {
	return &signInThrottle{cfg: cfg, now: time.Now, entries: map[string]*throttleEntry{}}
}

// throttleKeys are the counters a sign-in attempt of email from addr
// touches. IPv6 clients are counted by their /64, which one client
// usually holds whole.
func throttleKeys(email, addr string) (account, address string) {
	account = "account " + email
	if a, err := netip.ParseAddr(addr); err == nil {
		a = a.Unmap()
		if a.Is6() {
			p, _ := a.Prefix(64)
			return account, "address " + p.String()
		}
		return account, "address " + a.String()
	}
	if addr == "" {
		return account, "" // an in-process caller (CLI): accounts only
	}
	return account, "address " + addr
}

// wait returns how long sign-ins of email from addr stay refused (0: go on).
func (t *signInThrottle) wait(email, addr string) time.Duration {
	account, address := throttleKeys(email, addr)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var w time.Duration
	for _, k := range []string{account, address} {
		if e := t.entries[k]; k != "" && e != nil && e.lockedUntil.After(now) {
			w = max(w, e.lockedUntil.Sub(now))
		}
	}
	return w
}

// fail counts a failed password check and returns the account's failures
// and how long the account or address is now locked.
func (t *signInThrottle) fail(email, addr string) (failures int, locked time.Duration) {
	account, address := throttleKeys(email, addr)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range []struct {
		key  string
		free int
	}{{account, t.cfg.AccountFree}, {address, t.cfg.AddressFree}} {
		if k.key == "" {
			continue
		}
		e := t.entry(k.key, now)
		e.failures++
		e.last = now
		if over := e.failures - k.free; over > 0 {
			d := t.cfg.BaseLock << min(over-1, 30)
			if d <= 0 || d > t.cfg.MaxLock {
				d = t.cfg.MaxLock
			}
			e.lockedUntil = now.Add(d)
			locked = max(locked, d)
		}
		if k.key == account {
			failures = e.failures
		}
	}
	return failures, locked
}

// succeed clears the account's count after a correct password.
func (t *signInThrottle) succeed(email string) {
	account, _ := throttleKeys(email, "")
	t.mu.Lock()
	delete(t.entries, account)
	t.mu.Unlock()
}

// entry returns k's entry, starting it again when forgotten, and keeps the
// map within MaxEntries by dropping idle entries (or, when none is idle,
// arbitrary unlocked ones) first.
func (t *signInThrottle) entry(k string, now time.Time) *throttleEntry {
	e := t.entries[k]
	if e != nil && now.Sub(e.last) > t.cfg.Forget && !e.lockedUntil.After(now) {
		e = nil
	}
	if e != nil {
		return e
	}
	if len(t.entries) >= t.cfg.MaxEntries {
		for key, old := range t.entries {
			if !old.lockedUntil.After(now) && (now.Sub(old.last) > t.cfg.Forget || len(t.entries) >= t.cfg.MaxEntries) {
				delete(t.entries, key)
			}
		}
	}
	e = &throttleEntry{}
	t.entries[k] = e
	return e
}
