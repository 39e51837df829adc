/**
 * How a subnet's emission is split per block and paid out at its epoch, as pure functions: the
 * one copy the dev chain (SubtensorModule's coinbase and epoch) and the fast mode
 * (sim/fast/run-fast.ts) both call, so an experiment pays exactly as the chain it models.
 * Follows subtensor's `coinbase/run_coinbase.rs` (../shared/reference/subtensor-api.md, 6.2)
 * without the root network's slice, which the dev chain does not model.
 */

const U16_MAX = 65535n;

/** One block's emission, split into the three pending buckets. */
export interface EmissionSplit {
  /** The subnet owner's cut, rao. */
  ownerCut: bigint;
  /** The miners' half of the rest (`PendingServerEmission`), rao. */
  server: bigint;
  /** The validators' half of the rest (`PendingValidatorEmission`), rao; takes the odd rao. */
  validator: bigint;
}

/**
 * Splits one block's emission: the owner cut first (`ownerCut` a u16 fraction of 65535, 0 when
 * the subnet's owner cut is disabled), then the rest half to miners and half to validators.
 *
 * @example splitBlockEmission(1_000_000_000n, 11796) // { ownerCut: 179995422n, server: 410002289n, validator: 410002289n }
 */
export function splitBlockEmission(blockEmission: bigint, ownerCut: number): EmissionSplit {
  const cut = (blockEmission * BigInt(ownerCut)) / U16_MAX;
  const rest = blockEmission - cut;
  const server = rest / 2n;
  return { ownerCut: cut, server, validator: rest - server };
}

export interface PayoutInput {
  /** Rao accrued for miners since the last epoch (the server bucket). */
  server: bigint;
  /** Rao accrued for validators since the last epoch (the validator bucket). */
  validator: bigint;
  /** The epoch's u16 incentive per uid. */
  incentive: ArrayLike<number>;
  /** The epoch's u16 dividends per uid. */
  dividends: ArrayLike<number>;
  /**
   * Whether a uid is one of the subnet owner's own hotkeys, whose incentive is withheld (subtensor
   * burns it). Asked only for uids that earned some incentive. Default: none is.
   */
  isOwnerUid?: (uid: number) => boolean;
}

/** An epoch's payout per uid, in rao. */
export interface Payout {
  /** Each uid's share of the server bucket by incentive, before withholding (what the chain reports in `IncentiveAlphaEmittedToMiners`). */
  incentiveShare: bigint[];
  /** Miner incentive paid: `incentiveShare` with the owner's uids at 0. */
  minerIncentive: bigint[];
  /** Validator dividends paid, from the validator bucket (both buckets when no uid has incentive). */
  validatorDividends: bigint[];
  /** Incentive withheld from the owner's uids, burned. */
  withheld: bigint;
}

/**
 * Pays an epoch: miners from the server bucket by incentive share, validators from the validator
 * bucket by dividend share; with no incentive at all the validators take both buckets. Shares
 * round down, so a few rao per bucket go unpaid.
 *
 * @example payEpoch({ server: 100n, validator: 100n, incentive: [0, 65535], dividends: [65535, 0] })
 * // { incentiveShare: [0n, 100n], minerIncentive: [0n, 100n], validatorDividends: [100n, 0n], withheld: 0n }
 */
export function payEpoch(input: PayoutInput): Payout {
  const { server, validator, incentive, dividends, isOwnerUid } = input;
  const n = incentive.length;
  let incentiveTotal = 0;
  let dividendTotal = 0;
  for (let uid = 0; uid < n; uid++) {
    incentiveTotal += incentive[uid] ?? 0;
    dividendTotal += dividends[uid] ?? 0;
  }
  const validatorPool = incentiveTotal === 0 ? server + validator : validator;
  const incentiveShare = new Array<bigint>(n).fill(0n);
  const minerIncentive = new Array<bigint>(n).fill(0n);
  const validatorDividends = new Array<bigint>(n).fill(0n);
  let withheld = 0n;
  for (let uid = 0; uid < n; uid++) {
    if (incentiveTotal > 0) {
      const share = (server * BigInt(incentive[uid] ?? 0)) / BigInt(incentiveTotal);
      incentiveShare[uid] = share;
      if (share > 0n && isOwnerUid?.(uid)) withheld += share;
      else minerIncentive[uid] = share;
    }
    if (dividendTotal > 0) {
      validatorDividends[uid] = (validatorPool * BigInt(dividends[uid] ?? 0)) / BigInt(dividendTotal);
    }
  }
  return { incentiveShare, minerIncentive, validatorDividends, withheld };
}
