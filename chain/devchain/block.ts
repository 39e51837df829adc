/**
 * Block headers, encoded and hashed exactly like Substrate's `sp_runtime::generic::Header`:
 * parentHash ++ Compact<number> ++ stateRoot ++ extrinsicsRoot ++ Vec<DigestItem>, hash = blake2-256.
 */
import { u8aToHex } from "@polkadot/util";
import { blake2_256 } from "./hashing.js";
import { Writer } from "./scale.js";

export interface Header {
  parentHash: Uint8Array;
  number: number;
  stateRoot: Uint8Array;
  extrinsicsRoot: Uint8Array;
  /** Encoded DigestItems. */
  digest: Uint8Array[];
}

export interface Block {
  header: Header;
  hash: Uint8Array;
  hashHex: string;
  /** Full extrinsic encodings (each with its length prefix), as @polkadot/api expects them. */
  extrinsics: Uint8Array[];
}

export interface HeaderJson {
  parentHash: string;
  number: string;
  stateRoot: string;
  extrinsicsRoot: string;
  digest: { logs: string[] };
}

export function encodeHeader(h: Header): Uint8Array {
  const w = new Writer();
  w.bytes(h.parentHash);
  w.compact(h.number);
  w.bytes(h.stateRoot);
  w.bytes(h.extrinsicsRoot);
  w.compact(h.digest.length);
  for (const d of h.digest) w.bytes(d);
  return w.finish();
}

export function hashHeader(h: Header): Uint8Array {
  return blake2_256(encodeHeader(h));
}

/** Commitment to a block body: blake2-256 of its SCALE `Vec<Extrinsic>` (not a trie root). */
export function computeExtrinsicsRoot(extrinsics: readonly Uint8Array[]): Uint8Array {
  const w = new Writer();
  w.compact(extrinsics.length);
  for (const x of extrinsics) w.bytes(x);
  return blake2_256(w.finish());
}

export function makeBlock(header: Header, extrinsics: Uint8Array[]): Block {
  const hash = hashHeader(header);
  return { header, hash, hashHex: u8aToHex(hash), extrinsics };
}

export function headerToJson(h: Header): HeaderJson {
  return {
    parentHash: u8aToHex(h.parentHash),
    number: `0x${h.number.toString(16)}`,
    stateRoot: u8aToHex(h.stateRoot),
    extrinsicsRoot: u8aToHex(h.extrinsicsRoot),
    digest: { logs: h.digest.map((d) => u8aToHex(d)) },
  };
}
