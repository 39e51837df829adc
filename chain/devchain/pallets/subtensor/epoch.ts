/**
 * The subnet epoch (subtensor's `epoch/run_epoch.rs` and the payout of `coinbase/run_coinbase.rs`):
 * reads the subnet into Yuma's inputs, runs `runEpoch`, pays the pending buckets out with
 * `payEpoch` (chain/yuma/payout.ts, shared with the fast mode) and stores the epoch's outputs.
 */
import { bytesEqual } from "../../../../protocol/bytes.js";
import {
  activityCutoffBlocks,
  type EpochOutput,
  type Row,
  runEpoch,
  type SparseRow,
  unpackRow,
} from "../../../yuma/epoch.js";
import { payEpoch } from "../../../yuma/payout.js";
import { isViewStorageHandle } from "../../executive.js";
import type { RuntimeContext } from "../../pallet.js";
import { decodePackedRow, encodePackedRow } from "./packed-row.js";
import { creditStake, payToHotkey } from "./stake.js";
import { item, SUBTENSOR } from "./storage.js";

/** Called with every epoch's full output (see `SubtensorModuleOptions.onEpoch`). */
export type EpochListener = (netuid: number, block: number, output: EpochOutput) => void;

/**
 * A subnet's weights or bonds rows by uid, packed. Each stored row is read once and the packed
 * arrays reused by later epochs while the row is unchanged (see `viewEntries`); they are only read.
 */
