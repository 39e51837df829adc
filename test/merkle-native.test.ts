import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LEAF_SIZE } from "../protocol/constants.js";
import {
  buildChunkTree,
  buildChunkTreeJs,
  chunkRoot,
  EmptyChunkError,
  InvalidLeafSizeError,
  type MerkleTree,
  merkleImplementation,
} from "../protocol/merkle.js";
import {
  loadNativeMerkle,
  MERKLE_IMPLEMENTATION_ENV,
  MerkleImplementationError,
  type NativeMerkle,
} from "../protocol/merkle-native.js";

/** Every leaf size the code and its tests use, and the edge cases 1 and 7 (odd, tiny). */
const LEAF_SIZES = [1, 7, 32, 64, 256, LEAF_SIZE, 2048] as const;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function expectSameTree(actual: MerkleTree, expected: MerkleTree): void {
  expect(actual.leafCount).toBe(expected.leafCount);
  expect(actual.levels.map(hex)).toEqual(expected.levels.map(hex));
  expect(hex(actual.root)).toBe(hex(expected.root));
}

/** Chunks of `leafCount` leaves: every leaf full, and the last one short (1 byte, and one short of full). */
function chunksOf(leafCount: number, leafSize: number): Uint8Array[] {
  const full = randomBytes(leafCount * leafSize);
  const lengths = new Set([full.length, (leafCount - 1) * leafSize + 1, full.length - 1]);
  return [...lengths].filter((n) => n > (leafCount - 1) * leafSize).map((n) => full.subarray(0, n));
}

const forcedJs = process.env[MERKLE_IMPLEMENTATION_ENV] === "js";

describe("native chunk trees", () => {
  it("run here: npm install built the addon and it agrees with the JavaScript builder", () => {
    expect(merkleImplementation).toBe(forcedJs ? "js" : "native");
  });

  it("match the JavaScript builder level for level for 1..40 leaves at every leaf size", () => {
    for (const leafSize of LEAF_SIZES) {
      for (let leafCount = 1; leafCount <= 40; leafCount++) {
        for (const chunk of chunksOf(leafCount, leafSize)) {
          const expected = buildChunkTreeJs(chunk, leafSize);
          expect(expected.leafCount).toBe(leafCount);
          expectSameTree(buildChunkTree(chunk, leafSize), expected);
          expect(hex(chunkRoot(chunk, leafSize))).toBe(hex(expected.root));
        }
      }
    }
  });

  it("match it on full-size chunks: 1024 and 1025 leaves, the last full or short", () => {
    for (const leafCount of [1023, 1024, 1025]) {
      for (const chunk of chunksOf(leafCount, LEAF_SIZE)) {
        const expected = buildChunkTreeJs(chunk);
        expectSameTree(buildChunkTree(chunk), expected);
        expect(hex(chunkRoot(chunk))).toBe(hex(expected.root));
      }
    }
  });

  it("match it when the leaf size exceeds the chunk, and on a view into a larger buffer", () => {
    const backing = randomBytes(5000);
    const view = backing.subarray(3, 4003);
    for (const leafSize of [4000, 4001, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      expectSameTree(buildChunkTree(view, leafSize), buildChunkTreeJs(view, leafSize));
      expect(hex(chunkRoot(view, leafSize))).toBe(hex(buildChunkTreeJs(view, leafSize).root));
    }
    expectSameTree(buildChunkTree(view, 100), buildChunkTreeJs(view, 100));
  });

  it("return a root that does not hold the tree's memory", () => {
    const tree = buildChunkTree(randomBytes(64 * LEAF_SIZE));
    expect(tree.root.byteLength).toBe(32);
    expect(tree.root.buffer.byteLength).toBe(32);
    expect(chunkRoot(randomBytes(64 * LEAF_SIZE)).buffer.byteLength).toBe(32);
  });

  it("refuse an empty chunk and a bad leaf size before reaching the addon", () => {
    expect(() => buildChunkTree(new Uint8Array(0))).toThrow(EmptyChunkError);
    expect(() => chunkRoot(new Uint8Array(0))).toThrow(EmptyChunkError);
    for (const leafSize of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => buildChunkTree(new Uint8Array(10), leafSize)).toThrow(InvalidLeafSizeError);
      expect(() => chunkRoot(new Uint8Array(10), leafSize)).toThrow(InvalidLeafSizeError);
    }
  });
});

