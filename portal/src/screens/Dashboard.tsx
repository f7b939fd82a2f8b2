import { useEffect, useState } from "react";
import type { Ctx } from "../App";
import { BUDGET_BURN, BUDGET_STATUSES, DASHBOARD, DIMENSION_BREAKDOWN, DIMENSION_NAMES, REPRICE, SPEND_CHART, type RepriceResult, type ResultOf } from "../gql";
import { formatCents, fromNano, toNano } from "../money";
import { allowedBuckets, BUCKET_LABELS, bucketLabel, bucketTick, RANGE_LABELS, resolveRange, type Bucket, type RangeKey } from "../range";
import {
  breakdownRows, changePercent, dimensionNames, exportFileName, exportGroupBy, exportUrl, formatCount, previousLine, previousRange, rfc3339,
  seriesExportUrl, stackLayers, type Breakdown, type DimensionSources, type GroupedPoint, type SeriesPoint, type Totals,
} from "../dashboard";
import { eventsHref, groupQuery } from "../drill";
import { BurnChart, TimeChart } from "../chart";
import { budgetSpendFilter, burnBucket, burnLine, forecastText, periodWord, statusView, type BudgetStatus } from "../budgets";
import { DownloadButton, Empty, ErrorBox, Money, useDebounced, useLoad, when } from "../ui";

type Dash = ResultOf<typeof DASHBOARD>;

type Range = { from: Date; to: Date };
const TOPS = [5, 10, 25, 50];
const DIM_KEY = "spendgate.dimension.";
const STACK_KEY = "spendgate.stackBy";
/** What the spend chart can be stacked by: the API's group-by field and the drill-down's name for it. */
const STACKS = { PROVIDER: "Provider", MODEL: "Model", KEY: "API key", TEAM: "Team", PROJECT: "Project", NONE: "Nothing (total)" } as const;
type StackBy = keyof typeof STACKS;

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
  // Until the user picks one, the dimension shown is the one that splits spend most.
  const [autoDim, setAutoDim] = useState(() => localStorage.getItem(DIM_KEY + t) === null);

  let range: Range | null = null;
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

  const { data, error, loading } = useLoad(async () => (vars ? ctx.api.request(DASHBOARD, vars) : null), [depKey]);
  // Dimension names are looked up after the main figures, so they never delay them.
  const names = useLoad(async () => {
    if (!vars || !data) return null;
    return dimensionNames(await ctx.api.request(DIMENSION_NAMES, { t, from: vars.from, to: vars.to }));
  }, [depKey, !!data]);
  useEffect(() => {
    if (autoDim && !dim && names.data?.length) setDim(names.data[0]);
  }, [names.data, dim, autoDim]);
  // What the user types is asked for once they pause; the automatic pick at once.
  const dimTyped = useDebounced(dim.trim(), 300);
  const dimAsked = autoDim ? dim.trim() : dimTyped;
  const dimBreakdown = useLoad(async () => {
    if (!vars || !dimAsked || !data) return null;
    return (await ctx.api.request(DIMENSION_BREAKDOWN, { t, from: vars.from, to: vars.to, dim: dimAsked, top })).spendBreakdown;
  }, [depKey, dimAsked, !!data]);
  const budgets = useLoad(() => ctx.api.request(BUDGET_STATUSES, { t }), [t, tick]);

  // Refresh asks again even when the range (whole hours) did not move.
  const refresh = () => { setNow(new Date()); setTick((n) => n + 1); };
  const rangeText = range ? { from: rfc3339(range.from), to: rfc3339(range.to) } : undefined;

  return (
    <section aria-labelledby="dash-h">
      <div className="row between">
        <h2 id="dash-h">Spend</h2>
        <form className="row controls" aria-label="Dashboard range" onSubmit={(e) => { e.preventDefault(); refresh(); }}>
          <label htmlFor="range">Range</label>
          {/* A new range takes its own bucket size again (hours ≤ 2 days, days ≤ 90, weeks beyond). */}
          <select id="range" value={key} onChange={(e) => { setKey(e.target.value as RangeKey); setBucketChoice(""); setNow(new Date()); }}>
            {(Object.keys(RANGE_LABELS) as RangeKey[]).map((k) => <option key={k} value={k}>{RANGE_LABELS[k]}</option>)}
          </select>
          {key === "custom" && <>
            <label htmlFor="from">From</label><input id="from" type="date" value={cf} onChange={(e) => { setCf(e.target.value); setBucketChoice(""); }} />
            <label htmlFor="to">To</label><input id="to" type="date" value={ct} onChange={(e) => { setCt(e.target.value); setBucketChoice(""); }} />
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
          <SpendChart ctx={ctx} range={range} bucket={bucket} tick={tick} points={data.series} />
          <BudgetsCard ctx={ctx} statuses={budgets.data?.budgetStatuses ?? null} error={budgets.error} />
          <div className="breakdowns">
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
              {dimAsked && dimBreakdown.data && <BreakdownRows b={dimBreakdown.data} groupBy={exportGroupBy("DIMENSION", dimAsked)} range={rangeText}
                empty={`No spend carries the dimension “${dimAsked}” in this range.`} />}
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
        <strong><Money testid="total" value={s.tenantCost} /></strong>
        {s.listCost !== s.tenantCost && <span className="small">list price <Money value={s.listCost} /></span>}
      </div>
      <div className="card kpi"><span className="small">Requests</span><strong data-testid="requests">{formatCount(s.requests)}</strong>
        {s.unpricedRequests > 0 && <span className="small warn-text">{formatCount(s.unpricedRequests)} without a price (not in the sums)</span>}</div>
      <div className="card kpi"><span className="small">Tokens in / out</span><strong>{formatCount(s.inputTokens)} / {formatCount(s.outputTokens)}</strong></div>
      <div className="card kpi"><span className="small">Denied calls</span><strong data-testid="denied">{formatCount(denied)}</strong></div>
    </div>
  );
}


