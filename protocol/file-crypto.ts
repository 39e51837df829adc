import { createCipheriv, createDecipheriv } from "node:crypto";
import { hchacha } from "@noble/ciphers/chacha.js";
import { equalBytes } from "@noble/ciphers/utils.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { CHUNK_BYTES } from "./content-id.js";
import { ProtocolError } from "./errors.js";

/**
 * Client-side encryption of a file before it leaves the machine: a header, then the file in
 * blocks, each sealed with XChaCha20-Poly1305 under a key of its own file
 * (https://datatracker.ietf.org/doc/html/draft-irtf-cfrg-xchacha).
 *
 *   header  = magic "SSFE" | version 1 | salt (32 random bytes) | key commitment (32 bytes)
 *   block i = XChaCha20-Poly1305(fileKey, nonce = 16 zero bytes | u64 BE i,
 *                                aad = header | final flag (1 if last block, else 0))
 *
 * The ciphertext lines up with the content ID's 1 MiB leaves (protocol/content-id.ts): the header
 * and the first sealed block fill exactly the first leaf, and every later sealed block (1 MiB −
 * 16 bytes of plaintext and its 16-byte tag) is exactly one leaf. So a leaf that verifies against
 * the CID is one block that decrypts on its own, and a range read fetches exactly the leaves of the
 * blocks it covers (plus the header, 69 bytes at the start of leaf 0). 1 MiB of plaintext per block
 * would have made every sealed block straddle two leaves.
 *
 * Why XChaCha20-Poly1305 over AES-256-GCM-SIV: the nonces here never repeat by construction (a
 * fresh random 256-bit salt gives every file its own key, and the block index is the nonce under
 * it, the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár), so GCM-SIV's nonce-misuse
 * resistance buys nothing, while it costs a second pass over every block; ChaCha20 is constant
 * time in plain JavaScript without AES instructions, and the 192-bit nonce leaves no per-key block
 * limit worth counting. Poly1305 alone does not commit to the key, so the header carries an
 * HMAC commitment to it: a wrong key is told apart from a damaged file, and no ciphertext can be
 * made to open under two keys.
 *
 * The final flag in the associated data makes truncation at a block boundary and a dropped last
 * block fail (the new last block was sealed as "not final"); the index in the nonce makes swapped
 * or repeated blocks fail; the header in the associated data ties every block to its file. A block
 * is authenticated before a byte of it is returned.
 */

/** The 4 bytes every encrypted file starts with: "SSFE", storage-subnet file, encrypted. */
export const FILE_CRYPTO_MAGIC = Uint8Array.of(0x53, 0x53, 0x46, 0x45);

/** The format version this module writes and reads; a change of format bumps it. */
export const FILE_CRYPTO_VERSION = 1;

/** Bytes of the random per-file salt the file key is derived with. */
export const FILE_SALT_BYTES = 32;

/** Bytes of the key commitment in the header (HMAC-SHA256, full length for collision resistance). */
export const KEY_COMMITMENT_BYTES = 32;

/** Bytes of the header: magic, version, salt, key commitment. */
export const FILE_HEADER_BYTES = FILE_CRYPTO_MAGIC.length + 1 + FILE_SALT_BYTES + KEY_COMMITMENT_BYTES;

/** The Poly1305 tag every sealed block ends with. */
export const TAG_BYTES = 16;

/** A sealed block is one content-ID leaf, so leaves and blocks line up (see the module comment). */
export const SEALED_BLOCK_BYTES = CHUNK_BYTES;

/** Plaintext bytes of every block but the first (and the last, which may be shorter). */
export const PLAIN_BLOCK_BYTES = SEALED_BLOCK_BYTES - TAG_BYTES;

/** Plaintext bytes of the first block: it shares the first leaf with the header. */
export const FIRST_PLAIN_BLOCK_BYTES = SEALED_BLOCK_BYTES - FILE_HEADER_BYTES - TAG_BYTES;

