/**
 * Byte-array helpers shared by every layer.
 */

/**
 * True when `a` and `b` hold the same bytes. Allocates nothing (unlike `Buffer.from(a).equals(b)`
 * or @polkadot/util's `u8aEq`, which wrap their arguments in new views), so it suits the short
 * values it is used on: hashes, checksums, keys. Not constant-time: compare no secrets with it.
 *
 * @example bytesEqual(response.nonce, challenge.nonce)
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
