/**
 * Yuma consensus: one subnet epoch as a pure function, following subtensor's sparse `epoch`
 * (opentensor/subtensor `pallets/subtensor/src/epoch/run_epoch.rs`) with its I32F32 fixed-point
 * semantics, so stored u16 vectors, bonds and rao emissions match the chain to the last unit.
 *
 * Spec: https://docs.learnbittensor.org/learn/yuma-consensus and the conformance vectors in
 * `chain/yuma/vectors/` (expected outputs of subtensor's own epoch tests).
 *
 * Internally every proportion is a raw I32F32 integer in a Float64Array (see fixed.ts). Matrices
 * are dense over the rows that can matter (uids holding a validator permit or stored bonds) by all
 * uids, so a 256-uid subnet with 64 validators works on 64 × 256 cells.
 */
import { ChainLayerError } from "../errors.js";
import {
  FX_ONE,
  fxDiv,
  fxFromU16Proportion,
  fxMul,
  fxMulSigned,
  fxNormalizeInPlace,
  fxRatioOfBigints,
  fxRoundToInt,
  fxScaleAmount,
  fxSum,
  fxToU16,
} from "./fixed.js";

const U16_MAX = 65535;

/** One uid's sparse row as subtensor stores it: (target uid, u16 value) pairs. */
export type SparseRow = ReadonlyArray<readonly [uid: number, value: number]>;

/**
 * The same row packed into two parallel arrays (no per-entry objects). `runEpoch` returns bonds
 * in this form so a simulator can feed them straight back at no allocation cost.
 */
export interface PackedRow {
  readonly uids: ArrayLike<number>;
  readonly values: ArrayLike<number>;
}

/** A weights or bonds row in either form. */
export type Row = SparseRow | PackedRow;

function isPacked(row: Row): row is PackedRow {
  return !Array.isArray(row);
}

/** Number of entries of a row in either form. */
export function rowLength(row: Row): number {
  return isPacked(row) ? row.uids.length : row.length;
}

/** Copy a row's entries into parallel scratch arrays; returns the entry count. */
function readRow(row: Row, uids: Float64Array, values: Float64Array): number {
  if (isPacked(row)) {
    const len = Math.min(row.uids.length, row.values.length, uids.length);
    for (let t = 0; t < len; t++) {
      uids[t] = row.uids[t] as number;
      values[t] = row.values[t] as number;
    }
    return len;
  }
  const len = Math.min(row.length, uids.length);
  for (let t = 0; t < len; t++) {
    const e = row[t] as readonly [number, number];
    uids[t] = e[0];
    values[t] = e[1];
  }
  return len;
}

/**
 * A row as (uid, value) pairs, the layout of subtensor's `Bonds` and `Weights` storage.
 *
 * @example unpackRow({ uids: [3], values: [65535] }) // [[3, 65535]]
 */
export function unpackRow(row: Row): Array<[number, number]> {
  if (!isPacked(row)) return row.map(([j, v]) => [j, v]);
  return Array.from({ length: row.uids.length }, (_, t) => [row.uids[t] as number, row.values[t] as number]);
}

/** The subnet hyperparameters the epoch reads. */
export interface YumaHyperparameters {
  /** Consensus majority, a u16 fraction of 65535 (default 32767 ≈ 0.5). */
  kappa: number;
  /** Bond EMA memory, per million (default 900000: new bonds weigh 0.1). */
  bondsMovingAverage: number;
  /** u16 fraction of 65535: 0 builds bonds from raw weights, 65535 from consensus-clipped ones. */
  bondsPenalty: number;
  /** Per-cell bond EMA rate from a sigmoid (Yuma3 path only). */
  liquidAlphaEnabled: boolean;
  /** Liquid alpha bounds, u16 fractions of 65535 (defaults 45875 and 58982). */
  alphaLow: number;
  alphaHigh: number;
  /** i16; the sigmoid uses steepness / 100 (default 1000 → 10). */
  alphaSigmoidSteepness: number;
  /** Yuma3: bonds stored as fixed proportions, dividends from stake-weighted relative bonds. */
  yuma3Enabled: boolean;
  /** Permits go to the top this-many uids by stake. */
  maxAllowedValidators: number;
  /** A uid is inactive when lastUpdate + activityCutoff < block (blocks; see {@link activityCutoffBlocks}). */
  activityCutoff: number;
  /** Blocks per epoch; bonds to uids registered since block − tempo are dropped. */
  tempo: number;
  /** Raw stake below this counts as 0 (never a validator). Default 0. */
  stakeThreshold?: bigint | number;
}

