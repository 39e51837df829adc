/**
 * Per-validator cost budgets (neurons/miner/cost-budget.ts): each limit exceeded once.
 */
import { describe, expect, it } from "vitest";
import { createCostBudgets } from "../neurons/miner/cost-budget.js";
import { requestCost } from "../neurons/miner/request-handler.js";

const limits = { bytesPerSecond: 1_000, burstBytes: 100, maxQueued: 2, maxWaitMs: 1_000 };

describe("cost budgets", () => {
  it("pays from the burst at once, then queues a hotkey's requests behind its own budget", async () => {
    const budgets = createCostBudgets(limits);
    try {
      expect(await budgets.acquire("a", 100)).toEqual({ ok: true });
      const started = performance.now();
      // 50 bytes at 1000 bytes/s: ~50 ms; another hotkey's request goes straight through meanwhile.
      const waiting = budgets.acquire("a", 50);
      expect(budgets.queued).toBe(1);
      expect(await budgets.acquire("b", 100)).toEqual({ ok: true });
      expect(budgets.queued).toBe(1);
      expect(await waiting).toEqual({ ok: true });
      expect(performance.now() - started).toBeGreaterThanOrEqual(40);
    } finally {
      budgets.close();
    }
  });

  it("refuses past maxQueued waiting requests, and past maxWaitMs of waiting", async () => {
    const budgets = createCostBudgets({ ...limits, bytesPerSecond: 10, maxWaitMs: 100 });
    try {
      expect((await budgets.acquire("a", 100)).ok).toBe(true);
      const first = budgets.acquire("a", 100);
      const second = budgets.acquire("a", 100);
      expect(await budgets.acquire("a", 1)).toMatchObject({ ok: false });
      // 100 bytes at 10 bytes/s is 10 s: both waiters give up after 100 ms.
      expect(await first).toMatchObject({ ok: false });
      expect(await second).toMatchObject({ ok: false });
      expect(budgets.queued).toBe(0);
    } finally {
      budgets.close();
    }
  });

  it("charges a request costlier than the bucket a full bucket, and close refuses the waiting", async () => {
    const budgets = createCostBudgets({ ...limits, bytesPerSecond: 1 });
    expect((await budgets.acquire("a", 10_000)).ok).toBe(true);
    const waiting = budgets.acquire("a", 10_000);
    budgets.close();
    expect(await waiting).toMatchObject({ ok: false });
  });
});

describe("requestCost", () => {
  const init = { chunkSize: 1024, leafSize: 64, isTreeCached: (i: number) => i === 0 };
  it("bills bytes read or hashed: stores twice, chunk reads whole, hashing by tree cache", () => {
    expect(
      requestCost({ type: "store", storeId: "s", chunkIndex: 0, data: new Uint8Array(1000) }, init),
    ).toBe(2000);
    expect(requestCost({ type: "retrieve", storeId: "s", chunkIndex: 0 }, init)).toBe(1024);
    const challenge = {
      storeId: "s",
      chunks: [
        { chunkIndex: 0, leafIndices: [1, 2] },
        { chunkIndex: 1, leafIndices: [3] },
      ],
      nonce: new Uint8Array(32),
      deadline: 0,
    };
    expect(requestCost({ type: "challenge", challenge }, init)).toBe(1024 + 2 * 64 + 1024 + 1024);
  });

  it("bills a challenge on an uncached chunk by the stored subtrees it rehashes, at most the chunk", () => {
    const withLevels = { ...init, subtreeLeaves: 4 };
    const challenge = (leafIndices: number[]) => ({
      type: "challenge" as const,
      challenge: {
        storeId: "s",
        chunks: [{ chunkIndex: 1, leafIndices }],
        nonce: new Uint8Array(32),
        deadline: 0,
      },
    });
    // Leaves 1 and 2 share the subtree of leaves 0–3; leaf 9 has its own.
    expect(requestCost(challenge([1, 2]), withLevels)).toBe(1024 + 4 * 64);
    expect(requestCost(challenge([1, 2, 9]), withLevels)).toBe(1024 + 2 * 4 * 64);
    expect(requestCost(challenge([0, 4, 8, 12, 15]), withLevels)).toBe(1024 + 1024);
  });
});
