/**
 * The miner's metagraph reads and the validator grace period together: a validator that one read
 * misses (a glitch) or that loses its permit keeps its chunks, in real SQLite stores, until the
 * grace period has passed; then they are evicted and the tree cache is told. The metagraph comes
 * from a scripted chain stand-in (only `metagraph` is called).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChainClient, Metagraph } from "../chain/client.js";
import { createLogger } from "../neurons/logger.js";
import { createMetagraphSync } from "../neurons/miner/metagraph-sync.js";
import { folderUsedBytes, StoreManager } from "../neurons/miner/partition.js";
import { resolveStoreLayout } from "../neurons/miner/store-layout.js";

const CHUNK = 64 * 1024;
const MINUTE = 60_000;

/** A metagraph of the miner and the given validators (hotkey → permit). */
function graphOf(validators: Record<string, boolean>): Metagraph {
  const hotkeys = ["miner", ...Object.keys(validators)];
  const n = hotkeys.length;
  return {
    netuid: 1,
    block: 1,
    blockHash: "0x00",
    n,
    hotkeys,
    coldkeys: hotkeys,
    stake: hotkeys.map((h) => (h === "miner" ? 0n : 1_000n)),
    active: hotkeys.map(() => true),
    validatorPermit: hotkeys.map((h) => validators[h] === true),
    incentive: hotkeys.map(() => 0),
    dividends: hotkeys.map(() => 0),
    consensus: hotkeys.map(() => 0),
    validatorTrust: hotkeys.map(() => 0),
    emission: hotkeys.map(() => 0n),
    lastUpdate: hotkeys.map(() => 0),
    blockAtRegistration: hotkeys.map(() => 0),
    axons: hotkeys.map(() => null),
  } as Metagraph;
}

describe("a validator missing from the metagraph", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "metagraph-grace-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps its chunks through a glitch and a lost permit shorter than the grace period, not longer", async () => {
    let clock = 10_000_000;
    let graph = graphOf({ a: true, b: true });
    const chain = { metagraph: async () => graph } as unknown as ChainClient;
    const layout = resolveStoreLayout({ dbRoot: dir, netuid: 1, minerHotkey: "miner" });
    const stores = new StoreManager({
      layout,
      chunkSize: CHUNK,
      threshold: 0.5,
      validatorGraceMs: 30 * MINUTE,
      freeBytes: () => 40 * CHUNK - folderUsedBytes(layout.dir),
      now: () => clock,
    });
    const lines: Record<string, unknown>[] = [];
    const told: Array<[string, number]> = [];
    const sync = createMetagraphSync({
      chain,
      netuid: 1,
      hotkey: "miner",
      stores: () => stores,
      onEvicted: (validator, indices) => {
        for (const i of indices) told.push([validator, i]);
      },
      afterRefresh: async () => undefined,
      log: createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line)) }),
    });
    await sync.refresh();
    for (let i = 0; i < 4; i++) stores.put("b", i, new Uint8Array(CHUNK).fill(i + 1));

    // One read misses "b" entirely, the next lists it without a permit: 20 minutes in all.
    graph = graphOf({ a: true });
    await sync.refresh();
    expect(sync.validators.has("b")).toBe(false);
    clock += 10 * MINUTE;
    graph = graphOf({ a: true, b: false });
    await sync.refresh();
    clock += 10 * MINUTE;
    await sync.refresh();
    expect(stores.store("b").count()).toBe(4);
    expect(told).toEqual([]);
    const warned = lines.filter((l) => l.validator === "b" && String(l.msg).includes("grace period"));
    expect(warned).toHaveLength(1);

    // Back with a permit: nothing was lost.
    graph = graphOf({ a: true, b: true });
    await sync.refresh();
    expect(sync.validators.has("b")).toBe(true);
    expect(stores.store("b").count()).toBe(4);

    // Gone for 31 minutes: evicted, and the tree cache hears of each chunk.
    graph = graphOf({ a: true });
    await sync.refresh();
    clock += 31 * MINUTE;
    await sync.refresh();
    expect(stores.store("b").count()).toBe(0);
    expect(told.sort()).toEqual([
      ["b", 0],
      ["b", 1],
      ["b", 2],
      ["b", 3],
    ]);
    stores.close();
  });
});
