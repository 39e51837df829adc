/**
 * Subtensor's runtime APIs (`pallets/subtensor/runtime-api/src/lib.rs`) that the bittensor SDK and
 * btcli read the metagraph and the subnet list through: NeuronInfoRuntimeApi, SubnetInfoRuntimeApi
 * (get_subnet_state, get_dynamic_info, get_all_dynamic_info, the metagraphs; its hyperparameter
 * views are in hyperparams-api.ts) and the Swap pallet's SwapRuntimeApi; StakeInfoRuntimeApi and
 * DelegateInfoRuntimeApi are in stake-info-api.ts.
 * Struct layouts and field names follow `rpc_info/neuron_info.rs`, `rpc_info/show_subnet.rs`,
 * `rpc_info/dynamic_info.rs` and `pallets/swap/runtime-api/src/lib.rs`;
 * the SDK decodes them by field name through metadata V15, so names are exact.
 */
import type { RuntimeApiDef, RuntimeContext } from "../../pallet.js";
import { ACCOUNT_ID, type Type, t } from "../../scale.js";
import { hyperparamsMethods } from "./hyperparams-api.js";
import { stakeInfoRuntimeApis } from "./stake-info-api.js";
import { item, subnetExists } from "./storage.js";
import {
  AXON_INFO,
  type AxonInfoValue,
  CHAIN_IDENTITY_V2,
  FIXED_I128,
  NETUID,
  SUBNET_IDENTITY_V3,
} from "./types.js";

const cu16 = t.compact(t.u16);
const cu64 = t.compact(t.u64);
const ACCOUNT_PARAM = [{ name: "AccountId", type: ACCOUNT_ID }];

/** Subtensor keeps no Prometheus entries on the dev chain, so every neuron reports this default. */
export const PROMETHEUS_INFO: Type = t.struct(["pallet_subtensor", "pallet", "PrometheusInfo"], {
  block: t.u64,
  version: t.u32,
  ip: t.u128,
  port: t.u16,
  ip_type: t.u8,
});

const NEURON_HEAD = {
  hotkey: ACCOUNT_ID,
  coldkey: ACCOUNT_ID,
  uid: cu16,
  netuid: cu16,
  active: t.bool,
  axon_info: AXON_INFO,
  prometheus_info: PROMETHEUS_INFO,
  stake: t.vec(t.tuple(ACCOUNT_ID, cu64)),
  rank: cu16,
  emission: cu64,
  incentive: cu16,
  consensus: cu16,
  trust: cu16,
  validator_trust: cu16,
  dividends: cu16,
  last_update: cu64,
  validator_permit: t.bool,
};

export const NEURON_INFO_LITE: Type = t.struct(
  ["pallet_subtensor", "rpc_info", "neuron_info", "NeuronInfoLite"],
  { ...NEURON_HEAD, pruning_score: cu16 },
  ACCOUNT_PARAM,
);

export const NEURON_INFO: Type = t.struct(
  ["pallet_subtensor", "rpc_info", "neuron_info", "NeuronInfo"],
  {
    ...NEURON_HEAD,
    weights: t.vec(t.tuple(cu16, cu16)),
    bonds: t.vec(t.tuple(cu16, cu16)),
    pruning_score: cu16,
  },
  ACCOUNT_PARAM,
);

export const SUBNET_STATE: Type = t.struct(
  ["pallet_subtensor", "rpc_info", "show_subnet", "SubnetState"],
  {
    netuid: cu16,
    hotkeys: t.vec(ACCOUNT_ID),
    coldkeys: t.vec(ACCOUNT_ID),
    active: t.vec(t.bool),
    validator_permit: t.vec(t.bool),
    pruning_score: t.vec(cu16),
    last_update: t.vec(cu64),
    emission: t.vec(cu64),
    dividends: t.vec(cu16),
    incentives: t.vec(cu16),
    consensus: t.vec(cu16),
    trust: t.vec(cu16),
    rank: t.vec(cu16),
    block_at_registration: t.vec(cu64),
    alpha_stake: t.vec(cu64),
    tao_stake: t.vec(cu64),
    total_stake: t.vec(cu64),
    emission_history: t.vec(t.vec(cu64)),
  },
  ACCOUNT_PARAM,
);

