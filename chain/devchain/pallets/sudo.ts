/** pallet_sudo: one key may dispatch any call with the root origin. */
import { bytesEqual } from "../../../protocol/bytes.js";
import {
  type DispatchContext,
  type DispatchResult,
  ensureSigned,
  type PalletDef,
  type RuntimeCallValue,
} from "../pallet.js";
import { ACCOUNT_ID, t } from "../scale.js";
import { DISPATCH_RESULT, MULTI_ADDRESS, WEIGHT } from "../types.js";
import { lookupAddress } from "./balances.js";

const call = { name: "call", type: t.runtimeCall, typeName: "Box<<T as Config>::RuntimeCall>" };

function ensureSudo(ctx: DispatchContext): Uint8Array {
  const who = ensureSigned(ctx.origin);
  const key = ctx.storage<Uint8Array | null>("Sudo", "Key").get();
  if (!key || !bytesEqual(key, who)) ctx.fail("RequireSudo");
  return who;
}

const resultValue = (r: DispatchResult) => (r.ok ? { tag: "Ok" } : { tag: "Err", value: r.error });

export function sudoPallet(): PalletDef {
  return {
    name: "Sudo",
    index: 12,
    storage: [{ name: "Key", type: ACCOUNT_ID, query: "Optional" }],
    calls: [
      {
        name: "sudo",
        index: 0,
        args: [call],
        pays: false,
        handler(ctx, args) {
          ensureSudo(ctx);
          const r = ctx.dispatch(args.call as RuntimeCallValue, { kind: "root" });
          ctx.emit("Sudo", "Sudid", { sudo_result: resultValue(r) });
        },
      },
      {
        name: "sudo_unchecked_weight",
        index: 1,
        args: [call, { name: "weight", type: WEIGHT, typeName: "Weight" }],
        pays: false,
        handler(ctx, args) {
          ensureSudo(ctx);
          const r = ctx.dispatch(args.call as RuntimeCallValue, { kind: "root" });
          ctx.emit("Sudo", "Sudid", { sudo_result: resultValue(r) });
        },
      },
      {
        name: "set_key",
        index: 2,
        args: [{ name: "new", type: MULTI_ADDRESS, typeName: "AccountIdLookupOf<T>" }],
        pays: false,
        handler(ctx, args) {
          const old = ensureSudo(ctx);
          const next = lookupAddress(args.new);
          ctx.storage("Sudo", "Key").set([], next);
          ctx.emit("Sudo", "KeyChanged", { old, new: next });
        },
      },
      {
        name: "sudo_as",
        index: 3,
        args: [{ name: "who", type: MULTI_ADDRESS, typeName: "AccountIdLookupOf<T>" }, call],
        pays: false,
        handler(ctx, args) {
          ensureSudo(ctx);
          const r = ctx.dispatch(args.call as RuntimeCallValue, {
            kind: "signed",
            who: lookupAddress(args.who),
          });
          ctx.emit("Sudo", "SudoAsDone", { sudo_result: resultValue(r) });
        },
      },
      {
        name: "remove_key",
        index: 4,
        args: [],
        pays: false,
        handler(ctx) {
          ensureSudo(ctx);
          ctx.storage("Sudo", "Key").remove();
          ctx.emit("Sudo", "KeyRemoved");
        },
      },
    ],
    events: [
      { name: "Sudid", fields: { sudo_result: { type: DISPATCH_RESULT, typeName: "DispatchResult" } } },
      {
        name: "KeyChanged",
        fields: {
          old: { type: t.option(ACCOUNT_ID), typeName: "Option<T::AccountId>" },
          new: { type: ACCOUNT_ID, typeName: "T::AccountId" },
        },
      },
      { name: "KeyRemoved" },
      { name: "SudoAsDone", fields: { sudo_result: { type: DISPATCH_RESULT, typeName: "DispatchResult" } } },
    ],
    errors: [{ name: "RequireSudo" }],
    genesis(ctx) {
      ctx.storage("Sudo", "Key").set([], ctx.sudo);
    },
  };
}
