/**
 * Transaction fees: a flat base fee, a per-byte fee and a weight fee, withdrawn from the signer's
 * free balance before dispatch (Balances.Withdraw) and reported after it (TransactionFeePaid).
 */
import type { CallDef, DispatchClass, PalletDef, RuntimeCallValue, RuntimeContext } from "../pallet.js";
import { ACCOUNT_ID, t } from "../scale.js";
import { type AccountInfo, BALANCE } from "../types.js";

export interface FeeConfig {
  /** Rao charged per transaction. */
  base: bigint;
  /** Rao per encoded byte. */
  perByte: bigint;
  /** Ref-time weight units per rao. */
  weightPerRao: bigint;
}

/** About 0.0003 TAO for a transfer: the same order as subtensor's. */
export const DEFAULT_FEES: FeeConfig = { base: 100_000n, perByte: 1_000n, weightPerRao: 1_000n };

export const DEFAULT_WEIGHT = 100_000_000n;

export interface CallDispatchInfo {
  weight: bigint;
  class: DispatchClass;
  pays: boolean;
}

export function callDispatchInfo(def: CallDef, call: RuntimeCallValue): CallDispatchInfo {
  const weight = typeof def.weight === "function" ? def.weight(call.args) : (def.weight ?? DEFAULT_WEIGHT);
  return { weight, class: def.class ?? "Normal", pays: def.pays !== false };
}

/** The fee before tip for a call of `info` encoded in `len` bytes. */
export function computeFee(fees: FeeConfig, info: CallDispatchInfo, len: number): bigint {
  if (!info.pays) return 0n;
  return fees.base + fees.perByte * BigInt(len) + info.weight / fees.weightPerRao;
}

export interface FeeBreakdown {
  baseFee: bigint;
  lenFee: bigint;
  adjustedWeightFee: bigint;
}

export function feeBreakdown(fees: FeeConfig, info: CallDispatchInfo, len: number): FeeBreakdown | null {
  if (!info.pays) return null;
  return {
    baseFee: fees.base,
    lenFee: fees.perByte * BigInt(len),
    adjustedWeightFee: info.weight / fees.weightPerRao,
  };
}

/** Withdraws `amount` from `who`'s free balance (the fee burns); false if it cannot pay. */
export function withdrawFee(ctx: RuntimeContext, who: Uint8Array, amount: bigint): boolean {
  if (amount === 0n) return true;
  const accounts = ctx.storage<AccountInfo>("System", "Account");
  const info = accounts.get(who);
  if (info.data.free < amount) return false;
  accounts.set([who], { ...info, data: { ...info.data, free: info.data.free - amount } });
  ctx.storage<bigint>("Balances", "TotalIssuance").mutate([], (v) => v - amount);
  ctx.emit("Balances", "Withdraw", { who, amount });
  return true;
}

export function transactionPaymentPallet(): PalletDef {
  return {
    name: "TransactionPayment",
    index: 6,
    storage: [
      {
        name: "NextFeeMultiplier",
        type: t.newtype(["sp_arithmetic", "fixed_point", "FixedU128"], t.u128),
        default: 10n ** 18n,
      },
    ],
    events: [
      {
        name: "TransactionFeePaid",
        fields: {
          who: { type: ACCOUNT_ID, typeName: "T::AccountId" },
          actual_fee: { type: BALANCE, typeName: "BalanceOf<T>" },
          tip: { type: BALANCE, typeName: "BalanceOf<T>" },
        },
      },
    ],
    constants: [{ name: "OperationalFeeMultiplier", type: t.u8, value: 5 }],
  };
}
