import { useState } from "react";
import type { Ctx } from "../App";
import { DASHBOARD, isSchemaMismatch } from "../gql";
import { formatUSD, toNano } from "../money";
import { buckets, RANGE_LABELS, resolveRange, type RangeKey, type TimeRange } from "../range";
import { Empty, ErrorBox, useLoad } from "../ui";

interface Row { label: string; cost: string; requests: number }
interface Dash {
  spendTotal: string;
  spendSeries: { start: string; cost: string }[];
  byProvider: Row[]; byModel: Row[]; byKey: Row[];
  unknownModels: { provider: string; model: string; requests: number }[];
  denials: { reason: string; requests: number }[];
}

export function Dashboard({ ctx }: { ctx: Ctx }) {
  const [key, setKey] = useState<RangeKey>("7d");
  const [cf, setCf] = useState("");
  const [ct, setCt] = useState("");
  let range: TimeRange | null = null;
  let rangeErr: unknown = null;
  try { range = resolveRange(key, new Date(), cf, ct); } catch (e) { rangeErr = e; }
  const from = range?.from.toISOString().slice(0, 16), to = range?.to.toISOString().slice(0, 13);
  const { data, error, loading } = useLoad(async () => {
    if (!range) return null;
    return ctx.api.request<Dash>(DASHBOARD, { t: ctx.tenant.id, from: range.from.toISOString(), to: range.to.toISOString(), bucket: range.bucket });
  }, [ctx.tenant.id, key, cf, ct, from, to]);
  const unsupported = isSchemaMismatch(error);
  return (
    <section aria-labelledby="dash-h">
      <div className="row between">
        <h2 id="dash-h">Spend</h2>
        <div className="row" role="group" aria-label="Time range">
          <label htmlFor="range" className="sr-only">Range</label>
          <select id="range" value={key} onChange={(e) => setKey(e.target.value as RangeKey)}>
            {(Object.keys(RANGE_LABELS) as RangeKey[]).map((k) => <option key={k} value={k}>{RANGE_LABELS[k]}</option>)}
          </select>
          {key === "custom" && <>
            <label htmlFor="from">From</label><input id="from" type="date" value={cf} onChange={(e) => setCf(e.target.value)} />
            <label htmlFor="to">To</label><input id="to" type="date" value={ct} onChange={(e) => setCt(e.target.value)} />
          </>}
        </div>
      </div>
      <ErrorBox error={rangeErr} />
      {unsupported ? <Empty>Spend analytics are not available on this server yet.</Empty> : <ErrorBox error={error} />}
      {loading && !data && <p aria-busy="true">Loading…</p>}
      {data && range && (
        <>
          <div className="kpis">
            <div className="card kpi"><span className="small">Total spend</span><strong data-testid="total">{formatUSD(data.spendTotal)}</strong></div>
            <div className="card kpi"><span className="small">Requests</span><strong>{data.byProvider.reduce((a, r) => a + r.requests, 0)}</strong></div>
            <div className="card kpi"><span className="small">Denied</span><strong>{data.denials.reduce((a, r) => a + r.requests, 0)}</strong></div>
          </div>
          <div className="card"><h3>Spend over time</h3><SeriesChart range={range} points={data.spendSeries} /></div>
          <div className="cols">
            <Breakdown title="By provider" rows={data.byProvider} />
            <Breakdown title="By model" rows={data.byModel} />
            <Breakdown title="Top keys" rows={data.byKey} />
          </div>
          <div className="cols">
            <div className="card"><h3>Unknown models</h3>{data.unknownModels.length === 0 ? <Empty>Every model had a price.</Empty> :
              <ul>{data.unknownModels.map((u) => <li key={u.provider + u.model}>{u.provider}/{u.model}: {u.requests} requests</li>)}</ul>}</div>
            <div className="card"><h3>Denials</h3>{data.denials.length === 0 ? <Empty>No request was denied.</Empty> :
              <ul>{data.denials.map((d) => <li key={d.reason}>{d.reason}: {d.requests}</li>)}</ul>}</div>
          </div>
        </>
      )}
    </section>
  );
}

/** Bars scaled relative to the largest amount; the scaling is display only, labels are exact strings. */
export function scale(values: string[]): number[] {
  const n = values.map(toNano);
  const max = n.reduce((a, b) => (b > a ? b : a), 0n);
  if (max === 0n) return n.map(() => 0);
  return n.map((v) => Number((v * 10000n) / max) / 100);
}

function Breakdown({ title, rows }: { title: string; rows: Row[] }) {
  const w = scale(rows.map((r) => r.cost));
  return (
    <div className="card">
      <h3>{title}</h3>
      {rows.length === 0 ? <Empty>No spend in this range.</Empty> : (
        <ul className="bars">
          {rows.slice(0, 10).map((r, i) => (
            <li key={r.label}><span className="label">{r.label}</span><span className="bar"><span style={{ width: `${w[i]}%` }} /></span><span className="amt">{formatUSD(r.cost)}</span></li>
          ))}
        </ul>
      )}
    </div>
  );
}

function SeriesChart({ range, points }: { range: TimeRange; points: { start: string; cost: string }[] }) {
  const bs = buckets(range);
  const byStart = new Map(points.map((p) => [new Date(p.start).getTime(), p.cost]));
  const costs = bs.map((b) => byStart.get(b.getTime()) ?? "0");
  const h = scale(costs);
  if (points.length === 0) return <Empty>No spend in this range.</Empty>;
  const W = 600, H = 160, bw = W / bs.length;
  return (
    <svg viewBox={`0 0 ${W} ${H + 20}`} role="img" aria-label={`Spend per ${range.bucket.toLowerCase()}`} className="chart">
      {bs.map((b, i) => (
        <rect key={i} x={i * bw + 1} y={H - (h[i] * H) / 100} width={Math.max(bw - 2, 1)} height={(h[i] * H) / 100}>
          <title>{b.toISOString().slice(0, range.bucket === "HOUR" ? 13 : 10)}: {formatUSD(costs[i])}</title>
        </rect>
      ))}
      <text x="0" y={H + 15}>{bs[0]?.toISOString().slice(0, 10)}</text>
      <text x={W} y={H + 15} textAnchor="end">{bs[bs.length - 1]?.toISOString().slice(0, 10)}</text>
    </svg>
  );
}
