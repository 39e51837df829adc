import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCalibration } from "../sim/durability/calibration.js";
import { DurabilityConfigError, parseDurabilityConfig } from "../sim/durability/config.js";
import { runDurability } from "../sim/durability/run-durability.js";
import {
  binomialTail,
  markovStripeLossPerYear,
  pieceLossRate,
  stripeLossWithoutRepair,
} from "../sim/durability/stripe-loss.js";
import {
  parseDurabilitySweep,
  runDurabilitySweep,
  summariseDurabilitySweep,
} from "../sim/durability/sweep.js";

const MiB = 1 << 20;

/** Independent failures only (no outages, no operator failures): the binomial's assumptions. */
const independent = {
  uids: 256,
  validators: 16,
  k: 4,
  m: 2,
  days: 7,
  churnPerWeek: 0.2,
  outagesPerWeek: 0,
  operatorFailuresPerYear: 0,
  files: [{ count: 2000, bytes: 4 * MiB }],
};

function meanStripeLoss(config: Record<string, unknown>, seeds: number): number {
  let sum = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const r = runDurability({ ...config, seed });
    sum += r.stripesLost / r.stripes;
  }
  return sum / seeds;
}

describe("durability model", () => {
  it("replays a seed exactly and differs across seeds", () => {
    const config = { ...independent, days: 30, outagesPerWeek: 0.5, operatorFailuresPerYear: 2 };
    const a = runDurability({ ...config, seed: 7 });
    const b = runDurability({ ...config, seed: 7 });
    const c = runDurability({ ...config, seed: 8 });
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(a.outages).toBeGreaterThan(0);
    expect(a.operatorFailures).toBeGreaterThan(0);
  });

  it("matches the closed-form binomial per-stripe loss when repair is off", () => {
    const config = parseDurabilityConfig({ ...independent, repair: false });
    const analytic = stripeLossWithoutRepair(config, 7 * 86_400);
    expect(analytic).toBeGreaterThan(0.05);
    // Stripes share miners, so one run's losses are correlated: average over seeds (200 × 2000
    // stripes; the standard error is about 0.0024).
    const simulated = meanStripeLoss({ ...independent, repair: false }, 200);
    expect(Math.abs(simulated - analytic)).toBeLessThan(0.012);
  });

  it("loses orders of magnitude fewer stripes with repair on", () => {
    const without = meanStripeLoss({ ...independent, repair: false }, 20);
    const withRepair = runDurability({ ...independent, repair: true, seed: 1 });
    expect(withRepair.repairs).toBeGreaterThan(0);
    expect(withRepair.stripesLost).toBe(0);
    // The rare-loss estimate (per stripe over the week) is at least 1000× below the no-repair loss.
    const perStripe = withRepair.expectedStripeLosses / withRepair.stripes;
    expect(perStripe).toBeGreaterThan(0);
    expect(perStripe * 1000).toBeLessThan(without);
    expect(withRepair.markovStripeLossPerYear).toBeLessThan(1e-3);
  });

  it("estimates rare losses close to the losses it sees where both are measurable", () => {
    // Slow repair (256 KiB/s) and heavy churn: stripes are lost often enough to count.
    const config = {
      ...independent,
      uids: 64,
      validators: 4,
      days: 30,
      churnPerWeek: 0.3,
      files: [{ count: 5000, bytes: 4 * MiB }],
      repairBandwidth: 256 * 1024,
    };
    let seen = 0;
    let expected = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const r = runDurability({ ...config, seed });
      seen += r.stripesLost;
      expected += r.expectedStripeLosses;
    }
    expect(seen).toBeGreaterThan(10);
    expect(expected).toBeGreaterThan(seen / 2);
    expect(expected).toBeLessThan(seen * 2);
  });

  it("repairs more pieces per repair and reads less with lazy repair", () => {
    const config = { ...independent, m: 4, days: 30, files: [{ count: 2000, bytes: 16 * MiB }] };
    const eager = runDurability({ ...config, repairThreshold: 3 });
    const lazy = runDurability({ ...config, repairThreshold: 1 });
    expect(lazy.piecesRepaired / lazy.repairs).toBeGreaterThan(eager.piecesRepaired / eager.repairs);
    expect(lazy.repairBytes).toBeLessThan(eager.repairBytes);
    expect(lazy.expectedStripeLosses).toBeGreaterThan(eager.expectedStripeLosses);
  });

  it("runs a 256-UID subnet for a year with the defaults", () => {
    const r = runDurability({ seed: 1 });
    expect(r.miners).toBe(240);
    expect(r.days).toBe(365);
    expect(r.departures).toBeGreaterThan(100);
    expect(r.repairs).toBeGreaterThan(0);
    expect(r.overhead).toBeCloseTo(1.4);
    expect(r.fileLossPerYear).toBeGreaterThan(0);
    expect(r.fileLossPerYear).toBeLessThan(1e-3);
    expect(r.repairPerStoredPerYear).toBeGreaterThan(1);
  });

  it("refuses impossible configurations", () => {
    expect(() => parseDurabilityConfig({ m: 4, repairThreshold: 4 })).toThrow(DurabilityConfigError);
    expect(() => parseDurabilityConfig({ uids: 12, validators: 2, k: 10, m: 4 })).toThrow(
      DurabilityConfigError,
    );
    expect(() => parseDurabilityConfig({ churnPerWeek: 1 })).toThrow(DurabilityConfigError);
  });
});

