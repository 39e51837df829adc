/**
 * The validator on the real parts: the embedded dev chain, real miners over libp2p on loopback,
 * real SQLite for both sides. Honest miners end with weight and incentive on chain; a miner that
 * deletes chunks, one that answers with garbage, one that goes offline and one that proxies
 * challenges to another miner score below them and earn less; a restarted validator resumes its
 * evidence without counting anything twice.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevChain } from "../chain/devchain/chain.js";
import type { PolkadotChainClient } from "../chain/polkadot-client.js";
import { createMetricsRegistry } from "../neurons/metrics.js";
import type { Miner, MinerBehaviour } from "../neurons/miner/miner.js";
import { createP2PNode } from "../neurons/p2p/node.js";
import { createValidator, type Validator, ValidatorStartError } from "../neurons/validator/validator.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { corruptingMiner, outsourcingMiner } from "../sim/adversaries.js";
import { type DevSubnet, startDevSubnet, startTestMiner, stopDevSubnet } from "./subnet-fixture.js";

const TEMPO = 10;
const CHUNK = 64 * 1024;

let subnet: DevSubnet;
let chain: DevChain;
let client: PolkadotChainClient;
let netuid: number;
let alice: KeyringPair;
let validatorHotkey: KeyringPair;
let minerHotkeys: KeyringPair[];
let miners: Miner[];
let dir: string;
let db: ValidatorDb;
let validator: Validator;
let proxyNode: Libp2p;
const secret = new Uint8Array(32).fill(42);

function newValidator(): Validator {
  return createValidator({
    settings: {
      netuid,
      chunkSize: CHUNK,
      chunksPerChallenge: 2,
      leavesPerChunk: 4,
      challengeTimeoutMs: 1_500,
      fillPerRound: 8,
      weightsIntervalBlocks: 1,
      retrieveProbability: 0,
      autoRun: false,
    },
    chain: client,
    hotkey: validatorHotkey,
    db,
    secret,
  });
}

/** The first (honest) miner's metrics: counts the requests it served, by type. */
const firstMinerMetrics = createMetricsRegistry();

async function served(type: string): Promise<number> {
  const line = (await firstMinerMetrics.render())
    .split("\n")
    .filter((l) => l.startsWith("miner_requests_total{") && l.includes(`type="${type}"`));
  return line.reduce((a, l) => a + Number(l.split(" ").at(-1)), 0);
}

async function rounds(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await validator.runRound();
    chain.newBlock(1);
  }
}

beforeAll(async () => {
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  validatorHotkey = keyring.addFromUri("//Bob//validator");
  minerHotkeys = ["honest1", "honest2", "lazy", "offline", "garbage", "proxy"].map((n) =>
    keyring.addFromUri(`//Charlie//${n}`),
  );
  subnet = await startDevSubnet({
    tempo: TEMPO,
    validators: [validatorHotkey.address],
    miners: minerHotkeys.map((m) => m.address),
  });
  ({ chain, client, netuid, alice } = subnet);

  dir = mkdtempSync(join(tmpdir(), "validator-test-"));
  proxyNode = await createP2PNode();
  const behaviours: (MinerBehaviour | undefined)[] = [
    undefined,
    undefined,
    undefined,
    undefined,
    corruptingMiner({ rate: 1 }),
    outsourcingMiner({ node: () => proxyNode, target: () => miners[0]!.announcedAddress }),
  ];
  miners = [];
  for (const [i, hotkey] of minerHotkeys.entries()) {
    const behaviour = behaviours[i];
    miners.push(
      await startTestMiner(subnet, {
        hotkey,
        dir,
        chunkSize: CHUNK,
        freeChunks: 24,
        ...(behaviour ? { behaviour } : {}),
        ...(i === 0 ? { metrics: firstMinerMetrics } : {}),
      }),
    );
  }
  db = ValidatorDb.open(join(dir, "validator.sqlite"));
  validator = newValidator();
  await validator.start();
}, 120_000);

