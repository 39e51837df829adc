/**
 * Each miner's work in a round is under one deadline (`minerDeadlineMs`). On the embedded dev
 * chain and real libp2p over loopback, a miner that proves its hotkey and then accepts every
 * request's stream but never finishes a reply is cut at a 2 s deadline, long before the requests'
 * own timers (5 s for `evictions`, here 30 s for the challenge) would end it; its challenge counts
 * as a timeout, and the honest miner's fill and challenge in the same round are unaffected.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Miner, MinerBehaviour } from "../neurons/miner/miner.js";
import { createValidator, type Validator } from "../neurons/validator/validator.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { type DevSubnet, startDevSubnet, startTestMiner, stopDevSubnet } from "./subnet-fixture.js";

const CHUNK = 64 * 1024;
const MINER_DEADLINE_MS = 2_000;
/** The challenge's own timer: far past the deadline, so only the deadline can end the stalled visit. */
const CHALLENGE_TIMEOUT_MS = 30_000;

let subnet: DevSubnet;
let dir: string;
let db: ValidatorDb;
let validator: Validator;
let hotkeys: Record<"honest" | "trickler", KeyringPair>;
const miners: Miner[] = [];
/** Requests the trickler has left hanging, by type. */
const held: string[] = [];
let stalling = false;

/**
 * Honest until `stalling`; then it answers only `hello` (so it stays proven) and takes every other
 * request's stream without ever finishing the reply.
 */
const trickle: MinerBehaviour = {
  name: "trickle",
  handle(request, honest) {
    if (!stalling || request.body.type === "hello") return honest(request);
    held.push(request.body.type);
    return new Promise(() => undefined);
  },
};

function idOf(key: KeyringPair): number {
  return db.minerByHotkey(key.address)?.id as number;
}

beforeAll(async () => {
  const { Keyring } = await import("@polkadot/keyring");
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const validatorHotkey = keyring.addFromUri("//Bob//deadline-validator");
  hotkeys = {
    honest: keyring.addFromUri("//Charlie//deadline-honest"),
    trickler: keyring.addFromUri("//Charlie//deadline-trickler"),
  };
  subnet = await startDevSubnet({
    tempo: 10,
    validators: [validatorHotkey.address],
    miners: Object.values(hotkeys).map((k) => k.address),
  });
  dir = mkdtempSync(join(tmpdir(), "validator-deadline-"));
  miners.push(
    await startTestMiner(subnet, { hotkey: hotkeys.honest, dir, chunkSize: CHUNK, freeChunks: 8 }),
    await startTestMiner(subnet, {
      hotkey: hotkeys.trickler,
      dir,
      chunkSize: CHUNK,
      freeChunks: 8,
      behaviour: trickle,
    }),
  );
  db = ValidatorDb.open(join(dir, "validator.sqlite"));
  validator = createValidator({
    settings: {
      netuid: subnet.netuid,
      chunkSize: CHUNK,
      chunksPerChallenge: 1,
      leavesPerChunk: 2,
      challengeTimeoutMs: CHALLENGE_TIMEOUT_MS,
      fillPerRound: 4,
      weightsIntervalBlocks: 1_000,
      retrieveProbability: 0,
      minerDeadlineMs: MINER_DEADLINE_MS,
      autoRun: false,
    },
    chain: subnet.client,
    hotkey: validatorHotkey,
    db,
    secret: new Uint8Array(32).fill(7),
  });
  await validator.start();
}, 60_000);

afterAll(async () => {
  await validator?.stop();
  for (const m of miners) await m.stop().catch(() => undefined);
  db?.close();
  await stopDevSubnet(subnet);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the per-miner deadline", () => {
  it("cuts a miner that never finishes its replies, and leaves the honest miner's round whole", async () => {
    // A quiet round: both miners are filled and pass their challenge.
    const quiet = await validator.runRound({ setWeights: false });
    expect(quiet.challenges).toEqual({ pass: 2, fail: 0, timeout: 0 });
    const honestPlaced = db.chunkRootCount(idOf(hotkeys.honest));
    const tricklerPlaced = db.chunkRootCount(idOf(hotkeys.trickler));
    expect(honestPlaced).toBeGreaterThan(0);
    expect(tricklerPlaced).toBeGreaterThan(0);

    stalling = true;
    const startedAt = Date.now();
    const stalled = await validator.runRound({ setWeights: false });
    const elapsed = Date.now() - startedAt;
    // The trickler held the round's requests (the `evictions` query at least) and was cut: its
    // challenge is a timeout, recorded once the deadline passed.
    expect(held.length).toBeGreaterThan(0);
    expect(stalled.challenges).toEqual({ pass: 1, fail: 0, timeout: 1 });
    expect(db.challengeCounts(idOf(hotkeys.trickler)).timeout).toBe(1);
    // Ended by the deadline, not by a request timer: without it the round waits 5 s for the
    // `evictions` reply and then 30 s for the challenge. The bound is 4× the deadline, so a
    // stall of the shared host does not fail it, and still far below those 35 s.
    expect(elapsed).toBeLessThan(4 * MINER_DEADLINE_MS);
    // The honest miner's work in the same round: filled to its budget and its challenge passed.
    expect(db.challengeCounts(idOf(hotkeys.honest)).pass).toBe(2);
    expect(db.chunkRootCount(idOf(hotkeys.honest))).toBeGreaterThanOrEqual(honestPlaced);
    expect(db.chunkRootCount(idOf(hotkeys.trickler))).toBe(tricklerPlaced);
  }, 60_000);
});
