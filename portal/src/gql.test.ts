import { describe, expect, it } from "vitest";
import { Api, GqlError, toGqlError } from "./gql";

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

describe("Api.download", () => {
  function fetchSeq(responses: Response[], seen: Array<{ url: string; auth: string | null }>): typeof fetch {
    return (async (url: unknown, init?: RequestInit) => {
      seen.push({ url: String(url), auth: new Headers(init?.headers).get("Authorization") });
      const r = responses.shift();
      if (!r) throw new TypeError("network down");
      return r;
    }) as typeof fetch;
  }
  it("sends the bearer token and returns the file", async () => {
    const seen: Array<{ url: string; auth: string | null }> = [];
    const api = new Api("/query", session("tok"), () => {}, fetchSeq([new Response("provider,requests\nopenai,2\n", { status: 200 })], seen));
    const blob = await api.download("/export/spend.csv?groupBy=provider");
    expect(await blob.text()).toBe("provider,requests\nopenai,2\n");
    expect(seen).toEqual([{ url: "/export/spend.csv?groupBy=provider", auth: "Bearer tok" }]);
  });
  it("refreshes once on 401", async () => {
    const seen: Array<{ url: string; auth: string | null }> = [];
    const api = new Api("/query", session("old"), () => {}, fetchSeq([
      new Response(JSON.stringify({ errors: [{ message: "expired", extensions: { code: "UNAUTHENTICATED" } }] }), { status: 401 }),
      new Response(JSON.stringify({ data: { refreshSession: session("new") } }), { status: 200 }),
      new Response("x\n", { status: 200 }),
    ], seen));
    expect(await (await api.download("/export/spend.csv")).text()).toBe("x\n");
    expect(seen.map((s) => s.auth)).toEqual(["Bearer old", null, "Bearer new"]);
  });
  it("reports the export's error message and code", async () => {
    const api = new Api("/query", session("tok"), () => {}, fetchSeq([
      new Response(JSON.stringify({ error: { code: "INVALID_ARGUMENT", message: "top must be a positive number" } }), { status: 400 }),
    ], []));
    await expect(api.download("/export/spend.csv?top=0")).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: "top must be a positive number" });
  });
});
