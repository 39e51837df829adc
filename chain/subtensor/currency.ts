/**
 * TAO balance moves the subtensor pallets make (burns, lock costs, stake in and out), on
 * `System.Account` directly, the way pallet_balances' Currency trait does on chain.
 */
import type { RuntimeContext } from "../devchain/pallet.js";
import type { AccountInfo } from "../devchain/types.js";

function accounts(ctx: RuntimeContext) {
  return ctx.storage<AccountInfo>("System", "Account");
}

export function freeBalance(ctx: RuntimeContext, who: Uint8Array): bigint {
  return accounts(ctx).get(who).data.free;
}

/** Takes `amount` from `who`'s free balance; false (and nothing moved) when it is not there. */
export function withdraw(ctx: RuntimeContext, who: Uint8Array, amount: bigint): boolean {
  const info = accounts(ctx).get(who);
  if (info.data.free < amount) return false;
  accounts(ctx).set([who], { ...info, data: { ...info.data, free: info.data.free - amount } });
  return true;
}

/** Adds `amount` to `who`'s free balance, creating the account if needed. */
export function deposit(ctx: RuntimeContext, who: Uint8Array, amount: bigint): void {
  const info = accounts(ctx).get(who);
  const providers = info.providers === 0 ? 1 : info.providers;
  accounts(ctx).set([who], { ...info, providers, data: { ...info.data, free: info.data.free + amount } });
}