/** Bytes of the user secret and of a wallet's secret seed (an sr25519 mini secret). */
export const USER_SECRET_BYTES = 32;

/** HKDF info of the file key: `fileKey = HKDF-SHA256(userSecret, salt, FILE_KEY_INFO)`. */
export const FILE_KEY_INFO = "storage-subnet/file/v1";

/** HKDF info of the user secret derived from a wallet's seed; no other key uses it. */
export const USER_SECRET_INFO = "storage-subnet/user-secret/v1";

/** HMAC message of the key commitment: `commitment = HMAC-SHA256(fileKey, KEY_COMMITMENT_INFO)`. */
export const KEY_COMMITMENT_INFO = "storage-subnet/file/v1/key-commitment";

/** The header is short, has the wrong magic or a version this module does not read. */
export class FileHeaderError extends ProtocolError {
  override name = "FileHeaderError";
}

/** The header's key commitment does not match: the file was sealed under another user secret. */
export class FileKeyMismatchError extends ProtocolError {
  override name = "FileKeyMismatchError";
}

/** A block failed authentication: it was changed, moved, truncated, dropped or added to. */
export class FileAuthenticationError extends ProtocolError {
  override name = "FileAuthenticationError";
}

/** A plaintext range outside the file, or a size no encrypted file can have. */
export class EncryptedRangeError extends ProtocolError {
  override name = "EncryptedRangeError";
}

/** A seed or user secret of the wrong length. */
export class UserSecretError extends ProtocolError {
  override name = "UserSecretError";
}

/**
 * The user secret all of a user's file keys come from, derived from their wallet hotkey's 32-byte
 * secret seed (the keyfile's `secretSeed`) with HKDF-SHA256 and a domain string of its own, so the
 * wallet is all the user keeps and the secret says nothing about the signing key.
 *
 * @example
 * const userSecret = deriveUserSecret(hexToU8a(keyfile.secretSeed));
 */
export function deriveUserSecret(seed: Uint8Array): Uint8Array {
  if (seed.length !== USER_SECRET_BYTES) {
    throw new UserSecretError(`a wallet seed is ${USER_SECRET_BYTES} bytes`, {
      details: `got ${seed.length}`,
    });
  }
  return hkdf(sha256, seed, undefined, utf8ToBytes(USER_SECRET_INFO), USER_SECRET_BYTES);
}

/** How many blocks a file of `plainSize` bytes is sealed in (an empty file is one empty block). */
export function blockCount(plainSize: number): number {
  checkSize(plainSize, "plain size");
  if (plainSize <= FIRST_PLAIN_BLOCK_BYTES) return 1;
  return 1 + Math.ceil((plainSize - FIRST_PLAIN_BLOCK_BYTES) / PLAIN_BLOCK_BYTES);
}

/**
 * The size of the encrypted file: the header, the plaintext, one tag per block.
 *
 * @example
 * encryptedSize(0); // 85: the header and one empty block's tag
 */
export function encryptedSize(plainSize: number): number {
  return FILE_HEADER_BYTES + plainSize + TAG_BYTES * blockCount(plainSize);
}

/** The plaintext size behind an encrypted file of `sealedSize` bytes; throws if none fits. */
export function plainSize(sealedSize: number): number {
  checkSize(sealedSize, "encrypted size");
  const afterHeader = sealedSize - FILE_HEADER_BYTES;
  if (afterHeader < TAG_BYTES)
    throw new EncryptedRangeError("too short to be an encrypted file", { details: `${sealedSize} bytes` });
  if (afterHeader <= FIRST_PLAIN_BLOCK_BYTES + TAG_BYTES) return afterHeader - TAG_BYTES;
  const later = sealedSize - SEALED_BLOCK_BYTES;
  const full = Math.floor(later / SEALED_BLOCK_BYTES);
  const rest = later % SEALED_BLOCK_BYTES;
  // A later block always holds at least one byte: the encryptor starts one only for more data.
  if (rest !== 0 && rest <= TAG_BYTES) {
    throw new EncryptedRangeError("no encrypted file has this size", { details: `${sealedSize} bytes` });
  }
  return FIRST_PLAIN_BLOCK_BYTES + full * PLAIN_BLOCK_BYTES + (rest === 0 ? 0 : rest - TAG_BYTES);
}