afterAll(async () => {
  await validator?.stop();
  for (const m of miners ?? []) await m.stop().catch(() => undefined);
  await proxyNode?.stop();
  db?.close();
  await stopDevSubnet(subnet);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("validator", () => {
  it("refuses to start for an unregistered or unstaked hotkey, with a clear message", async () => {
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const stranger = createValidator({
      settings: { netuid, autoRun: false },
      chain: client,
      hotkey: keyring.addFromUri("//Eve//nobody"),
      db,
      secret,
    });
    await expect(stranger.start()).rejects.toBeInstanceOf(ValidatorStartError);
    const unstaked = createValidator({
      settings: { netuid, autoRun: false },
      chain: client,
      hotkey: minerHotkeys[0]!,
      db,
      secret,
    });
    await expect(unstaked.start()).rejects.toThrow(/no stake/);
  });

  it("fills every miner and passes honest challenges", async () => {
    await rounds(3);
    for (const [i, m] of miners.slice(0, 4).entries()) {
      const record = db.minerByHotkey(minerHotkeys[i]!.address);
      expect(record).toBeDefined();
      // Filled up to the budget the miner gives this validator (about 24 chunks of free space).
      const budget = m.stores.budget(validatorHotkey.address);
      expect(budget).toBeGreaterThanOrEqual(16);
      expect(db.chunkRootCount(record!.id)).toBe(budget);
      expect(db.challengeCounts(record!.id).pass).toBeGreaterThan(0);
      expect(db.challengeCounts(record!.id).fail).toBe(0);
    }
  });

  it("asks a full miner its budget again only every 10 rounds", async () => {
    const record = db.minerByHotkey(minerHotkeys[0]!.address);
    expect(db.chunkRootCount(record!.id)).toBe(miners[0]!.stores.budget(validatorHotkey.address));
    const hellos = await served("hello");
    const challenges = await served("challenge");
    await rounds(2);
    // Two rounds ran (the outsourcer forwards its challenges here too, hence at least).
    expect(await served("challenge")).toBeGreaterThanOrEqual(challenges + 2);
    expect(await served("hello")).toBe(hellos);
    // Within 10 rounds of the last one, it asks again.
    await rounds(10);
    expect(await served("hello")).toBeGreaterThan(hellos);
  });

  it("scores miners that delete chunks, answer garbage, go offline or proxy below the honest ones", async () => {
    const lazyStore = miners[2]!.stores.store(validatorHotkey.address);
    for (const i of lazyStore.indices()) if (i % 2 === 0) lazyStore.delete(i);
    await miners[3]!.stop();
    await rounds(12);
    const scores = await validator.scores();
    const uidOf = (k: KeyringPair) => db.minerByHotkey(k.address)!.uid as number;
    const [h1, h2, lazy, offline, garbage, proxy] = minerHotkeys.map((k) => scores[uidOf(k)] as number);
    expect(h1).toBeGreaterThan(0.3);
    expect(h2).toBeGreaterThan(0.3);
    for (const cheat of [lazy, offline, garbage, proxy]) expect(cheat).toBeLessThan(Math.min(h1!, h2!));
    expect(garbage).toBe(0);
    expect(proxy).toBe(0);
    const lazyRecord = db.minerByHotkey(minerHotkeys[2]!.address)!;
    expect(db.challengeCounts(lazyRecord.id).fail).toBeGreaterThan(0);
    const offlineRecord = db.minerByHotkey(minerHotkeys[3]!.address)!;
    expect(db.challengeCounts(offlineRecord.id).timeout).toBeGreaterThan(0);
  });

  it("sets weights that move incentive on chain toward the honest miners", async () => {
    const graph0 = await client.metagraph(netuid, { weights: true });
    const v = graph0.hotkeys.indexOf(validatorHotkey.address);
    expect(graph0.weights?.[v]?.length).toBeGreaterThan(0);
    chain.newBlock(TEMPO * 2 + 2);
    const graph = await client.metagraph(netuid);
    const inc = (k: KeyringPair) => graph.incentive[graph.hotkeys.indexOf(k.address)] as number;
    const [h1, h2, lazy, offline, garbage, proxy] = minerHotkeys.map(inc);
    expect(h1).toBeGreaterThan(0);
    expect(h2).toBeGreaterThan(0);
    for (const cheat of [lazy, offline, garbage, proxy]) expect(cheat).toBeLessThan(Math.min(h1!, h2!));
  });

  it("sets weights through commit-reveal when the subnet has it on, across a restart", async () => {
    await client.sudoAdmin(alice, "sudoSetCommitRevealWeightsEnabled", [netuid, true]);
    // A long tempo restarts the epoch cycle now, so the commit and the reveal fall in known epochs.
    await client.sudoAdmin(alice, "sudoSetTempo", [netuid, 50]);
    const report = await validator.runRound();
    expect(report.weights).toBe("committed");
    expect(db.pendingReveals()).toHaveLength(1);
    // Restart before the reveal: the pending commit is in the database.
    await validator.stop();
    validator = newValidator();
    await validator.start();
    chain.newBlock(52);
    const next = await validator.runRound();
    expect(next.revealed).toBe(1);
    // The same round committed the next weights, which wait for their own reveal.
    expect(next.weights).toBe("committed");
    expect(db.pendingReveals()).toHaveLength(1);
    await client.sudoAdmin(alice, "sudoSetCommitRevealWeightsEnabled", [netuid, false]);
    await client.sudoAdmin(alice, "sudoSetTempo", [netuid, TEMPO]);
  });

  it("resumes after a restart without losing or double-counting evidence", async () => {
    const record = db.minerByHotkey(minerHotkeys[0]!.address)!;
    const before = db.challengeCounts(record.id);
    await validator.stop();
    db.close();
    db = ValidatorDb.open(join(dir, "validator.sqlite"));
    expect(db.challengeCounts(record.id)).toEqual(before);
    expect(db.chunkRootCount(record.id)).toBe(miners[0]!.stores.budget(validatorHotkey.address));
    validator = newValidator();
    await validator.start();
    await rounds(1);
    const after = db.challengeCounts(record.id);
    expect(after.pass).toBe(before.pass + 1);
  });
});
