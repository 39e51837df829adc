/**
 * Staking calls (subtensor's `staking/add_stake.rs`, `staking/remove_stake.rs`); the share
 * accounting behind them is in stake.ts.
 *
 * The limit-price calls (`add_stake_limit`, `remove_stake_limit`, `remove_stake_full_limit`; btcli's
 * default "safe staking") follow subtensor's path for a subnet without slippage (its root and
 * stable subnets): the dev chain prices every subnet at exactly 1 TAO per alpha, so an order either
 * fills in full (the limit is on the right side of 1.0) or not at all.
 */
import { bytesEqual } from "../../../../protocol/bytes.js";
import { type CallDef, type DispatchContext, ensureSigned } from "../../pallet.js";
import { t } from "../../scale.js";
import { deposit, freeBalance, withdraw } from "../balances.js";
import { withFail } from "./module-errors.js";
import { creditStake, debitStake, stakeOf } from "./stake.js";
import { ACCOUNT_ARG, DEFAULTS, item, NETUID_ARG, SUBTENSOR, subnetExists, ZERO_ACCOUNT } from "./storage.js";

/** The dev chain's alpha price in rao per alpha: stake converts 1:1. */
export const ALPHA_PRICE_RAO = 1_000_000_000n;

const U64_MAX = (1n << 64n) - 1n;

/** How much TAO a buy order with this limit may spend (subtensor's `get_max_amount_add`, stable case). */
function maxAmountAdd(limitPrice: bigint): bigint {
  return limitPrice >= ALPHA_PRICE_RAO ? U64_MAX : 0n;
}

/** How much alpha a sell order with this limit may sell (subtensor's `get_max_amount_remove`, stable case). */
function maxAmountRemove(limitPrice: bigint): bigint {
  return limitPrice <= ALPHA_PRICE_RAO ? U64_MAX : 0n;
}

const hotkeyExists = (ctx: DispatchContext, hotkey: Uint8Array) =>
  !bytesEqual(item<Uint8Array>(ctx, "Owner").get(hotkey), ZERO_ACCOUNT);

interface AddOrder {
  hotkey: Uint8Array;
  netuid: number;
  amount: bigint;
  /** Absent for `add_stake`: no limit. */
  limit?: { price: bigint; allowPartial: boolean };
}

/** `validate_add_stake` then `stake_into_subnet`, in subtensor's order of checks. */
function addStake(ctx: DispatchContext, coldkey: Uint8Array, order: AddOrder) {
  const { hotkey, netuid } = order;
  let amount = order.amount;
  if (!subnetExists(ctx, netuid)) return ctx.fail("SubnetNotExists");
  if (!item<boolean>(ctx, "SubtokenEnabled").get(netuid)) return ctx.fail("SubtokenDisabled");
  if (amount < DEFAULTS.defaultMinStake) return ctx.fail("AmountTooLow");
  if (order.limit) {
    const max = maxAmountAdd(order.limit.price);
    if (!order.limit.allowPartial && amount > max) return ctx.fail("SlippageTooHigh");
    if (amount > max) amount = max;
  }
  if (freeBalance(ctx, coldkey) < amount) return ctx.fail("NotEnoughBalanceToStake");
  if (!hotkeyExists(ctx, hotkey)) return ctx.fail("HotKeyAccountNotExists");
  // A partial order the limit cut to nothing is below the minimum stake.
  if (amount < DEFAULTS.defaultMinStake) return ctx.fail("AmountTooLow");
  withdraw(ctx, coldkey, amount);
  creditStake(ctx, hotkey, coldkey, netuid, amount);
  item<bigint>(ctx, "SubnetTAO").mutate([netuid], (v) => v + amount);
  ctx.emit(SUBTENSOR, "StakeAdded", [coldkey, hotkey, amount, amount, netuid, 0n]);
}

function unstake(
  ctx: DispatchContext,
  coldkey: Uint8Array,
  hotkey: Uint8Array,
  netuid: number,
  amount: bigint,
): void {
  debitStake(ctx, hotkey, coldkey, netuid, amount);
  item<bigint>(ctx, "SubnetTAO").mutate([netuid], (v) => (v > amount ? v - amount : 0n));
  deposit(ctx, coldkey, amount);
  ctx.emit(SUBTENSOR, "StakeRemoved", [coldkey, hotkey, amount, amount, netuid, 0n]);
}

