/**
 * Evictions travelling with the challenge (protocol version 3), on the real parts: the embedded
 * dev chain, a real miner over libp2p on loopback, real SQLite. A steady round sends the miner one
 * request (the challenge, asking for evictions since the last sequence number) and no `evictions`
 * query; when the miner has evicted chunks since, it answers with them, the validator marks them
 * and challenges again on what is still live, so the miner passes instead of failing on a chunk it
 * evicted by the rules.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetricsRegistry, type MetricsRegistry } from "../neurons/metrics.js";
import { createMiner, type Miner } from "../neurons/miner/miner.js";
import { folderUsedBytes } from "../neurons/miner/partition.js";
import { createValidator, type Validator } from "../neurons/validator/validator.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { type DevSubnet, startDevSubnet, stopDevSubnet } from "./subnet-fixture.js";

const CHUNK = 64 * 1024;
/** Chunks' worth of free space the miner has at first; then its whole share shrinks to {@link SHRUNK_CHUNKS}. */
const FREE_CHUNKS = 4;
const SHRUNK_CHUNKS = 1;

let subnet: DevSubnet;
let dir: string;
let db: ValidatorDb;
let validator: Validator;
let miner: Miner;
let minerHotkey: KeyringPair;
const metrics = createMetricsRegistry();
let shrunk = false;
let validatorHotkey: KeyringPair;

/** Requests of `type` the miner has served (any outcome), from its metrics. */
async function served(registry: MetricsRegistry, type: string): Promise<number> {
  return (await registry.render())
    .split("\n")
    .filter((l) => l.startsWith("miner_requests_total{") && l.includes(`type="${type}"`))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

beforeAll(async () => {
  const { Keyring } = await import("@polkadot/keyring");
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  validatorHotkey = keyring.addFromUri("//Bob//evictions-validator");
  minerHotkey = keyring.addFromUri("//Charlie//evictions-miner");
  subnet = await startDevSubnet({
    tempo: 10,
    validators: [validatorHotkey.address],
    miners: [minerHotkey.address],
  });
  dir = mkdtempSync(join(tmpdir(), "validator-evictions-"));
  miner = createMiner({
    metrics,
    settings: {
      netuid: subnet.netuid,
      dbRoot: join(dir, "miners"),
      chunkSize: CHUNK,
      threshold: 1,
      listen: { ip: "127.0.0.1", port: 0 },
      metagraphIntervalMs: 3_600_000,
    },
    chain: subnet.client,
    hotkey: minerHotkey,
    // Shrunk: free space that leaves the miner SHRUNK_CHUNKS in all, whatever it holds now.
    freeBytes: (at) => (shrunk ? SHRUNK_CHUNKS * CHUNK - folderUsedBytes(at) : FREE_CHUNKS * CHUNK),
  });
  await miner.start();
  db = ValidatorDb.open(join(dir, "validator.sqlite"));
  validator = createValidator({
    settings: {
      netuid: subnet.netuid,
      chunkSize: CHUNK,
      // Every live chunk in each challenge, so one evicted and unknown would fail it.
      chunksPerChallenge: FREE_CHUNKS,
      leavesPerChunk: 2,
      challengeTimeoutMs: 5_000,
      fillPerRound: FREE_CHUNKS,
      weightsIntervalBlocks: 1_000,
      retrieveProbability: 0,
      autoRun: false,
    },
    chain: subnet.client,
    hotkey: validatorHotkey,
    db,
    secret: new Uint8Array(32).fill(3),
  });
  await validator.start();
}, 60_000);

afterAll(async () => {
  await validator?.stop();
  await miner?.stop();
  db?.close();
  await stopDevSubnet(subnet);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("evictions with the challenge", () => {
  it("makes a steady round one challenge per miner, with no evictions query", async () => {
    const first = await validator.runRound();
    expect(first.stored).toBeGreaterThan(SHRUNK_CHUNKS);
    expect(first.challenges).toEqual({ pass: 1, fail: 0, timeout: 0 });
    const before = {
      evictions: await served(metrics, "evictions"),
      challenge: await served(metrics, "challenge"),
    };
    const steady = await validator.runRound();
    expect(steady.challenges).toEqual({ pass: 1, fail: 0, timeout: 0 });
    expect(await served(metrics, "evictions")).toBe(before.evictions);
    expect(await served(metrics, "challenge")).toBe(before.challenge + 1);
    expect(await served(metrics, "hello")).toBeGreaterThan(0);
  });

  it("learns the miner's evictions from its answer and challenges only live chunks", async () => {
    shrunk = true;
    await miner.refreshMetagraph();
    const record = db.minerByHotkey(minerHotkey.address);
    if (record === undefined) throw new Error("the validator does not know the miner");
    const placed = db.chunkRootCount(record.id);
    const kept = miner.stores.store(validatorHotkey.address).count();
    expect(kept).toBeLessThan(placed);
    expect(db.evictedCount(record.id)).toBe(0);
    const before = {
      evictions: await served(metrics, "evictions"),
      challenge: await served(metrics, "challenge"),
    };
    const round = await validator.runRound();
    // Without the evictions the challenge would name an evicted chunk and fail.
    expect(round.challenges).toEqual({ pass: 1, fail: 0, timeout: 0 });
    expect(db.evictedCount(record.id)).toBe(placed - kept);
    expect(db.liveChunkCount(record.id)).toBe(kept);
    // The evictions came in answer to a challenge; the second challenge is the one scored.
    expect(await served(metrics, "evictions")).toBe(before.evictions);
    expect(await served(metrics, "challenge")).toBe(before.challenge + 2);
    expect(db.challengeCounts(record.id)).toMatchObject({ fail: 0, timeout: 0 });
  });
});
