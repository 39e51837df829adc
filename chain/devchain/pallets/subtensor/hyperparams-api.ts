/**
 * SubnetInfoRuntimeApi's hyperparameter views (subtensor's `rpc_info/subnet_info.rs`):
 * `get_subnet_hyperparams_v2` (a fixed struct) and `get_subnet_hyperparams_v3` (a list of named,
 * tagged values, what btcli 9.x and the SDK 10.x read first), plus `get_next_epoch_start_block`
 * (`coinbase/run_coinbase.rs`). Both views read the same storage in the same order as subtensor.
 */
import type { RuntimeApiMethodDef, RuntimeContext } from "../../pallet.js";
import { type Type, t } from "../../scale.js";
import { item, subnetExists } from "./storage.js";
import { NETUID, U64F64 } from "./types.js";

const cu16 = t.compact(t.u16);
const cu32 = t.compact(t.u32);
const cu64 = t.compact(t.u64);

/** substrate-fixed's I32F32: value = bits / 2^32. */
export const I32F32: Type = t.struct(["substrate_fixed", "FixedI64"], { bits: t.i64 });

/** subtensor's `rho`: a runtime constant since it stopped being a hyperparameter owners set. */
export const RHO = 10;
/** The proof-of-work fields subtensor still reports; the dev chain has no POW registration. */
const POW = { min_difficulty: 10_000_000n, max_difficulty: (1n << 62n) - 1n, difficulty: 10_000_000n };
/** The burn price's growth per registration (registration.ts raises it by 126/100), as U64F64 1.26. */
const BURN_INCREASE_MULT_BITS = BigInt(Math.round(1.26 * 2 ** 52)) << 12n;

export const SUBNET_HYPERPARAMS_V2: Type = t.struct(
  ["pallet_subtensor", "rpc_info", "subnet_info", "SubnetHyperparamsV2"],
  {
    rho: cu16,
    kappa: cu16,
    immunity_period: cu16,
    min_allowed_weights: cu16,
    max_weights_limit: cu16,
    tempo: cu16,
    min_difficulty: cu64,
    max_difficulty: cu64,
    weights_version: cu64,
    weights_rate_limit: cu64,
    adjustment_interval: cu16,
    activity_cutoff: cu64,
    registration_allowed: t.bool,
    target_regs_per_interval: cu16,
    min_burn: cu64,
    max_burn: cu64,
    bonds_moving_avg: cu64,
    max_regs_per_block: cu16,
    serving_rate_limit: cu64,
    max_validators: cu16,
    adjustment_alpha: cu64,
    difficulty: cu64,
    commit_reveal_period: cu64,
    commit_reveal_weights_enabled: t.bool,
    alpha_high: cu16,
    alpha_low: cu16,
    liquid_alpha_enabled: t.bool,
    alpha_sigmoid_steepness: I32F32,
    yuma_version: cu16,
    subnet_is_active: t.bool,
    transfers_enabled: t.bool,
    bonds_reset_enabled: t.bool,
    user_liquidity_enabled: t.bool,
  },
);

export const HYPERPARAM_VALUE: Type = t.enum(
  ["pallet_subtensor", "rpc_info", "subnet_info", "HyperparamValue"],
  {
    Bool: [t.bool],
    U16: [cu16],
    U32: [cu32],
    U64: [cu64],
    U128: [t.compact(t.u128)],
    TaoBalance: [cu64],
    I32F32: [I32F32],
    U64F64: [U64F64],
  },
);

export const HYPERPARAM_ENTRY: Type = t.struct(
  ["pallet_subtensor", "rpc_info", "subnet_info", "HyperparamEntry"],
  {
    name: t.vec(t.u8),
    value: HYPERPARAM_VALUE,
  },
);

/** The subnet's activity cutoff in blocks, from its factor and tempo (`get_activity_cutoff_blocks`). */
export function activityCutoffBlocks(ctx: RuntimeContext, netuid: number): bigint {
  const factor = BigInt(item<number>(ctx, "ActivityCutoffFactorMilli").get(netuid));
  const tempo = BigInt(item<number>(ctx, "Tempo").get(netuid));
  const blocks = (factor * tempo) / 1000n;
  return blocks > 1n ? blocks : 1n;
}

