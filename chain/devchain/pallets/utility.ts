/** pallet_utility: batches of calls from one origin. */
import { DispatchError, type PalletDef, type RuntimeCallValue } from "../pallet.js";
import { t } from "../scale.js";
import { DISPATCH_ERROR } from "../types.js";

/** Subtensor's batched-calls limit. */
const MAX_CALLS = 1024;

const calls = { name: "calls", type: t.vec(t.runtimeCall), typeName: "Vec<<T as Config>::RuntimeCall>" };

export function utilityPallet(): PalletDef {
  return {
    name: "Utility",
    index: 11,
    calls: [
      {
        name: "batch",
        index: 0,
        args: [calls],
        handler(ctx, args) {
          const list = args.calls as RuntimeCallValue[];
          if (list.length > MAX_CALLS) ctx.fail("TooManyCalls");
          for (const [index, call] of list.entries()) {
            const r = ctx.dispatch(call, ctx.origin);
            if (!r.ok) {
              ctx.emit("Utility", "BatchInterrupted", { index, error: r.error });
              return;
            }
            ctx.emit("Utility", "ItemCompleted");
          }
          ctx.emit("Utility", "BatchCompleted");
        },
      },
      {
        name: "batch_all",
        index: 2,
        args: [calls],
        handler(ctx, args) {
          const list = args.calls as RuntimeCallValue[];
          if (list.length > MAX_CALLS) ctx.fail("TooManyCalls");
          for (const call of list) {
            const r = ctx.dispatch(call, ctx.origin);
            if (!r.ok) throw new DispatchError(r.error);
            ctx.emit("Utility", "ItemCompleted");
          }
          ctx.emit("Utility", "BatchCompleted");
        },
      },
      {
        name: "force_batch",
        index: 4,
        args: [calls],
        handler(ctx, args) {
          const list = args.calls as RuntimeCallValue[];
          if (list.length > MAX_CALLS) ctx.fail("TooManyCalls");
          let failed = false;
          for (const call of list) {
            const r = ctx.dispatch(call, ctx.origin);
            if (r.ok) ctx.emit("Utility", "ItemCompleted");
            else {
              failed = true;
              ctx.emit("Utility", "ItemFailed", { error: r.error });
            }
          }
          ctx.emit("Utility", failed ? "BatchCompletedWithErrors" : "BatchCompleted");
        },
      },
    ],
    events: [
      {
        name: "BatchInterrupted",
        fields: {
          index: { type: t.u32, typeName: "u32" },
          error: { type: DISPATCH_ERROR, typeName: "DispatchError" },
        },
      },
      { name: "BatchCompleted" },
      { name: "BatchCompletedWithErrors" },
      { name: "ItemCompleted" },
      { name: "ItemFailed", fields: { error: { type: DISPATCH_ERROR, typeName: "DispatchError" } } },
    ],
    errors: [{ name: "TooManyCalls" }],
    constants: [{ name: "batched_calls_limit", type: t.u32, value: MAX_CALLS }],
  };
}
