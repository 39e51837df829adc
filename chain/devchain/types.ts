/**
 * Substrate's shared runtime types, with the metadata paths @polkadot/api recognises
 * (sp_runtime::DispatchError, frame_system::EventRecord, sp_weights::Weight, …).
 */
import { ACCOUNT_ID, H256, type Type, t, UNIT } from "./scale.js";

export const BALANCE: Type = t.u64;

export const WEIGHT: Type = t.struct(["sp_weights", "weight_v2", "Weight"], {
  ref_time: { type: t.compact(t.u64), typeName: "u64" },
  proof_size: { type: t.compact(t.u64), typeName: "u64" },
});

export const DISPATCH_CLASS: Type = t.enum(["frame_support", "dispatch", "DispatchClass"], {
  Normal: [],
  Operational: [],
  Mandatory: [],
});

export const PAYS: Type = t.enum(["frame_support", "dispatch", "Pays"], { Yes: [], No: [] });

export const DISPATCH_INFO: Type = t.struct(["frame_system", "DispatchEventInfo"], {
  weight: { type: WEIGHT, typeName: "Weight" },
  class: { type: DISPATCH_CLASS, typeName: "DispatchClass" },
  pays_fee: { type: PAYS, typeName: "Pays" },
});

export const MODULE_ERROR: Type = t.struct(["sp_runtime", "ModuleError"], {
  index: { type: t.u8, typeName: "u8" },
  error: { type: t.array(t.u8, 4), typeName: "[u8; MAX_MODULE_ERROR_ENCODED_SIZE]" },
});

export const TOKEN_ERROR: Type = t.enum(["sp_runtime", "TokenError"], {
  FundsUnavailable: [],
  OnlyProvider: [],
  BelowMinimum: [],
  CannotCreate: [],
  UnknownAsset: [],
  Frozen: [],
  Unsupported: [],
  CannotCreateHold: [],
  NotExpendable: [],
  Blocked: [],
});

export const ARITHMETIC_ERROR: Type = t.enum(["sp_arithmetic", "ArithmeticError"], {
  Underflow: [],
  Overflow: [],
  DivisionByZero: [],
});

export const TRANSACTIONAL_ERROR: Type = t.enum(["sp_runtime", "TransactionalError"], {
  LimitReached: [],
  NoLayer: [],
});

export const DISPATCH_ERROR: Type = t.enum(["sp_runtime", "DispatchError"], {
  Other: [],
  CannotLookup: [],
  BadOrigin: [],
  Module: [MODULE_ERROR],
  ConsumerRemaining: [],
  NoProviders: [],
  TooManyConsumers: [],
  Token: [TOKEN_ERROR],
  Arithmetic: [ARITHMETIC_ERROR],
  Transactional: [TRANSACTIONAL_ERROR],
  Exhausted: [],
  Corruption: [],
  Unavailable: [],
  RootNotAllowed: [],
});

export const DISPATCH_RESULT: Type = t.result(UNIT, DISPATCH_ERROR);

export const PHASE: Type = t.enum(["frame_system", "Phase"], {
  ApplyExtrinsic: [t.u32],
  Finalization: [],
  Initialization: [],
});

export const EVENT_RECORD: Type = {
  kind: "composite",
  path: ["frame_system", "EventRecord"],
  params: [
    { name: "E", type: t.runtimeEvent },
    { name: "T", type: H256 },
  ],
  fields: [
    { name: "phase", type: PHASE, typeName: "Phase" },
    { name: "event", type: t.runtimeEvent, typeName: "E" },
    { name: "topics", type: t.vec(H256), typeName: "Vec<T>" },
  ],
};

export const ACCOUNT_DATA: Type = t.struct(
  ["pallet_balances", "types", "AccountData"],
  {
    free: { type: BALANCE, typeName: "Balance" },
    reserved: { type: BALANCE, typeName: "Balance" },
    frozen: { type: BALANCE, typeName: "Balance" },
    flags: { type: t.newtype(["pallet_balances", "types", "ExtraFlags"], t.u128), typeName: "ExtraFlags" },
  },
  [{ name: "Balance", type: BALANCE }],
);

export const ACCOUNT_INFO: Type = t.struct(
  ["frame_system", "AccountInfo"],
  {
    nonce: { type: t.u32, typeName: "Nonce" },
    consumers: { type: t.u32, typeName: "RefCount" },
    providers: { type: t.u32, typeName: "RefCount" },
    sufficients: { type: t.u32, typeName: "RefCount" },
    data: { type: ACCOUNT_DATA, typeName: "AccountData" },
  },
  [
    { name: "Nonce", type: t.u32 },
    { name: "AccountData", type: ACCOUNT_DATA },
  ],
);

export interface AccountData {
  free: bigint;
  reserved: bigint;
  frozen: bigint;
  flags: bigint;
}

export interface AccountInfo {
  nonce: number;
  consumers: number;
  providers: number;
  sufficients: number;
  data: AccountData;
}

export const MULTI_ADDRESS: Type = {
  kind: "variant",
  path: ["sp_runtime", "multiaddress", "MultiAddress"],
  params: [
    { name: "AccountId", type: ACCOUNT_ID },
    { name: "AccountIndex", type: UNIT },
  ],
  variants: [
    { name: "Id", index: 0, fields: [{ type: ACCOUNT_ID, typeName: "AccountId" }] },
    { name: "Index", index: 1, fields: [{ type: t.compact(UNIT), typeName: "AccountIndex" }] },
    { name: "Raw", index: 2, fields: [{ type: t.vec(t.u8), typeName: "Vec<u8>" }] },
    { name: "Address32", index: 3, fields: [{ type: t.array(t.u8, 32), typeName: "[u8; 32]" }] },
    { name: "Address20", index: 4, fields: [{ type: t.array(t.u8, 20), typeName: "[u8; 20]" }] },
  ],
};

export const MULTI_SIGNATURE: Type = t.enum(["sp_runtime", "MultiSignature"], {
  Ed25519: [t.newtype(["sp_core", "ed25519", "Signature"], t.array(t.u8, 64))],
  Sr25519: [t.newtype(["sp_core", "sr25519", "Signature"], t.array(t.u8, 64))],
  Ecdsa: [t.newtype(["sp_core", "ecdsa", "Signature"], t.array(t.u8, 65))],
});

/** `sp_runtime::generic::Era`: Immortal, or MortalN(u8) where the variant index is the first byte. */
export const ERA: Type = {
  kind: "variant",
  path: ["sp_runtime", "generic", "era", "Era"],
  variants: [
    { name: "Immortal", index: 0, fields: [] },
    ...Array.from({ length: 255 }, (_, i) => ({
      name: `Mortal${i + 1}`,
      index: i + 1,
      fields: [{ type: t.u8 }],
    })),
  ],
};

export const METADATA_HASH_MODE: Type = t.enum(["frame_metadata_hash_extension", "Mode"], {
  Disabled: [],
  Enabled: [],
});
