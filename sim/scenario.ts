/**
 * What a simulation runs: one zod schema with one set of defaults, filled from a scenario file
 * (`--scenario file.json`) and then overridden by command-line flags. The parsed scenario is
 * written to `<out>/scenario.json` exactly as run, so a run can be repeated from its own output.
 */
import { z } from "zod";
import { scoringPolicyName } from "../neurons/config.js";
import { DEFAULT_POLICY_NAME } from "../neurons/validator/policy.js";
import {
  ADVERSARY_NAMES,
  type AdversaryName,
  VALIDATOR_ADVERSARY_NAMES,
  type ValidatorAdversaryName,
} from "./adversaries.js";
import { SimError } from "./errors.js";

/** A scenario failed validation; the message names the field. */
export class ScenarioError extends SimError {
  override readonly name = "ScenarioError";
}

type AnyAdversary = AdversaryName | ValidatorAdversaryName;
const ALL_ADVERSARIES: readonly AnyAdversary[] = [...ADVERSARY_NAMES, ...VALIDATOR_ADVERSARY_NAMES];
const adversaryName = z.enum(ALL_ADVERSARIES as [AnyAdversary, ...AnyAdversary[]]);

const eventSchema = z
  .strictObject({
    /** Tempo (1-based) at whose start the event applies, before the validators' rounds. */
    tempo: z.number().int().gte(1),
    /** Miner index (0-based, in registration order). */
    miner: z.number().int().gte(0).optional(),
    /** Several miners at once (a correlated failure: one operator, one rack). */
    miners: z.array(z.number().int().gte(0)).optional(),
    /**
     * offline/online: the miner's node stops or starts again on its store; leave: it stops for
     * good and a new miner registers, taking the uid the chain prunes (lowest emission first);
     * gateway-restart: the storage validator's gateway and storage service restart (no miner).
     */
    action: z.enum(["offline", "online", "leave", "gateway-restart"]),
  })
  .refine((e) => e.action === "gateway-restart" || e.miner !== undefined || e.miners !== undefined, {
    message: "an event names a miner (miner or miners) unless it is a gateway-restart",
  });
export type SimEvent = z.infer<typeof eventSchema>;

/** Validators a run may have; each is a node with its own stake. */
export const MAX_VALIDATORS = 64;

/** Validators of a run that names none. */
const DEFAULT_VALIDATORS = 3;

