import { describe, expect, it } from "vitest";
import { domainOf, formatMapping, parseMappings, readCallback } from "./sso";

describe("readCallback", () => {
  it("accepts the state this browser kept", () => {
    expect(readCallback("?code=abc&state=s1", "s1")).toEqual({ code: "abc", state: "s1" });
  });
  it("refuses a state it did not start (login CSRF)", () => {
    expect(readCallback("?code=abc&state=other", "s1")).toHaveProperty("error");
    expect(readCallback("?code=abc&state=s1", null)).toHaveProperty("error");
  });
  it("shows the provider's error", () => {
    const r = readCallback("?error=access_denied&error_description=User+cancelled", "s1");
    expect(r).toEqual({ error: "The identity provider refused the sign-in: User cancelled" });
  });
  it("needs a code", () => {
    expect(readCallback("?state=s1", "s1")).toHaveProperty("error");
  });
});

describe("domainOf", () => {
  it("finds the domain of an email", () => {
    expect(domainOf(" Ann@Acme.Example ")).toBe("acme.example");
    expect(domainOf("ann@")).toBe("");
    expect(domainOf("ann")).toBe("");
  });
});

describe("group mappings", () => {
  const nodes = [
    { id: "11111111-1111-4111-8111-111111111111", kind: "PROJECT", name: "payments" },
    { id: "22222222-2222-4222-8222-222222222222", kind: "TEAM", name: "core" },
    { id: "33333333-3333-4333-8333-333333333333", kind: "PROJECT", name: "twin" },
    { id: "44444444-4444-4444-8444-444444444444", kind: "PROJECT", name: "twin" },
  ];
  it("parses tenant and scoped rules by name or id", () => {
    expect(parseMappings("Finance=viewer\ndevs=project_member@payments\nleads=TEAM_ADMIN@22222222-2222-4222-8222-222222222222", nodes)).toEqual({ rules: [
      { group: "Finance", role: "VIEWER" },
      { group: "devs", scopedRole: "PROJECT_MEMBER", nodeId: nodes[0].id },
      { group: "leads", scopedRole: "TEAM_ADMIN", nodeId: nodes[1].id },
    ] });
  });
  it("refuses unknown and ambiguous names and non-scoped roles", () => {
    expect(parseMappings("devs=PROJECT_MEMBER@nowhere", nodes)).toHaveProperty("error");
    expect(parseMappings("devs=PROJECT_MEMBER@twin", nodes)).toHaveProperty("error");
    expect(parseMappings("devs=TEAM_ADMIN@payments", nodes)).toHaveProperty("error");
    expect(parseMappings("devs=ADMIN@payments", nodes)).toHaveProperty("error");
    expect(parseMappings("no-role", nodes)).toHaveProperty("error");
  });
  it("formats what it parses, by id when the name is ambiguous", () => {
    expect(formatMapping({ group: "devs", role: "MEMBER", scopedRole: "PROJECT_MEMBER", nodeId: nodes[0].id }, nodes)).toBe("devs=PROJECT_MEMBER@payments");
    expect(formatMapping({ group: "x", role: "MEMBER", scopedRole: "PROJECT_VIEWER", nodeId: nodes[2].id }, nodes)).toBe(`x=PROJECT_VIEWER@${nodes[2].id}`);
    expect(formatMapping({ group: "Finance", role: "VIEWER" }, nodes)).toBe("Finance=VIEWER");
  });
});
