/**
 * Weights (subtensor's `subnets/weights.rs`): `set_weights` and commit-reveal v2's
 * `commit_weights` and `reveal_weights`, with their checks and rate limit.
 */

import { blake2AsU8a } from "@polkadot/util-crypto";
import { bytesEqual } from "../../../../protocol/bytes.js";
import { type CallDef, ensureSigned, type RuntimeContext } from "../../pallet.js";
import { ACCOUNT_ID, encode, H256, t } from "../../scale.js";
import { ModuleFail, reject, withFail } from "./module-errors.js";
import { item, NETUID_ARG, SUBTENSOR, subnetExists } from "./storage.js";
import { setVectorAt, uidOf } from "./uids.js";

/** The weight checks shared by setWeights and revealWeights (reference 1.6), rate limit excluded. */
function checkWeights(
  ctx: RuntimeContext,
  who: Uint8Array,
  netuid: number,
  uids: number[],
  values: number[],
  versionKey: bigint,
) {
  if (netuid === 0) throw new ModuleFail("CanNotSetRootNetworkWeights");
  if (uids.length !== values.length) throw new ModuleFail("WeightVecNotEqualSize");
  if (!subnetExists(ctx, netuid)) throw new ModuleFail("MechanismDoesNotExist");
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

/** The weights calls. */
export const weightsCalls: CallDef[] = [
  {
    name: "set_weights",
    index: 0,
    pays: false,
    args: [
      NETUID_ARG,
      { name: "dests", type: t.vec(t.u16), typeName: "Vec<u16>" },
      { name: "weights", type: t.vec(t.u16), typeName: "Vec<u16>" },
      { name: "version_key", type: t.u64, typeName: "u64" },
    ],
    validate(ctx, a) {
      const who = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      const c = ctx as unknown as RuntimeContext;
      if (item<boolean>(c, "CommitRevealWeightsEnabled").get(netuid)) return;
      const uid = uidOf(c, netuid, who);
      if (uid === undefined) return;
      if (weightsTooSoon(c, netuid, uid)) reject("SettingWeightsTooFast");
    },
    handler: withFail((ctx, a) => {
      const who = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      const uids = a.dests as number[];
      const values = a.weights as number[];
      if (item<boolean>(ctx, "CommitRevealWeightsEnabled").get(netuid))
        return ctx.fail("CommitRevealEnabled");
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
    name: "commit_weights",
    index: 96,
    pays: false,
    args: [NETUID_ARG, { name: "commit_hash", type: H256, typeName: "H256" }],
    handler: withFail((ctx, a) => {
      const who = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      if (!subnetExists(ctx, netuid)) return ctx.fail("MechanismDoesNotExist");
      if (!item<boolean>(ctx, "CommitRevealWeightsEnabled").get(netuid))
        return ctx.fail("CommitRevealDisabled");
      const uid = uidOf(ctx, netuid, who);
      if (uid === undefined) return ctx.fail("HotKeyNotRegisteredInSubNet");
      if (weightsTooSoon(ctx, netuid, uid)) return ctx.fail("CommittingWeightsTooFast");
      const epoch = item<bigint>(ctx, "SubnetEpochIndex").get(netuid);
      const period = item<bigint>(ctx, "RevealPeriodEpochs").get(netuid);
      const queue = (item<Commit[] | null>(ctx, "WeightCommits").get(netuid, who) ?? []).filter(
        ([, commitEpoch]) => commitEpoch + period >= epoch,
      );
      if (queue.length >= 10) return ctx.fail("TooManyUnrevealedCommits");
      queue.push([a.commit_hash as Uint8Array, epoch, BigInt(ctx.blockNumber), 0n]);
      item<Commit[]>(ctx, "WeightCommits").set([netuid, who], queue);
      setVectorAt(ctx, "LastUpdate", netuid, uid, BigInt(ctx.blockNumber));
      ctx.emit(SUBTENSOR, "WeightsCommitted", [who, netuid, a.commit_hash]);
    }),
  },
  {
    name: "reveal_weights",
    index: 97,
    pays: false,
    args: [
      NETUID_ARG,
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
      if (!item<boolean>(ctx, "CommitRevealWeightsEnabled").get(netuid))
        return ctx.fail("CommitRevealDisabled");
      const queue = item<Commit[] | null>(ctx, "WeightCommits").get(netuid, who);
      if (!queue || queue.length === 0) return ctx.fail("NoWeightsCommitFound");
      const hash = commitHashOf(who, netuid, uids, values, a.salt as number[], versionKey);
      const epoch = item<bigint>(ctx, "SubnetEpochIndex").get(netuid);
      const period = item<bigint>(ctx, "RevealPeriodEpochs").get(netuid);
      const index = queue.findIndex(([h]) => bytesEqual(h, hash));
      const live = queue.filter(([, commitEpoch]) => commitEpoch + period >= epoch);
      if (index < 0)
        return ctx.fail(live.length === 0 ? "NoWeightsCommitFound" : "InvalidRevealCommitHashNotMatch");
      const commitEpoch = (queue[index] as Commit)[1];
      if (commitEpoch + period < epoch) return ctx.fail("ExpiredWeightCommit");
      if (epoch !== commitEpoch + period) return ctx.fail("RevealTooEarly");
      const { uid, n, isOwner } = checkWeights(ctx, who, netuid, uids, values, versionKey);
      checkWeightContent(ctx, netuid, uid, n, isOwner, uids);
      const rest = queue.slice(index + 1);
      item<Commit[] | null>(ctx, "WeightCommits").set([netuid, who], rest.length > 0 ? rest : undefined);
      storeWeights(ctx, netuid, uid, uids, values);
      ctx.emit(SUBTENSOR, "WeightsRevealed", [who, netuid, hash]);
    }),
  },
];
