/**
 * Extrinsic format v4: `Compact<len> ++ version ++ [address ++ signature ++ extra] ++ call`.
 * The signature covers `call ++ extra ++ additionalSigned`, blake2-256 hashed when longer than 256 bytes.
 * Spec: https://docs.polkadot.com/polkadot-protocol/parachain-basics/blocks-transactions-fees/transactions/
 */

import { u8aConcat, u8aToHex } from "@polkadot/util";
import { ed25519Verify, signatureVerify, sr25519Verify } from "@polkadot/util-crypto";
import { isReady as wasmReady, sr25519Verify as wasmSr25519Verify } from "@polkadot/wasm-crypto";
import { DevChainError } from "./errors.js";
import { blake2_256 } from "./hashing.js";
import type { RuntimeCallValue } from "./pallet.js";
import type { Runtime } from "./runtime.js";
import { decodeFrom, defaultValue, encode, Reader, ScaleError, type VariantValue, Writer } from "./scale.js";
import { MULTI_ADDRESS, MULTI_SIGNATURE } from "./types.js";

/** Bytes that are not a well-formed extrinsic for this runtime. */
export class MalformedExtrinsicError extends DevChainError {
  override name = "MalformedExtrinsicError";
}

export interface MortalEra {
  period: number;
  phase: number;
}

export interface SignedPart {
  signer: Uint8Array;
  signature: VariantValue;
  /** Decoded explicit extension payloads, in extension order. */
  extra: unknown[];
  extraBytes: Uint8Array;
  /** null for an immortal transaction. */
  era: MortalEra | null;
  nonce: number;
  tip: bigint;
  /** CheckMetadataHash mode; only Disabled (0) is accepted by this chain. */
  metadataHashEnabled: boolean;
}

export interface DecodedExtrinsic {
  /** The full encoding, length prefix included (what blocks and RPC carry). */
  bytes: Uint8Array;
  hex: string;
  /** blake2-256 of `bytes`: the transaction hash @polkadot/api computes. */
  hash: string;
  signed: SignedPart | null;
  call: RuntimeCallValue;
  callBytes: Uint8Array;
}

const SIGNED_BIT = 0x80;
const VERSION = 4;

/** Decodes `sp_runtime::generic::Era` from its variant form. */
function eraOf(value: unknown): MortalEra | null {
  const v = value as VariantValue;
  if (v.tag === "Immortal") return null;
  const first = Number(v.tag.slice("Mortal".length));
  const encoded = first + ((v.value as number) << 8);
  const period = 2 ** ((encoded % 16) + 1);
  const quantize = Math.max(period >> 12, 1);
  const phase = (encoded >> 4) * quantize;
  if (period < 4 || phase >= period) throw new MalformedExtrinsicError("invalid era");
  return { period, phase };
}

/** The block a mortal transaction was signed against, seen from block `current`. */
export function eraBirth(era: MortalEra, current: number): number {
  return Math.floor((Math.max(current, era.phase) - era.phase) / era.period) * era.period + era.phase;
}

/** Decodes an extrinsic (with its length prefix) against the runtime's call enum and extensions. */
export function decodeExtrinsic(runtime: Runtime, bytes: Uint8Array): DecodedExtrinsic {
  try {
    const r = new Reader(bytes);
    const len = r.compactNumber();
    if (len !== r.remaining)
      throw new MalformedExtrinsicError(`length prefix ${len} but ${r.remaining} bytes follow`);
    const version = r.byte();
    if ((version & 0x7f) !== VERSION)
      throw new MalformedExtrinsicError(`unsupported extrinsic version ${version & 0x7f}`);
    let signed: SignedPart | null = null;
    if (version & SIGNED_BIT) {
      const address = decodeFrom(r, MULTI_ADDRESS) as VariantValue;
      if (address.tag !== "Id" && address.tag !== "Address32")
        throw new MalformedExtrinsicError(`unsupported address kind ${address.tag}`);
      const signature = decodeFrom(r, MULTI_SIGNATURE) as VariantValue;
      const extraStart = r.offset;
      const extra = runtime.extensions.map((e) => decodeFrom(r, e.extra, runtime.codec));
      const extraBytes = bytes.slice(extraStart, r.offset);
      let era: MortalEra | null = null;
      let nonce = 0;
      let tip = 0n;
      let metadataHashEnabled = false;
      runtime.extensions.forEach((e, i) => {
        const v = extra[i];
        if (e.identifier === "CheckMortality" || e.identifier === "CheckEra") era = eraOf(v);
        else if (e.identifier === "CheckNonce") nonce = Number(v);
        else if (e.identifier === "ChargeTransactionPayment") tip = BigInt(v as number | bigint);
        else if (e.identifier === "CheckMetadataHash")
          metadataHashEnabled = (v as VariantValue).tag === "Enabled";
      });
      signed = {
        signer: address.value as Uint8Array,
        signature,
        extra,
        extraBytes,
        era,
        nonce,
        tip,
        metadataHashEnabled,
      };
    }
    const callBytes = bytes.slice(r.offset);
    const call = runtime.decodeCall(callBytes);
    return { bytes, hex: u8aToHex(bytes), hash: u8aToHex(blake2_256(bytes)), signed, call, callBytes };
  } catch (e) {
    if (e instanceof MalformedExtrinsicError) throw e;
    throw new MalformedExtrinsicError(`could not decode extrinsic: ${(e as Error).message}`, { cause: e });
  }
}

