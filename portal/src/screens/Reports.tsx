import { useState } from "react";
import type { Ctx } from "../App";
import type { OrgNode } from "../org";
import { formatUSD } from "../money";
import { CREATE_REPORT, DELETE_REPORT, REPORTS, REPORT_NODES, SEND_TEST_REPORT, UPDATE_REPORT, emptyReport, reportErrors, reportForm, reportInput, scheduleText,
  type Report, type ReportForm } from "../reports";
import type { SendTestReportMutation } from "../gql/graphql";
import { Empty, ErrorBox, Field, useLoad, when } from "../ui";

type Delivery = SendTestReportMutation["sendTestReport"];

export function Reports({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  // Tenant admins manage every report; members manage those of the teams
  // and projects they manage (the server decides and lists only those).
  const isAdmin = ctx.tenant.role !== "VIEWER";
  const { data, error, reload } = useLoad(() => isAdmin ? ctx.api.request(REPORTS, { t }) : Promise.resolve({ reports: [] as Report[] }), [t]);
  const nodes = useLoad(() => ctx.api.request(REPORT_NODES, { t }), [t]);
  const [editing, setEditing] = useState<{ id: string | null; form: ReportForm } | null>(null);
  const [actErr, setActErr] = useState<unknown>(null);
  const [sent, setSent] = useState<{ name: string; d: Delivery } | null>(null);
  const [sending, setSending] = useState<string | null>(null);
  const nodeList = (nodes.data?.orgTree ?? []).filter((n) => !n.archivedAt && (n.kind === "TEAM" || n.kind === "PROJECT"));
  const nodeName = (id: string | null) => nodeList.find((n) => n.id === id)?.name ?? id ?? "";
  const reports = data?.reports ?? [];

  if (!isAdmin) {
    return (
      <section aria-labelledby="reports-h">
        <h2 id="reports-h">Scheduled reports</h2>
        <Empty>Scheduled reports are managed by tenant admins and by the team admins and project members of their teams and projects.</Empty>
      </section>
    );
  }
  return (
    <section aria-labelledby="reports-h">
      <div className="row between">
        <h2 id="reports-h">Scheduled reports</h2>
        <div className="row">
          <button className="secondary" onClick={reload}>Refresh</button>
          {!editing && <button onClick={() => setEditing({ id: null, form: emptyReport() })}>New report</button>}
        </div>
      </div>
      <p className="small">Spend against the previous period, top movers, budgets, anomalies and recommendations, by email (CSV and PDF attached) and to Slack.</p>
      {editing && <ReportEditor ctx={ctx} nodes={nodeList} initial={editing} onDone={(saved) => { setEditing(null); if (saved) reload(); }} />}
      <ErrorBox error={error || actErr} />
      {sent && (
        <div className="notice" role="status" data-testid="report-sent">
          Test report <strong>{sent.name}</strong> sent to {sent.d.channels.join(" and ")}: {formatUSD(sent.d.spend)} from {when(sent.d.periodFrom)} to {when(sent.d.periodTo)}.
        </div>
      )}
      {data && reports.length === 0 && <Empty>No scheduled reports yet.</Empty>}
      <ul className="budgets">
        {reports.map((r) => (
          <li key={r.id} className="card" data-testid="report" data-report={r.name}>
            <div className="row between">
              <strong>{r.name}</strong>
              <span className="small">{r.scope === "TENANT" ? "whole tenant" : `${r.scope.toLowerCase()} ${nodeName(r.nodeId)}`}{r.enabled ? "" : " · paused"}</span>
            </div>
            <div className="small">{scheduleText(r)}</div>
            <div className="small">
              {r.emails.length > 0 && <>to {r.emails.join(", ")}</>}
              {r.slackWebhookUrl && <>{r.emails.length > 0 ? " · " : ""}Slack</>}
            </div>
            <div className="small">
              Next {when(r.nextRunAt)}{r.lastRunAt && <> · last run {when(r.lastRunAt)}</>}
              {r.lastError && <span className="warn-text" data-testid="report-error"> · failed: {r.lastError}</span>}
            </div>
            <div className="row">
              <button className="secondary" aria-label={`Send a test of ${r.name}`} disabled={sending === r.id} onClick={async () => {
                setActErr(null);
                setSent(null);
                setSending(r.id);
                try {
                  const d = await ctx.api.request(SEND_TEST_REPORT, { t, id: r.id });
                  setSent({ name: r.name, d: d.sendTestReport });
                } catch (e) {
                  setActErr(e);
                } finally {
                  setSending(null);
                }
              }}>{sending === r.id ? "Sending…" : "Send test"}</button>
              <button className="secondary" aria-label={`Edit ${r.name}`} onClick={() => setEditing({ id: r.id, form: reportForm(r) })}>Edit</button>
              <button className="danger" aria-label={`Delete ${r.name}`} onClick={async () => {
                if (!window.confirm(`Delete report ${r.name}?`)) return;
                setActErr(null);
                try { await ctx.api.request(DELETE_REPORT, { t, id: r.id }); reload(); } catch (e) { setActErr(e); }
              }}>Delete</button>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

function ReportEditor({ ctx, nodes, initial, onDone }: { ctx: Ctx; nodes: OrgNode[]; initial: { id: string | null; form: ReportForm }; onDone: (saved: boolean) => void }) {
  const [f, setF] = useState<ReportForm>(initial.form);
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof ReportForm>(k: K, v: ReportForm[K]) => setF({ ...f, [k]: v });
  const label = initial.id ? "Edit report" : "Create report";
  const choices = nodes.filter((n) => n.kind === f.scope);
  return (
    <form className="card" aria-label={label} noValidate onSubmit={async (e) => {
      e.preventDefault();
      const fe = reportErrors(f);
      setErrs(fe);
      if (Object.keys(fe).length) return;
      setError(null);
      setBusy(true);
      try {
        if (initial.id) await ctx.api.request(UPDATE_REPORT, { t: ctx.tenant.id, id: initial.id, in: reportInput(f) });
        else await ctx.api.request(CREATE_REPORT, { t: ctx.tenant.id, in: reportInput(f) });
        onDone(true);
      } catch (x) {
        setError(x);
      } finally {
        setBusy(false);
      }
    }}>
      <h3>{initial.id ? "Edit report" : "New report"}</h3>
      <div className="grid">
        <Field id="r-name" label="Name" error={errs.name}><input id="r-name" value={f.name} onChange={(e) => set("name", e.target.value)} aria-invalid={!!errs.name} /></Field>
        <Field id="r-freq" label="Frequency"><select id="r-freq" value={f.frequency} onChange={(e) => set("frequency", e.target.value as ReportForm["frequency"])}>
          <option value="WEEKLY">Weekly (Mondays 08:00)</option><option value="MONTHLY">Monthly (the 1st, 08:00)</option><option value="CRON">Custom (cron)</option></select></Field>
        {f.frequency === "CRON" && <Field id="r-cron" label="Cron line (minute hour day month weekday)" error={errs.cron}><input id="r-cron" placeholder="0 8 * * 1" value={f.cron} onChange={(e) => set("cron", e.target.value)} aria-invalid={!!errs.cron} /></Field>}
        <Field id="r-tz" label="Time zone" error={errs.timeZone}><input id="r-tz" placeholder="Europe/Berlin" value={f.timeZone} onChange={(e) => set("timeZone", e.target.value)} aria-invalid={!!errs.timeZone} /></Field>
        <Field id="r-scope" label="Covers"><select id="r-scope" value={f.scope} onChange={(e) => setF({ ...f, scope: e.target.value as ReportForm["scope"], nodeId: "" })}>
          <option value="TENANT">Whole tenant</option><option value="TEAM">One team</option><option value="PROJECT">One project</option></select></Field>
        {f.scope !== "TENANT" && <Field id="r-node" label={f.scope === "TEAM" ? "Team" : "Project"} error={errs.nodeId}><select id="r-node" value={f.nodeId} onChange={(e) => set("nodeId", e.target.value)} aria-invalid={!!errs.nodeId}>
          <option value="">Choose…</option>{choices.map((n) => <option key={n.id} value={n.id}>{n.name}</option>)}</select></Field>}
        <Field id="r-emails" label="Email recipients (comma separated)" error={errs.emails}><input id="r-emails" value={f.emails} onChange={(e) => set("emails", e.target.value)} aria-invalid={!!errs.emails} /></Field>
        <Field id="r-slack" label="Slack incoming webhook (optional)" error={errs.slackWebhookUrl}><input id="r-slack" type="url" placeholder="https://hooks.slack.com/services/…" value={f.slackWebhookUrl} onChange={(e) => set("slackWebhookUrl", e.target.value)} aria-invalid={!!errs.slackWebhookUrl} /></Field>
      </div>
      <label className="check"><input type="checkbox" checked={f.enabled} onChange={(e) => set("enabled", e.target.checked)} /> Send on schedule</label>
      <ErrorBox error={error} />
      <div className="row"><button type="submit" disabled={busy}>{busy ? "Saving…" : "Save report"}</button><button type="button" className="secondary" onClick={() => onDone(false)}>Cancel</button></div>
    </form>
  );
}
