/**
 * The gateway's storage layer on the real parts: the embedded dev chain, eight in-process miners
 * over libp2p on loopback, the validator's real SQLite file; k = 4, m = 2. Files come back
 * byte-identical whatever their size; ranges; a corrupting miner is routed around; pieces
 * displace synthetic chunks and the fill never overwrites them; a refused put leaves nothing;
 * a restart keeps committed files; with m miners of a stripe stopped the file still reads, and
 * repair restores full redundancy on the others; with scoreRetrievals off, reads leave the
 * miners' records alone.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetricsRegistry } from "../neurons/metrics.js";
import type { Miner, MinerBehaviour } from "../neurons/miner/miner.js";
import {
  FileNotFoundError,
  NetworkFullError,
  RangeNotSatisfiableError,
} from "../neurons/validator/storage/service.js";
import {
  createStorageService,
  type StorageServiceImpl,
  type StorageSettings,
} from "../neurons/validator/storage/storage.js";
import { createValidator, type Validator } from "../neurons/validator/validator.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { createEnvelope, ErrorCode } from "../protocol/messages.js";
import { type DevSubnet, startDevSubnet, startTestMiner, stopDevSubnet } from "./subnet-fixture.js";

const MiB = 1024 * 1024;
const CHUNK = MiB;
const MINERS = 8;
const OWNER = "5StorageTestOwner";
const secret = new Uint8Array(32).fill(7);

let subnet: DevSubnet;
let dir: string;
let dbPath: string;
let db: ValidatorDb;
let validator: Validator;
let storage: StorageServiceImpl;
let validatorHotkey: KeyringPair;
let minerHotkeys: KeyringPair[];
let miners: Miner[];
/** What each miner does with a retrieval: answer honestly, or flip a byte of the data. */
const modes: ("honest" | "corrupt" | "lazy" | "refuse")[] = Array.from({ length: MINERS }, () => "honest");
/** The tests' clock: moved forward to let an offline grace period pass without waiting. */
let skew = 0;
/** The service's metrics (a fresh registry per start: a metric is declared once per registry). */
let metrics = createMetricsRegistry();
const now = () => Date.now() + skew;

/** Waits the repair's bandwidth bound asked for. */
const repairWaits: number[] = [];
const recordSleep = async (ms: number) => {
  repairWaits.push(ms);
};

const settings: StorageSettings = {
  dataShards: 4,
  parityShards: 2,
  // Slow enough that a repair of a few pieces is held back (the waits are recorded, not slept).
  repairBandwidth: MiB,
  offlineGraceMs: 60_000,
  chunkSize: CHUNK,
  pieceTimeoutMs: 5_000,
  autoMaintain: false,
};

function behaviourFor(index: number): MinerBehaviour {
  return {
    name: "switchable",
    handle(request, honest) {
      // Lazy: says it no longer has whatever chunk a challenge names.
      if (modes[index] === "lazy" && request.body.type === "challenge")
        return createEnvelope(
          { type: "error", code: ErrorCode.NotFound, message: "no such chunk" },
          { requestId: request.requestId },
        );
      // Refuse: answers challenges, says "not found" to every retrieval.
      if (modes[index] === "refuse" && request.body.type === "retrieve")
        return createEnvelope(
          { type: "error", code: ErrorCode.NotFound, message: "not available" },
          { requestId: request.requestId },
        );
      const reply = honest(request);
      if (modes[index] !== "corrupt" || reply.body.type !== "retrieve-reply") return reply;
      const data = reply.body.data.slice();
      data[0] = (data[0] ?? 0) ^ 0xff;
      return createEnvelope({ ...reply.body, data }, { requestId: reply.requestId });
    },
  };
}

async function startNodes(): Promise<void> {
  db = ValidatorDb.open(dbPath);
  validator = createValidator({
    settings: {
      netuid: subnet.netuid,
      chunkSize: CHUNK,
      chunksPerChallenge: 2,
      leavesPerChunk: 2,
      fillPerRound: 16,
      retrieveProbability: 0,
      weightsIntervalBlocks: 1_000_000,
      autoRun: false,
    },
    chain: subnet.client,
    hotkey: validatorHotkey,
    db,
    secret,
    now,
  });
  await validator.start();
  metrics = createMetricsRegistry();
  storage = createStorageService({ db, link: validator.link, settings, now, metrics, sleep: recordSleep });
  await storage.start();
}

