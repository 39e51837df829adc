/**
 * The dev chain's `AdminUtils` (pallet index 19): the sudo/owner hyperparameter setters, named
 * and shaped as subtensor's (../shared/reference/subtensor-api.md, section 3).
 */
import { bytesEqual } from "../../../../protocol/bytes.js";
import {
  type CallDef,
  type DispatchContext,
  DispatchError,
  ModuleError,
  type PalletDef,
} from "../../pallet.js";
import { type Type, t } from "../../scale.js";
import { SUBTENSOR } from "./storage.js";
import { NETUID } from "./types.js";

type Origin = "root" | "rootOrOwner";

interface Setter {
  call: string;
  index: number;
  /** Argument name (snake_case) and type; the netuid argument comes first unless `global`. */
  arg: string;
  type: Type;
  /** SubtensorModule storage item written. */
  item: string;
  origin: Origin;
  /** SubtensorModule event emitted with (netuid, value), if any. */
  event?: string;
  /** A value without a netuid (global storage). */
  global?: boolean;
  /** Skips the SubnetDoesNotExist check, as subtensor does for a few setters. */
  noExistCheck?: boolean;
  /** Honours the admin freeze window. */
  freeze?: boolean;
  /** Extra bound checks; returns an error name (SubtensorModule or AdminUtils) or undefined. */
  check?: (ctx: DispatchContext, netuid: number, value: unknown, root: boolean) => string | undefined;
}

const storage = <V>(ctx: DispatchContext, item: string) => ctx.storage<V>(SUBTENSOR, item);

