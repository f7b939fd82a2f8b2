import { useEffect, useState } from "react";
import { GqlError, SSO_OPTION, START_SSO, type Api } from "../gql";
import { domainOf, readCallback, SSO_STATE_KEY } from "../sso";
import { ErrorBox, Field, useDebounced } from "../ui";

interface Option { tenantSlug: string; displayName: string }

/** Sign-in: password (and the authenticator code when the account has one), or single sign-on found by the email's domain or ?tenant=slug. */
export function SignIn({ api }: { api: Api }) {
  const slug = new URLSearchParams(window.location.search).get("tenant") ?? "";
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [needCode, setNeedCode] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [option, setOption] = useState<Option | null>(null);
  const domain = useDebounced(domainOf(email), 300);

  useEffect(() => {
    if (!domain && !slug) { setOption(null); return; }
    let live = true;
    api.raw<{ ssoOption: Option | null }>(SSO_OPTION, domain ? { e: `x@${domain}` } : { s: slug })
      .then((d) => { if (live) setOption(d.ssoOption); }, () => { if (live) setOption(null); });
    return () => { live = false; };
  }, [api, domain, slug]);

  const startSSO = async () => {
    setBusy(true);
    setError(null);
    try {
      const d = await api.raw<{ startSSOSignIn: { authorizationUrl: string; state: string } }>(START_SSO,
        option && !domain ? { s: option.tenantSlug } : { e: email.trim() });
      sessionStorage.setItem(SSO_STATE_KEY, d.startSSOSignIn.state);
      window.location.assign(d.startSSOSignIn.authorizationUrl);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <h1>spendgate</h1>
      <p className="small">Sign in to manage API keys and budgets and to watch AI spend.</p>
      <form
        aria-label="Sign in"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            await api.signIn(email.trim(), password, needCode ? code.trim() : undefined);
          } catch (err) {
            if (err instanceof GqlError && err.code === "MFA_REQUIRED") setNeedCode(true);
            else setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <Field id="email" label="Email">
          <input id="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field id="password" label="Password">
          <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        {needCode && (
          <Field id="mfa-code" label="Authenticator code (or a recovery code)">
            <input id="mfa-code" autoComplete="one-time-code" inputMode="text" required autoFocus value={code} onChange={(e) => setCode(e.target.value)} />
          </Field>
        )}
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
      {option && (
        <div className="sso">
          <p className="small">Your organisation signs in through its identity provider.</p>
          <button type="button" className="sso-button" data-testid="sso-button" disabled={busy} onClick={startSSO}>Sign in with {option.displayName}</button>
        </div>
      )}
    </main>
  );
}

/** The identity provider's redirect back: checks the state, finishes the sign-in, then opens the portal. */
export function SSOCallback({ api }: { api: Api }) {
  const [error, setError] = useState<string | unknown>(null);
  useEffect(() => {
    const kept = sessionStorage.getItem(SSO_STATE_KEY);
    sessionStorage.removeItem(SSO_STATE_KEY);
    const cb = readCallback(window.location.search, kept);
    if ("error" in cb) { setError(new GqlError(cb.error, "UNAUTHENTICATED")); return; }
    api.finishSSO(cb.state, cb.code).then(() => window.history.replaceState(null, "", "/"), setError);
  }, [api]);
  return (
    <main className="signin">
      <h1>spendgate</h1>
      {error ? <><ErrorBox error={error} /><a href="/">Back to sign-in</a></> : <p aria-busy="true">Signing in…</p>}
    </main>
  );
}
