import { useEffect, useState } from "react";
import type { Ctx } from "../App";
import { DASHBOARD, DIMENSION_BREAKDOWN, DIMENSION_NAMES, REPRICE, type RepriceResult } from "../gql";
import { formatUSD } from "../money";
import { allowedBuckets, BUCKET_LABELS, bucketLabel, RANGE_LABELS, resolveRange, type Bucket, type RangeKey } from "../range";
import {
  breakdownRows, dimensionNames, exportFileName, exportGroupBy, exportUrl, formatCount, rfc3339, seriesBars, seriesExportUrl,
  type Breakdown, type DimensionSources, type SeriesPoint, type Totals,
} from "../dashboard";
import { DownloadButton, Empty, ErrorBox, useDebounced, useLoad, when } from "../ui";

interface Dash {
  summary: Totals;
  series: SeriesPoint[];
  byProvider: Breakdown;
  byModel: Breakdown;
  byKey: Breakdown;
  unknownModels: { provider: string; model: string; requests: number; inputTokens: number; outputTokens: number; firstSeen: string; lastSeen: string }[];
  denials: { keys: string[]; labels: string[]; requests: number }[];
  deniedKeys: { keys: string[]; labels: string[]; requests: number }[];
}

const TOPS = [5, 10, 25, 50];
const DIM_KEY = "spendgate.dimension.";