const SETTERS: Setter[] = [
  {
    call: "sudo_set_serving_rate_limit",
    index: 3,
    arg: "serving_rate_limit",
    type: t.u64,
    item: "ServingRateLimit",
    origin: "rootOrOwner",
    event: "ServingRateLimitSet",
    noExistCheck: true,
  },
  {
    call: "sudo_set_weights_version_key",
    index: 6,
    arg: "weights_version_key",
    type: t.u64,
    item: "WeightsVersionKey",
    origin: "rootOrOwner",
    event: "WeightsVersionKeySet",
    freeze: true,
  },
  {
    call: "sudo_set_weights_set_rate_limit",
    index: 7,
    arg: "weights_set_rate_limit",
    type: t.u64,
    item: "WeightsSetRateLimit",
    origin: "root",
    event: "WeightsSetRateLimitSet",
  },
  {
    call: "sudo_set_immunity_period",
    index: 13,
    arg: "immunity_period",
    type: t.u16,
    item: "ImmunityPeriod",
    origin: "rootOrOwner",
    event: "ImmunityPeriodSet",
    freeze: true,
  },
  {
    call: "sudo_set_min_allowed_weights",
    index: 14,
    arg: "min_allowed_weights",
    type: t.u16,
    item: "MinAllowedWeights",
    origin: "rootOrOwner",
    event: "MinAllowedWeightSet",
    freeze: true,
  },
  {
    call: "sudo_set_max_allowed_uids",
    index: 15,
    arg: "max_allowed_uids",
    type: t.u16,
    item: "MaxAllowedUids",
    origin: "rootOrOwner",
    event: "MaxAllowedUidsSet",
    freeze: true,
    check: (ctx, netuid, value) => {
      const v = value as number;
      if (v < storage<number>(ctx, "MinAllowedUids").get(netuid))
        return "MaxAllowedUidsLessThanMinAllowedUids";
      if (v < storage<number>(ctx, "SubnetworkN").get(netuid)) return "MaxAllowedUIdsLessThanCurrentUIds";
      if (v > 256) return "MaxAllowedUidsGreaterThanDefaultMaxAllowedUids";
      return undefined;
    },
  },
  {
    call: "sudo_set_kappa",
    index: 16,
    arg: "kappa",
    type: t.u16,
    item: "Kappa",
    origin: "root",
    event: "KappaSet",
  },
  {
    call: "sudo_set_activity_cutoff",
    index: 18,
    arg: "activity_cutoff",
    type: t.u16,
    item: "ActivityCutoff",
    origin: "rootOrOwner",
    event: "ActivityCutoffSet",
    freeze: true,
    check: (ctx, _netuid, value) =>
      (value as number) < storage<number>(ctx, "MinActivityCutoff").get()
        ? "ActivityCutoffTooLow"
        : undefined,
  },
  {
    call: "sudo_set_network_registration_allowed",
    index: 19,
    arg: "registration_allowed",
    type: t.bool,
    item: "NetworkRegistrationAllowed",
    origin: "root",
    event: "RegistrationAllowed",
  },
  {
    call: "sudo_set_target_registrations_per_interval",
    index: 21,
    arg: "target_registrations_per_interval",
    type: t.u16,
    item: "TargetRegistrationsPerInterval",
    origin: "root",
    event: "RegistrationPerIntervalSet",
    freeze: true,
  },
  {
    call: "sudo_set_min_burn",
    index: 22,
    arg: "min_burn",
    type: t.u64,
    item: "MinBurn",
    origin: "rootOrOwner",
    event: "MinBurnSet",
    freeze: true,
    check: (ctx, netuid, value) =>
      (value as bigint) < 1_000_000_000n && (value as bigint) < storage<bigint>(ctx, "MaxBurn").get(netuid)
        ? undefined
        : "ValueNotInBounds",
  },
  {
    call: "sudo_set_max_burn",
    index: 23,
    arg: "max_burn",
    type: t.u64,
    item: "MaxBurn",
    origin: "rootOrOwner",
    event: "MaxBurnSet",
    freeze: true,
    check: (ctx, netuid, value) =>
      (value as bigint) > 100_000_000n && (value as bigint) > storage<bigint>(ctx, "MinBurn").get(netuid)
        ? undefined
        : "ValueNotInBounds",
  },
  {
    call: "sudo_set_max_allowed_validators",
    index: 25,
    arg: "max_allowed_validators",
    type: t.u16,
    item: "MaxAllowedValidators",
    origin: "root",
    event: "MaxAllowedValidatorsSet",
    freeze: true,
    check: (ctx, netuid, value) =>
      (value as number) > storage<number>(ctx, "MaxAllowedUids").get(netuid)
        ? "MaxValidatorsLargerThanMaxUIds"
        : undefined,
  },
  {
    call: "sudo_set_bonds_moving_average",
    index: 26,
    arg: "bonds_moving_average",
    type: t.u64,
    item: "BondsMovingAverage",
    origin: "rootOrOwner",
    event: "BondsMovingAverageSet",
    freeze: true,
    check: (_ctx, _netuid, value, root) =>
      !root && (value as bigint) > 975_000n ? "BondsMovingAverageMaxReached" : undefined,
  },
  {
    call: "sudo_set_max_registrations_per_block",
    index: 27,
    arg: "max_registrations_per_block",
    type: t.u16,
    item: "MaxRegistrationsPerBlock",
    origin: "root",
    event: "MaxRegistrationsPerBlockSet",
    freeze: true,
  },
  {
    call: "sudo_set_subnet_owner_cut",
    index: 28,
    arg: "subnet_owner_cut",
    type: t.u16,
    item: "SubnetOwnerCut",
    origin: "root",
    global: true,
  },
  {
    call: "sudo_set_network_rate_limit",
    index: 29,
    arg: "rate_limit",
    type: t.u64,
    item: "NetworkRateLimit",
    origin: "root",
    event: "NetworkRateLimitSet",
    global: true,
  },
  {
    call: "sudo_set_tempo",
    index: 30,
    arg: "tempo",
    type: t.u16,
    item: "Tempo",
    origin: "root",
    event: "TempoSet",
    freeze: true,
  },
  {
    call: "sudo_set_stake_threshold",
    index: 42,
    arg: "min_stake",
    type: t.u64,
    item: "StakeThreshold",
    origin: "root",
    global: true,
  },
  {
    call: "sudo_set_commit_reveal_weights_enabled",
    index: 49,
    arg: "enabled",
    type: t.bool,
    item: "CommitRevealWeightsEnabled",
    origin: "rootOrOwner",
    event: "CommitRevealEnabled",
    freeze: true,
  },
  {
    call: "sudo_set_liquid_alpha_enabled",
    index: 50,
    arg: "enabled",
    type: t.bool,
    item: "LiquidAlphaOn",
    origin: "rootOrOwner",
    noExistCheck: true,
    freeze: true,
  },
  {
    call: "sudo_set_commit_reveal_weights_interval",
    index: 57,
    arg: "interval",
    type: t.u64,
    item: "RevealPeriodEpochs",
    origin: "rootOrOwner",
    event: "CommitRevealPeriodsSet",
    freeze: true,
    check: (_ctx, _netuid, value) =>
      (value as bigint) < 1n
        ? "RevealPeriodTooSmall"
        : (value as bigint) > 100n
          ? "RevealPeriodTooLarge"
          : undefined,
  },
  {
    call: "sudo_set_bonds_penalty",
    index: 60,
    arg: "bonds_penalty",
    type: t.u16,
    item: "BondsPenalty",
    origin: "rootOrOwner",
    event: "BondsPenaltySet",
    freeze: true,
  },
  {
    call: "sudo_set_alpha_sigmoid_steepness",
    index: 68,
    arg: "steepness",
    type: t.i16,
    item: "AlphaSigmoidSteepness",
    origin: "rootOrOwner",
    freeze: true,
    check: (_ctx, _netuid, value, root) =>
      !root && (value as number) < 0 ? "NegativeSigmoidSteepness" : undefined,
  },
  {
    call: "sudo_set_yuma3_enabled",
    index: 69,
    arg: "enabled",
    type: t.bool,
    item: "Yuma3On",
    origin: "rootOrOwner",
    noExistCheck: true,
    freeze: true,
  },
  {
    call: "sudo_set_admin_freeze_window",
    index: 74,
    arg: "window",
    type: t.u16,
    item: "AdminFreezeWindow",
    origin: "root",
    global: true,
  },
  {
    call: "sudo_set_min_allowed_uids",
    index: 79,
    arg: "min_allowed_uids",
    type: t.u16,
    item: "MinAllowedUids",
    origin: "root",
  },
  {
    call: "sudo_set_owner_cut_enabled",
    index: 92,
    arg: "enabled",
    type: t.bool,
    item: "OwnerCutEnabled",
    origin: "rootOrOwner",
  },
  {
    call: "sudo_set_max_epochs_per_block",
    index: 96,
    arg: "max_epochs_per_block",
    type: t.u8,
    item: "MaxEpochsPerBlock",
    origin: "root",
    global: true,
    check: (_ctx, _netuid, value) => ((value as number) < 1 ? "InvalidValue" : undefined),
  },
];