/** Where a plaintext range lies in the encrypted file, and how to cut it from its blocks. */
export interface EncryptedRange {
  /** The plaintext size of the whole file (it decides which block is the final one). */
  readonly plainSize: number;
  /** The first block covering the range. */
  readonly firstBlock: number;
  /** How many blocks cover it (0 for an empty range). */
  readonly blockCount: number;
  /** Offset of the first covering block in the encrypted file (block 0 starts after the header). */
  readonly sealedOffset: number;
  /** Bytes of the covering blocks, tags included. */
  readonly sealedLength: number;
  /** Plaintext bytes to drop from the front of the first covering block. */
  readonly skip: number;
  /** Plaintext bytes of the range. */
  readonly length: number;
}

/**
 * Which sealed blocks cover `length` plaintext bytes from `offset` in a file of `plainSize`
 * bytes, so a reader fetches and decrypts only those (and the header, bytes 0 to
 * FILE_HEADER_BYTES). Since a sealed block is one content-ID leaf, block i is leaf i.
 *
 * @example
 * const range = encryptedRange(plainSize(sealedSize), 5_000_000, 1000);
 * // fetch bytes [range.sealedOffset, range.sealedOffset + range.sealedLength), then decryptRange
 */
export function encryptedRange(size: number, offset: number, length: number): EncryptedRange {
  checkSize(size, "plain size");
  checkSize(offset, "offset");
  checkSize(length, "length");
  if (offset + length > size) {
    throw new EncryptedRangeError("range outside the file", { details: `${offset}+${length} of ${size}` });
  }
  if (length === 0) {
    return {
      plainSize: size,
      firstBlock: 0,
      blockCount: 0,
      sealedOffset: FILE_HEADER_BYTES,
      sealedLength: 0,
      skip: 0,
      length: 0,
    };
  }
  const first = blockOf(offset);
  const last = blockOf(offset + length - 1);
  const sealedOffset = sealedStart(first);
  const sealedEnd = sealedStart(last) + blockPlainLength(last, size) + TAG_BYTES;
  return {
    plainSize: size,
    firstBlock: first,
    blockCount: last - first + 1,
    sealedOffset,
    sealedLength: sealedEnd - sealedOffset,
    skip: offset - plainStart(first),
    length,
  };
}

/** Options of {@link encryptStream}. */
export interface EncryptOptions {
  /**
   * The file's FILE_SALT_BYTES salt; default fresh random bytes. Pass one only to produce the same
   * ciphertext twice for one file (the client hashes a put before it sends it, so both passes must
   * agree); reusing a salt for different plaintext under one user secret reuses the file key and
   * its nonces, which breaks the encryption.
   */
  salt?: Uint8Array;
}

/**
 * Encrypts a file as it streams: yields the header, then each sealed block as soon as the block
 * after it has begun (or the input ended), so memory stays about two blocks whatever the file size.
 *
 * @example
 * const sealed = encryptStream(createReadStream(path), userSecret);
 */