/** The values both views share, read once. */
function readHyperparams(ctx: RuntimeContext, netuid: number) {
  const get = <V>(name: string) => item<V>(ctx, name).get(netuid);
  const [alphaLow, alphaHigh] = get<[number, number]>("AlphaValues");
  return {
    kappa: get<number>("Kappa"),
    immunity_period: get<number>("ImmunityPeriod"),
    min_allowed_weights: get<number>("MinAllowedWeights"),
    max_weights_limit: get<number>("MaxWeightsLimit"),
    tempo: get<number>("Tempo"),
    weights_version: get<bigint>("WeightsVersionKey"),
    weights_rate_limit: get<bigint>("WeightsSetRateLimit"),
    activity_cutoff: activityCutoffBlocks(ctx, netuid),
    activity_cutoff_factor: get<number>("ActivityCutoffFactorMilli"),
    registration_allowed: get<boolean>("NetworkRegistrationAllowed"),
    target_regs_per_interval: get<number>("TargetRegistrationsPerInterval"),
    min_burn: get<bigint>("MinBurn"),
    max_burn: get<bigint>("MaxBurn"),
    burn_half_life: get<number>("BurnHalfLife"),
    bonds_moving_avg: get<bigint>("BondsMovingAverage"),
    max_regs_per_block: get<number>("MaxRegistrationsPerBlock"),
    serving_rate_limit: get<bigint>("ServingRateLimit"),
    max_validators: get<number>("MaxAllowedValidators"),
    commit_reveal_period: get<bigint>("RevealPeriodEpochs"),
    commit_reveal_weights_enabled: get<boolean>("CommitRevealWeightsEnabled"),
    alpha_high: alphaHigh,
    alpha_low: alphaLow,
    liquid_alpha_enabled: get<boolean>("LiquidAlphaOn"),
    alpha_sigmoid_steepness: { bits: BigInt(get<number>("AlphaSigmoidSteepness")) << 32n },
    yuma_version: get<boolean>("Yuma3On") ? 3 : 2,
    subnet_is_active: get<boolean>("SubtokenEnabled"),
    // The dev chain has no transfer toggle; subtensor's default lets alpha move between coldkeys.
    transfers_enabled: true,
    bonds_reset_enabled: get<boolean>("BondsResetOn"),
    owner_cut_enabled: get<boolean>("OwnerCutEnabled"),
  };
}

function hyperparamsV2(ctx: RuntimeContext, netuid: number) {
  if (!subnetExists(ctx, netuid)) return null;
  const h = readHyperparams(ctx, netuid);
  return {
    rho: RHO,
    kappa: h.kappa,
    immunity_period: h.immunity_period,
    min_allowed_weights: h.min_allowed_weights,
    max_weights_limit: h.max_weights_limit,
    tempo: h.tempo,
    min_difficulty: POW.min_difficulty,
    max_difficulty: POW.max_difficulty,
    weights_version: h.weights_version,
    weights_rate_limit: h.weights_rate_limit,
    adjustment_interval: 100,
    activity_cutoff: h.activity_cutoff,
    registration_allowed: h.registration_allowed,
    target_regs_per_interval: h.target_regs_per_interval,
    min_burn: h.min_burn,
    max_burn: h.max_burn,
    bonds_moving_avg: h.bonds_moving_avg,
    max_regs_per_block: h.max_regs_per_block,
    serving_rate_limit: h.serving_rate_limit,
    max_validators: h.max_validators,
    adjustment_alpha: 0n,
    difficulty: POW.difficulty,
    commit_reveal_period: h.commit_reveal_period,
    commit_reveal_weights_enabled: h.commit_reveal_weights_enabled,
    alpha_high: h.alpha_high,
    alpha_low: h.alpha_low,
    liquid_alpha_enabled: h.liquid_alpha_enabled,
    alpha_sigmoid_steepness: h.alpha_sigmoid_steepness,
    yuma_version: h.yuma_version,
    subnet_is_active: h.subnet_is_active,
    transfers_enabled: h.transfers_enabled,
    bonds_reset_enabled: h.bonds_reset_enabled,
    user_liquidity_enabled: false,
  };
}

type Tagged = { tag: string; value: unknown };