/** Everything one epoch reads. Arrays are indexed by uid and all have the subnet's length n. */
export interface EpochInput {
  /** The current block. */
  block: number;
  /** Raw stake per uid (u64 rao or alpha units). */
  stake: ReadonlyArray<bigint | number>;
  /** Weights as stored on chain (u16 values, rows as set; missing rows mean none). */
  weights: ReadonlyArray<Row | undefined>;
  /** Bonds as the previous epoch stored them (output `bonds` of the last call). */
  bonds: ReadonlyArray<Row | undefined>;
  /** Block each uid last set weights (its registration block if never). */
  lastUpdate: ArrayLike<number>;
  blockAtRegistration: ArrayLike<number>;
  /** Validator permits computed by the previous epoch (false for a fresh subnet). */
  validatorPermits: ArrayLike<boolean>;
  /** Emission to distribute this epoch, rao. Half goes to servers, half to validators. */
  emission: bigint;
  hyperparameters: YumaHyperparameters;
  /**
   * Block of the previous epoch: bonds to uids registered at or after it are discarded.
   * Default max(0, block − tempo).
   */
  lastTempoBlock?: number;
}

/** What one epoch produces, in the units subtensor stores. */
export interface EpochOutput {
  active: boolean[];
  /** New permits: the top maxAllowedValidators uids by nonzero stake. */
  validatorPermits: boolean[];
  /** u16 vectors, floor(x × 65535) of the fixed-point result. */
  rank: Uint16Array;
  trust: Uint16Array;
  consensus: Uint16Array;
  incentive: Uint16Array;
  dividends: Uint16Array;
  validatorTrust: Uint16Array;
  /** Normalised stake used by the epoch, as u16. */
  stakeWeight: Uint16Array;
  /** Combined emission max-upscaled to u16 (rounded). */
  pruningScores: Uint16Array;
  /** Per uid rao: incentive share (servers) and dividend share (validators) of `emission`. */
  serverEmission: bigint[];
  validatorEmission: bigint[];
  /** The stored `Emission` vector: floor(normalised(incentive + dividends) × emission). */
  emission: bigint[];
  /** Bonds to store for the next epoch, as subtensor stores them (u16; see {@link unpackRow}). */
  bonds: PackedRow[];
}

/** The input does not describe a consistent subnet (lengths, uids, values out of range). */
export class YumaInputError extends ChainLayerError {
  override name = "YumaInputError";
}

/**
 * Activity cutoff in blocks as the epoch derives it: max(1, floor(factorMilli × tempo / 1000)).
 *
 * @example activityCutoffBlocks(13889, 360) === 5000
 */
export function activityCutoffBlocks(factorMilli: number, tempo: number): number {
  return Math.max(1, Math.floor((factorMilli * tempo) / 1000));
}

/**
 * Active flags: a uid is inactive when lastUpdate + activityCutoff < block.
 *
 * @example activeMask([0, 90], 100, 20) // [false, true]
 */
export function activeMask(lastUpdate: ArrayLike<number>, block: number, activityCutoff: number): boolean[] {
  const out = new Array<boolean>(lastUpdate.length);
  for (let i = 0; i < lastUpdate.length; i++) out[i] = !((lastUpdate[i] as number) + activityCutoff < block);
  return out;
}

/**
 * subtensor's `is_topk_nonzero`: true for the k largest nonzero values. Ties are broken the way a
 * stable ascending sort drops them: among equal values the lower uids lose first.
 *
 * @example topKNonzero([3, 1, 0, 2], 2) // [true, false, false, true]
 */
export function topKNonzero(values: ArrayLike<number>, k: number): boolean[] {
  const n = values.length;
  const out = new Array<boolean>(n);
  for (let i = 0; i < n; i++) out[i] = (values[i] as number) !== 0;
  if (n < k) return out;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
  for (let t = 0; t < n - k; t++) out[order[t] as number] = false;
  return out;
}