/** Spend over time, stacked by a group-by, against the period before; a bar opens its calls. */
function SpendChart({ ctx, range, bucket, tick, points }: { ctx: Ctx; range: Range; bucket: Bucket; tick: number; points: SeriesPoint[] }) {
  const t = ctx.tenant.id;
  const [stackBy, setStackBy] = useState<StackBy>(() => (localStorage.getItem(STACK_KEY) as StackBy) in STACKS ? localStorage.getItem(STACK_KEY) as StackBy : "PROVIDER");
  const prev = previousRange(range);
  const vars = { t, from: rfc3339(range.from), to: rfc3339(range.to), pfrom: rfc3339(prev.from), bucket, group: stackBy === "NONE" ? null : [{ field: stackBy }] };
  const chart = useLoad(() => ctx.api.request(SPEND_CHART, vars), [JSON.stringify(vars), tick]);
  const stack = chart.data ? stackLayers(range, bucket, chart.data.stacked) : null;
  const before = chart.data ? previousLine(range, bucket, chart.data.previous) : null;
  const nowTotal = stack ? stack.totals.reduce((a, b) => a + b, 0n) : 0n;
  const prevTotal = before ? before.reduce((a, b) => a + b, 0n) : 0n;
  const change = changePercent(nowTotal, prevTotal);
  const field = stackBy.toLowerCase();
  const rangeText = { from: rfc3339(range.from), to: rfc3339(range.to) };
  return (
    <div className="card" data-testid="spend-chart" aria-busy={chart.loading}>
      <div className="row between">
        <h3>Spend over time</h3>
        <div className="row controls">
          <label htmlFor="stack-by">Stack by</label>
          <select id="stack-by" value={stackBy} onChange={(e) => { setStackBy(e.target.value as StackBy); localStorage.setItem(STACK_KEY, e.target.value); }}>
            {(Object.keys(STACKS) as StackBy[]).map((k) => <option key={k} value={k}>{STACKS[k]}</option>)}
          </select>
          <DownloadButton api={ctx.api} label="Download spend over time as CSV" text="CSV"
            url={seriesExportUrl(t, range, bucket)} name={exportFileName(bucket.toLowerCase(), range)} />
        </div>
      </div>
      {stack && before && (
        <p className="small" data-testid="vs-previous">
          <Money value={fromNano(nowTotal)} /> in this range; <Money value={fromNano(prevTotal)} /> in the {durationWords(range)} before
          {change != null && <> (<span className={change > 0 ? "warn-text" : ""} data-testid="change">{changeText(change)}</span>)</>}.
        </p>
      )}
      <ErrorBox error={chart.error} />
      {chart.loading && !chart.data && <p aria-busy="true">Loading the chart…</p>}
      {stack && (stack.layers.length === 0 && prevTotal === 0n ? <Empty>No spend in this range.</Empty> : (
        <TimeChart starts={stack.starts} layers={stack.layers} labelOf={(d) => bucketLabel(d, bucket)} tickOf={(d) => bucketTick(d, bucket)}
          title={`${BUCKET_LABELS[bucket]} spend${stackBy === "NONE" ? "" : " by " + STACKS[stackBy].toLowerCase()}, ${stack.starts.length} bars, compared with the previous period`}
          compare={{ label: "Previous period", nano: before! }}
          onPick={(id, start) => {
            const q = stackBy === "NONE" ? {} : groupQuery(field, id.split("\u0000")[0]);
            if (q === null) return;
            const end = new Date(Math.min(stack.starts[stack.starts.findIndex((s) => s.getTime() === start.getTime()) + 1]?.getTime() ?? range.to.getTime(), range.to.getTime()));
            window.location.hash = eventsHref({ ...q, from: rfc3339(start < range.from ? range.from : start), to: rfc3339(end) });
          }} />
      ))}
      <p className="small">Click a bar to list its calls. Legend entries show or hide a layer.</p>
      <details>
        <summary>Show as a table</summary>
        <div className="table-wrap">
          <table>
            <thead><tr><th>{bucket === "DAY" ? "Day" : BUCKET_LABELS[bucket].replace(/ly$/, "")}</th><th>Spend</th><th>Requests</th></tr></thead>
            <tbody>{seriesRows(range, bucket, points).map((r) => (
              <tr key={r.start}><td>{r.label}</td><td><Money value={r.cost} /></td><td>{formatCount(r.requests)}</td></tr>
            ))}</tbody>
          </table>
        </div>
      </details>
      <a className="small" href={eventsHref(rangeText)}>All calls in this range →</a>
    </div>
  );
}