const ADMIN_ERRORS = [
  "SubnetDoesNotExist",
  "MaxValidatorsLargerThanMaxUIds",
  "MaxAllowedUIdsLessThanCurrentUIds",
  "BondsMovingAverageMaxReached",
  "NegativeSigmoidSteepness",
  "ValueNotInBounds",
  "MinAllowedUidsGreaterThanCurrentUids",
  "MinAllowedUidsGreaterThanMaxAllowedUids",
  "MaxAllowedUidsLessThanMinAllowedUids",
  "MaxAllowedUidsGreaterThanDefaultMaxAllowedUids",
  "InvalidValue",
  "NotPermittedOnRootSubnet",
  "POWRegistrationDisabled",
  "Deprecated",
];

/** Fails with the error's own pallet: AdminUtils errors by name, everything else SubtensorModule's. */
function failWith(ctx: DispatchContext, error: string): never {
  if (ADMIN_ERRORS.includes(error)) return ctx.fail(error);
  throw new ModuleError(SUBTENSOR, error);
}

/** True for root; for a signed origin, true when it owns the subnet; otherwise BadOrigin. */
function checkOrigin(ctx: DispatchContext, origin: Origin, netuid: number | undefined): boolean {
  if (ctx.origin.kind === "root") return true;
  if (origin === "root" || ctx.origin.kind !== "signed" || netuid === undefined)
    throw DispatchError.badOrigin();
  const owner = storage<Uint8Array>(ctx, "SubnetOwner").get(netuid);
  if (!bytesEqual(owner, ctx.origin.who)) throw DispatchError.badOrigin();
  return false;
}

