/**
 * The gateway's storage: {@link StorageService} over the validator's miners.
 *
 * A put streams the body through `importFile` (the file's CID) while cutting the same bytes into
 * the 1 MiB leaves; every k leaves make a stripe, erasure-coded into m parity shards, and the
 * k' + m pieces go to distinct miners (./placement.ts) as chunks of this validator's store there
 * (./piece-transfer.ts). At most two stripes are in memory (one being stored, one being read) and
 * at most {@link StorageSettings.piecesInFlight} pieces are on the wire. The file becomes visible
 * in one transaction once every piece is acknowledged and `beforeCommit` passed; a put that
 * fails frees what it placed, and one a crash interrupted is freed at the next start.
 *
 * Reads verify every leaf against its CID; a piece that is wrong, missing or late is rebuilt
 * from the stripe's other pieces. Repair (./repair.ts) rebuilds lost pieces in the background.
 */

import * as dagPb from "@ipld/dag-pb";
import { Queue } from "@libp2p/utils";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { CHUNK_BYTES, importFile, readFile, readRange } from "../../../protocol/content-id.js";
import { createErasureCoder, type ErasureCoder } from "../../../protocol/erasure.js";
import type { ValidatorConfig } from "../../config.js";
import { type Logger, silentLogger } from "../../logger.js";
import type { MetricsRegistry } from "../../metrics.js";
import type { ValidatorDb } from "../validator-db.js";
import type { FileRecord, PieceRecord } from "./file-index.js";
import type { MinerLink } from "./miner-link.js";
import { createPieceTransfer, PIECE_TIMEOUT_MS, PieceTransferError } from "./piece-transfer.js";
import { breakTies, choosePlacement, type PlacementCandidate } from "./placement.js";
import { createRepairer, type RepairReport } from "./repair.js";
import {
  type FileInfo,
  FileNotFoundError,
  type FileStatus,
  FileUnavailableError,
  NetworkFullError,
  type PutOptions,
  type PutRequest,
  RangeNotSatisfiableError,
  type ReadOptions,
  type Requester,
  StorageError,
  type StorageService,
  type StripeStatus,
} from "./service.js";

/** Pieces of one put on the wire at once by default. */
export const PIECES_IN_FLIGHT = 8;

/** Miners a piece's store is tried on before the put fails. */
export const STORE_ATTEMPTS = 4;

/** Time between maintenance passes (expiry, repair) by default. */
export const MAINTENANCE_INTERVAL_MS = 60_000;

/** Smallest share of passed outcomes (smoothed) a miner needs to be given user pieces first. */
export const PLACEMENT_MIN_PASS_SHARE = 0.5;

/** Files expired per maintenance pass at most (the rest wait for the next). */
const EXPIRED_PER_PASS = 1000;

export interface StorageSettings {
  /** k: data shards per stripe. */
  dataShards: number;
  /** m: parity shards per stripe. */
  parityShards: number;
  /** Bytes per second repair may read from miners. */
  repairBandwidth: number;
  /** How long a miner may stay unreachable before its pieces are rebuilt elsewhere. */
  offlineGraceMs: number;
  /**
   * Repair threshold r: a stripe is rebuilt once at most k + r of its pieces are left (capped at
   * m − 1, the default: any lost piece). A lower r saves repair traffic and risks more.
   */
  repairThreshold?: number;
  /** The miners' chunk size: a piece (one leaf) must fit in a chunk. */
  chunkSize: number;
  piecesInFlight?: number;
  /** How long one piece's store or retrieval may take. */
  pieceTimeoutMs?: number;
  maintenanceIntervalMs?: number;
  /** Run maintenance on a timer after start(); false leaves it to maintain() (tests). */
  autoMaintain?: boolean;
  /**
   * Score every piece fetched for a read or a repair like a challenge (default true). Off, a
   * miner's record is its challenges alone: what serving data earns, measured by turning it off.
   */
  scoreRetrievals?: boolean;
}

export interface StorageInit {
  db: ValidatorDb;
  link: MinerLink;
  settings: StorageSettings;
  log?: Logger;
  metrics?: MetricsRegistry;
  now?: () => number;
  /** Waits out the repair bandwidth bound (default setTimeout); tests record instead. */
  sleep?: (ms: number) => Promise<void>;
}