export const DYNAMIC_INFO: Type = t.struct(
  ["pallet_subtensor", "rpc_info", "dynamic_info", "DynamicInfo"],
  {
    netuid: cu16,
    owner_hotkey: ACCOUNT_ID,
    owner_coldkey: ACCOUNT_ID,
    subnet_name: t.vec(t.compact(t.u8)),
    token_symbol: t.vec(t.compact(t.u8)),
    tempo: cu16,
    last_step: cu64,
    blocks_since_last_step: cu64,
    emission: cu64,
    alpha_in: cu64,
    alpha_out: cu64,
    tao_in: cu64,
    alpha_out_emission: cu64,
    alpha_in_emission: cu64,
    tao_in_emission: cu64,
    pending_alpha_emission: cu64,
    pending_root_emission: cu64,
    subnet_volume: t.compact(t.u128),
    network_registered_at: cu64,
    subnet_identity: t.option(SUBNET_IDENTITY_V3),
    moving_price: FIXED_I128,
  },
  ACCOUNT_PARAM,
);

const SUBNET_PRICE: Type = t.struct(["pallet_subtensor_swap_runtime_api", "SubnetPrice"], {
  netuid: NETUID,
  price: t.u64,
});

const SIM_SWAP_RESULT: Type = t.struct(["pallet_subtensor_swap_runtime_api", "SimSwapResult"], {
  tao_amount: t.u64,
  alpha_amount: t.u64,
  tao_fee: t.u64,
  alpha_fee: t.u64,
  tao_slippage: t.u64,
  alpha_slippage: t.u64,
});

/** The dev chain converts stake 1:1, so one alpha always costs one TAO (10^9 rao). */
const ALPHA_PRICE_RAO = 1_000_000_000n;

/** I96F32 1.0: the moving price of a subnet whose price never leaves 1. */
const ONE_I96F32 = { bits: 1n << 32n };

/** Subtensor's default token symbols for the first netuids (`subnets/symbols.rs`): Τ, then α…ω. */
const SYMBOLS = [
  "\u03a4",
  ..."\u03b1\u03b2\u03b3\u03b4\u03b5\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc\u03bd\u03be\u03bf\u03c0\u03c1\u03c3t\u03c5\u03c6\u03c7\u03c8\u03c9",
];

const utf8 = (text: string) => [...new TextEncoder().encode(text)];

function subnetNetuids(ctx: RuntimeContext): number[] {
  return item<boolean>(ctx, "NetworksAdded")
    .entries()
    .filter(([, added]) => added)
    .map(([keys]) => Number(keys[0]))
    .sort((a, b) => a - b);
}

function dynamicInfo(ctx: RuntimeContext, netuid: number) {
  if (!subnetExists(ctx, netuid)) return null;
  const perNet = <V>(name: string) => item<V>(ctx, name).get(netuid);
  const identity = perNet<{ subnet_name: Uint8Array } | undefined>("SubnetIdentitiesV3");
  const name = identity?.subnet_name.length
    ? [...identity.subnet_name]
    : utf8(netuid === 0 ? "root" : `subnet ${netuid}`);
  const symbol = item(ctx, "TokenSymbol").has(netuid)
    ? [...perNet<Uint8Array>("TokenSymbol")]
    : utf8(SYMBOLS[netuid] ?? "\u{1d70f}");
  const lastStep = perNet<bigint>("LastMechansimStepBlock");
  const now = BigInt(ctx.blockNumber);
  return {
    netuid,
    owner_hotkey: perNet<Uint8Array>("SubnetOwnerHotkey"),
    owner_coldkey: perNet<Uint8Array>("SubnetOwner"),
    subnet_name: name,
    token_symbol: symbol,
    tempo: perNet<number>("Tempo"),
    last_step: lastStep,
    blocks_since_last_step: now > lastStep ? now - lastStep : 0n,
    emission: 0n,
    alpha_in: perNet<bigint>("SubnetAlphaIn"),
    alpha_out: perNet<bigint>("SubnetAlphaOut"),
    tao_in: perNet<bigint>("SubnetTAO"),
    alpha_out_emission: 0n,
    alpha_in_emission: 0n,
    tao_in_emission: 0n,
    pending_alpha_emission:
      perNet<bigint>("PendingValidatorEmission") + perNet<bigint>("PendingServerEmission"),
    pending_root_emission: 0n,
    subnet_volume: perNet<bigint>("SubnetVolume"),
    network_registered_at: perNet<bigint>("NetworkRegisteredAt"),
    subnet_identity: identity ?? null,
    moving_price: ONE_I96F32,
  };
}

