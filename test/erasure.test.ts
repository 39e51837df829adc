import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createErasureCoder, MAX_TOTAL_SHARDS } from "../protocol/erasure.js";
import { ErasureError } from "../protocol/erasure-errors.js";
import { ProtocolError } from "../protocol/errors.js";

function randomShards(count: number, size: number): Uint8Array[] {
  return Array.from({ length: count }, () => new Uint8Array(randomBytes(size)));
}

/** GF(2^8) multiply by shift-and-add, written apart from the module's log/exp tables. */
function slowMul(a: number, b: number): number {
  let product = 0;
  let x = a;
  let y = b;
  while (y > 0) {
    if (y & 1) product ^= x;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
    y >>= 1;
  }
  return product;
}

function slowInverse(a: number): number {
  for (let b = 1; b < 256; b++) if (slowMul(a, b) === 1) return b;
  throw new Error(`${a} has no inverse`);
}

/** All subsets of {0..n-1} with at most `max` members. */
function subsetsUpTo(n: number, max: number): number[][] {
  const out: number[][] = [[]];
  for (let i = 0; i < n; i++) {
    for (const subset of out.slice()) if (subset.length < max) out.push([...subset, i]);
  }
  return out;
}

function erase(all: readonly Uint8Array[], lost: readonly number[]): (Uint8Array | undefined)[] {
  return all.map((shard, index) => (lost.includes(index) ? undefined : shard));
}

function expectRebuilt(
  rebuilt: Map<number, Uint8Array>,
  all: readonly Uint8Array[],
  lost: readonly number[],
): void {
  expect([...rebuilt.keys()]).toEqual([...lost].sort((a, b) => a - b));
  for (const index of lost)
    expect(Buffer.from(rebuilt.get(index) as Uint8Array)).toEqual(Buffer.from(all[index] as Uint8Array));
}

