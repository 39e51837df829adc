import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { PendingReveal } from "../chain/client.js";
import { createPolicy } from "../neurons/validator/policy.js";
import {
  InvalidRecordError,
  UnknownMinerError,
  ValidatorDb,
  ValidatorDbClosedError,
  ValidatorDbOpenError,
} from "../neurons/validator/validator-db.js";
import type { MinerScore } from "../protocol/scoring.js";

const dir = mkdtempSync(join(tmpdir(), "validator-db-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const freshPath = () => join(dir, `v${files++}`, "validator.sqlite");

/** A deterministic 32-byte value per label. */
const h = (label: string | number) => new Uint8Array(createHash("sha256").update(String(label)).digest());
/** A 32-byte digest over chunk roots in order, standing in for an allocation's commitment. */
const storeCommitment = (roots: Uint8Array[]) =>
  new Uint8Array(roots.reduce((digest, root) => digest.update(root), createHash("sha256")).digest());
const hex = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString("hex") : bytes);

const ema = createPolicy("ema");
const strict = createPolicy("strict");

describe("ValidatorDb", () => {
  it("keeps miners, allocations and roots across a reopen", () => {
    const path = freshPath();
    let db = ValidatorDb.open(path);
    const a = db.upsertMiner({ hotkey: "hk-a", uid: 1, multiaddr: "/ip4/127.0.0.1/tcp/1", seenAt: 1000 });
    const b = db.upsertMiner({ hotkey: "hk-b", uid: 2, multiaddr: null, seenAt: 1500 });
    expect(a.id).not.toBe(b.id);
    const roots = [0, 1, 2, 3].map((i) => ({ chunkIndex: i, root: h(`a${i}`) }));
    db.putChunkRoots(a.id, roots);
    const commitment = storeCommitment(roots.map((r) => r.root));
    db.setAllocation(a.id, { chunkCount: 4, commitment }, 2000);
    db.close();

    db = ValidatorDb.open(path);
    expect(db.minerByHotkey("hk-a")).toEqual({
      id: a.id,
      hotkey: "hk-a",
      uid: 1,
      multiaddr: "/ip4/127.0.0.1/tcp/1",
      firstSeen: 1000,
      lastSeen: 1000,
      evictionSeq: 0,
    });
    expect(db.miners().map((m) => m.hotkey)).toEqual(["hk-a", "hk-b"]);
    expect(db.allocation(a.id)).toEqual({ chunkCount: 4, commitment, updatedAt: 2000 });
    expect(db.allocation(b.id)).toBeUndefined();
    expect(hex(db.rootOf(a.id, 2))).toBe(hex(h("a2")));
    expect(db.rootOf(a.id, 4)).toBeUndefined();
    expect(db.rootOf(b.id, 0)).toBeUndefined();
    expect(db.chunkRootCount(a.id)).toBe(4);
    expect(hex(storeCommitment(db.chunkRoots(a.id).map((r) => r.root)))).toBe(hex(commitment));
    db.close();
  });

  it("updates a miner on a later sighting and moves a uid to its new hotkey", () => {
    const db = ValidatorDb.open(freshPath());
    const first = db.upsertMiner({ hotkey: "old", uid: 5, multiaddr: "/ip4/1.1.1.1/tcp/1", seenAt: 10 });
    const again = db.upsertMiner({ hotkey: "old", uid: 5, multiaddr: null, seenAt: 20 });
    expect(again).toMatchObject({
      id: first.id,
      multiaddr: "/ip4/1.1.1.1/tcp/1",
      firstSeen: 10,
      lastSeen: 20,
    });
    const replacement = db.upsertMiner({ hotkey: "new", uid: 5, multiaddr: null, seenAt: 30 });
    expect(replacement.uid).toBe(5);
    expect(db.minerById(first.id)?.uid).toBeNull();
    db.close();
  });

  it("records a whole metagraph in one call, as sightings one by one would", () => {
    const sightings = [
      { hotkey: "a", uid: 1, multiaddr: "/ip4/127.0.0.1/tcp/1", seenAt: 10 },
      { hotkey: "b", uid: 2, multiaddr: null, seenAt: 10 },
      // A later sighting of uid 1 takes it from "a".
      { hotkey: "c", uid: 1, multiaddr: null, seenAt: 11 },
    ];
    const batch = ValidatorDb.open(freshPath());
    const single = ValidatorDb.open(freshPath());
    const records = batch.upsertMiners(sightings);
    for (const s of sightings) single.upsertMiner(s);
    expect(records.map((r) => r.hotkey)).toEqual(["a", "b", "c"]);
    expect(batch.miners()).toEqual(single.miners());
    expect(batch.minerByHotkey("a")?.uid).toBeNull();
    // A bad sighting refuses the whole batch.
    expect(() =>
      batch.upsertMiners([
        { hotkey: "d", uid: 3, multiaddr: null, seenAt: 12 },
        { ...sightings[0]!, uid: -1 },
      ]),
    ).toThrow(InvalidRecordError);
    expect(batch.minerByHotkey("d")).toBeUndefined();
    batch.close();
    single.close();
  });

  it("counts a challenge once, even when applied twice and after a reopen", () => {
    const path = freshPath();
    let db = ValidatorDb.open(path);
    const miner = db.upsertMiner({ hotkey: "m", uid: 0, multiaddr: null, seenAt: 0 });
    const record = {
      id: h("nonce-1"),
      minerId: miner.id,
      outcome: { kind: "pass" as const, latencyMs: 120 },
      at: 100,
    };
    expect(db.recordChallenge(record, [ema, strict])).toBe(true);
    const afterOne = db.scoreState(miner.id, ema) as MinerScore;
    expect(afterOne.samples).toBe(1);
    expect(afterOne.reliability).toBeGreaterThan(0);
    // A duplicate, even with another outcome, changes nothing.
    expect(db.recordChallenge({ ...record, outcome: { kind: "fail" } }, [ema, strict])).toBe(false);
    expect(db.scoreState(miner.id, ema)).toEqual(afterOne);
    db.close();

    db = ValidatorDb.open(path);
    expect(db.recordChallenge(record, [ema, strict])).toBe(false);
    expect(db.scoreState(miner.id, ema)).toEqual(afterOne);
    expect(db.challengeCounts(miner.id)).toEqual({ pass: 1, fail: 0, timeout: 0 });
    expect(db.challenge(record.id)).toEqual(record);

    expect(
      db.recordChallenge(
        { id: h("nonce-2"), minerId: miner.id, outcome: { kind: "timeout" }, at: 200, reason: "deadline" },
        [ema, strict],
      ),
    ).toBe(true);
    expect((db.scoreState(miner.id, ema) as MinerScore).samples).toBe(2);
    expect(db.challengeCounts(miner.id)).toEqual({ pass: 1, fail: 0, timeout: 1 });
    expect(db.challengeHistory(miner.id).map((c) => c.outcome.kind)).toEqual(["pass", "timeout"]);
    expect(db.challengeHistory(miner.id, { since: 150 })).toEqual([
      { id: h("nonce-2"), minerId: miner.id, outcome: { kind: "timeout" }, at: 200, reason: "deadline" },
    ]);
    // The strict policy saw the timeout too.
    expect(strict.score(db.scoreState(miner.id, strict), { provenShare: 1 })).toBe(0);
    db.close();
  });

  it("replaying the recorded history reproduces the stored score", () => {
    const db = ValidatorDb.open(freshPath());
    const miner = db.upsertMiner({ hotkey: "m", uid: 0, multiaddr: null, seenAt: 0 });
    for (let i = 0; i < 50; i++) {
      const outcome = i % 6 === 0 ? ({ kind: "fail" } as const) : ({ kind: "pass", latencyMs: i } as const);
      db.recordChallenge({ id: h(`n${i}`), minerId: miner.id, outcome, at: i }, [ema]);
    }
    const replayed = db.challengeHistory(miner.id).reduce((s, c) => ema.apply(s, c.outcome), ema.initial());
    expect(db.scoreState(miner.id, ema)).toEqual(replayed);
    expect(db.pruneChallenges(25)).toBe(25);
    expect(db.challengeHistory(miner.id)).toHaveLength(25);
    expect(db.scoreState(miner.id, ema)).toEqual(replayed);
    db.close();
  });

  it("a score update that throws rolls back the challenge record", () => {
    const db = ValidatorDb.open(freshPath());
    const miner = db.upsertMiner({ hotkey: "m", uid: 0, multiaddr: null, seenAt: 0 });
    const broken = {
      ...ema,
      name: "broken",
      apply: () => {
        throw new Error("boom");
      },
    };
    const record = { id: h("x"), minerId: miner.id, outcome: { kind: "fail" } as const, at: 1 };
    expect(() => db.recordChallenge(record, [ema, broken])).toThrow("boom");
    expect(db.challenge(record.id)).toBeUndefined();
    expect(db.scoreState(miner.id, ema)).toEqual(ema.initial());
    expect(db.recordChallenge(record, [ema])).toBe(true);
    db.close();
  });

  it("keeps eviction marks and the eviction sequence; re-storing clears a mark", () => {
    const path = freshPath();
    let db = ValidatorDb.open(path);
    const miner = db.upsertMiner({ hotkey: "m", uid: 0, multiaddr: null, seenAt: 0 });
    db.putChunkRoots(
      miner.id,
      Array.from({ length: 10 }, (_, i) => ({ chunkIndex: i, root: h(i) })),
    );
    db.recordEvictions(miner.id, [3, 7, 8], 4);
    db.recordEvictions(miner.id, [7], 2); // An older reply does not move the sequence back.
    db.close();

    db = ValidatorDb.open(path);
    expect(db.evictedChunks(miner.id)).toEqual([3, 7, 8]);
    expect(db.minerById(miner.id)?.evictionSeq).toBe(4);
    expect(hex(db.rootOf(miner.id, 7))).toBe(hex(h(7)));
    db.putChunkRoots(miner.id, [{ chunkIndex: 7, root: h(7) }]);
    expect(db.evictedChunks(miner.id)).toEqual([3, 8]);
    db.close();
  });

  it("pending weight commits and the last weights block survive a reopen", () => {
    const path = freshPath();
    let db = ValidatorDb.open(path);
    expect(db.lastWeightsBlock()).toBeUndefined();
    const pending: PendingReveal = {
      netuid: 3,
      uids: [0, 4, 9],
      values: [65535, 100, 7],
      salt: [1, 2, 3, 4, 5, 6, 7, 8],
      versionKey: 2n ** 63n + 5n,
      commitHash: "0xabc",
      commitBlock: 120,
    };
    const other = { ...pending, commitHash: "0xdef", commitBlock: 110 };
    db.savePendingReveal(pending);
    db.savePendingReveal(other);
    db.setLastWeightsBlock(120);
    db.close();

    db = ValidatorDb.open(path);
    expect(db.pendingReveals()).toEqual([other, pending]);
    expect(db.lastWeightsBlock()).toBe(120);
    expect(db.deletePendingReveal("0xdef")).toBe(true);
    expect(db.deletePendingReveal("0xdef")).toBe(false);
    expect(db.pendingReveals()).toEqual([pending]);
    db.close();
  });

  it("refuses unknown miners, bad records, other files and use after close", () => {
    const path = freshPath();
    const db = ValidatorDb.open(path);
    expect(() => db.putChunkRoots(99, [{ chunkIndex: 0, root: h(0) }])).toThrow(UnknownMinerError);
    expect(() => db.recordChallenge({ id: h(1), minerId: 99, outcome: { kind: "fail" }, at: 0 }, [])).toThrow(
      UnknownMinerError,
    );
    expect(() => db.recordEvictions(99, [1], 1)).toThrow(UnknownMinerError);
    const miner = db.upsertMiner({ hotkey: "m", uid: null, multiaddr: null, seenAt: 0 });
    expect(() => db.putChunkRoots(miner.id, [{ chunkIndex: 0, root: new Uint8Array(31) }])).toThrow(
      InvalidRecordError,
    );
    expect(() => db.putChunkRoots(miner.id, [{ chunkIndex: -1, root: h(0) }])).toThrow(InvalidRecordError);
    expect(() =>
      db.recordChallenge({ id: new Uint8Array(0), minerId: miner.id, outcome: { kind: "fail" }, at: 0 }, []),
    ).toThrow(InvalidRecordError);
    expect(() =>
      db.recordChallenge(
        { id: h(2), minerId: miner.id, outcome: { kind: "pass", latencyMs: Number.NaN }, at: 0 },
        [],
      ),
    ).toThrow(InvalidRecordError);
    db.close();
    db.close();
    expect(() => db.miners()).toThrow(ValidatorDbClosedError);
    expect(() => db.upsertMiner({ hotkey: "x", uid: null, multiaddr: null, seenAt: 0 })).toThrow(
      ValidatorDbClosedError,
    );

    const garbage = join(dir, "garbage.sqlite");
    writeFileSync(
      garbage,
      "this is not a database, not even close, and it is long enough to matter".repeat(20),
    );
    expect(() => ValidatorDb.open(garbage)).toThrow(ValidatorDbOpenError);
  });

  it("stores a chunk in under 100 bytes of database (100 000 roots)", () => {
    const path = freshPath();
    const db = ValidatorDb.open(path);
    const miners = Array.from({ length: 10 }, (_, i) =>
      db.upsertMiner({ hotkey: `miner-${i}`, uid: i, multiaddr: null, seenAt: 0 }),
    );
    const perMiner = 10_000;
    const batch = 1000;
    // Filled the way a validator fills miners: a batch at a time, miners interleaved.
    for (let start = 0; start < perMiner; start += batch) {
      for (const miner of miners) {
        db.putChunkRoots(
          miner.id,
          Array.from({ length: batch }, (_, k) => ({
            chunkIndex: start + k,
            root: h(`${miner.id}:${start + k}`),
          })),
        );
      }
    }
    db.checkpoint();
    const bytesPerChunk = statSync(path).size / (miners.length * perMiner);
    expect(db.chunkRootCount(miners[3]?.id ?? -1)).toBe(perMiner);
    db.close();
    expect(bytesPerChunk).toBeLessThan(100);
    expect(bytesPerChunk).toBeGreaterThan(32);
  });
});
