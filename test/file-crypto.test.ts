import { randomBytes } from "node:crypto";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CHUNK_BYTES } from "../protocol/content-id.js";
import {
  blockCount,
  decryptRange,
  decryptStream,
  deriveUserSecret,
  EncryptedRangeError,
  encryptedRange,
  encryptedSize,
  encryptStream,
  FILE_HEADER_BYTES,
  FIRST_PLAIN_BLOCK_BYTES,
  FileAuthenticationError,
  FileHeaderError,
  FileKeyMismatchError,
  openXChaCha,
  PLAIN_BLOCK_BYTES,
  plainSize,
  SEALED_BLOCK_BYTES,
  sealXChaCha,
  TAG_BYTES,
  UserSecretError,
} from "../protocol/file-crypto.js";

const MiB = 1024 * 1024;
const secret = deriveUserSecret(new Uint8Array(32).fill(7));

/** Yields `bytes` in pieces of the given sizes in turn, as a file read or a socket would. */
async function* pieces(bytes: Uint8Array, sizes: readonly number[] = [300_001]): AsyncGenerator<Uint8Array> {
  let turn = 0;
  for (let at = 0; at < bytes.length; ) {
    const size = sizes[turn++ % sizes.length] as number;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

/** Everything a stream yields before it throws, and what it threw. */
async function collectUntilError(
  stream: AsyncIterable<Uint8Array>,
): Promise<{ yielded: Uint8Array; error: unknown }> {
  const parts: Uint8Array[] = [];
  try {
    for await (const part of stream) parts.push(part);
  } catch (error) {
    return { yielded: Buffer.concat(parts), error };
  }
  return { yielded: Buffer.concat(parts), error: undefined };
}

async function seal(plain: Uint8Array, userSecret = secret): Promise<Uint8Array> {
  return collect(encryptStream(pieces(plain), userSecret));
}

/** Where block `index` starts in the plaintext. */
function plainStartOf(index: number): number {
  return index === 0 ? 0 : FIRST_PLAIN_BLOCK_BYTES + (index - 1) * PLAIN_BLOCK_BYTES;
}

/** Bytes from a seed, fast enough for MiB-sized property cases and reproducible from the seed. */
function bytesFromSeed(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe("file encryption round trips", () => {
  const sizes = [
    0,
    1,
    FIRST_PLAIN_BLOCK_BYTES - 1,
    FIRST_PLAIN_BLOCK_BYTES,
    FIRST_PLAIN_BLOCK_BYTES + 1,
    FIRST_PLAIN_BLOCK_BYTES + PLAIN_BLOCK_BYTES - 1,
    FIRST_PLAIN_BLOCK_BYTES + PLAIN_BLOCK_BYTES,
    FIRST_PLAIN_BLOCK_BYTES + PLAIN_BLOCK_BYTES + 1,
    5 * MiB + 12_345,
  ];
  for (const size of sizes) {
    it(`${size} bytes`, async () => {
      const plain = randomBytes(size);
      const sealed = await collect(encryptStream(pieces(plain, [1, 70_000, 1_048_577, 13]), secret));
      expect(sealed.length).toBe(encryptedSize(size));
      expect(plainSize(sealed.length)).toBe(size);
      expect(Buffer.from(sealed.subarray(0, 4)).toString()).toBe("SSFE");
      const opened = await collect(decryptStream(pieces(sealed, [999_999, 3, 2 * MiB]), secret));
      expect(Buffer.from(opened).equals(plain)).toBe(true);
    });
  }

  it("encrypts the same file differently each time (a fresh salt, so a fresh key)", async () => {
    const plain = randomBytes(1000);
    const [a, b] = [await seal(plain), await seal(plain)];
    expect(Buffer.from(a).equals(b)).toBe(false);
    expect(Buffer.from(await collect(decryptStream(pieces(b), secret))).equals(plain)).toBe(true);
  });

  it("seals blocks that are exactly the content ID's 1 MiB leaves, each decryptable on its own", async () => {
    const size = FIRST_PLAIN_BLOCK_BYTES + 2 * PLAIN_BLOCK_BYTES + 500;
    const plain = randomBytes(size);
    const sealed = await seal(plain);
    expect(SEALED_BLOCK_BYTES).toBe(CHUNK_BYTES);
    expect(blockCount(size)).toBe(4);
    expect(sealed.length).toBe(3 * CHUNK_BYTES + 500 + TAG_BYTES);
    const header = sealed.subarray(0, FILE_HEADER_BYTES);
    for (let leaf = 0; leaf < 4; leaf++) {
      const leafBytes = sealed.subarray(leaf * CHUNK_BYTES, (leaf + 1) * CHUNK_BYTES);
      const blockBytes = leaf === 0 ? leafBytes.subarray(FILE_HEADER_BYTES) : leafBytes;
      const start = plainStartOf(leaf);
      const end = Math.min(size, plainStartOf(leaf + 1));
      const range = encryptedRange(size, start, end - start);
      expect(range).toMatchObject({ firstBlock: leaf, blockCount: 1, sealedLength: blockBytes.length });
      expect(range.sealedOffset).toBe(leaf === 0 ? FILE_HEADER_BYTES : leaf * CHUNK_BYTES);
      const opened = await collect(decryptRange(header, pieces(blockBytes), range, secret));
      expect(Buffer.from(opened).equals(plain.subarray(start, end))).toBe(true);
    }
  });

  it("stops reading the source when the reader stops early", async () => {
    let returned = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) yield new Uint8Array(64 * 1024);
      } finally {
        returned = true;
      }
    }
    let yielded = 0;
    // The header, then the first sealed block: by then the source is being read.
    for await (const _ of encryptStream(source(), secret)) if (++yielded === 2) break;
    expect(returned).toBe(true);
  });
});

