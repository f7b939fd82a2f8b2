// Form validation and input parsing, kept apart from the components so it is unit tested.
import { moneyError } from "./money";

/** Splits a comma/newline separated list, trimming and dropping empties. */
export function splitList(s: string): string[] {
  return s.split(/[,\n]/).map((x) => x.trim()).filter(Boolean);
}

/** Parses "name=value, other=value" into dimension pairs; throws with a clear message. */
export function parseDims(s: string): { name: string; value: string }[] {
  return splitList(s).map((p) => {
    const i = p.indexOf("=");
    if (i <= 0 || i === p.length - 1) throw new Error(`Dimension "${p}" must look like name=value.`);
    return { name: p.slice(0, i).trim(), value: p.slice(i + 1).trim() };
  });
}

/** Parses thresholds "50, 80, 100" into sorted unique percents in 1..1000. */
export function parseThresholds(s: string): number[] {
  const out = new Set<number>();
  for (const p of splitList(s)) {
    if (!/^\d+$/.test(p)) throw new Error(`Threshold "${p}" is not a whole percent.`);
    const n = Number(p);
    if (n < 1 || n > 1000) throw new Error(`Threshold ${n} must be between 1 and 1000 percent.`);
    out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

export interface BudgetForm {
  name: string;
  scope: "TENANT" | "WORKSPACE" | "TEAM" | "PROJECT" | "KEY" | "PROVIDER" | "MODEL" | "DIMENSION";
  keyId: string;
  dimensionName: string;
  dimensionValue: string;
  /** The workspace, team or project of a budget of that scope. */
  nodeId?: string;
  provider?: string;
  model?: string;
  /** Carry the unused amount into the next period. */
  rollover?: boolean;
  period: "DAY" | "WEEK" | "MONTH" | "QUARTER" | "YEAR";
  amount: string;
  thresholds: string;
  hard: boolean;
  webhookUrl: string;
  /** Alert email recipients, comma separated. */
  alertEmails?: string;
  /** Count max(metered, provider-reported) spend (tenant and provider budgets; the server checks which providers). */
  reportedSpend?: boolean;
  /** Hard budgets: called once per period when the cap is reached. */
  breachWebhookUrl?: string;
  /** Write-only signing secret; empty keeps the stored one. */
  breachWebhookSecret?: string;
  /** The saved budget already has a signing secret. */
  breachWebhookSigned?: boolean;
}

/** Scopes whose spend the providers' own reports can count toward (the server has the final word). */
export const reportedSpendScopes: BudgetForm["scope"][] = ["TENANT", "PROVIDER"];

/** Field → message for every invalid field; empty when the form is valid. */
export function budgetErrors(f: BudgetForm): Record<string, string> {
  const e: Record<string, string> = {};
  if (!f.name.trim()) e.name = "Give the budget a name.";
  const m = moneyError(f.amount);
  if (m) e.amount = m;
  if (f.scope === "KEY" && !f.keyId) e.keyId = "Choose the key this budget covers.";
  if ((f.scope === "WORKSPACE" || f.scope === "TEAM" || f.scope === "PROJECT") && !f.nodeId) e.nodeId = `Choose the ${f.scope.toLowerCase()} this budget covers.`;
  if (f.scope === "PROVIDER" && !f.provider?.trim()) e.provider = "Enter the provider, e.g. openai.";
  if (f.scope === "MODEL" && !f.model?.trim()) e.model = "Enter the model, e.g. gpt-4o.";
  if (f.scope === "DIMENSION") {
    if (!f.dimensionName.trim()) e.dimensionName = "Enter the dimension name.";
    if (!f.dimensionValue.trim()) e.dimensionValue = "Enter the dimension value.";
  }
  try {
    parseThresholds(f.thresholds);
  } catch (err) {
    e.thresholds = (err as Error).message;
  }
  if (f.webhookUrl.trim() && !/^https?:\/\/\S+$/.test(f.webhookUrl.trim())) e.webhookUrl = "The webhook must be an http(s) URL.";
  const badEmail = splitList(f.alertEmails ?? "").find((x) => !/^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/.test(x));
  if (badEmail) e.alertEmails = `"${badEmail}" is not an email address like name@example.com.`;
  const breach = f.hard ? (f.breachWebhookUrl ?? "").trim() : "";
  const secret = (f.breachWebhookSecret ?? "").trim();
  if (breach && !/^https?:\/\/\S+$/.test(breach)) e.breachWebhookUrl = "The breach webhook must be an http(s) URL.";
  if (breach && !secret && !f.breachWebhookSigned) e.breachWebhookSecret = "A breach webhook needs a signing secret (at least 16 characters).";
  if (secret && secret.length < 16) e.breachWebhookSecret = "The signing secret must be at least 16 characters.";
  return e;
}

/** The BudgetInput for a valid form. */
export function budgetInput(f: BudgetForm) {
  return {
    name: f.name.trim(),
    scope: f.scope,
    keyId: f.scope === "KEY" ? f.keyId : null,
    workspaceId: f.scope === "WORKSPACE" ? f.nodeId : null,
    teamId: f.scope === "TEAM" ? f.nodeId : null,
    projectId: f.scope === "PROJECT" ? f.nodeId : null,
    provider: f.scope === "PROVIDER" || (f.scope === "MODEL" && f.provider?.trim()) ? f.provider!.trim() : null,
    model: f.scope === "MODEL" ? f.model!.trim() : null,
    rollover: !!f.rollover,
    dimensionName: f.scope === "DIMENSION" ? f.dimensionName.trim() : null,
    dimensionValue: f.scope === "DIMENSION" ? f.dimensionValue.trim() : null,
    period: f.period,
    amount: f.amount.trim(),
    thresholds: parseThresholds(f.thresholds),
    hard: f.hard,
    webhookUrl: f.webhookUrl.trim() || null,
    alertEmails: splitList(f.alertEmails ?? ""),
    spendBasis: f.reportedSpend && reportedSpendScopes.includes(f.scope) ? ("MAX_METERED_REPORTED" as const) : ("METERED" as const),
    breachWebhookUrl: (f.hard && f.breachWebhookUrl?.trim()) || null,
    breachWebhookSecret: (f.hard && f.breachWebhookUrl?.trim() && f.breachWebhookSecret?.trim()) || null,
  };
}

export interface KeyPolicy {
  allowedProviders: string[];
  allowedModels: string[];
  requiredDimensions: string[];
  defaultDimensions: { name: string; value: string }[];
  requirePricedModels: boolean;
  injectProviderCredentials?: boolean;
}

/** A key policy in one line; empty allow-lists allow everything. */
export function policySummary(p: KeyPolicy): string {
  const parts: string[] = [];
  if (p.allowedProviders.length) parts.push("providers: " + p.allowedProviders.join(", "));
  if (p.allowedModels.length) parts.push("models: " + p.allowedModels.join(", "));
  if (p.requiredDimensions.length) parts.push("requires: " + p.requiredDimensions.join(", "));
  if (p.defaultDimensions.length) parts.push("defaults: " + p.defaultDimensions.map((d) => `${d.name}=${d.value}`).join(", "));
  if (p.requirePricedModels) parts.push("priced models only");
  if (p.injectProviderCredentials) parts.push("stored provider keys");
  return parts.join("; ") || "any provider and model";
}
