/**
 * Subnets (subtensor's `subnets/subnet.rs`): `register_network`, `start_call`, and the writes that
 * create a subnet.
 */
import { bytesEqual } from "../../../../protocol/bytes.js";
import { type CallDef, DispatchError, ensureSigned, type RuntimeContext } from "../../pallet.js";
import { freeBalance, withdraw } from "../balances.js";
import { reject, withFail } from "./module-errors.js";
import {
  ACCOUNT_ARG,
  claimHotkey,
  item,
  NETUID_ARG,
  SUBTENSOR,
  subnetExists,
  ZERO_ACCOUNT,
} from "./storage.js";
import { appendOrReplaceNeuron } from "./uids.js";

function startEmission(ctx: RuntimeContext, netuid: number, events: boolean): void {
  const block = BigInt(ctx.blockNumber) + 1n;
  item<bigint>(ctx, "FirstEmissionBlockNumber").set([netuid], block);
  item<boolean>(ctx, "SubtokenEnabled").set([netuid], true);
  if (events) ctx.emit(SUBTENSOR, "FirstEmissionBlockNumberSet", [netuid, block]);
}

/** Writes a new subnet as registerNetwork does (reference 1.2); the owner hotkey becomes uid 0. */
export function createSubnet(
  ctx: RuntimeContext,
  netuid: number,
  coldkey: Uint8Array,
  hotkey: Uint8Array,
  events = true,
): void {
  const tempo = item<number>(ctx, "Tempo").get(netuid);
  item<boolean>(ctx, "NetworksAdded").set([netuid], true);
  item<number>(ctx, "TotalNetworks").mutate([], (v) => v + 1);
  item<Uint8Array>(ctx, "SubnetOwner").set([netuid], coldkey);
  item<Uint8Array>(ctx, "SubnetOwnerHotkey").set([netuid], hotkey);
  item<number>(ctx, "Tempo").set([netuid], tempo);
  item<bigint>(ctx, "NetworkRegisteredAt").set([netuid], BigInt(ctx.blockNumber));
  const anchor = tempo === 0 ? 0 : Math.max(0, ctx.blockNumber - (netuid % tempo));
  item<bigint>(ctx, "LastEpochBlock").set([netuid], BigInt(anchor));
  item<boolean>(ctx, "NetworkRegistrationAllowed").set([netuid], true);
  item<number>(ctx, "MaxAllowedUids").set([netuid], 256);
  item<number>(ctx, "MaxAllowedValidators").set([netuid], 64);
  item<number>(ctx, "MinAllowedWeights").set([netuid], 1);
  item<number>(ctx, "ImmunityPeriod").set([netuid], 5000);
  item<boolean>(ctx, "Yuma3On").set([netuid], true);
  item<bigint>(ctx, "Burn").set([netuid], 1_000_000_000n);
  item<number>(ctx, "SubnetMechanism").set([netuid], 1);
  item<boolean>(ctx, "SubnetEmissionEnabled").set([netuid], false);
  // Commit-reveal starts off (subtensor: on) so the bittensor SDK's set_weights, which commits
  // timelocked to a drand round when it is on, sets weights directly; see weights.ts.
  item<boolean>(ctx, "CommitRevealWeightsEnabled").set([netuid], false);
  if (bytesEqual(item<Uint8Array>(ctx, "Owner").get(hotkey), ZERO_ACCOUNT)) claimHotkey(ctx, hotkey, coldkey);
  appendOrReplaceNeuron(ctx, netuid, hotkey);
  if (events) {
    ctx.emit(SUBTENSOR, "RegistrationAllowed", [netuid, true]);
    ctx.emit(SUBTENSOR, "MaxAllowedUidsSet", [netuid, 256]);
    ctx.emit(SUBTENSOR, "MaxAllowedValidatorsSet", [netuid, 64]);
    ctx.emit(SUBTENSOR, "MinAllowedWeightSet", [netuid, 1]);
    ctx.emit(SUBTENSOR, "ImmunityPeriodSet", [netuid, 5000]);
    ctx.emit(SUBTENSOR, "SubnetOwnerHotkeySet", [netuid, hotkey]);
    ctx.emit(SUBTENSOR, "NetworkAdded", [netuid, 1]);
  }
  // On the dev chain a new subnet emits from registration; startCall is accepted but not needed.
  startEmission(ctx, netuid, events);
}

/** The subnet calls. */
export const subnetCalls: CallDef[] = [
  {
    name: "register_network",
    index: 59,
    args: [{ name: "hotkey", ...ACCOUNT_ARG }],
    validate(ctx) {
      const c = ctx as unknown as RuntimeContext;
      const limit = item<bigint>(c, "NetworkRateLimit").get();
      const last = item<bigint>(c, "NetworkLastRegistered").get();
      if (last !== 0n && BigInt(ctx.blockNumber) - last < limit) reject("NetworkTxRateLimitExceeded");
    },
    handler: withFail((ctx, a) => {
      const coldkey = ensureSigned(ctx.origin);
      const hotkey = a.hotkey as Uint8Array;
      const owner = item<Uint8Array>(ctx, "Owner").get(hotkey);
      if (!bytesEqual(owner, ZERO_ACCOUNT) && !bytesEqual(owner, coldkey))
        return ctx.fail("NonAssociatedColdKey");
      const limit = item<bigint>(ctx, "NetworkRateLimit").get();
      const last = item<bigint>(ctx, "NetworkLastRegistered").get();
      if (last !== 0n && BigInt(ctx.blockNumber) - last < limit)
        return ctx.fail("NetworkTxRateLimitExceeded");
      const subnetLimit = item<number>(ctx, "SubnetLimit").get();
      let netuid = 1;
      while (subnetExists(ctx, netuid)) netuid++;
      if (netuid > subnetLimit) return ctx.fail("SubnetLimitReached");
      const lockCost = item<bigint>(ctx, "NetworkMinLockCost").get();
      if (freeBalance(ctx, coldkey) < lockCost) return ctx.fail("CannotAffordLockCost");
      withdraw(ctx, coldkey, lockCost);
      createSubnet(ctx, netuid, coldkey, hotkey);
      item<bigint>(ctx, "NetworkLastRegistered").set([], BigInt(ctx.blockNumber));
    }),
  },
  {
    name: "start_call",
    index: 92,
    args: [NETUID_ARG],
    handler: withFail((ctx, a) => {
      const who = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      if (!subnetExists(ctx, netuid)) return ctx.fail("SubnetNotExists");
      if (!bytesEqual(item<Uint8Array>(ctx, "SubnetOwner").get(netuid), who)) throw DispatchError.badOrigin();
      // The dev chain emits from registration, so a subnet normally arrives here already started.
      if (item<bigint | undefined>(ctx, "FirstEmissionBlockNumber").get(netuid) !== undefined) {
        ctx.fail("FirstEmissionBlockNumberAlreadySet");
      }
      startEmission(ctx, netuid, true);
    }),
  },
];
