/**
 * The dev chain's `SubtensorModule` (pallet index 7): subnets, registration, axons, stake,
 * weights (direct and commit-reveal), per-block emission and the Yuma epoch, with subtensor's
 * call, storage, event and error names and argument shapes
 * (../shared/reference/subtensor-api.md, sections 1, 2, 6, 7 and 8).
 *
 * Simplifications, each documented in the README's dev chain section: stake converts 1:1 (no
 * pool pricing), there is no root network emission split, registration limits per block and
 * owner hyperparameter rate limits are not enforced.
 *
 * Split by concern as subtensor's pallet is: registration.ts, subnet.ts, weights.ts, serving.ts,
 * staking.ts (over stake.ts's share accounting), coinbase.ts (the block step) and epoch.ts; uids.ts,
 * storage.ts, events.ts and module-errors.ts are what they share. This file assembles the pallet.
 */

import type { PalletDef } from "../../pallet.js";
import { runBlockStep } from "./coinbase.js";
import type { EpochListener } from "./epoch.js";
import { subtensorEvents } from "./events.js";
import { subtensorErrors } from "./module-errors.js";
import { registrationCalls } from "./registration.js";
import { subtensorRuntimeApis } from "./runtime-apis.js";
import { servingCalls } from "./serving.js";
import { stakingCalls } from "./staking.js";
import { item, SUBTENSOR, subtensorStorage } from "./storage.js";
import { createSubnet, subnetCalls } from "./subnet.js";
import { weightsCalls } from "./weights.js";

/** Knobs of the dev chain's economics that subtensor fixes in its runtime. */
export interface SubtensorModuleOptions {
  /** Alpha emitted to each emitting subnet per block, rao. Default 10^9 (1 alpha), subtensor's starting value. */
  blockEmission?: bigint;
  /**
   * Called with every epoch's full output, for tools beside the chain (the simulator reads the
   * per-uid trust, which subtensor computes but no longer stores). Not reachable over RPC.
   */
  onEpoch?: EpochListener;
}

/** The calls in index order, as the metadata lists them. */
const calls = [...weightsCalls, ...stakingCalls, ...servingCalls, ...registrationCalls, ...subnetCalls].sort(
  (a, b) => a.index - b.index,
);

/**
 * Builds the pallet. Genesis creates the root network (netuid 0) and netuid 1, owned by the sudo
 * key, as subtensor's genesis has both.
 */
export function subtensorModulePallet(options: SubtensorModuleOptions = {}): PalletDef {
  const blockEmission = options.blockEmission ?? 1_000_000_000n;
  return {
    name: SUBTENSOR,
    index: 7,
    crate: "pallet_subtensor",
    calls,
    storage: subtensorStorage,
    events: subtensorEvents,
    errors: subtensorErrors,
    runtimeApis: subtensorRuntimeApis,
    onInitialize: (ctx) =>
      runBlockStep(ctx, { blockEmission, ...(options.onEpoch ? { onEpoch: options.onEpoch } : {}) }),
    genesis(ctx) {
      item<boolean>(ctx, "NetworksAdded").set([0], true);
      item<number>(ctx, "Tempo").set([0], 100);
      item<number>(ctx, "MaxAllowedUids").set([0], 64);
      item<number>(ctx, "MaxAllowedValidators").set([0], 64);
      item<number>(ctx, "MinAllowedWeights").set([0], 0);
      item<Uint8Array>(ctx, "SubnetOwner").set([0], ctx.sudo);
      item<number>(ctx, "TotalNetworks").set([], 1);
      // Dev-chain conveniences (see README): subnets can be created back to back, and admin
      // setters are never frozen by the weights window.
      item<bigint>(ctx, "NetworkRateLimit").set([], 0n);
      item<number>(ctx, "AdminFreezeWindow").set([], 0);
      item<number>(ctx, "Tempo").set([1], 100);
      createSubnet(ctx, 1, ctx.sudo, ctx.sudo, false);
      item<number>(ctx, "MinAllowedWeights").set([1], 0);
      item<bigint>(ctx, "NetworkLastRegistered").set([], 0n);
    },
  };
}