/** The next automatic epoch is fewer than AdminFreezeWindow blocks away, or a trigger is pending. */
function inFreezeWindow(ctx: DispatchContext, netuid: number): boolean {
  const window = BigInt(storage<number>(ctx, "AdminFreezeWindow").get());
  if (storage<bigint>(ctx, "PendingEpochAt").get(netuid) > 0n) return true;
  if (window === 0n) return false;
  const tempo = BigInt(storage<number>(ctx, "Tempo").get(netuid));
  if (tempo === 0n) return false;
  const next = storage<bigint>(ctx, "LastEpochBlock").get(netuid) + tempo;
  return next - BigInt(ctx.blockNumber) < window;
}

function setterCall(setter: Setter): CallDef {
  // Every argument carries its Rust type name: the bittensor SDK's block decoder needs one.
  const valueArg = {
    name: setter.arg,
    type: setter.type,
    ...(setter.type.kind === "primitive" ? { typeName: setter.type.prim } : {}),
  };
  return {
    name: setter.call,
    index: setter.index,
    args: setter.global ? [valueArg] : [{ name: "netuid", type: NETUID, typeName: "NetUid" }, valueArg],
    handler(ctx, args) {
      const netuid = setter.global ? undefined : (args.netuid as number);
      const value = args[setter.arg];
      const root = checkOrigin(ctx, setter.origin, netuid);
      if (netuid !== undefined) {
        if (!setter.noExistCheck && !storage<boolean>(ctx, "NetworksAdded").get(netuid)) {
          return failWith(ctx, "SubnetDoesNotExist");
        }
        if (setter.freeze && inFreezeWindow(ctx, netuid)) {
          return failWith(ctx, "AdminActionProhibitedDuringWeightsWindow");
        }
      }
      const error = setter.check?.(ctx, netuid ?? 0, value, root);
      if (error) return failWith(ctx, error);
      const item = storage<unknown>(ctx, setter.item);
      if (netuid === undefined) item.set([], value);
      else item.set([netuid], value);
      // Changing the tempo restarts the epoch cycle from now (reference 6.1).
      if (setter.item === "Tempo" && netuid !== undefined) {
        storage<bigint>(ctx, "LastEpochBlock").set([netuid], BigInt(ctx.blockNumber));
      }
      // A one-field event (a global setter's) takes its value bare, not in a one-element tuple.
      if (setter.event) ctx.emit(SUBTENSOR, setter.event, netuid === undefined ? value : [netuid, value]);
      if (setter.item === "Yuma3On") ctx.emit("AdminUtils", "Yuma3EnableToggled", { netuid, enabled: value });
    },
  };
}

/** `sudoSetAlphaValues(netuid, alphaLow, alphaHigh)`: two values, its own checks. */
const setAlphaValues: CallDef = {
  name: "sudo_set_alpha_values",
  index: 51,
  args: [
    { name: "netuid", type: NETUID, typeName: "NetUid" },
    { name: "alpha_low", type: t.u16, typeName: "u16" },
    { name: "alpha_high", type: t.u16, typeName: "u16" },
  ],
  handler(ctx, args) {
    const netuid = args.netuid as number;
    checkOrigin(ctx, "rootOrOwner", netuid);
    if (inFreezeWindow(ctx, netuid)) return failWith(ctx, "AdminActionProhibitedDuringWeightsWindow");
    const low = args.alpha_low as number;
    const high = args.alpha_high as number;
    if (!storage<boolean>(ctx, "LiquidAlphaOn").get(netuid)) return failWith(ctx, "LiquidAlphaDisabled");
    if (high < 1638) return failWith(ctx, "AlphaHighTooLow");
    if (low < 1638 || low > high) return failWith(ctx, "AlphaLowOutOfRange");
    storage<[number, number]>(ctx, "AlphaValues").set([netuid], [low, high]);
  },
};

export function adminUtilsPallet(): PalletDef {
  return {
    name: "AdminUtils",
    index: 19,
    crate: "pallet_admin_utils",
    calls: [...SETTERS.map(setterCall), setAlphaValues].sort((a, b) => a.index - b.index),
    events: [
      { name: "PrecompileUpdated", index: 0, fields: { precompile_id: t.u8, enabled: t.bool } },
      { name: "Yuma3EnableToggled", index: 1, fields: { netuid: NETUID, enabled: t.bool } },
    ],
    errors: ADMIN_ERRORS.map((name, index) => ({ name, index })),
  };
}