/** A swap at the dev chain's fixed 1:1 price: no fee, no slippage. */
function simSwap(amount: bigint) {
  return {
    tao_amount: amount,
    alpha_amount: amount,
    tao_fee: 0n,
    alpha_fee: 0n,
    tao_slippage: 0n,
    alpha_slippage: 0n,
  };
}

const EMPTY_AXON: AxonInfoValue = {
  block: 0n,
  version: 0,
  ip: 0n,
  port: 0,
  ip_type: 0,
  protocol: 0,
  placeholder1: 0,
  placeholder2: 0,
};
const EMPTY_PROMETHEUS = { block: 0n, version: 0, ip: 0n, port: 0, ip_type: 0 };

/** Subtensor no longer computes rank, trust and pruning score; its runtime API reports these. */
const DEPRECATED = { rank: 0, trust: 0, pruning_score: 0xffff };

function at<V>(list: readonly V[], uid: number, fallback: V): V {
  return uid < list.length ? (list[uid] as V) : fallback;
}

/** Reads the per-uid vectors of a subnet once, for many neurons. */
function subnetVectors(ctx: RuntimeContext, netuid: number) {
  const vec = <V>(name: string) => item<V[]>(ctx, name).get(netuid);
  return {
    active: vec<boolean>("Active"),
    emission: vec<bigint>("Emission"),
    incentive: vec<number>("Incentive"),
    consensus: vec<number>("Consensus"),
    validatorTrust: vec<number>("ValidatorTrust"),
    dividends: vec<number>("Dividends"),
    lastUpdate: vec<bigint>("LastUpdate"),
    validatorPermit: vec<boolean>("ValidatorPermit"),
  };
}

type Vectors = ReturnType<typeof subnetVectors>;

function neuron(ctx: RuntimeContext, netuid: number, uid: number, v: Vectors, full: boolean) {
  const hotkey = item<Uint8Array>(ctx, "Keys").get(netuid, uid);
  const coldkey = item<Uint8Array>(ctx, "Owner").get(hotkey);
  const sparse = (name: string) =>
    item<Array<[number, number]>>(ctx, name)
      .get(netuid, uid)
      .filter(([, w]) => w > 0);
  return {
    hotkey,
    coldkey,
    uid,
    netuid,
    active: at(v.active, uid, false),
    axon_info: item<AxonInfoValue | undefined>(ctx, "Axons").get(netuid, hotkey) ?? EMPTY_AXON,
    prometheus_info: EMPTY_PROMETHEUS,
    stake: [[coldkey, item<bigint>(ctx, "TotalHotkeyAlpha").get(hotkey, netuid)]],
    emission: at(v.emission, uid, 0n),
    incentive: at(v.incentive, uid, 0),
    consensus: at(v.consensus, uid, 0),
    validator_trust: at(v.validatorTrust, uid, 0),
    dividends: at(v.dividends, uid, 0),
    last_update: at(v.lastUpdate, uid, 0n),
    validator_permit: at(v.validatorPermit, uid, false),
    ...DEPRECATED,
    ...(full ? { weights: sparse("Weights"), bonds: sparse("Bonds") } : {}),
  };
}

function neurons(ctx: RuntimeContext, netuid: number, full: boolean) {
  if (!subnetExists(ctx, netuid)) return [];
  const n = item<number>(ctx, "SubnetworkN").get(netuid);
  const v = subnetVectors(ctx, netuid);
  return Array.from({ length: n }, (_, uid) => neuron(ctx, netuid, uid, v, full));
}

function oneNeuron(ctx: RuntimeContext, netuid: number, uid: number, full: boolean) {
  if (!subnetExists(ctx, netuid) || uid >= item<number>(ctx, "SubnetworkN").get(netuid)) return null;
  return neuron(ctx, netuid, uid, subnetVectors(ctx, netuid), full);
}

