// Spend intelligence for the Insights screen: the month-end forecast,
// savings recommendations and anomaly episodes. Money stays exact (BigInt
// nano-USD); shaping lives here so it is unit tested.
import { toNano, fromNano } from "./money";
import { graphql } from "./gql/gql";
import type { InsightsQuery, RecommendationFieldsFragment, RecommendationState } from "./gql/graphql";

// The types of what the API returns, generated from the documents below.
export type { RecommendationState } from "./gql/graphql";
export type Recommendation = RecommendationFieldsFragment;
export type AnomalyEpisode = InsightsQuery["anomalies"][number];
export type SpendForecast = InsightsQuery["spendForecast"];

export const RECOMMENDATION_FRAGMENT = graphql(`fragment RecommendationFields on Recommendation {id kind title detail keyId keyName provider model alternative currentMonthlyCost monthlySavings requests state stateChangedBy stateChangedAt}`);

/** Everything the Insights screen shows, in one request. */
export const INSIGHTS = graphql(`query Insights($t:ID!,$from:Time!,$to:Time!){
  spendForecast(tenantId:$t){periodStart periodEnd spent expected low high method}
  recommendations(tenantId:$t){...RecommendationFields}
  anomalies(tenantId:$t,from:$from,to:$to){id dimension value label severity startedAt endedAt peakHour peakSpend peakExpected excessSpend anomalousHours}}`);
export const SET_RECOMMENDATION_STATE = graphql(`mutation SetRecommendationState($t:ID!,$id:ID!,$s:RecommendationState!){setRecommendationState(tenantId:$t,id:$id,state:$s){...RecommendationFields}}`);

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