describe.runIf(!forcedJs)("the addon itself", () => {
  const native = loadNativeMerkle({ [MERKLE_IMPLEMENTATION_ENV]: "native" }) as NativeMerkle;

  it("loads under auto (the default) and native", () => {
    for (const env of [
      {},
      { [MERKLE_IMPLEMENTATION_ENV]: "auto" },
      { [MERKLE_IMPLEMENTATION_ENV]: "native" },
    ]) {
      expect(loadNativeMerkle(env)).toBe(native);
    }
  });

  it("lays out the levels leaves first, then the sealed root", () => {
    const chunk = randomBytes(5 * 1024 - 100);
    const expected = buildChunkTreeJs(chunk, 1024);
    const packed = new Uint8Array(native.tree(chunk, 1024));
    // 5 + 3 + 2 + 1 nodes, then the root.
    expect(packed.length).toBe(12 * 32);
    expect(hex(packed)).toBe(hex(Buffer.concat([...expected.levels, expected.root])));
    expect(hex(new Uint8Array(native.root(chunk, 1024)))).toBe(hex(expected.root));
  });

  it("throws a TypeError or RangeError for hostile arguments, for both functions", () => {
    const chunk = randomBytes(100);
    const detachedBuffer = new ArrayBuffer(16);
    const detached = new Uint8Array(detachedBuffer);
    structuredClone(detachedBuffer, { transfer: [detachedBuffer] });
    const hostile: [unknown[], ErrorConstructor][] = [
      [[], TypeError],
      [[chunk], TypeError],
      [["abc", 1], TypeError],
      [[[1, 2, 3], 1], TypeError],
      [[new Uint16Array(8), 1], TypeError],
      [[new DataView(new ArrayBuffer(8)), 1], TypeError],
      [[chunk.buffer, 1], TypeError],
      [[null, 1], TypeError],
      [[chunk, "1"], TypeError],
      [[chunk, 1n], TypeError],
      [[chunk, undefined], TypeError],
      [[new Uint8Array(0), 1], RangeError],
      [[detached, 1], RangeError],
      [[chunk, 0], RangeError],
      [[chunk, -1], RangeError],
      [[chunk, 1.5], RangeError],
      [[chunk, Number.NaN], RangeError],
      [[chunk, Number.POSITIVE_INFINITY], RangeError],
      [[chunk, 2 ** 53 + 2], RangeError],
    ];
    for (const [k, [args, kind]] of hostile.entries()) {
      for (const call of [native.tree, native.root]) {
        expect(() => (call as (...a: unknown[]) => unknown)(...args), `case ${k}`).toThrow(kind);
      }
    }
    // Still answering after all of that.
    expect(new Uint8Array(native.root(chunk, 10)).length).toBe(32);
  });

  it("allocates the tree exactly: (nodes + 1) × 32 bytes", () => {
    for (const [length, leafSize, nodes] of [
      [1, 1, 1],
      [2, 1, 3],
      [3, 1, 6],
      [1024 * 1024, 1024, 2047],
      [1025 * 1024, 1024, 1025 + 513 + 257 + 129 + 65 + 33 + 17 + 9 + 5 + 3 + 2 + 1],
    ] as const) {
      expect(native.tree(new Uint8Array(length), leafSize).byteLength).toBe((nodes + 1) * 32);
    }
  });
});

describe(`${MERKLE_IMPLEMENTATION_ENV}`, () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it("js forces the JavaScript builder, with the same trees", async () => {
    expect(loadNativeMerkle({ [MERKLE_IMPLEMENTATION_ENV]: "js" })).toBeUndefined();
    vi.stubEnv(MERKLE_IMPLEMENTATION_ENV, "js");
    vi.resetModules();
    const js = await import("../protocol/merkle.js");
    expect(js.merkleImplementation).toBe("js");
    const chunk = randomBytes(3 * LEAF_SIZE + 5);
    expectSameTree(js.buildChunkTree(chunk), buildChunkTree(chunk));
    expect(hex(js.chunkRoot(chunk))).toBe(hex(chunkRoot(chunk)));
  });

  it("refuses any other value", () => {
    for (const value of ["", "JS", "wasm", "yes"]) {
      expect(() => loadNativeMerkle({ [MERKLE_IMPLEMENTATION_ENV]: value })).toThrow(
        MerkleImplementationError,
      );
    }
  });
});
