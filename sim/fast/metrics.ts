/**
 * The metrics an experiment reports for one fast-mode run. Every one is a number (or null when it
 * does not apply), so a sweep can write them as CSV columns and chart them.
 *
 * Emission metrics count tempos from `config.measureFrom` on; detection counts from each group's start.
 *
 * | name | meaning |
 * |---|---|
 * | honestShare | honest miners' share of all miner emission over the run |
 * | adversaryShare | non-honest miners' share of all miner emission over the run |
 * | detectionTempo | tempos from the latest adversary's start until every adversary group is caught (null: some never is) |
 * | validatorAgreement | stake-weighted mean validator trust (share of a validator's weight that survived consensus clipping), tempos ≥ 1 |
 * | gini | Gini coefficient of total emission across miners (0: equal) |
 * | weightStability | stake-weighted mean cosine similarity of each validator's weights between consecutive tempos |
 * | share.<label> | a miner group's share of all miner emission |
 * | detect.<label> | tempos after the group's `from` until its mean incentive stays below detectionThreshold × the honest mean |
 * | divPerStake.<label> | a validator group's share of validator emission over its share of validator stake (1: fair) |
 */
import { U16_MAX } from "../../protocol/scoring.js";
import type { FastConfig } from "./config.js";
import { groupLabels } from "./config.js";
import type { FastResult } from "./run-fast.js";

export type FastMetrics = Record<string, number | null>;

/** Fixed metric names, in CSV order; per-group names follow (see {@link metricNames}). */
export const BASE_METRICS = [
  "honestShare",
  "adversaryShare",
  "detectionTempo",
  "validatorAgreement",
  "gini",
  "weightStability",
] as const;

/** Every metric name a run of `config` reports, in CSV order. */
export function metricNames(config: Pick<FastConfig, "miners" | "validators">): string[] {
  const miners = groupLabels(config.miners);
  const adversaries = miners.filter((_, i) => config.miners[i]?.behaviour !== "honest");
  return [
    ...BASE_METRICS,
    ...miners.map((l) => `share.${l}`),
    ...adversaries.map((l) => `detect.${l}`),
    ...groupLabels(config.validators).map((l) => `divPerStake.${l}`),
  ];
}

/**
 * Gini coefficient of non-negative values (0: all equal, → 1: one holds everything).
 *
 * @example gini([1, 1, 1]) // 0
 */
export function gini(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let total = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    total += sorted[i] as number;
    weighted += (i + 1) * (sorted[i] as number);
  }
  return n === 0 || total === 0 ? 0 : (2 * weighted) / (n * total) - (n + 1) / n;
}

