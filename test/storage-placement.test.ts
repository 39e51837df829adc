/**
 * Placement of a stripe's pieces: distinct coldkeys first, then distinct IPs, then any miner not
 * holding the stripe, then doubled up; too few distinct miners for the data shards is no placement.
 */
import { describe, expect, it } from "vitest";
import { choosePlacement, type PlacementCandidate } from "../neurons/validator/storage/placement.js";

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
