import { useState } from "react";
import type { Ctx } from "../App";
import { CONFIRM_TOTP, DISABLE_TOTP, ENROL_TOTP, MY_MFA, REGENERATE_CODES, type ResultOf, type VariablesOf } from "../gql";
import type { EnrolTotpMutation, TypedDocumentString } from "../gql/graphql";
import { ErrorBox, Field, useLoad } from "../ui";

type Enrolment = EnrolTotpMutation["enrolTOTP"];

/** The signed-in user's two-factor authentication (TOTP with an authenticator app, recovery codes). */
export function Account({ ctx }: { ctx: Ctx }) {
  const { data, error, reload } = useLoad(() => ctx.api.request(MY_MFA), []);
  const [enrol, setEnrol] = useState<Enrolment | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const [actErr, setActErr] = useState<unknown>(null);
  const run = async <D extends TypedDocumentString<any, any>>(q: D, v: VariablesOf<D>): Promise<ResultOf<D> | null> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    setActErr(null);
    try { const d = await ctx.api.send(q, v); reload(); return d; } catch (e) { setActErr(e); return null; }
  };
  const on = data?.myMFA.totpEnabled;
  return (
    <section aria-labelledby="account-h">
      <h2 id="account-h">Account</h2>
      <p className="small">Signed in as {ctx.api.session?.user.email}.</p>
      <ErrorBox error={error || actErr} />
      {codes && (
        <div className="card secret" role="status" data-testid="recovery-codes">
          <h3>Recovery codes</h3>
          <p>Keep these somewhere safe: each signs you in once if you lose your phone. They are shown only now.</p>
          <ul className="codes">{codes.map((c) => <li key={c}><code>{c}</code></li>)}</ul>
          <button className="secondary" onClick={() => setCodes(null)}>I saved them</button>
        </div>
      )}
      <div className="card" aria-label="Two-factor authentication">
        <h3>Two-factor authentication</h3>
        {data && !on && !enrol && (
          <><p>Off. Turn it on to be asked for a code from an authenticator app at sign-in.</p>
            <button onClick={async () => { const d = await run(ENROL_TOTP, {}); if (d) setEnrol(d.enrolTOTP); }}>Turn on</button></>
        )}
        {enrol && !on && (
          <form aria-label="Confirm authenticator" onSubmit={async (e) => {
            e.preventDefault();
            const d = await run(CONFIRM_TOTP, { c: code.trim() });
            if (d) { setCodes(d.confirmTOTP); setEnrol(null); setCode(""); }
          }}>
            <p>Scan this code with your authenticator app, or type the key.</p>
            <img src={enrol.qrCode} alt={`QR code for ${enrol.otpauthUri}`} width={200} height={200} />
            <p>Key: <code data-testid="totp-secret">{enrol.secret}</code></p>
            <Field id="totp-code" label="Code shown by the app"><input id="totp-code" autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value)} /></Field>
            <button type="submit">Confirm</button>
          </form>
        )}
        {on && (
          <>
            <p data-testid="mfa-on">On. {data?.myMFA.recoveryCodesLeft} recovery codes left.</p>
            <form aria-label="Manage two-factor authentication" onSubmit={(e) => e.preventDefault()}>
              <Field id="mfa-manage-code" label="Current code (or a recovery code)"><input id="mfa-manage-code" value={code} onChange={(e) => setCode(e.target.value)} /></Field>
              <Field id="mfa-manage-pw" label="Password (to turn it off)"><input id="mfa-manage-pw" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} /></Field>
              <div className="actions">
                <button type="button" className="secondary" onClick={async () => { const d = await run(REGENERATE_CODES, { c: code.trim() }); if (d) { setCodes(d.regenerateRecoveryCodes); setCode(""); } }}>New recovery codes</button>
                <button type="button" className="secondary" onClick={async () => { if (await run(DISABLE_TOTP, { p: password, c: code.trim() })) { setCode(""); setPassword(""); } }}>Turn off</button>
              </div>
            </form>
          </>
        )}
      </div>
    </section>
  );
}
