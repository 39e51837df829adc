/**
 * The fast mode's configuration: one zod schema with the defaults, so a sweep file, a test and
 * the CLI all describe a run the same way. Defaults mirror a new subnet on the dev chain
 * (chain/devchain/pallets/subtensor/subtensor-module.ts `createSubnet`,
 * chain/devchain/pallets/subtensor/storage.ts DEFAULTS) and
 * the validator's default scoring (neurons/validator/policy.ts).
 */
import { z } from "zod";
import { activityCutoffBlocks, type YumaHyperparameters } from "../../chain/yuma/epoch.js";
import { SimError } from "../errors.js";

/** Miner behaviours the fast mode turns into challenge outcomes (see outcomes.ts). */
export const MINER_BEHAVIOURS = [
  "honest",
  "lazy",
  "corrupting",
  "outsourcer",
  "offline",
  "slow",
  "churning",
  "sybil",
] as const;
export type MinerBehaviourName = (typeof MINER_BEHAVIOURS)[number];

/** Validator behaviours: honest scoring, copying last epoch's consensus, random weights. */
export const VALIDATOR_BEHAVIOURS = ["honest", "copier", "lazy"] as const;
export type ValidatorBehaviourName = (typeof VALIDATOR_BEHAVIOURS)[number];

/** A group's name in the metrics (`share.<label>`); default the behaviour, suffixed when repeated. */
const groupLabelSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/)
  .optional();

const minerGroupSchema = z.strictObject({
  behaviour: z.enum(MINER_BEHAVIOURS),
  label: groupLabelSchema,
  count: z.number().int().gte(0),
  /** Median answer latency of a pass (ms) and its log-normal spread. */
  latencyMs: z.number().gte(0).default(200),
  latencySigma: z.number().gte(0).default(0.5),
  /** lazy: fraction of chunks kept; a challenge over k chunks fails with probability 1 − keep^k. */
  keep: z.number().gte(0).lte(1).default(0.9),
  /** corrupting: fraction of proofs corrupted; outsourcer: fraction of forwarded answers that fail. */
  rate: z.number().gte(0).lte(1).default(0.5),
  /** slow: delay added to every answer (ms); past the deadline the challenge times out. */
  delayMs: z.number().gte(0).default(4000),
  /** churning: tempos online then offline, repeating (phase random per miner). */
  onTempos: z.number().int().gte(1).default(5),
  offTempos: z.number().int().gte(1).default(5),
  /** churning: where in its on/off cycle a churner starts (0: online); random per miner when unset. */
  phase: z.number().int().gte(0).optional(),
  /** sybil: hotkeys sharing one copy of the data (per-miner data: each keeps 1/sybils of its own). */
  sybils: z.number().int().gte(1).default(4),
  /**
   * Chunks the validators place on the miner, relative to a full miner (1): the validator pays per
   * chunk placed (proven capacity), so a sybil on half a disk has 0.5.
   */
  capacity: z.number().gt(0).default(1),
  /** Share of its allocation the miner holds without eviction (the validator's provenShare). */
  provenShare: z.number().gte(0).lte(1).default(1),
  /** Tempo the behaviour starts; the miner is honest before it (0: from the start). */
  from: z.number().int().gte(0).default(0),
  /** Tempos during which the miner is switched off whatever its behaviour (scenario events). */
  offlineTempos: z.array(z.number().int().gte(0)).default([]),
});

const validatorGroupSchema = z.strictObject({
  behaviour: z.enum(VALIDATOR_BEHAVIOURS),
  label: groupLabelSchema,
  count: z.number().int().gte(0),
  /** Stake per validator, in TAO (10^9 rao). */
  stake: z.number().gt(0),
});

const hyperparametersSchema = z.strictObject({
  kappa: z.number().int().gte(0).lte(65535).default(32767),
  bondsMovingAverage: z.number().int().gte(0).lte(1_000_000).default(900_000),
  bondsPenalty: z.number().int().gte(0).lte(65535).default(65535),
  liquidAlphaEnabled: z.boolean().default(false),
  alphaLow: z.number().int().gte(0).lte(65535).default(45875),
  alphaHigh: z.number().int().gte(0).lte(65535).default(58982),
  alphaSigmoidSteepness: z.number().int().gte(-32768).lte(32767).default(1000),
  yuma3Enabled: z.boolean().default(true),
  maxAllowedValidators: z.number().int().gte(1).lte(65535).default(64),
  /** Blocks; default subtensor's factor 13.889 × tempo. */
  activityCutoff: z.number().int().gte(1).optional(),
});