describe("stripe-loss closed forms", () => {
  it("sums the binomial tail", () => {
    expect(binomialTail(14, 0.01, 5)).toBeCloseTo(1.9e-7, 8);
    expect(binomialTail(3, 0.5, 2)).toBeCloseTo(0.5, 12);
    expect(binomialTail(3, 0.5, 0)).toBe(1);
    expect(binomialTail(3, 0.5, 4)).toBe(0);
  });

  it("makes the Markov chain safer with faster repair", () => {
    const config = parseDurabilityConfig({});
    expect(pieceLossRate(config)).toBeGreaterThan(0);
    const slow = markovStripeLossPerYear(config, 24 * 3600);
    const fast = markovStripeLossPerYear(config, 600);
    expect(fast).toBeLessThan(slow / 100);
  });
});

describe("calibration scenario", () => {
  it("runs the full simulator's scale and loses files only without repair", () => {
    const on = runCalibration({ miners: 20, hours: 6, churnPerHour: 0.1 }, 10);
    const off = runCalibration({ miners: 20, hours: 6, churnPerHour: 0.1, repair: false }, 10);
    expect(on.departures).toBeGreaterThan(0);
    expect(on.repairs).toBeGreaterThan(0);
    expect(off.repairs).toBe(0);
    expect(off.filesLost).toBeGreaterThan(on.filesLost);
  });
});

describe("durability sweeps", () => {
  it("writes a row per possible point, skips r ≥ m, and marks the cheapest under the target", async () => {
    const sweep = parseDurabilitySweep({
      name: "test",
      base: { days: 7, files: [{ count: 200, bytes: 40 * MiB }] },
      parameters: { m: [1, 3], repairThreshold: [0, 2] },
      seeds: [1, 2],
    });
    const outDir = mkdtempSync(join(tmpdir(), "durability-sweep-"));
    try {
      const summary = await runDurabilitySweep(sweep, { outDir });
      expect(summary.points).toBe(8);
      // m = 1 allows only r = 0: (1, 2) is skipped for both seeds.
      expect(summary.skipped).toBe(2);
      const csv = readFileSync(summary.csvPath, "utf8").trim().split("\n");
      expect(csv).toHaveLength(1 + 6);
      expect(csv[0]?.startsWith("m,repairThreshold,seed,overhead")).toBe(true);
      const table = summariseDurabilitySweep(sweep, readFileSync(summary.csvPath, "utf8"), 1e-6);
      expect(table.split("\n")).toHaveLength(2 + 3);
      expect(readFileSync(summary.htmlPath, "utf8")).toContain("<svg");
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });

  it("refuses an unknown metric", () => {
    expect(() => parseDurabilitySweep({ name: "x", metrics: ["nope"] })).toThrow();
  });
});
