/**
 * Weights (subtensor's `subnets/weights.rs`): `set_weights` and commit-reveal v2's
 * `commit_weights` and `reveal_weights`, with their checks and rate limit, and their mechanism
 * forms (`set_mechanism_weights`, `commit_mechanism_weights`, `reveal_mechanism_weights`), which
 * the bittensor SDK sends. The dev chain has one mechanism per subnet (`MechanismCountCurrent` is
 * 1), so mechanism 0 is the plain weights and any other id fails as subtensor fails a mechanism
 * the subnet does not have.
 *
 * Timelocked commits (`commit_timelocked_mechanism_weights`, commit-reveal v3/v4) are not offered:
 * they are revealed with drand's beacon signature for a future round, which only drand's network
 * produces. New subnets therefore start with commit-reveal off (subtensor's default is on), so the
 * SDK's `set_weights` sets weights directly; with commit-reveal switched on, the hash-based calls
 * here (the SDK's `commit_weights`/`reveal_weights`, and our validator) work as on subtensor.
 */

import { blake2AsU8a } from "@polkadot/util-crypto";
import { bytesEqual } from "../../../../protocol/bytes.js";
import { type CallDef, type DispatchContext, ensureSigned, type RuntimeContext } from "../../pallet.js";
import { ACCOUNT_ID, encode, H256, t } from "../../scale.js";
import { ModuleFail, reject, withFail } from "./module-errors.js";
import { item, NETUID_ARG, SUBTENSOR, subnetExists } from "./storage.js";
import { setVectorAt, uidOf } from "./uids.js";

/** subtensor's `ensure_mechanism_exists`: the subnet exists and has a mechanism `mecid`. */
function ensureMechanismExists(ctx: RuntimeContext, netuid: number, mecid: number): void {
  if (!subnetExists(ctx, netuid)) throw new ModuleFail("MechanismDoesNotExist");
  if (mecid >= item<number>(ctx, "MechanismCountCurrent").get(netuid)) {
    throw new ModuleFail("MechanismDoesNotExist");
  }
}

/** The weight checks shared by setWeights and revealWeights (reference 1.6), rate limit excluded. */
function checkWeights(
  ctx: RuntimeContext,
  who: Uint8Array,
  netuid: number,
  uids: number[],
  values: number[],
  versionKey: bigint,
  mecid = 0,
) {
  if (netuid === 0) throw new ModuleFail("CanNotSetRootNetworkWeights");
  if (uids.length !== values.length) throw new ModuleFail("WeightVecNotEqualSize");
  ensureMechanismExists(ctx, netuid, mecid);
  const n = item<number>(ctx, "SubnetworkN").get(netuid);
  if (uids.length > n) throw new ModuleFail("UidsLengthExceedUidsInSubNet");
  const uid = uidOf(ctx, netuid, who);
  if (uid === undefined) throw new ModuleFail("HotKeyNotRegisteredInSubNet");
  const ownerHotkey = item<Uint8Array>(ctx, "SubnetOwnerHotkey").get(netuid);
  const isOwner = bytesEqual(ownerHotkey, who);
  const threshold = item<bigint>(ctx, "StakeThreshold").get();
  if (!isOwner && item<bigint>(ctx, "TotalHotkeyAlpha").get(who, netuid) < threshold) {
    throw new ModuleFail("NotEnoughStakeToSetWeights");
  }
  const required = item<bigint>(ctx, "WeightsVersionKey").get(netuid);
  if (required !== 0n && versionKey < required) throw new ModuleFail("IncorrectWeightVersionKey");
  return { uid, n, isOwner };
}

function checkWeightContent(
  ctx: RuntimeContext,
  netuid: number,
  uid: number,
  n: number,
  isOwner: boolean,
  uids: number[],
) {
  const selfWeight = uids.length === 1 && uids[0] === uid;
  const permits = item<boolean[]>(ctx, "ValidatorPermit").get(netuid);
  if (!selfWeight && !isOwner && !permits[uid]) throw new ModuleFail("NeuronNoValidatorPermit");
  if (new Set(uids).size !== uids.length) throw new ModuleFail("DuplicateUids");
  if (uids.some((u) => u >= n)) throw new ModuleFail("UidVecContainInvalidOne");
  const minWeights = Math.min(item<number>(ctx, "MinAllowedWeights").get(netuid), n);
  if (!selfWeight && uids.length < minWeights) throw new ModuleFail("WeightVecLengthIsLow");
}