/** Encodes an unsigned (inherent) extrinsic for `call`, length prefix included. */
export function encodeUnsigned(runtime: Runtime, call: RuntimeCallValue): Uint8Array {
  const body = u8aConcat(new Uint8Array([VERSION]), runtime.encodeCall(call));
  const w = new Writer();
  w.compact(body.length);
  w.bytes(body);
  return w.finish();
}

export interface AdditionalSignedInput {
  specVersion: number;
  transactionVersion: number;
  genesisHash: Uint8Array;
  /** Hash of the era's birth block (the genesis hash for immortal transactions). */
  birthHash: Uint8Array;
}

/** The implicit payload each extension adds to what is signed. */
export function additionalSigned(runtime: Runtime, input: AdditionalSignedInput): Uint8Array {
  const parts = runtime.extensions.map((e) => {
    switch (e.identifier) {
      case "CheckSpecVersion":
        return encode(e.additional, input.specVersion);
      case "CheckTxVersion":
        return encode(e.additional, input.transactionVersion);
      case "CheckGenesis":
        return input.genesisHash;
      case "CheckMortality":
      case "CheckEra":
        return input.birthHash;
      default:
        return encode(e.additional, defaultValue(e.additional, runtime.codec), runtime.codec);
    }
  });
  return u8aConcat(...parts);
}

/** Checks the signature of a signed extrinsic over `call ++ extra ++ additional`. */
export function verifyExtrinsicSignature(xt: DecodedExtrinsic, additional: Uint8Array): boolean {
  const s = xt.signed;
  if (!s) return false;
  let payload = u8aConcat(xt.callBytes, s.extraBytes, additional);
  if (payload.length > 256) payload = blake2_256(payload);
  const sig = s.signature.value as Uint8Array;
  try {
    switch (s.signature.tag) {
      case "Sr25519":
        // @polkadot/util-crypto 14 verifies sr25519 in plain JS (~3.5 ms here); the WASM build
        // @polkadot/api already loads does it in ~0.4 ms. Measured in `npm run bench -- devchain`.
        return wasmReady()
          ? wasmSr25519Verify(sig, payload, s.signer)
          : sr25519Verify(payload, sig, s.signer);
      case "Ed25519":
        return ed25519Verify(payload, sig, s.signer);
      case "Ecdsa":
        return signatureVerify(payload, u8aConcat(new Uint8Array([2]), sig), s.signer).isValid;
      default:
        return false;
    }
  } catch (e) {
    if (e instanceof ScaleError) return false;
    return false;
  }
}

/** Anything that signs like a @polkadot/keyring pair. */
export interface ExtrinsicSigner {
  publicKey: Uint8Array;
  /** "sr25519" or "ed25519" (what @polkadot/keyring pairs report). */
  type: string;
  sign(message: Uint8Array): Uint8Array;
}

export interface SignOptions {
  nonce: number;
  genesisHash: Uint8Array;
  tip?: bigint;
}

/**
 * Builds a signed, immortal v4 extrinsic for `call` without @polkadot/api (simulators, benches).
 * Only the standard extensions are filled in; others take their default payloads.
 */
export function signExtrinsic(
  runtime: Runtime,
  call: RuntimeCallValue,
  signer: ExtrinsicSigner,
  options: SignOptions,
): Uint8Array {
  const callBytes = runtime.encodeCall(call);
  const extra = u8aConcat(
    ...runtime.extensions.map((e) => {
      switch (e.identifier) {
        case "CheckMortality":
        case "CheckEra":
          return new Uint8Array([0]);
        case "CheckNonce":
          return encode(e.extra, options.nonce);
        case "ChargeTransactionPayment":
          return encode(e.extra, options.tip ?? 0n);
        default:
          return encode(e.extra, defaultValue(e.extra, runtime.codec), runtime.codec);
      }
    }),
  );
  const additional = additionalSigned(runtime, {
    specVersion: runtime.version.specVersion,
    transactionVersion: runtime.version.transactionVersion,
    genesisHash: options.genesisHash,
    birthHash: options.genesisHash,
  });
  let payload = u8aConcat(callBytes, extra, additional);
  if (payload.length > 256) payload = blake2_256(payload);
  const signature = signer.sign(payload);
  const body = u8aConcat(
    new Uint8Array([SIGNED_BIT | VERSION, 0]),
    signer.publicKey,
    new Uint8Array([signer.type === "ed25519" ? 0 : 1]),
    signature,
    extra,
    callBytes,
  );
  const w = new Writer();
  w.compact(body.length);
  w.bytes(body);
  return w.finish();
}
