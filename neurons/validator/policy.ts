/**
 * Scoring policies: how a validator turns challenge outcomes into a score per miner. Every policy
 * reads the same evidence (a stream of {@link ChallengeOutcome}s per miner and the share of its
 * allocation it has proven), so the validator can run several side by side and the simulator can
 * compare them on one run.
 */
import { z } from "zod";
import {
  applyOutcome,
  type ChallengeOutcome,
  defaultScoringPolicy,
  finalScore,
  initialScore,
  latencyFactor,
  type MinerScore,
  type ScoringPolicy,
} from "../../protocol/scoring.js";
import { defaultsOf, type ScoringPolicyName, validatorConfigSchema } from "../config.js";
import { NodeError } from "../errors.js";

/** What a policy knows about a miner besides its outcomes, at scoring time. */
export interface ScoringContext {
  /**
   * The share of the capacity asked of this miner that it has proven, in [0, 1]: chunks it holds
   * and has passed challenges on, over the chunks the validator allocated to it (or over the
   * largest proven capacity among miners). Values outside [0, 1] are clamped.
   */
  provenShare: number;
}

/**
 * A scoring policy. `S` is its per-miner state: a plain JSON value, so the validator database can
 * keep it (see `ValidatorDb.recordChallenge`) and a restart resumes it.
 *
 * @example
 * const policy = createPolicy("ema");
 * let state = policy.initial();
 * state = policy.apply(state, { kind: "pass", latencyMs: 120 });
 * policy.score(state, { provenShare: 1 }); // in [0, 1]
 */
export interface ScoringPolicyImpl<S = unknown> {
  /** Registry name, also the key its states are stored under. */
  readonly name: string;
  /** The state of a miner never challenged. */
  initial(): S;
  /** Folds one outcome into a state; never mutates its argument. */
  apply(state: S, outcome: ChallengeOutcome): S;
  /** The miner's score in [0, 1]. */
  score(state: S, context: ScoringContext): number;
  /** Checks a state read back from storage. Throws {@link PolicyStateError} when it is not one. */
  decode(value: unknown): S;
}

/** `createPolicy` was given a name no policy is registered under. */
export class UnknownPolicyError extends NodeError {
  override name = "UnknownPolicyError";
  readonly policyName: string;
  constructor(policyName: string, options?: { cause?: unknown }) {
    super(
      `unknown scoring policy "${policyName}"; known: ${Object.keys(scoringPolicies).join(", ")}`,
      options,
    );
    this.policyName = policyName;
  }
}

/** A policy's parameters failed validation; `cause` is the zod error. */
export class PolicyParamsError extends NodeError {
  override name = "PolicyParamsError";
}

/** A stored state does not have the shape of the policy's state. */
export class PolicyStateError extends NodeError {
  override name = "PolicyStateError";
}

function decodeWith<S>(schema: z.ZodType<S>, policyName: string, value: unknown): S {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new PolicyStateError(`not a "${policyName}" scoring state`, { cause: parsed.error });
  }
  return parsed.data;
}

const emaParamsSchema = z.strictObject({
  alpha: z.number().gt(0).lte(1).default(defaultScoringPolicy.alpha),
  failurePenalty: z.number().gte(1).lte(1000).default(defaultScoringPolicy.failurePenalty),
  latencyHalfMs: z.number().gt(0).default(defaultScoringPolicy.latencyHalfMs),
  latencyWeight: z.number().gte(0).lte(1).default(defaultScoringPolicy.latencyWeight),
});

const minerScoreSchema = z.strictObject({
  reliability: z.number().gte(0).lte(1),
  latencyMs: z.number().gte(0),
  samples: z.number().int().gte(0),
});