describe("file decryption refuses tampering and yields nothing unauthenticated", () => {
  // Four blocks: two full ones in the middle, so swaps change nothing but the order.
  const size = FIRST_PLAIN_BLOCK_BYTES + 2 * PLAIN_BLOCK_BYTES + 12_345;
  const plain = randomBytes(size);
  const sealedOnce = seal(plain);

  /** Asserts the stream failed at `block` with `kind`, having yielded exactly the blocks before it. */
  async function expectFailureAt(sealed: Uint8Array, block: number, kind: new (...args: never[]) => Error) {
    const { yielded, error } = await collectUntilError(decryptStream(pieces(sealed, [77_777]), secret));
    expect(error).toBeInstanceOf(kind);
    expect((error as Error).name).toBe(kind.name);
    expect(Buffer.from(yielded).equals(plain.subarray(0, plainStartOf(block)))).toBe(true);
    return error as Error;
  }

  for (const block of [0, 1, 2, 3]) {
    it(`a flipped bit in block ${block}`, async () => {
      const sealed = Uint8Array.from(await sealedOnce);
      const at = block === 0 ? FILE_HEADER_BYTES + 5 : block * CHUNK_BYTES + 1000;
      sealed[at] = (sealed[at] as number) ^ 0x10;
      const error = await expectFailureAt(sealed, block, FileAuthenticationError);
      expect((error as FileAuthenticationError).details).toContain(`block ${block}`);
    });
  }

  it("a flipped bit in a tag", async () => {
    const sealed = Uint8Array.from(await sealedOnce);
    sealed[2 * CHUNK_BYTES - 1] = (sealed[2 * CHUNK_BYTES - 1] as number) ^ 1;
    await expectFailureAt(sealed, 1, FileAuthenticationError);
  });

  it("a changed salt or commitment is a key mismatch; a changed magic or version is a bad header", async () => {
    for (const [at, kind] of [
      [10, FileKeyMismatchError],
      [FILE_HEADER_BYTES - 1, FileKeyMismatchError],
      [0, FileHeaderError],
      [4, FileHeaderError],
    ] as const) {
      const sealed = Uint8Array.from(await sealedOnce);
      sealed[at] = (sealed[at] as number) ^ 1;
      await expectFailureAt(sealed, 0, kind);
    }
  });

  it("a stream truncated inside a block, at a block boundary, after the header or inside it", async () => {
    const sealed = await sealedOnce;
    await expectFailureAt(sealed.subarray(0, sealed.length - 1), 3, FileAuthenticationError);
    await expectFailureAt(sealed.subarray(0, 2 * CHUNK_BYTES + 100), 2, FileAuthenticationError);
    await expectFailureAt(sealed.subarray(0, FILE_HEADER_BYTES), 0, FileAuthenticationError);
    await expectFailureAt(sealed.subarray(0, FILE_HEADER_BYTES - 1), 0, FileHeaderError);
    await expectFailureAt(new Uint8Array(0), 0, FileHeaderError);
  });

  it("a dropped last block (the stream ends at a full block sealed as not final)", async () => {
    const sealed = await sealedOnce;
    await expectFailureAt(sealed.subarray(0, 3 * CHUNK_BYTES), 2, FileAuthenticationError);
  });

  it("swapped blocks", async () => {
    const sealed = Uint8Array.from(await sealedOnce);
    const one = sealed.slice(CHUNK_BYTES, 2 * CHUNK_BYTES);
    sealed.copyWithin(CHUNK_BYTES, 2 * CHUNK_BYTES, 3 * CHUNK_BYTES);
    sealed.set(one, 2 * CHUNK_BYTES);
    await expectFailureAt(sealed, 1, FileAuthenticationError);
  });

  it("a repeated block and bytes after the last block", async () => {
    const sealed = await sealedOnce;
    const repeated = Buffer.concat([sealed.subarray(0, 2 * CHUNK_BYTES), sealed.subarray(CHUNK_BYTES)]);
    await expectFailureAt(repeated, 2, FileAuthenticationError);
    await expectFailureAt(Buffer.concat([sealed, Uint8Array.of(0)]), 3, FileAuthenticationError);
  });

  it("a block from another file under the same key", async () => {
    const other = await seal(randomBytes(size));
    const sealed = Buffer.concat([(await sealedOnce).subarray(0, CHUNK_BYTES), other.subarray(CHUNK_BYTES)]);
    await expectFailureAt(sealed, 1, FileAuthenticationError);
  });

  it("a wrong key", async () => {
    const sealed = await sealedOnce;
    const wrong = deriveUserSecret(new Uint8Array(32).fill(8));
    const { yielded, error } = await collectUntilError(decryptStream(pieces(sealed), wrong));
    expect(error).toBeInstanceOf(FileKeyMismatchError);
    expect(yielded.length).toBe(0);
  });
});

