// Spend intelligence for the Insights screen: the month-end forecast,
// savings recommendations and anomaly episodes. Money stays exact (BigInt
// nano-USD); shaping lives here so it is unit tested.
import { toNano, fromNano } from "./money";

export type RecommendationState = "OPEN" | "APPLIED" | "DISMISSED";
export interface Recommendation {
  id: string;
  kind: "CHEAPER_MODEL" | "PROMPT_CACHING" | "BATCH_API" | "PRICE_MODEL" | "REVOKE_KEY";
  title: string;
  detail: string;
  keyId: string | null;
  keyName: string | null;
  provider: string;
  model: string;
  alternative: string;
  currentMonthlyCost: string;
  monthlySavings: string;
  requests: number;
  state: RecommendationState;
  stateChangedBy: string | null;
  stateChangedAt: string | null;
}

export interface AnomalyEpisode {
  id: string;
  dimension: "TENANT" | "KEY" | "TEAM" | "PROJECT" | "MODEL";
  value: string;
  label: string;
  severity: "MINOR" | "MAJOR" | "CRITICAL";
  startedAt: string;
  endedAt: string | null;
  peakHour: string;
  peakSpend: string;
  peakExpected: string;
  excessSpend: string;
  anomalousHours: number;
}

export interface SpendForecast { periodStart: string; periodEnd: string; spent: string; expected: string; low: string; high: string; method: string }

const REC = `id kind title detail keyId keyName provider model alternative currentMonthlyCost monthlySavings requests state stateChangedBy stateChangedAt`;
const EPISODE = `id dimension value label severity startedAt endedAt peakHour peakSpend peakExpected excessSpend anomalousHours`;

/** Everything the Insights screen shows, in one request. */
export const INSIGHTS = `query($t:ID!,$from:Time!,$to:Time!){
  spendForecast(tenantId:$t){periodStart periodEnd spent expected low high method}
  recommendations(tenantId:$t){${REC}}
  anomalies(tenantId:$t,from:$from,to:$to){${EPISODE}}}`;
export const SET_RECOMMENDATION_STATE = `mutation($t:ID!,$id:ID!,$s:RecommendationState!){setRecommendationState(tenantId:$t,id:$id,state:$s){${REC}}}`;

/** Open savings a month: the sum of the open recommendations' savings. */
export function openSavings(recs: Recommendation[]): string {
  return fromNano(recs.filter((r) => r.state === "OPEN").reduce((s, r) => s + toNano(r.monthlySavings), 0n));
}

/** Open first, then by saving (largest first); applied and dismissed after. */
export function sortRecommendations(recs: Recommendation[]): Recommendation[] {
  const rank = (s: RecommendationState) => (s === "OPEN" ? 0 : s === "APPLIED" ? 1 : 2);
  return [...recs].sort((a, b) => {
    if (rank(a.state) !== rank(b.state)) return rank(a.state) - rank(b.state);
    const d = toNano(b.monthlySavings) - toNano(a.monthlySavings);
    return d > 0n ? 1 : d < 0n ? -1 : a.title.localeCompare(b.title);
  });
}

const KIND_LABEL: Record<Recommendation["kind"], string> = {
  CHEAPER_MODEL: "Cheaper model",
  PROMPT_CACHING: "Prompt caching",
  BATCH_API: "Batch API",
  PRICE_MODEL: "Unpriced model",
  REVOKE_KEY: "Idle key",
};
export const kindLabel = (k: Recommendation["kind"]) => KIND_LABEL[k];

/** "4.0× usual" for an episode's peak (one decimal, exact BigInt ratio). */
export function peakRatio(e: AnomalyEpisode): string {
  const exp = toNano(e.peakExpected);
  if (exp <= 0n) return "new spend";
  const tenths = (toNano(e.peakSpend) * 10n) / exp;
  return `${tenths / 10n}.${tenths % 10n}× usual`;
}
