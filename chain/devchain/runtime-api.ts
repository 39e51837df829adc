/**
 * `state_call` runtime APIs: what @polkadot/api calls during `create()` and `signAndSend()`
 * (Core_version, Metadata_*, AccountNonceApi, TransactionPaymentApi).
 * Response layouts follow the runtime API definitions in @polkadot/types (RuntimeDispatchInfoV2,
 * FeeDetails, RuntimeVersion); balances there are u128.
 */
import { DevChainError } from "./errors.js";
import { decodeExtrinsic } from "./extrinsic.js";
import { callDispatchInfo, computeFee, type FeeConfig, feeBreakdown } from "./pallets/transaction-payment.js";
import type { Runtime } from "./runtime.js";
import { decode, encode, Reader, t, Writer } from "./scale.js";
import { ACCOUNT_INFO, type AccountInfo, DISPATCH_CLASS, WEIGHT } from "./types.js";

export class RuntimeApiError extends DevChainError {
  override name = "RuntimeApiError";
}

const RUNTIME_VERSION = t.struct([], {
  specName: t.str,
  implName: t.str,
  authoringVersion: t.u32,
  specVersion: t.u32,
  implVersion: t.u32,
  apis: t.vec(t.tuple(t.array(t.u8, 8), t.u32)),
  transactionVersion: t.u32,
  stateVersion: t.u8,
});

const DISPATCH_INFO_V2 = t.struct([], { weight: WEIGHT, class: DISPATCH_CLASS, partialFee: t.u128 });
const FEE_DETAILS = t.struct([], {
  inclusionFee: t.option(t.struct([], { baseFee: t.u128, lenFee: t.u128, adjustedWeightFee: t.u128 })),
});

export function encodeRuntimeVersion(runtime: Runtime): Uint8Array {
  return encode(RUNTIME_VERSION, {
    ...runtime.version,
    apis: runtime.version.apis.map(([id, v]) => [id, v]),
  });
}

export interface RuntimeApiDeps {
  runtime: Runtime;
  fees: FeeConfig;
  /** Reads a raw storage value at the block the call is made against. */
  readRaw(key: string): Uint8Array | undefined;
}

function opaque(bytes: Uint8Array): Uint8Array {
  const w = new Writer();
  w.compact(bytes.length);
  w.bytes(bytes);
  return w.finish();
}

/** Executes runtime API `method` with SCALE `params`; returns the SCALE result. */
export function callRuntimeApi(deps: RuntimeApiDeps, method: string, params: Uint8Array): Uint8Array {
  const { runtime } = deps;
  switch (method) {
    case "Core_version":
      return encodeRuntimeVersion(runtime);
    case "Metadata_metadata":
      return opaque(runtime.metadata);
    case "Metadata_metadata_versions":
      return encode(t.vec(t.u32), [14]);
    case "Metadata_metadata_at_version": {
      const version = decode(t.u32, params) as number;
      if (version !== 14) return new Uint8Array([0]);
      const w = new Writer();
      w.byte(1);
      w.bytes(opaque(runtime.metadata));
      return w.finish();
    }
    case "AccountNonceApi_account_nonce": {
      const id = decode(t.array(t.u8, 32), params) as Uint8Array;
      const item = runtime.storageItem("System", "Account");
      const raw = deps.readRaw(runtime.storageKey(item, [id]));
      const nonce = raw ? (decode(ACCOUNT_INFO, raw) as AccountInfo).nonce : 0;
      return encode(t.u32, nonce);
    }
    case "TransactionPaymentApi_query_info":
    case "TransactionPaymentApi_query_fee_details": {
      const r = new Reader(params);
      const start = r.offset;
      const len = r.compactNumber();
      r.bytes(len);
      const xtBytes = params.slice(start, r.offset);
      const xt = decodeExtrinsic(runtime, xtBytes);
      const declared = Number(r.uint(4));
      const info = callDispatchInfo(runtime.call(xt.call.pallet, xt.call.call), xt.call);
      if (method === "TransactionPaymentApi_query_info")
        return encode(DISPATCH_INFO_V2, {
          weight: { ref_time: info.weight, proof_size: 0n },
          class: { tag: info.class },
          partialFee: xt.signed ? computeFee(deps.fees, info, declared) : 0n,
        });
      const b = xt.signed ? feeBreakdown(deps.fees, info, declared) : null;
      return encode(FEE_DETAILS, { inclusionFee: b });
    }
    default:
      throw new RuntimeApiError(`Exported method ${method} is not found`);
  }
}
