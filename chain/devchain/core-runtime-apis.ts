/**
 * The Substrate runtime APIs every client uses (Core, Metadata, AccountNonceApi,
 * TransactionPaymentApi), declared with the types their answers are encoded with. Metadata V15
 * lists them; once a chain offers V15, @polkadot/api builds `api.call` (and so `paymentInfo`) from
 * these declarations alone, so they must match what runtime-api.ts encodes.
 */
import type { RuntimeApiDef } from "./pallet.js";
import { ACCOUNT_ID, type Type, t } from "./scale.js";
import { DISPATCH_CLASS, WEIGHT } from "./types.js";

export const RUNTIME_VERSION = t.struct(["sp_version", "RuntimeVersion"], {
  specName: t.str,
  implName: t.str,
  authoringVersion: t.u32,
  specVersion: t.u32,
  implVersion: t.u32,
  apis: t.vec(t.tuple(t.array(t.u8, 8), t.u32)),
  transactionVersion: t.u32,
  stateVersion: t.u8,
});

// Field names are the Rust ones: clients that decode by metadata (py-substrate-interface reads
// `partial_fee`) need them exact; @polkadot/api camelCases them itself.
export const DISPATCH_INFO_V2 = t.struct(["pallet_transaction_payment", "types", "RuntimeDispatchInfo"], {
  weight: WEIGHT,
  class: DISPATCH_CLASS,
  partial_fee: t.u128,
});

export const FEE_DETAILS = t.struct(["pallet_transaction_payment", "types", "FeeDetails"], {
  inclusion_fee: t.option(
    t.struct(["pallet_transaction_payment", "types", "InclusionFee"], {
      base_fee: t.u128,
      len_fee: t.u128,
      adjusted_weight_fee: t.u128,
    }),
  ),
});

/** `sp_core::OpaqueMetadata`: the SCALE metadata as length-prefixed bytes. */
export const OPAQUE_METADATA = t.newtype(["sp_core", "OpaqueMetadata"], t.vec(t.u8));

/** Metadata versions the dev chain serves through `Metadata_metadata_at_version`. */
export const METADATA_VERSIONS = [14, 15] as const;

/** The declarations, for a runtime whose extrinsic type is `extrinsic`. */
export function coreRuntimeApis(extrinsic: Type): RuntimeApiDef[] {
  const uxt = [
    { name: "uxt", type: extrinsic },
    { name: "len", type: t.u32 },
  ];
  return [
    { name: "Core", version: 5, methods: [{ name: "version", inputs: [], output: RUNTIME_VERSION }] },
    {
      name: "Metadata",
      version: 2,
      methods: [
        { name: "metadata", inputs: [], output: OPAQUE_METADATA },
        {
          name: "metadata_at_version",
          inputs: [{ name: "version", type: t.u32 }],
          output: t.option(OPAQUE_METADATA),
        },
        { name: "metadata_versions", inputs: [], output: t.vec(t.u32) },
      ],
    },
    {
      name: "AccountNonceApi",
      version: 1,
      methods: [{ name: "account_nonce", inputs: [{ name: "account", type: ACCOUNT_ID }], output: t.u32 }],
    },
    {
      name: "TransactionPaymentApi",
      version: 4,
      methods: [
        { name: "query_info", inputs: uxt, output: DISPATCH_INFO_V2 },
        { name: "query_fee_details", inputs: uxt, output: FEE_DETAILS },
      ],
    },
  ];
}
