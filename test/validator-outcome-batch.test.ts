/**
 * Challenge outcomes recorded in batches (neurons/validator/outcome-batch.ts) on a real SQLite
 * file: one transaction per batch, the same scores as recording one at a time, nothing counted
 * twice, a full batch recorded at once, and one bad record not costing the others theirs.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createOutcomeBatch, DEFAULT_OUTCOME_BATCH_MAX } from "../neurons/validator/outcome-batch.js";
import { createPolicy } from "../neurons/validator/policy.js";
import { type ChallengeRecord, UnknownMinerError, ValidatorDb } from "../neurons/validator/validator-db.js";

const dir = mkdtempSync(join(tmpdir(), "outcome-batch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const freshDb = () => ValidatorDb.open(join(dir, `v${files++}`, "validator.sqlite"));
const h = (label: string | number) => new Uint8Array(createHash("sha256").update(String(label)).digest());
const ema = createPolicy("ema");

/** A mix of outcomes for one miner, `n` of them. */
function outcomesFor(minerId: number, n: number, label = "c"): ChallengeRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    id: h(`${label}${i}`),
    minerId,
    outcome: i % 3 === 0 ? { kind: "fail" as const } : { kind: "pass" as const, latencyMs: 10 + i },
    at: 1_000 + i,
  }));
}

/** A db whose transactions are counted (one `recordChallenges` call is one). */
function counting(db: ValidatorDb) {
  const calls = { batches: 0, singles: 0 };
  return {
    calls,
    db: {
      recordChallenges: (
        records: readonly ChallengeRecord[],
        policies: Parameters<ValidatorDb["recordChallenges"]>[1],
      ) => {
        calls.batches++;
        return db.recordChallenges(records, policies);
      },
      recordChallenge: (record: ChallengeRecord, policies: Parameters<ValidatorDb["recordChallenge"]>[1]) => {
        calls.singles++;
        return db.recordChallenge(record, policies);
      },
    },
  };
}

describe("outcome batches", () => {
  it("records the outcomes queued within the delay in one transaction, scored as one at a time", async () => {
    const batched = freshDb();
    const single = freshDb();
    const a = batched.upsertMiner({ hotkey: "m", uid: 0, multiaddr: null, seenAt: 0 });
    const b = single.upsertMiner({ hotkey: "m", uid: 0, multiaddr: null, seenAt: 0 });
    const { db, calls } = counting(batched);
    const outcomes = createOutcomeBatch({ db, policies: [ema], maxDelayMs: 20 });
    for (const record of outcomesFor(a.id, 10)) outcomes.record(record);
    for (const record of outcomesFor(b.id, 10)) single.recordChallenge(record, [ema]);
    expect(outcomes.pending).toBe(10);
    expect(batched.challengeCounts(a.id)).toEqual({ pass: 0, fail: 0, timeout: 0 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(outcomes.pending).toBe(0);
    expect(calls).toEqual({ batches: 1, singles: 0 });
    expect(batched.challengeCounts(a.id)).toEqual(single.challengeCounts(b.id));
    expect(batched.scoreState(a.id, ema)).toEqual(single.scoreState(b.id, ema));
    batched.close();
    single.close();
  });

  it("counts an outcome once however often it is queued, across batches and reopens", () => {
    const path = join(dir, "again", "validator.sqlite");
    let db = ValidatorDb.open(path);
    const miner = db.upsertMiner({ hotkey: "m", uid: 0, multiaddr: null, seenAt: 0 });
    const records = outcomesFor(miner.id, 4);
    expect(db.recordChallenges([...records, records[0] as ChallengeRecord], [ema])).toBe(4);
    const state = db.scoreState(miner.id, ema);
    db.close();
    db = ValidatorDb.open(path);
    const outcomes = createOutcomeBatch({ db, policies: [ema] });
    for (const record of records) outcomes.record({ ...record, outcome: { kind: "fail" } });
    outcomes.flush();
    expect(db.scoreState(miner.id, ema)).toEqual(state);
    expect(db.challengeCounts(miner.id).fail + db.challengeCounts(miner.id).pass).toBe(4);
    db.close();
  });

  it("records a full batch at once, without waiting for the delay", () => {
    const real = freshDb();
    const miner = real.upsertMiner({ hotkey: "m", uid: 0, multiaddr: null, seenAt: 0 });
    const { db, calls } = counting(real);
    const outcomes = createOutcomeBatch({ db, policies: [ema], maxDelayMs: 60_000 });
    const records = outcomesFor(miner.id, DEFAULT_OUTCOME_BATCH_MAX + 1);
    for (const record of records) outcomes.record(record);
    // The 256th outcome filled the batch: recorded then; the 257th waits for the next.
    expect(calls.batches).toBe(1);
    expect(outcomes.pending).toBe(1);
    const counts = real.challengeCounts(miner.id);
    expect(counts.pass + counts.fail).toBe(DEFAULT_OUTCOME_BATCH_MAX);
    outcomes.flush();
    const after = real.challengeCounts(miner.id);
    expect(after.pass + after.fail).toBe(DEFAULT_OUTCOME_BATCH_MAX + 1);
    real.close();
  });

  it("refuses a whole batch naming an unknown miner, and the batcher still records the rest", () => {
    const db = freshDb();
    const miner = db.upsertMiner({ hotkey: "m", uid: 0, multiaddr: null, seenAt: 0 });
    const good = outcomesFor(miner.id, 3);
    const bad = { ...outcomesFor(miner.id + 99, 1, "x")[0] } as ChallengeRecord;
    expect(() => db.recordChallenges([...good, bad], [ema])).toThrow(UnknownMinerError);
    expect(db.challengeCounts(miner.id)).toEqual({ pass: 0, fail: 0, timeout: 0 });
    const failed: ChallengeRecord[] = [];
    const outcomes = createOutcomeBatch({ db, policies: [ema], onError: (_, record) => failed.push(record) });
    for (const record of [good[0], bad, ...good.slice(1)] as ChallengeRecord[]) outcomes.record(record);
    outcomes.flush();
    expect(failed).toEqual([bad]);
    const counts = db.challengeCounts(miner.id);
    expect(counts.pass + counts.fail).toBe(3);
    db.close();
  });
});