function cosine(
  a: { uids: ArrayLike<number>; values: ArrayLike<number> },
  b: { uids: ArrayLike<number>; values: ArrayLike<number> },
  scratch: Float64Array,
): number {
  scratch.fill(0);
  let na = 0;
  let nb = 0;
  let dot = 0;
  for (let t = 0; t < a.uids.length; t++) {
    const x = a.values[t] as number;
    scratch[a.uids[t] as number] = x;
    na += x * x;
  }
  for (let t = 0; t < b.uids.length; t++) {
    const y = b.values[t] as number;
    dot += (scratch[b.uids[t] as number] as number) * y;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/**
 * Computes every metric of {@link metricNames} from a run.
 *
 * @example computeMetrics(runFast(config)).honestShare // e.g. 0.93
 */
export function computeMetrics(result: FastResult): FastMetrics {
  const { config, uids, rows } = result;
  const n = uids.length;
  const minerLabels = groupLabels(config.miners);
  const validatorLabels = groupLabels(config.validators);
  const measured = rows.filter((r) => r.tempo >= config.measureFrom);
  const total = new Float64Array(n);
  for (const row of measured)
    for (let i = 0; i < n; i++) total[i] = (total[i] as number) + (row.emission[i] as number);

  const metrics: FastMetrics = {};
  const minerUids = uids.filter((u) => u.role === "miner");
  const validatorUids = uids.filter((u) => u.role === "validator");
  const minerTotal = minerUids.reduce((a, u) => a + (total[u.uid] as number), 0);
  const groupShare = new Float64Array(config.miners.length);
  for (const u of minerUids) groupShare[u.group] = (groupShare[u.group] as number) + (total[u.uid] as number);
  let honest = 0;
  config.miners.forEach((g, i) => {
    if (g.behaviour === "honest") honest += groupShare[i] as number;
  });
  metrics.honestShare = minerTotal > 0 ? honest / minerTotal : null;
  metrics.adversaryShare = minerTotal > 0 ? (minerTotal - honest) / minerTotal : null;

  // Detection per adversary group: mean incentive against the honest miners' mean, per tempo.
  const groupSize = config.miners.map((g) => g.count);
  const honestCount = config.miners.reduce((a, g) => a + (g.behaviour === "honest" ? g.count : 0), 0);
  const ratios: Float64Array[] = config.miners.map(() => new Float64Array(rows.length));
  rows.forEach((row, t) => {
    const sums = new Float64Array(config.miners.length);
    for (const u of minerUids) sums[u.group] = (sums[u.group] as number) + (row.incentive[u.uid] as number);
    let honestSum = 0;
    config.miners.forEach((g, i) => {
      if (g.behaviour === "honest") honestSum += sums[i] as number;
    });
    const honestMean = honestCount > 0 ? honestSum / honestCount : 0;
    config.miners.forEach((_, i) => {
      const mean = (groupSize[i] as number) > 0 ? (sums[i] as number) / (groupSize[i] as number) : 0;
      (ratios[i] as Float64Array)[t] = honestMean > 0 ? mean / honestMean : mean > 0 ? Infinity : 0;
    });
  });
  let latest: number | null = 0;
  config.miners.forEach((g, i) => {
    if (g.behaviour === "honest") return;
    const r = ratios[i] as Float64Array;
    let caught: number | null = null;
    for (let t = r.length - 1; t >= g.from; t--) {
      if ((r[t] as number) >= config.detectionThreshold) break;
      caught = t;
    }
    const detect = caught === null ? null : caught - g.from;
    metrics[`detect.${minerLabels[i]}`] = detect;
    latest = latest === null || detect === null ? null : Math.max(latest, caught as number);
  });
  const lastStart = config.miners.reduce((a, g) => (g.behaviour === "honest" ? a : Math.max(a, g.from)), 0);
  const anyAdversary = config.miners.some((g) => g.behaviour !== "honest");
  metrics.detectionTempo = latest === null || !anyAdversary ? null : Math.max(0, latest - lastStart);

  // Validators: agreement (validator trust) and weight stability, stake-weighted.
  const stakeOf = validatorUids.map((u) => Number(u.stake));
  const stakeTotal = stakeOf.reduce((a, b) => a + b, 0);
  let agreement = 0;
  let agreementTempos = 0;
  let stability = 0;
  let stabilityWeight = 0;
  const scratch = new Float64Array(n);
  for (let t = Math.max(1, config.measureFrom); t < rows.length; t++) {
    const row = rows[t] as (typeof rows)[number];
    const prev = rows[t - 1] as (typeof rows)[number];
    let a = 0;
    validatorUids.forEach((u, k) => {
      a += ((stakeOf[k] as number) / stakeTotal) * ((row.validatorTrust[u.uid] as number) / U16_MAX);
      const w = row.weights[u.uid];
      const p = prev.weights[u.uid];
      if (w !== undefined && p !== undefined) {
        stability += (stakeOf[k] as number) * cosine(w, p, scratch);
        stabilityWeight += stakeOf[k] as number;
      }
    });
    agreement += a;
    agreementTempos++;
  }
  metrics.validatorAgreement = agreementTempos > 0 ? agreement / agreementTempos : null;
  metrics.gini = gini(minerUids.map((u) => total[u.uid] as number));
  metrics.weightStability = stabilityWeight > 0 ? stability / stabilityWeight : null;

  config.miners.forEach((_, i) => {
    metrics[`share.${minerLabels[i]}`] = minerTotal > 0 ? (groupShare[i] as number) / minerTotal : null;
  });
  const validatorTotal = validatorUids.reduce((a, u) => a + (total[u.uid] as number), 0);
  config.validators.forEach((_, i) => {
    let pay = 0;
    let stake = 0;
    validatorUids.forEach((u, k) => {
      if (u.group !== i) return;
      pay += total[u.uid] as number;
      stake += stakeOf[k] as number;
    });
    metrics[`divPerStake.${validatorLabels[i]}`] =
      validatorTotal > 0 && stake > 0 && stakeTotal > 0 ? pay / validatorTotal / (stake / stakeTotal) : null;
  });
  return metrics;
}
