/**
 * The validator prunes its challenge history on a schedule: records older than the retention go,
 * newer ones and the scores stay. The validator's own round on a real SQLite file, with a chain
 * that has no miners, so the round records nothing of its own.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, describe, expect, it } from "vitest";
import type { ChainClient, Metagraph } from "../chain/client.js";
import { createPolicy } from "../neurons/validator/policy.js";
import { createValidator } from "../neurons/validator/validator.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";

const dir = mkdtempSync(join(tmpdir(), "validator-prune-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = 3_600_000;

describe("challenge history retention", () => {
  it("prunes records older than the retention every 10 minutes, keeping newer ones and the scores", async () => {
    await cryptoWaitReady();
    const hotkey = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Bob//prune");
    const path = join(dir, "validator.sqlite");
    const db = ValidatorDb.open(path);
    const ema = createPolicy("ema");
    const miner = db.upsertMiner({ hotkey: "miner", uid: 1, multiaddr: null, seenAt: 0 });
    const t0 = 100 * HOUR;
    // One record an hour for the 30 hours before t0.
    for (let h = 30; h >= 1; h--) {
      const id = new Uint8Array(32).fill(h);
      db.recordChallenge(
        { id, minerId: miner.id, outcome: { kind: "pass", latencyMs: 10 }, at: t0 - h * HOUR },
        [ema],
      );
    }
    const score = db.scoreState(miner.id, ema);
    // Only the validator itself on the subnet: its rounds challenge nobody.
    const graph = {
      n: 1,
      block: 10,
      hotkeys: [hotkey.address],
      axons: [],
      stake: [1n],
    } as unknown as Metagraph;
    const chain = {
      metagraph: async () => graph,
      commitments: async () => new Map(),
      currentBlock: async () => graph.block,
    } as unknown as ChainClient;
    let clock = t0;
    const validator = createValidator({
      settings: { netuid: 1, autoRun: false, challengeRetentionMs: 24 * HOUR },
      chain,
      hotkey,
      db,
      secret: new Uint8Array(32),
      now: () => clock,
    });

    await validator.runRound({ setWeights: false });
    expect(db.challengeCounts(miner.id).pass).toBe(24);
    // Within 10 minutes of the last pruning nothing more goes, even past the retention.
    clock = t0 + 2 * HOUR - 60_000;
    const next = { id: new Uint8Array(32).fill(99), minerId: miner.id, at: clock };
    db.recordChallenge({ ...next, outcome: { kind: "fail" } }, [ema]);
    clock = t0 + 5 * 60_000;
    await validator.runRound({ setWeights: false });
    expect(db.challengeCounts(miner.id)).toEqual({ pass: 24, fail: 1, timeout: 0 });
    clock = t0 + 2 * HOUR;
    await validator.runRound({ setWeights: false });
    expect(db.challengeCounts(miner.id)).toEqual({ pass: 22, fail: 1, timeout: 0 });
    // Scores keep what the pruned records added.
    expect(db.scoreState(miner.id, ema)).toEqual(ema.apply(score, { kind: "fail" }));
    db.close();

    // A reopened file holds what was left.
    const reopened = ValidatorDb.open(path);
    expect(reopened.challengeCounts(miner.id)).toEqual({ pass: 22, fail: 1, timeout: 0 });
    reopened.close();
  });
});