function seriesRows(range: Range, bucket: Bucket, points: SeriesPoint[]) {
  const s = stackLayers(range, bucket, points);
  return s.starts.map((d, i) => ({ start: d.toISOString(), label: bucketLabel(d, bucket), cost: fromNano(s.totals[i]), requests: s.requests[i] })).filter((r) => r.requests > 0);
}

/** "+12%", "-40%"; past +999% the multiple reads better ("14× as much"). */
function changeText(pct: number): string {
  if (pct > 999) return `${formatCount(Math.round(pct / 100) + 1)}× as much`;
  return `${pct > 0 ? "+" : ""}${pct}%`;
}

function durationWords(r: Range): string {
  const h = Math.round((r.to.getTime() - r.from.getTime()) / 3600_000);
  return h % 24 === 0 ? `${h / 24} day${h === 24 ? "" : "s"}` : `${h} hours`;
}

/** Every budget in its period: spent, forecast at period end and how much of the period has passed. */
function BudgetsCard({ ctx, statuses, error }: { ctx: Ctx; statuses: BudgetStatus[] | null; error: unknown }) {
  return (
    <div className="card" data-testid="dash-budgets">
      <div className="row between"><h3>Budgets</h3><a className="small" href="#/budgets">Manage budgets →</a></div>
      <ErrorBox error={error} />
      {statuses && statuses.length === 0 && <Empty>No budgets yet. Create one under Budgets to be alerted before spend runs over.</Empty>}
      {statuses && statuses.length > 0 && (
        <ul className="burn">
          {statuses.map((s) => {
            const v = statusView(s);
            const elapsed = elapsedPercent(s.periodStart, s.periodEnd, new Date());
            return (
              <li key={s.budget.id} data-budget={s.budget.name}>
                <div className="burn-head">
                  <span className="burn-name" title={s.budget.name}>{s.budget.name}</span>
                  <span className="small">{periodWord(s.budget.period)}{s.budget.hard && <span className="badge hard">hard cap</span>}{s.blocked && <span className="badge revoked">blocked</span>}</span>
                </div>
                <div className="progress" role="progressbar" aria-label={`${s.budget.name}: ${v.percent}% spent, ${elapsed}% of the period passed`}
                  aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.min(v.percent, 100)}>
                  <div className={`spent ${v.level}`} style={{ width: `${v.spentWidth}%` }} />
                  {v.reservedWidth > 0 && <div className="reserved" style={{ width: `${v.reservedWidth}%` }} />}
                  <span className="elapsed" style={{ left: `${elapsed}%` }} title={`${elapsed}% of the period has passed`} />
                  {v.forecastAt != null && <span className="forecast" style={{ left: `${v.forecastAt}%` }} title="forecast at period end" />}
                </div>
                <BudgetBurn ctx={ctx} s={s} />
                <div className="small" data-testid="burn-status">
                  <Money value={s.spent} /> of <Money value={s.budget.amount} /> ({v.percent}%) · {elapsed}% of the period gone ·{" "}
                  <span className={v.forecastOver || s.willExceedOn ? "warn-text" : ""} title={`forecast $${s.forecast} exactly, period ends ${when(s.periodEnd)}`}>{forecastText(s, formatCents)}{v.forecastOver
                    ? ` — over by ${formatOver(s.forecast, s.budget.amount)}` : ""}</span>
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

/** The burn-down of one budget's period: its spend (as analytics counts it for the budget's scope) and the API's forecast. */
function BudgetBurn({ ctx, s }: { ctx: Ctx; s: BudgetStatus }) {
  const bucket = burnBucket(s.budget.period);
  const now = new Date();
  const vars = { t: ctx.tenant.id, from: s.periodStart, to: rfc3339(new Date(Math.min(Date.parse(s.periodEnd), Math.ceil(now.getTime() / 3600_000) * 3600_000))),
    bucket, f: budgetSpendFilter(s.budget) };
  const series = useLoad(() => ctx.api.request(BUDGET_BURN, vars), [JSON.stringify(vars)]);
  if (!series.data) return series.error ? <ErrorBox error={series.error} /> : null;
  const b = burnLine(new Date(s.periodStart), new Date(s.periodEnd), now, bucket === "HOUR" ? 3600_000 : 86_400_000, series.data.spendTimeSeries, s.forecast,
    { low: s.forecastLow, high: s.forecastHigh });
  return <BurnChart starts={b.starts} spent={b.spent} forecast={b.forecast} low={b.low} high={b.high} amount={toNano(s.budget.amount)} tickOf={(d) => bucketTick(d, bucket)}
    title={`${s.budget.name}: spend this period against ${formatCents(s.budget.amount)}, forecast ${formatCents(s.forecast)} at period end`} />;
}

function formatOver(forecast: string, amount: string): string {
  const d = toNano(forecast) - toNano(amount);
  return formatCents(fromNano(d > 0n ? d : 0n));
}

/** How much of [start, end) lies before now, in whole percent 0..100. */
export function elapsedPercent(start: string, end: string, now: Date): number {
  const s = Date.parse(start), e = Date.parse(end);
  if (!(e > s)) return 0;
  return Math.max(0, Math.min(100, Math.floor(((now.getTime() - s) * 100) / (e - s))));
}

function BreakdownCard({ ctx, title, b, range, groupBy, top }: { ctx: Ctx; title: string; b: Breakdown; range: Range; groupBy: string; top: number }) {
  return (
    <div className="card" data-testid={`breakdown-${groupBy}`}>
      <div className="row between">
        <h3>{title}</h3>
        {b.groups.length > 0 && (
          <DownloadButton api={ctx.api} label={`Download ${title.toLowerCase()} as CSV`} text="CSV"
            url={exportUrl(ctx.tenant.id, range, groupBy, top)} name={exportFileName(groupBy, range)} />
        )}
      </div>
      <BreakdownRows b={b} groupBy={groupBy} range={{ from: rfc3339(range.from), to: rfc3339(range.to) }} empty="No spend in this range." />
    </div>
  );
}

/** Horizontal bars, one per group; a group's label opens its calls in the event list. */
function BreakdownRows({ b, empty, groupBy, range }: { b: Breakdown; empty: string; groupBy: string; range?: { from: string; to: string } }) {
  const rows = breakdownRows(b);
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <ul className="bars">
      {rows.map((r) => {
        const q = r.other ? null : groupQuery(groupBy, r.id.split("\u0000")[0], range);
        const name = r.detail ? `${r.label} (${r.detail})` : r.label;
        return (
          <li key={r.id} className={r.other ? "other" : ""}>
            {q ? <a className="label" href={eventsHref(q)} title={`${name}: list these calls`}>{r.label}</a> : <span className="label" title={name}>{r.label}</span>}
            <span className="bar" aria-hidden="true"><span style={{ width: `${r.width}%` }} /></span>
            <Money className="amt" value={r.cost} />
            <span className="small reqs">{formatCount(r.requests)} req{r.unpriced > 0 ? `, ${formatCount(r.unpriced)} unpriced` : ""}</span>
          </li>
        );
      })}
    </ul>
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
      const d = await ctx.api.request(REPRICE,
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
        (<Money value={result.tenantCost} />); {formatCount(result.stillUnpriced)} still have no price.
        {result.stillUnpriced > 0 && <RepriceWhy result={result} models={rows} />}</p>}
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

/** Why calls stayed unpriced: said plainly, because "0 of 36" alone sends people guessing. */
function RepriceWhy({ result, models }: { result: RepriceResult; models: Dash["unknownModels"] }) {
  const names = models.map((m) => `${m.provider}/${m.model}`).slice(0, 5).join(", ");
  return (
    <span className="block small" data-testid="reprice-why">
      {result.repriced === 0 ? "No call could be priced. " : "Some calls could not be priced. "}
      A call is priced only when a catalogue price or one of your overrides covers its provider and model{names ? ` (${names})` : ""} at
      the time of the call (an override prices calls from its “From” date on), with the rates the call needs — for a model the catalogue
      does not know, the override must give at least the input and the output rate. Check the override under Pricing, then re-price again.
    </span>
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