/**
 * Stake-weighted median of one column, exactly as subtensor's recursive `weighted_median`: the
 * score v with (stake scoring below v) ≤ minority < (stake scoring at most v), where
 * minority = stakeSum − kappa. All values are raw I32F32. `scratch` needs 3 × stake.length slots.
 */
export function weightedMedian(
  stake: Float64Array,
  score: Float64Array,
  minority: number,
  stakeSum: number,
  scratch: Int32Array,
): number {
  const k = stake.length;
  const cur = scratch.subarray(0, k);
  const lower = scratch.subarray(k, 2 * k);
  const upper = scratch.subarray(2 * k, 3 * k);
  for (let i = 0; i < k; i++) cur[i] = i;
  let len = k;
  let lo = 0;
  let hi = stakeSum;
  for (;;) {
    if (len === 0) return 0;
    if (len === 1) return score[cur[0] as number] as number;
    const pivot = score[cur[len >> 1] as number] as number;
    let loStake = 0;
    let hiStake = 0;
    let nl = 0;
    let nu = 0;
    for (let t = 0; t < len; t++) {
      const idx = cur[t] as number;
      const s = score[idx] as number;
      if (s === pivot) continue;
      if (s < pivot) {
        loStake += stake[idx] as number;
        lower[nl++] = idx;
      } else {
        hiStake += stake[idx] as number;
        upper[nu++] = idx;
      }
    }
    if (lo + loStake <= minority && minority < hi - hiStake) return pivot;
    if (minority < lo + loStake && nl > 0) {
      hi = lo + loStake;
      cur.set(lower.subarray(0, nl));
      len = nl;
    } else if (hi - hiStake <= minority && nu > 0) {
      lo = hi - hiStake;
      cur.set(upper.subarray(0, nu));
      len = nu;
    } else {
      return pivot;
    }
  }
}

/**
 * Consensus: per column the stake-weighted median of the weights at majority kappa (raw I32F32).
 * `weights` is rows × cols row-major; only rows with stake > 0 take part, and their stake is
 * renormalised first, as subtensor does.
 */
export function weightedMedianColumns(
  rowStake: Float64Array,
  weights: Float64Array,
  cols: number,
  kappa: number,
): Float64Array {
  const rows = rowStake.length;
  const median = new Float64Array(cols);
  const use: number[] = [];
  for (let r = 0; r < rows; r++) if ((rowStake[r] as number) > 0) use.push(r);
  const k = use.length;
  if (k === 0) return median;
  const useStake = new Float64Array(k);
  for (let t = 0; t < k; t++) useStake[t] = rowStake[use[t] as number] as number;
  fxNormalizeInPlace(useStake);
  const stakeSum = fxSum(useStake);
  const minority = stakeSum - kappa;
  const score = new Float64Array(k);
  const scratch = new Int32Array(3 * k);
  for (let c = 0; c < cols; c++) {
    let any = false;
    for (let t = 0; t < k; t++) {
      const v = weights[(use[t] as number) * cols + c] as number;
      score[t] = v;
      if (v !== 0) any = true;
    }
    // An all-zero column's only candidate is 0, whatever the partition does.
    median[c] = any ? weightedMedian(useStake, score, minority, stakeSum, scratch) : 0;
  }
  return median;
}

/** Clip each weight at its column's consensus: min(w_ij, c_j). In place on a rows × cols matrix. */
export function clipToConsensus(weights: Float64Array, consensus: Float64Array): Float64Array {
  const cols = consensus.length;
  const out = new Float64Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] as number;
    const c = consensus[i % cols] as number;
    out[i] = Math.min(w, c);
  }
  return out;
}

/** Liquid-alpha and EMA parameters of the Yuma3 bond update, in raw I32F32 where fixed. */
export interface BondEmaParams {
  liquidAlphaEnabled: boolean;
  alphaLow: number;
  alphaHigh: number;
  alphaSigmoidSteepness: number;
  bondsMovingAverage: number;
}

/** Fixed EMA rate 1 − bondsMovingAverage / 10^6 (raw I32F32), truncated as I64F64 → I32F32. */
export function fixedBondAlpha(bondsMovingAverage: number): number {
  const bma = Number((BigInt(Math.max(0, Math.floor(bondsMovingAverage))) << 32n) / 1_000_000n);
  return Math.max(0, FX_ONE - bma);
}

