package controlplane

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
)

// TOTP two-factor authentication of local (password) accounts: enrolment,
// confirmation, recovery codes and the check at sign-in. The seed is
// stored sealed (secrets), recovery codes as SHA-256; a code's step is
// remembered so it works once.

// totpIssuer labels the entry in authenticator apps.
const totpIssuer = "spendgate"

// recoveryCodeCount codes are issued at a time; each works once.
const recoveryCodeCount = 10

// TOTPEnrolment is what an authenticator app needs: the seed (for typing)
// and the otpauth URI, also as a QR code (PNG data: URL).
type TOTPEnrolment struct {
	Secret, URI, QRCode string
}

// MFAStatus is the caller's second factor.
type MFAStatus struct {
	TOTPEnabled       bool
	RecoveryCodesLeft int
}

func totpAAD(userID string) string { return "totp/" + userID }

// passwordCaller is the caller of an MFA change: a password session (a
// session of single sign-on uses its identity provider's second factor).
func (s *AccountService) passwordCaller(ctx context.Context) (auth.Principal, error) {
	p, err := s.caller(ctx)
	if err != nil {
		return p, err
	}
	if p.SSOTenant != "" {
		return p, invalid("this session was opened by single sign-on; two-factor authentication is your identity provider's")
	}
	return p, nil
}

// EnrolTOTP starts turning TOTP on for the caller: a new seed, not yet in
// force until ConfirmTOTP checks a code of it. Enrolling again before
// confirming replaces the seed.
func (s *AccountService) EnrolTOTP(ctx context.Context) (TOTPEnrolment, error) {
	p, err := s.passwordCaller(ctx)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	if on, err := s.hasTOTP(ctx, p.UserID); err != nil || on {
		if err == nil {
			err = newErr(apierr.CodeConflict, "two-factor authentication is already on; turn it off first to enrol another app")
		}
		return TOTPEnrolment{}, err
	}
	secret, err := auth.NewTOTPSecret()
	if err != nil {
		return TOTPEnrolment{}, err
	}
	sealed, err := s.seal(secret, totpAAD(p.UserID))
	if err != nil {
		return TOTPEnrolment{}, err
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO user_totp (user_id, secret_sealed) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, last_step = 0, created_at = now()
		WHERE user_totp.confirmed_at IS NULL`, p.UserID, sealed); err != nil {
		return TOTPEnrolment{}, err
	}
	uri := auth.TOTPURI(totpIssuer, p.Email, secret)
	qr, err := auth.TOTPQRCode(uri)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{Secret: secret, URI: uri, QRCode: qr}, nil
}

// ConfirmTOTP turns TOTP on once code matches the enrolled seed, and
// returns the recovery codes (shown once).
func (s *AccountService) ConfirmTOTP(ctx context.Context, code string) ([]string, error) {
	p, err := s.passwordCaller(ctx)
	if err != nil {
		return nil, err
	}
	var sealed string
	var confirmed bool
	err = s.db.QueryRow(ctx, `SELECT secret_sealed, confirmed_at IS NOT NULL FROM user_totp WHERE user_id = $1`, p.UserID).Scan(&sealed, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, invalid("enrol first (enrolTOTP), then confirm with a code of the app")
	}
	if err != nil {
		return nil, err
	}
	if confirmed {
		return nil, newErr(apierr.CodeConflict, "two-factor authentication is already on")
	}
	secret, err := s.open(sealed, totpAAD(p.UserID))
	if err != nil {
		return nil, err
	}
	step, ok := auth.MatchTOTP(secret, code, s.now())
	if !ok {
		return nil, invalid("the code does not match: check the app's clock and type the code it shows now")
	}
	var codes []string
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE user_totp SET confirmed_at = now(), last_step = $2 WHERE user_id = $1`, p.UserID, step); err != nil {
			return err
		}
		var err error
		if codes, err = replaceRecoveryCodes(ctx, tx, p.UserID); err != nil {
			return err
		}
		return audit(ctx, tx, "", p, "user.mfa.enable", "user", p.UserID, nil)
	})
	return codes, err
}

