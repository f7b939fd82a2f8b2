package controlplane

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/internal/testenv"
)

// WatchAccess ends a live operation's context the moment its caller's right
// to the tenant ends, with the reason as the cause, and leaves it running
// otherwise.
func TestWatchAccess(t *testing.T) {
	s, pool := newTestService(t)
	ownerCtx, tenant := owner(t, s, "ann@example.com", "acme")
	_, other := owner(t, s, "zed@example.com", "other")
	bg := context.Background()
	_, err := s.AddMember(ownerCtx, tenant, "bob@example.com", "Bob", "password-123", RoleAdmin)
	testenv.Must(t, err, "add bob")
	sess, err := s.SignIn(bg, "bob@example.com", "password-123")
	testenv.Must(t, err, "sign in bob")
	bob, err := s.Authenticate(bg, sess.AccessToken)
	testenv.Must(t, err, "authenticate bob")
	bobCtx := auth.WithPrincipal(bg, bob)
	// Bob is also a member of another tenant, whose changes must not touch
	// his watch of acme.
	zedCtx := auth.WithPrincipal(bg, auth.Principal{UserID: mustUserID(t, s, "zed@example.com"), Email: "zed@example.com"})
	_, err = s.AddMember(zedCtx, other, "bob@example.com", "", "", RoleViewer)
	testenv.Must(t, err, "add bob to other")

	ended := func(what string, w context.Context, code string) {
		t.Helper()
		select {
		case <-w.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the watch did not end", what)
		}
		var e *apierr.Error
		if !errors.As(context.Cause(w), &e) || e.Code != code {
			t.Fatalf("%s: cause %v, want %s", what, context.Cause(w), code)
		}
	}
	running := func(what string, w context.Context) {
		t.Helper()
		if w.Err() != nil {
			t.Fatalf("%s: the watch ended: %v", what, context.Cause(w))
		}
	}

	// Refused from the start like Authorize.
	_, err = s.WatchAccess(bobCtx, other, RoleAdmin)
	wantCode(t, "viewer watching as admin", err, apierr.CodeForbidden)

	admin, err := s.WatchAccess(bobCtx, tenant, RoleAdmin)
	testenv.Must(t, err, "watch as admin")
	viewer, err := s.WatchAccess(bobCtx, tenant, RoleViewer)
	testenv.Must(t, err, "watch as viewer")
	elsewhere, err := s.WatchAccess(bobCtx, other, RoleViewer)
	testenv.Must(t, err, "watch other")

	// Demoted to viewer: the admin watch ends before the mutation answers;
	// the viewer watch goes on.
	_, err = s.UpdateMemberRole(ownerCtx, tenant, bob.UserID, RoleViewer)
	testenv.Must(t, err, "demote")
	if admin.Err() == nil {
		t.Fatal("the admin watch outlived the demotion's answer")
	}
	ended("demoted", admin, apierr.CodeForbidden)
	running("viewer watch after the demotion", viewer)

	// Removed: the viewer watch of acme ends; the other tenant's goes on.
	testenv.Must(t, s.RemoveMember(ownerCtx, tenant, bob.UserID), "remove")
	if viewer.Err() == nil {
		t.Fatal("the viewer watch outlived the removal's answer")
	}
	ended("removed", viewer, apierr.CodeForbidden)
	running("other tenant's watch after the removal", elsewhere)

	// A password change ends every watch of the user.
	testenv.Must(t, s.ChangePassword(bobCtx, "password-123", "password-456"), "change password")
	ended("password changed", elsewhere, apierr.CodeUnauthenticated)

	// The access token's expiry ends a watch.
	p := auth.Principal{UserID: mustUserID(t, s, "ann@example.com"), Email: "ann@example.com", ExpiresAt: time.Now().Add(300 * time.Millisecond)}
	expiring, err := s.WatchAccess(auth.WithPrincipal(bg, p), tenant, RoleViewer)
	testenv.Must(t, err, "watch with a short token")
	ended("token expired", expiring, apierr.CodeUnauthenticated)

	// A change this process did not make (another API process, an operator
	// in psql) is seen at the next re-read.
	s.SetAccessRecheck(100 * time.Millisecond)
	zedWatch, err := s.WatchAccess(zedCtx, other, RoleViewer)
	testenv.Must(t, err, "zed watch")
	_, err = pool.Exec(bg, `UPDATE memberships SET role = 'viewer' WHERE user_id = $1`, mustUserID(t, s, "zed@example.com"))
	testenv.Must(t, err, "demote in SQL")
	running("viewer need after a demotion to viewer", zedWatch)
	_, err = pool.Exec(bg, `DELETE FROM memberships WHERE user_id = $1`, mustUserID(t, s, "zed@example.com"))
	testenv.Must(t, err, "remove in SQL")
	ended("removed by another process", zedWatch, apierr.CodeForbidden)

	// Ended watches leave nothing behind.
	testenv.WaitFor(t, 5*time.Second, "watchers released", func() bool {
		s.core.access.mu.Lock()
		defer s.core.access.mu.Unlock()
		return len(s.core.access.byUser) == 0
	})
}