/**
 * Yuma3 bond EMA (subtensor's `compute_bonds`): b' = min(1, (1 − α)·b + α·w) per cell, with α
 * fixed (1 − bma/10^6) or, under liquid alpha, per cell from a sigmoid of how far the weight moves
 * away from consensus (buying) or below the bond (selling). Raw I32F32, rows × cols row-major.
 * Liquid alpha is computed in float64 (the chain's fixed-point exp differs by far less than a u16 step).
 */
export function computeBondsYuma3(
  weights: Float64Array,
  bonds: Float64Array,
  consensus: ArrayLike<number>,
  cols: number,
  params: BondEmaParams,
): Float64Array {
  const out = new Float64Array(weights.length);
  let anyConsensus = false;
  for (let j = 0; j < consensus.length; j++) if ((consensus[j] as number) !== 0) anyConsensus = true;
  if (!(params.liquidAlphaEnabled && anyConsensus)) {
    const alpha = fixedBondAlpha(params.bondsMovingAverage);
    const keep = FX_ONE - alpha;
    for (let i = 0; i < out.length; i++) {
      const w = weights[i] as number;
      const b = bonds[i] as number;
      if (w === 0 && b === 0) continue;
      const v = fxMul(keep, b) + fxMul(alpha, w);
      out[i] = Math.min(v, FX_ONE);
    }
    return out;
  }
  const low = fxFromU16Proportion(params.alphaLow) / FX_ONE;
  const high = fxFromU16Proportion(params.alphaHigh) / FX_ONE;
  const steep = params.alphaSigmoidSteepness / 100;
  for (let i = 0; i < out.length; i++) {
    const wRaw = weights[i] as number;
    const bRaw = bonds[i] as number;
    if (wRaw === 0 && bRaw === 0) continue;
    const w = wRaw / FX_ONE;
    const b = bRaw / FX_ONE;
    const c = (consensus[i % cols] ?? 0) / FX_ONE;
    const diff = w >= b ? clamp01(w - c) : clamp01(b - w);
    const sigmoid = 1 / (1 + Math.exp(-steep * (diff - 0.5)));
    let a = low + sigmoid * (high - low);
    if (a < low) a = low;
    if (a > high) a = high;
    const alpha = Math.floor(a * FX_ONE);
    const v = fxMul(FX_ONE - alpha, bRaw) + fxMul(alpha, wRaw);
    out[i] = Math.min(v, FX_ONE);
  }
  return out;
}

function clamp01(x: number): number {
  return x < 0 ? 0 : Math.min(x, 1);
}

/** subtensor's `inplace_col_normalize`: each column divided by its sum (zero columns untouched). */
function normalizeColumns(m: Float64Array, rows: number, cols: number): void {
  const sums = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) sums[c] = (sums[c] as number) + (m[base + c] as number);
  }
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = m[base + c] as number;
      if (v !== 0) m[base + c] = fxDiv(v, sums[c] as number);
    }
  }
}

/** subtensor's `inplace_col_max_upscale`: each column divided by its maximum. */
function maxUpscaleColumns(m: Float64Array, rows: number, cols: number): void {
  const maxes = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = m[base + c] as number;
      if (v > (maxes[c] as number)) maxes[c] = v;
    }
  }
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = m[base + c] as number;
      if (v !== 0) m[base + c] = fxDiv(v, maxes[c] as number);
    }
  }
}

/**
 * subtensor's `vec_max_upscale_to_u16`: scale so the largest entry is 65535, rounding half away
 * from zero. Used for pruning scores.
 */
export function maxUpscaleToU16(values: Float64Array): Uint16Array {
  const out = new Uint16Array(values.length);
  let max = 0;
  for (let i = 0; i < values.length; i++) if ((values[i] as number) > max) max = values[i] as number;
  if (max === 0) return out;
  for (let i = 0; i < values.length; i++) {
    const v = fxRoundToInt(fxDiv((values[i] as number) * U16_MAX, max));
    out[i] = Math.min(v, U16_MAX);
  }
  return out;
}

/**
 * Max-upscale a weights row the way `set_weights` stores it (subtensor's
 * `vec_u16_max_upscale_to_u16`): the largest entry becomes 65535, the others w × 65535 / max in
 * fixed point, rounded half away from zero.
 *
 * @example maxUpscaleRow([[1, 16383], [2, 32767]]) // [[1, 32766], [2, 65535]]
 */
