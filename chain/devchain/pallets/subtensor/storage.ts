/**
 * SubtensorModule storage items, with subtensor's names, key layouts, value types and defaults
 * (../shared/reference/subtensor-api.md, section 2). The dev chain's defaults are the
 * `fast-runtime` values a subtensor localnet uses where the two differ.
 */
import type { RuntimeContext, StorageDef, StorageKeyDef } from "../../pallet.js";
import { ACCOUNT_ID, H256, type Type, t } from "../../scale.js";
import {
  AXON_INFO,
  CHAIN_IDENTITY_V2,
  FIXED_I128,
  LOCK_STATE,
  NETUID,
  ROOT_CLAIM_TYPE,
  SPARSE_ROW,
  SUBNET_IDENTITY_V3,
  U64F64,
  WEIGHT_COMMIT,
} from "./types.js";

export const SUBTENSOR = "SubtensorModule";

/** A SubtensorModule storage item, read and written through the block's context. */
export const item = <V>(ctx: RuntimeContext, name: string) => ctx.storage<V>(SUBTENSOR, name);

/** The account id `Owner` and friends default to: no owner yet. */
export const ZERO_ACCOUNT = new Uint8Array(32);

/** Call arguments most calls share. */
export const ACCOUNT_ARG = { type: ACCOUNT_ID, typeName: "T::AccountId" };
export const NETUID_ARG = { name: "netuid", type: NETUID, typeName: "NetUid" };

/** Makes `coldkey` the owner of a new `hotkey`: `Owner` and the coldkey's `OwnedHotkeys` list. */
export function claimHotkey(ctx: RuntimeContext, hotkey: Uint8Array, coldkey: Uint8Array): void {
  item<Uint8Array>(ctx, "Owner").set([hotkey], coldkey);
  item<Uint8Array[]>(ctx, "OwnedHotkeys").mutate([coldkey], (list) => [...list, hotkey]);
}

export function subnetExists(ctx: RuntimeContext, netuid: number): boolean {
  return item<boolean>(ctx, "NetworksAdded").get(netuid);
}

const id = (type: Type): StorageKeyDef => ({ hasher: "Identity", type });
const b2 = (type: Type): StorageKeyDef => ({ hasher: "Blake2_128Concat", type });
const x64 = (type: Type): StorageKeyDef => ({ hasher: "Twox64Concat", type });

const perNet = (name: string, type: Type, defaultValue?: unknown, hasher = id): StorageDef => ({
  name,
  type,
  keys: [hasher(NETUID)],
  ...(defaultValue !== undefined ? { default: defaultValue } : {}),
});

const value = (name: string, type: Type, defaultValue?: unknown): StorageDef => ({
  name,
  type,
  ...(defaultValue !== undefined ? { default: defaultValue } : {}),
});

/** Defaults the dev chain uses; see the README's dev chain section for the ones that differ from prod. */
export const DEFAULTS = {
  tempo: 10,
  weightsSetRateLimit: 100n,
  kappa: 32767,
  bondsMovingAverage: 900_000n,
  bondsPenalty: 65535,
  maxAllowedUids: 256,
  minAllowedUids: 64,
  maxAllowedValidators: 128,
  immunityPeriod: 4096,
  activityCutoff: 5000,
  activityCutoffFactorMilli: 13889,
  minAllowedWeights: 1024,
  maxWeightsLimit: 65535,
  alphaValues: [45875, 58982] as [number, number],
  alphaSigmoidSteepness: 1000,
  servingRateLimit: 50n,
  targetRegistrationsPerInterval: 2,
  maxRegistrationsPerBlock: 1,
  burn: 100_000_000n,
  minBurn: 500_000n,
  maxBurn: 100_000_000_000n,
  burnHalfLife: 360,
  networkMinLockCost: 1_000_000_000_000n,
  subnetOwnerCut: 11796,
  subnetLimit: 128,
  defaultMinStake: 2_000_000n,
} as const;

