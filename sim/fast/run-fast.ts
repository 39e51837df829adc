/**
 * The fast mode: the incentive loop without disk or network. Miners are outcome models
 * (outcomes.ts), honest validators fold those outcomes into the validator's own scoring policies
 * (neurons/validator/policy.ts) and set u16 weights as the validator does (protocol/scoring.ts
 * `toU16Weights`), and every tempo settles with the chain's epoch, `runEpoch` (chain/yuma/epoch.ts),
 * paid out by the dev chain's own functions (chain/yuma/payout.ts): per block the owner cut, the
 * rest half to the server bucket (miners by incentive) and half to the validator bucket
 * (validators by dividends).
 *
 * What it leaves out: registration and pruning (the population is fixed), commit-reveal, stake
 * changes (dividends are not restaked), chunk placement (a miner's provenShare is a constant).
 */
import { type EpochInput, type EpochOutput, type PackedRow, runEpoch } from "../../chain/yuma/epoch.js";
import { payEpoch, splitBlockEmission } from "../../chain/yuma/payout.js";
import { createPolicy } from "../../neurons/validator/policy.js";
import { toU16Weights, weighByChunksPlaced } from "../../protocol/scoring.js";
import { type FastConfig, groupLabels, parseFastConfig, yumaHyperparameters } from "./config.js";
import { createMinerModel, type MinerModel } from "./outcomes.js";
import { createPrng } from "./prng.js";

/** One uid of the simulated subnet. Validators take the low uids, miners follow. */
export interface FastUid {
  uid: number;
  role: "miner" | "validator";
  /** Index into config.miners or config.validators. */
  group: number;
  /** The group's unique label (see `groupLabels`). */
  label: string;
  behaviour: string;
  /** Stake in rao (0 for miners). */
  stake: bigint;
}

/** What one tempo produced. Arrays are indexed by uid. */
export interface TempoRow {
  tempo: number;
  /** Block the epoch ran at. */
  block: number;
  /** Rao paid to each uid this tempo: miners by incentive, validators by dividends. */
  emission: Float64Array;
  incentive: Uint16Array;
  dividends: Uint16Array;
  consensus: Uint16Array;
  validatorTrust: Uint16Array;
  /** The weights each validator set this tempo (undefined: set none), as u16 rows. */
  weights: ReadonlyArray<PackedRow | undefined>;
}

export interface FastResult {
  config: FastConfig;
  uids: FastUid[];
  rows: TempoRow[];
  /** Rao the owner cut took over the run. */
  ownerEmission: number;
}

export interface RunFastOptions {
  /** The epoch function; only tests pass another (to watch the calls). Default `runEpoch`. */
  epoch?: (input: EpochInput) => EpochOutput;
  /** Stops between tempos; the rows so far are returned. */
  signal?: AbortSignal;
}

/**
 * Runs the incentive loop for `config.tempos` epochs. Deterministic: the same config (seed
 * included) gives the same rows.
 *
 * @example
 * const { rows } = runFast({ tempos: 10, miners: [{ behaviour: "honest", count: 20 },
 *   { behaviour: "lazy", count: 4, keep: 0.5 }], validators: [{ behaviour: "honest", count: 4, stake: 1000 }] });
 * rows[9].incentive // u16 per uid
 */