export function Dashboard({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const [key, setKey] = useState<RangeKey>("7d");
  const [cf, setCf] = useState("");
  const [ct, setCt] = useState("");
  const [bucketChoice, setBucketChoice] = useState<Bucket | "">("");
  const [top, setTop] = useState(10);
  // "now" moves only on Refresh or a new range, so re-renders ask the same query.
  const [now, setNow] = useState(() => new Date());
  const [tick, setTick] = useState(0);
  const [dim, setDim] = useState(() => localStorage.getItem(DIM_KEY + t) ?? "");
  // Until the user picks one, the dimension shown is the one the tenant uses most.
  const [autoDim, setAutoDim] = useState(() => localStorage.getItem(DIM_KEY + t) === null);

  let range: { from: Date; to: Date } | null = null;
  let suggested: Bucket = "DAY";
  let rangeErr: unknown = null;
  try {
    const r = resolveRange(key, now, cf, ct);
    range = { from: r.from, to: r.to };
    suggested = r.bucket;
  } catch (e) {
    rangeErr = e;
  }
  const allowed = range ? allowedBuckets(range) : [];
  const bucket: Bucket = bucketChoice && allowed.includes(bucketChoice) ? bucketChoice : allowed.includes(suggested) ? suggested : allowed[0] ?? "DAY";
  const vars = range ? { t, from: rfc3339(range.from), to: rfc3339(range.to), bucket, top } : null;
  const depKey = JSON.stringify(vars) + "#" + tick;

  const { data, error, loading } = useLoad(async () => (vars ? ctx.api.request<Dash>(DASHBOARD, vars) : null), [depKey]);
  // Dimension names are looked up after the main figures, so they never delay them.
  const names = useLoad(async () => {
    if (!vars || !data) return null;
    return dimensionNames(await ctx.api.request<DimensionSources>(DIMENSION_NAMES, { t, from: vars.from, to: vars.to }));
  }, [depKey, !!data]);
  useEffect(() => {
    if (autoDim && !dim && names.data?.length) setDim(names.data[0]);
  }, [names.data, dim, autoDim]);
  // What the user types is asked for once they pause; the automatic pick at once.
  const dimTyped = useDebounced(dim.trim(), 300);
  const dimAsked = autoDim ? dim.trim() : dimTyped;
  const dimBreakdown = useLoad(async () => {
    if (!vars || !dimAsked || !data) return null;
    return (await ctx.api.request<{ spendBreakdown: Breakdown }>(DIMENSION_BREAKDOWN, { t, from: vars.from, to: vars.to, dim: dimAsked, top })).spendBreakdown;
  }, [depKey, dimAsked, !!data]);

  // Refresh asks again even when the range (whole hours) did not move.
  const refresh = () => { setNow(new Date()); setTick((n) => n + 1); };

  return (
    <section aria-labelledby="dash-h">
      <div className="row between">
        <h2 id="dash-h">Spend</h2>
        <form className="row controls" aria-label="Dashboard range" onSubmit={(e) => { e.preventDefault(); refresh(); }}>
          <label htmlFor="range">Range</label>
          <select id="range" value={key} onChange={(e) => { setKey(e.target.value as RangeKey); setNow(new Date()); }}>
            {(Object.keys(RANGE_LABELS) as RangeKey[]).map((k) => <option key={k} value={k}>{RANGE_LABELS[k]}</option>)}
          </select>
          {key === "custom" && <>
            <label htmlFor="from">From</label><input id="from" type="date" value={cf} onChange={(e) => setCf(e.target.value)} />
            <label htmlFor="to">To</label><input id="to" type="date" value={ct} onChange={(e) => setCt(e.target.value)} />
          </>}
          <label htmlFor="bucket">Bars</label>
          <select id="bucket" value={bucket} onChange={(e) => setBucketChoice(e.target.value as Bucket)}>
            {allowed.map((b) => <option key={b} value={b}>{BUCKET_LABELS[b]}</option>)}
          </select>
          <label htmlFor="top">Top</label>
          <select id="top" value={top} onChange={(e) => setTop(Number(e.target.value))}>
            {TOPS.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
          <button type="submit" className="secondary" aria-label="Refresh the dashboard">Refresh</button>
        </form>
      </div>
      {range && <p className="small" data-testid="range" data-from={rfc3339(range.from)} data-to={rfc3339(range.to)}>{when(range.from.toISOString())} – {when(range.to.toISOString())}</p>}
      <ErrorBox error={rangeErr} />
      <ErrorBox error={error} />
      {loading && !data && !error && <p aria-busy="true">Loading…</p>}
      {data && range && vars && (
        <div aria-busy={loading}>
          <Kpis s={data.summary} denied={data.denials.reduce((a, r) => a + r.requests, 0)} />
          {data.summary.requests === 0 && data.denials.length === 0 && (
            <Empty>No calls in this range yet. Send traffic through the gateway with one of your API keys; spend shows here within seconds.</Empty>
          )}
          <div className="card">
            <div className="row between">
              <h3>Spend over time</h3>
              <DownloadButton api={ctx.api} label="Download spend over time as CSV" text="CSV"
                url={seriesExportUrl(t, range, bucket)} name={exportFileName(bucket.toLowerCase(), range)} />
            </div>
            <SeriesChart range={range} bucket={bucket} points={data.series} />
          </div>
          <div className="cols">
            <BreakdownCard ctx={ctx} title="By provider" b={data.byProvider} range={range} groupBy={exportGroupBy("PROVIDER")} top={top} />
            <BreakdownCard ctx={ctx} title="By model" b={data.byModel} range={range} groupBy={exportGroupBy("MODEL")} top={top} />
            <BreakdownCard ctx={ctx} title="Top keys" b={data.byKey} range={range} groupBy={exportGroupBy("KEY")} top={top} />
            <div className="card" data-testid="breakdown-dimension" aria-busy={names.loading || dimBreakdown.loading || dimAsked !== dim.trim()}>
              <div className="row between">
                <h3><label htmlFor="dim">By dimension</label></h3>
                {dimAsked && dimBreakdown.data && dimBreakdown.data.groups.length > 0 && (
                  <DownloadButton api={ctx.api} label={`Download spend by ${dimAsked} as CSV`} text="CSV"
                    url={exportUrl(t, range, exportGroupBy("DIMENSION", dimAsked), top)} name={exportFileName(exportGroupBy("DIMENSION", dimAsked), range)} />
                )}
              </div>
              <input id="dim" list="dim-names" placeholder="team, app, env…" value={dim} autoComplete="off"
                onChange={(e) => { setDim(e.target.value); setAutoDim(false); localStorage.setItem(DIM_KEY + t, e.target.value); }} />
              <datalist id="dim-names">{(names.data ?? []).map((n) => <option key={n} value={n} />)}</datalist>
              <ErrorBox error={dimBreakdown.error} />
              {!dim.trim() && <Empty>Name a dimension (sent as x-spendgate-dim-&lt;name&gt; or a key default) to split spend by its values.</Empty>}
              {dimAsked && dimBreakdown.data && <BreakdownRows b={dimBreakdown.data} empty={`No spend carries the dimension “${dimAsked}” in this range.`} />}
            </div>
          </div>
          <div className="cols">
            <UnknownModels rows={data.unknownModels} ctx={ctx} range={range} onRepriced={refresh} />
            <Denials byReason={data.denials} byKey={data.deniedKeys} />
          </div>
        </div>
      )}
    </section>
  );
}

function Kpis({ s, denied }: { s: Totals; denied: number }) {
  return (
    <div className="kpis">
      <div className="card kpi">
        <span className="small">Spend (your prices)</span>
        <strong data-testid="total" data-value={s.tenantCost}>{formatUSD(s.tenantCost)}</strong>
        {s.listCost !== s.tenantCost && <span className="small">list price {formatUSD(s.listCost)}</span>}
      </div>
      <div className="card kpi"><span className="small">Requests</span><strong data-testid="requests">{formatCount(s.requests)}</strong>
        {s.unpricedRequests > 0 && <span className="small warn-text">{formatCount(s.unpricedRequests)} without a price (not in the sums)</span>}</div>
      <div className="card kpi"><span className="small">Tokens in / out</span><strong>{formatCount(s.inputTokens)} / {formatCount(s.outputTokens)}</strong></div>
      <div className="card kpi"><span className="small">Denied calls</span><strong data-testid="denied">{formatCount(denied)}</strong></div>
    </div>
  );
}

function BreakdownCard({ ctx, title, b, range, groupBy, top }: { ctx: Ctx; title: string; b: Breakdown; range: { from: Date; to: Date }; groupBy: string; top: number }) {
  return (
    <div className="card" data-testid={`breakdown-${groupBy}`}>
      <div className="row between">
        <h3>{title}</h3>
        {b.groups.length > 0 && (
          <DownloadButton api={ctx.api} label={`Download ${title.toLowerCase()} as CSV`} text="CSV"
            url={exportUrl(ctx.tenant.id, range, groupBy, top)} name={exportFileName(groupBy, range)} />
        )}
      </div>
      <BreakdownRows b={b} empty="No spend in this range." />
    </div>
  );
}

function BreakdownRows({ b, empty }: { b: Breakdown; empty: string }) {
  const rows = breakdownRows(b);
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <ul className="bars">
      {rows.map((r) => (
        <li key={r.id} className={r.other ? "other" : ""} title={r.detail || undefined}>
          <span className="label">{r.label}</span>
          <span className="bar" aria-hidden="true"><span style={{ width: `${r.width}%` }} /></span>
          <span className="amt" data-value={r.cost}>{formatUSD(r.cost)}</span>
          <span className="small reqs">{formatCount(r.requests)} req{r.unpriced > 0 ? `, ${formatCount(r.unpriced)} unpriced` : ""}</span>
        </li>
      ))}
    </ul>
  );
}

function SeriesChart({ range, bucket, points }: { range: { from: Date; to: Date }; bucket: Bucket; points: SeriesPoint[] }) {
  if (points.length === 0) return <Empty>No spend in this range.</Empty>;
  const bars = seriesBars(range, bucket, points);
  const W = 600, H = 160, bw = W / bars.length;
  return (
    <>
      <svg viewBox={`0 0 ${W} ${H + 20}`} role="img" aria-label={`${BUCKET_LABELS[bucket]} spend, ${bars.length} bars`} className="chart">
        {bars.map((b, i) => (
          <rect key={i} x={i * bw + bw * 0.1} y={H - (b.height * H) / 100} width={Math.max(bw * 0.8, 1)} height={(b.height * H) / 100}>
            <title>{bucketLabel(b.start, bucket)}: {formatUSD(b.cost)}, {formatCount(b.requests)} requests</title>
          </rect>
        ))}
        <line x1="0" x2={W} y1={H} y2={H} className="axis" />
        <text x="0" y={H + 15}>{bucketLabel(bars[0].start, bucket)}</text>
        <text x={W} y={H + 15} textAnchor="end">{bucketLabel(bars[bars.length - 1].start, bucket)}</text>
      </svg>
      <details>
        <summary>Show as a table</summary>
        <div className="table-wrap">
          <table>
            <thead><tr><th>{BUCKET_LABELS[bucket].replace(/ly$/, "").replace("Dai", "Day")}</th><th>Spend</th><th>Requests</th></tr></thead>
            <tbody>{bars.filter((b) => b.requests > 0).map((b) => <tr key={b.start.getTime()}><td>{bucketLabel(b.start, bucket)}</td><td>{formatUSD(b.cost)}</td><td>{formatCount(b.requests)}</td></tr>)}</tbody>
          </table>
        </div>
      </details>
    </>
  );
}

function UnknownModels({ rows, ctx, range, onRepriced }: { rows: Dash["unknownModels"]; ctx: Ctx; range: { from: Date; to: Date }; onRepriced: () => void }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<RepriceResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const canManage = ctx.tenant.role !== "VIEWER";
  const reprice = async () => {
    setBusy(true); setError(null); setResult(null);
    try {
      const d = await ctx.api.request<{ repriceUnpricedEvents: RepriceResult }>(REPRICE,
        { t: ctx.tenant.id, from: range.from.toISOString(), to: range.to.toISOString() });
      setResult(d.repriceUnpricedEvents);
      onRepriced();
    } catch (e) { setError(e); } finally { setBusy(false); }
  };
  return (
    <div className="card" data-testid="unknown-models">
      <h3>Unknown models</h3>
      <ErrorBox error={error} />
      {result && <p role="status" data-testid="reprice-result">Re-priced {formatCount(result.repriced)} of {formatCount(result.examined)} calls
        ({formatUSD(result.tenantCost)}); {formatCount(result.stillUnpriced)} still have no price.</p>}
      {rows.length === 0 ? <Empty>Every model in this range had a price.</Empty> : (
        <>
          <p className="small">These calls have no price, so their cost is missing from the sums. Add a tenant pricing override
            (Pricing), then re-price them.</p>
          {canManage && <button onClick={reprice} disabled={busy} aria-busy={busy}>{busy ? "Re-pricing…" : "Re-price this range"}</button>}
          <div className="table-wrap"><table>
            <thead><tr><th>Provider</th><th>Model</th><th>Requests</th><th>Tokens in / out</th><th>Last seen</th></tr></thead>
            <tbody>{rows.map((u) => (
              <tr key={u.provider + "/" + u.model}><td>{u.provider}</td><td>{u.model}</td><td>{formatCount(u.requests)}</td>
                <td>{formatCount(u.inputTokens)} / {formatCount(u.outputTokens)}</td><td>{when(u.lastSeen)}</td></tr>
            ))}</tbody>
          </table></div>
        </>
      )}
    </div>
  );
}

function Denials({ byReason, byKey }: { byReason: Dash["denials"]; byKey: Dash["deniedKeys"] }) {
  return (
    <div className="card" data-testid="denials">
      <h3>Denials</h3>
      {byReason.length === 0 ? <Empty>No call was denied in this range.</Empty> : (
        <div className="two">
          <div><h4>By reason</h4><ul className="plain">{byReason.map((d) => <li key={d.keys.join()}>{d.labels.join(" · ").replace(/_/g, " ")}: <strong>{formatCount(d.requests)}</strong></li>)}</ul></div>
          <div><h4>By key</h4><ul className="plain">{byKey.map((d) => <li key={d.keys.join()}>{d.labels.join(" · ") || "(no key)"}: <strong>{formatCount(d.requests)}</strong></li>)}</ul></div>
        </div>
      )}
    </div>
  );
}