/** `do_remove_stake_limit`: `validate_remove_stake`, then the part of the order the limit allows. */
function removeStakeLimit(
  ctx: DispatchContext,
  coldkey: Uint8Array,
  hotkey: Uint8Array,
  netuid: number,
  amount: bigint,
  limitPrice: bigint,
  allowPartial: boolean,
) {
  const max = maxAmountRemove(limitPrice);
  if (!subnetExists(ctx, netuid)) return ctx.fail("SubnetNotExists");
  if (amount === 0n) return ctx.fail("AmountTooLow");
  const have = stakeOf(ctx, hotkey, coldkey, netuid);
  if (amount > have) return ctx.fail("NotEnoughStakeToWithdraw");
  // Taking everything is allowed below the minimum; leaving dust behind is not.
  if (amount < have && amount < DEFAULTS.defaultMinStake) return ctx.fail("AmountTooLow");
  if (!allowPartial && amount > max) return ctx.fail("SlippageTooHigh");
  if (!hotkeyExists(ctx, hotkey)) return ctx.fail("HotKeyAccountNotExists");
  const executed = amount > max ? max : amount;
  if (executed > 0n) unstake(ctx, coldkey, hotkey, netuid, executed);
}

const HOTKEY = { name: "hotkey", ...ACCOUNT_ARG };
const LIMIT_PRICE = { name: "limit_price", type: t.u64, typeName: "TaoBalance" };
const ALLOW_PARTIAL = { name: "allow_partial", type: t.bool, typeName: "bool" };

/** The staking calls. */
export const stakingCalls: CallDef[] = [
  {
    name: "add_stake",
    index: 2,
    args: [HOTKEY, NETUID_ARG, { name: "amount_staked", type: t.u64, typeName: "TaoBalance" }],
    handler: withFail((ctx, a) =>
      addStake(ctx, ensureSigned(ctx.origin), {
        hotkey: a.hotkey as Uint8Array,
        netuid: a.netuid as number,
        amount: BigInt(a.amount_staked as bigint),
      }),
    ),
  },
  {
    name: "remove_stake",
    index: 3,
    args: [HOTKEY, NETUID_ARG, { name: "amount_unstaked", type: t.u64, typeName: "AlphaBalance" }],
    handler: withFail((ctx, a) => {
      const coldkey = ensureSigned(ctx.origin);
      const hotkey = a.hotkey as Uint8Array;
      const netuid = a.netuid as number;
      if (!item<boolean>(ctx, "SubtokenEnabled").get(netuid)) return ctx.fail("SubtokenDisabled");
      if (!subnetExists(ctx, netuid)) return ctx.fail("SubnetNotExists");
      const have = stakeOf(ctx, hotkey, coldkey, netuid);
      const requested = BigInt(a.amount_unstaked as bigint);
      const amount = requested > have ? have : requested;
      if (amount === 0n) return ctx.fail("AmountTooLow");
      if (amount < have && amount < DEFAULTS.defaultMinStake) return ctx.fail("AmountTooLow");
      if (!hotkeyExists(ctx, hotkey)) return ctx.fail("HotKeyAccountNotExists");
      unstake(ctx, coldkey, hotkey, netuid, amount);
    }),
  },
  {
    name: "add_stake_limit",
    index: 88,
    args: [
      HOTKEY,
      NETUID_ARG,
      { name: "amount_staked", type: t.u64, typeName: "TaoBalance" },
      LIMIT_PRICE,
      ALLOW_PARTIAL,
    ],
    handler: withFail((ctx, a) =>
      addStake(ctx, ensureSigned(ctx.origin), {
        hotkey: a.hotkey as Uint8Array,
        netuid: a.netuid as number,
        amount: BigInt(a.amount_staked as bigint),
        limit: { price: BigInt(a.limit_price as bigint), allowPartial: a.allow_partial as boolean },
      }),
    ),
  },
  {
    name: "remove_stake_limit",
    index: 89,
    args: [
      HOTKEY,
      NETUID_ARG,
      { name: "amount_unstaked", type: t.u64, typeName: "AlphaBalance" },
      LIMIT_PRICE,
      ALLOW_PARTIAL,
    ],
    handler: withFail((ctx, a) =>
      removeStakeLimit(
        ctx,
        ensureSigned(ctx.origin),
        a.hotkey as Uint8Array,
        a.netuid as number,
        BigInt(a.amount_unstaked as bigint),
        BigInt(a.limit_price as bigint),
        a.allow_partial as boolean,
      ),
    ),
  },
  {
    name: "remove_stake_full_limit",
    index: 103,
    args: [
      HOTKEY,
      NETUID_ARG,
      { name: "limit_price", type: t.option(t.u64), typeName: "Option<TaoBalance>" },
    ],
    handler: withFail((ctx, a) => {
      const coldkey = ensureSigned(ctx.origin);
      const hotkey = a.hotkey as Uint8Array;
      const netuid = a.netuid as number;
      const all = stakeOf(ctx, hotkey, coldkey, netuid);
      // Without a limit subtensor takes remove_stake's path, which has no price to respect.
      const limit =
        a.limit_price === null || a.limit_price === undefined ? 0n : BigInt(a.limit_price as bigint);
      removeStakeLimit(ctx, coldkey, hotkey, netuid, all, limit, false);
    }),
  },
];
