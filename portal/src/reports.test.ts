import { describe, expect, it } from "vitest";
import { emptyReport, reportErrors, reportForm, reportInput, scheduleText, type Report } from "./reports";

describe("report form", () => {
  it("needs a name, somewhere to send and a node for team reports", () => {
    const f = { ...emptyReport("UTC"), scope: "TEAM" as const };
    const e = reportErrors(f);
    expect(e.name).toMatch(/name/);
    expect(e.emails).toMatch(/email address or a Slack webhook/);
    expect(e.nodeId).toBe("Choose the team the report covers.");
  });
  it("checks cron lines, addresses and the Slack URL", () => {
    const f = { ...emptyReport("UTC"), name: "r", frequency: "CRON" as const, cron: "0 8 * *", emails: "a@example.com, bob", slackWebhookUrl: "http://hooks.slack.com/x" };
    const e = reportErrors(f);
    expect(e.cron).toMatch(/five fields .* has 4/);
    expect(e.emails).toBe('"bob" is not an email address like name@example.com.');
    expect(e.slackWebhookUrl).toMatch(/https/);
    expect(reportErrors({ ...f, cron: "@weekly", emails: "a@example.com", slackWebhookUrl: "" })).toEqual({});
  });
  it("builds the input and reads a report back", () => {
    const f = { ...emptyReport("Europe/Berlin"), name: " Weekly ", emails: "a@example.com,\n b@example.com", cron: "ignored" };
    expect(reportInput(f)).toEqual({ name: "Weekly", frequency: "WEEKLY", cron: null, timeZone: "Europe/Berlin", scope: "TENANT", nodeId: null,
      emails: ["a@example.com", "b@example.com"], slackWebhookUrl: null, enabled: true });
    const r: Report = { id: "1", name: "Weekly", frequency: "CRON", cron: "0 9 1 * *", timeZone: "UTC", scope: "PROJECT", nodeId: "p",
      emails: ["a@example.com"], slackWebhookUrl: null, enabled: false, nextRunAt: null, lastRunAt: null, lastError: null,
      createdAt: "2026-11-01T00:00:00Z", updatedAt: "2026-11-01T00:00:00Z" };
    expect(reportForm(r)).toMatchObject({ frequency: "CRON", cron: "0 9 1 * *", nodeId: "p", emails: "a@example.com", enabled: false });
    expect(scheduleText(r)).toBe("cron 0 9 1 * * (UTC)");
    expect(scheduleText({ ...r, frequency: "WEEKLY", timeZone: "Europe/Berlin" })).toBe("Mondays at 08:00 (Europe/Berlin), covering the week before");
  });
});
