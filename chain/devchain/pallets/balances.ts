/**
 * pallet_balances over System.Account: transfers with existential-deposit rules, and helpers
 * (`transfer`, `deposit`, `withdraw`) other pallets use to move TAO.
 */
import { bytesEqual } from "../../../protocol/bytes.js";
import {
  DispatchError,
  ensureRoot,
  ensureSigned,
  ModuleError,
  type PalletDef,
  type RuntimeContext,
} from "../pallet.js";
import { ACCOUNT_ID, t, type VariantValue } from "../scale.js";
import { type AccountInfo, BALANCE, MULTI_ADDRESS } from "../types.js";

/** Subtensor's existential deposit: 500 rao. */
export const EXISTENTIAL_DEPOSIT = 500n;

/** The account id behind a MultiAddress argument. */
export function lookupAddress(address: unknown): Uint8Array {
  const a = address as VariantValue;
  if ((a?.tag === "Id" || a?.tag === "Address32") && a.value instanceof Uint8Array && a.value.length === 32)
    return a.value;
  throw DispatchError.cannotLookup();
}

function accounts(ctx: RuntimeContext) {
  return ctx.storage<AccountInfo>("System", "Account");
}

/** `who`'s free balance, in rao. */
export function freeBalance(ctx: RuntimeContext, who: Uint8Array): bigint {
  return accounts(ctx).get(who).data.free;
}

/** Credits `amount` of new issuance to `who`, creating the account if needed (fails below ED). */
export function deposit(ctx: RuntimeContext, who: Uint8Array, amount: bigint): void {
  creditAccount(ctx, who, amount);
  ctx.storage<bigint>("Balances", "TotalIssuance").mutate([], (v) => v + amount);
  ctx.emit("Balances", "Deposit", { who, amount });
}

/** Burns `amount` from `who`'s free balance; the account must stay above the existential deposit. */
export function withdraw(ctx: RuntimeContext, who: Uint8Array, amount: bigint): void {
  const info = accounts(ctx).get(who);
  if (info.data.free < amount) throw new ModuleError("Balances", "InsufficientBalance");
  const free = info.data.free - amount;
  if (free < EXISTENTIAL_DEPOSIT && free !== 0n) throw new ModuleError("Balances", "Expendability");
  accounts(ctx).set([who], { ...info, data: { ...info.data, free } });
  ctx.storage<bigint>("Balances", "TotalIssuance").mutate([], (v) => v - amount);
  ctx.emit("Balances", "Withdraw", { who, amount });
}

function creditAccount(ctx: RuntimeContext, who: Uint8Array, amount: bigint): void {
  const info = accounts(ctx).get(who);
  const isNew = info.providers === 0;
  if (isNew && amount < EXISTENTIAL_DEPOSIT) throw new ModuleError("Balances", "ExistentialDeposit");
  const free = info.data.free + amount;
  if (free >= 1n << 64n) throw DispatchError.arithmetic("Overflow");
  accounts(ctx).set([who], { ...info, providers: isNew ? 1 : info.providers, data: { ...info.data, free } });
  if (isNew) {
    ctx.emit("System", "NewAccount", { account: who });
    ctx.emit("Balances", "Endowed", { account: who, free_balance: free });
  }
}

/** Moves `amount` of free balance; `keepAlive` refuses to take `from` below the existential deposit. */
export function transfer(
  ctx: RuntimeContext,
  from: Uint8Array,
  to: Uint8Array,
  amount: bigint,
  keepAlive: boolean,
): void {
  if (amount === 0n || bytesEqual(from, to)) {
    ctx.emit("Balances", "Transfer", { from, to, amount });
    return;
  }
  const info = accounts(ctx).get(from);
  if (info.data.free < amount) throw new ModuleError("Balances", "InsufficientBalance");
  const left = info.data.free - amount;
  let dust = 0n;
  if (left < EXISTENTIAL_DEPOSIT) {
    if (keepAlive) throw new ModuleError("Balances", "Expendability");
    dust = left;
  }
  if (left < EXISTENTIAL_DEPOSIT) {
    accounts(ctx).remove(from);
  } else {
    accounts(ctx).set([from], { ...info, data: { ...info.data, free: left } });
  }
  creditAccount(ctx, to, amount);
  ctx.emit("Balances", "Transfer", { from, to, amount });
  if (left < EXISTENTIAL_DEPOSIT) {
    if (dust > 0n) {
      ctx.storage<bigint>("Balances", "TotalIssuance").mutate([], (v) => v - dust);
      ctx.emit("Balances", "DustLost", { account: from, amount: dust });
    }
    ctx.emit("System", "KilledAccount", { account: from });
  }
}

const who = { type: ACCOUNT_ID, typeName: "T::AccountId" };
const amount = { type: BALANCE, typeName: "T::Balance" };
const dest = { name: "dest", type: MULTI_ADDRESS, typeName: "AccountIdLookupOf<T>" };
const value = { name: "value", type: t.compact(BALANCE), typeName: "T::Balance" };