// DisableTOTP turns TOTP off after checking the password and a second
// factor (code or recovery code); both are throttled like sign-ins.
func (s *AccountService) DisableTOTP(ctx context.Context, password, code string) error {
	p, err := s.passwordCaller(ctx)
	if err != nil {
		return err
	}
	if err := s.checkPasswordAndCode(ctx, p, password, code, "disable-mfa"); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM user_totp WHERE user_id = $1`, p.UserID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, p.UserID); err != nil {
			return err
		}
		return audit(ctx, tx, "", p, "user.mfa.disable", "user", p.UserID, nil)
	})
}

// RegenerateRecoveryCodes replaces the caller's recovery codes after a
// current code (or an unused recovery code) proves the second factor.
func (s *AccountService) RegenerateRecoveryCodes(ctx context.Context, code string) ([]string, error) {
	p, err := s.passwordCaller(ctx)
	if err != nil {
		return nil, err
	}
	addr := auth.ClientAddrFrom(ctx)
	if err := s.throttled(p.Email, addr, "recovery-codes"); err != nil {
		return nil, err
	}
	ok, err := s.checkSecondFactor(ctx, p.UserID, code)
	if err != nil {
		return nil, err
	}
	if !ok {
		s.failed(p.Email, addr, "recovery-codes", "wrong two-factor code")
		return nil, errBadSecondFactor
	}
	var codes []string
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if codes, err = replaceRecoveryCodes(ctx, tx, p.UserID); err != nil {
			return err
		}
		return audit(ctx, tx, "", p, "user.mfa.recovery_codes", "user", p.UserID, nil)
	})
	return codes, err
}

// MyMFA is the caller's second factor.
func (s *AccountService) MyMFA(ctx context.Context) (MFAStatus, error) {
	p, err := s.caller(ctx)
	if err != nil {
		return MFAStatus{}, err
	}
	var st MFAStatus
	err = s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL),
		(SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL)`, p.UserID).Scan(&st.TOTPEnabled, &st.RecoveryCodesLeft)
	return st, err
}

func (s *AccountService) checkPasswordAndCode(ctx context.Context, p auth.Principal, password, code, what string) error {
	addr := auth.ClientAddrFrom(ctx)
	if err := s.throttled(p.Email, addr, what); err != nil {
		return err
	}
	var hash string
	if err := s.db.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, p.UserID).Scan(&hash); err != nil {
		return err
	}
	if !auth.CheckPassword(hash, password) {
		s.failed(p.Email, addr, what, "wrong password")
		return &apierr.Error{Code: apierr.CodeUnauthenticated, Message: "the password is wrong"}
	}
	ok, err := s.checkSecondFactor(ctx, p.UserID, code)
	if err != nil {
		return err
	}
	if !ok {
		s.failed(p.Email, addr, what, "wrong two-factor code")
		return errBadSecondFactor
	}
	return nil
}

func replaceRecoveryCodes(ctx context.Context, tx pgx.Tx, userID string) ([]string, error) {
	codes, hashes, err := auth.NewRecoveryCodes(recoveryCodeCount)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return nil, err
	}
	for _, h := range hashes {
		if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)`, userID, h); err != nil {
			return nil, err
		}
	}
	return codes, nil
}

// hasTOTP reports whether the user turned TOTP on (confirmed).
func (s *AccountService) hasTOTP(ctx context.Context, userID string) (bool, error) {
	var on bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL)`, userID).Scan(&on)
	return on, err
}

// checkSecondFactor accepts a TOTP code of a step after the last one used
// (so a code, once used, is refused for the rest of its window) or an unused
// recovery code, which is then spent. The step is recorded with a compare
// in the UPDATE, so two requests racing with one code cannot both pass.
func (s *AccountService) checkSecondFactor(ctx context.Context, userID, code string) (bool, error) {
	var sealed string
	err := s.db.QueryRow(ctx, `SELECT secret_sealed FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL`, userID).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	secret, err := s.open(sealed, totpAAD(userID))
	if err != nil {
		return false, err
	}
	if step, ok := auth.MatchTOTP(secret, code, s.now()); ok {
		tag, err := s.db.Exec(ctx, `UPDATE user_totp SET last_step = $2 WHERE user_id = $1 AND last_step < $2`, userID, step)
		return err == nil && tag.RowsAffected() == 1, err
	}
	tag, err := s.db.Exec(ctx, `UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
		userID, auth.HashRecoveryCode(code))
	return err == nil && tag.RowsAffected() == 1, err
}

// SetTenantMFARequired makes password sessions of a tenant's members need
// TOTP (owners). An owner turning it on needs it on their own account first
// (or a single sign-on session), so the change cannot lock them out.
func (s *TenantService) SetTenantMFARequired(ctx context.Context, tenantID string, required bool) (Tenant, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleOwner)
	if err != nil {
		return Tenant{}, err
	}
	if required && p.SSOTenant == "" {
		var on bool
		if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL)`, p.UserID).Scan(&on); err != nil {
			return Tenant{}, err
		}
		if !on {
			return Tenant{}, invalid("turn on two-factor authentication for your own account first, or you would lock yourself out")
		}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE tenants SET mfa_required = $2 WHERE id = $1`, tenantID, required); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "tenant.mfa_required", "tenant", tenantID, map[string]any{"required": required})
	})
	if err != nil {
		return Tenant{}, err
	}
	return s.Tenant(ctx, tenantID)
}
