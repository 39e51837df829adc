import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  ChunkDerivationError,
  type DeriveChunkParams,
  deriveChunk,
  deriveChunkKey,
  deriveChunkRoot,
  loadOrCreateSecret,
  SecretFileError,
  VALIDATOR_SECRET_LENGTH,
} from "../neurons/validator/data.js";
import { answerChallenge, createChallenge, verifyResponse } from "../protocol/challenge.js";
import { CHUNK_SIZE, NONCE_LENGTH } from "../protocol/constants.js";
import { chunkRoot } from "../protocol/merkle.js";

const secret = new Uint8Array(VALIDATOR_SECRET_LENGTH).fill(7);
const base: DeriveChunkParams = {
  secret,
  minerHotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
  storeId: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
  chunkIndex: 0,
  size: 64 * 1024,
};

const dir = mkdtempSync(join(tmpdir(), "validator-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

describe("deriveChunk", () => {
  it("is deterministic and has the asked size", () => {
    const a = deriveChunk(base);
    const b = deriveChunk({ ...base, secret: new Uint8Array(secret) });
    expect(a.length).toBe(base.size);
    expect(equal(a, b)).toBe(true);
  });

  it("differs for every miner, store, index and secret", () => {
    const reference = deriveChunk(base);
    const variants: DeriveChunkParams[] = [
      { ...base, minerHotkey: `${base.minerHotkey}x` },
      { ...base, storeId: `${base.storeId}x` },
      { ...base, chunkIndex: 1 },
      { ...base, secret: new Uint8Array(VALIDATOR_SECRET_LENGTH).fill(8) },
      // The same concatenation split differently: length prefixes keep these apart.
      { ...base, minerHotkey: "ab", storeId: "c" },
    ];
    const derived = variants.map(deriveChunk);
    for (const chunk of derived) expect(equal(chunk, reference)).toBe(false);
    expect(equal(deriveChunk({ ...base, minerHotkey: "a", storeId: "bc" }), derived[4] as Uint8Array)).toBe(
      false,
    );
  });

  it("gives distinct keys for distinct coordinates (property)", () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.string(), fc.string(), fc.nat({ max: 2 ** 40 })),
        fc.tuple(fc.string(), fc.string(), fc.nat({ max: 2 ** 40 })),
        ([m1, s1, i1], [m2, s2, i2]) => {
          fc.pre(m1 !== m2 || s1 !== s2 || i1 !== i2);
          const k1 = deriveChunkKey({ secret, minerHotkey: m1, storeId: s1, chunkIndex: i1 });
          const k2 = deriveChunkKey({ secret, minerHotkey: m2, storeId: s2, chunkIndex: i2 });
          expect(equal(k1, k2)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a shorter size is a prefix of the same chunk", () => {
    const full = deriveChunk(base);
    const short = deriveChunk({ ...base, size: 1000 });
    expect(equal(short, full.subarray(0, 1000))).toBe(true);
  });

  it("looks random: it does not compress", () => {
    const chunk = deriveChunk(base);
    expect(deflateRawSync(chunk).length).toBeGreaterThanOrEqual(chunk.length);
  });

  it("rejects a bad secret, index or size", () => {
    expect(() => deriveChunk({ ...base, secret: new Uint8Array(16) })).toThrow(ChunkDerivationError);
    expect(() => deriveChunk({ ...base, chunkIndex: -1 })).toThrow(ChunkDerivationError);
    expect(() => deriveChunk({ ...base, chunkIndex: 1.5 })).toThrow(ChunkDerivationError);
    expect(() => deriveChunk({ ...base, size: 0 })).toThrow(ChunkDerivationError);
    expect(() => deriveChunk({ ...base, size: 2 ** 40 })).toThrow(ChunkDerivationError);
  });
});

describe("deriveChunkRoot", () => {
  it("is the chunk root of the derived chunk", () => {
    const params = { ...base, chunkIndex: 9, size: CHUNK_SIZE };
    expect(equal(deriveChunkRoot(params), chunkRoot(deriveChunk(params)))).toBe(true);
    expect(equal(deriveChunkRoot(params, 512), chunkRoot(deriveChunk(params), 512))).toBe(true);
  });

  it("another miner's copy does not pass a challenge", () => {
    const mine = { ...base, chunkIndex: 0 };
    const theirs = { ...base, minerHotkey: "someone-else" };
    const challenge = createChallenge({
      storeId: base.storeId,
      chunkCount: 1,
      leafCount: base.size / 1024,
      chunksPerChallenge: 1,
      leavesPerChunk: 4,
      nonce: randomBytes(NONCE_LENGTH),
      now: 0,
      ttlMs: 1000,
    });
    const roots = [deriveChunkRoot(mine)];
    const verify = (chunk: Uint8Array) =>
      verifyResponse(
        challenge,
        answerChallenge(challenge, () => chunk),
        { rootOf: (i) => roots[i], now: 1 },
      );
    expect(verify(deriveChunk(mine))).toEqual({ ok: true });
    expect(verify(deriveChunk(theirs))).toMatchObject({ ok: false, reason: "bad-proof" });
  });
});

describe("loadOrCreateSecret", () => {
  it("creates 32 random bytes readable by the owner only, then reads them back", () => {
    const path = join(dir, "nested", "validator.secret");
    const first = loadOrCreateSecret(path);
    expect(first.length).toBe(VALIDATOR_SECRET_LENGTH);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(equal(loadOrCreateSecret(path), first)).toBe(true);
    expect(equal(readFileSync(path), first)).toBe(true);
    expect(equal(loadOrCreateSecret(join(dir, "other.secret")), first)).toBe(false);
  });

  it("refuses a file of the wrong length", () => {
    const path = join(dir, "short.secret");
    writeFileSync(path, randomBytes(16), { mode: 0o600 });
    expect(() => loadOrCreateSecret(path)).toThrow(SecretFileError);
    // It is not overwritten: the data on miners depends on it.
    expect(readFileSync(path).length).toBe(16);
  });

  it.skipIf(process.platform === "win32")("refuses a secret others may read", () => {
    const path = join(dir, "open.secret");
    writeFileSync(path, randomBytes(VALIDATOR_SECRET_LENGTH));
    chmodSync(path, 0o644);
    expect(() => loadOrCreateSecret(path)).toThrow(SecretFileError);
  });
});
