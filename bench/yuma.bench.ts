/**
 * Benchmark group "yuma": one epoch of a 256-uid subnet with 64 validators weighting every uid,
 * original bonds and Yuma3 with liquid alpha, bonds carried between calls as the chain does.
 *
 * Baseline: one plain float64 matrix-vector product over the same 64 × 256 weights (the least any
 * epoch must do: the prerank pass). The goal is < 10 ms per epoch so a simulator runs 1000 epochs
 * in < 10 s.
 */

import { type EpochInput, type PackedRow, runEpoch, type YumaHyperparameters } from "../chain/yuma/epoch.js";
import { type BenchGroup, measured, timeIt } from "./harness.js";

const UIDS = 256;
const VALIDATORS = 64;

const HYPERPARAMETERS: YumaHyperparameters = {
  kappa: 32767,
  bondsMovingAverage: 900000,
  bondsPenalty: 65535,
  liquidAlphaEnabled: false,
  alphaLow: 45875,
  alphaHigh: 58982,
  alphaSigmoidSteepness: 1000,
  yuma3Enabled: false,
  maxAllowedValidators: VALIDATORS,
  activityCutoff: 5000,
  tempo: 360,
};

/** Deterministic pseudo-random numbers in [0, 1) (a 32-bit LCG; quality is irrelevant here). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function subnet(hp: YumaHyperparameters): EpochInput {
  const rand = lcg(42);
  const weights: PackedRow[] = [];
  for (let i = 0; i < UIDS; i++) {
    if (i >= VALIDATORS) {
      weights.push({ uids: [], values: [] });
      continue;
    }
    const uids = Uint16Array.from({ length: UIDS }, (_, j) => j);
    const values = Uint16Array.from({ length: UIDS }, () => Math.floor(rand() * 65536));
    weights.push({ uids, values });
  }
  return {
    block: 10_000,
    stake: Array.from({ length: UIDS }, (_, i) => (i < VALIDATORS ? BigInt(Math.floor(rand() * 1e15)) : 0n)),
    weights,
    bonds: Array.from({ length: UIDS }, () => ({ uids: [], values: [] })),
    lastUpdate: Array.from({ length: UIDS }, () => 9_999),
    blockAtRegistration: new Array<number>(UIDS).fill(0),
    validatorPermits: Array.from({ length: UIDS }, (_, i) => i < VALIDATORS),
    emission: 1_000_000_000n,
    hyperparameters: hp,
  };
}

function epochMs(hp: YumaHyperparameters): number {
  let input = subnet(hp);
  return timeIt(() => {
    const out = runEpoch(input);
    input = { ...input, bonds: out.bonds, validatorPermits: out.validatorPermits };
  }, 1000);
}

function baselineMs(): number {
  const rand = lcg(7);
  const w = Float64Array.from({ length: VALIDATORS * UIDS }, () => rand());
  const s = Float64Array.from({ length: VALIDATORS }, () => rand());
  const out = new Float64Array(UIDS);
  return timeIt(() => {
    out.fill(0);
    for (let r = 0; r < VALIDATORS; r++) {
      const sr = s[r] as number;
      const base = r * UIDS;
      for (let c = 0; c < UIDS; c++) out[c] = (out[c] as number) + (w[base + c] as number) * sr;
    }
  }, 300);
}

export const yumaBenchGroup: BenchGroup = {
  name: "yuma",
  description: `Yuma epoch, ${UIDS} uids, ${VALIDATORS} validators weighting every uid`,
  async run(report, signal) {
    const baseline = baselineMs();
    const note = "baseline: one float64 W·s pass over the same weights; goal < 10 ms";
    report(measured("yuma.epoch", epochMs(HYPERPARAMETERS), "ms", baseline, note));
    if (signal.aborted) return;
    const yuma3 = { ...HYPERPARAMETERS, yuma3Enabled: true, liquidAlphaEnabled: true, bondsPenalty: 0 };
    report(measured("yuma.epoch_yuma3_liquid", epochMs(yuma3), "ms", baseline, note));
  },
};
