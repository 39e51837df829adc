/**
 * Registration (subtensor's `subnets/registration.rs`): `burned_register`, `register_limit` (the
 * same with a ceiling on the burn, btcli's default) and the burn price.
 */
import { bytesEqual } from "../../../../protocol/bytes.js";
import { type CallDef, type DispatchContext, ensureSigned, type RuntimeContext } from "../../pallet.js";
import { t } from "../../scale.js";
import { freeBalance, withdraw } from "../balances.js";
import { withFail } from "./module-errors.js";
import {
  ACCOUNT_ARG,
  claimHotkey,
  item,
  NETUID_ARG,
  SUBTENSOR,
  subnetExists,
  ZERO_ACCOUNT,
} from "./storage.js";
import { appendOrReplaceNeuron, uidOf } from "./uids.js";

/** The burn price within the subnet's MinBurn..MaxBurn. */
export function clampBurn(ctx: RuntimeContext, netuid: number, value: bigint): bigint {
  const min = item<bigint>(ctx, "MinBurn").get(netuid);
  const max = item<bigint>(ctx, "MaxBurn").get(netuid);
  return value < min ? min : value > max ? max : value;
}

/** subtensor's `do_burned_registration`: pay the burn, take a uid, raise the price. */
function burnedRegister(ctx: DispatchContext, coldkey: Uint8Array, netuid: number, hotkey: Uint8Array) {
  if (netuid === 0) return ctx.fail("RegistrationNotPermittedOnRootSubnet");
  if (!subnetExists(ctx, netuid)) return ctx.fail("SubnetNotExists");
  if (!item<boolean>(ctx, "NetworkRegistrationAllowed").get(netuid))
    return ctx.fail("SubNetRegistrationDisabled");
  if (uidOf(ctx, netuid, hotkey) !== undefined) return ctx.fail("HotKeyAlreadyRegisteredInSubNet");
  const burn = item<bigint>(ctx, "Burn").get(netuid);
  if (freeBalance(ctx, coldkey) < burn) return ctx.fail("NotEnoughBalanceToStake");
  const owner = item<Uint8Array>(ctx, "Owner").get(hotkey);
  if (!bytesEqual(owner, ZERO_ACCOUNT) && !bytesEqual(owner, coldkey))
    return ctx.fail("NonAssociatedColdKey");
  if (item<number>(ctx, "MaxAllowedUids").get(netuid) === 0) return ctx.fail("NoNeuronIdAvailable");
  withdraw(ctx, coldkey, burn);
  if (bytesEqual(owner, ZERO_ACCOUNT)) claimHotkey(ctx, hotkey, coldkey);
  const uid = appendOrReplaceNeuron(ctx, netuid, hotkey);
  // Each registration makes the next one dearer; the price decays back every block.
  const next = (burn * 126n) / 100n;
  item<bigint>(ctx, "Burn").set([netuid], clampBurn(ctx, netuid, next));
  ctx.emit(SUBTENSOR, "NeuronRegistered", [netuid, uid, hotkey]);
}

/** The registration calls. */
export const registrationCalls: CallDef[] = [
  {
    name: "burned_register",
    index: 7,
    args: [NETUID_ARG, { name: "hotkey", ...ACCOUNT_ARG }],
    handler: withFail((ctx, a) =>
      burnedRegister(ctx, ensureSigned(ctx.origin), a.netuid as number, a.hotkey as Uint8Array),
    ),
  },
  {
    name: "register_limit",
    index: 134,
    args: [
      NETUID_ARG,
      { name: "hotkey", ...ACCOUNT_ARG },
      { name: "limit_price", type: t.u64, typeName: "u64" },
    ],
    handler: withFail((ctx, a) => {
      const coldkey = ensureSigned(ctx.origin);
      const netuid = a.netuid as number;
      if (netuid === 0) return ctx.fail("RegistrationNotPermittedOnRootSubnet");
      if (!subnetExists(ctx, netuid)) return ctx.fail("SubnetNotExists");
      if (item<bigint>(ctx, "Burn").get(netuid) > BigInt(a.limit_price as bigint))
        return ctx.fail("RegistrationPriceLimitExceeded");
      burnedRegister(ctx, coldkey, netuid, a.hotkey as Uint8Array);
    }),
  },
];
