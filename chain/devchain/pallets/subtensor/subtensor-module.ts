/**
 * The dev chain's `SubtensorModule` (pallet index 7): subnets, registration, axons, stake,
 * weights (direct and commit-reveal), per-block emission and the Yuma epoch, with subtensor's
 * call, storage, event and error names and argument shapes
 * (../shared/reference/subtensor-api.md, sections 1, 2, 6, 7 and 8).
 *
 * Simplifications, each documented in the README's dev chain section: stake converts 1:1 (no
 * pool pricing), there is no root network emission split, registration limits per block and
 * owner hyperparameter rate limits are not enforced.
 */

import { u8aEq } from "@polkadot/util";
import { blake2AsU8a } from "@polkadot/util-crypto";
import {
  activityCutoffBlocks,
  type EpochOutput,
  type Row,
  runEpoch,
  type SparseRow,
  unpackRow,
} from "../../../yuma/epoch.js";
import { isViewStorageHandle } from "../../executive.js";
import {
  type CallDef,
  type DispatchContext,
  DispatchError,
  type ErrorDef,
  type EventDef,
  ensureSigned,
  InvalidTransaction,
  type PalletDef,
  type RuntimeContext,
} from "../../pallet.js";
import { ACCOUNT_ID, encode, H256, t } from "../../scale.js";
import { deposit, freeBalance, withdraw } from "../balances.js";
import { decodePackedRow, encodePackedRow } from "./packed-row.js";
import { creditStake, debitStake, payToHotkey, stakeOf } from "./stake.js";
import { DEFAULTS, subtensorStorage } from "./storage.js";
import { type AxonInfoValue, NETUID } from "./types.js";

export const SUBTENSOR = "SubtensorModule";

const acct = { type: ACCOUNT_ID, typeName: "T::AccountId" };
const netuidArg = { name: "netuid", type: NETUID, typeName: "NetUid" };

export const subtensorEvents: EventDef[] = [
  { name: "NetworkAdded", index: 0, fields: [NETUID, t.u16] },
  { name: "NetworkRemoved", index: 1, fields: [NETUID] },
  { name: "StakeAdded", index: 2, fields: [ACCOUNT_ID, ACCOUNT_ID, t.u64, t.u64, NETUID, t.u64] },
  { name: "StakeRemoved", index: 3, fields: [ACCOUNT_ID, ACCOUNT_ID, t.u64, t.u64, NETUID, t.u64] },
  { name: "WeightsSet", index: 5, fields: [NETUID, t.u16] },
  { name: "NeuronRegistered", index: 6, fields: [NETUID, t.u16, ACCOUNT_ID] },
  { name: "MaxAllowedUidsSet", index: 9, fields: [NETUID, t.u16] },
  { name: "RegistrationPerIntervalSet", index: 13, fields: [NETUID, t.u16] },
  { name: "MaxRegistrationsPerBlockSet", index: 14, fields: [NETUID, t.u16] },
  { name: "ActivityCutoffSet", index: 15, fields: [NETUID, t.u16] },
  { name: "KappaSet", index: 18, fields: [NETUID, t.u16] },
  { name: "MinAllowedWeightSet", index: 19, fields: [NETUID, t.u16] },
  { name: "WeightsSetRateLimitSet", index: 22, fields: [NETUID, t.u64] },
  { name: "ImmunityPeriodSet", index: 23, fields: [NETUID, t.u16] },
  { name: "BondsMovingAverageSet", index: 24, fields: [NETUID, t.u64] },
  { name: "BondsPenaltySet", index: 25, fields: [NETUID, t.u16] },
  { name: "MaxAllowedValidatorsSet", index: 27, fields: [NETUID, t.u16] },
  { name: "AxonServed", index: 28, fields: [NETUID, ACCOUNT_ID] },
  { name: "PrometheusServed", index: 29, fields: [NETUID, ACCOUNT_ID] },
  { name: "WeightsVersionKeySet", index: 32, fields: [NETUID, t.u64] },
  { name: "ServingRateLimitSet", index: 35, fields: [NETUID, t.u64] },
  { name: "MaxBurnSet", index: 37, fields: [NETUID, t.u64] },
  { name: "MinBurnSet", index: 38, fields: [NETUID, t.u64] },
  { name: "RegistrationAllowed", index: 50, fields: [NETUID, t.bool] },
  { name: "TempoSet", index: 52, fields: [NETUID, t.u16] },
  { name: "NetworkRateLimitSet", index: 58, fields: [t.u64] },
  { name: "WeightsCommitted", index: 85, fields: [ACCOUNT_ID, NETUID, H256] },
  { name: "WeightsRevealed", index: 86, fields: [ACCOUNT_ID, NETUID, H256] },
  { name: "SubnetOwnerHotkeySet", index: 94, fields: [NETUID, ACCOUNT_ID] },
  { name: "FirstEmissionBlockNumberSet", index: 95, fields: [NETUID, t.u64] },
  { name: "CommitRevealPeriodsSet", index: 100, fields: [NETUID, t.u64] },
  { name: "CommitRevealEnabled", index: 101, fields: [NETUID, t.bool] },
  { name: "IncentiveAlphaEmittedToMiners", index: 110, fields: { netuid: NETUID, emissions: t.vec(t.u64) } },
  { name: "EpochSkipped", index: 133, fields: { netuid: NETUID, block: t.u64 } },
];

