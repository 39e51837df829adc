import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyOutcome,
  defaultScoringPolicy,
  ema,
  finalScore,
  initialScore,
  latencyFactor,
  type MinerScore,
  normalize,
  toU16Weights,
  U16_MAX,
  weighByChunksPlaced,
} from "../protocol/scoring.js";

describe("ema", () => {
  it("moves toward the sample by alpha", () => {
    expect(ema(0.5, 1, 0.1)).toBeCloseTo(0.55, 12);
    expect(ema(0.5, 0, 1)).toBe(0);
  });
  it("rejects alpha outside (0, 1]", () => {
    expect(() => ema(0, 1, 0)).toThrow(RangeError);
    expect(() => ema(0, 1, 1.5)).toThrow(RangeError);
  });
});

describe("applyOutcome", () => {
  it("a failure costs more than a pass earns", () => {
    const start: MinerScore = { reliability: 0.8, latencyMs: 10, samples: 10 };
    const up = applyOutcome(start, { kind: "pass", latencyMs: 10 }, defaultScoringPolicy).reliability - 0.8;
    const down = 0.8 - applyOutcome(start, { kind: "fail" }, defaultScoringPolicy).reliability;
    expect(down).toBeGreaterThan(up * 3);
  });
  it("a miner that fails a quarter of its challenges ends below one that passes all", () => {
    let honest = initialScore;
    let lazy = initialScore;
    for (let i = 0; i < 400; i++) {
      honest = applyOutcome(honest, { kind: "pass", latencyMs: 5 }, defaultScoringPolicy);
      lazy = applyOutcome(
        lazy,
        i % 4 === 0 ? { kind: "timeout" } : { kind: "pass", latencyMs: 5 },
        defaultScoringPolicy,
      );
    }
    expect(honest.reliability).toBeGreaterThan(0.99);
    expect(lazy.reliability).toBeLessThan(0.6);
    expect(finalScore(lazy, 1, defaultScoringPolicy)).toBeLessThan(
      finalScore(honest, 1, defaultScoringPolicy),
    );
  });
  it("latency only moves on passes", () => {
    const s = applyOutcome(
      { reliability: 1, latencyMs: 100, samples: 3 },
      { kind: "fail" },
      defaultScoringPolicy,
    );
    expect(s.latencyMs).toBe(100);
    expect(s.samples).toBe(4);
  });
});

describe("finalScore", () => {
  it("scales with proven capacity and prefers faster miners", () => {
    const s: MinerScore = { reliability: 1, latencyMs: 0, samples: 1 };
    expect(finalScore(s, 1, defaultScoringPolicy)).toBeCloseTo(1, 12);
    expect(finalScore(s, 0.5, defaultScoringPolicy)).toBeCloseTo(0.5, 12);
    const slow = { ...s, latencyMs: 10_000 };
    expect(finalScore(slow, 1, defaultScoringPolicy)).toBeLessThan(1);
    expect(finalScore(slow, 1, defaultScoringPolicy)).toBeGreaterThan(0.9 - 1e-12);
  });
});

describe("latencyFactor", () => {
  it("is 1 at no latency and loses half its weight at latencyHalfMs", () => {
    const policy = { latencyHalfMs: 2_000, latencyWeight: 0.1 };
    expect(latencyFactor(0, policy)).toBe(1);
    expect(latencyFactor(-5, policy)).toBe(1);
    expect(latencyFactor(2_000, policy)).toBeCloseTo(0.95, 12);
    expect(latencyFactor(1e9, policy)).toBeGreaterThan(0.9);
  });
});

describe("weighByChunksPlaced", () => {
  it("pays a hotkey split in two no more than the whole disk", () => {
    const whole = weighByChunksPlaced(0.8, 64);
    expect(weighByChunksPlaced(0.8, 32) * 2).toBe(whole);
    expect(weighByChunksPlaced(0.8, 0)).toBe(0);
  });
});

describe("normalize and toU16Weights", () => {
  it("normalize sums to 1 and ignores negatives and NaN", () => {
    expect(normalize([1, 3, -2, Number.NaN])).toEqual([0.25, 0.75, 0, 0]);
    expect(normalize([0, 0])).toEqual([0, 0]);
  });
  it("max-upscales to u16 and drops zeros", () => {
    expect(toU16Weights([0, 1, 3])).toEqual({ uids: [1, 2], weights: [21845, 65535] });
    expect(toU16Weights([0, 0])).toEqual({ uids: [], weights: [] });
  });
  it("keeps order and proportion for any scores", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }),
        (scores) => {
          const { uids, weights } = toU16Weights(scores);
          const max = Math.max(...scores);
          if (max === 0) return uids.length === 0;
          expect(Math.max(...weights)).toBe(U16_MAX);
          for (let i = 0; i < uids.length; i++) {
            const uid = uids[i] as number;
            const w = weights[i] as number;
            expect(w).toBeGreaterThan(0);
            expect(w).toBeLessThanOrEqual(U16_MAX);
            expect(Math.abs(w - ((scores[uid] as number) / max) * U16_MAX)).toBeLessThanOrEqual(0.5 + 1e-9);
          }
          for (let i = 1; i < uids.length; i++)
            expect(uids[i] as number).toBeGreaterThan(uids[i - 1] as number);
          return true;
        },
      ),
    );
  });
});
