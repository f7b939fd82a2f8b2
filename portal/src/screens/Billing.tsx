import { useState } from "react";
import type { Ctx } from "../App";
import {
  canChange, documentName, DRAFT_INVOICE, isBillingRole, INVOICES, isPeriod, ISSUE_INVOICE, LINE_EVENTS, lineEventsQuery, MARK_PAID, previousPeriod,
  quantitiesText, STATEMENT, VOID_INVOICE, type Invoice, type InvoiceLine, type Statement,
} from "../billing";
import { formatUSD } from "../money";
import { formatCount } from "../dashboard";
import { eventModel, type UsageEvent } from "../pricing";
import { DownloadButton, Empty, ErrorBox, useLoad, when } from "../ui";
import { Explanation } from "./Pricing";

/**
 * Billing (tenant admins): the tenant's invoices with status and downloads,
 * a period's draft, issuing, paid/void, the lines of an invoice with the
 * events behind each, and chargeback statements per team/project/workspace.
 */
export function Billing({ ctx }: { ctx: Ctx }) {
  if (!isBillingRole(ctx.tenant.role)) {
    return (
      <section aria-labelledby="billing-h">
        <h2 id="billing-h">Billing</h2>
        <Empty>Invoices and chargeback statements are for the tenant's admins and owners; you are {ctx.tenant.role.toLowerCase()}.</Empty>
      </section>
    );
  }
  return <BillingAdmin ctx={ctx} />;
}

