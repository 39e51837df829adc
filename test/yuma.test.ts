import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  activeMask,
  activityCutoffBlocks,
  clipToConsensus,
  type EpochInput,
  maxUpscaleRow,
  runEpoch,
  topKNonzero,
  unpackRow,
  weightedMedian,
  weightedMedianColumns,
  type YumaHyperparameters,
  YumaInputError,
} from "../chain/yuma/epoch.js";
import {
  FX_ONE,
  fxDiv,
  fxFromU16Proportion,
  fxMul,
  fxMulSigned,
  fxNormalizeInPlace,
  fxScaleAmount,
  fxToU16,
} from "../chain/yuma/fixed.js";

const HP: YumaHyperparameters = {
  kappa: 32767,
  bondsMovingAverage: 900000,
  bondsPenalty: 65535,
  liquidAlphaEnabled: false,
  alphaLow: 45875,
  alphaHigh: 58982,
  alphaSigmoidSteepness: 1000,
  yuma3Enabled: false,
  maxAllowedValidators: 64,
  activityCutoff: 5000,
  tempo: 360,
};

const fx = (x: number) => Math.round(x * FX_ONE);

describe("I32F32 helpers", () => {
  it("multiply and divide floor the exact result (checked against BigInt)", () => {
    const raw = fc.integer({ min: 0, max: 2 ** 36 });
    fc.assert(
      fc.property(raw, raw, (a, b) => {
        expect(fxMul(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
        if (b > 0) expect(fxDiv(a, b)).toBe(Number((BigInt(a) << 32n) / BigInt(b)));
      }),
      { numRuns: 2000 },
    );
  });

  it("divides large sums exactly too", () => {
    const big = fc.integer({ min: 1, max: 2 ** 45 });
    fc.assert(
      fc.property(big, big, (a, b) => {
        expect(fxDiv(a, b)).toBe(Number((BigInt(a) << 32n) / BigInt(b)));
      }),
      { numRuns: 1000 },
    );
  });

  it("signed multiply rounds towards minus infinity", () => {
    expect(fxMulSigned(-1, FX_ONE / 2)).toBe(-1); // −0.5 ulp floors to −1 ulp
    expect(fxMulSigned(3, FX_ONE / 2)).toBe(1);
    const raw = fc.integer({ min: -(2 ** 34), max: 2 ** 34 });
    fc.assert(
      fc.property(raw, raw, (a, b) => {
        // BigInt >> is an arithmetic shift: it floors, like the crate.
        expect(fxMulSigned(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
      }),
      { numRuns: 1000 },
    );
  });

  it("converts to u16 by truncation, as fixed_proportion_to_u16 does", () => {
    expect(fxToU16(FX_ONE)).toBe(65535);
    expect(fxToU16(FX_ONE / 2)).toBe(32767);
    expect(fxToU16(fxFromU16Proportion(12345))).toBe(12344); // proportion truncates just below
    expect(fxToU16(-5)).toBe(0);
  });

  it("normalises so that 1/10 of 1e9 rao is 99999999, as the chain pays", () => {
    const v = new Float64Array(10).fill(fx(1));
    fxNormalizeInPlace(v);
    expect(v[0]).toBe(Math.floor(FX_ONE / 10));
    expect(fxScaleAmount(v[0] as number, 1_000_000_000n)).toBe(99_999_999n);
  });
});

describe("activity cutoff", () => {
  it("derives blocks from the milli factor and tempo, at least 1", () => {
    expect(activityCutoffBlocks(13889, 360)).toBe(5000);
    expect(activityCutoffBlocks(13889, 1)).toBe(13);
    expect(activityCutoffBlocks(0, 360)).toBe(1);
  });

  it("marks a uid inactive only when lastUpdate + cutoff < block", () => {
    expect(activeMask([0, 80, 90, 100], 100, 20)).toEqual([false, true, true, true]);
    expect(activeMask([79], 100, 20)).toEqual([false]);
  });
});

describe("validator permits (top-k nonzero)", () => {
  it("keeps the k largest nonzero values", () => {
    expect(topKNonzero([3, 1, 0, 2], 2)).toEqual([true, false, false, true]);
  });

  it("never permits a zero even when there is room", () => {
    expect(topKNonzero([5, 0, 0], 64)).toEqual([true, false, false]);
    expect(topKNonzero([0, 0], 2)).toEqual([false, false]);
  });

  it("breaks ties like a stable ascending sort: lower uids drop first", () => {
    expect(topKNonzero([7, 7, 7, 7], 2)).toEqual([false, false, true, true]);
  });

  it("permits nobody when k is 0", () => {
    expect(topKNonzero([1, 2], 0)).toEqual([false, false]);
  });
});

describe("stake-weighted median (consensus)", () => {
  const median = (stakes: number[], scores: number[], kappa = 32767) => {
    const s = Float64Array.from(stakes.map(fx));
    const w = Float64Array.from(scores.map(fx)); // one column: rows × 1
    return weightedMedianColumns(s, w, 1, fxDiv(kappa, 65535))[0] as number;
  };

  it("is the score where the majority's stake is reached", () => {
    // Stake 0.75 says 1, stake 0.25 says 0: the majority's value wins.
    expect(median([0.75, 0.25], [1, 0])).toBe(fx(1));
    expect(median([0.25, 0.75], [1, 0])).toBe(0);
    // 0.5 / 0.3 / 0.2 at scores 0.1 / 0.5 / 0.9: below 0.5 sits only half the stake.
    expect(median([0.5, 0.3, 0.2], [0.1, 0.5, 0.9])).toBe(fx(0.5));
  });

  it("ignores rows without stake and returns 0 without any staker", () => {
    expect(median([0, 1], [1, 0.25])).toBe(fx(0.25));
    expect(median([0, 0], [1, 1])).toBe(0);
  });

  it("moves with kappa", () => {
    // With kappa ≈ 0.9 a score needs 90% of stake at or above it.
    expect(median([0.5, 0.3, 0.2], [0.1, 0.5, 0.9], 58981)).toBe(fx(0.1));
    expect(median([0.5, 0.3, 0.2], [0.1, 0.5, 0.9], 6553)).toBe(fx(0.9));
  });

  it("matches the definition on random columns (smallest score whose cumulative stake exceeds the minority)", () => {
    const row = fc.record({
      stake: fc.integer({ min: 1, max: 1000 }),
      score: fc.constantFrom(0, 0.1, 0.25, 0.5, 1),
    });
    fc.assert(
      fc.property(
        fc.array(row, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 65534 }),
        (rows, kappa) => {
          const stake = Float64Array.from(rows.map((r) => r.stake * FX_ONE));
          fxNormalizeInPlace(stake);
          const score = Float64Array.from(rows.map((r) => fx(r.score)));
          const sum = stake.reduce((a, b) => a + b, 0);
          const minority = sum - fxDiv(kappa, 65535);
          const got = weightedMedian(stake, score, minority, sum, new Int32Array(3 * rows.length));
          const candidates = [...new Set(score)].sort((a, b) => a - b);
          const want = candidates.find(
            (v) => score.reduce((acc, s, i) => (s <= v ? acc + (stake[i] as number) : acc), 0) > minority,
          );
          expect(got).toBe(want);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("weight clipping", () => {
  it("clips each weight at its column's consensus", () => {
    const w = Float64Array.from([0.6, 0.4, 0.1, 0.9].map(fx)); // 2 rows × 2 cols
    const c = Float64Array.from([0.5, 0.5].map(fx));
    expect([...clipToConsensus(w, c)]).toEqual([0.5, 0.4, 0.1, 0.5].map(fx));
  });
});

describe("set_weights storage", () => {
  it("max-upscales a row so its largest entry is 65535, rounding to nearest", () => {
    // 16383 × 65535 / 32767 = 32766.49998…
    expect(
      maxUpscaleRow([
        [1, 16383],
        [2, 32767],
      ]),
    ).toEqual([
      [1, 32766],
      [2, 65535],
    ]);
    // 1 × 65535 / 2 = 32767.5 rounds away from zero.
    expect(
      maxUpscaleRow([
        [1, 1],
        [2, 2],
      ]),
    ).toEqual([
      [1, 32768],
      [2, 65535],
    ]);
    expect(
      maxUpscaleRow([
        [4, 127],
        [5, 127],
      ]),
    ).toEqual([
      [4, 65535],
      [5, 65535],
    ]);
    expect(maxUpscaleRow([[0, 0]])).toEqual([[0, 0]]);
  });
});

/** Validators 0 (stake 3) and 1 (stake 1); miners 2 and 3. 0 weights miner 2, 1 weights miner 3. */
function twoCamps(overrides: Partial<EpochInput> = {}): EpochInput {
  return {
    block: 100,
    stake: [3000n, 1000n, 0n, 0n],
    weights: [[[2, 65535]], [[3, 65535]], undefined, undefined],
    bonds: [[], [], [], []],
    lastUpdate: [99, 99, 0, 0],
    blockAtRegistration: [0, 0, 0, 0],
    validatorPermits: [true, true, false, false],
    emission: 1_000_000_000n,
    hyperparameters: HP,
    ...overrides,
  };
}

describe("runEpoch", () => {
  it("follows the stake majority: consensus, incentive, trust, dividends, emission", () => {
    const out = runEpoch(twoCamps());
    // Column 2 is backed by 75% of stake, column 3 by 25%: only miner 2 reaches consensus.
    expect([...out.consensus]).toEqual([0, 0, 65535, 0]);
    expect([...out.incentive]).toEqual([0, 0, 65535, 0]);
    expect([...out.trust]).toEqual([0, 0, 65535, 0]);
    // Validator 0's weight survives clipping, validator 1's is clipped to nothing.
    expect([...out.validatorTrust]).toEqual([65535, 0, 0, 0]);
    expect([...out.dividends]).toEqual([65535, 0, 0, 0]);
    // Half of the emission to the miner, half to the validator (incentive and dividends each sum to 1).
    expect(out.serverEmission).toEqual([0n, 0n, 500_000_000n, 0n]);
    expect(out.validatorEmission).toEqual([500_000_000n, 0n, 0n, 0n]);
    expect(out.emission).toEqual([500_000_000n, 0n, 500_000_000n, 0n]);
    expect(out.validatorPermits).toEqual([true, true, false, false]);
    expect(out.active).toEqual([true, true, true, true]);
    expect([...out.stakeWeight]).toEqual([49151, 16383, 0, 0]);
    expect([...out.pruningScores]).toEqual([65535, 0, 65535, 0]);
    // Stored bonds are column-max-upscaled: validator 0 holds all of miner 2.
    expect(unpackRow(out.bonds[0] ?? { uids: [], values: [] })).toEqual([[2, 65535]]);
    expect(unpackRow(out.bonds[1] ?? { uids: [], values: [] })).toEqual([]);
  });

  it("drops an inactive validator's stake before consensus", () => {
    // Validator 0 last set weights long ago: only validator 1 counts, so miner 3 wins.
    const out = runEpoch(
      twoCamps({ lastUpdate: [10, 99, 0, 0], hyperparameters: { ...HP, activityCutoff: 50 } }),
    );
    expect(out.active).toEqual([false, true, false, false]);
    expect([...out.incentive]).toEqual([0, 0, 0, 65535]);
    expect([...out.dividends]).toEqual([0, 65535, 0, 0]);
  });

  it("ignores weights from uids without a permit, self-weights and weights older than the target", () => {
    const out = runEpoch(
      twoCamps({
        // 0 has no permit now; 1 weights itself and miner 2, but miner 2 re-registered after 1's update.
        validatorPermits: [false, true, false, false],
        weights: [
          [[2, 65535]],
          [
            [1, 65535],
            [2, 65535],
            [3, 100],
          ],
          undefined,
          undefined,
        ],
        blockAtRegistration: [0, 0, 99, 0],
      }),
    );
    expect([...out.incentive]).toEqual([0, 0, 0, 65535]);
    expect([...out.validatorTrust]).toEqual([0, 65535, 0, 0]);
  });

  it("falls back to stake when nobody has weights", () => {
    const out = runEpoch(twoCamps({ weights: [undefined, undefined, undefined, undefined] }));
    expect(out.emission).toEqual([750_000_000n, 250_000_000n, 0n, 0n]);
    expect(out.serverEmission).toEqual([0n, 0n, 0n, 0n]);
  });

  it("gives permits to the top stakes and clears bonds of a uid that loses its permit", () => {
    const first = runEpoch(twoCamps());
    const second = runEpoch(
      twoCamps({
        bonds: first.bonds,
        validatorPermits: first.validatorPermits,
        hyperparameters: { ...HP, maxAllowedValidators: 1 },
      }),
    );
    expect(second.validatorPermits).toEqual([true, false, false, false]);
    expect(unpackRow(second.bonds[1] ?? { uids: [], values: [] })).toEqual([]);
    expect(unpackRow(second.bonds[0] ?? { uids: [], values: [] })).toEqual([[2, 65535]]);
  });

  it("builds bonds from clipped weights at bonds_penalty 65535 and raw weights at 0", () => {
    const bondsOf1 = (bondsPenalty: number) =>
      unpackRow(
        runEpoch(twoCamps({ hyperparameters: { ...HP, bondsPenalty } })).bonds[1] ?? { uids: [], values: [] },
      );
    // Validator 1's weight on miner 3 is clipped away entirely, so only a penalty below 1 leaves it a bond.
    expect(bondsOf1(65535)).toEqual([]);
    expect(bondsOf1(0)).toEqual([[3, 65535]]);
    expect(bondsOf1(32767)).toEqual([[3, 65535]]);
  });

  it("treats stake under the threshold as zero", () => {
    const out = runEpoch(twoCamps({ hyperparameters: { ...HP, stakeThreshold: 2000n } }));
    expect(out.validatorPermits).toEqual([true, false, false, false]);
    expect([...out.stakeWeight]).toEqual([65535, 0, 0, 0]);
  });

  it("builds Yuma3 bonds as fixed proportions moving at rate 1 − bma", () => {
    const out = runEpoch(twoCamps({ hyperparameters: { ...HP, yuma3Enabled: true } }));
    // First epoch: b = 0.1 × clipped weight, stored as floor(0.1 × 65535) (no max-upscaling).
    expect(unpackRow(out.bonds[0] ?? { uids: [], values: [] })).toEqual([[2, 6553]]);
    expect([...out.dividends]).toEqual([65535, 0, 0, 0]);
  });

  it("does not change its input and is deterministic", () => {
    const input = twoCamps();
    const snapshot = JSON.stringify(input, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
    const a = runEpoch(input);
    const b = runEpoch(input);
    expect(JSON.stringify(input, (_k, v) => (typeof v === "bigint" ? v.toString() : v))).toBe(snapshot);
    expect([...a.dividends]).toEqual([...b.dividends]);
    expect(a.emission).toEqual(b.emission);
  });

  it("rejects inconsistent input with a named error", () => {
    expect(() => runEpoch(twoCamps({ lastUpdate: [1, 2] }))).toThrow(YumaInputError);
    expect(() => runEpoch(twoCamps({ stake: [-1n, 0n, 0n, 0n] }))).toThrow(YumaInputError);
  });
});
