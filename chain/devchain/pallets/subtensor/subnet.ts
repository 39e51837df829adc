/**
 * Subnets (subtensor's `subnets/subnet.rs`, `utils/identity.rs`): `register_network`,
 * `register_network_with_identity`, `set_subnet_identity`, `start_call`, and the writes that create
 * a subnet.
 */
import { bytesEqual } from "../../../../protocol/bytes.js";
import {
  type CallDef,
  type DispatchContext,
  DispatchError,
  ensureSigned,
  type RuntimeContext,
  type ValidateContext,
} from "../../pallet.js";
import { t } from "../../scale.js";
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
import { SUBNET_IDENTITY_V3 } from "./types.js";
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

/** `SubnetIdentityV3`'s fields as the call decodes them: raw bytes. */
export interface SubnetIdentity {
  subnet_name: Uint8Array;
  github_repo: Uint8Array;
  subnet_contact: Uint8Array;
  subnet_url: Uint8Array;
  discord: Uint8Array;
  description: Uint8Array;
  logo_url: Uint8Array;
  additional: Uint8Array;
}

/** Subtensor's per-field byte limits for a subnet identity (`is_valid_subnet_identity`). */
export const SUBNET_IDENTITY_LIMITS: Record<keyof SubnetIdentity, number> = {
  subnet_name: 256,
  github_repo: 1024,
  subnet_contact: 1024,
  subnet_url: 1024,
  discord: 256,
  description: 1024,
  logo_url: 1024,
  additional: 1024,
};

function isValidSubnetIdentity(identity: SubnetIdentity): boolean {
  return (Object.keys(SUBNET_IDENTITY_LIMITS) as Array<keyof SubnetIdentity>).every(
    (field) => identity[field].length <= SUBNET_IDENTITY_LIMITS[field],
  );
}

function validateNetworkRateLimit(ctx: ValidateContext): void {
  const c = ctx as unknown as RuntimeContext;
  const limit = item<bigint>(c, "NetworkRateLimit").get();
  const last = item<bigint>(c, "NetworkLastRegistered").get();
  if (last !== 0n && BigInt(ctx.blockNumber) - last < limit) reject("NetworkTxRateLimitExceeded");
}

/** subtensor's `do_register_network`: lock the cost, create the subnet, store its identity. */
function registerNetwork(ctx: DispatchContext, hotkey: Uint8Array, identity: SubnetIdentity | null) {
  const coldkey = ensureSigned(ctx.origin);
  const owner = item<Uint8Array>(ctx, "Owner").get(hotkey);
  if (!bytesEqual(owner, ZERO_ACCOUNT) && !bytesEqual(owner, coldkey))
    return ctx.fail("NonAssociatedColdKey");
  const limit = item<bigint>(ctx, "NetworkRateLimit").get();
  const last = item<bigint>(ctx, "NetworkLastRegistered").get();
  if (last !== 0n && BigInt(ctx.blockNumber) - last < limit) return ctx.fail("NetworkTxRateLimitExceeded");
  const subnetLimit = item<number>(ctx, "SubnetLimit").get();
  let netuid = 1;
  while (subnetExists(ctx, netuid)) netuid++;
  if (netuid > subnetLimit) return ctx.fail("SubnetLimitReached");
  const lockCost = item<bigint>(ctx, "NetworkMinLockCost").get();
  if (freeBalance(ctx, coldkey) < lockCost) return ctx.fail("CannotAffordLockCost");
  if (identity && !isValidSubnetIdentity(identity)) return ctx.fail("InvalidIdentity");
  withdraw(ctx, coldkey, lockCost);
  createSubnet(ctx, netuid, coldkey, hotkey);
  if (identity) {
    item<SubnetIdentity>(ctx, "SubnetIdentitiesV3").set([netuid], identity);
    ctx.emit(SUBTENSOR, "SubnetIdentitySet", netuid);
  }
  item<bigint>(ctx, "NetworkLastRegistered").set([], BigInt(ctx.blockNumber));
}

const BYTES_ARG = (name: string) => ({ name, type: t.vec(t.u8), typeName: "Vec<u8>" });

/** The subnet calls. */
export const subnetCalls: CallDef[] = [
  {
    name: "register_network",
    index: 59,
    args: [{ name: "hotkey", ...ACCOUNT_ARG }],
    validate: validateNetworkRateLimit,
    handler: withFail((ctx, a) => registerNetwork(ctx, a.hotkey as Uint8Array, null)),
  },
  {
    name: "set_subnet_identity",
    index: 78,
    args: [NETUID_ARG, ...Object.keys(SUBNET_IDENTITY_LIMITS).map(BYTES_ARG)],
    handler: withFail((ctx, a) => {
      const coldkey = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      if (!bytesEqual(item<Uint8Array>(ctx, "SubnetOwner").get(netuid), coldkey))
        return ctx.fail("NotSubnetOwner");
      const identity = Object.fromEntries(
        Object.keys(SUBNET_IDENTITY_LIMITS).map((field) => [field, a[field] as Uint8Array]),
      ) as unknown as SubnetIdentity;
      if (!isValidSubnetIdentity(identity)) return ctx.fail("InvalidIdentity");
      item<SubnetIdentity>(ctx, "SubnetIdentitiesV3").set([netuid], identity);
      ctx.emit(SUBTENSOR, "SubnetIdentitySet", netuid);
    }),
  },
  {
    name: "register_network_with_identity",
    index: 79,
    args: [
      { name: "hotkey", ...ACCOUNT_ARG },
      { name: "identity", type: t.option(SUBNET_IDENTITY_V3), typeName: "Option<SubnetIdentityOfV3>" },
    ],
    validate: validateNetworkRateLimit,
    handler: withFail((ctx, a) =>
      registerNetwork(ctx, a.hotkey as Uint8Array, (a.identity as SubnetIdentity | null) ?? null),
    ),
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