function subnetState(ctx: RuntimeContext, netuid: number) {
  if (!subnetExists(ctx, netuid)) return null;
  const n = item<number>(ctx, "SubnetworkN").get(netuid);
  const v = subnetVectors(ctx, netuid);
  const uids = Array.from({ length: n }, (_, uid) => uid);
  const hotkeys = uids.map((uid) => item<Uint8Array>(ctx, "Keys").get(netuid, uid));
  const alpha = hotkeys.map((h) => item<bigint>(ctx, "TotalHotkeyAlpha").get(h, netuid));
  // The dev chain has no root stake, so the TAO side is zero and total stake is the alpha stake.
  const subnets = subnetNetuids(ctx);
  return {
    netuid,
    hotkeys,
    coldkeys: hotkeys.map((h) => item<Uint8Array>(ctx, "Owner").get(h)),
    active: v.active,
    validator_permit: v.validatorPermit,
    pruning_score: [],
    last_update: v.lastUpdate,
    emission: v.emission,
    dividends: v.dividends,
    incentives: v.incentive,
    consensus: v.consensus,
    trust: [],
    rank: [],
    block_at_registration: uids.map((uid) => item<bigint>(ctx, "BlockAtRegistration").get(netuid, uid)),
    alpha_stake: alpha,
    tao_stake: alpha.map(() => 0n),
    total_stake: alpha,
    // Subtensor reports each hotkey's last emission on every subnet; the dev chain keeps none.
    emission_history: subnets.map(() => hotkeys.map(() => 0n)),
  };
}

/** `rpc_info/metagraph.rs`'s Metagraph fields in SCALE order; SelectiveMetagraph indexes follow it. */
const METAGRAPH_FIELDS: Array<[string, Type]> = [
  ["netuid", cu16],
  ["name", t.vec(t.compact(t.u8))],
  ["symbol", t.vec(t.compact(t.u8))],
  ["identity", t.option(SUBNET_IDENTITY_V3)],
  ["network_registered_at", cu64],
  ["owner_hotkey", ACCOUNT_ID],
  ["owner_coldkey", ACCOUNT_ID],
  ["block", cu64],
  ["tempo", cu16],
  ["last_step", cu64],
  ["blocks_since_last_step", cu64],
  ["subnet_emission", cu64],
  ["alpha_in", cu64],
  ["alpha_out", cu64],
  ["tao_in", cu64],
  ["alpha_out_emission", cu64],
  ["alpha_in_emission", cu64],
  ["tao_in_emission", cu64],
  ["pending_alpha_emission", cu64],
  ["pending_root_emission", cu64],
  ["subnet_volume", t.compact(t.u128)],
  ["moving_price", FIXED_I128],
  ["rho", cu16],
  ["kappa", cu16],
  ["min_allowed_weights", cu16],
  ["max_weights_limit", cu16],
  ["weights_version", cu64],
  ["weights_rate_limit", cu64],
  ["activity_cutoff", cu64],
  ["max_validators", cu16],
  ["num_uids", cu16],
  ["max_uids", cu16],
  ["burn", cu64],
  ["difficulty", cu64],
  ["registration_allowed", t.bool],
  ["pow_registration_allowed", t.bool],
  ["immunity_period", cu16],
  ["min_difficulty", cu64],
  ["max_difficulty", cu64],
  ["min_burn", cu64],
  ["max_burn", cu64],
  ["adjustment_alpha", cu64],
  ["adjustment_interval", cu16],
  ["target_regs_per_interval", cu16],
  ["max_regs_per_block", cu16],
  ["serving_rate_limit", cu64],
  ["commit_reveal_weights_enabled", t.bool],
  ["commit_reveal_period", cu64],
  ["liquid_alpha_enabled", t.bool],
  ["alpha_high", cu16],
  ["alpha_low", cu16],
  ["bonds_moving_avg", cu64],
  ["hotkeys", t.vec(ACCOUNT_ID)],
  ["coldkeys", t.vec(ACCOUNT_ID)],
  ["identities", t.vec(t.option(CHAIN_IDENTITY_V2))],
  ["axons", t.vec(AXON_INFO)],
  ["active", t.vec(t.bool)],
  ["validator_permit", t.vec(t.bool)],
  ["pruning_score", t.vec(cu16)],
  ["last_update", t.vec(cu64)],
  ["emission", t.vec(cu64)],
  ["dividends", t.vec(cu16)],
  ["incentives", t.vec(cu16)],
  ["consensus", t.vec(cu16)],
  ["trust", t.vec(cu16)],
  ["rank", t.vec(cu16)],
  ["block_at_registration", t.vec(cu64)],
  ["alpha_stake", t.vec(cu64)],
  ["tao_stake", t.vec(cu64)],
  ["total_stake", t.vec(cu64)],
  ["tao_dividends_per_hotkey", t.vec(t.tuple(ACCOUNT_ID, cu64))],
  ["alpha_dividends_per_hotkey", t.vec(t.tuple(ACCOUNT_ID, cu64))],
];