function readRows(ctx: RuntimeContext, name: string, netuid: number, n: number): (Row | undefined)[] {
  const rows: (Row | undefined)[] = new Array(n);
  const handle = item<SparseRow>(ctx, name);
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
export function runSubnetEpoch(ctx: RuntimeContext, netuid: number, onEpoch?: EpochListener): void {
  const n = item<number>(ctx, "SubnetworkN").get(netuid);
  const block = ctx.blockNumber;
  item<bigint>(ctx, "LastEpochBlock").set([netuid], BigInt(block));
  item<bigint>(ctx, "PendingEpochAt").set([netuid], 0n);
  item<bigint>(ctx, "SubnetEpochIndex").mutate([netuid], (v) => v + 1n);
  const server = item<bigint>(ctx, "PendingServerEmission").get(netuid);
  const validator = item<bigint>(ctx, "PendingValidatorEmission").get(netuid);
  const ownerCut = item<bigint>(ctx, "PendingOwnerCut").get(netuid);
  for (const name of ["PendingServerEmission", "PendingValidatorEmission", "PendingOwnerCut"]) {
    item<bigint>(ctx, name).set([netuid], 0n);
  }
  item<bigint>(ctx, "BlocksSinceLastStep").set([netuid], 0n);
  item<bigint>(ctx, "LastMechansimStepBlock").set([netuid], BigInt(block));
  const ownerColdkey = item<Uint8Array>(ctx, "SubnetOwner").get(netuid);
  const ownerHotkey = item<Uint8Array>(ctx, "SubnetOwnerHotkey").get(netuid);
  if (ownerCut > 0n) creditStake(ctx, ownerHotkey, ownerColdkey, netuid, ownerCut);
  if (n === 0) return;

  const keys = item<Uint8Array>(ctx, "Keys");
  const totalAlpha = item<bigint>(ctx, "TotalHotkeyAlpha");
  const registered = item<bigint>(ctx, "BlockAtRegistration");
  const hotkeys = Array.from({ length: n }, (_, uid) => keys.get(netuid, uid));
  const stake = hotkeys.map((h) => totalAlpha.get(h, netuid));
  const tempo = item<number>(ctx, "Tempo").get(netuid);
  const [alphaLow, alphaHigh] = item<[number, number]>(ctx, "AlphaValues").get(netuid);
  const out = runEpoch({
    block,
    stake,
    weights: readRows(ctx, "Weights", netuid, n),
    bonds: readRows(ctx, "Bonds", netuid, n),
    lastUpdate: item<bigint[]>(ctx, "LastUpdate").get(netuid).slice(0, n).map(Number),
    blockAtRegistration: Array.from({ length: n }, (_, uid) => Number(registered.get(netuid, uid))),
    validatorPermits: item<boolean[]>(ctx, "ValidatorPermit").get(netuid).slice(0, n),
    emission: server + validator,
    hyperparameters: {
      kappa: item<number>(ctx, "Kappa").get(netuid),
      bondsMovingAverage: Number(item<bigint>(ctx, "BondsMovingAverage").get(netuid)),
      bondsPenalty: item<number>(ctx, "BondsPenalty").get(netuid),
      liquidAlphaEnabled: item<boolean>(ctx, "LiquidAlphaOn").get(netuid),
      alphaLow,
      alphaHigh,
      alphaSigmoidSteepness: item<number>(ctx, "AlphaSigmoidSteepness").get(netuid),
      yuma3Enabled: item<boolean>(ctx, "Yuma3On").get(netuid),
      maxAllowedValidators: item<number>(ctx, "MaxAllowedValidators").get(netuid),
      activityCutoff: activityCutoffBlocks(item<number>(ctx, "ActivityCutoffFactorMilli").get(netuid), tempo),
      tempo,
      stakeThreshold: item<bigint>(ctx, "StakeThreshold").get(),
    },
  });

  const owners = item<Uint8Array>(ctx, "Owner");
  const ownerOf = (uid: number) => owners.get(hotkeys[uid] as Uint8Array);
  const pay = payEpoch({
    server,
    validator,
    incentive: out.incentive,
    dividends: out.dividends,
    // The subnet owner's own hotkeys: its hotkey, and any hotkey its coldkey owns.
    isOwnerUid: (uid) =>
      bytesEqual(hotkeys[uid] as Uint8Array, ownerHotkey) || bytesEqual(ownerOf(uid), ownerColdkey),
  });
  const emission: bigint[] = new Array(n).fill(0n);
  const dividendsItem = item<bigint>(ctx, "AlphaDividendsPerSubnet");
  for (let uid = 0; uid < n; uid++) {
    const hotkey = hotkeys[uid] as Uint8Array;
    const miner = pay.minerIncentive[uid] as bigint;
    if (miner > 0n) creditStake(ctx, hotkey, ownerOf(uid), netuid, miner);
    const dividends = pay.validatorDividends[uid] as bigint;
    if (dividends > 0n) payToHotkey(ctx, hotkey, netuid, dividends);
    // Written only where there is something to record (most uids are miners with none).
    if (dividends > 0n) dividendsItem.set([netuid, hotkey], dividends);
    else if (dividendsItem.has(netuid, hotkey)) dividendsItem.remove(netuid, hotkey);
    emission[uid] = miner + dividends;
  }
  item(ctx, "Active").set([netuid], out.active);
  item(ctx, "ValidatorPermit").set([netuid], out.validatorPermits);
  item(ctx, "Consensus").set([netuid], toU16(out.consensus));
  item(ctx, "Incentive").set([netuid], toU16(out.incentive));
  item(ctx, "Dividends").set([netuid], toU16(out.dividends));
  item(ctx, "ValidatorTrust").set([netuid], toU16(out.validatorTrust));
  item(ctx, "StakeWeight").set([netuid], toU16(out.stakeWeight));
  item(ctx, "Emission").set([netuid], emission);
  const bonds = item<[number, number][]>(ctx, "Bonds");
  for (let uid = 0; uid < n; uid++) {
    const packed = out.bonds[uid];
    if (!packed || packed.uids.length === 0) bonds.remove(netuid, uid);
    // Written from the packed row, which becomes the cached reading of the new bytes.
    else if (isViewStorageHandle(bonds))
      bonds.setEncoded([netuid, uid], encodePackedRow(packed), decodePackedRow, packed);
    else bonds.set([netuid, uid], unpackRow(packed));
  }
  ctx.emit(SUBTENSOR, "IncentiveAlphaEmittedToMiners", { netuid, emissions: pay.incentiveShare });
  onEpoch?.(netuid, block, out);
}