export async function* encryptStream(
  source: AsyncIterable<Uint8Array>,
  userSecret: Uint8Array,
  options: EncryptOptions = {},
): AsyncGenerator<Uint8Array> {
  const salt = options.salt ?? randomBytes(FILE_SALT_BYTES);
  if (salt.length !== FILE_SALT_BYTES) {
    throw new FileHeaderError(`a file salt is ${FILE_SALT_BYTES} bytes`, { details: `got ${salt.length}` });
  }
  const fileKey = deriveFileKey(userSecret, salt);
  const header = new Uint8Array(FILE_HEADER_BYTES);
  header.set(FILE_CRYPTO_MAGIC, 0);
  header[FILE_CRYPTO_MAGIC.length] = FILE_CRYPTO_VERSION;
  header.set(salt, FILE_CRYPTO_MAGIC.length + 1);
  header.set(commitTo(fileKey), FILE_CRYPTO_MAGIC.length + 1 + FILE_SALT_BYTES);
  yield header;
  const queue = new ByteQueue(source);
  try {
    for (let index = 0; ; index++) {
      const { bytes, final } = await queue.block(index === 0 ? FIRST_PLAIN_BLOCK_BYTES : PLAIN_BLOCK_BYTES);
      yield sealXChaCha(fileKey, nonceOf(index), aadOf(header, final), bytes);
      if (final) return;
    }
  } finally {
    await queue.close();
  }
}

/**
 * Decrypts a file sealed by `encryptStream` as it streams, yielding each block's plaintext only
 * after the block authenticated. Throws FileHeaderError, FileKeyMismatchError or
 * FileAuthenticationError; what was yielded before the error is authentic, but the file is
 * not whole until the iteration ends without one.
 *
 * @example
 * for await (const bytes of decryptStream(sealed, userSecret)) out.write(bytes);
 */
export async function* decryptStream(
  source: AsyncIterable<Uint8Array>,
  userSecret: Uint8Array,
): AsyncGenerator<Uint8Array> {
  const queue = new ByteQueue(source);
  try {
    const header = await queue.exactly(FILE_HEADER_BYTES);
    if (header === null) throw new FileHeaderError("shorter than the header of an encrypted file");
    const fileKey = openHeader(header, userSecret);
    for (let index = 0; ; index++) {
      const { bytes, final } = await queue.block(
        index === 0 ? FIRST_PLAIN_BLOCK_BYTES + TAG_BYTES : SEALED_BLOCK_BYTES,
      );
      yield openBlock(fileKey, header, index, final, bytes);
      if (final) return;
    }
  } finally {
    await queue.close();
  }
}

/**
 * Decrypts the blocks `range` names (from `encryptedRange`) and yields exactly the plaintext
 * bytes of the range. `header` is the file's first FILE_HEADER_BYTES bytes; `source` yields the
 * encrypted bytes from `range.sealedOffset` for `range.sealedLength` bytes.
 *
 * @example
 * const range = encryptedRange(size, offset, length);
 * for await (const bytes of decryptRange(header, fetchBytes(range), range, userSecret)) out.write(bytes);
 */
export async function* decryptRange(
  header: Uint8Array,
  source: AsyncIterable<Uint8Array>,
  range: EncryptedRange,
  userSecret: Uint8Array,
): AsyncGenerator<Uint8Array> {
  if (header.length !== FILE_HEADER_BYTES) {
    throw new FileHeaderError("a header is exactly its size", { details: `${header.length} bytes` });
  }
  const fileKey = openHeader(header, userSecret);
  const queue = new ByteQueue(source);
  const lastOfFile = blockCount(range.plainSize) - 1;
  let skip = range.skip;
  let left = range.length;
  try {
    for (let index = range.firstBlock; index < range.firstBlock + range.blockCount; index++) {
      const sealed = await queue.exactly(blockPlainLength(index, range.plainSize) + TAG_BYTES);
      if (sealed === null)
        throw new FileAuthenticationError("the range ended inside a block", { details: `block ${index}` });
      const plain = openBlock(fileKey, header, index, index === lastOfFile, sealed);
      const piece = plain.subarray(skip, Math.min(plain.length, skip + left));
      skip = 0;
      left -= piece.length;
      yield piece;
    }
    if (!(await queue.drained())) throw new FileAuthenticationError("bytes after the range's last block");
  } finally {
    await queue.close();
  }
}

function deriveFileKey(userSecret: Uint8Array, salt: Uint8Array): Uint8Array {
  if (userSecret.length !== USER_SECRET_BYTES) {
    throw new UserSecretError(`a user secret is ${USER_SECRET_BYTES} bytes`, {
      details: `got ${userSecret.length}`,
    });
  }
  return hkdf(sha256, userSecret, salt, utf8ToBytes(FILE_KEY_INFO), 32);
}

