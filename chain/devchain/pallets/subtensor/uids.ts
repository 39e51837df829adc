/**
 * A subnet's uids (subtensor's `subnets/uids.rs`): the hotkey-to-uid map, the per-uid vectors, and
 * appending a neuron or replacing the least valuable one when the subnet is full.
 */
import { bytesEqual } from "../../../../protocol/bytes.js";
import type { RuntimeContext } from "../../pallet.js";
import { ModuleFail } from "./module-errors.js";
import { item } from "./storage.js";

export function uidOf(ctx: RuntimeContext, netuid: number, hotkey: Uint8Array): number | undefined {
  const uid = item<number | undefined>(ctx, "Uids").get(netuid, hotkey);
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

export function setVectorAt(
  ctx: RuntimeContext,
  name: string,
  netuid: number,
  uid: number,
  value: unknown,
): void {
  item<unknown[]>(ctx, name).mutate([netuid], (list) => {
    const next = [...list];
    while (next.length <= uid) next.push(value);
    next[uid] = value;
    return next;
  });
}

/** Registers `hotkey` on `netuid`: appends a uid or replaces the least valuable one. */
export function appendOrReplaceNeuron(ctx: RuntimeContext, netuid: number, hotkey: Uint8Array): number {
  const n = item<number>(ctx, "SubnetworkN").get(netuid);
  const maxUids = item<number>(ctx, "MaxAllowedUids").get(netuid);
  const now = BigInt(ctx.blockNumber);
  let uid: number;
  if (n < maxUids) {
    uid = n;
    item<number>(ctx, "SubnetworkN").set([netuid], n + 1);
  } else {
    uid = pruneCandidate(ctx, netuid, n);
    const old = item<Uint8Array>(ctx, "Keys").get(netuid, uid);
    item(ctx, "Uids").remove(netuid, old);
    item(ctx, "IsNetworkMember").remove(old, netuid);
    item(ctx, "Axons").remove(netuid, old);
    item(ctx, "Weights").remove(netuid, uid);
    item(ctx, "Bonds").remove(netuid, uid);
  }
  for (const [name, zero] of UID_VECTORS) setVectorAt(ctx, name, netuid, uid, zero);
  setVectorAt(ctx, "LastUpdate", netuid, uid, now);
  item<Uint8Array>(ctx, "Keys").set([netuid, uid], hotkey);
  item<number>(ctx, "Uids").set([netuid, hotkey], uid);
  item<boolean>(ctx, "IsNetworkMember").set([hotkey, netuid], true);
  item<bigint>(ctx, "BlockAtRegistration").set([netuid, uid], now);
  return uid;
}

/**
 * The uid a full subnet gives up: lowest emission, ties to the earliest registration, then the
 * lowest uid; uids still in their immunity period and the owner's hotkey are spared while any
 * other candidate exists.
 */
function pruneCandidate(ctx: RuntimeContext, netuid: number, n: number): number {
  const emission = item<bigint[]>(ctx, "Emission").get(netuid);
  const immunity = BigInt(item<number>(ctx, "ImmunityPeriod").get(netuid));
  const ownerHotkey = item<Uint8Array>(ctx, "SubnetOwnerHotkey").get(netuid);
  const now = BigInt(ctx.blockNumber);
  let best = -1;
  let bestKey: [number, bigint, bigint, number] | undefined;
  for (let uid = 0; uid < n; uid++) {
    const hotkey = item<Uint8Array>(ctx, "Keys").get(netuid, uid);
    if (bytesEqual(hotkey, ownerHotkey)) continue;
    const registered = item<bigint>(ctx, "BlockAtRegistration").get(netuid, uid);
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
