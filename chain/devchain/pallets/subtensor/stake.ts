/**
 * Stake on the dev chain: subtensor's share accounting (`Alpha` shares over `TotalHotkeyAlpha`)
 * with the stable 1:1 conversion, so 1 TAO staked is 1 unit of subnet stake and experiments
 * control stake exactly.
 */
import { bytesEqual } from "../../../../protocol/bytes.js";
import type { RuntimeContext } from "../../pallet.js";
import { item } from "./storage.js";

const ONE = 1n << 64n;

type Fixed = { bits: bigint };

/** Stake of one coldkey on (hotkey, netuid), in rao. */
export function stakeOf(
  ctx: RuntimeContext,
  hotkey: Uint8Array,
  coldkey: Uint8Array,
  netuid: number,
): bigint {
  const total = item<bigint>(ctx, "TotalHotkeyAlpha").get(hotkey, netuid);
  const shares = item<Fixed>(ctx, "TotalHotkeyShares").get(hotkey, netuid).bits;
  if (shares === 0n) return 0n;
  const mine = item<Fixed>(ctx, "Alpha").get(hotkey, coldkey, netuid).bits;
  return (total * mine) / shares;
}

/** Adds `amount` of stake for `coldkey` on (hotkey, netuid), minting shares at the current rate. */
export function creditStake(
  ctx: RuntimeContext,
  hotkey: Uint8Array,
  coldkey: Uint8Array,
  netuid: number,
  amount: bigint,
): void {
  if (amount <= 0n) return;
  const totalAlpha = item<bigint>(ctx, "TotalHotkeyAlpha");
  const totalShares = item<Fixed>(ctx, "TotalHotkeyShares");
  const alpha = totalAlpha.get(hotkey, netuid);
  const shares = totalShares.get(hotkey, netuid).bits;
  const minted = shares === 0n || alpha === 0n ? amount * ONE : (amount * shares) / alpha;
  totalAlpha.set([hotkey, netuid], alpha + amount);
  totalShares.set([hotkey, netuid], { bits: shares + minted });
  const share = item<Fixed>(ctx, "Alpha");
  const before = share.get(hotkey, coldkey, netuid).bits;
  share.set([hotkey, coldkey, netuid], { bits: before + minted });
  // A new staking relationship; the list is only read and written when one starts.
  if (before === 0n) {
    item<Uint8Array[]>(ctx, "StakingHotkeys").mutate([coldkey], (list) =>
      list.some((h) => bytesEqual(h, hotkey)) ? list : [...list, hotkey],
    );
  }
}

/** Removes `amount` of stake of `coldkey` on (hotkey, netuid); the caller checked it is there. */
export function debitStake(
  ctx: RuntimeContext,
  hotkey: Uint8Array,
  coldkey: Uint8Array,
  netuid: number,
  amount: bigint,
): void {
  const totalAlpha = item<bigint>(ctx, "TotalHotkeyAlpha");
  const totalShares = item<Fixed>(ctx, "TotalHotkeyShares");
  const alpha = totalAlpha.get(hotkey, netuid);
  const shares = totalShares.get(hotkey, netuid).bits;
  if (alpha === 0n || shares === 0n) return;
  const mine = item<Fixed>(ctx, "Alpha").get(hotkey, coldkey, netuid).bits;
  // Round the burned shares up so a withdrawal never takes more value than it removes.
  const burned =
    (amount * shares + alpha - 1n) / alpha > mine ? mine : (amount * shares + alpha - 1n) / alpha;
  totalAlpha.set([hotkey, netuid], alpha - amount);
  totalShares.set([hotkey, netuid], { bits: shares - burned });
  item<Fixed>(ctx, "Alpha").set([hotkey, coldkey, netuid], { bits: mine - burned });
}

/**
 * Pays `amount` into a hotkey's stake pool (validator dividends): every staker's share grows. A
 * hotkey nobody stakes to yet is credited to its owner coldkey.
 */
export function payToHotkey(ctx: RuntimeContext, hotkey: Uint8Array, netuid: number, amount: bigint): void {
  if (amount <= 0n) return;
  const shares = item<Fixed>(ctx, "TotalHotkeyShares").get(hotkey, netuid).bits;
  if (shares === 0n) {
    const owner = item<Uint8Array>(ctx, "Owner").get(hotkey);
    creditStake(ctx, hotkey, owner, netuid, amount);
    return;
  }
  item<bigint>(ctx, "TotalHotkeyAlpha").mutate([hotkey, netuid], (v) => v + amount);
}
