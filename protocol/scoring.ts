/**
 * Scoring math shared by the validator and the simulator: pure functions over numbers, so both
 * score the same evidence the same way.
 */

/** Largest u16, the scale weights are set on chain in. */
export const U16_MAX = 0xffff;

/**
 * Exponential moving average: `alpha` is the weight of the new sample (0 < alpha <= 1).
 *
 * @example ema(0.5, 1, 0.1) // 0.55
 */
export function ema(previous: number, sample: number, alpha: number): number {
  if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`alpha must be in (0, 1], got ${alpha}`);
  return previous + alpha * (sample - previous);
}

/** The outcome of one challenge, as the validator observed it. */
export type ChallengeOutcome = { kind: "pass"; latencyMs: number } | { kind: "fail" } | { kind: "timeout" };

/** A miner's running score. All fields are in [0, 1] except `latencyMs`. */
export interface MinerScore {
  /** Moving average of pass (1) / fail (0), with failures weighted by `failurePenalty`. */
  reliability: number;
  /** Moving average of answer latency in milliseconds (passes only). */
  latencyMs: number;
  /** Number of outcomes folded in. */
  samples: number;
}

export interface ScoringPolicy {
  /** EMA weight of one new outcome. */
  alpha: number;
  /**
   * How many passes one failure costs: a failed or missed challenge moves reliability
   * `failurePenalty` times as far down as a pass moves it up, so cheating a fraction of
   * challenges cannot pay.
   */
  failurePenalty: number;
  /** Latency at which the latency factor halves (ms). */
  latencyHalfMs: number;
  /** Share of the final score decided by latency (0..1); the rest is reliability × capacity. */
  latencyWeight: number;
}

/** The documented default policy (see README, "Scoring"). */
export const defaultScoringPolicy: ScoringPolicy = {
  alpha: 0.05,
  failurePenalty: 4,
  latencyHalfMs: 2_000,
  latencyWeight: 0.1,
};

export const initialScore: MinerScore = { reliability: 0, latencyMs: 0, samples: 0 };

/** Folds one challenge outcome into a miner's score. */
export function applyOutcome(
  score: MinerScore,
  outcome: ChallengeOutcome,
  policy: ScoringPolicy,
): MinerScore {
  if (outcome.kind === "pass") {
    const latency =
      score.samples === 0 ? outcome.latencyMs : ema(score.latencyMs, outcome.latencyMs, policy.alpha);
    return {
      reliability: ema(score.reliability, 1, policy.alpha),
      latencyMs: latency,
      samples: score.samples + 1,
    };
  }
  const alpha = Math.min(1, policy.alpha * policy.failurePenalty);
  return {
    reliability: ema(score.reliability, 0, alpha),
    latencyMs: score.latencyMs,
    samples: score.samples + 1,
  };
}

/**
 * A miner's final score in [0, 1]: reliability times the share of its allocation it has proven,
 * discounted slightly for slow answers.
 */
export function finalScore(score: MinerScore, provenCapacityShare: number, policy: ScoringPolicy): number {
  const capacity = Math.min(1, Math.max(0, provenCapacityShare));
  return score.reliability * capacity * latencyFactor(score.latencyMs, policy);
}

/**
 * The discount for slow answers, a factor in (1 − latencyWeight, 1]: 1 at no latency,
 * 1 − latencyWeight / 2 at `latencyHalfMs`, towards 1 − latencyWeight as latency grows.
 *
 * @example latencyFactor(2_000, { latencyHalfMs: 2_000, latencyWeight: 0.1 }) // 0.95
 */
export function latencyFactor(
  latencyMs: number,
  policy: Pick<ScoringPolicy, "latencyHalfMs" | "latencyWeight">,
): number {
  const halving = policy.latencyHalfMs / (policy.latencyHalfMs + Math.max(0, latencyMs));
  return 1 - policy.latencyWeight + policy.latencyWeight * halving;
}

/**
 * What a miner is paid for: its policy score times the chunks placed on it (proven capacity), not
 * the score alone. Splitting one disk across several hotkeys then earns nothing extra, and a
 * bigger offer earns more (up to the validator's cap on chunks per miner).
 *
 * @example weighByChunksPlaced(0.5, 32) // 16
 */
export function weighByChunksPlaced(score: number, chunksPlaced: number): number {
  return score * chunksPlaced;
}

/** Scales non-negative scores to sum to 1 (all zeros stays all zeros). Non-finite or negative entries count as 0. */
export function normalize(scores: readonly number[]): number[] {
  const clean = scores.map((s) => (Number.isFinite(s) && s > 0 ? s : 0));
  const total = clean.reduce((a, b) => a + b, 0);
  return total > 0 ? clean.map((s) => s / total) : clean;
}

/**
 * Converts scores per uid to the (uids, u16 weights) pair `setWeights` takes, as the bittensor
 * SDK does: the largest weight becomes 65535 and the rest scale with it, rounded; zero weights
 * are dropped. Returns empty lists when every score is 0.
 *
 * @example toU16Weights([0, 1, 3]) // { uids: [1, 2], weights: [21845, 65535] }
 */
export function toU16Weights(scores: readonly number[]): { uids: number[]; weights: number[] } {
  const clean = scores.map((s) => (Number.isFinite(s) && s > 0 ? s : 0));
  const max = clean.reduce((a, b) => Math.max(a, b), 0);
  const uids: number[] = [];
  const weights: number[] = [];
  if (max === 0) return { uids, weights };
  clean.forEach((s, uid) => {
    const w = Math.round((s / max) * U16_MAX);
    if (w > 0) {
      uids.push(uid);
      weights.push(w);
    }
  });
  return { uids, weights };
}
