import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { GqlError, hintFor, type Api } from "./gql";
import { exactTitle, formatCents } from "./money";

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const code = error instanceof GqlError ? error.code : "";
  const msg = error instanceof Error ? error.message : String(error);
  return (
    <div className="error" role="alert">
      <strong>{msg}</strong>
      {code && <span className="code"> [{code}]</span>}
      {code && hintFor(code) && <div className="hint">{hintFor(code)}</div>}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/** Loads data with a function; reload() re-runs it. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const reload = useCallback(() => {
    const n = ++seq.current;
    setLoading(true);
    fn().then(
      (d) => { if (n === seq.current) { setData(d); setError(null); setLoading(false); } },
      (e) => { if (n === seq.current) { setError(e); setLoading(false); } },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(reload, [reload]);
  return { data, error, loading, reload };
}

/** The value once it stopped changing for ms (typing in a search box asks once). */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setV(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return v;
}

export function Field({ label, error, children, id }: { label: string; error?: string; children: ReactNode; id: string }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {error && <div className="field-error" id={id + "-err"} role="alert">{error}</div>}
    </div>
  );
}

export function when(t: string | null | undefined): string {
  if (!t) return "—";
  const d = new Date(t);
  return isNaN(d.getTime()) ? t : d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

/**
 * Downloads a file the API serves behind the bearer token (the CSV export):
 * fetched with the session, then saved through a temporary object URL, since
 * a plain link cannot carry the Authorization header.
 */
export function DownloadButton({ api, url, name, label, text }: { api: Api; url: string; name: string; label: string; text: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <span className="download">
      <button type="button" className="secondary small-btn" aria-label={label} data-href={url} disabled={busy} onClick={async () => {
        setBusy(true);
        setError(null);
        try {
          const blob = await api.download(url);
          const href = URL.createObjectURL(blob);
          const a = document.createElement("a");
          a.href = href;
          a.download = name;
          document.body.appendChild(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(href), 60_000);
        } catch (e) {
          setError(e);
        } finally {
          setBusy(false);
        }
      }}>{busy ? "…" : text}</button>
      <ErrorBox error={error} />
    </span>
  );
}

/**
 * An amount of Money as people read it: rounded to cents, the exact figure on
 * hover (title) and in data-value for tests and copy. Use it for every
 * headline, row and chart label; exports keep the exact figure.
 */
export function Money({ value, testid, className }: { value: string | null | undefined; testid?: string; className?: string }) {
  return <span className={className} data-testid={testid} data-value={value ?? ""} title={exactTitle(value)}>{formatCents(value)}</span>;
}
