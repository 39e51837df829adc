/**
 * frame_system: accounts (nonce and balance data), block number and hashes, events.
 * The executive writes Number/ParentHash/BlockHash/Events; this file declares their layout.
 */
import { blake2AsU8a } from "@polkadot/util-crypto";
import { ensureSigned, type PalletDef } from "../pallet.js";
import { ACCOUNT_ID, BYTES, H256, t } from "../scale.js";
import { ACCOUNT_INFO, DISPATCH_ERROR, DISPATCH_INFO, EVENT_RECORD } from "../types.js";

export interface SystemOptions {
  /** Blocks a mortal transaction may refer back to. */
  blockHashCount?: number;
  ss58Prefix?: number;
}

export function systemPallet(options: SystemOptions = {}): PalletDef {
  return {
    name: "System",
    index: 0,
    crate: "frame_system",
    storage: [
      {
        name: "Account",
        keys: [{ hasher: "Blake2_128Concat", type: ACCOUNT_ID }],
        type: ACCOUNT_INFO,
        docs: ["The full account information for a particular account ID."],
      },
      { name: "ExtrinsicCount", type: t.u32, query: "Optional" },
      { name: "BlockHash", keys: [{ hasher: "Twox64Concat", type: t.u32 }], type: H256 },
      { name: "Number", type: t.u32 },
      { name: "ParentHash", type: H256 },
      { name: "Events", type: t.vec(EVENT_RECORD) },
      { name: "EventCount", type: t.u32 },
    ],
    calls: [
      {
        name: "remark",
        index: 0,
        args: [{ name: "remark", type: BYTES, typeName: "Vec<u8>" }],
        handler(ctx) {
          ensureSigned(ctx.origin);
        },
      },
      {
        name: "remark_with_event",
        index: 7,
        args: [{ name: "remark", type: BYTES, typeName: "Vec<u8>" }],
        handler(ctx, { remark }) {
          const sender = ensureSigned(ctx.origin);
          ctx.emit("System", "Remarked", { sender, hash: blake2AsU8a(remark as Uint8Array, 256) });
        },
      },
    ],
    events: [
      {
        name: "ExtrinsicSuccess",
        fields: { dispatch_info: { type: DISPATCH_INFO, typeName: "DispatchEventInfo" } },
      },
      {
        name: "ExtrinsicFailed",
        fields: {
          dispatch_error: { type: DISPATCH_ERROR, typeName: "DispatchError" },
          dispatch_info: { type: DISPATCH_INFO, typeName: "DispatchEventInfo" },
        },
      },
      { name: "CodeUpdated" },
      { name: "NewAccount", fields: { account: { type: ACCOUNT_ID, typeName: "T::AccountId" } } },
      { name: "KilledAccount", fields: { account: { type: ACCOUNT_ID, typeName: "T::AccountId" } } },
      {
        name: "Remarked",
        fields: {
          sender: { type: ACCOUNT_ID, typeName: "T::AccountId" },
          hash: { type: H256, typeName: "T::Hash" },
        },
      },
    ],
    errors: [
      { name: "InvalidSpecName" },
      { name: "SpecVersionNeedsToIncrease" },
      { name: "FailedToExtractRuntimeVersion" },
      { name: "NonDefaultComposite" },
      { name: "NonZeroRefCount" },
      { name: "CallFiltered" },
    ],
    constants: [
      { name: "BlockHashCount", type: t.u32, value: options.blockHashCount ?? 4096 },
      { name: "SS58Prefix", type: t.u16, value: options.ss58Prefix ?? 42 },
    ],
  };
}
