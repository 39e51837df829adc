/**
 * Staking calls (subtensor's `staking/add_stake.rs`, `staking/remove_stake.rs`); the share
 * accounting behind them is in stake.ts.
 */
import { bytesEqual } from "../../../../protocol/bytes.js";
import { type CallDef, ensureSigned } from "../../pallet.js";
import { t } from "../../scale.js";
import { deposit, freeBalance, withdraw } from "../balances.js";
import { withFail } from "./module-errors.js";
import { creditStake, debitStake, stakeOf } from "./stake.js";
import { ACCOUNT_ARG, DEFAULTS, item, NETUID_ARG, SUBTENSOR, subnetExists, ZERO_ACCOUNT } from "./storage.js";

/** The staking calls. */
export const stakingCalls: CallDef[] = [
  {
    name: "add_stake",
    index: 2,
    args: [
      { name: "hotkey", ...ACCOUNT_ARG },
      NETUID_ARG,
      { name: "amount_staked", type: t.u64, typeName: "TaoBalance" },
    ],
    handler: withFail((ctx, a) => {
      const coldkey = ensureSigned(ctx.origin);
      const hotkey = a.hotkey as Uint8Array;
      const netuid = a.netuid as number;
      const amount = BigInt(a.amount_staked as bigint);
      if (!subnetExists(ctx, netuid)) return ctx.fail("SubnetNotExists");
      if (!item<boolean>(ctx, "SubtokenEnabled").get(netuid)) return ctx.fail("SubtokenDisabled");
      if (amount < DEFAULTS.defaultMinStake) return ctx.fail("AmountTooLow");
      if (freeBalance(ctx, coldkey) < amount) return ctx.fail("NotEnoughBalanceToStake");
      if (bytesEqual(item<Uint8Array>(ctx, "Owner").get(hotkey), ZERO_ACCOUNT))
        return ctx.fail("HotKeyAccountNotExists");
      withdraw(ctx, coldkey, amount);
      creditStake(ctx, hotkey, coldkey, netuid, amount);
      item<bigint>(ctx, "SubnetTAO").mutate([netuid], (v) => v + amount);
      ctx.emit(SUBTENSOR, "StakeAdded", [coldkey, hotkey, amount, amount, netuid, 0n]);
    }),
  },
  {
    name: "remove_stake",
    index: 3,
    args: [
      { name: "hotkey", ...ACCOUNT_ARG },
      NETUID_ARG,
      { name: "amount_unstaked", type: t.u64, typeName: "AlphaBalance" },
    ],
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
      if (bytesEqual(item<Uint8Array>(ctx, "Owner").get(hotkey), ZERO_ACCOUNT))
        return ctx.fail("HotKeyAccountNotExists");
      debitStake(ctx, hotkey, coldkey, netuid, amount);
      item<bigint>(ctx, "SubnetTAO").mutate([netuid], (v) => (v > amount ? v - amount : 0n));
      deposit(ctx, coldkey, amount);
      ctx.emit(SUBTENSOR, "StakeRemoved", [coldkey, hotkey, amount, amount, netuid, 0n]);
    }),
  },
];
