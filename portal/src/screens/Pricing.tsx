import { useState } from "react";
import type { Ctx } from "../App";
import { CATALOGUE, CREATE_OVERRIDE, DELETE_OVERRIDE, EXPLAIN, OVERRIDES } from "../gql";
import { formatUSD, moneyError } from "../money";
import { Empty, ErrorBox, Field, useLoad, when } from "../ui";

interface Rate { class: string; perMillion: string }
interface Override { id: string; provider: string; model: string; effectiveFrom: string; effectiveTo: string | null; rates: Rate[]; percentAdjustment: string; note: string }
interface Entry { provider: string; model: string; rates: Rate[] }

export function Pricing({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const canManage = ctx.tenant.role !== "VIEWER";
  const ov = useLoad(() => ctx.api.request<{ pricingOverrides: { edges: { node: Override }[] } }>(OVERRIDES, { t }), [t]);
  const [q, setQ] = useState("");
  const [cat, setCat] = useState<Entry[] | null>(null);
  const [catErr, setCatErr] = useState<unknown>(null);
  const [f, setF] = useState({ provider: "", model: "", from: new Date().toISOString().slice(0, 10), klass: "input", rate: "", pct: "", note: "" });
  const [fErr, setFErr] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const [evId, setEvId] = useState("");
  const [explain, setExplain] = useState<{ provider: string; model: string; cost: string; explanation: string } | null>(null);
  const [exErr, setExErr] = useState<unknown>(null);
  const overrides = ov.data?.pricingOverrides.edges.map((e) => e.node) ?? [];
  return (
    <section aria-labelledby="pricing-h">
      <h2 id="pricing-h">Pricing</h2>
      <form className="card" role="search" aria-label="Search the pricing catalogue" onSubmit={async (e) => {
        e.preventDefault(); setCatErr(null);
        try { setCat((await ctx.api.request<{ pricingCatalogue: Entry[] }>(CATALOGUE, { q })).pricingCatalogue); } catch (x) { setCatErr(x); }
      }}>
        <h3>Catalogue</h3>
        <div className="row"><label htmlFor="cat-q" className="sr-only">Model or provider</label><input id="cat-q" placeholder="gpt-4o, claude, gemini…" value={q} onChange={(e) => setQ(e.target.value)} /><button type="submit">Search</button></div>
        <ErrorBox error={catErr} />
        {cat && cat.length === 0 && <Empty>No model matches “{q}”.</Empty>}
        {cat && cat.length > 0 && <div className="table-wrap"><table><thead><tr><th>Provider</th><th>Model</th><th>Rates per million</th></tr></thead><tbody>
          {cat.slice(0, 200).map((c) => <tr key={c.provider + c.model}><td>{c.provider}</td><td>{c.model}</td><td className="small">{c.rates.map((r) => `${r.class} ${formatUSD(r.perMillion)}`).join(" · ")}</td></tr>)}
        </tbody></table></div>}
      </form>

      <h3>Tenant overrides</h3>
      {canManage && (
        <form className="card" aria-label="Create pricing override" onSubmit={async (e) => {
          e.preventDefault();
          const me = f.rate ? moneyError(f.rate) : "";
          if (!f.model.trim()) return setFErr("Enter a model id or glob.");
          if (me) return setFErr("Rate: " + me);
          if (!f.rate && !f.pct) return setFErr("Give a rate or a percent adjustment.");
          if (f.pct && !/^-?\d+(\.\d+)?$/.test(f.pct)) return setFErr("Percent adjustment must be a number like -15 or 10.5.");
          setFErr(""); setErr(null);
          try {
            await ctx.api.request(CREATE_OVERRIDE, { t, in: { provider: f.provider.trim(), model: f.model.trim(), effectiveFrom: new Date(f.from + "T00:00:00Z").toISOString(), rates: f.rate ? [{ class: f.klass, perMillion: f.rate }] : [], percentAdjustment: f.pct || "0", note: f.note } });
            ov.reload();
          } catch (x) { setErr(x); }
        }}>
          <div className="grid">
            <Field id="o-prov" label="Provider (empty: any)"><input id="o-prov" value={f.provider} onChange={(e) => setF({ ...f, provider: e.target.value })} /></Field>
            <Field id="o-model" label="Model or glob"><input id="o-model" value={f.model} onChange={(e) => setF({ ...f, model: e.target.value })} /></Field>
            <Field id="o-from" label="Effective from"><input id="o-from" type="date" value={f.from} onChange={(e) => setF({ ...f, from: e.target.value })} /></Field>
            <Field id="o-class" label="Usage class"><select id="o-class" value={f.klass} onChange={(e) => setF({ ...f, klass: e.target.value })}>{["input", "cached_input", "cache_write_5m", "cache_write_1h", "output", "reasoning", "audio_input", "audio_output", "image_input", "image_output", "web_searches", "characters", "seconds", "images"].map((c) => <option key={c}>{c}</option>)}</select></Field>
            <Field id="o-rate" label="USD per million (optional)"><input id="o-rate" inputMode="decimal" value={f.rate} onChange={(e) => setF({ ...f, rate: e.target.value })} /></Field>
            <Field id="o-pct" label="Percent adjustment (e.g. -15)"><input id="o-pct" value={f.pct} onChange={(e) => setF({ ...f, pct: e.target.value })} /></Field>
            <Field id="o-note" label="Note"><input id="o-note" value={f.note} onChange={(e) => setF({ ...f, note: e.target.value })} /></Field>
          </div>
          {fErr && <div className="field-error" role="alert">{fErr}</div>}
          <ErrorBox error={err} />
          <button type="submit">Add override</button>
        </form>
      )}
      <ErrorBox error={ov.error} />
      {ov.data && overrides.length === 0 && <Empty>No overrides: the catalogue prices apply.</Empty>}
      {overrides.length > 0 && <div className="table-wrap"><table><thead><tr><th>Provider</th><th>Model</th><th>From</th><th>To</th><th>Rates</th><th>Adjustment</th><th>Note</th>{canManage && <th><span className="sr-only">Actions</span></th>}</tr></thead><tbody>
        {overrides.map((o) => <tr key={o.id}><td>{o.provider || "any"}</td><td>{o.model}</td><td>{when(o.effectiveFrom)}</td><td>{when(o.effectiveTo)}</td><td className="small">{o.rates.map((r) => `${r.class} ${formatUSD(r.perMillion)}/M`).join(" · ") || "catalogue"}</td><td>{o.percentAdjustment}%</td><td>{o.note}</td>
          {canManage && <td><button className="danger" aria-label={`Delete override for ${o.model}`} onClick={async () => { if (!window.confirm("Delete this override?")) return; try { await ctx.api.request(DELETE_OVERRIDE, { t, id: o.id }); ov.reload(); } catch (x) { setErr(x); } }}>Delete</button></td>}</tr>)}
      </tbody></table></div>}

      <form className="card" aria-label="Explain the cost of an event" onSubmit={async (e) => {
        e.preventDefault(); setExErr(null); setExplain(null);
        try { setExplain((await ctx.api.request<{ event: { provider: string; model: string; cost: string; explanation: string } }>(EXPLAIN, { t, id: evId.trim() })).event); } catch (x) { setExErr(x); }
      }}>
        <h3>Cost explanation</h3>
        <div className="row"><label htmlFor="ev-id" className="sr-only">Event id</label><input id="ev-id" placeholder="event id" value={evId} onChange={(e) => setEvId(e.target.value)} /><button type="submit">Explain</button></div>
        <ErrorBox error={exErr} />
        {explain && <div><strong>{explain.provider}/{explain.model}: {formatUSD(explain.cost)}</strong><pre className="explain">{explain.explanation}</pre></div>}
      </form>
    </section>
  );
}