/** The service, with the hooks tests use to run background work without timers. */
export interface StorageServiceImpl extends StorageService {
  /** Marks lost pieces and rebuilds them now (the background loop's pass). */
  repairNow(): Promise<RepairReport>;
  /** Expires files and repairs, as one timer tick does. */
  maintain(): Promise<RepairReport>;
}

/** The settings refused: a leaf does not fit in a chunk, or k or m out of range. */
export class StorageSettingsError extends StorageError {
  override name = "StorageSettingsError";
}

interface LeafEntry {
  cid: string;
  size: number;
}

function leafCid(bytes: Uint8Array): CID {
  const digest = sha256.digest(bytes);
  if (digest instanceof Promise) throw new StorageError("SHA-256 must hash synchronously");
  return CID.createV1(raw.code, digest);
}

/** Rebuilds shards of stripes from any k' pieces, verified; shared by reads and repair. */
export interface StripeReader {
  /**
   * The wanted shards of a stripe (data shards trimmed to their leaf, parity at the padded
   * length), fetched or rebuilt. `onBytes` sees every piece fetched (repair's bandwidth budget).
   */
  shards(
    file: FileRecord,
    stripe: number,
    wanted: readonly number[],
    options: { signal?: AbortSignal; onBytes?: (n: number) => Promise<void> },
  ): Promise<Map<number, Uint8Array>>;
}

/**
 * The storage settings from the validator's config (the `api.*` options; seconds become
 * milliseconds).
 *
 * @example createStorageService({ db, link: validator.link, settings: storageSettingsFrom(config) })
 */
export function storageSettingsFrom(config: ValidatorConfig): StorageSettings {
  return {
    dataShards: config["api.data_shards"],
    parityShards: config["api.parity_shards"],
    repairBandwidth: config["api.repair_bandwidth"],
    offlineGraceMs: config["api.offline_grace"] * 1000,
    ...(config["api.repair_threshold"] === undefined
      ? {}
      : { repairThreshold: config["api.repair_threshold"] }),
    chunkSize: config.chunk_size,
    scoreRetrievals: config["api.score_retrievals"],
  };
}

/**
 * @example
 * const storage = createStorageService({ db, link: validator.link, settings: { dataShards: 10, parityShards: 4,
 *   repairBandwidth: 16 << 20, offlineGraceMs: 600_000, chunkSize: CHUNK_SIZE } });
 * await storage.start();
 * const info = await storage.put({ owner, size, public: false, ttlMs: null }, body);
 */