export const fastConfigSchema = z.strictObject({
  seed: z.number().int().gte(0).lte(0xffffffff).default(1),
  /** Epochs to run. */
  tempos: z.number().int().gte(1).default(100),
  /** Blocks per epoch (the subnet's Tempo). */
  tempo: z.number().int().gte(2).default(100),
  /** Rao emitted per block to the subnet. */
  blockEmission: z.number().int().gte(0).default(1_000_000_000),
  /** Owner cut, u16 fraction of 65535 (subtensor's SubnetOwnerCut, 18 %). */
  ownerCut: z.number().int().gte(0).lte(65535).default(11796),
  /** Challenges each honest validator sends each miner per tempo. */
  challengesPerTempo: z.number().int().gte(0).default(8),
  /** Chunks named in one challenge (lazy miners fail with 1 − keep^k). */
  chunksPerChallenge: z.number().int().gte(1).default(1),
  /** Answer deadline (ms): slower answers time out. */
  deadlineMs: z.number().gt(0).default(5000),
  policy: z
    .strictObject({ name: z.string().default("ema"), params: z.record(z.string(), z.unknown()).default({}) })
    .default({ name: "ema", params: {} }),
  hyperparameters: hyperparametersSchema.prefault({}),
  miners: z.array(minerGroupSchema).min(1),
  validators: z.array(validatorGroupSchema).min(1),
  /**
   * First tempo the emission metrics (shares, agreement, stability, Gini) count; earlier tempos
   * are warm-up (scores start at 0, bonds empty). Detection always counts from each group's start.
   */
  measureFrom: z.number().int().gte(0).default(0),
  /** Detection: an adversary group counts as caught once its mean incentive stays below this × the honest mean. */
  detectionThreshold: z.number().gt(0).lte(1).default(0.5),
});

/** A run's configuration as written (defaults optional). */
export type FastConfigInput = z.input<typeof fastConfigSchema>;
/** A run's configuration with every default filled in. */
export type FastConfig = z.output<typeof fastConfigSchema>;
export type MinerGroup = z.output<typeof minerGroupSchema>;
export type ValidatorGroup = z.output<typeof validatorGroupSchema>;

/** A fast-mode configuration failed validation; `cause` is the zod error. */
export class FastConfigError extends SimError {
  override name = "FastConfigError";
}

/**
 * Validates a configuration and fills in its defaults. Throws {@link FastConfigError}.
 *
 * @example parseFastConfig({ miners: [{ behaviour: "honest", count: 10 }],
 *   validators: [{ behaviour: "honest", count: 2, stake: 1000 }] }).tempo // 100
 */
export function parseFastConfig(input: unknown): FastConfig {
  const parsed = fastConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new FastConfigError(`invalid fast-mode config: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  const config = parsed.data;
  const uids = [...config.miners, ...config.validators].reduce((a, g) => a + g.count, 0);
  if (uids > 65535) throw new FastConfigError(`a subnet holds at most 65535 uids, got ${uids}`);
  return config;
}

/** The epoch's hyperparameters for a configuration. */
export function yumaHyperparameters(config: FastConfig): YumaHyperparameters {
  const { activityCutoff, ...rest } = config.hyperparameters;
  return {
    ...rest,
    tempo: config.tempo,
    activityCutoff: activityCutoff ?? activityCutoffBlocks(13889, config.tempo),
  };
}

/** Unique labels per group: the label if given, else the behaviour, suffixed `-2`, `-3` when repeated. */
export function groupLabels(
  groups: ReadonlyArray<{ behaviour: string; label?: string | undefined }>,
): string[] {
  const seen = new Map<string, number>();
  return groups.map((g) => {
    const base = g.label ?? g.behaviour;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}
