// The portal's time chart: stacked bars of Money per time bucket (uPlot, ~50 KB
// minified), an optional comparison line, axes in UTC, a tooltip with exact
// figures and a legend whose entries toggle layers. Any screen that plots
// spend over time uses it: pass buckets and nano-USD layers (see
// stackLayers in dashboard.ts), never floats.
import { useEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatCents, fromNano, plotUSD } from "./money";

/** Colours with enough contrast on white, colour-blind friendly order (Okabe-Ito based). */
export const PALETTE = ["#2456d6", "#e69f00", "#009e73", "#cc79a7", "#0072b2", "#d55e00", "#56b4e9", "#8a6d00", "#6a3d9a", "#b15928"];
const OTHER = "#9aa3ad";

export interface ChartLayer {
  id: string;
  label: string;
  /** Nano-USD per bucket. */
  nano: bigint[];
  other?: boolean;
}

export interface TimeChartProps {
  starts: Date[];
  layers: ChartLayer[];
  /** A line drawn over the bars (the previous period), nano-USD per bucket. */
  compare?: { label: string; nano: bigint[] };
  /** The tooltip's label of a bucket start ("2026-03-04 14:00"). */
  labelOf: (d: Date) => string;
  /** The x axis's short label of a bucket start ("03-04"); default labelOf. */
  tickOf?: (d: Date) => string;
  /** What the chart shows, for screen readers ("Daily spend by provider"). */
  title: string;
  height?: number;
  /** Called with the layer id when a bar is clicked (drill-down). */
  onPick?: (layerId: string, bucket: Date) => void;
}

/** Cumulative sums of the visible layers, top layer first (uPlot draws in order, so lower layers paint over higher). */
export function stackedValues(layers: ChartLayer[], visible: boolean[]): number[][] {
  const n = layers[0]?.nano.length ?? 0;
  const cum: bigint[][] = [];
  let acc: bigint[] = Array.from({ length: n }, () => 0n);
  layers.forEach((l, j) => {
    if (visible[j]) acc = acc.map((a, i) => a + l.nano[i]);
    cum.push(acc);
  });
  return cum.map((c) => c.map(plotUSD)).reverse();
}

function yTick(v: number): string {
  if (v === 0) return "$0";
  if (v >= 1000) return "$" + (v / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 }) + "k";
  if (v >= 1) return "$" + v.toLocaleString("en-US", { maximumFractionDigits: 2 });
  return "$" + v.toPrecision(2).replace(/0+$/, "");
}

/** Whether this browser draws on a canvas (test DOMs and some locked-down browsers do not). */
function canDraw(): boolean {
  try {
    return document.createElement("canvas").getContext("2d") != null;
  } catch {
    return false;
  }
}

/** Every k-th bucket start, so labels keep about 80 px apart. */
export function tickSplits(xs: number[], width: number): number[] {
  const room = Math.max(Math.floor(width / 80), 2);
  const k = Math.max(Math.ceil(xs.length / room), 1);
  return xs.filter((_, i) => i % k === 0);
}