export function maxUpscaleRow(row: SparseRow): Array<[number, number]> {
  let max = 0;
  for (const [, w] of row) if (w > max) max = w;
  if (max === 0) return row.map(([j]) => [j, 0]);
  // Above 32768 the chain scales by the ratio 65535 / max; below, it divides w × 65535 by max.
  const ratio = max > 32768 ? fxDiv(U16_MAX, max) : 0;
  return row.map(([j, w]) => {
    const raw = max > 32768 ? w * ratio : fxDiv(w * U16_MAX, max);
    return [j, Math.min(U16_MAX, fxRoundToInt(raw))];
  });
}

function toU16Vector(raw: Float64Array): Uint16Array {
  const out = new Uint16Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = fxToU16(raw[i] as number);
  return out;
}

function toBigint(x: bigint | number, what: string): bigint {
  if (typeof x === "bigint") {
    if (x < 0n) throw new YumaInputError(`${what} is negative`);
    return x;
  }
  if (!Number.isFinite(x) || x < 0) throw new YumaInputError(`${what} is not a non-negative number`);
  return BigInt(Math.floor(x));
}

function checkInput(input: EpochInput): number {
  const n = input.stake.length;
  const lengths: Array<[string, number]> = [
    ["weights", input.weights.length],
    ["bonds", input.bonds.length],
    ["lastUpdate", input.lastUpdate.length],
    ["blockAtRegistration", input.blockAtRegistration.length],
    ["validatorPermits", input.validatorPermits.length],
  ];
  for (const [name, len] of lengths) {
    if (len !== n) throw new YumaInputError(`${name} has ${len} entries for ${n} uids`);
  }
  if (n > U16_MAX) throw new YumaInputError(`${n} uids exceed the u16 uid space`);
  return n;
}

/**
 * Run one Yuma epoch. Pure: the result depends only on the input.
 *
 * @example
 * const out = runEpoch({ block: 10, stake: [1000n, 0n], weights: [[[1, 65535]], []], bonds: [[], []],
 *   lastUpdate: [9, 0], blockAtRegistration: [0, 0], validatorPermits: [true, false],
 *   emission: 1_000_000_000n, hyperparameters: { ...defaults } });
 * out.incentive[1] // 65535
 */