function commitTo(fileKey: Uint8Array): Uint8Array {
  return hmac(sha256, fileKey, utf8ToBytes(KEY_COMMITMENT_INFO));
}

/** Checks the header and returns the file key it commits to. */
function openHeader(header: Uint8Array, userSecret: Uint8Array): Uint8Array {
  const magic = header.subarray(0, FILE_CRYPTO_MAGIC.length);
  if (!equalBytes(magic, FILE_CRYPTO_MAGIC)) throw new FileHeaderError("not an encrypted file (bad magic)");
  const version = header[FILE_CRYPTO_MAGIC.length];
  if (version !== FILE_CRYPTO_VERSION) {
    throw new FileHeaderError("unknown encrypted file version", { details: `version ${version}` });
  }
  const saltAt = FILE_CRYPTO_MAGIC.length + 1;
  const fileKey = deriveFileKey(userSecret, header.subarray(saltAt, saltAt + FILE_SALT_BYTES));
  if (!equalBytes(commitTo(fileKey), header.subarray(saltAt + FILE_SALT_BYTES))) {
    throw new FileKeyMismatchError("the file was encrypted under another key");
  }
  return fileKey;
}

function openBlock(
  fileKey: Uint8Array,
  header: Uint8Array,
  index: number,
  final: boolean,
  sealed: Uint8Array,
): Uint8Array {
  if (sealed.length < TAG_BYTES) {
    throw new FileAuthenticationError("a block shorter than its tag", {
      details: `block ${index}, ${sealed.length} bytes`,
    });
  }
  try {
    return openXChaCha(fileKey, nonceOf(index), aadOf(header, final), sealed);
  } catch (cause) {
    throw new FileAuthenticationError("a block failed authentication", {
      details: `block ${index}${final ? " (as the last)" : ""}`,
      cause,
    });
  }
}

/** "expand 32-byte k", the ChaCha constant, as little-endian words. */
const CHACHA_SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

/**
 * XChaCha20-Poly1305 as ChaCha20-Poly1305 under an HChaCha20 subkey (draft-irtf-cfrg-xchacha §2.3):
 * the bulk cipher and MAC run in OpenSSL (node:crypto) at several times the speed of the pure-JS
 * AEAD, and only the 24-byte-nonce subkey step comes from @noble/ciphers. The output is the same
 * bytes as noble's `xchacha20poly1305` (test/file-crypto.test.ts checks it).
 */
function xchachaSubkey(key: Uint8Array, nonce: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const keyWords = new Uint32Array(8);
  new Uint8Array(keyWords.buffer).set(key);
  const nonceWords = new Uint32Array(4);
  new Uint8Array(nonceWords.buffer).set(nonce.subarray(0, 16));
  const subkey = new Uint32Array(8);
  hchacha(CHACHA_SIGMA, keyWords, nonceWords, subkey);
  const shortNonce = new Uint8Array(12);
  shortNonce.set(nonce.subarray(16, 24), 4);
  return { key: new Uint8Array(subkey.buffer), nonce: shortNonce };
}

/** XChaCha20-Poly1305: the ciphertext of `plain` followed by its 16-byte tag. */
export function sealXChaCha(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plain: Uint8Array,
): Uint8Array {
  const sub = xchachaSubkey(key, nonce);
  const cipher = createCipheriv("chacha20-poly1305", sub.key, sub.nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength: plain.length });
  const sealed = new Uint8Array(plain.length + TAG_BYTES);
  const body = cipher.update(plain);
  sealed.set(body, 0);
  const rest = cipher.final();
  sealed.set(rest, body.length);
  sealed.set(cipher.getAuthTag(), body.length + rest.length);
  return sealed;
}

