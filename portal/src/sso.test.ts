import { describe, expect, it } from "vitest";
import { domainOf, readCallback } from "./sso";

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