export function TimeChart({ starts, layers, compare, labelOf, tickOf, title, height = 240, onPick }: TimeChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [hover, setHover] = useState<{ idx: number; left: number; top: number } | null>(null);
  const colour = (l: ChartLayer, j: number) => (l.other ? OTHER : PALETTE[j % PALETTE.length]);
  const visible = layers.map((l) => !hidden.has(l.id));
  const data = useMemo(() => {
    const xs = starts.map((d) => d.getTime() / 1000);
    const ys = stackedValues(layers, visible);
    const cmp = compare ? [compare.nano.map(plotUSD)] : [];
    return [xs, ...ys, ...cmp] as uPlot.AlignedData;
  }, [starts, layers, compare, hidden]); // eslint-disable-line react-hooks/exhaustive-deps
  const pick = useRef(onPick);
  pick.current = onPick;

  // The plot is rebuilt when its shape (layers, comparison) changes, and
  // only fed new data when a legend toggle restacks it.
  const shape = layers.map((l) => l.id + l.label).join("|") + "#" + (compare ? compare.label : "") + "#" + starts.length;
  useEffect(() => {
    const el = box.current;
    // Without a canvas the legend, the tooltip's figures and the table below still tell the numbers.
    if (!el || !canDraw()) return;
    const reversed = [...layers].map((l, j) => ({ l, j })).reverse();
    const bars = uPlot.paths.bars!({ size: [0.8, 48], gap: 1 });
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false }, y: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] } },
      axes: [
        {
          stroke: "#5b6470", grid: { show: false },
          splits: (u) => tickSplits(u.data[0] as number[], u.bbox.width / (window.devicePixelRatio || 1)),
          values: (_u, splits) => splits.map((ts) => (tickOf ?? labelOf)(new Date(ts * 1000))),
        },
        { stroke: "#5b6470", size: 64, values: (_u, vals) => vals.map(yTick), grid: { stroke: "#eef0f3" } },
      ],
      series: [
        {},
        ...reversed.map(({ l, j }) => ({ label: l.label, fill: colour(l, j), stroke: colour(l, j), width: 0, paths: bars, points: { show: false } })),
        ...(compare ? [{ label: compare.label, stroke: "#1b1f24", width: 1.5, dash: [5, 4], points: { show: false } }] : []),
      ],
      hooks: {
        setCursor: [(u) => {
          const idx = u.cursor.idx;
          setHover(idx == null ? null : { idx, left: u.cursor.left ?? 0, top: u.cursor.top ?? 0 });
        }],
      },
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const click = () => {
      const idx = u.cursor.idx;
      const top = u.cursor.top;
      if (idx == null || top == null || !pick.current) return;
      // The layer under the pointer: the lowest cumulative value above the pointer's height.
      const v = u.posToVal(top, "y");
      const order = [...layers.keys()].filter((j) => visible[j]);
      let acc = 0;
      for (const j of order) {
        acc += plotUSD(layers[j].nano[idx]);
        if (v <= acc) { pick.current(layers[j].id, starts[idx]); return; }
      }
    };
    u.over.addEventListener("click", click);
    const ro = new ResizeObserver(() => { setHover(null); u.setSize({ width: Math.max(el.clientWidth, 200), height }); });
    ro.observe(el);
    return () => { ro.disconnect(); u.over.removeEventListener("click", click); u.destroy(); plot.current = null; };
  }, [shape, height]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { plot.current?.setData(data); }, [data]);

  const total = (i: number) => layers.reduce((a, l, j) => (visible[j] ? a + l.nano[i] : a), 0n);
  return (
    <figure className="timechart" data-testid="timechart" data-layers={layers.length} data-buckets={starts.length}>
      <figcaption className="sr-only">{title}</figcaption>
      <div className="legend" role="group" aria-label="Show or hide series">
        {layers.map((l, j) => (
          <button key={l.id} type="button" className="legend-item" aria-pressed={visible[j]} title={l.label}
            onClick={() => setHidden((h) => { const n = new Set(h); if (n.has(l.id)) n.delete(l.id); else n.add(l.id); return n; })}>
            <span className="swatch" style={{ background: colour(l, j) }} aria-hidden="true" />
            <span className="legend-label">{l.label}</span>
          </button>
        ))}
        {compare && <span className="legend-item compare" title={compare.label}><span className="swatch dashed" aria-hidden="true" />{compare.label}</span>}
      </div>
      <div className="plot" ref={box} role="img" aria-label={title}>
        {hover && hover.idx < starts.length && (
          <div className="tip" role="presentation" style={{ left: Math.max(Math.min(hover.left + 70, (box.current?.clientWidth ?? 400) - 220), 0), top: 8 }} data-testid="chart-tip">
            <strong>{labelOf(starts[hover.idx])}</strong>
            <table><tbody>
              {layers.map((l, j) => visible[j] && l.nano[hover.idx] > 0n ? (
                <tr key={l.id}><td><span className="swatch" style={{ background: colour(l, j) }} aria-hidden="true" /> {l.label}</td>
                  <td className="num" title={fromNano(l.nano[hover.idx])}>{formatCents(fromNano(l.nano[hover.idx]))}</td></tr>
              ) : null)}
              <tr className="sum"><td>Total</td><td className="num">{formatCents(fromNano(total(hover.idx)))}</td></tr>
              {compare && <tr><td>{compare.label}</td><td className="num">{formatCents(fromNano(compare.nano[hover.idx] ?? 0n))}</td></tr>}
            </tbody></table>
          </div>
        )}
      </div>
    </figure>
  );
}

