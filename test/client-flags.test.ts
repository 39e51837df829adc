/**
 * The client CLI's pieces that need no gateway: TTL and range flags, the split of commands from
 * options, and the progress renderer on a terminal and in a log.
 */
import { describe, expect, it } from "vitest";
import { parseRange, parseTtl, splitArgs } from "../neurons/client/flags.js";
import { createProgressReporter, formatBytes } from "../neurons/client/progress.js";
import { ConfigError } from "../neurons/config.js";

describe("flags", () => {
  it("reads TTLs in days, hours, minutes and seconds", () => {
    expect(parseTtl("30d")).toBe(30 * 86_400);
    expect(parseTtl("12h")).toBe(12 * 3_600);
    expect(parseTtl("90m")).toBe(90 * 60);
    expect(parseTtl("3600s")).toBe(3_600);
    expect(parseTtl("3600")).toBe(3_600);
    for (const bad of ["0", "0d", "-1", "1.5h", "1w", "d", "", " 1d", "1000000000000d"]) {
      expect(() => parseTtl(bad), bad).toThrow(ConfigError);
    }
  });

  it("reads ranges a-b (inclusive) and a-", () => {
    expect(parseRange("0-0")).toEqual({ offset: 0, length: 1 });
    expect(parseRange("10-19")).toEqual({ offset: 10, length: 10 });
    expect(parseRange("5-")).toEqual({ offset: 5, length: Number.MAX_SAFE_INTEGER - 5 });
    for (const bad of ["9-1", "-5", "a-b", "1-2-3", "", "1"])
      expect(() => parseRange(bad), bad).toThrow(ConfigError);
  });

  it("splits the command and its arguments from the options", () => {
    const booleans = new Set(["json", "public"]);
    expect(splitArgs(["put", "-", "--ttl", "1d", "--json", "--public"], booleans)).toEqual({
      positionals: ["put", "-"],
      options: ["--ttl", "1d", "--json", "--public"],
    });
    expect(splitArgs(["--json", "get", "bafy", "-o", "-", "--range=1-2"], booleans)).toEqual({
      positionals: ["get", "bafy"],
      options: ["--json", "--output", "-", "--range=1-2"],
    });
    expect(splitArgs(["put", "--", "--odd-name"], booleans).positionals).toEqual(["put", "--odd-name"]);
  });
});

describe("progress", () => {
  it("redraws one bar in place on a terminal, with rate and ETA", () => {
    let clock = 0;
    let text = "";
    const progress = createProgressReporter({ write: (t) => (text += t), tty: true, now: () => clock });
    progress.update({ phase: "upload", bytes: 0, total: 4 * 1024 * 1024 });
    clock = 1000;
    progress.update({ phase: "upload", bytes: 1024 * 1024, total: 4 * 1024 * 1024 });
    progress.finish();
    expect(text).toContain("\ruploading   [######------------------] 1.0 MiB / 4.0 MiB  1.0 MiB/s ETA 3s");
    expect(text.endsWith("\n")).toBe(true);
    expect(text.split("\n")).toHaveLength(2);
  });

  it("prints a plain line at most every interval when not on a terminal", () => {
    let clock = 0;
    const lines: string[] = [];
    const progress = createProgressReporter({ write: (t) => lines.push(t), tty: false, now: () => clock });
    progress.update({ phase: "download", bytes: 0, total: 100 });
    for (clock = 1000; clock <= 12_000; clock += 1000)
      progress.update({ phase: "download", bytes: clock / 200, total: 100 });
    progress.finish();
    expect(lines).toEqual([
      "downloading: 25 B / 100 B (25%), 5 B/s ETA 15s\n",
      "downloading: 50 B / 100 B (50%), 5 B/s ETA 10s\n",
    ]);
  });

  it("formats sizes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(10 * 1024 ** 3)).toBe("10.0 GiB");
  });
});