export const subtensorStorage: StorageDef[] = [
  // 2.1 network and neuron identity
  perNet("NetworksAdded", t.bool),
  value("TotalNetworks", t.u16),
  perNet("SubnetworkN", t.u16),
  perNet("Tempo", t.u16, DEFAULTS.tempo),
  { name: "Uids", type: t.u16, keys: [id(NETUID), b2(ACCOUNT_ID)], query: "Optional" },
  { name: "Keys", type: ACCOUNT_ID, keys: [id(NETUID), id(t.u16)] },
  { name: "Owner", type: ACCOUNT_ID, keys: [b2(ACCOUNT_ID)] },
  perNet("SubnetOwner", ACCOUNT_ID),
  perNet("SubnetOwnerHotkey", ACCOUNT_ID),
  { name: "IsNetworkMember", type: t.bool, keys: [b2(ACCOUNT_ID), id(NETUID)] },
  { name: "Axons", type: AXON_INFO, keys: [id(NETUID), b2(ACCOUNT_ID)], query: "Optional" },
  { name: "BlockAtRegistration", type: t.u64, keys: [id(NETUID), id(t.u16)] },
  perNet("NetworkRegisteredAt", t.u64),
  { ...perNet("FirstEmissionBlockNumber", t.u64), query: "Optional" },
  perNet("SubtokenEnabled", t.bool),
  perNet("SubnetMechanism", t.u16),
  // 2.2 per-uid consensus vectors
  perNet("Active", t.vec(t.bool)),
  perNet("Consensus", t.vec(t.u16)),
  perNet("Incentive", t.vec(t.u16)),
  perNet("Dividends", t.vec(t.u16)),
  perNet("Emission", t.vec(t.u64)),
  perNet("ValidatorTrust", t.vec(t.u16)),
  perNet("ValidatorPermit", t.vec(t.bool)),
  perNet("LastUpdate", t.vec(t.u64)),
  perNet("StakeWeight", t.vec(t.u16)),
  { name: "Weights", type: SPARSE_ROW, keys: [id(NETUID), id(t.u16)] },
  { name: "Bonds", type: SPARSE_ROW, keys: [id(NETUID), id(t.u16)] },
  // 2.3 stake
  { name: "TotalHotkeyAlpha", type: t.u64, keys: [b2(ACCOUNT_ID), id(NETUID)] },
  { name: "TotalHotkeyAlphaLastEpoch", type: t.u64, keys: [b2(ACCOUNT_ID), id(NETUID)] },
  { name: "Alpha", type: U64F64, keys: [b2(ACCOUNT_ID), b2(ACCOUNT_ID), id(NETUID)] },
  { name: "TotalHotkeyShares", type: U64F64, keys: [b2(ACCOUNT_ID), id(NETUID)] },
  { name: "StakingHotkeys", type: t.vec(ACCOUNT_ID), keys: [b2(ACCOUNT_ID)] },
  { name: "AlphaDividendsPerSubnet", type: t.u64, keys: [id(NETUID), b2(ACCOUNT_ID)] },
  perNet("SubnetTAO", t.u64),
  perNet("SubnetAlphaIn", t.u64),
  perNet("SubnetAlphaOut", t.u64),
  // 2.4 epoch bookkeeping
  perNet("BlocksSinceLastStep", t.u64),
  perNet("LastMechansimStepBlock", t.u64),
  perNet("LastEpochBlock", t.u64),
  perNet("PendingEpochAt", t.u64),
  perNet("SubnetEpochIndex", t.u64),
  value("MaxEpochsPerBlock", t.u8, 32),
  perNet("PendingServerEmission", t.u64),
  perNet("PendingValidatorEmission", t.u64),
  perNet("PendingRootAlphaDivs", t.u64),
  perNet("PendingOwnerCut", t.u64),
  {
    name: "WeightCommits",
    type: t.vec(WEIGHT_COMMIT),
    keys: [x64(NETUID), x64(ACCOUNT_ID)],
    query: "Optional",
  },
  // 2.5 hyperparameters
  perNet("WeightsVersionKey", t.u64),
  perNet("WeightsSetRateLimit", t.u64, DEFAULTS.weightsSetRateLimit),
  perNet("CommitRevealWeightsEnabled", t.bool, true),
  perNet("RevealPeriodEpochs", t.u64, 1n, x64),
  value("CommitRevealWeightsVersion", t.u16, 4),
  perNet("Kappa", t.u16, DEFAULTS.kappa),
  perNet("BondsMovingAverage", t.u64, DEFAULTS.bondsMovingAverage),
  perNet("BondsPenalty", t.u16, DEFAULTS.bondsPenalty),
  perNet("BondsResetOn", t.bool),
  perNet("MaxAllowedUids", t.u16, DEFAULTS.maxAllowedUids),
  perNet("MinAllowedUids", t.u16, DEFAULTS.minAllowedUids),
  perNet("MaxAllowedValidators", t.u16, DEFAULTS.maxAllowedValidators),
  perNet("ImmunityPeriod", t.u16, DEFAULTS.immunityPeriod),
  perNet("ActivityCutoff", t.u16, DEFAULTS.activityCutoff),
  perNet("ActivityCutoffFactorMilli", t.u32, DEFAULTS.activityCutoffFactorMilli),
  value("MinActivityCutoff", t.u16, 360),
  perNet("MinAllowedWeights", t.u16, DEFAULTS.minAllowedWeights),
  perNet("MaxWeightsLimit", t.u16, DEFAULTS.maxWeightsLimit),
  perNet("LiquidAlphaOn", t.bool, false, b2),
  perNet("AlphaValues", t.tuple(t.u16, t.u16), DEFAULTS.alphaValues),
  perNet("AlphaSigmoidSteepness", t.i16, DEFAULTS.alphaSigmoidSteepness),
  perNet("Yuma3On", t.bool, false, b2),
  perNet("ServingRateLimit", t.u64, DEFAULTS.servingRateLimit),
  perNet("TargetRegistrationsPerInterval", t.u16, DEFAULTS.targetRegistrationsPerInterval),
  perNet("MaxRegistrationsPerBlock", t.u16, DEFAULTS.maxRegistrationsPerBlock),
  perNet("NetworkRegistrationAllowed", t.bool, true),
  perNet("Burn", t.u64, DEFAULTS.burn),
  perNet("MinBurn", t.u64, DEFAULTS.minBurn),
  perNet("MaxBurn", t.u64, DEFAULTS.maxBurn),
  perNet("BurnHalfLife", t.u16, DEFAULTS.burnHalfLife),
  value("NetworkRateLimit", t.u64, 7200n),
  value("NetworkLastRegistered", t.u64),
  value("StakeThreshold", t.u64),
  value("SubnetOwnerCut", t.u16, DEFAULTS.subnetOwnerCut),
  perNet("OwnerCutEnabled", t.bool, true),
  perNet("SubnetEmissionEnabled", t.bool, true),
  perNet("ImmuneOwnerUidsLimit", t.u16, 1),
  value("AdminFreezeWindow", t.u16, 10),
  value("OwnerHyperparamRateLimit", t.u16, 2),
  value("StartCallDelay", t.u64),
  value("NetworkMinLockCost", t.u64, DEFAULTS.networkMinLockCost),
  value("SubnetLimit", t.u16, DEFAULTS.subnetLimit),
  // Read by btcli for display. The dev chain has one mechanism per subnet, no TAO flow and no
  // moving price of its own, so these keep the values a fresh subnet has.
  perNet("MechanismCountCurrent", t.u8, 1, x64),
  { ...perNet("MechanismEmissionSplit", t.vec(t.u16), undefined, x64), query: "Optional" },
  { ...perNet("SubnetEmaTaoFlow", t.tuple(t.u64, FIXED_I128)), query: "Optional" },
  perNet("TokenSymbol", t.vec(t.u8), new TextEncoder().encode("\u{1d70f}")),
  { ...perNet("SubnetIdentitiesV3", SUBNET_IDENTITY_V3, undefined, b2), query: "Optional" },
  perNet("SubnetMovingPrice", FIXED_I128),
  perNet("SubnetVolume", t.u128),
  { name: "IdentitiesV2", type: CHAIN_IDENTITY_V2, keys: [b2(ACCOUNT_ID)], query: "Optional" },
  // Conviction locks: btcli shows them; the dev chain has no locking calls, so they stay empty.
  { name: "HotkeyLock", type: LOCK_STATE, keys: [id(NETUID), b2(ACCOUNT_ID)], query: "Optional" },
  { name: "DecayingHotkeyLock", type: LOCK_STATE, keys: [id(NETUID), b2(ACCOUNT_ID)], query: "Optional" },
  { ...perNet("OwnerLock", LOCK_STATE), query: "Optional" },
  { ...perNet("DecayingOwnerLock", LOCK_STATE), query: "Optional" },
  { name: "OwnedHotkeys", type: t.vec(ACCOUNT_ID), keys: [b2(ACCOUNT_ID)] },
  { name: "Delegates", type: t.u16, keys: [b2(ACCOUNT_ID)], default: DEFAULTS.subnetOwnerCut },
  { name: "ChildKeys", type: t.vec(t.tuple(t.u64, ACCOUNT_ID)), keys: [b2(ACCOUNT_ID), id(NETUID)] },
  { name: "ChildkeyTake", type: t.u16, keys: [b2(ACCOUNT_ID), id(NETUID)] },
  {
    name: "AutoStakeDestination",
    type: ACCOUNT_ID,
    keys: [b2(ACCOUNT_ID), id(NETUID)],
    query: "Optional",
  },
  { name: "RootClaimable", type: t.vec(t.tuple(NETUID, FIXED_I128)), keys: [b2(ACCOUNT_ID)] },
  { name: "RootClaimed", type: t.u128, keys: [id(NETUID), b2(ACCOUNT_ID), b2(ACCOUNT_ID)] },
  {
    name: "Lock",
    type: LOCK_STATE,
    keys: [b2(ACCOUNT_ID), id(NETUID), b2(ACCOUNT_ID)],
    query: "Optional",
  },
  { name: "DecayingLock", type: t.bool, keys: [b2(ACCOUNT_ID), id(NETUID)], query: "Optional" },
  value("UnlockRate", t.u64, 934_866n),
  value("MaturityRate", t.u64, 934_866n),
  {
    name: "ColdkeySwapAnnouncements",
    type: t.tuple(t.u32, H256),
    keys: [x64(ACCOUNT_ID)],
    query: "Optional",
  },
  { name: "ColdkeySwapDisputes", type: t.u32, keys: [x64(ACCOUNT_ID)], query: "Optional" },
  value("ColdkeySwapAnnouncementDelay", t.u32, 50),
  value("ColdkeySwapReannouncementDelay", t.u32, 10),
  { name: "RootClaimType", type: ROOT_CLAIM_TYPE, keys: [b2(ACCOUNT_ID)], default: { tag: "Swap" } },
];
