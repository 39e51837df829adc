/**
 * Closed-form pieces of the durability model: the rate at which a miner's pieces are lost, the
 * binomial loss of a stripe without repair, the loss of a stripe during one repair episode (the
 * conditional Monte-Carlo estimator of run-durability.ts), and a birth-death Markov chain of one
 * stripe under repair. Pure functions of a {@link DurabilityConfig}.
 */
import { type DurabilityConfig, repairThresholdOf } from "./config.js";

export const WEEK_SECONDS = 7 * 86_400;
export const YEAR_SECONDS = 365.25 * 86_400;

/** Standard normal upper tail P(Z > z) (Abramowitz & Stegun 7.1.26, error < 1.5e-7). */
function normalUpperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erfc = poly * Math.exp(-x * x);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/** P(a log-normal duration with this median and log-space sigma exceeds `seconds`). */
export function logNormalExceeds(median: number, sigma: number, seconds: number): number {
  if (seconds <= 0) return 1;
  if (sigma === 0) return median > seconds ? 1 : 0;
  return normalUpperTail(Math.log(seconds / median) / sigma);
}

/**
 * Rate (per second) at which one miner's pieces become lost to the gateway: deregistration,
 * outages longer than the offline grace, and its operator's correlated failures (permanent, or an
 * outage past the grace).
 */
export function pieceLossRate(config: DurabilityConfig): number {
  const churn = -Math.log1p(-config.churnPerWeek) / WEEK_SECONDS;
  const outages =
    (config.outagesPerWeek / WEEK_SECONDS) *
    logNormalExceeds(config.outageMedianSeconds, config.outageSigma, config.offlineGraceSeconds);
  const operator =
    (config.operatorFailuresPerYear / YEAR_SECONDS) *
    (config.operatorPermanentShare +
      (1 - config.operatorPermanentShare) *
        logNormalExceeds(
          config.operatorOutageMedianSeconds,
          config.operatorOutageSigma,
          config.offlineGraceSeconds,
        ));
  return churn + outages + operator;
}

/** P(Binomial(n, q) ≥ atLeast), summed term by term (n is small: a stripe's pieces). */
export function binomialTail(n: number, q: number, atLeast: number): number {
  if (atLeast <= 0) return 1;
  if (atLeast > n || q <= 0) return 0;
  if (q >= 1) return 1;
  const logQ = Math.log(q);
  const logP = Math.log1p(-q);
  let logChoose = 0;
  for (let j = 1; j <= atLeast; j++) logChoose += Math.log((n - j + 1) / j);
  let sum = 0;
  for (let j = atLeast; j <= n; j++) {
    sum += Math.exp(logChoose + j * logQ + (n - j) * logP);
    logChoose += Math.log((n - j) / (j + 1));
  }
  return Math.min(1, sum);
}

/**
 * P(a stripe holding `alive` pieces loses more than alive − k of them within `seconds`), each
 * lost independently at rate `rate`: the chance one repair episode of that length ends in loss.
 */
export function episodeLossProbability(alive: number, k: number, rate: number, seconds: number): number {
  if (seconds <= 0) return 0;
  return binomialTail(alive, -Math.expm1(-rate * seconds), alive - k + 1);
}

/**
 * Without repair: P(a stripe of k + m pieces loses more than m within `seconds`), the closed-form
 * binomial the model must match when repair is off.
 */
export function stripeLossWithoutRepair(config: DurabilityConfig, seconds: number): number {
  return episodeLossProbability(config.k + config.m, config.k, pieceLossRate(config), seconds);
}

/**
 * One stripe as a birth-death Markov chain: from a pieces, one is lost at rate a·λ; once
 * a ≤ k + r a repair completes at rate 1 / `meanRepairSeconds` and restores all k + m. Returns the
 * stripe's yearly loss probability, from the renewal argument: loss rate = P(a cycle that leaves
 * full health ends in loss) / E[cycle length], which stays exact in floating point where the usual
 * mean-time-to-data-loss solve cancels out (losses far below 1e-12 per cycle).
 */
export function markovStripeLossPerYear(config: DurabilityConfig, meanRepairSeconds: number): number {
  const n = config.k + config.m;
  const lambda = pieceLossRate(config);
  if (lambda <= 0) return 0;
  const threshold = config.k + repairThresholdOf(config);
  const mu = config.repair && meanRepairSeconds > 0 ? 1 / meanRepairSeconds : 0;
  let lossInCycle = 1;
  // τ: expected time from a until the cycle ends (repaired to n, or lost below k).
  let tau = 0;
  for (let a = config.k; a <= n - 1; a++) {
    const fail = a * lambda;
    const out = fail + (a <= threshold ? mu : 0);
    lossInCycle *= fail / out;
    tau = 1 / out + (fail / out) * tau;
  }
  const cycle = 1 / (n * lambda) + tau;
  return -Math.expm1(-(lossInCycle / cycle) * YEAR_SECONDS);
}

/**
 * Approximate 95% interval of a Poisson rate with `count` events over `exposure` (Byar's
 * approximation; for 0 events the upper end is ~3.7 / exposure).
 */
export function poissonRateInterval(count: number, exposure: number): { low: number; high: number } {
  if (exposure <= 0) return { low: 0, high: Number.POSITIVE_INFINITY };
  const z = 1.959964;
  const low = count === 0 ? 0 : count * (1 - 1 / (9 * count) - z / (3 * Math.sqrt(count))) ** 3;
  const c1 = count + 1;
  const high = c1 * (1 - 1 / (9 * c1) + z / (3 * Math.sqrt(c1))) ** 3;
  return { low: Math.max(0, low) / exposure, high: high / exposure };
}