describe("createErasureCoder", () => {
  it.each([
    [1, 0, 1000],
    [1, 1, 1000],
    [2, 1, 1],
    [3, 2, 0],
    [4, 3, 1023],
    [10, 4, 64 * 1024],
    [29, 51, 4097],
  ])("round-trips k=%i m=%i over %i-byte shards, losing the first m shards", (k, m, size) => {
    const coder = createErasureCoder({ dataShards: k, parityShards: m });
    const data = randomShards(k, size);
    const parity = coder.encode(data);
    expect(parity).toHaveLength(m);
    for (const shard of parity) expect(shard).toHaveLength(size);
    const all = [...data, ...parity];
    // The first m are all data shards when m ≤ k, and every data shard plus some parity otherwise.
    const lost = Array.from({ length: m }, (_, i) => i);
    expectRebuilt(coder.reconstruct(erase(all, lost)), all, lost);
  });

  it("matches a naive Cauchy encoder written apart from the lookup tables", () => {
    const k = 5;
    const m = 3;
    const data = randomShards(k, 37);
    const parity = createErasureCoder({ dataShards: k, parityShards: m }).encode(data);
    for (let i = 0; i < m; i++) {
      const expected = new Uint8Array(37);
      for (let j = 0; j < k; j++) {
        const c = slowInverse((k + i) ^ j);
        for (let b = 0; b < 37; b++)
          expected[b] = (expected[b] as number) ^ slowMul(c, (data[j] as Uint8Array)[b] as number);
      }
      expect(parity[i]).toEqual(expected);
    }
  });

  it("restores exactly after every erasure pattern of up to m shards (k=4, m=3)", () => {
    const k = 4;
    const m = 3;
    const coder = createErasureCoder({ dataShards: k, parityShards: m });
    const data = randomShards(k, 101);
    const all = [...data, ...coder.encode(data)];
    const patterns = subsetsUpTo(k + m, m);
    expect(patterns).toHaveLength(1 + 7 + 21 + 35);
    for (const lost of patterns) expectRebuilt(coder.reconstruct(erase(all, lost)), all, lost);
  });

  it("refuses m + 1 missing shards with a too-many-missing ErasureError", () => {
    const coder = createErasureCoder({ dataShards: 4, parityShards: 3 });
    const data = randomShards(4, 16);
    const all = [...data, ...coder.encode(data)];
    for (const lost of subsetsUpTo(7, 4).filter((subset) => subset.length === 4)) {
      let caught: unknown;
      try {
        coder.reconstruct(erase(all, lost));
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ErasureError);
      expect(caught).toBeInstanceOf(ProtocolError);
      expect((caught as ErasureError).code).toBe("too-many-missing");
      expect((caught as ErasureError).message).toBe("4 of 7 shards are missing; at most 3 may be");
    }
    expect(() => createErasureCoder({ dataShards: 1, parityShards: 0 }).reconstruct([undefined])).toThrow(
      /1 of 1 shards are missing; at most 0 may be/,
    );
  });

  it("rebuilds only the requested indices when told", () => {
    const coder = createErasureCoder({ dataShards: 6, parityShards: 3 });
    const data = randomShards(6, 64);
    const all = [...data, ...coder.encode(data)];
    const rebuilt = coder.reconstruct(erase(all, [1, 4, 7]), [1, 4]);
    expectRebuilt(rebuilt, all, [1, 4]);
    expect(coder.reconstruct(all)).toEqual(new Map());
  });

  it("gives the same parity for shards that are not 4-byte aligned", () => {
    const coder = createErasureCoder({ dataShards: 3, parityShards: 2 });
    const data = randomShards(3, 999);
    const backing = new Uint8Array(3 * 999 + 1);
    const unaligned = data.map((shard, i) => {
      const view = backing.subarray(1 + i * 999, 1 + (i + 1) * 999);
      view.set(shard);
      return view;
    });
    expect(coder.encode(unaligned)).toEqual(coder.encode(data));
    const all = [...unaligned, ...coder.encode(data)];
    expectRebuilt(coder.reconstruct(erase(all, [0, 2])), all, [0, 2]);
  });

  it.each([
    [0, 1],
    [-1, 2],
    [1.5, 1],
    [2, -1],
    [2, 0.5],
    [200, MAX_TOTAL_SHARDS - 199],
    [Number.NaN, 1],
  ])("refuses dataShards=%s parityShards=%s", (k, m) => {
    expect(() => createErasureCoder({ dataShards: k, parityShards: m })).toThrow(
      expect.objectContaining({ name: "ErasureError", code: "invalid-params" }),
    );
  });

  it("accepts k + m = 255, the most GF(2^8) can address", () => {
    const coder = createErasureCoder({ dataShards: 200, parityShards: 55 });
    const data = randomShards(200, 8);
    const all = [...data, ...coder.encode(data)];
    const lost = Array.from({ length: 55 }, (_, i) => i * 4);
    expectRebuilt(coder.reconstruct(erase(all, lost)), all, lost);
  });

  it("refuses the wrong number of shards and shards of unequal sizes", () => {
    const coder = createErasureCoder({ dataShards: 3, parityShards: 2 });
    const data = randomShards(3, 10);
    const all = [...data, ...coder.encode(data)];
    expect(() => coder.encode(data.slice(0, 2))).toThrow(expect.objectContaining({ code: "shard-count" }));
    expect(() => coder.reconstruct(all.slice(0, 4))).toThrow(
      expect.objectContaining({ code: "shard-count" }),
    );
    expect(() => coder.encode([...data.slice(0, 2), new Uint8Array(11)])).toThrow(
      expect.objectContaining({ code: "shard-size" }),
    );
    // An odd size among shards the decoder does not even need is still refused.
    expect(() => coder.reconstruct([undefined, ...all.slice(1, 4), new Uint8Array(9)])).toThrow(
      expect.objectContaining({ code: "shard-size" }),
    );
  });

  it("rebuilds any ≤ m erasures of random stripes (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 300 }),
        fc.infiniteStream(fc.integer({ min: 0, max: 1 << 30 })),
        fc.integer({ min: 0, max: 0xffffffff }),
        (k, m, size, picks, seed) => {
          const coder = createErasureCoder({ dataShards: k, parityShards: m });
          let state = seed;
          const data = Array.from({ length: k }, () =>
            Uint8Array.from({ length: size }, () => {
              state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
              return state >>> 24;
            }),
          );
          const all = [...data, ...coder.encode(data)];
          const iterator = picks[Symbol.iterator]();
          const lostCount = (iterator.next().value as number) % (m + 1);
          const lost = new Set<number>();
          while (lost.size < lostCount) lost.add((iterator.next().value as number) % (k + m));
          expectRebuilt(coder.reconstruct(erase(all, [...lost])), all, [...lost]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
