// A graphql-ws (graphql-transport-ws) client for tests: subscribes to a
// tenant's budget alerts on spendgate's GraphQL endpoint and prints one JSON
// line per event: {"connected":true} once the connection is acknowledged,
// then {"data":{"budgetAlerts":{...}}} per alert. Errors go to stderr and
// exit non-zero.
//
//   node --experimental-websocket subscribe.mjs ws://host/query <accessToken> <tenantId>
import { createClient } from "graphql-ws";

const [url, token, tenantId] = process.argv.slice(2);
if (!url || !token || !tenantId) {
  console.error("usage: subscribe.mjs <ws url> <access token> <tenant id>");
  process.exit(64);
}
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: false,
  retryAttempts: 0,
  connectionParams: { authorization: `Bearer ${token}` },
  on: { connected: () => console.log(JSON.stringify({ connected: true })) },
});
client.subscribe(
  {
    query: `subscription($t: ID!) { budgetAlerts(tenantId: $t) {
      id budgetId budgetName threshold spent amount hard message at periodStart periodEnd } }`,
    variables: { t: tenantId },
  },
  {
    next: (value) => console.log(JSON.stringify(value)),
    error: (err) => {
      console.error(JSON.stringify(err instanceof Error ? err.message : err));
      process.exit(2);
    },
    complete: () => process.exit(0),
  },
);
