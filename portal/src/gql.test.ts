import { describe, expect, it } from "vitest";
import { Api, GqlError, isSchemaMismatch, toGqlError } from "./gql";

describe("toGqlError", () => {
  it("keeps the server message and code", () => {
    const e = toGqlError([{ message: "name is required", extensions: { code: "INVALID_ARGUMENT" } }]);
    expect(e.message).toBe("name is required");
    expect(e.code).toBe("INVALID_ARGUMENT");
  });
  it("counts further errors", () => {
    expect(toGqlError([{ message: "a" }, { message: "b" }], 200).message).toBe("a (+1 more)");
  });
  it("maps bare HTTP statuses", () => {
    expect(toGqlError(undefined, 401).code).toBe("UNAUTHENTICATED");
    expect(toGqlError(undefined, 502).code).toBe("INTERNAL");
    expect(toGqlError([{ message: "no token" }], 401).code).toBe("UNAUTHENTICATED");
  });
});

function fakeFetch(responses: Array<{ status: number; body: unknown }>, seen: Array<{ auth: string | null; query: string }>): typeof fetch {
  return (async (_url: unknown, init?: RequestInit) => {
    const h = new Headers(init?.headers);
    seen.push({ auth: h.get("Authorization"), query: JSON.parse(String(init?.body)).query });
    const r = responses.shift();
    if (!r) throw new TypeError("network down");
    return new Response(JSON.stringify(r.body), { status: r.status });
  }) as typeof fetch;
}

const session = (tok: string, exp = "2999-01-01T00:00:00Z") => ({ accessToken: tok, refreshToken: "r-" + tok, expiresAt: exp, user: { id: "u", email: "a@b", name: "A" } });

describe("Api", () => {
  it("refreshes once on UNAUTHENTICATED and retries with the new token", async () => {
    const seen: Array<{ auth: string | null; query: string }> = [];
    const changes: unknown[] = [];
    const api = new Api("/query", session("old"), (s) => changes.push(s), fakeFetch([
      { status: 200, body: { errors: [{ message: "token expired", extensions: { code: "UNAUTHENTICATED" } }] } },
      { status: 200, body: { data: { refreshSession: session("new") } } },
      { status: 200, body: { data: { me: { email: "a@b" } } } },
    ], seen));
    const d = await api.request<{ me: { email: string } }>("{me{email}}");
    expect(d.me.email).toBe("a@b");
    expect(seen.map((s) => s.auth)).toEqual(["Bearer old", null, "Bearer new"]);
    expect(changes).toHaveLength(1);
  });
  it("drops the session when the refresh fails", async () => {
    const changes: unknown[] = [];
    const api = new Api("/query", session("old", "2000-01-01T00:00:00Z"), (s) => changes.push(s), fakeFetch([
      { status: 200, body: { errors: [{ message: "refresh token spent", extensions: { code: "UNAUTHENTICATED" } }] } },
    ], []));
    await expect(api.request("{me{email}}")).rejects.toMatchObject({ code: "UNAUTHENTICATED", message: "refresh token spent" });
    expect(changes).toEqual([null]);
    expect(api.session).toBeNull();
  });
  it("reports network failures with code NETWORK", async () => {
    const api = new Api("/query", null, () => {}, fakeFetch([], []));
    const e = (await api.raw("{me{email}}").catch((x) => x)) as GqlError;
    expect(e).toBeInstanceOf(GqlError);
    expect(e.code).toBe("NETWORK");
  });
});

describe("isSchemaMismatch", () => {
  it.each([
    [new GqlError('Cannot query field "spendTotal" on type "Query".', "INVALID_ARGUMENT"), true],
    [new GqlError("anything", "GRAPHQL_VALIDATION_FAILED"), true],
    [new GqlError("amount must be positive", "INVALID_ARGUMENT"), false],
    [new Error('Cannot query field "x"'), false],
  ])("%s", (e, want) => expect(isSchemaMismatch(e)).toBe(want));
});