export const scenarioSchema = z.strictObject({
  name: z.string().default("custom"),
  description: z.string().optional(),
  /** Every random choice of the run (challenge nonces, behaviour coins, secrets) derives from it. */
  seed: z.number().int().gte(0).lte(0xffffffff).default(1),
  miners: z.number().int().gte(1).lte(4096).default(20),
  /** Stake of each validator in TAO; the count is the number of validators. */
  validatorStakes: z
    .array(z.number().positive())
    .min(1)
    .max(MAX_VALIDATORS)
    .default(() => defaultValidatorStakes(DEFAULT_VALIDATORS)),
  tempos: z.number().int().gte(1).lte(10_000).default(8),
  /** Blocks per epoch (`sudoSetTempo`). */
  tempo: z.number().int().gte(2).lte(1000).default(10),
  /** Validator rounds per tempo (each validator challenges every miner once per round). */
  roundsPerTempo: z.number().int().gte(1).lte(100).default(2),
  /**
   * How many miners (or validators, for copier and lazy-validator) behave as each adversary; the
   * rest are honest. Adversaries take the last indices, in ADVERSARY_NAMES order.
   */
  adversaries: z.partialRecord(adversaryName, z.number().int().gte(0)).default({}),
  adversaryOptions: z
    .strictObject({
      /** lazy: share of acknowledged chunks kept. */
      lazyKeep: z.number().gte(0).lte(1).default(0.5),
      /** corrupting: share of proofs corrupted. */
      corruptRate: z.number().gte(0).lte(1).default(1),
      /** slow: delay as a share of the challenge timeout. */
      slowDelayFraction: z.number().gte(0).lte(10).default(0.8),
      /** offline: tempo (1-based) from which the miner is stopped. */
      offlineFromTempo: z.number().int().gte(1).default(3),
      /** churning: tempos online, then tempos offline, alternating (starting online). */
      churnPeriod: z.number().int().gte(1).default(2),
      /** sybil: hotkeys sharing one disk (consecutive sybil miners form groups of this size). */
      sybilGroup: z.number().int().gte(1).default(2),
      /** challenged-only: challenges of a store after which a never-challenged chunk is dropped. */
      dropAfterChallenges: z.number().int().gte(1).default(8),
      /** slow-reads: delay of each retrieval answer, ms. */
      readDelayMs: z.number().int().gte(0).default(3_000),
    })
    // Parsing {} fills each field's own default: the defaults are written once, above.
    .prefault({}),
  miner: z
    .strictObject({
      chunkSize: z
        .number()
        .int()
        .gte(1024)
        .lte(1 << 20)
        .default(64 * 1024),
      /** The miner's (fixed) free space, in chunks; split across validators by stake. */
      freeChunks: z.number().int().gte(1).default(32),
    })
    .prefault({}),
  validator: z
    .strictObject({
      chunksPerChallenge: z.number().int().gte(1).lte(64).default(4),
      leavesPerChunk: z.number().int().gte(1).lte(64).default(4),
      challengeTimeoutMs: z.number().int().gte(100).default(5_000),
      fillPerRound: z.number().int().gte(1).default(16),
    })
    .prefault({}),
  /**
   * Scoring policy of every validator (neurons/validator/policy.ts). latencyWeight defaults to 0
   * in the simulator: challenge latencies vary from run to run by milliseconds, and any latency
   * term would make weights (and so emissions) differ between two runs with the same seed.
   */
  policy: z
    .strictObject({
      name: scoringPolicyName.default(DEFAULT_POLICY_NAME),
      params: z.record(z.string(), z.unknown()).default({ latencyWeight: 0 }),
    })
    .prefault({}),
  /** Extra AdminUtils setters applied with sudo after the defaults, e.g. `{ "sudoSetKappa": 32767 }`. */
  hyperparameters: z
    .record(z.string().regex(/^sudoSet[A-Za-z0-9]+$/), z.union([z.number(), z.boolean()]))
    .default({}),
  events: z.array(eventSchema).default([]),
  /**
   * A storage workload (issue 16): the most-staked validator runs the storage service and its
   * gateway (real HTTP on 127.0.0.1), seeded clients put and get files through the typed client
   * API every tempo, and each tempo's files.csv row says what survived. Sizes are small so a
   * default run stays within its time goal.
   */
  storage: z
    .strictObject({
      /** Off in a scenario that does not ask for it; `npm run sim` turns it on unless given --scenario. */
      enabled: z.boolean().default(false),
      clients: z.number().int().gte(1).lte(64).default(2),
      /** Files each client puts per tempo (fractions put one file every 1/rate tempos, seeded). */
      uploadsPerTempo: z.number().gte(0).lte(100).default(1.5),
      /** Most files are small: uniform in [smallMinBytes, smallMaxBytes]. */
      smallMinBytes: z.number().int().gte(0).default(1_024),
      smallMaxBytes: z
        .number()
        .int()
        .gte(0)
        .default(192 * 1024),
      /** Share of puts that are large: uniform in [smallMaxBytes, largeMaxBytes] (spanning leaves and stripes). */
      largeShare: z.number().gte(0).lte(1).default(0.1),
      largeMaxBytes: z
        .number()
        .int()
        .gte(0)
        .default(5 * 1024 * 1024),
      /** Gets per tempo, over all clients. */
      readsPerTempo: z.number().int().gte(0).lte(1000).default(6),
      /** Zipf exponent of which file is read: 0 uniform, 1 classic zipf (a few files read far more). */
      popularitySkew: z.number().gte(0).lte(4).default(1),
      /** k and m of the gateway (api.data_shards, api.parity_shards). */
      dataShards: z.number().int().gte(1).lte(32).default(4),
      parityShards: z.number().int().gte(0).lte(32).default(2),
      /** Rebuild lost pieces each tempo; false leaves lost pieces lost. */
      repair: z.boolean().default(true),
      /**
       * Score every piece the gateway fetches for a read or repair like a challenge
       * (api.score_retrievals); false leaves the miners' scores to challenges alone.
       */
      scoreRetrievals: z.boolean().default(true),
      /** api.repair_bandwidth, bytes/s. */
      repairBandwidth: z
        .number()
        .int()
        .gte(1)
        .default(64 * 1024 * 1024),
      /**
       * api.repair_threshold: a stripe is rebuilt once at most k + this many of its pieces are
       * left, capped at m − 1 (any lost piece); the default 64 is that cap for every m.
       */
      repairThreshold: z.number().int().gte(0).max(64).default(64),
      /** api.offline_grace in tempos (of simulated time): pieces of a miner down this long are rebuilt. */
      offlineGraceTempos: z.number().int().gte(0).default(1),
      /** Files expire after this many tempos; 0 keeps them for the run. */
      ttlTempos: z.number().int().gte(0).default(0),
      /** Seconds of simulated time per block (a tempo lasts tempo × this). */
      blockSeconds: z.number().int().gte(1).default(12),
      /**
       * Each tempo from churnFromTempo on, this many miners (seeded choice among those still up)
       * leave for good and are replaced by new registrations; fractions accumulate.
       */
      churnPerTempo: z.number().gte(0).lte(64).default(0),
      churnFromTempo: z.number().int().gte(1).default(2),
      /** Free space of each miner, in 1 MiB chunks (the storage validator's pieces are 1 MiB leaves). */
      minerFreeChunks: z.number().int().gte(1).default(16),
    })
    .prefault({}),
  /** An adversary counts as detected once its incentive stays below this share of the honest mean. */
  detectionThreshold: z.number().gt(0).lt(1).default(0.01),
});

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;

/**
 * The adversaries of a run given neither `--adversaries` nor `--scenario`: a run shows what the
 * subnet is for, with a tenth of the miners lazy and one each corrupting, outsourcing and going
 * offline (none under 8 miners; `--adversaries none` runs everyone honest).
 */
