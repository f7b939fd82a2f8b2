// Billing (docs/billing.md): invoices, drafts and chargeback statements.
// Amounts are exact decimal strings from the API; the API rounds each line
// to cents and sums the lines, so the page shows its figures as they are.
import { graphql } from "./gql/gql";
import type { ChargebackStatementQuery, InvoiceFieldsFragment } from "./gql/graphql";

// The types of what the API returns, generated from the documents below.
export type { InvoiceStatus } from "./gql/graphql";
export type Invoice = InvoiceFieldsFragment;
export type BillingPeriod = Invoice["period"];
export type InvoiceLine = Invoice["lines"][number];
export type Statement = ChargebackStatementQuery["chargebackStatement"];
export type StatementGroup = Statement["groups"][number];

export const INVOICE_FRAGMENT = graphql(`fragment InvoiceFields on Invoice {id number status period{label start end timeZone} groupBy currency
  lines{kind provider model group groupName adjustsPeriod events unpricedEvents quantities{class quantity} listCost tenantCost amount overrides}
  listCost tenantCost total providerReported{provider metered reported} issuedAt issuedBy paidAt voidedAt voidReason pdfUrl csvUrl}`);
export const INVOICES = graphql(`query Invoices($t:ID!){invoices(tenantId:$t){...InvoiceFields}}`);
export const DRAFT_INVOICE = graphql(`query DraftInvoice($t:ID!,$p:String!){draftInvoice(tenantId:$t,period:$p){...InvoiceFields}}`);
export const ISSUE_INVOICE = graphql(`mutation IssueInvoice($t:ID!,$p:String!){issueInvoice(tenantId:$t,period:$p){...InvoiceFields}}`);
export const MARK_PAID = graphql(`mutation MarkInvoicePaid($t:ID!,$id:ID!){markInvoicePaid(tenantId:$t,id:$id){...InvoiceFields}}`);
export const VOID_INVOICE = graphql(`mutation VoidInvoice($t:ID!,$id:ID!,$r:String!){voidInvoice(tenantId:$t,id:$id,reason:$r){...InvoiceFields}}`);
export const STATEMENT = graphql(`query ChargebackStatement($t:ID!,$p:String!,$g:String!){chargebackStatement(tenantId:$t,period:$p,groupBy:$g){
  period{label start end timeZone} groupBy groups{group groupName events listCost tenantCost amount} total tenantCost pdfUrl csvUrl}}`);
/** The events behind an invoice line: usageEvents filtered like the line. */
export const LINE_EVENTS = graphql(`query LineEvents($t:ID!,$from:Time!,$to:Time!,$f:SpendFilter,$after:String){usageEvents(tenantId:$t,from:$from,to:$to,filter:$f,first:50,after:$after){
  edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}`);

/** The month before now as YYYY-MM (UTC): the period usually issued next. */
export function previousPeriod(now: Date): string {
  const y = now.getUTCFullYear(), m = now.getUTCMonth(); // 0-based: m is the previous month 1-based
  return m === 0 ? `${y - 1}-12` : `${y}-${String(m).padStart(2, "0")}`;
}

/** Whether s is a period label (YYYY-MM). */
export function isPeriod(s: string): boolean {
  return /^\d{4}-(0[1-9]|1[0-2])$/.test(s);
}

/** Whether a tenant role may use billing (the API's billing.BillingRole: admins and owners). */
export function isBillingRole(role: string): boolean {
  return role === "OWNER" || role === "ADMIN";
}

/** Whether the invoice can still be marked paid or voided. */
export function canChange(inv: Pick<Invoice, "status">): boolean {
  return inv.status === "ISSUED";
}

/**
 * The usageEvents arguments that list the events behind a line: the line's
 * provider and model in its period (for an adjustment, the period it
 * adjusts, when that invoice is known), narrowed to its team, project or
 * workspace when the invoice is grouped by one. Returns null when the
 * adjusted period is not among the known invoices.
 */
export function lineEventsQuery(inv: Pick<Invoice, "period" | "groupBy">, line: InvoiceLine, known: Pick<Invoice, "period">[]):
  { from: string; to: string; f: Record<string, unknown> } | null {
  let period = inv.period;
  if (line.kind === "ADJUSTMENT") {
    const p = known.find((k) => k.period.label === line.adjustsPeriod)?.period;
    if (!p) return null;
    period = p;
  }
  const f: Record<string, unknown> = { providers: [line.provider], models: [line.model] };
  if (line.group) {
    if (inv.groupBy === "team") f.teamIds = [line.group];
    else if (inv.groupBy === "project") f.projectIds = [line.group];
    else if (inv.groupBy === "workspace") f.workspaceIds = [line.group];
    else if (inv.groupBy.startsWith("dim:")) f.dimensions = [{ name: inv.groupBy.slice(4), values: [line.group] }];
  }
  return { from: period.start, to: period.end, f };
}

/** "input 1,234 · output 56": a line's quantities in the API's order. */
export function quantitiesText(q: InvoiceLine["quantities"]): string {
  return q.map((x) => `${x.class.replace(/_/g, " ")} ${x.quantity.toLocaleString("en-US")}`).join(" · ");
}

/** A file name for a download: invoice-2026-11-INV-000001.pdf. */
export function documentName(inv: Pick<Invoice, "period" | "number">, ext: "pdf" | "csv"): string {
  return `invoice-${inv.period.label}-${inv.number}.${ext}`;
}
