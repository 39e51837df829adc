/**
 * Repair: finds lost pieces and rebuilds them elsewhere. A piece is lost when its miner left the
 * metagraph, stayed unreachable longer than the grace period, failed a challenge on the piece's
 * chunk (the validator marks it), or reported the chunk evicted. Stripes are repaired most
 * endangered first (the fewest spare pieces), once a stripe has at most k + `repairThreshold`
 * pieces left (default m − 1: any loss), reading from miners at most `repairBandwidth`
 * bytes per second; each rebuilt piece goes to a miner not holding the stripe, on a coldkey (then
 * an IP) the stripe does not use yet when one exists.
 */
import { type Logger, silentLogger } from "../../logger.js";
import type { ValidatorDb } from "../validator-db.js";
import { createByteThrottle } from "./byte-throttle.js";
import type { FileRecord } from "./file-index.js";
import type { MinerLink } from "./miner-link.js";
import type { PlacementCandidate } from "./placement.js";
import type { StripeReader } from "./storage.js";

/** Stripes looked at per repair pass at most (the rest wait for the next pass). */
export const STRIPES_PER_PASS = 256;

export interface RepairReport {
  /** Pieces newly marked lost this pass. */
  marked: number;
  /** Pieces rebuilt and placed. */
  repaired: number;
  /** Lost pieces that could not be repaired this pass (no room, too few pieces to rebuild from). */
  failed: number;
}

export interface Repairer {
  repair(): Promise<RepairReport>;
  stop(): Promise<void>;
}

export function createRepairer(init: {
  db: ValidatorDb;
  link: MinerLink;
  /** `repairThreshold`: rebuild a stripe once at most k + r pieces are left (default and cap m − 1). */
  settings: { offlineGraceMs: number; repairBandwidth: number; repairThreshold?: number };
  reader: StripeReader;
  /** Stores a rebuilt piece on a miner other than `holders`; its new piece id, or undefined. */
  place: (
    file: FileRecord,
    stripe: number,
    shard: number,
    bytes: Uint8Array,
    holders: PlacementCandidate[],
    signal: AbortSignal,
  ) => Promise<number | undefined>;
  log?: Logger;
  now: () => number;
  /** Waits for the bandwidth bound (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
}): Repairer {
  const { db, link, settings, reader, now } = init;
  const log = init.log ?? silentLogger();
  let stopping = new AbortController();
  let running: Promise<RepairReport> | undefined;
  const throttle = createByteThrottle({
    bytesPerSecond: settings.repairBandwidth,
    now,
    ...(init.sleep ? { sleep: init.sleep } : {}),
  });

  async function markLost(): Promise<number> {
    try {
      await link.refresh();
    } catch (error) {
      log.warn("repair: the metagraph could not be read", { error: String(error) });
      return db.files.markEvictedLost();
    }
    const registered = new Set(link.miners().map((miner) => miner.id));
    let marked = db.files.markEvictedLost();
    for (const minerId of db.files.minersHoldingPieces()) {
      const since = link.unreachableSince(minerId);
      if (!registered.has(minerId)) marked += db.files.markMinerLost(minerId);
      else if (since !== undefined && now() - since >= settings.offlineGraceMs)
        marked += db.files.markMinerLost(minerId);
    }
    return marked;
  }

  async function pass(): Promise<RepairReport> {
    const signal = stopping.signal;
    const report: RepairReport = { marked: await markLost(), repaired: 0, failed: 0 };
    const miners = new Map(link.miners().map((miner) => [miner.id, miner]));
    for (const { fileId, stripe } of db.files.endangeredStripes(STRIPES_PER_PASS)) {
      if (signal.aborted) break;
      const file = db.files.file(fileId);
      if (file === undefined || file.state !== "stored") continue;
      const pieces = db.files.stripePieces(fileId, stripe);
      const lost = pieces.filter((p) => p.state === "lost");
      // Below the threshold the stripe waits: its lost pieces stay lost (not a failure).
      const spare = Math.min(settings.repairThreshold ?? file.parityShards, file.parityShards - 1);
      if (pieces.length - lost.length > file.dataShards + Math.max(0, spare)) continue;
      const holders = pieces
        .filter((p) => p.state !== "lost")
        .map((p) => {
          const miner = miners.get(p.minerId);
          return { id: p.minerId, coldkey: miner?.coldkey ?? null, ip: miner?.ip ?? null };
        });
      // The lost pieces' miners get nothing back either.
      const excluded = [...holders, ...lost.map((p) => ({ id: p.minerId, coldkey: null, ip: null }))];
      let shards: Map<number, Uint8Array>;
      try {
        shards = await reader.shards(
          file,
          stripe,
          lost.map((p) => p.shard),
          { signal, onBytes: throttle },
        );
      } catch (error) {
        if (signal.aborted) break;
        log.warn("repair: a stripe cannot be rebuilt now", { cid: file.cid, stripe, error: String(error) });
        report.failed += lost.length;
        continue;
      }
      for (const piece of lost) {
        const bytes = shards.get(piece.shard);
        const placed =
          bytes === undefined
            ? undefined
            : await init.place(file, stripe, piece.shard, bytes, excluded, signal);
        if (placed === undefined) {
          report.failed++;
          continue;
        }
        db.files.completeRepair(piece.id, placed);
        const target = miners.get(db.files.piece(placed)?.minerId ?? -1);
        excluded.push({ id: target?.id ?? -1, coldkey: target?.coldkey ?? null, ip: target?.ip ?? null });
        report.repaired++;
      }
    }
    if (report.marked > 0 || report.repaired > 0 || report.failed > 0) log.info("repair pass", { ...report });
    return report;
  }

  return {
    repair() {
      // One pass at a time: a second caller waits for the pass under way, then runs its own.
      const previous = running ?? Promise.resolve(undefined);
      const next = previous.catch(() => undefined).then(pass);
      running = next;
      return next;
    },
    async stop() {
      stopping.abort();
      await running?.catch(() => undefined);
      stopping = new AbortController();
    },
  };
}
