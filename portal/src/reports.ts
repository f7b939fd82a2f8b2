// Scheduled reports: the form, its validation and the GraphQL documents,
// kept apart from the screen so they are unit tested. The server validates
// again (cron syntax, IANA zone, addresses) and its message is shown as is.
import { splitList } from "./validate";
import { graphql } from "./gql/gql";
import type { ReportFieldsFragment, ReportFrequency, ReportScope } from "./gql/graphql";

export const REPORT_FRAGMENT = graphql(`fragment ReportFields on Report {id name frequency cron timeZone scope nodeId emails slackWebhookUrl enabled nextRunAt lastRunAt lastError createdAt updatedAt}`);
export const REPORTS = graphql(`query Reports($t:ID!){reports(tenantId:$t){...ReportFields}}`);
export const CREATE_REPORT = graphql(`mutation CreateReport($t:ID!,$in:ReportInput!){createReport(tenantId:$t,input:$in){...ReportFields}}`);
export const UPDATE_REPORT = graphql(`mutation UpdateReport($t:ID!,$id:ID!,$in:ReportInput!){updateReport(tenantId:$t,id:$id,input:$in){...ReportFields}}`);
export const DELETE_REPORT = graphql(`mutation DeleteReport($t:ID!,$id:ID!){deleteReport(tenantId:$t,id:$id)}`);
export const SEND_TEST_REPORT = graphql(`mutation SendTestReport($t:ID!,$id:ID!){sendTestReport(tenantId:$t,id:$id){periodFrom periodTo spend channels}}`);
/** The teams and projects a report may cover. */
export const REPORT_NODES = graphql(`query ReportNodes($t:ID!){orgTree(tenantId:$t){...NodeFields}}`);

export type Frequency = ReportFrequency;
export type { ReportScope } from "./gql/graphql";
/** A report as the API returns it (generated from ReportFields). */
export type Report = ReportFieldsFragment;

export interface ReportForm {
  name: string;
  frequency: Frequency;
  cron: string;
  timeZone: string;
  scope: ReportScope;
  nodeId: string;
  emails: string;
  slackWebhookUrl: string;
  enabled: boolean;
}

/** The browser's own zone, the sensible default for a new report. */
export function localZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function emptyReport(zone = localZone()): ReportForm {
  return { name: "", frequency: "WEEKLY", cron: "", timeZone: zone, scope: "TENANT", nodeId: "", emails: "", slackWebhookUrl: "", enabled: true };
}

export function reportForm(r: Report): ReportForm {
  return {
    name: r.name, frequency: r.frequency, cron: r.cron ?? "", timeZone: r.timeZone, scope: r.scope, nodeId: r.nodeId ?? "",
    emails: r.emails.join(", "), slackWebhookUrl: r.slackWebhookUrl ?? "", enabled: r.enabled,
  };
}

const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;

/** Field → message for every invalid field; empty when the form is valid. */
export function reportErrors(f: ReportForm): Record<string, string> {
  const e: Record<string, string> = {};
  if (!f.name.trim()) e.name = "Give the report a name.";
  if (f.frequency === "CRON") {
    const fields = f.cron.trim().split(/\s+/).filter(Boolean);
    if (!f.cron.trim()) e.cron = "Enter a cron line, e.g. 0 8 * * 1 (Mondays at 08:00).";
    else if (!f.cron.trim().startsWith("@") && fields.length !== 5) e.cron = `A cron line has five fields (minute hour day-of-month month day-of-week); this one has ${fields.length}.`;
  }
  if (!f.timeZone.trim()) e.timeZone = "Enter a time zone such as Europe/Berlin.";
  if (f.scope !== "TENANT" && !f.nodeId) e.nodeId = `Choose the ${f.scope.toLowerCase()} the report covers.`;
  const emails = splitList(f.emails);
  const bad = emails.find((x) => !EMAIL.test(x));
  if (bad) e.emails = `"${bad}" is not an email address like name@example.com.`;
  const slack = f.slackWebhookUrl.trim();
  if (slack && !/^https:\/\/\S+$/.test(slack)) e.slackWebhookUrl = "The Slack webhook must be an https:// URL.";
  if (!emails.length && !slack) e.emails = "Send the report somewhere: enter an email address or a Slack webhook.";
  return e;
}

/** The ReportInput for a valid form. */
export function reportInput(f: ReportForm) {
  return {
    name: f.name.trim(),
    frequency: f.frequency,
    cron: f.frequency === "CRON" ? f.cron.trim() : null,
    timeZone: f.timeZone.trim(),
    scope: f.scope,
    nodeId: f.scope === "TENANT" ? null : f.nodeId,
    emails: splitList(f.emails),
    slackWebhookUrl: f.slackWebhookUrl.trim() || null,
    enabled: f.enabled,
  };
}

/** When the report goes out, in words. */
export function scheduleText(r: Pick<Report, "frequency" | "cron" | "timeZone">): string {
  switch (r.frequency) {
    case "WEEKLY":
      return `Mondays at 08:00 (${r.timeZone}), covering the week before`;
    case "MONTHLY":
      return `the 1st at 08:00 (${r.timeZone}), covering the month before`;
    default:
      return `cron ${r.cron} (${r.timeZone})`;
  }
}