/**
 * The default policy, "ema": protocol/scoring.ts's moving averages.
 *
 *   score = reliability × provenShare × (1 − latencyWeight + latencyWeight × half / (half + latency))
 *
 * Why:
 * - **Proof success rate as an exponential moving average** (alpha 0.05, about the last 20
 *   challenges): recent behaviour counts most, so a miner that starts dropping data loses weight
 *   within tens of challenges, and one that recovers earns it back; the state is three numbers,
 *   cheap to persist after every challenge.
 * - **A failed or missed challenge costs `failurePenalty` (4) passes**: a failure moves
 *   reliability 4 × as far towards 0 as a pass moves it towards 1. A miner failing a fraction q of
 *   its challenges settles at reliability (1 − q) / (1 + 3q): failing 10 % costs 31 % of its
 *   reward, failing 25 % costs 57 %. Dropping data to save space therefore loses more reward than
 *   the space saved could earn elsewhere, and a timeout counts as a failure, so not answering is
 *   never safer than answering wrong.
 * - **Starts at 0**: a new hotkey has to earn its score (≈ 14 passes to reach half), so fresh
 *   Sybil identities gain nothing until they have stored and proven data.
 * - **Proven capacity share multiplies**: a miner that holds twice the proven data earns about
 *   twice as much, which is what a storage subnet pays for; data it has not proven earns nothing.
 * - **Latency is a small factor** (10 %, halving at 2 s): fast answers are preferred and slow
 *   ones (a sign of fetching data from elsewhere) cost a little, but network distance alone
 *   cannot sink an honest miner; the challenge deadline is what rejects answers too slow to trust.
 */
function createEmaPolicy(params: ScoringPolicy): ScoringPolicyImpl<MinerScore> {
  return {
    name: "ema",
    initial: () => ({ ...initialScore }),
    apply: (state, outcome) => applyOutcome(state, outcome, params),
    score: (state, { provenShare }) => finalScore(state, provenShare, params),
    decode: (value) => decodeWith(minerScoreSchema, "ema", value),
  };
}

const strictParamsSchema = emaParamsSchema.extend({
  window: z.number().int().gte(1).lte(10_000).default(32),
});

const strictStateSchema = z.strictObject({
  ema: minerScoreSchema,
  /** Challenges since the last failure (capped at the window). */
  sinceFailure: z.number().int().gte(0),
});

type StrictState = z.infer<typeof strictStateSchema>;

/**
 * "strict": the default score, but zero while any of the last `window` challenges (default 32)
 * failed or timed out. Harsh on flaky networks; useful to see how much of a miner's reward
 * the default's gentler averaging lets through.
 */
function createStrictPolicy(params: z.infer<typeof strictParamsSchema>): ScoringPolicyImpl<StrictState> {
  const { window, ...scoring } = params;
  return {
    name: "strict",
    // A new miner has no failure on record; it still starts at reliability 0.
    initial: () => ({ ema: { ...initialScore }, sinceFailure: window }),
    apply: (state, outcome) => ({
      ema: applyOutcome(state.ema, outcome, scoring),
      sinceFailure: outcome.kind === "pass" ? Math.min(window, state.sinceFailure + 1) : 0,
    }),
    score: (state, { provenShare }) =>
      state.sinceFailure < window ? 0 : finalScore(state.ema, provenShare, scoring),
    decode: (value) => decodeWith(strictStateSchema, "strict", value),
  };
}

const windowedParamsSchema = z.strictObject({
  window: z.number().int().gte(1).lte(10_000).default(64),
  failurePenalty: z.number().gte(1).lte(1000).default(defaultScoringPolicy.failurePenalty),
  latencyHalfMs: z.number().gt(0).default(defaultScoringPolicy.latencyHalfMs),
  latencyWeight: z.number().gte(0).lte(1).default(defaultScoringPolicy.latencyWeight),
});

/** A failure in the window; passes are stored as their latency (≥ 0). */
const WINDOW_FAILURE = -1;

const windowedStateSchema = z.strictObject({
  /** The last `window` outcomes, oldest first: a pass as its latency in ms, a failure as -1. */
  recent: z.array(z.number().gte(WINDOW_FAILURE)),
});

