/**
 * Placement of a stripe's pieces: distinct coldkeys first, then distinct IPs, then any miner not
 * holding the stripe, then doubled up; too few distinct miners for the data shards is no placement.
 */
import { describe, expect, it } from "vitest";
import {
  breakTies,
  choosePlacement,
  type PlacementCandidate,
} from "../neurons/validator/storage/placement.js";

const miner = (id: number, coldkey: string, ip: string): PlacementCandidate => ({ id, coldkey, ip });

describe("choosePlacement", () => {
  const pool = [
    miner(1, "ck-a", "10.0.0.1"),
    miner(2, "ck-a", "10.0.0.2"),
    miner(3, "ck-b", "10.0.0.1"),
    miner(4, "ck-c", "10.0.0.3"),
    miner(5, "ck-c", "10.0.0.3"),
  ];

  it("spreads over coldkeys first, then IPs, then anything", () => {
    const ids = choosePlacement(pool, 5)?.map((c) => c.id);
    // ck-a/.1 and ck-c/.3 are new on both; ck-b is a new coldkey on a used IP; then 2 (new IP); then 5.
    expect(ids).toEqual([1, 4, 3, 2, 5]);
    expect(new Set(ids).size).toBe(5);
  });

  it("counts the stripe's holders as used and never picks them", () => {
    const ids = choosePlacement(pool, 2, { holders: [miner(1, "ck-a", "10.0.0.1")] })?.map((c) => c.id);
    expect(ids).toEqual([4, 3]);
  });

  it("doubles up past the distinct miners, and refuses below the data shards", () => {
    const ids = choosePlacement(pool.slice(0, 2), 4, { minimumDistinct: 2 })?.map((c) => c.id);
    expect(ids).toEqual([1, 2, 1, 2]);
    expect(choosePlacement(pool.slice(0, 2), 4, { minimumDistinct: 3 })).toBeUndefined();
    expect(choosePlacement([], 1)).toBeUndefined();
  });
});

describe("breakTies", () => {
  // 24 miners of equal rank, each its own coldkey and IP, as the caller sorts them: by id.
  const equals = Array.from({ length: 24 }, (_, id) => ({
    ...miner(id, `ck-${id}`, `10.0.1.${id}`),
    room: 5,
  }));
  const sameRoom = (a: { room: number }, b: { room: number }) => a.room === b.room;

  it("keeps miners with consecutive uids from taking a whole stripe when the others are equal", () => {
    const stripes = Array.from(
      { length: 100 },
      (_, stripe) => choosePlacement(breakTies(equals, sameRoom, `7/${stripe}`), 6)?.map((c) => c.id) ?? [],
    );
    const consecutive = (ids: number[]) => {
      const sorted = [...ids].sort((a, b) => a - b);
      return sorted.every((id, i) => i === 0 || id === (sorted[i - 1] as number) + 1);
    };
    expect(stripes.every((ids) => ids.length === 6)).toBe(true);
    // By id, every stripe would be miners 0-5; six consecutive uids of 24 by chance: 19 of C(24, 6).
    expect(stripes.filter(consecutive).length).toBeLessThanOrEqual(1);
    // Every miner gets pieces.
    expect(new Set(stripes.flat()).size).toBe(24);
  });

  it("is deterministic per stripe, differs between stripes, and keeps the order between ranks", () => {
    const a = breakTies(equals, sameRoom, "7/0").map((c) => c.id);
    expect(breakTies(equals, sameRoom, "7/0").map((c) => c.id)).toEqual(a);
    expect(breakTies(equals, sameRoom, "7/1").map((c) => c.id)).not.toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(equals.map((c) => c.id));
    // Three miners with more room stay ahead of the rest, whatever the key.
    const ranked = equals
      .map((c) => (c.id >= 21 ? { ...c, room: 9 } : c))
      .sort((x, y) => y.room - x.room || x.id - y.id);
    for (const key of ["7/0", "7/1", "8/3"]) {
      const ids = breakTies(ranked, sameRoom, key).map((c) => c.id);
      expect(new Set(ids.slice(0, 3))).toEqual(new Set([21, 22, 23]));
    }
  });
});