const errorIndices: Record<string, number> = {
  InvalidIpType: 1,
  InvalidIpAddress: 2,
  InvalidPort: 3,
  HotKeyNotRegisteredInSubNet: 4,
  HotKeyAccountNotExists: 5,
  HotKeyNotRegisteredInNetwork: 6,
  NonAssociatedColdKey: 7,
  NotEnoughStakeToWithdraw: 9,
  NotEnoughStakeToSetWeights: 10,
  NotEnoughBalanceToStake: 12,
  BalanceWithdrawalError: 13,
  NeuronNoValidatorPermit: 15,
  WeightVecNotEqualSize: 16,
  DuplicateUids: 17,
  UidVecContainInvalidOne: 18,
  WeightVecLengthIsLow: 19,
  TooManyRegistrationsThisBlock: 20,
  HotKeyAlreadyRegisteredInSubNet: 21,
  MaxWeightExceeded: 27,
  SettingWeightsTooFast: 29,
  IncorrectWeightVersionKey: 30,
  ServingRateLimitExceeded: 31,
  UidsLengthExceedUidsInSubNet: 32,
  NetworkTxRateLimitExceeded: 33,
  SubNetRegistrationDisabled: 37,
  RegistrationNotPermittedOnRootSubnet: 42,
  CanNotSetRootNetworkWeights: 47,
  NoNeuronIdAvailable: 48,
  NoWeightsCommitFound: 51,
  InvalidRevealCommitHashNotMatch: 52,
  CommitRevealEnabled: 53,
  CommitRevealDisabled: 54,
  LiquidAlphaDisabled: 55,
  AlphaHighTooLow: 56,
  AlphaLowOutOfRange: 57,
  TxRateLimitExceeded: 64,
  MechanismDoesNotExist: 74,
  StakeUnavailable: 75,
  SubnetNotExists: 76,
  TooManyUnrevealedCommits: 77,
  ExpiredWeightCommit: 78,
  RevealTooEarly: 79,
  InputLengthsUnequal: 80,
  CommittingWeightsTooFast: 81,
  AmountTooLow: 82,
  InsufficientLiquidity: 83,
  SlippageTooHigh: 84,
  ActivityCutoffTooLow: 86,
  FirstEmissionBlockNumberAlreadySet: 88,
  NeedWaitingMoreBlocksToStarCall: 89,
  SubtokenDisabled: 94,
  AdminActionProhibitedDuringWeightsWindow: 107,
  RevealPeriodTooLarge: 112,
  RevealPeriodTooSmall: 113,
  SubnetLimitReached: 115,
  CannotAffordLockCost: 116,
  TooManyUIDsPerMechanism: 125,
  RegistrationPriceLimitExceeded: 134,
  CannotUseSystemAccount: 139,
  TempoOutOfBounds: 141,
};

export const subtensorErrors: ErrorDef[] = Object.entries(errorIndices).map(([name, index]) => ({
  name,
  index,
}));

/** Validation-time rejections as `InvalidTransaction::Custom(code)` (reference section 0.3). */
const CUSTOM_CODES: Record<string, number> = {
  NotEnoughStakeToSetWeights: 1,
  SubnetNotExists: 3,
  SettingWeightsTooFast: 6,
  CommittingWeightsTooFast: 6,
  NetworkTxRateLimitExceeded: 6,
  HotKeyNotRegisteredInNetwork: 10,
  InvalidIpAddress: 11,
  ServingRateLimitExceeded: 12,
  InvalidPort: 13,
  NoWeightsCommitFound: 16,
  RevealTooEarly: 17,
  HotKeyNotRegisteredInSubNet: 19,
};

/** Knobs of the dev chain's economics that subtensor fixes in its runtime. */
export interface SubtensorModuleOptions {
  /** Alpha emitted to each emitting subnet per block, rao. Default 10^9 (1 alpha), subtensor's starting value. */
  blockEmission?: bigint;
  /**
   * Called with every epoch's full output, for tools beside the chain (the simulator reads the
   * per-uid trust, which subtensor computes but no longer stores). Not reachable over RPC.
   */
  onEpoch?: (netuid: number, block: number, output: EpochOutput) => void;
}

type Ctx = RuntimeContext;
const s = <V>(ctx: Ctx, name: string) => ctx.storage<V>(SUBTENSOR, name);

const ZERO_ACCOUNT = new Uint8Array(32);

function subnetExists(ctx: Ctx, netuid: number): boolean {
  return s<boolean>(ctx, "NetworksAdded").get(netuid);
}

function uidOf(ctx: Ctx, netuid: number, hotkey: Uint8Array): number | undefined {
  const uid = s<number | undefined>(ctx, "Uids").get(netuid, hotkey);
  return uid === undefined || uid === null ? undefined : uid;
}

/** The per-uid vectors that grow with SubnetworkN, and their zero value. */
const UID_VECTORS: [string, unknown][] = [
  ["Active", true],
  ["Consensus", 0],
  ["Incentive", 0],
  ["Dividends", 0],
  ["Emission", 0n],
  ["ValidatorTrust", 0],
  ["ValidatorPermit", false],
  ["LastUpdate", 0n],
  ["StakeWeight", 0],
];

function setVectorAt(ctx: Ctx, name: string, netuid: number, uid: number, value: unknown): void {
  s<unknown[]>(ctx, name).mutate([netuid], (list) => {
    const next = [...list];
    while (next.length <= uid) next.push(value);
    next[uid] = value;
    return next;
  });
}

/** Registers `hotkey` on `netuid`: appends a uid or replaces the least valuable one. */
function appendOrReplaceNeuron(ctx: Ctx, netuid: number, hotkey: Uint8Array): number {
  const n = s<number>(ctx, "SubnetworkN").get(netuid);
  const maxUids = s<number>(ctx, "MaxAllowedUids").get(netuid);
  const now = BigInt(ctx.blockNumber);
  let uid: number;
  if (n < maxUids) {
    uid = n;
    s<number>(ctx, "SubnetworkN").set([netuid], n + 1);
  } else {
    uid = pruneCandidate(ctx, netuid, n);
    const old = s<Uint8Array>(ctx, "Keys").get(netuid, uid);
    s(ctx, "Uids").remove(netuid, old);
    s(ctx, "IsNetworkMember").remove(old, netuid);
    s(ctx, "Axons").remove(netuid, old);
    s(ctx, "Weights").remove(netuid, uid);
    s(ctx, "Bonds").remove(netuid, uid);
  }
  for (const [name, zero] of UID_VECTORS) setVectorAt(ctx, name, netuid, uid, zero);
  setVectorAt(ctx, "LastUpdate", netuid, uid, now);
  s<Uint8Array>(ctx, "Keys").set([netuid, uid], hotkey);
  s<number>(ctx, "Uids").set([netuid, hotkey], uid);
  s<boolean>(ctx, "IsNetworkMember").set([hotkey, netuid], true);
  s<bigint>(ctx, "BlockAtRegistration").set([netuid, uid], now);
  return uid;
}

/**
 * The uid a full subnet gives up: lowest emission, ties to the earliest registration, then the
 * lowest uid; uids still in their immunity period and the owner's hotkey are spared while any
 * other candidate exists.
 */