async function stopNodes(): Promise<void> {
  await storage?.stop();
  await validator?.stop();
  db?.close();
}

async function* chunked(bytes: Uint8Array, size = 256 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

async function put(bytes: Uint8Array, options: { beforeCommit?: () => void } = {}) {
  return storage.put(
    { owner: OWNER, size: bytes.length, public: false, ttlMs: null },
    chunked(bytes),
    options,
  );
}

/** Retrievals recorded as passed, over every miner (each fetched piece is one). */
function retrievals(): number {
  return minerHotkeys.reduce((sum, k) => {
    const record = db.minerByHotkey(k.address);
    return sum + (record ? db.challengeHistory(record.id).filter((c) => c.reason === "retrieval").length : 0);
  }, 0);
}

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

beforeAll(async () => {
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  validatorHotkey = keyring.addFromUri("//Bob//storage-validator");
  minerHotkeys = Array.from({ length: MINERS }, (_, i) => keyring.addFromUri(`//Charlie//store${i}`));
  subnet = await startDevSubnet({
    tempo: 10,
    validators: [validatorHotkey.address],
    miners: minerHotkeys.map((k) => k.address),
  });
  dir = mkdtempSync(join(tmpdir(), "storage-service-"));
  dbPath = join(dir, "validator.sqlite");
  miners = [];
  for (const [i, hotkey] of minerHotkeys.entries()) {
    miners.push(
      await startTestMiner(subnet, {
        hotkey,
        dir,
        chunkSize: CHUNK,
        freeChunks: 8,
        behaviour: behaviourFor(i),
      }),
    );
  }
  await startNodes();
}, 120_000);

afterAll(async () => {
  await stopNodes();
  for (const m of miners ?? []) await m.stop().catch(() => undefined);
  await stopDevSubnet(subnet);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const stored: { cid: string; bytes: Uint8Array }[] = [];

describe("storage service", () => {
  it("fills the miners with synthetic chunks first", async () => {
    await validator.runRound();
    for (const hotkey of minerHotkeys) {
      const record = db.minerByHotkey(hotkey.address)!;
      expect(db.chunkRootCount(record.id)).toBe(validator.link.budget(record.id));
    }
  }, 60_000);

  it("stores and reads back files of 0 B, 1 B, 1 MiB - 1, 1 MiB and 1 MiB + 1 byte-identical", async () => {
    for (const size of [0, 1, MiB - 1, MiB, MiB + 1]) {
      const bytes = new Uint8Array(randomBytes(size));
      const info = await put(bytes);
      expect(info).toMatchObject({ owner: OWNER, size, public: false, dataShards: 4, parityShards: 2 });
      expect(info.stripes).toBe(size === 0 ? 0 : 1);
      expect(info.redundancy).toBe("full");
      const back = await collect(storage.read(info.cid, OWNER));
      expect(sha(back)).toBe(sha(bytes));
      stored.push({ cid: info.cid, bytes });
    }
    expect(storage.list(OWNER)).toHaveLength(5);
    expect(storage.usage(OWNER)).toEqual({ bytes: 3 * MiB + 1, files: 5 });
    // A private file is its owner's alone.
    expect(storage.stat(stored[1]!.cid, null)).toBeUndefined();
    await expect(collect(storage.read(stored[1]!.cid, "someone else"))).rejects.toBeInstanceOf(
      FileNotFoundError,
    );
  }, 60_000);

  it("gave pieces the slots of synthetic chunks, and the fill never overwrites a piece", async () => {
    const totals = db.files.pieceTotals();
    expect(totals.ok).toBeGreaterThan(0);
    // Every miner was full of synthetic chunks: each piece took one's slot, within the budget.
    for (const hotkey of minerHotkeys) {
      const record = db.minerByHotkey(hotkey.address)!;
      expect(db.chunkRootCount(record.id)).toBeLessThanOrEqual(validator.link.budget(record.id)!);
    }
    // Challenges cover the pieces too, short ones by their own leaves: honest miners pass them all.
    for (let i = 0; i < 3; i++) await validator.runRound();
    for (const hotkey of minerHotkeys)
      expect(db.challengeCounts(db.minerByHotkey(hotkey.address)!.id).fail).toBe(0);
    expect(db.files.pieceTotals().lost).toBe(0);
    for (const { cid, bytes } of stored) {
      const file = db.files.visibleFile(cid, OWNER, now())!;
      for (const piece of db.files.pieces(file.id)) {
        expect(
          Buffer.from(db.rootOf(piece.minerId, piece.chunkIndex)!).equals(Buffer.from(piece.root!)),
        ).toBe(true);
      }
      expect(sha(await collect(storage.read(cid, OWNER)))).toBe(sha(bytes));
    }
  }, 60_000);

  it("reads a range, fetching only the leaves it needs", async () => {
    const bytes = new Uint8Array(randomBytes(6 * MiB + 123));
    const info = await put(bytes);
    expect(info.stripes).toBe(2);
    const offset = 5 * MiB - 10;
    const before = retrievals();
    const back = await collect(storage.read(info.cid, OWNER, { range: { offset, length: 20 } }));
    expect(back.equals(Buffer.from(bytes.subarray(offset, offset + 20)))).toBe(true);
    // Leaves 4 and 5 (the range straddles them), nothing else.
    expect(retrievals() - before).toBe(2);
    await expect(
      collect(storage.read(info.cid, OWNER, { range: { offset: bytes.length, length: 1 } })),
    ).rejects.toBeInstanceOf(RangeNotSatisfiableError);
    stored.push({ cid: info.cid, bytes });
  }, 60_000);

  it("leaves the pieces it fetches out of the miners' scores when scoreRetrievals is off", async () => {
    // 1 MiB + 1: two leaves, so two pieces fetched.
    const { cid, bytes } = stored[4]!;
    const unscored = createStorageService({
      db,
      link: validator.link,
      settings: { ...settings, scoreRetrievals: false },
      now,
    });
    await unscored.start();
    try {
      const before = retrievals();
      expect(sha(await collect(unscored.read(cid, OWNER)))).toBe(sha(bytes));
      expect(retrievals()).toBe(before);
      // The same read through the scoring service records each piece it fetched.
      await collect(storage.read(cid, OWNER));
      expect(retrievals()).toBeGreaterThan(before);
    } finally {
      await unscored.stop();
    }
  }, 60_000);

  it("serves single blocks by CID: a leaf and an interior node, verified", async () => {
    const { cid, bytes } = stored.at(-1)!;
    const root = await storage.block(cid, OWNER);
    expect(root).toBeDefined();
    const file = db.files.visibleFile(cid, OWNER, now())!;
    const leaf = db.files.leaf(file.id, 5)!;
    const leafBytes = await storage.block(leaf.cid, OWNER);
    expect(Buffer.from(leafBytes!).equals(Buffer.from(bytes.subarray(5 * MiB, 6 * MiB)))).toBe(true);
    expect(await storage.block(leaf.cid, "someone else")).toBeUndefined();
    expect(await storage.block("not a cid", OWNER)).toBeUndefined();
  }, 60_000);

  it("refuses a file with more data shards in a stripe than there are miners (network full)", async () => {
    const wide = createStorageService({
      db,
      link: validator.link,
      settings: { ...settings, dataShards: 9 },
      now,
    });
    const bytes = new Uint8Array(randomBytes(9 * MiB));
    const before = db.files.pieceTotals();
    await expect(
      wide.put({ owner: OWNER, size: bytes.length, public: false, ttlMs: null }, chunked(bytes)),
    ).rejects.toBeInstanceOf(NetworkFullError);
    expect(db.files.pieceTotals()).toEqual(before);
    expect(db.files.pendingFiles()).toEqual([]);
  }, 60_000);

  it("expires a file at its TTL: gone from reads at once, its pieces freed by maintenance", async () => {
    const bytes = new Uint8Array(randomBytes(1000));
    const info = await storage.put(
      { owner: OWNER, size: bytes.length, public: true, ttlMs: 30_000 },
      chunked(bytes),
    );
    expect(info.expiresAt).toBe(info.createdAt + 30_000);
    // Public: anyone reads it by CID.
    expect(sha(await collect(storage.read(info.cid, null)))).toBe(sha(bytes));
    const fileId = db.files.visibleFile(info.cid, null, now())!.id;
    skew += 30_000;
    expect(storage.stat(info.cid, OWNER)).toBeUndefined();
    expect(db.files.pieces(fileId).length).toBeGreaterThan(0);
    await storage.maintain();
    expect(db.files.pieces(fileId)).toEqual([]);
    expect(db.files.file(fileId)).toBeUndefined();
  }, 60_000);

  it("routes around a miner that returns corrupted bytes, and scores it", async () => {
    const { cid, bytes } = stored.at(-1)!;
    const file = db.files.visibleFile(cid, OWNER, now())!;
    const dataPiece = db.files.pieces(file.id).find((p) => p.shard === 0 && p.stripe === 0)!;
    const holder = db.minerById(dataPiece.minerId)!.hotkey;
    const index = minerHotkeys.findIndex((k) => k.address === holder);
    const before = db.challengeCounts(dataPiece.minerId).fail;
    modes[index] = "corrupt";
    try {
      expect(sha(await collect(storage.read(cid, OWNER)))).toBe(sha(bytes));
    } finally {
      modes[index] = "honest";
    }
    expect(db.challengeCounts(dataPiece.minerId).fail).toBeGreaterThan(before);
    // The piece is lost now; repair puts a good copy on another miner.
    expect(db.files.piece(dataPiece.id)?.state).toBe("lost");
    expect((await storage.repairNow()).repaired).toBeGreaterThanOrEqual(1);
    expect(storage.status(cid, OWNER)).toMatchObject({ redundancy: "full", health: 2 });
  }, 60_000);

  it("leaves nothing visible when beforeCommit refuses, and frees the pieces", async () => {
    const bytes = new Uint8Array(randomBytes(2 * MiB));
    const before = db.files.pieceTotals();
    await expect(
      put(bytes, {
        beforeCommit: () => {
          throw new Error("digest mismatch");
        },
      }),
    ).rejects.toThrow("digest mismatch");
    expect(db.files.pieceTotals()).toEqual(before);
    expect(storage.list(OWNER)).toHaveLength(stored.length);
    expect(db.files.pendingFiles()).toEqual([]);
  }, 60_000);

  it("keeps committed files across a restart, and frees a put a crash left pending", async () => {
    // What a gateway killed mid-put leaves: a pending file with a piece reserved (and maybe sent).
    const orphan = db.files.createPendingFile({
      owner: OWNER,
      size: 1,
      public: false,
      createdAt: now(),
      expiresAt: null,
      dataShards: 4,
      parityShards: 2,
    });
    const minerId = db.minerByHotkey(minerHotkeys[0]!.address)!.id;
    const slot = db.files.reservePieceSlot(minerId, validator.link.budget(minerId)!, {
      fileId: orphan,
      stripe: 0,
      shard: 0,
      size: 1,
    })!;
    expect(db.files.pieceAt(minerId, slot.chunkIndex)).toBeDefined();
    await stopNodes();
    await startNodes();
    expect(db.files.pendingFiles()).toEqual([]);
    expect(db.files.pieceAt(minerId, slot.chunkIndex)).toBeUndefined();
    expect(storage.list(OWNER)).toHaveLength(stored.length);
    for (const { cid, bytes } of stored)
      expect(sha(await collect(storage.read(cid, OWNER)))).toBe(sha(bytes));
  }, 60_000);

  it("reads with m miners of a stripe stopped, and repair restores full redundancy", async () => {
    const { cid, bytes } = stored.at(-1)!;
    const file = db.files.visibleFile(cid, OWNER, now())!;
    const stripe0 = db.files.stripePieces(file.id, 0);
    // Stop the holders of two data shards of stripe 0, for good.
    const gone = stripe0.filter((p) => p.shard < 2).map((p) => db.minerById(p.minerId)!.hotkey);
    for (const hotkey of gone) await miners[minerHotkeys.findIndex((k) => k.address === hotkey)]!.stop();
    expect(sha(await collect(storage.read(cid, OWNER)))).toBe(sha(bytes));

    // Within the grace period nothing is rebuilt; past it, the pieces are placed on other miners.
    expect((await storage.repairNow()).repaired).toBe(0);
    skew += settings.offlineGraceMs;
    const report = await storage.repairNow();
    expect(report.repaired).toBeGreaterThanOrEqual(2);
    // Rebuilding two pieces of a 1 MiB-leaf stripe read 4 MiB or more at 1 MiB/s: 3 s and more held back.
    expect(repairWaits.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2_500);
    const status = storage.status(cid, OWNER)!;
    expect(status.redundancy).toBe("full");
    expect(status.health).toBe(2);
    expect(status.pieces.lost).toBe(0);
    expect(status.pieces.repaired).toBeGreaterThanOrEqual(2);
    for (const stripe of status.stripesDetail)
      for (const piece of stripe.pieces) expect(gone).not.toContain(piece.miner);
    expect(sha(await collect(storage.read(cid, OWNER)))).toBe(sha(bytes));
    const text = await metrics.render();
    expect(text).toMatch(/storage_pieces\{state="lost"\} 0/);
    expect(text).toMatch(/storage_pieces_repaired [1-9]/);
  }, 60_000);

  it("stores at reduced redundancy when fewer miners than pieces are up, and says so", async () => {
    // Six miners are up; 4 + 4 pieces need eight.
    const wide = createStorageService({
      db,
      link: validator.link,
      settings: { ...settings, parityShards: 4 },
      now,
    });
    const bytes = new Uint8Array(randomBytes(4 * MiB));
    const info = await wide.put(
      { owner: OWNER, size: bytes.length, public: false, ttlMs: null },
      chunked(bytes),
    );
    expect(info.redundancy).toBe("reduced");
    const status = wide.status(info.cid, OWNER)!;
    expect(status.pieces.total).toBe(8);
    expect(status.health).toBeLessThan(4);
    expect(sha(await collect(wide.read(info.cid, OWNER)))).toBe(sha(bytes));
    expect(wide.remove(info.cid, OWNER)).toBe(true);
  }, 60_000);

  it("removes a file: gone at once, its slots refilled by the fill", async () => {
    const { cid } = stored[4]!;
    expect(storage.remove(cid, "not the owner")).toBe(false);
    expect(storage.remove(cid, OWNER)).toBe(true);
    expect(storage.stat(cid, OWNER)).toBeUndefined();
    expect(storage.remove(cid, OWNER)).toBe(false);
    // The next round stores synthetic chunks into the freed slots (overwriting the user bytes on
    // the miners) and leaves every other file's pieces alone.
    await validator.runRound();
    for (const hotkey of minerHotkeys) {
      const record = db.minerByHotkey(hotkey.address)!;
      const budget = validator.link.budget(record.id);
      if (budget !== undefined && validator.link.unreachableSince(record.id) === undefined)
        expect(db.chunkRootCount(record.id)).toBe(budget);
    }
    for (const { cid: other, bytes } of stored.filter((f) => f.cid !== cid)) {
      const file = db.files.visibleFile(other, OWNER, now())!;
      for (const piece of db.files.pieces(file.id))
        expect(
          Buffer.from(db.rootOf(piece.minerId, piece.chunkIndex)!).equals(Buffer.from(piece.root!)),
        ).toBe(true);
      expect(sha(await collect(storage.read(other, OWNER)))).toBe(sha(bytes));
    }
  }, 60_000);
  it("treats a piece as lost when its miner answers a challenge on it with 'not found', and rebuilds it", async () => {
    const bytes = new Uint8Array(randomBytes(2 * MiB));
    const info = await put(bytes);
    const file = db.files.visibleFile(info.cid, OWNER, now())!;
    const piece = db.files.pieces(file.id).find((p) => {
      const hotkey = db.minerById(p.minerId)!.hotkey;
      const i = minerHotkeys.findIndex((k) => k.address === hotkey);
      return validator.link.unreachableSince(p.minerId) === undefined && i >= 0 && modes[i] === "honest";
    })!;
    const lazy = minerHotkeys.findIndex((k) => k.address === db.minerById(piece.minerId)!.hotkey);
    modes[lazy] = "lazy";
    try {
      // A round challenges two of the miner's eight chunks: the piece's comes up within a few
      // rounds (missed 40 times in a row with probability 0.75^40 ≈ 1e-5).
      for (let round = 0; round < 40 && storage.status(info.cid, OWNER)!.pieces.lost === 0; round++)
        await validator.runRound({ setWeights: false });
      expect(storage.status(info.cid, OWNER)!.pieces.lost).toBeGreaterThanOrEqual(1);
    } finally {
      modes[lazy] = "honest";
    }
    expect((await storage.repairNow()).repaired).toBeGreaterThanOrEqual(1);
    const status = storage.status(info.cid, OWNER)!;
    expect(status.pieces.lost).toBe(0);
    expect(sha(await collect(storage.read(info.cid, OWNER)))).toBe(sha(bytes));
  }, 120_000);
  it("gives no user pieces to a miner with a poor record while enough others can take a stripe", async () => {
    const running = minerHotkeys
      .map((k) => db.minerByHotkey(k.address)!)
      .filter((r) => validator.link.unreachableSince(r.id) === undefined);
    const poor = running[0]!;
    // Enough failures to put its record under the placement bar whatever passes the earlier tests'
    // random rounds gave it: (passes + 1) / (outcomes + 2) < 0.5 needs more failures than net passes.
    const record = db.challengeCounts(poor.id);
    const failures = Math.max(6, record.pass - record.fail - record.timeout + 1);
    for (let i = 0; i < failures; i++)
      db.recordChallenge(
        {
          id: new Uint8Array(randomBytes(32)),
          minerId: poor.id,
          outcome: { kind: "fail" },
          at: now(),
          reason: "test",
        },
        [],
      );
    // One leaf and two parity pieces: three trusted miners are needed of the five or more left,
    // so a store that fails on a miner stopped earlier still finds a trusted one to retry on.
    const bytes = new Uint8Array(randomBytes(MiB));
    const info = await put(bytes);
    const file = db.files.visibleFile(info.cid, OWNER, now())!;
    const holders = new Set(db.files.pieces(file.id).map((p) => p.minerId));
    expect(holders.size).toBe(3);
    expect(holders.has(poor.id)).toBe(false);
  }, 60_000);
  it("sends a piece whose miner refuses to serve it ('not found') to repair, and rebuilds it", async () => {
    const bytes = new Uint8Array(randomBytes(MiB));
    const info = await put(bytes);
    const file = db.files.visibleFile(info.cid, OWNER, now())!;
    const data = db.files.pieces(file.id).find((p) => p.shard === 0)!;
    const refuser = minerHotkeys.findIndex((k) => k.address === db.minerById(data.minerId)!.hotkey);
    modes[refuser] = "refuse";
    try {
      expect(sha(await collect(storage.read(info.cid, OWNER)))).toBe(sha(bytes));
      expect(storage.status(info.cid, OWNER)!.pieces.lost).toBe(1);
      expect((await storage.repairNow()).repaired).toBeGreaterThanOrEqual(1);
      const after = storage.status(info.cid, OWNER)!;
      expect(after.pieces.lost).toBe(0);
      for (const stripe of after.stripesDetail)
        for (const piece of stripe.pieces) expect(piece.miner).not.toBe(minerHotkeys[refuser]!.address);
    } finally {
      modes[refuser] = "honest";
    }
  }, 60_000);
});