/** Fields only SelectiveMetagraph has, after the Metagraph ones. */
const SELECTIVE_EXTRA: Array<[string, Type]> = [
  ["validators", t.vec(cu16)],
  ["commitments", t.vec(t.tuple(ACCOUNT_ID, t.vec(t.compact(t.u8))))],
];

export const METAGRAPH: Type = t.struct(
  ["pallet_subtensor", "rpc_info", "metagraph", "Metagraph"],
  Object.fromEntries(METAGRAPH_FIELDS),
  ACCOUNT_PARAM,
);

export const SELECTIVE_METAGRAPH: Type = t.struct(
  ["pallet_subtensor", "rpc_info", "metagraph", "SelectiveMetagraph"],
  Object.fromEntries(
    [...METAGRAPH_FIELDS, ...SELECTIVE_EXTRA].map(([name, type], i) => [
      name,
      i === 0 ? type : t.option(type),
    ]),
  ),
  ACCOUNT_PARAM,
);

/** Subtensor's runtime constants for the proof-of-work fields the dev chain has no use for. */
const POW = { difficulty: 10_000_000n, min_difficulty: 10_000_000n, max_difficulty: (1n << 62n) - 1n };

function metagraph(ctx: RuntimeContext, netuid: number, mecid = 0): Record<string, unknown> | null {
  const info = dynamicInfo(ctx, netuid);
  const state = subnetState(ctx, netuid);
  // The dev chain runs one mechanism per subnet (MechanismCountCurrent is 1).
  if (!info || !state || mecid !== 0) return null;
  const perNet = <V>(name: string) => item<V>(ctx, name).get(netuid);
  const tempo = perNet<number>("Tempo");
  const [alphaLow, alphaHigh] = perNet<[number, number]>("AlphaValues");
  const hotkeys = state.hotkeys;
  return {
    netuid,
    name: info.subnet_name,
    symbol: info.token_symbol,
    identity: info.subnet_identity,
    network_registered_at: info.network_registered_at,
    owner_hotkey: info.owner_hotkey,
    owner_coldkey: info.owner_coldkey,
    block: BigInt(ctx.blockNumber),
    tempo,
    last_step: info.last_step,
    blocks_since_last_step: info.blocks_since_last_step,
    subnet_emission: 0n,
    alpha_in: info.alpha_in,
    alpha_out: info.alpha_out,
    tao_in: info.tao_in,
    alpha_out_emission: 0n,
    alpha_in_emission: 0n,
    tao_in_emission: 0n,
    pending_alpha_emission: info.pending_alpha_emission,
    pending_root_emission: 0n,
    subnet_volume: info.subnet_volume,
    moving_price: info.moving_price,
    rho: 10,
    kappa: perNet<number>("Kappa"),
    min_allowed_weights: perNet<number>("MinAllowedWeights"),
    max_weights_limit: perNet<number>("MaxWeightsLimit"),
    weights_version: perNet<bigint>("WeightsVersionKey"),
    weights_rate_limit: perNet<bigint>("WeightsSetRateLimit"),
    activity_cutoff: BigInt(
      Math.max(1, Math.floor((perNet<number>("ActivityCutoffFactorMilli") * tempo) / 1000)),
    ),
    max_validators: perNet<number>("MaxAllowedValidators"),
    num_uids: hotkeys.length,
    max_uids: perNet<number>("MaxAllowedUids"),
    burn: perNet<bigint>("Burn"),
    ...POW,
    registration_allowed: perNet<boolean>("NetworkRegistrationAllowed"),
    pow_registration_allowed: false,
    immunity_period: perNet<number>("ImmunityPeriod"),
    min_burn: perNet<bigint>("MinBurn"),
    max_burn: perNet<bigint>("MaxBurn"),
    adjustment_alpha: 0n,
    adjustment_interval: 100,
    target_regs_per_interval: perNet<number>("TargetRegistrationsPerInterval"),
    max_regs_per_block: perNet<number>("MaxRegistrationsPerBlock"),
    serving_rate_limit: perNet<bigint>("ServingRateLimit"),
    commit_reveal_weights_enabled: perNet<boolean>("CommitRevealWeightsEnabled"),
    commit_reveal_period: perNet<bigint>("RevealPeriodEpochs"),
    liquid_alpha_enabled: perNet<boolean>("LiquidAlphaOn"),
    alpha_high: alphaHigh,
    alpha_low: alphaLow,
    bonds_moving_avg: perNet<bigint>("BondsMovingAverage"),
    hotkeys,
    coldkeys: state.coldkeys,
    identities: state.coldkeys.map((c) => item(ctx, "IdentitiesV2").get(c) ?? null),
    axons: hotkeys.map((h) => item<AxonInfoValue | undefined>(ctx, "Axons").get(netuid, h) ?? EMPTY_AXON),
    active: state.active,
    validator_permit: state.validator_permit,
    pruning_score: state.pruning_score,
    last_update: state.last_update,
    emission: state.emission,
    dividends: state.dividends,
    incentives: state.incentives,
    consensus: state.consensus,
    trust: state.trust,
    rank: state.rank,
    block_at_registration: state.block_at_registration,
    alpha_stake: state.alpha_stake,
    tao_stake: state.tao_stake,
    total_stake: state.total_stake,
    tao_dividends_per_hotkey: hotkeys.map((h) => [h, 0n]),
    alpha_dividends_per_hotkey: hotkeys.map((h) => [
      h,
      item<bigint>(ctx, "AlphaDividendsPerSubnet").get(netuid, h),
    ]),
  };
}