type WindowedState = z.infer<typeof windowedStateSchema>;

/**
 * "windowed": (passes − failurePenalty × failures) / window over the last `window` challenges
 * (default 64), floored at 0, times the proven share and the same latency factor as the default
 * over the mean latency of the window's passes. No memory beyond the window: a miner's past is
 * forgotten exactly `window` challenges later. The denominator is the full window, so a new
 * miner ramps up as the default's does.
 */
function createWindowedPolicy(
  params: z.infer<typeof windowedParamsSchema>,
): ScoringPolicyImpl<WindowedState> {
  const { window, failurePenalty } = params;
  return {
    name: "windowed",
    initial: () => ({ recent: [] }),
    apply: (state, outcome) => {
      const entry = outcome.kind === "pass" ? Math.max(0, outcome.latencyMs) : WINDOW_FAILURE;
      return { recent: [...state.recent, entry].slice(-window) };
    },
    score: (state, { provenShare }) => {
      let passes = 0;
      let failures = 0;
      let latencyTotal = 0;
      for (const entry of state.recent.slice(-window)) {
        if (entry === WINDOW_FAILURE) failures++;
        else {
          passes++;
          latencyTotal += entry;
        }
      }
      const rate = Math.max(0, (passes - failurePenalty * failures) / window);
      const latency = passes > 0 ? latencyTotal / passes : 0;
      const capacity = Math.min(1, Math.max(0, Number.isFinite(provenShare) ? provenShare : 0));
      return rate * capacity * latencyFactor(latency, params);
    },
    decode: (value) => decodeWith(windowedStateSchema, "windowed", value),
  };
}

/** A registered policy: what it does, its parameters, and how to make one. */
export interface PolicyEntry {
  description: string;
  /** Validates `createPolicy`'s `params` and fills in their defaults. */
  params: z.ZodType;
  /** Makes the policy from parameters `params` has already accepted. */
  create(params: unknown): ScoringPolicyImpl;
}

function entry<P>(
  description: string,
  params: z.ZodType<P>,
  create: (params: P) => ScoringPolicyImpl,
): PolicyEntry {
  return { description, params, create: (parsed) => create(parsed as P) };
}

/** The default policy's registry name: the `--neuron.scoring_policy` default. */
export const DEFAULT_POLICY_NAME: ScoringPolicyName =
  defaultsOf(validatorConfigSchema)["neuron.scoring_policy"];

/** Every scoring policy by name: one for each name the config schema accepts. */
export const scoringPolicies: Readonly<Record<ScoringPolicyName, PolicyEntry>> = Object.freeze({
  ema: entry(
    "success-rate moving average, failures cost failurePenalty passes, × proven share, small latency factor (default)",
    emaParamsSchema,
    createEmaPolicy,
  ),
  strict: entry(
    "the default, but 0 while any of the last `window` challenges failed",
    strictParamsSchema,
    createStrictPolicy,
  ),
  windowed: entry(
    "(passes − failurePenalty × failures) / window over a fixed window, × proven share, small latency factor",
    windowedParamsSchema,
    createWindowedPolicy,
  ),
});

/**
 * Makes a policy by name, with its parameters validated and defaulted. Throws
 * {@link UnknownPolicyError} or {@link PolicyParamsError} (an unknown key is an error too).
 *
 * @example createPolicy("windowed", { window: 128 })
 */
export function createPolicy(name: string, params: Record<string, unknown> = {}): ScoringPolicyImpl {
  const found = Object.hasOwn(scoringPolicies, name) ? scoringPolicies[name as ScoringPolicyName] : undefined;
  if (found === undefined) throw new UnknownPolicyError(name);
  const parsed = found.params.safeParse(params);
  if (!parsed.success) {
    throw new PolicyParamsError(
      `invalid parameters for scoring policy "${name}": ${z.prettifyError(parsed.error)}`,
      {
        cause: parsed.error,
      },
    );
  }
  return found.create(parsed.data);
}
