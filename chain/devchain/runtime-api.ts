/**
 * `state_call` runtime APIs: what @polkadot/api calls during `create()` and `signAndSend()`
 * (Core_version, Metadata_*, AccountNonceApi, TransactionPaymentApi).
 * Response layouts follow the runtime API definitions in @polkadot/types (RuntimeDispatchInfoV2,
 * FeeDetails, RuntimeVersion); balances there are u128.
 */
import { DISPATCH_INFO_V2, FEE_DETAILS, METADATA_VERSIONS, RUNTIME_VERSION } from "./core-runtime-apis.js";
import { DevChainError } from "./errors.js";
import { createViewContext } from "./executive.js";
import { decodeExtrinsic } from "./extrinsic.js";
import { callDispatchInfo, computeFee, type FeeConfig, feeBreakdown } from "./pallets/transaction-payment.js";
import type { Runtime } from "./runtime.js";
import { decode, decodeFrom, encode, Reader, t, Writer } from "./scale.js";
import { ACCOUNT_INFO, type AccountInfo } from "./types.js";

export class RuntimeApiError extends DevChainError {
  override name = "RuntimeApiError";
}

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
  /** Storage keys under `prefix` at that block, sorted. */
  keysRaw(prefix: string): string[];
  /** That block's number. */
  blockNumber: number;
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
      return encode(t.vec(t.u32), [...METADATA_VERSIONS]);
    case "Metadata_metadata_at_version": {
      const version = decode(t.u32, params) as number;
      const bytes = version === 14 ? runtime.metadata : version === 15 ? runtime.metadataV15 : undefined;
      if (!bytes) return new Uint8Array([0]);
      const w = new Writer();
      w.byte(1);
      w.bytes(opaque(bytes));
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
          partial_fee: xt.signed ? computeFee(deps.fees, info, declared) : 0n,
        });
      const b = xt.signed ? feeBreakdown(deps.fees, info, declared) : null;
      return encode(FEE_DETAILS, {
        inclusion_fee: b && {
          base_fee: b.baseFee,
          len_fee: b.lenFee,
          adjusted_weight_fee: b.adjustedWeightFee,
        },
      });
    }
    default:
      return callDeclaredApi(deps, method, params);
  }
}

/** A pallet's runtime API method: decode the inputs in order, run it on a read-only view, encode. */
function callDeclaredApi(deps: RuntimeApiDeps, method: string, params: Uint8Array): Uint8Array {
  const { runtime } = deps;
  const def = runtime.runtimeApiMethod(method);
  if (!def?.call) throw new RuntimeApiError(`Exported method ${method} is not found`);
  const r = new Reader(params);
  const args = def.inputs.map((i) => decodeFrom(r, i.type, runtime.codec));
  if (r.offset !== params.length)
    throw new RuntimeApiError(`${method}: ${params.length - r.offset} bytes left after the arguments`);
  const ctx = createViewContext(
    runtime,
    { get: deps.readRaw, keysWithPrefix: deps.keysRaw },
    deps.blockNumber,
  );
  return encode(def.output, def.call(ctx, args), runtime.codec);
}
