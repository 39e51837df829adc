/**
 * Storage-key hashers, exactly as Substrate's `frame_support::StorageHasher`.
 * Spec: https://docs.substrate.io/build/runtime-storage/#hashing-algorithms
 */
import { u8aConcat } from "@polkadot/util";
import { blake2AsU8a, xxhashAsU8a } from "@polkadot/util-crypto";

export type Hasher =
  | "Blake2_128"
  | "Blake2_256"
  | "Blake2_128Concat"
  | "Twox128"
  | "Twox256"
  | "Twox64Concat"
  | "Identity";

/** Metadata order of the hasher enum. */
export const HASHERS: readonly Hasher[] = [
  "Blake2_128",
  "Blake2_256",
  "Blake2_128Concat",
  "Twox128",
  "Twox256",
  "Twox64Concat",
  "Identity",
];

export const blake2_256 = (data: Uint8Array): Uint8Array => blake2AsU8a(data, 256);
export const twox128 = (data: Uint8Array | string): Uint8Array => xxhashAsU8a(data, 128);

/** Hashes an encoded key part with `hasher`. */
export function hashKey(hasher: Hasher, encoded: Uint8Array): Uint8Array {
  switch (hasher) {
    case "Blake2_128":
      return blake2AsU8a(encoded, 128);
    case "Blake2_256":
      return blake2AsU8a(encoded, 256);
    case "Blake2_128Concat":
      return u8aConcat(blake2AsU8a(encoded, 128), encoded);
    case "Twox128":
      return xxhashAsU8a(encoded, 128);
    case "Twox256":
      return xxhashAsU8a(encoded, 256);
    case "Twox64Concat":
      return u8aConcat(xxhashAsU8a(encoded, 64), encoded);
    case "Identity":
      return encoded;
  }
}

/** Bytes a hasher puts before the encoded key (for decoding keys back out of a storage key). */
export function hashPrefixLength(hasher: Hasher): number | null {
  switch (hasher) {
    case "Blake2_128Concat":
      return 16;
    case "Twox64Concat":
      return 8;
    case "Identity":
      return 0;
    default:
      return null;
  }
}