func mustUserID(t *testing.T, s *Service, email string) string {
	t.Helper()
	var id string
	testenv.Must(t, s.core.db.QueryRow(context.Background(), `SELECT id FROM users WHERE email = $1`, email).Scan(&id), "user id")
	return id
}

// A change made through one API process ends the watches of another at
// once (Postgres NOTIFY), not at its re-read.
func TestAccessChangesReachOtherProcesses(t *testing.T) {
	one, pool := newTestService(t)
	other, err := New(pool, []byte("pepper-pepper-pepper"), one.AccountService.tokens, one.core.log)
	testenv.Must(t, err, "second process")
	other.SetAccessRecheck(time.Hour)
	listening := make(chan struct{})
	other.core.onListen = func() { close(listening) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- other.ListenAccess(ctx) }()
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		t.Fatal("not listening")
	}

	ownerCtx, tenant := owner(t, one, "ann@example.com", "acme")
	bg := context.Background()
	watchAs := func(email string) context.Context {
		t.Helper()
		_, err := one.AddMember(ownerCtx, tenant, email, "", "password-123", RoleAdmin)
		testenv.Must(t, err, "add "+email)
		sess, err := other.SignIn(bg, email, "password-123")
		testenv.Must(t, err, "sign in "+email)
		p, err := other.Authenticate(bg, sess.AccessToken)
		testenv.Must(t, err, "authenticate "+email)
		w, err := other.WatchAccess(auth.WithPrincipal(bg, p), tenant, RoleAdmin)
		testenv.Must(t, err, "watch "+email)
		return w
	}
	removed, demoted, changed := watchAs("rem@example.com"), watchAs("dem@example.com"), watchAs("chg@example.com")
	testenv.Must(t, one.RemoveMember(ownerCtx, tenant, mustUserID(t, one, "rem@example.com")), "remove")
	_, err = one.UpdateMemberRole(ownerCtx, tenant, mustUserID(t, one, "dem@example.com"), RoleViewer)
	testenv.Must(t, err, "demote")
	p := auth.Principal{UserID: mustUserID(t, one, "chg@example.com"), Email: "chg@example.com"}
	testenv.Must(t, one.ChangePassword(auth.WithPrincipal(bg, p), "password-123", "password-456"), "change password")
	for name, c := range map[string]struct {
		w    context.Context
		code string
	}{"removed": {removed, apierr.CodeForbidden}, "demoted": {demoted, apierr.CodeForbidden}, "password changed": {changed, apierr.CodeUnauthenticated}} {
		select {
		case <-c.w.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the other process's watch did not end", name)
		}
		var e *apierr.Error
		if !errors.As(context.Cause(c.w), &e) || e.Code != c.code {
			t.Errorf("%s: cause %v", name, context.Cause(c.w))
		}
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatalf("ListenAccess: %v", err)
	}
}
