package controlplane

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/apierr"
)

// defaultAccessRecheck is how often a watched operation re-reads its
// caller's access from Postgres. Changes made through this process end
// watches at once, those made through another API process as soon as
// ListenAccess hears of them; the re-read is the backstop (a listener
// reconnecting, users disabled in the database).
const defaultAccessRecheck = 30 * time.Second

// WatchAccess authorizes the caller for role need in tenantID, as Authorize
// does, and returns a context derived from ctx that ends when that access
// ends: the caller is removed from the tenant or demoted below need, the
// caller's sessions end (password change), or the access token expires.
// context.Cause of the ended context is the client error saying which.
// Live subscriptions run under it, so they stop delivering the moment the
// right to see the tenant's data is gone.
func (s *Service) WatchAccess(ctx context.Context, tenantID string, need Role) (context.Context, error) {
	return s.core.watchAccess(ctx, tenantID, need)
}

func (c *core) watchAccess(ctx context.Context, tenantID string, need Role) (context.Context, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	wctx, end := context.WithCancelCause(ctx)
	w := &watch{tenantID: tenantID, need: need, end: end}
	// Registered before authorizing: a change committed after the
	// authorization's read is then certain to reach this watch.
	c.access.add(p.UserID, w)
	if _, _, err := c.authorize(ctx, tenantID, need); err != nil {
		c.access.remove(p.UserID, w)
		end(err)
		return nil, err
	}
	go func() {
		defer c.access.remove(p.UserID, w)
		var expired <-chan time.Time
		if !p.ExpiresAt.IsZero() {
			t := time.NewTimer(time.Until(p.ExpiresAt))
			defer t.Stop()
			expired = t.C
		}
		recheck := time.NewTicker(time.Duration(c.accessRecheck.Load()))
		defer recheck.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-expired:
				end(errTokenExpired)
				return
			case <-recheck.C:
				_, _, err := c.authorize(wctx, tenantID, need)
				switch {
				case err == nil || wctx.Err() != nil:
				case apierr.CodeOf(err) != apierr.CodeInternal:
					end(err)
					return
				default:
					// Postgres is unreachable: keep the watch and try again at
					// the next re-read rather than end every subscription.
					c.log.Warn("controlplane: re-checking a subscriber's access failed", "tenant", tenantID, "user", p.UserID, "err", err)
				}
			}
		}
	}()
	return wctx, nil
}

// accessWatchers are the watches of this process by user.
type accessWatchers struct {
	mu     sync.Mutex
	byUser map[string]map[*watch]struct{}
}

type watch struct {
	tenantID string
	need     Role
	end      context.CancelCauseFunc
}

func newAccessWatchers() *accessWatchers {
	return &accessWatchers{byUser: map[string]map[*watch]struct{}{}}
}

func (a *accessWatchers) add(userID string, w *watch) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ws := a.byUser[userID]
	if ws == nil {
		ws = map[*watch]struct{}{}
		a.byUser[userID] = ws
	}
	ws[w] = struct{}{}
}

func (a *accessWatchers) remove(userID string, w *watch) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.byUser[userID], w)
	if len(a.byUser[userID]) == 0 {
		delete(a.byUser, userID)
	}
}

// roleChanged ends userID's watches of tenantID that need more than role
// (role "" means the user is no longer a member). Called after the change
// committed, so it is ended before the mutation answers.
func (a *accessWatchers) roleChanged(userID, tenantID string, role Role) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for w := range a.byUser[userID] {
		switch {
		case w.tenantID != tenantID:
		case role == "":
			w.end(forbidden("your membership of this tenant ended"))
		case role.Rank() >= w.need.Rank():
		default:
			w.end(forbidden("this needs the %s role; you are now %s", w.need, role))
		}
	}
}

// grantsNarrowed ends userID's watches of tenantID that rest on scoped
// grants (those needing no tenant role): one of its grants was removed or
// lowered, so what the watch was authorized to see may be out of reach now.
// The client subscribes again and is authorized by the grants in force.
func (a *accessWatchers) grantsNarrowed(userID, tenantID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for w := range a.byUser[userID] {
		if w.tenantID == tenantID && w.need.Rank() == 0 {
			w.end(forbidden("your team or project access changed"))
		}
	}
}

// sessionsEnded ends every watch of userID (the password changed: every
// access token of the user is void).
func (a *accessWatchers) sessionsEnded(userID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for w := range a.byUser[userID] {
		w.end(errSessionEnded)
	}
}

// accessChannel is the Postgres NOTIFY channel on which access changes
// reach every API process.
const accessChannel = "spendgate_access"

// accessChange is one NOTIFY payload: the user's role in Tenant is now Role
// ("" = removed), or (Grants) a scoped grant of the user in Tenant was
// removed or lowered, or, without Tenant, every session of the user ended.
type accessChange struct {
	User   string `json:"user"`
	Tenant string `json:"tenant,omitempty"`
	Role   Role   `json:"role,omitempty"`
	Grants bool   `json:"grants,omitempty"`
}

// notifyAccess announces a change inside the transaction making it:
// Postgres delivers it to the listeners when, and only if, it commits.
func notifyAccess(ctx context.Context, tx pgx.Tx, ch accessChange) error {
	b, _ := json.Marshal(ch)
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, accessChannel, string(b))
	return err
}

func (a *accessWatchers) apply(ch accessChange) {
	if ch.Tenant == "" {
		a.sessionsEnded(ch.User)
		return
	}
	if ch.Grants {
		a.grantsNarrowed(ch.User, ch.Tenant)
		return
	}
	a.roleChanged(ch.User, ch.Tenant, ch.Role)
}

// ListenAccess ends this process's watches when any process changes a
// watched user's access (Postgres LISTEN on one dedicated connection),
// until ctx ends. The API commands run it beside the server; without it
// such changes are seen at the periodic re-read only.
func (s *Service) ListenAccess(ctx context.Context) error {
	c := s.core
	for {
		err := c.listenAccess(ctx)
		if ctx.Err() != nil {
			return nil
		}
		// Changes missed while reconnecting are caught by the re-read.
		c.log.Warn("controlplane: listening for access changes failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (c *core) listenAccess(ctx context.Context) error {
	conn, err := c.db.Acquire(ctx)
	if err != nil {
		return err
	}
	// Out of the pool for good: a listening connection must not serve
	// queries, and it is closed, not returned, when listening stops.
	pc := conn.Hijack()
	defer pc.Close(context.Background()) //nolint:errcheck // closing a connection we stopped using
	if _, err := pc.Exec(ctx, `LISTEN `+accessChannel); err != nil {
		return err
	}
	if c.onListen != nil {
		c.onListen()
	}
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var ch accessChange
		if err := json.Unmarshal([]byte(n.Payload), &ch); err != nil || ch.User == "" {
			c.log.Warn("controlplane: unreadable access change", "payload", n.Payload)
			continue
		}
		c.access.apply(ch)
	}
}