function hyperparamsV3(ctx: RuntimeContext, netuid: number) {
  if (!subnetExists(ctx, netuid)) return null;
  const h = readHyperparams(ctx, netuid);
  const u16 = (value: number): Tagged => ({ tag: "U16", value });
  const u64 = (value: bigint): Tagged => ({ tag: "U64", value });
  const bool = (value: boolean): Tagged => ({ tag: "Bool", value });
  const tao = (value: bigint): Tagged => ({ tag: "TaoBalance", value });
  // Subtensor's insertion order; clients look entries up by name.
  const entries: Array<[string, Tagged]> = [
    ["kappa", u16(h.kappa)],
    ["immunity_period", u16(h.immunity_period)],
    ["min_allowed_weights", u16(h.min_allowed_weights)],
    ["max_weights_limit", u16(h.max_weights_limit)],
    ["tempo", u16(h.tempo)],
    ["weights_version", u64(h.weights_version)],
    ["weights_rate_limit", u64(h.weights_rate_limit)],
    ["activity_cutoff", u64(h.activity_cutoff)],
    ["activity_cutoff_factor", { tag: "U32", value: h.activity_cutoff_factor }],
    ["registration_allowed", bool(h.registration_allowed)],
    ["target_regs_per_interval", u16(h.target_regs_per_interval)],
    ["min_burn", tao(h.min_burn)],
    ["max_burn", tao(h.max_burn)],
    ["burn_half_life", u16(h.burn_half_life)],
    ["burn_increase_mult", { tag: "U64F64", value: { bits: BURN_INCREASE_MULT_BITS } }],
    ["bonds_moving_avg", u64(h.bonds_moving_avg)],
    ["max_regs_per_block", u16(h.max_regs_per_block)],
    ["serving_rate_limit", u64(h.serving_rate_limit)],
    ["max_validators", u16(h.max_validators)],
    ["commit_reveal_period", u64(h.commit_reveal_period)],
    ["commit_reveal_weights_enabled", bool(h.commit_reveal_weights_enabled)],
    ["alpha_high", u16(h.alpha_high)],
    ["alpha_low", u16(h.alpha_low)],
    ["liquid_alpha_enabled", bool(h.liquid_alpha_enabled)],
    ["alpha_sigmoid_steepness", { tag: "I32F32", value: h.alpha_sigmoid_steepness }],
    ["yuma_version", u16(h.yuma_version)],
    ["subnet_is_active", bool(h.subnet_is_active)],
    ["transfers_enabled", bool(h.transfers_enabled)],
    ["bonds_reset_enabled", bool(h.bonds_reset_enabled)],
    ["user_liquidity_enabled", bool(false)],
    ["owner_cut_enabled", bool(h.owner_cut_enabled)],
    // The dev chain has no owner-cut locking and no childkeys: subtensor's defaults.
    ["owner_cut_auto_lock_enabled", bool(false)],
    ["min_childkey_take", u16(0)],
  ];
  const utf8 = new TextEncoder();
  return entries.map(([name, value]) => ({ name: utf8.encode(name), value }));
}

/** The block the subnet's next epoch runs at, or None for a subnet without epochs (tempo 0). */
function nextEpochStartBlock(ctx: RuntimeContext, netuid: number): bigint | null {
  const tempo = item<number>(ctx, "Tempo").get(netuid);
  if (tempo === 0) return null;
  const auto = item<bigint>(ctx, "LastEpochBlock").get(netuid) + BigInt(tempo);
  const pending = item<bigint>(ctx, "PendingEpochAt").get(netuid);
  return pending > 0n && pending < auto ? pending : auto;
}

const NETUID_INPUT = { name: "netuid", type: NETUID };

/** Methods of SubnetInfoRuntimeApi that runtime-apis.ts adds to the trait. */
export const hyperparamsMethods: RuntimeApiMethodDef[] = [
  {
    name: "get_subnet_hyperparams_v2",
    inputs: [NETUID_INPUT],
    output: t.option(SUBNET_HYPERPARAMS_V2),
    call: (ctx, [netuid]) => hyperparamsV2(ctx, netuid as number),
  },
  {
    name: "get_subnet_hyperparams_v3",
    inputs: [NETUID_INPUT],
    output: t.option(t.vec(HYPERPARAM_ENTRY)),
    call: (ctx, [netuid]) => hyperparamsV3(ctx, netuid as number),
  },
  {
    name: "get_next_epoch_start_block",
    inputs: [NETUID_INPUT],
    output: t.option(t.u64),
    call: (ctx, [netuid]) => nextEpochStartBlock(ctx, netuid as number),
  },
];
