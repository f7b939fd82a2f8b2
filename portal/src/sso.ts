// Single sign-on in the browser: the state kept between leaving for the
// identity provider and coming back, and the callback's checks.

export const SSO_STATE_KEY = "spendgate.sso.state";
export const SSO_CALLBACK_PATH = "/sso/callback";

export interface Callback { code: string; state: string }

/**
 * Reads the provider's redirect (?code&state, or ?error) and checks the
 * state against the one this browser kept when it left: a redirect this
 * browser did not start (login CSRF) is refused before anything is sent.
 */
export function readCallback(search: string, kept: string | null): Callback | { error: string } {
  const q = new URLSearchParams(search);
  const err = q.get("error");
  if (err) return { error: `The identity provider refused the sign-in: ${q.get("error_description") || err}` };
  const code = q.get("code") ?? "";
  const state = q.get("state") ?? "";
  if (!code || !state) return { error: "The identity provider's answer lacks a code; start the sign-in again." };
  if (!kept || kept !== state) return { error: "This sign-in was not started in this browser (or was already used); start it again." };
  return { code, state };
}

/** The email's domain when it looks like an email worth asking about. */
export function domainOf(email: string): string {
  const m = /^[^@\s]+@([^@\s]+\.[^@\s]+)$/.exec(email.trim().toLowerCase());
  return m ? m[1] : "";
}
