/** pallet_timestamp: the `set` inherent writes the block's time in milliseconds. */
import { DispatchError, type PalletDef } from "../pallet.js";
import { t } from "../scale.js";

export function timestampPallet(options: { minimumPeriodMs?: number } = {}): PalletDef {
  return {
    name: "Timestamp",
    index: 2,
    storage: [
      { name: "Now", type: t.u64 },
      { name: "DidUpdate", type: t.bool },
    ],
    calls: [
      {
        name: "set",
        index: 0,
        args: [{ name: "now", type: t.compact(t.u64), typeName: "T::Moment" }],
        class: "Mandatory",
        pays: false,
        weight: 0n,
        handler(ctx, { now }) {
          if (ctx.origin.kind !== "none") throw DispatchError.badOrigin();
          ctx.storage<bigint>("Timestamp", "Now").set([], BigInt(now as bigint));
          ctx.storage<boolean>("Timestamp", "DidUpdate").set([], true);
        },
      },
    ],
    constants: [{ name: "MinimumPeriod", type: t.u64, value: BigInt(options.minimumPeriodMs ?? 6000) }],
    onFinalize(ctx) {
      ctx.storage("Timestamp", "DidUpdate").remove();
    },
  };
}
