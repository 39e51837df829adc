/**
 * The simulator's gateway counts every piece marked lost, once, in files.csv's
 * pieces_marked_lost: marks made outside the repair pass (a read or challenge that found a piece
 * gone) as well as the pass's own (a miner deregistered, or offline past its grace); and the
 * offline grace counts tempos of simulated time; and each tick reports how many tempos the pieces
 * rebuilt in its pass waited. On a real SQLite file with a stand-in miner link (no miner answers:
 * repair cannot rebuild, so a rebuild is done by hand where the pass starts, in the link's refresh).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout } from "node:timers/promises";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../neurons/logger.js";
import { type LinkedMiner, type MinerLink, MinerLinkError } from "../neurons/validator/storage/miner-link.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { startSimGateway } from "../sim/sim-gateway.js";
import { seedStripes } from "./support/seed-stripes.js";

const dir = mkdtempSync(join(tmpdir(), "sim-storage-marks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TEMPO_MS = 120_000;
const h = (label: string | number) => new Uint8Array(createHash("sha256").update(String(label)).digest());

/** Three miners holding one (1, 2) stripe of each of `files` files: piece i of a stripe on miner i. */
function seed(db: ValidatorDb, files: number): LinkedMiner[] {
  const miners = seedStripes(db, files);
  return miners.map((m) => ({
    id: m.id,
    hotkey: m.hotkey,
    uid: m.uid as number,
    coldkey: null,
    ip: null,
    reachable: true,
  }));
}

/**
 * A link to miners that never answer; `registered` and `unreachable` are set by the test, and
 * `onRefresh` runs when the repair pass starts (it refreshes the metagraph first).
 */
function standInLink(
  registered: LinkedMiner[],
  unreachable: Map<number, number>,
  onRefresh: { run?: () => void },
): MinerLink {
  return {
    storeId: "validator",
    chunkSize: 1 << 20,
    leafSize: 1 << 10,
    miners: () => registered,
    refresh: async () => {
      const run = onRefresh.run;
      onRefresh.run = undefined;
      run?.();
    },
    budget: () => 64,
    prepare: async () => {
      throw new MinerLinkError("unreachable", "stand-in");
    },
    send: async () => {
      throw new MinerLinkError("unreachable", "stand-in");
    },
    unreachableSince: (minerId) => unreachable.get(minerId),
    recordRetrieval: () => undefined,
  };
}

async function hotkey() {
  await cryptoWaitReady();
  return new Keyring({ type: "sr25519" }).addFromUri("//Sim//marks");
}

async function gatewayOver(files: number, offlineGraceTempos: number) {
  const db = ValidatorDb.open(join(mkdtempSync(join(dir, "v-")), "validator.sqlite"));
  const miners = seed(db, files);
  const registered = [...miners];
  const unreachable = new Map<number, number>();
  const onRefresh: { run?: () => void } = {};
  const gateway = await startSimGateway({
    db,
    link: standInLink(registered, unreachable, onRefresh),
    hotkey: await hotkey(),
    netuid: 1,
    chunkSize: 1 << 20,
    spec: {
      dataShards: 1,
      parityShards: 2,
      repairBandwidth: 1 << 30,
      offlineGraceMs: offlineGraceTempos * TEMPO_MS,
      repair: true,
      scoreRetrievals: false,
    },
    log: silentLogger(),
  });
  return { db, miners, registered, unreachable, onRefresh, gateway };
}

describe("pieces marked lost", () => {
  it("counts marks made outside the repair pass and the pass's own, each piece once", async () => {
    const { db, miners, registered, gateway } = await gatewayOver(3, 1);
    try {
      expect((await gateway.tick(TEMPO_MS)).marked).toBe(0);
      // A read or challenge found miner 0's piece of the first file gone (marked twice: one piece).
      const first = db.files.stripePieces(1, 0).find((p) => p.minerId === miners[0]!.id)!;
      expect(db.files.markPieceLost(first.minerId, first.chunkIndex)).toBe(true);
      expect(db.files.markPieceLost(first.minerId, first.chunkIndex)).toBe(false);
      expect((await gateway.tick(TEMPO_MS)).marked).toBe(1);
      // Miner 1 deregistered: the pass marks its three pieces, once.
      registered.splice(1, 1);
      expect((await gateway.tick(TEMPO_MS)).marked).toBe(3);
      expect((await gateway.tick(TEMPO_MS)).marked).toBe(0);
      expect(db.files.markedLostTotal()).toBe(4);
    } finally {
      await gateway.close();
      db.close();
    }
  });

  it("waits out the offline grace in tempos, however little wall-clock time passed", async () => {
    const { db, miners, unreachable, gateway } = await gatewayOver(2, 2);
    try {
      await gateway.tick(TEMPO_MS);
      // Wall-clock milliseconds apart from the ticks, so the tempo the miner was last reached in is plain.
      await setTimeout(5);
      unreachable.set(miners[2]!.id, Date.now());
      await setTimeout(5);
      // One tempo after the miner was last reached: inside the grace of two.
      expect((await gateway.tick(TEMPO_MS)).marked).toBe(0);
      expect((await gateway.tick(TEMPO_MS)).marked).toBe(2);
    } finally {
      await gateway.close();
      db.close();
    }
  });
});

describe("time to repair", () => {
  it("reports the tempos a rebuilt piece waited, and not a piece that went with its file", async () => {
    const { db, miners, onRefresh, gateway } = await gatewayOver(2, 1);
    try {
      const lostOf = (fileId: number) =>
        db.files.stripePieces(fileId, 0).find((p) => p.minerId === miners[0]!.id)!;
      const [first, second] = [lostOf(1), lostOf(2)];
      expect(db.files.markPieceLost(first.minerId, first.chunkIndex)).toBe(true);
      expect(db.files.markPieceLost(second.minerId, second.chunkIndex)).toBe(true);
      // Seen lost at tick 1; no miner answers, so neither pass rebuilds it.
      for (let tick = 1; tick <= 2; tick++) {
        const report = await gateway.tick(TEMPO_MS);
        expect(report.failed).toBe(2);
        expect(report.repairTempos).toEqual({ count: 0, mean: 0, max: 0 });
      }
      // The second file is removed: its lost piece goes with it, unrepaired.
      expect(db.files.deleteFile(2)).toBe(true);
      // Tick 3's pass rebuilds the first file's piece on miner 1 (as repair's place and
      // completeRepair would): two tempos after the pass that first found it lost.
      onRefresh.run = () => {
        const slot = db.files.reservePieceSlot(miners[1]!.id, 64, {
          fileId: 1,
          stripe: 0,
          shard: first.shard,
          size: 10,
        });
        db.files.ackPiece(slot!.pieceId, h("rebuilt"));
        db.files.completeRepair(first.id, slot!.pieceId);
      };
      expect((await gateway.tick(TEMPO_MS)).repairTempos).toEqual({ count: 1, mean: 2, max: 2 });
      expect(db.files.lostPieces()).toEqual([]);
      expect((await gateway.tick(TEMPO_MS)).repairTempos).toEqual({ count: 0, mean: 0, max: 0 });
    } finally {
      await gateway.close();
      db.close();
    }
  });
});