export interface BurnChartProps {
  starts: Date[];
  /** Cumulative spend, nano-USD, null after now. */
  spent: (bigint | null)[];
  /** The forecast line from now to the period end, null before now. */
  forecast: (bigint | null)[];
  /** The forecast's confidence band from now to the period end (shaded), null where there is none. */
  low?: (bigint | null)[];
  high?: (bigint | null)[];
  /** The budget's amount, nano-USD. */
  amount: bigint;
  tickOf: (d: Date) => string;
  title: string;
  height?: number;
}

/** A budget's burn-down: spend so far against the amount, and where the forecast (and its likely range) lands at period end. */
export function BurnChart({ starts, spent, forecast, low, high, amount, tickOf, title, height = 150 }: BurnChartProps) {
  const band = !!low && !!high && low.some((x) => x != null) && high.some((x) => x != null);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || !canDraw()) return;
    const xs = starts.map((d) => d.getTime() / 1000);
    const line = (v: (bigint | null)[]) => v.map((x) => (x == null ? null : plotUSD(x)));
    const none = starts.map(() => null);
    // Series 4 and 5 are the band's edges; uPlot fills between them (bands).
    const data = [xs, line(spent), line(forecast), starts.map(() => plotUSD(amount)),
      line(band ? high! : none), line(band ? low! : none)] as uPlot.AlignedData;
    const u = new uPlot({
      width: Math.max(el.clientWidth, 200),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(max, plotUSD(amount)) * 1.1 || 1] } },
      axes: [
        { stroke: "#5b6470", grid: { show: false }, splits: (uu) => tickSplits(uu.data[0] as number[], uu.bbox.width / (window.devicePixelRatio || 1)),
          values: (_u, splits) => splits.map((ts) => tickOf(new Date(ts * 1000))) },
        { stroke: "#5b6470", size: 64, values: (_u, vals) => vals.map(yTick), grid: { stroke: "#eef0f3" } },
      ],
      series: [
        {},
        { label: "Spent", stroke: PALETTE[0], fill: PALETTE[0] + "33", width: 2, points: { show: false } },
        { label: "Forecast", stroke: "#b54708", width: 2, dash: [6, 4], points: { show: false } },
        { label: "Budget", stroke: "#b42318", width: 1.5, points: { show: false } },
        { label: "Forecast high", stroke: "#b5470855", width: 1, points: { show: false } },
        { label: "Forecast low", stroke: "#b5470855", width: 1, points: { show: false } },
      ],
      bands: band ? [{ series: [4, 5], fill: "#b5470826" }] : [],
    }, data, el);
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 200), height }));
    ro.observe(el);
    return () => { ro.disconnect(); u.destroy(); };
  }, [starts, spent, forecast, low, high, amount, height]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <figure className="burnchart" data-testid="burnchart" data-buckets={starts.length} data-band={band ? "true" : "false"}>
      <div className="plot" ref={box} role="img" aria-label={title} />
      <figcaption className="legend small">
        <span className="legend-item"><span className="swatch" style={{ background: PALETTE[0] }} aria-hidden="true" />spent so far</span>
        <span className="legend-item"><span className="swatch dashed" style={{ borderColor: "#b54708" }} aria-hidden="true" />forecast</span>
        {band && <span className="legend-item"><span className="swatch" style={{ background: "#b5470826", border: "1px solid #b5470855" }} aria-hidden="true" />likely range</span>}
        <span className="legend-item"><span className="swatch" style={{ background: "#b42318", height: 2 }} aria-hidden="true" />budget</span>
      </figcaption>
    </figure>
  );
}