export function createStorageService(init: StorageInit): StorageServiceImpl {
  const { db, link, settings } = init;
  const log = init.log ?? silentLogger();
  const now = init.now ?? (() => Date.now());
  const k = settings.dataShards;
  const m = settings.parityShards;
  if (!Number.isInteger(k) || k < 1 || !Number.isInteger(m) || m < 0)
    throw new StorageSettingsError(`bad erasure settings: ${k} data and ${m} parity shards`);
  if (settings.chunkSize < CHUNK_BYTES)
    throw new StorageSettingsError(`a chunk (${settings.chunkSize} B) must hold a 1 MiB leaf`);
  const transfer = createPieceTransfer({
    db,
    link,
    now,
    timeoutMs: settings.pieceTimeoutMs ?? PIECE_TIMEOUT_MS,
    scoreRetrievals: settings.scoreRetrievals ?? true,
  });
  const wire = new Queue<unknown>({ concurrency: settings.piecesInFlight ?? PIECES_IN_FLIGHT });
  const coders = new Map<number, ErasureCoder>();
  const coderFor = (dataShards: number): ErasureCoder => {
    let coder = coders.get(dataShards);
    if (coder === undefined) {
      coder = createErasureCoder({ dataShards, parityShards: m });
      coders.set(dataShards, coder);
    }
    return coder;
  };
  /** Puts in flight: their pending rows are not orphans. */
  const inFlight = new Set<number>();

  const metrics = init.metrics;
  metrics?.gauge(
    "storage_pieces",
    "User pieces by state (pending: being stored or repaired; lost: waiting for repair)",
    () => {
      const totals = db.files.pieceTotals();
      return (["pending", "ok", "lost"] as const).map((state) => [{ state }, totals[state]]);
    },
    { labelNames: ["state"] },
  );
  metrics?.gauge(
    "storage_pieces_repaired",
    "Pieces rebuilt and placed again, over the pieces held now",
    () => db.files.pieceTotals().repaired,
  );
  metrics?.gauge("storage_bytes_stored", "Bytes of user files stored", () => db.files.storedTotals().bytes);
  metrics?.gauge("storage_files", "User files stored", () => db.files.storedTotals().files);

  function candidates(
    exclude: ReadonlySet<number> = new Set(),
  ): (PlacementCandidate & { room: number; trusted: boolean })[] {
    const list = link
      .miners()
      .filter(
        (miner) => miner.reachable && !exclude.has(miner.id) && link.unreachableSince(miner.id) === undefined,
      )
      .map((miner) => {
        const budget = link.budget(miner.id);
        const held = db.files.piecesOnMiner(miner.id);
        // Unknown budget (no hello yet): assume some room; the store finds out.
        return {
          id: miner.id,
          coldkey: miner.coldkey,
          ip: miner.ip,
          room: budget === undefined ? 1 : budget - held,
        };
      })
      .filter((c) => c.room > 0)
      .map((c) => ({ ...c, trusted: isTrusted(c.id) }))
      .sort((a, b) => Number(b.trusted) - Number(a.trusted) || b.room - a.room || a.id - b.id);
    // Miners with a poor record (they fail challenges or reads) get no user data while enough
    // others can take a whole stripe; below that they come last.
    const trusted = list.filter((c) => c.trusted);
    return trusted.length >= settings.dataShards + settings.parityShards ? trusted : list;
  }

  /** Candidates {@link candidates} ranks equal: placement breaks their tie per stripe (./placement.ts). */
  const sameRank = (a: { room: number; trusted: boolean }, b: { room: number; trusted: boolean }) =>
    a.trusted === b.trusted && a.room === b.room;

  /**
   * Whether a miner's recorded outcomes (challenges and retrievals in the retention window) are
   * mostly passes: (passes + 1) / (outcomes + 2) ≥ {@link PLACEMENT_MIN_PASS_SHARE}, so a new
   * miner with no record is trusted and one failing half its challenges is not.
   */
  function isTrusted(minerId: number): boolean {
    const { pass, fail, timeout } = db.challengeCounts(minerId);
    return (pass + 1) / (pass + fail + timeout + 2) >= PLACEMENT_MIN_PASS_SHARE;
  }

  function toInfo(file: FileRecord): FileInfo {
    return {
      cid: file.cid as string,
      owner: file.owner,
      size: file.size,
      public: file.public,
      createdAt: file.createdAt,
      expiresAt: file.expiresAt,
      dataShards: file.dataShards,
      parityShards: file.parityShards,
      stripes: file.stripes,
      redundancy: stripesOf(file).every((s) => s.full) ? "full" : "reduced",
    };
  }

  /** Data shards of a stripe: k, or fewer in the last stripe. */
  function stripeDataShards(file: FileRecord, stripe: number): number {
    const leaves = Math.ceil(file.size / CHUNK_BYTES);
    return Math.min(file.dataShards, leaves - stripe * file.dataShards);
  }

  function stripesOf(file: FileRecord): (StripeStatus & { full: boolean; repaired: number; lost: number })[] {
    const byStripe = new Map<number, PieceRecord[]>();
    for (const piece of db.files.pieces(file.id)) {
      const list = byStripe.get(piece.stripe) ?? [];
      list.push(piece);
      byStripe.set(piece.stripe, list);
    }
    const hotkeys = new Map(link.miners().map((miner) => [miner.id, miner]));
    const out = [];
    for (let stripe = 0; stripe < file.stripes; stripe++) {
      const pieces = (byStripe.get(stripe) ?? []).filter((p) => p.state !== "pending");
      const dataShards = stripeDataShards(file, stripe);
      const good = pieces.filter((p) => p.state === "ok");
      // Losing a miner loses every piece it holds: take the fullest miners away first.
      const perMiner = new Map<number, number>();
      for (const p of good) perMiner.set(p.minerId, (perMiner.get(p.minerId) ?? 0) + 1);
      const counts = [...perMiner.values()].sort((a, b) => b - a);
      let left = good.length;
      let margin = 0;
      for (const count of counts) {
        if (left - count < dataShards) break;
        left -= count;
        margin++;
      }
      if (good.length < dataShards) margin = -1;
      out.push({
        index: stripe,
        dataShards,
        margin,
        pieces: pieces.map((p) => {
          const miner = hotkeys.get(p.minerId);
          return {
            shard: p.shard,
            miner: miner?.hotkey ?? db.minerById(p.minerId)?.hotkey ?? "",
            uid: miner?.uid ?? null,
            state: p.state === "ok" ? ("ok" as const) : ("lost" as const),
          };
        }),
        full: good.length === dataShards + file.parityShards && perMiner.size === good.length,
        repaired: pieces.reduce((sum, p) => sum + p.repaired, 0),
        lost: pieces.length - good.length,
      });
    }
    return out;
  }

  /**
   * Stores one stripe's k' + m pieces on distinct miners; a piece a miner refuses or fails goes
   * to another miner (up to {@link STORE_ATTEMPTS}).
   */
  async function storeStripe(fileId: number, stripe: number, data: Uint8Array[], signal: AbortSignal) {
    const dataShards = data.length;
    const padded = Math.max(...data.map((d) => d.length));
    const parity = coderFor(dataShards).encode(
      data.map((d) => {
        if (d.length === padded) return d;
        const out = new Uint8Array(padded);
        out.set(d);
        return out;
      }),
    );
    const shards = [...data, ...parity];
    const placed = choosePlacement(breakTies(candidates(), sameRank, `${fileId}/${stripe}`), shards.length, {
      minimumDistinct: dataShards,
    });
    if (placed === undefined)
      throw new NetworkFullError(`too few miners with room for a stripe of ${dataShards} data shards`);
    // Every piece goes to its planned miner at once; the ones refused are placed again only once
    // all have settled, one at a time in shard order, so where a retried piece lands depends on
    // which stores failed, never on which finished first (the simulator's runs must not differ).
    const holders = new Map<number, PlacementCandidate>();
    const refused = new Set<number>();
    const tryStore = async (target: PlacementCandidate, shard: number): Promise<boolean> => {
      signal.throwIfAborted();
      try {
        await wire.add(() =>
          transfer.store(target.id, { fileId, stripe, shard }, shards[shard] as Uint8Array, signal),
        );
        holders.set(target.id, target);
        return true;
      } catch (error) {
        if (!(error instanceof PieceTransferError)) throw error;
        log.debug("a piece store failed", { miner: target.id, error: String(error.cause ?? error) });
        refused.add(target.id);
        return false;
      }
    };
    const results = await Promise.allSettled(
      shards.map((_, shard) => tryStore(placed[shard] as PlacementCandidate, shard)),
    );
    const failure = results.find((r) => r.status === "rejected");
    if (failure) throw (failure as PromiseRejectedResult).reason;
    for (const [shard, result] of results.entries()) {
      if (result.status === "fulfilled" && result.value) continue;
      let stored = false;
      for (let attempt = 1; attempt < STORE_ATTEMPTS && !stored; attempt++) {
        const others = breakTies(candidates(refused), sameRank, `${fileId}/${stripe}/${shard}`);
        const held = { holders: [...holders.values()] };
        // A miner with a poor record comes last, after any other not yet holding the stripe.
        const target =
          choosePlacement(
            others.filter((c) => c.trusted),
            1,
            held,
          )?.[0] ??
          choosePlacement(others, 1, held)?.[0] ??
          others[0];
        if (target === undefined) break;
        stored = await tryStore(target, shard);
      }
      if (!stored) throw new NetworkFullError(`no miner took piece ${shard} of stripe ${stripe}`);
    }
  }

  async function put(request: PutRequest, body: AsyncIterable<Uint8Array>, options: PutOptions = {}) {
    const createdAt = now();
    const fileId = db.files.createPendingFile({
      owner: request.owner,
      size: request.size,
      public: request.public,
      createdAt,
      expiresAt: request.ttlMs === null ? null : createdAt + request.ttlMs,
      dataShards: k,
      parityShards: m,
    });
    inFlight.add(fileId);
    if (link.miners().length === 0) await refresh();
    const abort = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
    const leaves: LeafEntry[] = [];
    const nodes: { cid: string; bytes: Uint8Array }[] = [];
    let stripe: Uint8Array[] = [];
    let stripes = 0;
    // The stripe being stored while the next one is read: at most two in memory.
    let storing: Promise<void> = Promise.resolve();
    /** The first stripe's failure: the put's error, rather than the abort it causes in the import. */
    let stripeError: unknown;
    const flush = async () => {
      const data = stripe;
      stripe = [];
      // One stripe stored at a time: its placement reads the miners' room, which the previous
      // stripe's pieces take as they are stored, so planning it earlier made where it went depend
      // on how far the previous one had got.
      await storing;
      storing = storeStripe(fileId, stripes++, data, signal);
      storing.catch((error: unknown) => {
        stripeError ??= error;
        abort.abort(error);
      });
    };
    const addLeaf = async (bytes: Uint8Array) => {
      leaves.push({ cid: leafCid(bytes).toString(), size: bytes.length });
      stripe.push(bytes);
      if (stripe.length === k) await flush();
    };
    async function* source(): AsyncGenerator<Uint8Array> {
      let leaf = new Uint8Array(CHUNK_BYTES);
      let filled = 0;
      let consumed = 0;
      for await (const chunk of body) {
        signal.throwIfAborted();
        consumed += chunk.length;
        if (consumed > request.size) throw new StorageError("the body is longer than its declared size");
        options.onProgress?.(consumed);
        yield chunk;
        for (let at = 0; at < chunk.length; ) {
          const n = Math.min(chunk.length - at, CHUNK_BYTES - filled);
          leaf.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled === CHUNK_BYTES) {
            await addLeaf(leaf);
            leaf = new Uint8Array(CHUNK_BYTES);
            filled = 0;
          }
        }
      }
      if (filled > 0) await addLeaf(leaf.subarray(0, filled));
    }
    try {
      const root = await importFile(source(), {
        onBlock: (cid, bytes) => {
          if (cid.code === dagPb.code) nodes.push({ cid: cid.toString(), bytes });
        },
      });
      if (stripe.length > 0) await flush();
      await storing;
      signal.throwIfAborted();
      await options.beforeCommit?.();
      db.files.commitFile(fileId, { cid: root.toString(), stripes, leaves, nodes });
      inFlight.delete(fileId);
      const file = db.files.file(fileId) as FileRecord;
      log.info("file stored", { cid: file.cid, size: file.size, stripes, owner: file.owner });
      return toInfo(file);
    } catch (error) {
      abort.abort();
      await storing.catch(() => undefined);
      db.files.deleteFile(fileId);
      inFlight.delete(fileId);
      throw stripeError ?? error;
    }
  }

  const stripeReader: StripeReader = {
    async shards(file, stripe, wanted, options) {
      const dataShards = stripeDataShards(file, stripe);
      const leaves = db.files.leaves(
        file.id,
        stripe * file.dataShards,
        stripe * file.dataShards + dataShards,
      );
      const padded = Math.max(...leaves.map((l) => l.size));
      const pieces = db.files
        .stripePieces(file.id, stripe)
        .filter((p) => p.root !== null && p.state !== "pending")
        // Good pieces first, data shards first (no decoding when they all come).
        .sort((a, b) => Number(a.state === "lost") - Number(b.state === "lost") || a.shard - b.shard);
      const got = new Map<number, Uint8Array>();
      const fetchOne = async (piece: PieceRecord) => {
        if (got.has(piece.shard)) return;
        try {
          const leaf = piece.shard < dataShards ? leaves[piece.shard] : undefined;
          const cid = leaf === undefined ? undefined : CID.parse(leaf.cid);
          const bytes = await transfer.fetch(
            piece,
            options.signal,
            leaf === undefined || cid === undefined
              ? undefined
              : (data) => data.length === leaf.size && leafCid(data).equals(cid),
          );
          await options.onBytes?.(bytes.length);
          const expected = piece.shard < dataShards ? (leaves[piece.shard]?.size ?? 0) : padded;
          if (bytes.length !== expected) return;
          got.set(piece.shard, bytes);
        } catch (error) {
          if (options.signal?.aborted) throw error;
          log.debug("a piece could not be fetched", { miner: piece.minerId, error: String(error) });
        }
      };
      // Wanted data shards first; when all come back, nothing is decoded.
      const direct = pieces.filter((p) => wanted.includes(p.shard));
      await Promise.all(direct.map(fetchOne));
      if (wanted.every((shard) => got.has(shard)))
        return new Map(wanted.map((s) => [s, got.get(s) as Uint8Array]));
      // Then enough others to decode, k' at a time.
      const rest = pieces.filter((p) => !wanted.includes(p.shard));
      for (let at = 0; got.size < dataShards && at < rest.length; ) {
        const batch = rest.slice(at, at + dataShards - got.size);
        at += batch.length;
        await Promise.all(batch.map(fetchOne));
      }
      if (got.size < dataShards)
        throw new FileUnavailableError(
          `stripe ${stripe} of ${file.cid}: only ${got.size} of ${dataShards} pieces`,
        );
      const slots: (Uint8Array | undefined)[] = Array.from(
        { length: dataShards + file.parityShards },
        (_, shard) => {
          const bytes = got.get(shard);
          if (bytes === undefined || bytes.length === padded) return bytes;
          const out = new Uint8Array(padded);
          out.set(bytes);
          return out;
        },
      );
      const rebuilt = coderFor(dataShards).reconstruct(slots, wanted);
      const out = new Map<number, Uint8Array>();
      for (const shard of wanted) {
        const bytes = got.get(shard) ?? (rebuilt.get(shard) as Uint8Array);
        out.set(shard, shard < dataShards ? bytes.subarray(0, leaves[shard]?.size ?? 0) : bytes);
      }
      return out;
    },
  };

  /** A leaf's bytes, verified against its CID; rebuilt from the stripe when its piece fails. */
  async function fetchLeaf(file: FileRecord, index: number, signal?: AbortSignal): Promise<Uint8Array> {
    const leaf = db.files.leaf(file.id, index);
    if (leaf === undefined) throw new FileUnavailableError(`leaf ${index} of ${file.cid} is not indexed`);
    const stripe = Math.floor(index / file.dataShards);
    const shard = index % file.dataShards;
    const bytes = (await stripeReader.shards(file, stripe, [shard], signal ? { signal } : {})).get(shard);
    if (bytes === undefined || !leafCid(bytes).equals(CID.parse(leaf.cid)))
      throw new FileUnavailableError(`leaf ${index} of ${file.cid} cannot be rebuilt`);
    return bytes;
  }

  function blockFetcher(file: FileRecord) {
    return async (cid: CID, options: { signal?: AbortSignal }): Promise<Uint8Array> => {
      const text = cid.toString();
      if (cid.code === dagPb.code) {
        const node = db.files.dagNode(file.id, text);
        if (node === undefined) throw new FileUnavailableError(`node ${text} of ${file.cid} is not kept`);
        return node;
      }
      if (file.size === 0) return new Uint8Array(0);
      const leaf = db.files.leafByCid(file.id, text);
      if (leaf === undefined) throw new FileUnavailableError(`block ${text} is not in ${file.cid}`);
      return fetchLeaf(file, leaf.index, options.signal);
    };
  }

  function visible(cid: string, requester: Requester): FileRecord | undefined {
    return db.files.visibleFile(cid, requester, now());
  }

  async function* read(
    cid: string,
    requester: Requester,
    options: ReadOptions = {},
  ): AsyncGenerator<Uint8Array> {
    const file = visible(cid, requester);
    if (file === undefined) throw new FileNotFoundError(`no file ${cid}`);
    const root = CID.parse(cid);
    const signal = options.signal ? { signal: options.signal } : {};
    const range = options.range;
    if (range !== undefined) {
      const { offset, length } = range;
      if (
        !Number.isSafeInteger(offset) ||
        !Number.isSafeInteger(length) ||
        offset < 0 ||
        length < 0 ||
        offset + length > file.size ||
        (offset >= file.size && length > 0)
      )
        throw new RangeNotSatisfiableError(`bytes ${offset}+${length} are outside the file`, file.size);
      if (length === 0) return;
      yield* readRange(root, offset, length, blockFetcher(file), signal);
      return;
    }
    yield* readFile(root, blockFetcher(file), signal);
  }

  const repairer = createRepairer({
    db,
    link,
    settings: {
      offlineGraceMs: settings.offlineGraceMs,
      repairBandwidth: settings.repairBandwidth,
      ...(settings.repairThreshold === undefined ? {} : { repairThreshold: settings.repairThreshold }),
    },
    log,
    now,
    ...(init.sleep ? { sleep: init.sleep } : {}),
    reader: stripeReader,
    place: async (file, stripe, shard, bytes, holders, signal) => {
      const failed = new Set<number>(holders.map((h) => h.id));
      for (let attempt = 0; attempt < STORE_ATTEMPTS; attempt++) {
        const ordered = breakTies(candidates(failed), sameRank, `${file.id}/${stripe}/${shard}`);
        const target = choosePlacement(ordered, 1, { holders })?.[0];
        if (target === undefined) return undefined;
        try {
          return await transfer.store(target.id, { fileId: file.id, stripe, shard }, bytes, signal);
        } catch (error) {
          if (!(error instanceof PieceTransferError)) throw error;
          failed.add(target.id);
        }
      }
      return undefined;
    },
  });

  async function refresh(): Promise<void> {
    try {
      await link.refresh();
    } catch (error) {
      log.warn("storage: the metagraph could not be read", { error: String(error) });
    }
  }

  /** Frees puts and repairs a crash interrupted: only safe when none of ours is in flight. */
  function freeOrphans(): void {
    for (const fileId of db.files.pendingFiles()) if (!inFlight.has(fileId)) db.files.deleteFile(fileId);
    db.files.freePieces(db.files.orphanRepairPieces());
  }

  function expire(): number {
    const expired = db.files.expiredFiles(now(), EXPIRED_PER_PASS);
    for (const fileId of expired) db.files.deleteFile(fileId);
    if (expired.length > 0) log.info("files expired", { files: expired.length });
    return expired.length;
  }

  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let pass: Promise<unknown> = Promise.resolve();

  async function maintain(): Promise<RepairReport> {
    expire();
    return repairer.repair();
  }

  function schedule(): void {
    if (!running) return;
    timer = setTimeout(() => {
      pass = maintain()
        .catch((error: unknown) => log.warn("storage maintenance failed", { error: String(error) }))
        .finally(schedule);
    }, settings.maintenanceIntervalMs ?? MAINTENANCE_INTERVAL_MS);
  }

  return {
    put,
    stat(cid, requester) {
      const file = visible(cid, requester);
      return file === undefined ? undefined : toInfo(file);
    },
    read,
    async block(cid, requester, options = {}) {
      let parsed: CID;
      try {
        parsed = CID.parse(cid);
      } catch {
        return undefined;
      }
      const text = parsed.toString();
      const files = db.files
        .filesWithBlock(text)
        .map((id) => db.files.file(id))
        .filter((f): f is FileRecord => f?.cid != null && visible(f.cid, requester)?.id === f.id);
      const file = files[0] ?? visible(text, requester);
      if (file === undefined) return undefined;
      return blockFetcher(file)(parsed, options);
    },
    list: (owner) => db.files.filesOf(owner, now()).map(toInfo),
    status(cid, requester) {
      const file = visible(cid, requester);
      if (file === undefined) return undefined;
      const stripes = stripesOf(file);
      const pendingRepair = stripes.reduce((sum, s) => sum + s.lost, 0);
      const status: FileStatus = {
        ...toInfo(file),
        stripesDetail: stripes.map(({ index, dataShards, pieces, margin }) => ({
          index,
          dataShards,
          pieces,
          margin,
        })),
        health: stripes.length === 0 ? file.parityShards : Math.min(...stripes.map((s) => s.margin)),
        pieces: {
          total: stripes.reduce((sum, s) => sum + s.pieces.length, 0),
          lost: pendingRepair,
          repaired: stripes.reduce((sum, s) => sum + s.repaired, 0),
          pendingRepair,
        },
      };
      return status;
    },
    remove(cid, owner) {
      const file = db.files.visibleFile(cid, owner, now());
      if (file === undefined || file.owner !== owner) return false;
      return db.files.deleteFile(file.id);
    },
    usage: (owner) => db.files.usage(owner, now()),
    async start() {
      freeOrphans();
      await refresh();
      expire();
      running = true;
      if (settings.autoMaintain !== false) schedule();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      await pass;
      await repairer.stop();
    },
    repairNow: () => repairer.repair(),
    maintain,
  };
}