/**
 * Opens what {@link sealXChaCha} sealed (at least TAG_BYTES long); throws when the tag does not
 * authenticate the bytes and `aad` under the key and nonce.
 */
export function openXChaCha(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array {
  const sub = xchachaSubkey(key, nonce);
  const decipher = createDecipheriv("chacha20-poly1305", sub.key, sub.nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad, { plaintextLength: sealed.length - TAG_BYTES });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const body = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
  const rest = decipher.final();
  if (rest.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.length);
  return Buffer.concat([body, rest]);
}

/** The STREAM nonce: the block index, unique under a key no other file uses. */
function nonceOf(index: number): Uint8Array {
  const nonce = new Uint8Array(24);
  new DataView(nonce.buffer).setBigUint64(16, BigInt(index));
  return nonce;
}

function aadOf(header: Uint8Array, final: boolean): Uint8Array {
  const aad = new Uint8Array(header.length + 1);
  aad.set(header, 0);
  aad[header.length] = final ? 1 : 0;
  return aad;
}

function blockOf(plainOffset: number): number {
  if (plainOffset < FIRST_PLAIN_BLOCK_BYTES) return 0;
  return 1 + Math.floor((plainOffset - FIRST_PLAIN_BLOCK_BYTES) / PLAIN_BLOCK_BYTES);
}

function plainStart(index: number): number {
  return index === 0 ? 0 : FIRST_PLAIN_BLOCK_BYTES + (index - 1) * PLAIN_BLOCK_BYTES;
}

function sealedStart(index: number): number {
  return index === 0 ? FILE_HEADER_BYTES : index * SEALED_BLOCK_BYTES;
}

function blockPlainLength(index: number, size: number): number {
  const capacity = index === 0 ? FIRST_PLAIN_BLOCK_BYTES : PLAIN_BLOCK_BYTES;
  return Math.min(capacity, size - plainStart(index));
}

function checkSize(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new EncryptedRangeError(`${what} must be a non-negative integer`, { details: String(value) });
  }
}

/**
 * Cuts an async byte stream into blocks of given sizes, however its chunks fall, reading one
 * chunk past a block to learn whether it is the last.
 */
class ByteQueue {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private readonly chunks: Uint8Array[] = [];
  private head = 0;
  private buffered = 0;
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Up to `size` bytes, and whether the stream ends right after them. */
  async block(size: number): Promise<{ bytes: Uint8Array; final: boolean }> {
    await this.fill(size + 1);
    const final = this.buffered <= size;
    return { bytes: this.take(Math.min(size, this.buffered)), final };
  }

  /** Exactly `size` bytes, or null if the stream ends first. */
  async exactly(size: number): Promise<Uint8Array | null> {
    await this.fill(size);
    return this.buffered < size ? null : this.take(size);
  }

  /** Lets the source release what it holds (a file handle, a socket) when a reader stops early. */
  async close(): Promise<void> {
    if (!this.done) await this.iterator.return?.();
    this.done = true;
  }

  /** Whether the stream has no bytes left. */
  async drained(): Promise<boolean> {
    await this.fill(1);
    return this.buffered === 0;
  }

  private async fill(size: number): Promise<void> {
    while (this.buffered < size && !this.done) {
      const next = await this.iterator.next();
      if (next.done) this.done = true;
      else if (next.value.length > 0) {
        this.chunks.push(next.value);
        this.buffered += next.value.length;
      }
    }
  }

  private take(size: number): Uint8Array {
    const out = new Uint8Array(size);
    let at = 0;
    let used = 0;
    while (at < size) {
      const chunk = this.chunks[used] as Uint8Array;
      const n = Math.min(size - at, chunk.length - this.head);
      out.set(chunk.subarray(this.head, this.head + n), at);
      at += n;
      this.head += n;
      if (this.head === chunk.length) {
        used++;
        this.head = 0;
      }
    }
    // One splice per block, not a shift per chunk: a stream of tiny chunks stays linear.
    this.chunks.splice(0, used);
    this.buffered -= size;
    return out;
  }
}
