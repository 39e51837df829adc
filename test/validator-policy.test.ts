import { describe, expect, it } from "vitest";
import {
  createPolicy,
  DEFAULT_POLICY_NAME,
  PolicyParamsError,
  PolicyStateError,
  type ScoringPolicyImpl,
  scoringPolicies,
  UnknownPolicyError,
} from "../neurons/validator/policy.js";
import type { ChallengeOutcome } from "../protocol/scoring.js";
import { defaultScoringPolicy, finalScore, initialScore } from "../protocol/scoring.js";

const pass = (latencyMs = 50): ChallengeOutcome => ({ kind: "pass", latencyMs });
const fail: ChallengeOutcome = { kind: "fail" };
const timeout: ChallengeOutcome = { kind: "timeout" };

/** Runs `count` outcomes from `outcomeAt` through a policy and returns the final score. */
function run(
  policy: ScoringPolicyImpl,
  count: number,
  outcomeAt: (i: number) => ChallengeOutcome,
  provenShare = 1,
): number {
  let state = policy.initial();
  for (let i = 0; i < count; i++) state = policy.apply(state, outcomeAt(i));
  return policy.score(state, { provenShare });
}

/** A deterministic pseudo-random sequence, so flaky miners are reproducible. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

const names = Object.keys(scoringPolicies);

describe("the registry", () => {
  it("holds the default and at least one alternative", () => {
    expect(names).toContain(DEFAULT_POLICY_NAME);
    expect(names.length).toBeGreaterThanOrEqual(2);
    for (const name of names) expect(createPolicy(name).name).toBe(name);
  });

  it("the default wraps protocol/scoring.ts", () => {
    const policy = createPolicy(DEFAULT_POLICY_NAME);
    let state = policy.initial();
    expect(state).toEqual(initialScore);
    for (let i = 0; i < 30; i++) state = policy.apply(state, i % 5 === 0 ? fail : pass(100));
    const share = 0.7;
    expect(policy.score(state, { provenShare: share })).toBeCloseTo(
      finalScore(state as typeof initialScore, share, defaultScoringPolicy),
      12,
    );
  });
});

describe("createPolicy", () => {
  it("rejects an unknown name", () => {
    expect(() => createPolicy("nope")).toThrow(UnknownPolicyError);
    expect(() => createPolicy("toString")).toThrow(UnknownPolicyError);
  });

  it("rejects bad parameters with the zod error as cause", () => {
    const bad: [string, Record<string, unknown>][] = [
      ["ema", { alpha: 0 }],
      ["ema", { alpha: 2 }],
      ["ema", { failurePenalty: 0.5 }],
      ["ema", { latencyWeight: -0.1 }],
      ["ema", { alfa: 0.1 }],
      ["strict", { window: 0 }],
      ["strict", { window: 2.5 }],
      ["windowed", { window: "64" }],
      ["windowed", { alpha: 0.1 }],
    ];
    for (const [name, params] of bad) {
      let caught: unknown;
      try {
        createPolicy(name, params);
      } catch (error) {
        caught = error;
      }
      expect(caught, `${name} ${JSON.stringify(params)}`).toBeInstanceOf(PolicyParamsError);
      expect((caught as PolicyParamsError).cause).toBeDefined();
    }
  });

  it("applies given parameters", () => {
    const slow = createPolicy("ema", { alpha: 0.01 });
    const fast = createPolicy("ema", { alpha: 0.5 });
    expect(run(fast, 5, () => pass())).toBeGreaterThan(run(slow, 5, () => pass()));
  });
});

describe.each(names)("policy %s", (name) => {
  const policy = createPolicy(name);

  it("scores in [0, 1] and starts at 0", () => {
    expect(policy.score(policy.initial(), { provenShare: 1 })).toBe(0);
    const rand = lcg(1);
    let state = policy.initial();
    for (let i = 0; i < 300; i++) {
      const r = rand();
      state = policy.apply(state, r < 0.1 ? fail : r < 0.2 ? timeout : pass(r * 5000));
      for (const provenShare of [-1, 0, 0.5, 1, 3]) {
        const score = policy.score(state, { provenShare });
        expect(score).toBeGreaterThanOrEqual(0);
        expect(score).toBeLessThanOrEqual(1);
      }
    }
  });

  it("ranks an honest miner above lazy, flaky, slow and absent ones", () => {
    const rounds = 400;
    const honest = run(policy, rounds, () => pass(50));
    const rand = lcg(42);
    // Lost a tenth of its data: fails about one challenge in ten.
    const lazy = run(policy, rounds, () => (rand() < 0.1 ? fail : pass(50)));
    // Unreachable one time in four.
    const flaky = run(policy, rounds, (i) => (i % 4 === 3 ? timeout : pass(50)));
    const slow = run(policy, rounds, () => pass(6000));
    const absent = run(policy, rounds, () => timeout);
    const halfCapacity = run(policy, rounds, () => pass(50), 0.5);
    expect(honest).toBeGreaterThan(0.5);
    expect(honest).toBeGreaterThan(lazy);
    expect(honest).toBeGreaterThan(flaky);
    expect(honest).toBeGreaterThan(slow);
    expect(honest).toBeGreaterThan(halfCapacity);
    expect(absent).toBe(0);
  });

  it("a failure costs more than a pass earns", () => {
    // From the middle of a history, where both directions can move.
    const rand = lcg(7);
    let state = policy.initial();
    for (let i = 0; i < 40; i++) state = policy.apply(state, rand() < 0.05 ? fail : pass(50));
    for (let i = 0; i < 40; i++) state = policy.apply(state, pass(50));
    const now = policy.score(state, { provenShare: 1 });
    const gain = policy.score(policy.apply(state, pass(50)), { provenShare: 1 }) - now;
    for (const miss of [fail, timeout]) {
      const loss = now - policy.score(policy.apply(state, miss), { provenShare: 1 });
      expect(loss).toBeGreaterThan(gain);
      expect(loss).toBeGreaterThan(0);
    }
  });

  it("states survive a JSON round trip and decode checks them", () => {
    let state = policy.initial();
    for (let i = 0; i < 50; i++) state = policy.apply(state, i % 7 === 0 ? timeout : pass(i));
    const decoded = policy.decode(JSON.parse(JSON.stringify(state)));
    expect(decoded).toEqual(state);
    expect(policy.score(decoded, { provenShare: 0.8 })).toBe(policy.score(state, { provenShare: 0.8 }));
    expect(() => policy.decode({ nonsense: true })).toThrow(PolicyStateError);
    expect(() => policy.decode(null)).toThrow(PolicyStateError);
  });

  it("does not mutate the state it is given", () => {
    const state = policy.apply(policy.initial(), pass(10));
    const copy = JSON.parse(JSON.stringify(state));
    policy.apply(state, fail);
    expect(state).toEqual(copy);
  });
});

describe("strict", () => {
  it("zeroes the score on a failure until `window` passes follow", () => {
    const policy = createPolicy("strict", { window: 8 });
    let state = policy.initial();
    for (let i = 0; i < 100; i++) state = policy.apply(state, pass());
    expect(policy.score(state, { provenShare: 1 })).toBeGreaterThan(0.9);
    state = policy.apply(state, timeout);
    for (let i = 0; i < 7; i++) {
      expect(policy.score(state, { provenShare: 1 })).toBe(0);
      state = policy.apply(state, pass());
    }
    expect(policy.score(state, { provenShare: 1 })).toBe(0);
    state = policy.apply(state, pass());
    expect(policy.score(state, { provenShare: 1 })).toBeGreaterThan(0);
  });
});

describe("windowed", () => {
  it("forgets exactly `window` challenges later", () => {
    const policy = createPolicy("windowed", { window: 10, latencyWeight: 0 });
    let state = policy.initial();
    for (let i = 0; i < 10; i++) state = policy.apply(state, fail);
    expect(policy.score(state, { provenShare: 1 })).toBe(0);
    for (let i = 0; i < 10; i++) state = policy.apply(state, pass());
    expect(policy.score(state, { provenShare: 1 })).toBe(1);
  });
});
