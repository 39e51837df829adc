/**
 * The block step (subtensor's `coinbase/block_step.rs`, `coinbase/run_coinbase.rs`): every block
 * the burn price decays, emission accrues into the subnet's pending buckets, and the epochs that
 * are due run.
 */
import { splitBlockEmission } from "../../../yuma/payout.js";
import type { RuntimeContext } from "../../pallet.js";
import { type EpochListener, runSubnetEpoch } from "./epoch.js";
import { clampBurn } from "./registration.js";
import { item } from "./storage.js";

function emitsThisBlock(ctx: RuntimeContext, netuid: number): boolean {
  if (netuid === 0) return false;
  const first = item<bigint | undefined>(ctx, "FirstEmissionBlockNumber").get(netuid);
  return (
    first !== undefined &&
    BigInt(ctx.blockNumber) >= first &&
    item<boolean>(ctx, "SubtokenEnabled").get(netuid) &&
    item<boolean>(ctx, "NetworkRegistrationAllowed").get(netuid)
  );
}

/** Per-block emission into the pending buckets (reference 6.2): owner cut, then 50/50 miners/validators. */
function accrueEmission(ctx: RuntimeContext, netuid: number, blockEmission: bigint): void {
  const ownerCut = item<boolean>(ctx, "OwnerCutEnabled").get(netuid)
    ? item<number>(ctx, "SubnetOwnerCut").get()
    : 0;
  const split = splitBlockEmission(blockEmission, ownerCut);
  item<bigint>(ctx, "PendingOwnerCut").mutate([netuid], (v) => v + split.ownerCut);
  item<bigint>(ctx, "PendingServerEmission").mutate([netuid], (v) => v + split.server);
  item<bigint>(ctx, "PendingValidatorEmission").mutate([netuid], (v) => v + split.validator);
  item<bigint>(ctx, "SubnetAlphaOut").mutate([netuid], (v) => v + blockEmission);
}

/** Every block: burn price decay, emission accrual, and the epochs that are due (reference 6.1). */
export function runBlockStep(
  ctx: RuntimeContext,
  options: { blockEmission: bigint; onEpoch?: EpochListener },
): void {
  const { blockEmission } = options;
  const now = BigInt(ctx.blockNumber);
  const subnets = item<boolean>(ctx, "NetworksAdded")
    .entries()
    .filter(([, added]) => added)
    .map(([keys]) => Number(keys[0]))
    .sort((a, b) => a - b);
  const maxEpochs = item<number>(ctx, "MaxEpochsPerBlock").get();
  let epochs = 0;
  for (const netuid of subnets) {
    if (netuid === 0) continue;
    const halfLife = BigInt(item<number>(ctx, "BurnHalfLife").get(netuid));
    if (halfLife > 0n) {
      // Continuous decay with the given half-life, applied per block: burn × 2^(−1/halfLife).
      const burn = item<bigint>(ctx, "Burn").get(netuid);
      const factor = 2 ** (-1 / Number(halfLife));
      item<bigint>(ctx, "Burn").set(
        [netuid],
        clampBurn(ctx, netuid, BigInt(Math.floor(Number(burn) * factor))),
      );
    }
    if (emitsThisBlock(ctx, netuid)) accrueEmission(ctx, netuid, blockEmission);
    item<bigint>(ctx, "BlocksSinceLastStep").mutate([netuid], (v) => v + 1n);
    const tempo = BigInt(item<number>(ctx, "Tempo").get(netuid));
    if (tempo === 0n) continue;
    const last = item<bigint>(ctx, "LastEpochBlock").get(netuid);
    const pending = item<bigint>(ctx, "PendingEpochAt").get(netuid);
    const due =
      (pending > 0n && now >= pending) ||
      item<bigint>(ctx, "BlocksSinceLastStep").get(netuid) > 50_400n ||
      now - last >= tempo;
    if (!due) continue;
    if (epochs >= maxEpochs) {
      item<bigint>(ctx, "PendingEpochAt").set([netuid], now + 1n);
      continue;
    }
    epochs++;
    runSubnetEpoch(ctx, netuid, options.onEpoch);
  }
}