describe("range decryption", () => {
  const size = 5 * MiB + 999;
  const plain = randomBytes(size);
  const sealedOnce = seal(plain);

  async function readRange(sealed: Uint8Array, offset: number, length: number): Promise<Uint8Array> {
    const range = encryptedRange(size, offset, length);
    const bytes = sealed.subarray(range.sealedOffset, range.sealedOffset + range.sealedLength);
    return collect(
      decryptRange(sealed.subarray(0, FILE_HEADER_BYTES), pieces(bytes, [65_536]), range, secret),
    );
  }

  it("returns exactly the bytes asked for, inside a block, across blocks, at the ends", async () => {
    const sealed = await sealedOnce;
    for (const [offset, length] of [
      [0, 1],
      [0, size],
      [1234, 100],
      [FIRST_PLAIN_BLOCK_BYTES - 10, 20],
      [FIRST_PLAIN_BLOCK_BYTES, PLAIN_BLOCK_BYTES],
      [2 * MiB + 5, 2 * MiB],
      [size - 1, 1],
      [size, 0],
    ] as const) {
      const opened = await readRange(sealed, offset, length);
      expect(Buffer.from(opened).equals(plain.subarray(offset, offset + length))).toBe(true);
    }
  });

  it("covers only the blocks the range touches", () => {
    expect(encryptedRange(size, 0, 1)).toMatchObject({ firstBlock: 0, blockCount: 1, skip: 0 });
    const middle = encryptedRange(size, FIRST_PLAIN_BLOCK_BYTES + PLAIN_BLOCK_BYTES + 7, 10);
    expect(middle).toMatchObject({
      firstBlock: 2,
      blockCount: 1,
      sealedOffset: 2 * CHUNK_BYTES,
      sealedLength: CHUNK_BYTES,
      skip: 7,
    });
    const across = encryptedRange(size, FIRST_PLAIN_BLOCK_BYTES - 1, 2);
    expect(across).toMatchObject({ firstBlock: 0, blockCount: 2, sealedOffset: FILE_HEADER_BYTES });
    expect(across.sealedLength).toBe(2 * CHUNK_BYTES - FILE_HEADER_BYTES);
  });

  it("refuses ranges outside the file and sizes no encrypted file has", () => {
    expect(() => encryptedRange(size, size, 1)).toThrow(EncryptedRangeError);
    expect(() => encryptedRange(size, -1, 1)).toThrow(EncryptedRangeError);
    expect(() => encryptedRange(size, 0.5, 1)).toThrow(EncryptedRangeError);
    expect(() => plainSize(FILE_HEADER_BYTES + TAG_BYTES - 1)).toThrow(EncryptedRangeError);
    expect(() => plainSize(CHUNK_BYTES + TAG_BYTES)).toThrow(EncryptedRangeError);
    expect(plainSize(CHUNK_BYTES + TAG_BYTES + 1)).toBe(FIRST_PLAIN_BLOCK_BYTES + 1);
  });

  it("fails on a tampered, short or overlong range and yields none of the bad block", async () => {
    const sealed = await sealedOnce;
    const header = sealed.subarray(0, FILE_HEADER_BYTES);
    const range = encryptedRange(size, FIRST_PLAIN_BLOCK_BYTES - 10, PLAIN_BLOCK_BYTES);
    const bytes = Uint8Array.from(
      sealed.subarray(range.sealedOffset, range.sealedOffset + range.sealedLength),
    );
    const good = plain.subarray(FIRST_PLAIN_BLOCK_BYTES - 10, FIRST_PLAIN_BLOCK_BYTES);
    for (const bad of [
      bytes.subarray(0, bytes.length - 1),
      Buffer.concat([bytes, Uint8Array.of(1)]),
      Uint8Array.from(bytes).fill(0, bytes.length - 100),
    ]) {
      const { yielded, error } = await collectUntilError(decryptRange(header, pieces(bad), range, secret));
      expect(error).toBeInstanceOf(FileAuthenticationError);
      // Trailing bytes are found only after the range's blocks opened, so those were authentic.
      const whole = plain.subarray(FIRST_PLAIN_BLOCK_BYTES - 10, FIRST_PLAIN_BLOCK_BYTES - 10 + range.length);
      expect(Buffer.from(yielded).equals(bad.length > bytes.length ? whole : good)).toBe(true);
    }
    // The last block of the file must be opened as the last: the same bytes under a larger size fail.
    const last = encryptedRange(size, size - 1, 1);
    const lastBytes = sealed.subarray(last.sealedOffset);
    const lying = { ...last, plainSize: size + 1 };
    const { error } = await collectUntilError(decryptRange(header, pieces(lastBytes), lying, secret));
    expect(error).toBeInstanceOf(FileAuthenticationError);
  });
});