export function runFast(input: unknown, options: RunFastOptions = {}): FastResult {
  const config = parseFastConfig(input);
  const epoch = options.epoch ?? runEpoch;
  const prng = createPrng(config.seed);
  const policy = createPolicy(config.policy.name, config.policy.params);
  const hyperparameters = yumaHyperparameters(config);

  const uids: FastUid[] = [];
  const validatorLabels = groupLabels(config.validators);
  config.validators.forEach((g, group) => {
    for (let i = 0; i < g.count; i++) {
      uids.push({
        uid: uids.length,
        role: "validator",
        group,
        label: validatorLabels[group] as string,
        behaviour: g.behaviour,
        stake: BigInt(Math.round(g.stake * 1e9)),
      });
    }
  });
  const v = uids.length;
  const minerLabels = groupLabels(config.miners);
  const models: MinerModel[] = [];
  config.miners.forEach((g, group) => {
    for (let i = 0; i < g.count; i++) {
      uids.push({
        uid: uids.length,
        role: "miner",
        group,
        label: minerLabels[group] as string,
        behaviour: g.behaviour,
        stake: 0n,
      });
      models.push(createMinerModel(g, group, config, prng));
    }
  });
  const n = uids.length;
  const m = n - v;

  const stake = uids.map((u) => u.stake);
  const validatorBehaviour = uids.slice(0, v).map((u) => u.behaviour);
  // Per honest validator, per miner: the policy's state.
  const states: unknown[][] = validatorBehaviour.map((b) =>
    b === "honest" ? Array.from({ length: m }, () => policy.initial()) : [],
  );

  // Emission per tempo, split per block by the dev chain's own function.
  const split = splitBlockEmission(BigInt(config.blockEmission), config.ownerCut);
  const tempoBlocks = BigInt(config.tempo);
  const serverBucket = split.server * tempoBlocks;
  const validatorBucket = split.validator * tempoBlocks;

  let bonds: ReadonlyArray<PackedRow | undefined> = new Array(n).fill(undefined);
  let permits: ArrayLike<boolean> = new Array<boolean>(n).fill(false);
  let lastConsensus: Uint16Array | undefined;
  const lastUpdate = new Float64Array(n);
  const blockAtRegistration = new Float64Array(n);
  const weights: Array<PackedRow | undefined> = new Array(n).fill(undefined);
  const scores = new Array<number>(n).fill(0);
  const rows: TempoRow[] = [];

  for (let t = 0; t < config.tempos; t++) {
    if (options.signal?.aborted) break;
    const block = (t + 1) * config.tempo;
    for (let i = 0; i < v; i++) {
      const behaviour = validatorBehaviour[i];
      scores.fill(0);
      if (behaviour === "honest") {
        const row = states[i] as unknown[];
        for (let j = 0; j < m; j++) {
          const model = models[j] as MinerModel;
          let state = row[j];
          for (let c = 0; c < config.challengesPerTempo; c++) state = policy.apply(state, model.challenge(t));
          row[j] = state;
          scores[v + j] = weighByChunksPlaced(
            policy.score(state, { provenShare: model.provenShare }),
            model.capacity,
          );
        }
      } else if (behaviour === "copier") {
        if (lastConsensus === undefined) continue;
        for (let j = v; j < n; j++) scores[j] = lastConsensus[j] as number;
      } else {
        for (let j = v; j < n; j++) scores[j] = prng.next();
      }
      const set = toU16Weights(scores);
      if (set.uids.length === 0) continue;
      weights[i] = { uids: Uint16Array.from(set.uids), values: Uint16Array.from(set.weights) };
      lastUpdate[i] = block - 1;
    }

    const out = epoch({
      block,
      stake,
      weights,
      bonds,
      lastUpdate,
      blockAtRegistration,
      validatorPermits: permits,
      emission: serverBucket + validatorBucket,
      hyperparameters,
    });
    bonds = out.bonds;
    permits = out.validatorPermits;
    lastConsensus = out.consensus;

    // Paid as the dev chain pays (chain/yuma/payout.ts). The population holds no owner hotkey (the
    // owner cut is counted apart, as ownerEmission), so no uid's incentive is withheld.
    const pay = payEpoch({
      server: serverBucket,
      validator: validatorBucket,
      incentive: out.incentive,
      dividends: out.dividends,
    });
    const emission = new Float64Array(n);
    for (let i = 0; i < n; i++)
      emission[i] = Number((pay.minerIncentive[i] as bigint) + (pay.validatorDividends[i] as bigint));
    rows.push({
      tempo: t,
      block,
      emission,
      incentive: out.incentive,
      dividends: out.dividends,
      consensus: out.consensus,
      validatorTrust: out.validatorTrust,
      weights: weights.slice(0, v),
    });
  }
  return {
    config,
    uids,
    rows,
    ownerEmission: Number(split.ownerCut * tempoBlocks) * rows.length,
  };
}