export function defaultAdversaries(miners: number): Record<string, number> {
  if (miners < 8) return {};
  const lazy = Math.max(1, Math.floor(miners / 10));
  return { lazy, corrupting: 1, outsourcer: 1, offline: 1 };
}

/**
 * Stakes (TAO) of `--validators n`: 1000, 500, 250 … halving, but never under 100, far above
 * what miners accrue from their incentive as stake, so permits stay with the validators.
 */
export function defaultValidatorStakes(validators: number): number[] {
  return Array.from({ length: validators }, (_, i) => Math.max(100, 1000 / 2 ** i));
}

/** Validates a scenario object (a parsed file merged with flags); throws {@link ScenarioError}. */
export function parseScenario(input: unknown): Scenario {
  const parsed = scenarioSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "scenario";
    throw new ScenarioError(`${where}: ${issue?.message ?? "invalid"}`, { cause: parsed.error });
  }
  const s = parsed.data;
  const adversaries = countOf(s, ADVERSARY_NAMES);
  if (adversaries > s.miners - 1)
    throw new ScenarioError(
      `adversaries: ${adversaries} adversarial miners need at least ${adversaries + 1} miners (one honest miner at least)`,
    );
  const validatorAdversaries = countOf(s, VALIDATOR_ADVERSARY_NAMES);
  if (validatorAdversaries > s.validatorStakes.length - 1)
    throw new ScenarioError(
      `adversaries: ${validatorAdversaries} adversarial validators need at least ${validatorAdversaries + 1} validators (one honest validator at least)`,
    );
  for (const e of s.events)
    for (const miner of eventMiners(e))
      if (miner >= s.miners)
        throw new ScenarioError(`events: miner ${miner} does not exist (miners are 0..${s.miners - 1})`);
  if (s.storage.enabled && s.storage.smallMaxBytes < s.storage.smallMinBytes)
    throw new ScenarioError("storage.smallMaxBytes: must be at least storage.smallMinBytes");
  if (s.storage.enabled && s.storage.largeMaxBytes < s.storage.smallMaxBytes)
    throw new ScenarioError("storage.largeMaxBytes: must be at least storage.smallMaxBytes");
  if (s.tempo < s.validatorStakes.length + 2)
    throw new ScenarioError(
      `tempo: ${s.tempo} blocks is too short for ${s.validatorStakes.length} validators' weight transactions (at least validators + 2)`,
    );
  return s;
}

/** The miner indices an event names. */
export function eventMiners(e: SimEvent): number[] {
  return [...(e.miner !== undefined ? [e.miner] : []), ...(e.miners ?? [])];
}

/**
 * Parses `lazy:2,corrupting:1` into counts. Throws {@link ScenarioError} on an unknown name or a
 * bad count.
 */
export function parseAdversaries(text: string): Partial<Record<AnyAdversary, number>> {
  const out: Partial<Record<AnyAdversary, number>> = {};
  if (text.trim() === "" || text.trim() === "none") return out;
  for (const part of text.split(",")) {
    const [name, count, ...rest] = part.trim().split(":");
    if (!name || rest.length > 0) throw new ScenarioError(`--adversaries: "${part}" is not name:count`);
    if (!(ALL_ADVERSARIES as readonly string[]).includes(name))
      throw new ScenarioError(
        `--adversaries: unknown adversary "${name}" (known: ${ALL_ADVERSARIES.join(", ")})`,
      );
    const n = count === undefined ? 1 : Number(count);
    if (!Number.isInteger(n) || n < 0)
      throw new ScenarioError(`--adversaries: count of "${name}" must be a whole number, got "${count}"`);
    out[name as AnyAdversary] = (out[name as AnyAdversary] ?? 0) + n;
  }
  return out;
}

function countOf(scenario: Scenario, names: readonly AnyAdversary[]): number {
  return names.reduce((a, name) => a + (scenario.adversaries[name] ?? 0), 0);
}

function assign<N extends string>(total: number, names: readonly N[], scenario: Scenario): (N | "honest")[] {
  const out: (N | "honest")[] = new Array(total).fill("honest");
  let next = total - countOf(scenario, names as readonly AnyAdversary[]);
  for (const name of names) {
    const count = scenario.adversaries[name as AnyAdversary] ?? 0;
    for (let i = 0; i < count; i++) out[next++] = name;
  }
  return out;
}

/** Behaviour of every miner index: the adversaries take the last indices, in ADVERSARY_NAMES order. */
export function assignBehaviours(scenario: Scenario): (AdversaryName | "honest")[] {
  return assign(scenario.miners, ADVERSARY_NAMES, scenario);
}

/** Behaviour of every validator index: copier and lazy-validator take the last (least staked) ones. */
export function assignValidatorBehaviours(scenario: Scenario): (ValidatorAdversaryName | "honest")[] {
  return assign(scenario.validatorStakes.length, VALIDATOR_ADVERSARY_NAMES, scenario);
}