function pruneCandidate(ctx: Ctx, netuid: number, n: number): number {
  const emission = s<bigint[]>(ctx, "Emission").get(netuid);
  const immunity = BigInt(s<number>(ctx, "ImmunityPeriod").get(netuid));
  const ownerHotkey = s<Uint8Array>(ctx, "SubnetOwnerHotkey").get(netuid);
  const now = BigInt(ctx.blockNumber);
  let best = -1;
  let bestKey: [number, bigint, bigint, number] | undefined;
  for (let uid = 0; uid < n; uid++) {
    const hotkey = s<Uint8Array>(ctx, "Keys").get(netuid, uid);
    if (u8aEq(hotkey, ownerHotkey)) continue;
    const registered = s<bigint>(ctx, "BlockAtRegistration").get(netuid, uid);
    const immune = now - registered < immunity ? 1 : 0;
    const key: [number, bigint, bigint, number] = [immune, emission[uid] ?? 0n, registered, uid];
    if (!bestKey || compareKeys(key, bestKey) < 0) {
      best = uid;
      bestKey = key;
    }
  }
  if (best < 0) throw new ModuleFail("NoNeuronIdAvailable");
  return best;
}

function compareKeys(a: [number, bigint, bigint, number], b: [number, bigint, bigint, number]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number | bigint;
    const y = b[i] as number | bigint;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

/** A module error raised outside a dispatch context; turned into `ctx.fail` by the call wrapper. */
class ModuleFail extends Error {
  override name = "ModuleFail";
  constructor(readonly error: string) {
    super(error);
  }
}

function withFail(handler: (ctx: DispatchContext, args: Record<string, unknown>) => void) {
  return (ctx: DispatchContext, args: Record<string, unknown>) => {
    try {
      handler(ctx, args);
    } catch (err) {
      if (err instanceof ModuleFail) ctx.fail(err.error);
      throw err;
    }
  };
}

/** Rejects a transaction in validation with the code subtensor's extension uses for `error`. */
function reject(error: string): never {
  throw new InvalidTransaction("Custom", CUSTOM_CODES[error] ?? 255);
}

function validIp(ip: bigint, ipType: number): boolean {
  if (ipType === 4) return ip < 0xffffffffn && ip !== 0x7f000001n;
  if (ipType === 6) return ip < (1n << 128n) - 1n && ip !== 1n;
  return false;
}

/** The error `serveAxon` fails with, or undefined when the axon is acceptable. */
function axonError(ctx: Pick<Ctx, "storage" | "blockNumber">, who: Uint8Array, a: Record<string, unknown>) {
  const netuid = a.netuid as number;
  if (uidOf(ctx as Ctx, netuid, who) === undefined) return "HotKeyNotRegisteredInNetwork";
  const ipType = a.ip_type as number;
  if (ipType !== 4 && ipType !== 6) return "InvalidIpType";
  if (!validIp(BigInt(a.ip as bigint), ipType)) return "InvalidIpAddress";
  const previous = s<AxonInfoValue | undefined>(ctx as Ctx, "Axons").get(netuid, who);
  const limit = s<bigint>(ctx as Ctx, "ServingRateLimit").get(netuid);
  if (previous && limit > 0n && BigInt(ctx.blockNumber) - BigInt(previous.block) < limit) {
    return "ServingRateLimitExceeded";
  }
  if ((a.port as number) === 0) return "InvalidPort";
  return undefined;
}

/** The weight checks shared by setWeights and revealWeights (reference 1.6), rate limit excluded. */
function checkWeights(
  ctx: Ctx,
  who: Uint8Array,
  netuid: number,
  uids: number[],
  values: number[],
  versionKey: bigint,
) {
  if (netuid === 0) throw new ModuleFail("CanNotSetRootNetworkWeights");
  if (uids.length !== values.length) throw new ModuleFail("WeightVecNotEqualSize");
  if (!subnetExists(ctx, netuid)) throw new ModuleFail("MechanismDoesNotExist");
  const n = s<number>(ctx, "SubnetworkN").get(netuid);
  if (uids.length > n) throw new ModuleFail("UidsLengthExceedUidsInSubNet");
  const uid = uidOf(ctx, netuid, who);
  if (uid === undefined) throw new ModuleFail("HotKeyNotRegisteredInSubNet");
  const ownerHotkey = s<Uint8Array>(ctx, "SubnetOwnerHotkey").get(netuid);
  const isOwner = u8aEq(ownerHotkey, who);
  const threshold = s<bigint>(ctx, "StakeThreshold").get();
  if (!isOwner && s<bigint>(ctx, "TotalHotkeyAlpha").get(who, netuid) < threshold) {
    throw new ModuleFail("NotEnoughStakeToSetWeights");
  }
  const required = s<bigint>(ctx, "WeightsVersionKey").get(netuid);
  if (required !== 0n && versionKey < required) throw new ModuleFail("IncorrectWeightVersionKey");
  return { uid, n, isOwner };
}

function checkWeightContent(
  ctx: Ctx,
  netuid: number,
  uid: number,
  n: number,
  isOwner: boolean,
  uids: number[],
) {
  const selfWeight = uids.length === 1 && uids[0] === uid;
  const permits = s<boolean[]>(ctx, "ValidatorPermit").get(netuid);
  if (!selfWeight && !isOwner && !permits[uid]) throw new ModuleFail("NeuronNoValidatorPermit");
  if (new Set(uids).size !== uids.length) throw new ModuleFail("DuplicateUids");
  if (uids.some((u) => u >= n)) throw new ModuleFail("UidVecContainInvalidOne");
  const minWeights = Math.min(s<number>(ctx, "MinAllowedWeights").get(netuid), n);
  if (!selfWeight && uids.length < minWeights) throw new ModuleFail("WeightVecLengthIsLow");
}

/** The weights rate limit: a uid that set (or committed) weights fewer than the limit's blocks ago must wait. */
function weightsTooSoon(ctx: Ctx, netuid: number, uid: number): boolean {
  const last = s<bigint[]>(ctx, "LastUpdate").get(netuid)[uid] ?? 0n;
  const limit = s<bigint>(ctx, "WeightsSetRateLimit").get(netuid);
  return last !== 0n && BigInt(ctx.blockNumber) - last < limit;
}

/** Stores weights max-upscaled so the largest is 65535, as subtensor does. */
function storeWeights(ctx: Ctx, netuid: number, uid: number, uids: number[], values: number[]) {
  const max = values.reduce((a, b) => Math.max(a, b), 0);
  const row: [number, number][] = [];
  uids.forEach((target, i) => {
    const v = values[i] ?? 0;
    const scaled = max === 0 ? 0 : Math.floor((v * 65535) / max);
    if (scaled > 0 || max === 0) row.push([target, scaled]);
  });
  s<[number, number][]>(ctx, "Weights").set([netuid, uid], row);
  setVectorAt(ctx, "LastUpdate", netuid, uid, BigInt(ctx.blockNumber));
  ctx.emit(SUBTENSOR, "WeightsSet", [netuid, uid]);
}

/** blake2-256 of SCALE (hotkey, netuid, uids, values, salt, version_key): the commit-reveal v2 hash. */
export function commitHashOf(
  hotkey: Uint8Array,
  netuid: number,
  uids: number[],
  values: number[],
  salt: number[],
  versionKey: bigint,
): Uint8Array {
  const tuple = t.tuple(ACCOUNT_ID, t.u16, t.vec(t.u16), t.vec(t.u16), t.vec(t.u16), t.u64);
  return blake2AsU8a(encode(tuple, [hotkey, netuid, uids, values, salt, versionKey]), 256);
}

type Commit = [Uint8Array, bigint, bigint, bigint];

const calls: CallDef[] = [
  {
    name: "set_weights",
    index: 0,
    pays: false,
    args: [
      netuidArg,
      { name: "dests", type: t.vec(t.u16), typeName: "Vec<u16>" },
      { name: "weights", type: t.vec(t.u16), typeName: "Vec<u16>" },
      { name: "version_key", type: t.u64, typeName: "u64" },
    ],
    validate(ctx, a) {
      const who = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      const c = ctx as unknown as Ctx;
      if (s<boolean>(c, "CommitRevealWeightsEnabled").get(netuid)) return;
      const uid = uidOf(c, netuid, who);
      if (uid === undefined) return;
      if (weightsTooSoon(c, netuid, uid)) reject("SettingWeightsTooFast");
    },
    handler: withFail((ctx, a) => {
      const who = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      const uids = a.dests as number[];
      const values = a.weights as number[];
      if (s<boolean>(ctx, "CommitRevealWeightsEnabled").get(netuid)) return ctx.fail("CommitRevealEnabled");
      const { uid, n, isOwner } = checkWeights(
        ctx,
        who,
        netuid,
        uids,
        values,
        BigInt(a.version_key as bigint),
      );
      if (weightsTooSoon(ctx, netuid, uid)) return ctx.fail("SettingWeightsTooFast");
      checkWeightContent(ctx, netuid, uid, n, isOwner, uids);
      storeWeights(ctx, netuid, uid, uids, values);
    }),
  },
  {
    name: "add_stake",
    index: 2,
    args: [
      { name: "hotkey", ...acct },
      netuidArg,
      { name: "amount_staked", type: t.u64, typeName: "TaoBalance" },
    ],
    handler: withFail((ctx, a) => {
      const coldkey = ensureSigned(ctx.origin);
      const hotkey = a.hotkey as Uint8Array;
      const netuid = a.netuid as number;
      const amount = BigInt(a.amount_staked as bigint);
      if (!subnetExists(ctx, netuid)) return ctx.fail("SubnetNotExists");
      if (!s<boolean>(ctx, "SubtokenEnabled").get(netuid)) return ctx.fail("SubtokenDisabled");
      if (amount < DEFAULTS.defaultMinStake) return ctx.fail("AmountTooLow");
      if (freeBalance(ctx, coldkey) < amount) return ctx.fail("NotEnoughBalanceToStake");
      if (u8aEq(s<Uint8Array>(ctx, "Owner").get(hotkey), ZERO_ACCOUNT))
        return ctx.fail("HotKeyAccountNotExists");
      withdraw(ctx, coldkey, amount);
      creditStake(ctx, hotkey, coldkey, netuid, amount);
      s<bigint>(ctx, "SubnetTAO").mutate([netuid], (v) => v + amount);
      ctx.emit(SUBTENSOR, "StakeAdded", [coldkey, hotkey, amount, amount, netuid, 0n]);
    }),
  },
  {
    name: "remove_stake",
    index: 3,
    args: [
      { name: "hotkey", ...acct },
      netuidArg,
      { name: "amount_unstaked", type: t.u64, typeName: "AlphaBalance" },
    ],
    handler: withFail((ctx, a) => {
      const coldkey = ensureSigned(ctx.origin);
      const hotkey = a.hotkey as Uint8Array;
      const netuid = a.netuid as number;
      if (!s<boolean>(ctx, "SubtokenEnabled").get(netuid)) return ctx.fail("SubtokenDisabled");
      if (!subnetExists(ctx, netuid)) return ctx.fail("SubnetNotExists");
      const have = stakeOf(ctx, hotkey, coldkey, netuid);
      const requested = BigInt(a.amount_unstaked as bigint);
      const amount = requested > have ? have : requested;
      if (amount === 0n) return ctx.fail("AmountTooLow");
      if (amount < have && amount < DEFAULTS.defaultMinStake) return ctx.fail("AmountTooLow");
      if (u8aEq(s<Uint8Array>(ctx, "Owner").get(hotkey), ZERO_ACCOUNT))
        return ctx.fail("HotKeyAccountNotExists");
      debitStake(ctx, hotkey, coldkey, netuid, amount);
      s<bigint>(ctx, "SubnetTAO").mutate([netuid], (v) => (v > amount ? v - amount : 0n));
      deposit(ctx, coldkey, amount);
      ctx.emit(SUBTENSOR, "StakeRemoved", [coldkey, hotkey, amount, amount, netuid, 0n]);
    }),
  },
  {
    name: "serve_axon",
    index: 4,
    pays: false,
    args: [
      netuidArg,
      { name: "version", type: t.u32, typeName: "u32" },
      { name: "ip", type: t.u128, typeName: "u128" },
      { name: "port", type: t.u16, typeName: "u16" },
      { name: "ip_type", type: t.u8, typeName: "u8" },
      { name: "protocol", type: t.u8, typeName: "u8" },
      { name: "placeholder1", type: t.u8, typeName: "u8" },
      { name: "placeholder2", type: t.u8, typeName: "u8" },
    ],
    validate(ctx, a) {
      const error = axonError(ctx as unknown as Ctx, ensureSigned(ctx.origin), a);
      if (error && error !== "InvalidIpType") reject(error);
    },
    handler: withFail((ctx, a) => {
      const who = ensureSigned(ctx.origin);
      const error = axonError(ctx, who, a);
      if (error) return ctx.fail(error);
      const netuid = a.netuid as number;
      const axon: AxonInfoValue = {
        block: BigInt(ctx.blockNumber),
        version: a.version as number,
        ip: BigInt(a.ip as bigint),
        port: a.port as number,
        ip_type: a.ip_type as number,
        protocol: a.protocol as number,
        placeholder1: a.placeholder1 as number,
        placeholder2: a.placeholder2 as number,
      };
      s<AxonInfoValue>(ctx, "Axons").set([netuid, who], axon);
      ctx.emit(SUBTENSOR, "AxonServed", [netuid, who]);
    }),
  },
  {
    name: "burned_register",
    index: 7,
    args: [netuidArg, { name: "hotkey", ...acct }],
    handler: withFail((ctx, a) => {
      const coldkey = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      const hotkey = a.hotkey as Uint8Array;
      if (netuid === 0) return ctx.fail("RegistrationNotPermittedOnRootSubnet");
      if (!subnetExists(ctx, netuid)) return ctx.fail("SubnetNotExists");
      if (!s<boolean>(ctx, "NetworkRegistrationAllowed").get(netuid))
        return ctx.fail("SubNetRegistrationDisabled");
      if (uidOf(ctx, netuid, hotkey) !== undefined) return ctx.fail("HotKeyAlreadyRegisteredInSubNet");
      const burn = s<bigint>(ctx, "Burn").get(netuid);
      if (freeBalance(ctx, coldkey) < burn) return ctx.fail("NotEnoughBalanceToStake");
      const owner = s<Uint8Array>(ctx, "Owner").get(hotkey);
      if (!u8aEq(owner, ZERO_ACCOUNT) && !u8aEq(owner, coldkey)) return ctx.fail("NonAssociatedColdKey");
      if (s<number>(ctx, "MaxAllowedUids").get(netuid) === 0) return ctx.fail("NoNeuronIdAvailable");
      withdraw(ctx, coldkey, burn);
      if (u8aEq(owner, ZERO_ACCOUNT)) s<Uint8Array>(ctx, "Owner").set([hotkey], coldkey);
      const uid = appendOrReplaceNeuron(ctx, netuid, hotkey);
      // Each registration makes the next one dearer; the price decays back every block.
      const next = (burn * 126n) / 100n;
      s<bigint>(ctx, "Burn").set([netuid], clampBurn(ctx, netuid, next));
      ctx.emit(SUBTENSOR, "NeuronRegistered", [netuid, uid, hotkey]);
    }),
  },
  {
    name: "register_network",
    index: 59,
    args: [{ name: "hotkey", ...acct }],
    validate(ctx) {
      const c = ctx as unknown as Ctx;
      const limit = s<bigint>(c, "NetworkRateLimit").get();
      const last = s<bigint>(c, "NetworkLastRegistered").get();
      if (last !== 0n && BigInt(ctx.blockNumber) - last < limit) reject("NetworkTxRateLimitExceeded");
    },
    handler: withFail((ctx, a) => {
      const coldkey = ensureSigned(ctx.origin);
      const hotkey = a.hotkey as Uint8Array;
      const owner = s<Uint8Array>(ctx, "Owner").get(hotkey);
      if (!u8aEq(owner, ZERO_ACCOUNT) && !u8aEq(owner, coldkey)) return ctx.fail("NonAssociatedColdKey");
      const limit = s<bigint>(ctx, "NetworkRateLimit").get();
      const last = s<bigint>(ctx, "NetworkLastRegistered").get();
      if (last !== 0n && BigInt(ctx.blockNumber) - last < limit)
        return ctx.fail("NetworkTxRateLimitExceeded");
      const subnetLimit = s<number>(ctx, "SubnetLimit").get();
      let netuid = 1;
      while (subnetExists(ctx, netuid)) netuid++;
      if (netuid > subnetLimit) return ctx.fail("SubnetLimitReached");
      const lockCost = s<bigint>(ctx, "NetworkMinLockCost").get();
      if (freeBalance(ctx, coldkey) < lockCost) return ctx.fail("CannotAffordLockCost");
      withdraw(ctx, coldkey, lockCost);
      createSubnet(ctx, netuid, coldkey, hotkey);
      s<bigint>(ctx, "NetworkLastRegistered").set([], BigInt(ctx.blockNumber));
    }),
  },
  {
    name: "start_call",
    index: 92,
    args: [netuidArg],
    handler: withFail((ctx, a) => {
      const who = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      if (!subnetExists(ctx, netuid)) return ctx.fail("SubnetNotExists");
      if (!u8aEq(s<Uint8Array>(ctx, "SubnetOwner").get(netuid), who)) throw DispatchError.badOrigin();
      // The dev chain emits from registration, so a subnet normally arrives here already started.
      if (s<bigint | undefined>(ctx, "FirstEmissionBlockNumber").get(netuid) !== undefined) {
        ctx.fail("FirstEmissionBlockNumberAlreadySet");
      }
      startEmission(ctx, netuid, true);
    }),
  },
  {
    name: "commit_weights",
    index: 96,
    pays: false,
    args: [netuidArg, { name: "commit_hash", type: H256, typeName: "H256" }],
    handler: withFail((ctx, a) => {
      const who = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      if (!subnetExists(ctx, netuid)) return ctx.fail("MechanismDoesNotExist");
      if (!s<boolean>(ctx, "CommitRevealWeightsEnabled").get(netuid)) return ctx.fail("CommitRevealDisabled");
      const uid = uidOf(ctx, netuid, who);
      if (uid === undefined) return ctx.fail("HotKeyNotRegisteredInSubNet");
      if (weightsTooSoon(ctx, netuid, uid)) return ctx.fail("CommittingWeightsTooFast");
      const epoch = s<bigint>(ctx, "SubnetEpochIndex").get(netuid);
      const period = s<bigint>(ctx, "RevealPeriodEpochs").get(netuid);
      const queue = (s<Commit[] | null>(ctx, "WeightCommits").get(netuid, who) ?? []).filter(
        ([, commitEpoch]) => commitEpoch + period >= epoch,
      );
      if (queue.length >= 10) return ctx.fail("TooManyUnrevealedCommits");
      queue.push([a.commit_hash as Uint8Array, epoch, BigInt(ctx.blockNumber), 0n]);
      s<Commit[]>(ctx, "WeightCommits").set([netuid, who], queue);
      setVectorAt(ctx, "LastUpdate", netuid, uid, BigInt(ctx.blockNumber));
      ctx.emit(SUBTENSOR, "WeightsCommitted", [who, netuid, a.commit_hash]);
    }),
  },
  {
    name: "reveal_weights",
    index: 97,
    pays: false,
    args: [
      netuidArg,
      { name: "uids", type: t.vec(t.u16), typeName: "Vec<u16>" },
      { name: "values", type: t.vec(t.u16), typeName: "Vec<u16>" },
      { name: "salt", type: t.vec(t.u16), typeName: "Vec<u16>" },
      { name: "version_key", type: t.u64, typeName: "u64" },
    ],
    handler: withFail((ctx, a) => {
      const who = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      const uids = a.uids as number[];
      const values = a.values as number[];
      const versionKey = BigInt(a.version_key as bigint);
      if (!s<boolean>(ctx, "CommitRevealWeightsEnabled").get(netuid)) return ctx.fail("CommitRevealDisabled");
      const queue = s<Commit[] | null>(ctx, "WeightCommits").get(netuid, who);
      if (!queue || queue.length === 0) return ctx.fail("NoWeightsCommitFound");
      const hash = commitHashOf(who, netuid, uids, values, a.salt as number[], versionKey);
      const epoch = s<bigint>(ctx, "SubnetEpochIndex").get(netuid);
      const period = s<bigint>(ctx, "RevealPeriodEpochs").get(netuid);
      const index = queue.findIndex(([h]) => u8aEq(h, hash));
      const live = queue.filter(([, commitEpoch]) => commitEpoch + period >= epoch);
      if (index < 0)
        return ctx.fail(live.length === 0 ? "NoWeightsCommitFound" : "InvalidRevealCommitHashNotMatch");
      const commitEpoch = (queue[index] as Commit)[1];
      if (commitEpoch + period < epoch) return ctx.fail("ExpiredWeightCommit");
      if (epoch !== commitEpoch + period) return ctx.fail("RevealTooEarly");
      const { uid, n, isOwner } = checkWeights(ctx, who, netuid, uids, values, versionKey);
      checkWeightContent(ctx, netuid, uid, n, isOwner, uids);
      const rest = queue.slice(index + 1);
      s<Commit[] | null>(ctx, "WeightCommits").set([netuid, who], rest.length > 0 ? rest : undefined);
      storeWeights(ctx, netuid, uid, uids, values);
      ctx.emit(SUBTENSOR, "WeightsRevealed", [who, netuid, hash]);
    }),
  },
];

function clampBurn(ctx: Ctx, netuid: number, value: bigint): bigint {
  const min = s<bigint>(ctx, "MinBurn").get(netuid);
  const max = s<bigint>(ctx, "MaxBurn").get(netuid);
  return value < min ? min : value > max ? max : value;
}

function startEmission(ctx: Ctx, netuid: number, events: boolean): void {
  const block = BigInt(ctx.blockNumber) + 1n;
  s<bigint>(ctx, "FirstEmissionBlockNumber").set([netuid], block);
  s<boolean>(ctx, "SubtokenEnabled").set([netuid], true);
  if (events) ctx.emit(SUBTENSOR, "FirstEmissionBlockNumberSet", [netuid, block]);
}

/** Writes a new subnet as registerNetwork does (reference 1.2); the owner hotkey becomes uid 0. */
export function createSubnet(
  ctx: Ctx,
  netuid: number,
  coldkey: Uint8Array,
  hotkey: Uint8Array,
  events = true,
): void {
  const tempo = s<number>(ctx, "Tempo").get(netuid);
  s<boolean>(ctx, "NetworksAdded").set([netuid], true);
  s<number>(ctx, "TotalNetworks").mutate([], (v) => v + 1);
  s<Uint8Array>(ctx, "SubnetOwner").set([netuid], coldkey);
  s<Uint8Array>(ctx, "SubnetOwnerHotkey").set([netuid], hotkey);
  s<number>(ctx, "Tempo").set([netuid], tempo);
  s<bigint>(ctx, "NetworkRegisteredAt").set([netuid], BigInt(ctx.blockNumber));
  const anchor = tempo === 0 ? 0 : Math.max(0, ctx.blockNumber - (netuid % tempo));
  s<bigint>(ctx, "LastEpochBlock").set([netuid], BigInt(anchor));
  s<boolean>(ctx, "NetworkRegistrationAllowed").set([netuid], true);
  s<number>(ctx, "MaxAllowedUids").set([netuid], 256);
  s<number>(ctx, "MaxAllowedValidators").set([netuid], 64);
  s<number>(ctx, "MinAllowedWeights").set([netuid], 1);
  s<number>(ctx, "ImmunityPeriod").set([netuid], 5000);
  s<boolean>(ctx, "Yuma3On").set([netuid], true);
  s<bigint>(ctx, "Burn").set([netuid], 1_000_000_000n);
  s<number>(ctx, "SubnetMechanism").set([netuid], 1);
  s<boolean>(ctx, "SubnetEmissionEnabled").set([netuid], false);
  if (u8aEq(s<Uint8Array>(ctx, "Owner").get(hotkey), ZERO_ACCOUNT))
    s<Uint8Array>(ctx, "Owner").set([hotkey], coldkey);
  appendOrReplaceNeuron(ctx, netuid, hotkey);
  if (events) {
    ctx.emit(SUBTENSOR, "RegistrationAllowed", [netuid, true]);
    ctx.emit(SUBTENSOR, "MaxAllowedUidsSet", [netuid, 256]);
    ctx.emit(SUBTENSOR, "MaxAllowedValidatorsSet", [netuid, 64]);
    ctx.emit(SUBTENSOR, "MinAllowedWeightSet", [netuid, 1]);
    ctx.emit(SUBTENSOR, "ImmunityPeriodSet", [netuid, 5000]);
    ctx.emit(SUBTENSOR, "SubnetOwnerHotkeySet", [netuid, hotkey]);
    ctx.emit(SUBTENSOR, "NetworkAdded", [netuid, 1]);
  }
  // On the dev chain a new subnet emits from registration; startCall is accepted but not needed.
  startEmission(ctx, netuid, events);
}

function emitsThisBlock(ctx: Ctx, netuid: number): boolean {
  if (netuid === 0) return false;
  const first = s<bigint | undefined>(ctx, "FirstEmissionBlockNumber").get(netuid);
  return (
    first !== undefined &&
    BigInt(ctx.blockNumber) >= first &&
    s<boolean>(ctx, "SubtokenEnabled").get(netuid) &&
    s<boolean>(ctx, "NetworkRegistrationAllowed").get(netuid)
  );
}

/** Per-block emission into the pending buckets (reference 6.2): owner cut, then 50/50 miners/validators. */
function accrueEmission(ctx: Ctx, netuid: number, blockEmission: bigint): void {
  const ownerCut = s<boolean>(ctx, "OwnerCutEnabled").get(netuid)
    ? (blockEmission * BigInt(s<number>(ctx, "SubnetOwnerCut").get())) / 65535n
    : 0n;
  const rest = blockEmission - ownerCut;
  const server = rest / 2n;
  s<bigint>(ctx, "PendingOwnerCut").mutate([netuid], (v) => v + ownerCut);
  s<bigint>(ctx, "PendingServerEmission").mutate([netuid], (v) => v + server);
  s<bigint>(ctx, "PendingValidatorEmission").mutate([netuid], (v) => v + (rest - server));
  s<bigint>(ctx, "SubnetAlphaOut").mutate([netuid], (v) => v + blockEmission);
}

/**
 * A subnet's weights or bonds rows by uid, packed. Each stored row is read once and the packed
 * arrays reused by later epochs while the row is unchanged (see `viewEntries`); they are only read.
 */
function readRows(ctx: Ctx, item: string, netuid: number, n: number): (Row | undefined)[] {
  const rows: (Row | undefined)[] = new Array(n);
  const handle = s<SparseRow>(ctx, item);
  const entries: Array<[unknown[], Row]> = isViewStorageHandle(handle)
    ? handle.viewEntries(decodePackedRow, netuid)
    : handle.entries(netuid);
  for (const [keys, row] of entries) {
    const uid = Number(keys[1]);
    if (uid < n) rows[uid] = row;
  }
  return rows;
}

function toU16(values: ArrayLike<number>): number[] {
  return Array.from(values, (v) => v);
}

/** Runs the subnet's epoch and pays out the pending buckets (reference 6.1, 6.2). */
function runSubnetEpoch(ctx: Ctx, netuid: number, onEpoch?: SubtensorModuleOptions["onEpoch"]): void {
  const n = s<number>(ctx, "SubnetworkN").get(netuid);
  const block = ctx.blockNumber;
  s<bigint>(ctx, "LastEpochBlock").set([netuid], BigInt(block));
  s<bigint>(ctx, "PendingEpochAt").set([netuid], 0n);
  s<bigint>(ctx, "SubnetEpochIndex").mutate([netuid], (v) => v + 1n);
  const server = s<bigint>(ctx, "PendingServerEmission").get(netuid);
  const validator = s<bigint>(ctx, "PendingValidatorEmission").get(netuid);
  const ownerCut = s<bigint>(ctx, "PendingOwnerCut").get(netuid);
  for (const item of ["PendingServerEmission", "PendingValidatorEmission", "PendingOwnerCut"]) {
    s<bigint>(ctx, item).set([netuid], 0n);
  }
  s<bigint>(ctx, "BlocksSinceLastStep").set([netuid], 0n);
  s<bigint>(ctx, "LastMechansimStepBlock").set([netuid], BigInt(block));
  const ownerColdkey = s<Uint8Array>(ctx, "SubnetOwner").get(netuid);
  const ownerHotkey = s<Uint8Array>(ctx, "SubnetOwnerHotkey").get(netuid);
  if (ownerCut > 0n) creditStake(ctx, ownerHotkey, ownerColdkey, netuid, ownerCut);
  if (n === 0) return;

  const keys = s<Uint8Array>(ctx, "Keys");
  const totalAlpha = s<bigint>(ctx, "TotalHotkeyAlpha");
  const registered = s<bigint>(ctx, "BlockAtRegistration");
  const hotkeys = Array.from({ length: n }, (_, uid) => keys.get(netuid, uid));
  const stake = hotkeys.map((h) => totalAlpha.get(h, netuid));
  const tempo = s<number>(ctx, "Tempo").get(netuid);
  const [alphaLow, alphaHigh] = s<[number, number]>(ctx, "AlphaValues").get(netuid);
  const out = runEpoch({
    block,
    stake,
    weights: readRows(ctx, "Weights", netuid, n),
    bonds: readRows(ctx, "Bonds", netuid, n),
    lastUpdate: s<bigint[]>(ctx, "LastUpdate").get(netuid).slice(0, n).map(Number),
    blockAtRegistration: Array.from({ length: n }, (_, uid) => Number(registered.get(netuid, uid))),
    validatorPermits: s<boolean[]>(ctx, "ValidatorPermit").get(netuid).slice(0, n),
    emission: server + validator,
    hyperparameters: {
      kappa: s<number>(ctx, "Kappa").get(netuid),
      bondsMovingAverage: Number(s<bigint>(ctx, "BondsMovingAverage").get(netuid)),
      bondsPenalty: s<number>(ctx, "BondsPenalty").get(netuid),
      liquidAlphaEnabled: s<boolean>(ctx, "LiquidAlphaOn").get(netuid),
      alphaLow,
      alphaHigh,
      alphaSigmoidSteepness: s<number>(ctx, "AlphaSigmoidSteepness").get(netuid),
      yuma3Enabled: s<boolean>(ctx, "Yuma3On").get(netuid),
      maxAllowedValidators: s<number>(ctx, "MaxAllowedValidators").get(netuid),
      activityCutoff: activityCutoffBlocks(s<number>(ctx, "ActivityCutoffFactorMilli").get(netuid), tempo),
      tempo,
      stakeThreshold: s<bigint>(ctx, "StakeThreshold").get(),
    },
  });

  // Miners are paid from the server bucket by incentive; with no incentive at all, validators take it.
  const incentiveTotal = out.incentive.reduce((a, b) => a + b, 0);
  const dividendTotal = out.dividends.reduce((a, b) => a + b, 0);
  const minerPay = new Array<bigint>(n).fill(0n);
  const validatorPay = new Array<bigint>(n).fill(0n);
  const validatorPool = incentiveTotal === 0 ? server + validator : validator;
  for (let uid = 0; uid < n; uid++) {
    if (incentiveTotal > 0)
      minerPay[uid] = (server * BigInt(out.incentive[uid] ?? 0)) / BigInt(incentiveTotal);
    if (dividendTotal > 0) {
      validatorPay[uid] = (validatorPool * BigInt(out.dividends[uid] ?? 0)) / BigInt(dividendTotal);
    }
  }
  const emission: bigint[] = new Array(n).fill(0n);
  const owners = s<Uint8Array>(ctx, "Owner");
  const dividendsItem = s<bigint>(ctx, "AlphaDividendsPerSubnet");
  for (let uid = 0; uid < n; uid++) {
    const hotkey = hotkeys[uid] as Uint8Array;
    let miner = minerPay[uid] as bigint;
    // Incentive to the subnet owner's own hotkeys is withheld (burned), as subtensor does.
    if (miner > 0n) {
      const owner = owners.get(hotkey);
      if (u8aEq(hotkey, ownerHotkey) || u8aEq(owner, ownerColdkey)) miner = 0n;
      else creditStake(ctx, hotkey, owner, netuid, miner);
    }
    const dividends = validatorPay[uid] as bigint;
    if (dividends > 0n) payToHotkey(ctx, hotkey, netuid, dividends);
    // Written only where there is something to record (most uids are miners with none).
    if (dividends > 0n) dividendsItem.set([netuid, hotkey], dividends);
    else if (dividendsItem.has(netuid, hotkey)) dividendsItem.remove(netuid, hotkey);
    emission[uid] = miner + dividends;
  }
  s(ctx, "Active").set([netuid], out.active);
  s(ctx, "ValidatorPermit").set([netuid], out.validatorPermits);
  s(ctx, "Consensus").set([netuid], toU16(out.consensus));
  s(ctx, "Incentive").set([netuid], toU16(out.incentive));
  s(ctx, "Dividends").set([netuid], toU16(out.dividends));
  s(ctx, "ValidatorTrust").set([netuid], toU16(out.validatorTrust));
  s(ctx, "StakeWeight").set([netuid], toU16(out.stakeWeight));
  s(ctx, "Emission").set([netuid], emission);
  const bonds = s<[number, number][]>(ctx, "Bonds");
  for (let uid = 0; uid < n; uid++) {
    const packed = out.bonds[uid];
    if (!packed || packed.uids.length === 0) bonds.remove(netuid, uid);
    // Written from the packed row, which becomes the cached reading of the new bytes.
    else if (isViewStorageHandle(bonds))
      bonds.setEncoded([netuid, uid], encodePackedRow(packed), decodePackedRow, packed);
    else bonds.set([netuid, uid], unpackRow(packed));
  }
  ctx.emit(SUBTENSOR, "IncentiveAlphaEmittedToMiners", { netuid, emissions: minerPay });
  onEpoch?.(netuid, block, out);
}

/** Every block: burn price decay, emission accrual, and the epochs that are due (reference 6.1). */
function onInitialize(
  ctx: Ctx,
  options: { blockEmission: bigint; onEpoch?: SubtensorModuleOptions["onEpoch"] },
): void {
  const { blockEmission } = options;
  const now = BigInt(ctx.blockNumber);
  const subnets = s<boolean>(ctx, "NetworksAdded")
    .entries()
    .filter(([, added]) => added)
    .map(([keys]) => Number(keys[0]))
    .sort((a, b) => a - b);
  const maxEpochs = s<number>(ctx, "MaxEpochsPerBlock").get();
  let epochs = 0;
  for (const netuid of subnets) {
    if (netuid === 0) continue;
    const halfLife = BigInt(s<number>(ctx, "BurnHalfLife").get(netuid));
    if (halfLife > 0n) {
      // Continuous decay with the given half-life, applied per block: burn × 2^(−1/halfLife).
      const burn = s<bigint>(ctx, "Burn").get(netuid);
      const factor = 2 ** (-1 / Number(halfLife));
      s<bigint>(ctx, "Burn").set([netuid], clampBurn(ctx, netuid, BigInt(Math.floor(Number(burn) * factor))));
    }
    if (emitsThisBlock(ctx, netuid)) accrueEmission(ctx, netuid, blockEmission);
    s<bigint>(ctx, "BlocksSinceLastStep").mutate([netuid], (v) => v + 1n);
    const tempo = BigInt(s<number>(ctx, "Tempo").get(netuid));
    if (tempo === 0n) continue;
    const last = s<bigint>(ctx, "LastEpochBlock").get(netuid);
    const pending = s<bigint>(ctx, "PendingEpochAt").get(netuid);
    const due =
      (pending > 0n && now >= pending) ||
      s<bigint>(ctx, "BlocksSinceLastStep").get(netuid) > 50_400n ||
      now - last >= tempo;
    if (!due) continue;
    if (epochs >= maxEpochs) {
      s<bigint>(ctx, "PendingEpochAt").set([netuid], now + 1n);
      continue;
    }
    epochs++;
    runSubnetEpoch(ctx, netuid, options.onEpoch);
  }
}

/**
 * Builds the pallet. Genesis creates the root network (netuid 0) and netuid 1, owned by the sudo
 * key, as subtensor's genesis has both.
 */
export function subtensorModulePallet(options: SubtensorModuleOptions = {}): PalletDef {
  const blockEmission = options.blockEmission ?? 1_000_000_000n;
  return {
    name: SUBTENSOR,
    index: 7,
    crate: "pallet_subtensor",
    calls,
    storage: subtensorStorage,
    events: subtensorEvents,
    errors: subtensorErrors,
    onInitialize: (ctx) =>
      onInitialize(ctx, { blockEmission, ...(options.onEpoch ? { onEpoch: options.onEpoch } : {}) }),
    genesis(ctx) {
      s<boolean>(ctx, "NetworksAdded").set([0], true);
      s<number>(ctx, "Tempo").set([0], 100);
      s<number>(ctx, "MaxAllowedUids").set([0], 64);
      s<number>(ctx, "MaxAllowedValidators").set([0], 64);
      s<number>(ctx, "MinAllowedWeights").set([0], 0);
      s<Uint8Array>(ctx, "SubnetOwner").set([0], ctx.sudo);
      s<number>(ctx, "TotalNetworks").set([], 1);
      // Dev-chain conveniences (see README): subnets can be created back to back, and admin
      // setters are never frozen by the weights window.
      s<bigint>(ctx, "NetworkRateLimit").set([], 0n);
      s<number>(ctx, "AdminFreezeWindow").set([], 0);
      s<number>(ctx, "Tempo").set([1], 100);
      createSubnet(ctx, 1, ctx.sudo, ctx.sudo, false);
      s<number>(ctx, "MinAllowedWeights").set([1], 0);
      s<bigint>(ctx, "NetworkLastRegistered").set([], 0n);
    },
  };
}