export function runEpoch(input: EpochInput): EpochOutput {
  const n = checkInput(input);
  const hp = input.hyperparameters;
  const block = input.block;

  // Activity.
  const active = activeMask(input.lastUpdate, block, hp.activityCutoff);

  // Stake: threshold, then normalise (I64F64 narrowed to I32F32).
  const threshold = toBigint(hp.stakeThreshold ?? 0n, "stakeThreshold");
  const rawStake = new Array<bigint>(n);
  let totalStake = 0n;
  for (let i = 0; i < n; i++) {
    const s = toBigint(input.stake[i] as bigint | number, `stake[${i}]`);
    const used = s < threshold ? 0n : s;
    rawStake[i] = used;
    totalStake += used;
  }
  const stake = new Float64Array(n);
  for (let i = 0; i < n; i++) stake[i] = fxRatioOfBigints(rawStake[i] as bigint, totalStake);

  const newPermits = topKNonzero(stake, hp.maxAllowedValidators);
  const permits = input.validatorPermits;

  const activeStake = new Float64Array(n);
  for (let i = 0; i < n; i++) activeStake[i] = active[i] && permits[i] ? (stake[i] as number) : 0;
  fxNormalizeInPlace(activeStake);

  // Rows that can carry weights or bonds: permitted uids and uids with stored bonds.
  const rowUid: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = input.bonds[i];
    if (permits[i] || (b !== undefined && rowLength(b) > 0)) rowUid.push(i);
  }
  const rows = rowUid.length;
  const cols = n;
  const rowStake = new Float64Array(rows);
  for (let r = 0; r < rows; r++) rowStake[r] = activeStake[rowUid[r] as number] as number;

  // Weights: permitted rows only, no self-weight, none older than the target's registration;
  // then row-normalised. Values stay integers (u16) until the division.
  const entryUids = new Float64Array(n);
  const entryValues = new Float64Array(n);
  const W = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const i = rowUid[r] as number;
    if (!permits[i]) continue;
    const row = input.weights[i];
    if (row === undefined) continue;
    const updated = input.lastUpdate[i] as number;
    const base = r * cols;
    const len = readRow(row, entryUids, entryValues);
    let sum = 0;
    for (let t = 0; t < len; t++) {
      const j = entryUids[t] as number;
      if (j === i || !(j >= 0 && j < n) || !Number.isInteger(j)) continue;
      if (updated <= (input.blockAtRegistration[j] as number)) continue;
      const w = entryValues[t] as number;
      W[base + j] = w;
      sum += w;
    }
    if (sum > 0)
      for (let c = 0; c < cols; c++) W[base + c] = Math.floor(((W[base + c] as number) * FX_ONE) / sum);
  }

  // Consensus, clipping, trust and incentive.
  const preranks = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const s = rowStake[r] as number;
    if (s === 0) continue;
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const w = W[base + c] as number;
      if (w !== 0) preranks[c] = (preranks[c] as number) + fxMul(w, s);
    }
  }
  const kappa = fxDiv(hp.kappa, U16_MAX);
  const consensus = weightedMedianColumns(rowStake, W, cols, kappa);
  const C = clipToConsensus(W, consensus);

  const validatorTrust = new Float64Array(n);
  const ranks = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const s = rowStake[r] as number;
    let vt = 0;
    for (let c = 0; c < cols; c++) {
      const v = C[base + c] as number;
      if (v === 0) continue;
      vt += v;
      if (s !== 0) ranks[c] = (ranks[c] as number) + fxMul(v, s);
    }
    validatorTrust[rowUid[r] as number] = vt;
  }
  const trust = new Float64Array(cols);
  for (let c = 0; c < cols; c++) {
    const p = preranks[c] as number;
    trust[c] = p !== 0 ? fxDiv(ranks[c] as number, p) : 0;
  }
  fxNormalizeInPlace(ranks);
  const incentive = ranks;

  // Weights the bonds are built from: interpolate between raw and clipped by bonds_penalty.
  const penalty = fxDiv(hp.bondsPenalty, U16_MAX);
  let WB: Float64Array;
  if (penalty === 0) WB = W;
  else if (penalty === FX_ONE) WB = C;
  else {
    WB = new Float64Array(W.length);
    for (let i = 0; i < W.length; i++) {
      const w = W[i] as number;
      WB[i] = w + fxMulSigned(penalty, (C[i] as number) - w);
    }
  }

  // Previous bonds, without columns of uids registered since the last epoch.
  const lastTempo = input.lastTempoBlock ?? Math.max(0, block - hp.tempo);
  const B = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = input.bonds[rowUid[r] as number];
    if (row === undefined) continue;
    const base = r * cols;
    const len = readRow(row, entryUids, entryValues);
    for (let t = 0; t < len; t++) {
      const j = entryUids[t] as number;
      if (!(j >= 0 && j < n) || !Number.isInteger(j)) continue;
      if (lastTempo <= (input.blockAtRegistration[j] as number)) continue;
      const b = entryValues[t] as number;
      // Yuma3 reads proportions (u16 / 65535). The original path reads the raw u16 as a fixed
      // integer and column-normalises it at once; keeping the bare integer gives the same quotient
      // floor(b · 2^32 / Σb) while staying exact.
      B[base + j] = hp.yuma3Enabled ? fxFromU16Proportion(b) : b;
    }
  }

  const dividends = new Float64Array(n);
  let stored: Float64Array;
  if (hp.yuma3Enabled) {
    const ema = computeBondsYuma3(WB, B, consensus, cols, hp);
    stored = ema;
    const norm = ema.slice();
    normalizeColumns(norm, rows, cols);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let total = 0;
      for (let c = 0; c < cols; c++) {
        const v = norm[base + c] as number;
        if (v !== 0) total += fxMul(v, incentive[c] as number);
      }
      const uid = rowUid[r] as number;
      dividends[uid] = fxMul(total, activeStake[uid] as number);
    }
  } else {
    normalizeColumns(B, rows, cols);
    const delta = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const s = rowStake[r] as number;
      if (s === 0) continue;
      const base = r * cols;
      for (let c = 0; c < cols; c++) {
        const w = WB[base + c] as number;
        if (w !== 0) delta[base + c] = fxMul(w, s);
      }
    }
    normalizeColumns(delta, rows, cols);
    const alpha = fixedBondAlpha(hp.bondsMovingAverage);
    const keep = FX_ONE - alpha;
    const ema = new Float64Array(rows * cols);
    for (let i = 0; i < ema.length; i++) {
      const b = B[i] as number;
      const d = delta[i] as number;
      if (b !== 0 || d !== 0) ema[i] = fxMul(keep, b) + fxMul(alpha, d);
    }
    normalizeColumns(ema, rows, cols);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let total = 0;
      for (let c = 0; c < cols; c++) {
        const v = ema[base + c] as number;
        if (v !== 0) total += fxMul(v, incentive[c] as number);
      }
      dividends[rowUid[r] as number] = total;
    }
    maxUpscaleColumns(ema, rows, cols);
    stored = ema;
  }
  fxNormalizeInPlace(dividends);

  // Emission: incentive to servers and dividends to validators, each normalised by their joint sum.
  const combined = new Float64Array(n);
  for (let i = 0; i < n; i++) combined[i] = (incentive[i] as number) + (dividends[i] as number);
  const emissionSum = fxSum(combined);
  let normServer = incentive;
  let normValidator = dividends;
  let normCombined = combined;
  if (emissionSum !== 0) {
    normServer = incentive.map((x) => fxDiv(x, emissionSum));
    normValidator = dividends.map((x) => fxDiv(x, emissionSum));
    normCombined = combined.slice();
    fxNormalizeInPlace(normCombined);
  } else {
    // No weights or no bonds: emission follows stake (active stake when any is active).
    const fallback = fxSum(activeStake) === 0 ? stake : activeStake;
    normValidator = fallback;
    normCombined = fallback;
  }
  const serverEmission = new Array<bigint>(n);
  const validatorEmission = new Array<bigint>(n);
  const emission = new Array<bigint>(n);
  for (let i = 0; i < n; i++) {
    serverEmission[i] = fxScaleAmount(normServer[i] as number, input.emission);
    validatorEmission[i] = fxScaleAmount(normValidator[i] as number, input.emission);
    emission[i] = fxScaleAmount(normCombined[i] as number, input.emission);
  }

  // Bonds to store: rows of uids keeping a permit; emptied for uids losing one; else untouched.
  const rowIndex = new Int32Array(n).fill(-1);
  for (let r = 0; r < rows; r++) rowIndex[rowUid[r] as number] = r;
  const bonds = new Array<PackedRow>(n);
  const empty: PackedRow = { uids: new Uint16Array(0), values: new Uint16Array(0) };
  for (let i = 0; i < n; i++) {
    const r = rowIndex[i] as number;
    if (newPermits[i] && r >= 0) {
      const base = r * cols;
      let count = 0;
      for (let c = 0; c < cols; c++) if ((stored[base + c] as number) > 0) count++;
      const uids = new Uint16Array(count);
      const values = new Uint16Array(count);
      let t = 0;
      for (let c = 0; c < cols; c++) {
        const v = stored[base + c] as number;
        if (v > 0) {
          uids[t] = c;
          values[t] = fxToU16(v);
          t++;
        }
      }
      bonds[i] = { uids, values };
    } else if (newPermits[i] || permits[i]) {
      bonds[i] = empty;
    } else {
      const row = input.bonds[i];
      if (row === undefined) bonds[i] = empty;
      else {
        const len = readRow(row, entryUids, entryValues);
        bonds[i] = {
          uids: Uint16Array.from(entryUids.subarray(0, len)),
          values: Uint16Array.from(entryValues.subarray(0, len)),
        };
      }
    }
  }

  return {
    active,
    validatorPermits: newPermits,
    rank: toU16Vector(incentive),
    trust: toU16Vector(trust),
    consensus: toU16Vector(consensus),
    incentive: toU16Vector(incentive),
    dividends: toU16Vector(dividends),
    validatorTrust: toU16Vector(validatorTrust),
    stakeWeight: toU16Vector(stake),
    pruningScores: maxUpscaleToU16(normCombined),
    serverEmission,
    validatorEmission,
    emission,
    bonds,
  };
}