function selectiveMetagraph(ctx: RuntimeContext, netuid: number, mecid: number, indexes: readonly number[]) {
  const full = metagraph(ctx, netuid, mecid);
  if (!full) return null;
  const permits = full.validator_permit as boolean[];
  const extra: Record<string, unknown> = {
    validators: permits.flatMap((p, uid) => (p ? [uid] : [])),
    // Commitments live in the Commitments pallet on the dev chain; this view does not join them yet.
    commitments: [],
  };
  const wanted = new Set(indexes);
  // An unset identity answers None even when asked for (subtensor answers Some(None)); the SDK
  // reads both as "no identity".
  return Object.fromEntries(
    [...METAGRAPH_FIELDS, ...SELECTIVE_EXTRA].map(([name], i) => [
      name,
      i === 0 ? netuid : wanted.has(i) ? (name in full ? full[name] : extra[name]) : null,
    ]),
  );
}

const NETUID_INPUT = { name: "netuid", type: NETUID };
const MECID_INPUT = { name: "mecid", type: t.u8 };
const INDEXES_INPUT = { name: "metagraph_indexes", type: t.vec(t.u16) };
const UID_INPUT = { name: "uid", type: t.u16 };

/** The runtime APIs the SubtensorModule pallet declares and answers. */
export const subtensorRuntimeApis: RuntimeApiDef[] = [
  {
    name: "NeuronInfoRuntimeApi",
    version: 1,
    methods: [
      {
        name: "get_neurons",
        inputs: [NETUID_INPUT],
        output: t.vec(NEURON_INFO),
        call: (ctx, [netuid]) => neurons(ctx, netuid as number, true),
      },
      {
        name: "get_neuron",
        inputs: [NETUID_INPUT, UID_INPUT],
        output: t.option(NEURON_INFO),
        call: (ctx, [netuid, uid]) => oneNeuron(ctx, netuid as number, uid as number, true),
      },
      {
        name: "get_neurons_lite",
        inputs: [NETUID_INPUT],
        output: t.vec(NEURON_INFO_LITE),
        call: (ctx, [netuid]) => neurons(ctx, netuid as number, false),
      },
      {
        name: "get_neuron_lite",
        inputs: [NETUID_INPUT, UID_INPUT],
        output: t.option(NEURON_INFO_LITE),
        call: (ctx, [netuid, uid]) => oneNeuron(ctx, netuid as number, uid as number, false),
      },
    ],
  },
  {
    name: "SubnetInfoRuntimeApi",
    version: 2,
    methods: [
      {
        name: "get_subnet_state",
        inputs: [NETUID_INPUT],
        output: t.option(SUBNET_STATE),
        call: (ctx, [netuid]) => subnetState(ctx, netuid as number),
      },
      {
        name: "get_metagraph",
        inputs: [NETUID_INPUT],
        output: t.option(METAGRAPH),
        call: (ctx, [netuid]) => metagraph(ctx, netuid as number),
      },
      {
        name: "get_all_metagraphs",
        inputs: [],
        output: t.vec(t.option(METAGRAPH)),
        call: (ctx) => subnetNetuids(ctx).map((netuid) => metagraph(ctx, netuid)),
      },
      {
        name: "get_mechagraph",
        inputs: [NETUID_INPUT, MECID_INPUT],
        output: t.option(METAGRAPH),
        call: (ctx, [netuid, mecid]) => metagraph(ctx, netuid as number, mecid as number),
      },
      {
        name: "get_all_mechagraphs",
        inputs: [],
        output: t.vec(t.option(METAGRAPH)),
        call: (ctx) => subnetNetuids(ctx).map((netuid) => metagraph(ctx, netuid)),
      },
      {
        name: "get_selective_metagraph",
        inputs: [NETUID_INPUT, INDEXES_INPUT],
        output: t.option(SELECTIVE_METAGRAPH),
        call: (ctx, [netuid, indexes]) => selectiveMetagraph(ctx, netuid as number, 0, indexes as number[]),
      },
      {
        name: "get_selective_mechagraph",
        inputs: [NETUID_INPUT, MECID_INPUT, INDEXES_INPUT],
        output: t.option(SELECTIVE_METAGRAPH),
        call: (ctx, [netuid, mecid, indexes]) =>
          selectiveMetagraph(ctx, netuid as number, mecid as number, indexes as number[]),
      },
      {
        name: "get_dynamic_info",
        inputs: [NETUID_INPUT],
        output: t.option(DYNAMIC_INFO),
        call: (ctx, [netuid]) => dynamicInfo(ctx, netuid as number),
      },
      {
        name: "get_all_dynamic_info",
        inputs: [],
        output: t.vec(t.option(DYNAMIC_INFO)),
        call: (ctx) => subnetNetuids(ctx).map((netuid) => dynamicInfo(ctx, netuid)),
      },
      ...hyperparamsMethods,
    ],
  },
  ...stakeInfoRuntimeApis,
  {
    name: "SubnetRegistrationRuntimeApi",
    version: 1,
    methods: [
      {
        name: "get_network_registration_cost",
        inputs: [],
        output: t.u64,
        // The dev chain's lock cost stays at its minimum (no doubling after a registration).
        call: (ctx) => item<bigint>(ctx, "NetworkMinLockCost").get(),
      },
    ],
  },
  {
    name: "SwapRuntimeApi",
    version: 1,
    methods: [
      {
        name: "current_alpha_price",
        inputs: [NETUID_INPUT],
        output: t.u64,
        call: () => ALPHA_PRICE_RAO,
      },
      {
        name: "current_alpha_price_all",
        inputs: [],
        output: t.vec(SUBNET_PRICE),
        call: (ctx) => subnetNetuids(ctx).map((netuid) => ({ netuid, price: ALPHA_PRICE_RAO })),
      },
      {
        name: "sim_swap_tao_for_alpha",
        inputs: [NETUID_INPUT, { name: "tao", type: t.u64 }],
        output: SIM_SWAP_RESULT,
        call: (_ctx, [, tao]) => simSwap(tao as bigint),
      },
      {
        name: "sim_swap_alpha_for_tao",
        inputs: [NETUID_INPUT, { name: "alpha", type: t.u64 }],
        output: SIM_SWAP_RESULT,
        call: (_ctx, [, alpha]) => simSwap(alpha as bigint),
      },
    ],
  },
];