export function balancesPallet(): PalletDef {
  return {
    name: "Balances",
    index: 5,
    storage: [
      { name: "TotalIssuance", type: BALANCE },
      { name: "InactiveIssuance", type: BALANCE },
    ],
    calls: [
      {
        name: "transfer_allow_death",
        index: 0,
        args: [dest, value],
        handler(ctx, args) {
          transfer(
            ctx,
            ensureSigned(ctx.origin),
            lookupAddress(args.dest),
            BigInt(args.value as bigint),
            false,
          );
        },
      },
      {
        name: "force_transfer",
        index: 2,
        args: [{ name: "source", type: MULTI_ADDRESS, typeName: "AccountIdLookupOf<T>" }, dest, value],
        handler(ctx, args) {
          ensureRoot(ctx.origin);
          transfer(
            ctx,
            lookupAddress(args.source),
            lookupAddress(args.dest),
            BigInt(args.value as bigint),
            false,
          );
        },
      },
      {
        name: "transfer_keep_alive",
        index: 3,
        args: [dest, value],
        handler(ctx, args) {
          transfer(
            ctx,
            ensureSigned(ctx.origin),
            lookupAddress(args.dest),
            BigInt(args.value as bigint),
            true,
          );
        },
      },
      {
        name: "transfer_all",
        index: 4,
        args: [dest, { name: "keep_alive", type: t.bool, typeName: "bool" }],
        handler(ctx, args) {
          const from = ensureSigned(ctx.origin);
          const free = ctx.storage<AccountInfo>("System", "Account").get(from).data.free;
          const keepAlive = args.keep_alive as boolean;
          const all = keepAlive ? (free > EXISTENTIAL_DEPOSIT ? free - EXISTENTIAL_DEPOSIT : 0n) : free;
          transfer(ctx, from, lookupAddress(args.dest), all, keepAlive);
        },
      },
      {
        name: "force_set_balance",
        index: 8,
        args: [
          { name: "who", type: MULTI_ADDRESS, typeName: "AccountIdLookupOf<T>" },
          { name: "new_free", type: t.compact(BALANCE), typeName: "T::Balance" },
        ],
        handler(ctx, args) {
          ensureRoot(ctx.origin);
          const account = lookupAddress(args.who);
          const requested = BigInt(args.new_free as bigint);
          // Below the existential deposit the account is reaped, as pallet_balances does.
          const free = requested < EXISTENTIAL_DEPOSIT ? 0n : requested;
          const info = ctx.storage<AccountInfo>("System", "Account").get(account);
          const old = info.data.free;
          if (free > old) creditAccount(ctx, account, free - old);
          else if (free === 0n && info.providers > 0) {
            ctx.storage<AccountInfo>("System", "Account").remove(account);
            ctx.emit("System", "KilledAccount", { account });
          } else if (free < old) {
            ctx
              .storage<AccountInfo>("System", "Account")
              .set([account], { ...info, data: { ...info.data, free } });
          }
          ctx.storage<bigint>("Balances", "TotalIssuance").mutate([], (v) => v + free - old);
          ctx.emit("Balances", "BalanceSet", { who: account, free });
        },
      },
    ],
    events: [
      { name: "Endowed", fields: { account: who, free_balance: amount } },
      { name: "DustLost", fields: { account: who, amount } },
      { name: "Transfer", fields: { from: who, to: who, amount } },
      { name: "BalanceSet", fields: { who, free: amount } },
      { name: "Reserved", fields: { who, amount } },
      { name: "Unreserved", fields: { who, amount } },
      {
        name: "ReserveRepatriated",
        fields: {
          from: who,
          to: who,
          amount,
          destination_status: {
            type: t.enum(["frame_support", "traits", "tokens", "misc", "BalanceStatus"], {
              Free: [],
              Reserved: [],
            }),
            typeName: "Status",
          },
        },
      },
      { name: "Deposit", fields: { who, amount } },
      { name: "Withdraw", fields: { who, amount } },
      { name: "Slashed", fields: { who, amount } },
      { name: "Minted", fields: { who, amount } },
      { name: "Burned", fields: { who, amount } },
    ],
    errors: [
      { name: "VestingBalance" },
      { name: "LiquidityRestrictions" },
      { name: "InsufficientBalance" },
      { name: "ExistentialDeposit" },
      { name: "Expendability" },
      { name: "ExistingVestingSchedule" },
      { name: "DeadAccount" },
      { name: "TooManyReserves" },
      { name: "TooManyHolds" },
      { name: "TooManyFreezes" },
      { name: "IssuanceDeactivated" },
      { name: "DeltaZero" },
    ],
    constants: [
      { name: "ExistentialDeposit", type: BALANCE, value: EXISTENTIAL_DEPOSIT },
      { name: "MaxLocks", type: t.u32, value: 50 },
      { name: "MaxReserves", type: t.u32, value: 50 },
      { name: "MaxFreezes", type: t.u32, value: 50 },
    ],
    genesis(ctx) {
      let total = 0n;
      for (const a of ctx.accounts) {
        if (a.balance < EXISTENTIAL_DEPOSIT) continue;
        const info = ctx.storage<AccountInfo>("System", "Account").get(a.id);
        ctx
          .storage<AccountInfo>("System", "Account")
          .set([a.id], { ...info, providers: 1, data: { ...info.data, free: info.data.free + a.balance } });
        total += a.balance;
      }
      ctx.storage<bigint>("Balances", "TotalIssuance").mutate([], (v) => v + total);
    },
  };
}
