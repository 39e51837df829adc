/**
 * A miner that moves: it restarts on a new port with a new peer id (a new folder, so a new libp2p
 * key) and commits the new address, while its old instance still answers at the old one. On the
 * embedded dev chain and real libp2p over loopback, the validator proves the miner again at the
 * new address (a fresh hello) and challenges it there in the first round that reads the new
 * commitment, hangs up the old connection, and sends the old instance nothing more.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetricsRegistry, type MetricsRegistry } from "../neurons/metrics.js";
import type { Miner } from "../neurons/miner/miner.js";
import { createP2PNode } from "../neurons/p2p/node.js";
import { createValidator, type Validator } from "../neurons/validator/validator.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { type DevSubnet, startDevSubnet, startTestMiner, stopDevSubnet } from "./subnet-fixture.js";

const CHUNK = 64 * 1024;
/** Rounds the validator may take to reach the moved miner: the first round after the commitment. */
const ROUNDS_TO_REDIAL = 1;

let subnet: DevSubnet;
let dir: string;
let db: ValidatorDb;
let p2p: Libp2p;
let validator: Validator;
let minerHotkey: KeyringPair;
const miners: Miner[] = [];

/** Requests of `type` a miner has served (any outcome), from its metrics. */
async function served(metrics: MetricsRegistry, type: string): Promise<number> {
  return (await metrics.render())
    .split("\n")
    .filter((l) => l.startsWith("miner_requests_total{") && l.includes(`type="${type}"`))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

const REQUEST_TYPES = ["hello", "evictions", "store", "challenge", "retrieve"] as const;

async function servedAll(metrics: MetricsRegistry): Promise<Record<(typeof REQUEST_TYPES)[number], number>> {
  const counts = await Promise.all(REQUEST_TYPES.map((t) => served(metrics, t)));
  return Object.fromEntries(REQUEST_TYPES.map((t, i) => [t, counts[i]])) as Record<
    (typeof REQUEST_TYPES)[number],
    number
  >;
}

beforeAll(async () => {
  const { Keyring } = await import("@polkadot/keyring");
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const validatorHotkey = keyring.addFromUri("//Bob//redial-validator");
  minerHotkey = keyring.addFromUri("//Charlie//mover");
  subnet = await startDevSubnet({
    tempo: 10,
    validators: [validatorHotkey.address],
    miners: [minerHotkey.address],
  });
  dir = mkdtempSync(join(tmpdir(), "validator-redial-"));
  db = ValidatorDb.open(join(dir, "validator.sqlite"));
  // The validator's own host, so the test can see which connections it holds.
  p2p = await createP2PNode();
  validator = createValidator({
    settings: {
      netuid: subnet.netuid,
      chunkSize: CHUNK,
      chunksPerChallenge: 1,
      leavesPerChunk: 2,
      challengeTimeoutMs: 5_000,
      fillPerRound: 4,
      weightsIntervalBlocks: 1_000,
      retrieveProbability: 0,
      autoRun: false,
    },
    chain: subnet.client,
    hotkey: validatorHotkey,
    db,
    secret: new Uint8Array(32).fill(5),
    p2p,
  });
  await validator.start();
}, 60_000);

afterAll(async () => {
  await validator?.stop();
  await p2p?.stop();
  for (const m of miners) await m.stop().catch(() => undefined);
  db?.close();
  await stopDevSubnet(subnet);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a miner whose committed address changes", () => {
  it("is proven and challenged at its new address, and its old connection is dropped", async () => {
    const oldMetrics = createMetricsRegistry();
    const old = await startTestMiner(subnet, {
      hotkey: minerHotkey,
      dir: join(dir, "old"),
      chunkSize: CHUNK,
      freeChunks: 8,
      metrics: oldMetrics,
    });
    miners.push(old);
    // Before the move: proven, filled and challenged at the old address over one connection.
    await validator.runRound({ setWeights: false });
    await validator.runRound({ setWeights: false });
    const beforeMove = await servedAll(oldMetrics);
    expect(beforeMove.hello).toBeGreaterThan(0);
    expect(beforeMove.challenge).toBeGreaterThan(0);
    expect(p2p.getConnections(peerIdFromString(old.peerId)).length).toBeGreaterThan(0);

    // The chain's serving rate limit (50 blocks by default) applies to a moving miner's new axon too.
    await subnet.chain.newBlock(51);
    // The move: a new folder (a new peer key) on a new port; starting commits the new address.
    // The old instance keeps serving, so a validator that kept its old session would still reach it.
    const newMetrics = createMetricsRegistry();
    const moved = await startTestMiner(subnet, {
      hotkey: minerHotkey,
      dir: join(dir, "new"),
      chunkSize: CHUNK,
      freeChunks: 8,
      metrics: newMetrics,
    });
    miners.push(moved);
    expect(moved.peerId).not.toBe(old.peerId);
    expect(moved.announcedAddress).not.toBe(old.announcedAddress);
    const committed = (await subnet.client.commitments(subnet.netuid)).get(minerHotkey.address);
    expect(new TextDecoder().decode(committed)).toBe(moved.announcedAddress);

    for (let round = 0; round < ROUNDS_TO_REDIAL; round++) await validator.runRound({ setWeights: false });
    const atNew = await servedAll(newMetrics);
    // A new hello proof at the new address, then the round's challenge there.
    expect(atNew.hello).toBeGreaterThan(0);
    expect(atNew.challenge).toBeGreaterThan(0);
    expect(db.minerByHotkey(minerHotkey.address)?.multiaddr).toBe(moved.announcedAddress);
    // The old connection is hung up and the old instance was sent nothing after the move.
    expect(p2p.getConnections(peerIdFromString(old.peerId))).toHaveLength(0);
    expect(await servedAll(oldMetrics)).toEqual(beforeMove);

    // And it stays that way over later rounds.
    await validator.runRound({ setWeights: false });
    expect((await servedAll(newMetrics)).challenge).toBeGreaterThan(atNew.challenge);
    expect(await servedAll(oldMetrics)).toEqual(beforeMove);
    expect(p2p.getConnections(peerIdFromString(old.peerId))).toHaveLength(0);
  }, 60_000);
});