describe("the block cipher", () => {
  it("seals the same bytes as @noble/ciphers' XChaCha20-Poly1305 and opens them; a changed byte fails", () => {
    for (const size of [0, 1, 63, 64, 65, 1000, PLAIN_BLOCK_BYTES]) {
      const key = randomBytes(32);
      const nonce = randomBytes(24);
      const aad = randomBytes(73);
      const plain = randomBytes(size);
      const sealed = sealXChaCha(key, nonce, aad, plain);
      expect(Buffer.from(sealed).equals(xchacha20poly1305(key, nonce, aad).encrypt(plain))).toBe(true);
      expect(Buffer.from(openXChaCha(key, nonce, aad, sealed)).equals(plain)).toBe(true);
      for (const at of [0, sealed.length - 1]) {
        const bad = Uint8Array.from(sealed);
        bad[at] = (bad[at] as number) ^ 1;
        expect(() => openXChaCha(key, nonce, aad, bad)).toThrow();
      }
      expect(() => openXChaCha(key, nonce, randomBytes(73), sealed)).toThrow();
    }
  });
});

describe("keys", () => {
  it("derives a 32-byte user secret from a wallet seed, deterministically and apart from the seed", () => {
    const seed = new Uint8Array(32).fill(7);
    const derived = deriveUserSecret(seed);
    expect(derived.length).toBe(32);
    expect(Buffer.from(derived).equals(deriveUserSecret(Uint8Array.from(seed)))).toBe(true);
    expect(Buffer.from(derived).equals(seed)).toBe(false);
    expect(Buffer.from(derived).equals(deriveUserSecret(new Uint8Array(32).fill(6)))).toBe(false);
  });

  it("refuses seeds and secrets of the wrong length", async () => {
    expect(() => deriveUserSecret(new Uint8Array(31))).toThrow(UserSecretError);
    const { error } = await collectUntilError(encryptStream(pieces(new Uint8Array(1)), new Uint8Array(16)));
    expect(error).toBeInstanceOf(UserSecretError);
  });
});

describe("properties", () => {
  it("any file, any chunking, any range: round trips and range reads return the plaintext", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: FIRST_PLAIN_BLOCK_BYTES + PLAIN_BLOCK_BYTES + 50 }),
        fc.integer(),
        fc.array(fc.integer({ min: 1, max: 700_000 }), { minLength: 1, maxLength: 5 }),
        fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
        async (size, seed, chunking, [a, b]) => {
          const plain = bytesFromSeed(seed, size);
          const sealed = await collect(encryptStream(pieces(plain, chunking), secret));
          expect(sealed.length).toBe(encryptedSize(size));
          expect(plainSize(sealed.length)).toBe(size);
          const opened = await collect(decryptStream(pieces(sealed, [...chunking].reverse()), secret));
          expect(Buffer.from(opened).equals(plain)).toBe(true);
          const offset = Math.floor(Math.min(a, b) * size);
          const length = Math.floor(Math.max(a, b) * size) - offset;
          const range = encryptedRange(size, offset, length);
          const bytes = sealed.subarray(range.sealedOffset, range.sealedOffset + range.sealedLength);
          const part = await collect(
            decryptRange(sealed.subarray(0, FILE_HEADER_BYTES), pieces(bytes, chunking), range, secret),
          );
          expect(Buffer.from(part).equals(plain.subarray(offset, offset + length))).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("encryptedSize and plainSize are inverses", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (size) => {
        expect(plainSize(encryptedSize(size))).toBe(size);
      }),
    );
  });
});