/** The weights rate limit: a uid that set (or committed) weights fewer than the limit's blocks ago must wait. */
function weightsTooSoon(ctx: RuntimeContext, netuid: number, uid: number): boolean {
  const last = item<bigint[]>(ctx, "LastUpdate").get(netuid)[uid] ?? 0n;
  const limit = item<bigint>(ctx, "WeightsSetRateLimit").get(netuid);
  return last !== 0n && BigInt(ctx.blockNumber) - last < limit;
}

/** Stores weights max-upscaled so the largest is 65535, as subtensor does. */
function storeWeights(ctx: RuntimeContext, netuid: number, uid: number, uids: number[], values: number[]) {
  const max = values.reduce((a, b) => Math.max(a, b), 0);
  const row: [number, number][] = [];
  uids.forEach((target, i) => {
    const v = values[i] ?? 0;
    const scaled = max === 0 ? 0 : Math.floor((v * 65535) / max);
    if (scaled > 0 || max === 0) row.push([target, scaled]);
  });
  item<[number, number][]>(ctx, "Weights").set([netuid, uid], row);
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

/** Unexpired commits a hotkey may hold per subnet (subtensor's `internal_commit_weights`, step 8). */
export const MAX_UNREVEALED_COMMITS = 10;

const MECID_ARG = { name: "mecid", type: t.u8, typeName: "MechId" };

/** The transaction-pool rate-limit check of set_weights and set_mechanism_weights. */
function validateSetWeights(ctx: RuntimeContext, who: Uint8Array, netuid: number): void {
  if (item<boolean>(ctx, "CommitRevealWeightsEnabled").get(netuid)) return;
  const uid = uidOf(ctx, netuid, who);
  if (uid === undefined) return;
  if (weightsTooSoon(ctx, netuid, uid)) reject("SettingWeightsTooFast");
}

function setWeights(
  ctx: DispatchContext,
  netuid: number,
  mecid: number,
  uids: number[],
  values: number[],
  versionKey: bigint,
): void {
  if (item<boolean>(ctx, "CommitRevealWeightsEnabled").get(netuid))
    throw new ModuleFail("CommitRevealEnabled");
  const who = ensureSigned(ctx.origin);
  const { uid, n, isOwner } = checkWeights(ctx, who, netuid, uids, values, versionKey, mecid);
  if (weightsTooSoon(ctx, netuid, uid)) throw new ModuleFail("SettingWeightsTooFast");
  checkWeightContent(ctx, netuid, uid, n, isOwner, uids);
  storeWeights(ctx, netuid, uid, uids, values);
}

function commitWeights(ctx: DispatchContext, netuid: number, mecid: number, commitHash: Uint8Array): void {
  ensureMechanismExists(ctx, netuid, mecid);
  const who = ensureSigned(ctx.origin);
  if (!item<boolean>(ctx, "CommitRevealWeightsEnabled").get(netuid))
    throw new ModuleFail("CommitRevealDisabled");
  const uid = uidOf(ctx, netuid, who);
  if (uid === undefined) throw new ModuleFail("HotKeyNotRegisteredInSubNet");
  if (weightsTooSoon(ctx, netuid, uid)) throw new ModuleFail("CommittingWeightsTooFast");
  const epoch = item<bigint>(ctx, "SubnetEpochIndex").get(netuid);
  const period = item<bigint>(ctx, "RevealPeriodEpochs").get(netuid);
  const queue = (item<Commit[] | null>(ctx, "WeightCommits").get(netuid, who) ?? []).filter(
    ([, commitEpoch]) => commitEpoch + period >= epoch,
  );
  if (queue.length >= MAX_UNREVEALED_COMMITS) throw new ModuleFail("TooManyUnrevealedCommits");
  queue.push([commitHash, epoch, BigInt(ctx.blockNumber), 0n]);
  item<Commit[]>(ctx, "WeightCommits").set([netuid, who], queue);
  setVectorAt(ctx, "LastUpdate", netuid, uid, BigInt(ctx.blockNumber));
  ctx.emit(SUBTENSOR, "WeightsCommitted", [who, netuid, commitHash]);
}

function revealWeights(
  ctx: DispatchContext,
  netuid: number,
  mecid: number,
  uids: number[],
  values: number[],
  salt: number[],
  versionKey: bigint,
): void {
  const who = ensureSigned(ctx.origin);
  if (!item<boolean>(ctx, "CommitRevealWeightsEnabled").get(netuid))
    throw new ModuleFail("CommitRevealDisabled");
  // Commits live under the mechanism's storage index; the dev chain's only one is mechanism 0's
  // (the netuid itself), so another mechanism has no commits to reveal, as on subtensor.
  const queue = mecid === 0 ? item<Commit[] | null>(ctx, "WeightCommits").get(netuid, who) : null;
  if (!queue || queue.length === 0) throw new ModuleFail("NoWeightsCommitFound");
  const hash = commitHashOf(who, netuid, uids, values, salt, versionKey);
  const epoch = item<bigint>(ctx, "SubnetEpochIndex").get(netuid);
  const period = item<bigint>(ctx, "RevealPeriodEpochs").get(netuid);
  const index = queue.findIndex(([h]) => bytesEqual(h, hash));
  const live = queue.filter(([, commitEpoch]) => commitEpoch + period >= epoch);
  if (index < 0)
    throw new ModuleFail(live.length === 0 ? "NoWeightsCommitFound" : "InvalidRevealCommitHashNotMatch");
  const commitEpoch = (queue[index] as Commit)[1];
  if (commitEpoch + period < epoch) throw new ModuleFail("ExpiredWeightCommit");
  if (epoch !== commitEpoch + period) throw new ModuleFail("RevealTooEarly");
  const { uid, n, isOwner } = checkWeights(ctx, who, netuid, uids, values, versionKey, mecid);
  checkWeightContent(ctx, netuid, uid, n, isOwner, uids);
  const rest = queue.slice(index + 1);
  item<Commit[] | null>(ctx, "WeightCommits").set([netuid, who], rest.length > 0 ? rest : undefined);
  storeWeights(ctx, netuid, uid, uids, values);
  ctx.emit(SUBTENSOR, "WeightsRevealed", [who, netuid, hash]);
}

const SET_ARGS = [
  { name: "dests", type: t.vec(t.u16), typeName: "Vec<u16>" },
  { name: "weights", type: t.vec(t.u16), typeName: "Vec<u16>" },
  { name: "version_key", type: t.u64, typeName: "u64" },
];
const REVEAL_ARGS = [
  { name: "uids", type: t.vec(t.u16), typeName: "Vec<u16>" },
  { name: "values", type: t.vec(t.u16), typeName: "Vec<u16>" },
  { name: "salt", type: t.vec(t.u16), typeName: "Vec<u16>" },
  { name: "version_key", type: t.u64, typeName: "u64" },
];
const COMMIT_HASH_ARG = { name: "commit_hash", type: H256, typeName: "H256" };

/** The mechanism id of a call: its `mecid` argument, or 0 (the main mechanism) for the plain calls. */
const mecidOf = (a: Record<string, unknown>) => (a.mecid as number | undefined) ?? 0;

const setWeightsCall = (name: string, index: number, args: CallDef["args"]): CallDef => ({
  name,
  index,
  pays: false,
  args,
  validate(ctx, a) {
    validateSetWeights(ctx as unknown as RuntimeContext, ensureSigned(ctx.origin), a.netuid as number);
  },
  handler: withFail((ctx, a) =>
    setWeights(
      ctx,
      a.netuid as number,
      mecidOf(a),
      a.dests as number[],
      a.weights as number[],
      BigInt(a.version_key as bigint),
    ),
  ),
});

const commitWeightsCall = (name: string, index: number, args: CallDef["args"]): CallDef => ({
  name,
  index,
  pays: false,
  args,
  handler: withFail((ctx, a) =>
    commitWeights(ctx, a.netuid as number, mecidOf(a), a.commit_hash as Uint8Array),
  ),
});

const revealWeightsCall = (name: string, index: number, args: CallDef["args"]): CallDef => ({
  name,
  index,
  pays: false,
  args,
  handler: withFail((ctx, a) =>
    revealWeights(
      ctx,
      a.netuid as number,
      mecidOf(a),
      a.uids as number[],
      a.values as number[],
      a.salt as number[],
      BigInt(a.version_key as bigint),
    ),
  ),
});

/** The weights calls. */
export const weightsCalls: CallDef[] = [
  setWeightsCall("set_weights", 0, [NETUID_ARG, ...SET_ARGS]),
  commitWeightsCall("commit_weights", 96, [NETUID_ARG, COMMIT_HASH_ARG]),
  revealWeightsCall("reveal_weights", 97, [NETUID_ARG, ...REVEAL_ARGS]),
  commitWeightsCall("commit_mechanism_weights", 115, [NETUID_ARG, MECID_ARG, COMMIT_HASH_ARG]),
  revealWeightsCall("reveal_mechanism_weights", 116, [NETUID_ARG, MECID_ARG, ...REVEAL_ARGS]),
  setWeightsCall("set_mechanism_weights", 119, [NETUID_ARG, MECID_ARG, ...SET_ARGS]),
];