function BillingAdmin({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const list = useLoad(async () => (await ctx.api.request(INVOICES, { t })).invoices, [t]);
  const [period, setPeriod] = useState(() => previousPeriod(new Date()));
  const [shown, setShown] = useState<Invoice | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const act = async (f: () => Promise<void>) => {
    setError(null);
    setBusy(true);
    try { await f(); } catch (e) { setError(e); } finally { setBusy(false); }
  };
  const needPeriod = () => { if (!isPeriod(period)) throw new Error("Enter the period as YYYY-MM, e.g. 2026-11."); };
  const invoices = list.data ?? [];
  return (
    <section aria-labelledby="billing-h">
      <h2 id="billing-h">Billing</h2>
      <p className="small">Each line charges its exact cost rounded to cents; the total is the sum of the lines. Issued invoices never change: later usage of their period appears as adjustments on the next invoice.</p>
      <div className="card">
        <form className="row" aria-label="Billing period" onSubmit={(e) => e.preventDefault()}>
          <label htmlFor="bill-period">Period</label>
          <input id="bill-period" value={period} placeholder="YYYY-MM" onChange={(e) => setPeriod(e.target.value.trim())} />
          <button type="button" className="secondary" disabled={busy} onClick={() => act(async () => {
            needPeriod();
            setShown((await ctx.api.request(DRAFT_INVOICE, { t, p: period })).draftInvoice);
          })}>Show draft</button>
          <button type="button" disabled={busy} onClick={() => act(async () => {
            needPeriod();
            if (!window.confirm(`Issue the invoice of ${period}? Issued invoices are final.`)) return;
            setShown((await ctx.api.request(ISSUE_INVOICE, { t, p: period })).issueInvoice);
            list.reload();
          })}>Issue invoice</button>
        </form>
        <ErrorBox error={error || list.error} />
      </div>
      {list.loading && !list.data && <p aria-busy="true">Loading…</p>}
      {list.data && invoices.length === 0 && <Empty>No invoice has been issued yet. Show a period's draft, then issue it once the period has ended.</Empty>}
      {invoices.length > 0 && (
        <div className="table-wrap"><table data-testid="invoices">
          <thead><tr><th>Number</th><th>Period</th><th>Status</th><th>Total</th><th>Issued</th><th>Download</th><th><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>{invoices.map((inv) => (
            <tr key={inv.id} aria-selected={shown?.id === inv.id}>
              <td>{inv.number}</td><td>{inv.period.label}</td>
              <td><span className={`status ${inv.status.toLowerCase()}`}>{inv.status.toLowerCase()}</span>{inv.voidReason && <span className="small"> · {inv.voidReason}</span>}</td>
              <td data-value={inv.total}>{formatUSD(inv.total)}</td><td>{when(inv.issuedAt)}</td>
              <td>
                <DownloadButton api={ctx.api} url={inv.pdfUrl} name={documentName(inv, "pdf")} label={`Download ${inv.number} as PDF`} text="PDF" />
                <DownloadButton api={ctx.api} url={inv.csvUrl} name={documentName(inv, "csv")} label={`Download ${inv.number} as CSV`} text="CSV" />
              </td>
              <td className="row">
                <button className="secondary small-btn" onClick={() => setShown(inv)} aria-label={`Show ${inv.number}`}>Lines</button>
                {canChange(inv) && <button className="secondary small-btn" disabled={busy} aria-label={`Mark ${inv.number} paid`} onClick={() => act(async () => {
                  setShown((await ctx.api.request(MARK_PAID, { t, id: inv.id })).markInvoicePaid);
                  list.reload();
                })}>Paid</button>}
                {canChange(inv) && <button className="secondary small-btn" disabled={busy} aria-label={`Void ${inv.number}`} onClick={() => act(async () => {
                  const r = window.prompt(`Why void ${inv.number}?`);
                  if (!r) return;
                  setShown((await ctx.api.request(VOID_INVOICE, { t, id: inv.id, r })).voidInvoice);
                  list.reload();
                })}>Void</button>}
              </td>
            </tr>
          ))}</tbody>
        </table></div>
      )}
      {shown && <InvoiceDetail ctx={ctx} inv={shown} known={invoices} onClose={() => setShown(null)} />}
      <Chargeback ctx={ctx} />
    </section>
  );
}

function InvoiceDetail({ ctx, inv, known, onClose }: { ctx: Ctx; inv: Invoice; known: Invoice[]; onClose: () => void }) {
  const [line, setLine] = useState<InvoiceLine | null>(null);
  const grouped = inv.groupBy !== "";
  return (
    <div className="card" role="region" aria-label={`Invoice ${inv.number}`} data-testid="invoice">
      <div className="row between">
        <h3>{inv.status === "DRAFT" ? `Draft for ${inv.period.label}` : `${inv.number} · ${inv.period.label}`}</h3>
        <span className="row">
          <DownloadButton api={ctx.api} url={inv.pdfUrl} name={documentName(inv, "pdf")} label="Download this invoice as PDF" text="PDF" />
          <button className="secondary small-btn" onClick={onClose}>Close</button>
        </span>
      </div>
      <p className="small">{when(inv.period.start)} to {when(inv.period.end)} ({inv.period.timeZone}) · {inv.status.toLowerCase()}
        {inv.issuedBy && <> · issued by {inv.issuedBy}</>} · exact tenant cost {formatUSD(inv.tenantCost)}</p>
      {inv.lines.length === 0 ? <Empty>No usage in this period.</Empty> : (
        <div className="table-wrap"><table data-testid="invoice-lines">
          <thead><tr><th>Kind</th>{grouped && <th>Group</th>}<th>Provider / model</th><th>Quantities</th><th>Events</th><th>List</th><th>Tenant cost</th><th>Amount</th><th><span className="sr-only">Events</span></th></tr></thead>
          <tbody>{inv.lines.map((l, i) => (
            <tr key={i}>
              <td>{l.kind === "ADJUSTMENT" ? `adjusts ${l.adjustsPeriod}` : "usage"}</td>
              {grouped && <td>{l.groupName}</td>}
              <td>{l.provider}/{l.model}</td><td className="small">{quantitiesText(l.quantities)}</td>
              <td>{formatCount(l.events)}{l.unpricedEvents !== 0 && <span className="warn-text small"> ({l.unpricedEvents} unpriced)</span>}</td>
              <td>{formatUSD(l.listCost)}</td><td>{formatUSD(l.tenantCost)}</td><td data-value={l.amount}>{formatUSD(l.amount)}</td>
              <td><button className="secondary small-btn" aria-label={`Events behind ${l.provider}/${l.model}`} onClick={() => setLine(l)}>Events</button></td>
            </tr>
          ))}</tbody>
          <tfoot><tr><th colSpan={grouped ? 7 : 6}>Total</th><td data-testid="invoice-total" data-value={inv.total}><strong>{formatUSD(inv.total)}</strong></td><td /></tr></tfoot>
        </table></div>
      )}
      {inv.providerReported.length > 0 && (
        <p className="small">Metered vs provider-reported: {inv.providerReported.map((p) => `${p.provider} ${formatUSD(p.metered)} / ${p.reported ? formatUSD(p.reported) : "not reported"}`).join(" · ")}</p>
      )}
      {line && <LineEvents ctx={ctx} inv={inv} line={line} known={known} onClose={() => setLine(null)} />}
    </div>
  );
}

/** The events behind a line, each explained as on the Pricing page. */
function LineEvents({ ctx, inv, line, known, onClose }: { ctx: Ctx; inv: Invoice; line: InvoiceLine; known: Invoice[]; onClose: () => void }) {
  const q = lineEventsQuery(inv, line, known);
  const [selected, setSelected] = useState<UsageEvent | null>(null);
  const load = useLoad(async () => {
    if (!q) return null;
    return (await ctx.api.request(LINE_EVENTS, { t: ctx.tenant.id, ...q })).usageEvents;
  }, [ctx.tenant.id, inv.id, inv.period.label, line]);
  const events = load.data?.edges.map((e) => e.node) ?? [];
  return (
    <div className="explain" role="region" aria-label="Events behind the line" data-testid="line-events">
      <div className="row between">
        <strong>{line.provider}/{line.model}{line.groupName && ` · ${line.groupName}`}{line.adjustsPeriod && ` · ${line.adjustsPeriod}`}</strong>
        <button className="secondary small-btn" onClick={onClose}>Close</button>
      </div>
      {!q && <Empty>The period this adjustment corrects has no invoice listed here.</Empty>}
      <ErrorBox error={load.error} />
      {q && load.data && events.length === 0 && <Empty>No events (the line may come from re-pricing corrections only).</Empty>}
      {events.length > 0 && (
        <div className="table-wrap"><table>
          <thead><tr><th>Time</th><th>Model</th><th>Tokens in / out</th><th>Cost</th><th><span className="sr-only">Explain</span></th></tr></thead>
          <tbody>{events.map((e) => (
            <tr key={e.id}><td>{when(e.time)}</td><td>{e.provider}/{eventModel(e)}</td>
              <td>{formatCount(e.tokens.input ?? 0)} / {formatCount(e.tokens.output ?? 0)}</td>
              <td>{e.priced ? formatUSD(e.tenantCost) : <span className="warn-text">no price</span>}</td>
              <td><button className="secondary small-btn" aria-label={`Explain event ${e.id}`} onClick={() => setSelected(e)}>Why this cost</button></td></tr>
          ))}</tbody>
        </table></div>
      )}
      {load.data?.pageInfo.hasNextPage && <p className="small">Showing the newest 50 events of the line.</p>}
      {selected && <Explanation e={selected} onClose={() => setSelected(null)} />}
    </div>
  );
}

function Chargeback({ ctx }: { ctx: Ctx }) {
  const [period, setPeriod] = useState(() => previousPeriod(new Date()));
  const [groupBy, setGroupBy] = useState("team");
  const [st, setSt] = useState<Statement | null>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <div className="card" aria-labelledby="chargeback-h">
      <h3 id="chargeback-h">Chargeback statement</h3>
      <form className="row" aria-label="Chargeback statement" onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          if (!isPeriod(period)) throw new Error("Enter the period as YYYY-MM, e.g. 2026-11.");
          setSt((await ctx.api.request(STATEMENT, { t: ctx.tenant.id, p: period, g: groupBy })).chargebackStatement);
        } catch (x) { setError(x); }
      }}>
        <label htmlFor="cb-period">Period</label>
        <input id="cb-period" value={period} onChange={(e) => setPeriod(e.target.value.trim())} />
        <label htmlFor="cb-group">Per</label>
        <select id="cb-group" value={groupBy} onChange={(e) => setGroupBy(e.target.value)}>
          <option value="team">team</option><option value="project">project</option><option value="workspace">workspace</option>
        </select>
        <button type="submit" className="secondary">Show</button>
      </form>
      <ErrorBox error={error} />
      {st && (
        <>
          <div className="table-wrap"><table data-testid="statement">
            <thead><tr><th>{st.groupBy}</th><th>Events</th><th>List</th><th>Tenant cost</th><th>Amount</th></tr></thead>
            <tbody>{st.groups.map((g) => (
              <tr key={g.group || "(unattributed)"}><td>{g.groupName}</td><td>{formatCount(g.events)}</td><td>{formatUSD(g.listCost)}</td><td>{formatUSD(g.tenantCost)}</td><td>{formatUSD(g.amount)}</td></tr>
            ))}</tbody>
            <tfoot><tr><th colSpan={4}>Total</th><td data-value={st.total}><strong>{formatUSD(st.total)}</strong></td></tr></tfoot>
          </table></div>
          <DownloadButton api={ctx.api} url={st.pdfUrl} name={`chargeback-${st.period.label}.pdf`} label="Download the statement as PDF" text="PDF" />
          <DownloadButton api={ctx.api} url={st.csvUrl} name={`chargeback-${st.period.label}.csv`} label="Download the statement as CSV" text="CSV" />
        </>
      )}
    </div>
  );
}
