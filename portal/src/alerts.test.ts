import { describe, expect, it } from "vitest";
import { alertText, describeWsError, liveLabel, mergeAlerts, type Alert } from "./alerts";

const a = (id: string, at: string, threshold = 50): Alert => ({
  id, budgetId: "b", budgetName: "monthly", threshold, periodStart: "2026-03-01T00:00:00Z", periodEnd: "2026-04-01T00:00:00Z",
  spent: "5", amount: "10", hard: false, message: "", at,
});

describe("mergeAlerts", () => {
  it("lists each alert once, newest first", () => {
    const history = [a("1", "2026-03-02T00:00:00Z"), a("2", "2026-03-03T00:00:00Z", 80)];
    const live = [a("3", "2026-03-04T00:00:00Z", 100), a("2", "2026-03-03T00:00:00Z", 80)];
    expect(mergeAlerts(live, history).map((x) => x.id)).toEqual(["3", "2", "1"]);
  });
  it("orders alerts of the same instant by id", () => {
    expect(mergeAlerts([a("9", "2026-03-02T00:00:00Z")], [a("10", "2026-03-02T00:00:00Z")]).map((x) => x.id)).toEqual(["10", "9"]);
  });
  it("keeps at most the limit", () => {
    expect(mergeAlerts([], [a("1", "2026-03-02T00:00:00Z"), a("2", "2026-03-03T00:00:00Z")], 1).map((x) => x.id)).toEqual(["2"]);
  });
});

describe("texts", () => {
  it("prefers the server's message", () => {
    expect(alertText({ ...a("1", "2026-03-02T00:00:00Z"), message: "Budget monthly reached 50%" })).toBe("Budget monthly reached 50%");
    expect(alertText(a("1", "2026-03-02T00:00:00Z"))).toBe('Budget "monthly" reached 50%');
  });
  it("labels the subscription state", () => {
    expect(liveLabel("live")).toBe("live");
    expect(liveLabel({ error: "FORBIDDEN" })).toBe("alerts unavailable: FORBIDDEN");
  });
  it("describes websocket failures", () => {
    expect(describeWsError([{ message: "not a member" }])).toBe("not a member");
    expect(describeWsError({ code: 4403, reason: "Forbidden" })).toBe("connection closed (4403: Forbidden)");
    expect(describeWsError(new Error("boom"))).toBe("boom");
    expect(describeWsError(undefined)).toBe("connection failed");
  });
});
