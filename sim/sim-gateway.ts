/**
 * The storage validator's gateway as the simulator runs it: the production storage service
 * (neurons/validator/storage/storage.ts) over the validator's own `link`, and the production
 * gateway HTTP server on 127.0.0.1 (port 0), so the simulator's clients go through the same typed
 * client API and HTTP requests as a user's. Two things differ from a validator started by its CLI,
 * both for reproducibility:
 * - Maintenance (expiry and repair) runs when the simulator says, once per tempo, never on a timer.
 * - The service's clock is the wall clock plus simulated time: each tempo moves it on by a tempo's
 *   worth of seconds, so the offline grace and TTLs count in tempos, not in the seconds a tempo
 *   happens to take on this machine.
 * It also counts the bytes that repair moves (pieces read and stored while maintenance runs), and
 * how many tempos each rebuilt piece waited (see {@link GatewayTick.repairTempos}).
 */
import type { KeyringPair } from "@polkadot/keyring/types";
import { defaultsOf, validatorConfigSchema } from "../neurons/config.js";
import type { Logger } from "../neurons/logger.js";
import { createMetricsRegistry } from "../neurons/metrics.js";
import { createGatewayServer, type GatewayServer } from "../neurons/validator/api/gateway-server.js";
import { gatewaySettingsFrom } from "../neurons/validator/api/gateway-settings.js";
import type { MinerLink } from "../neurons/validator/storage/miner-link.js";
import { createStorageService, type StorageServiceImpl } from "../neurons/validator/storage/storage.js";
import type { ValidatorDb } from "../neurons/validator/validator-db.js";

/** The storage settings of the simulator's gateway (plain data: crosses to a node process). */
export interface GatewaySpec {
  dataShards: number;
  parityShards: number;
  repairBandwidth: number;
  offlineGraceMs: number;
  /** api.repair_threshold: rebuild a stripe once at most k + this many pieces are left; absent: any loss. */
  repairThreshold?: number;
  /** Whether maintenance rebuilds lost pieces; false leaves them lost. */
  repair: boolean;
  /** Whether pieces fetched for reads and repair count in the miners' scores (api.score_retrievals). */
  scoreRetrievals: boolean;
}

/** What one tempo's maintenance did. */
export interface GatewayTick {
  /**
   * Pieces marked lost since the previous tick, up to and including this tick's repair pass, by
   * every mark (a challenge or read that found a piece gone or wrong, an eviction report, a miner
   * gone or offline past its grace), each piece once: the pieces this pass had to rebuild.
   */
  marked: number;
  /** Pieces rebuilt, and left unrepaired (no room, or too few pieces left). */
  repaired: number;
  failed: number;
  /** Bytes repair read from miners and stored on them. */
  repairBytes: number;
  /**
   * Time to repair of the pieces this pass rebuilt, in tempos: for each, the ticks between the
   * first pass that found it lost and this one (0: rebuilt by the first pass after its mark, the
   * pass's own marks included). Mean and max are 0 when `count` is 0. Simulated time only, so the
   * figures are the same for a seed however long a tempo takes on this machine.
   */
  repairTempos: RepairTempos;
}

/** How long the pieces rebuilt in one pass waited, in tempos. */
export interface RepairTempos {
  count: number;
  mean: number;
  max: number;
}

/** Pieces rebuilt by nothing: no wait to report. */
const NO_REPAIR_TEMPOS: RepairTempos = { count: 0, mean: 0, max: 0 };

/**
 * Remembers, for each piece the file index holds as lost, the tick it was first seen lost at, and
 * after a repair pass tells which of them the pass rebuilt and how long each waited.
 *
 * A remembered piece whose row is gone counts as rebuilt only when its stripe now has an `ok`
 * piece in its shard (repair's `completeRepair` freed the lost row and made the new piece ok): a
 * piece that went with its file (removed, expired) leaves no such piece and is only forgotten.
 * Pieces the pass marked and rebuilt itself were never seen lost; they are the pass's rebuilt
 * count less the remembered ones, each with a wait of 0.
 *
 * @example
 * const waits = createRepairWaits(db.files);
 * waits.see(tick);
 * const report = await storage.maintain();
 * const tempos = waits.rebuilt(tick, report.repaired);
 */
export function createRepairWaits(files: ValidatorDb["files"]): {
  see(tick: number): void;
  rebuilt(tick: number, repaired: number): RepairTempos;
} {
  const firstSeen = new Map<number, { tick: number; fileId: number; stripe: number; shard: number }>();
  const see = (tick: number) => {
    for (const p of files.lostPieces())
      if (!firstSeen.has(p.id))
        firstSeen.set(p.id, { tick, fileId: p.fileId, stripe: p.stripe, shard: p.shard });
  };
  return {
    see,
    rebuilt(tick, repaired) {
      const stillLost = new Set(files.lostPieces().map((p) => p.id));
      const waits: number[] = [];
      for (const [id, seen] of firstSeen) {
        if (stillLost.has(id)) continue;
        firstSeen.delete(id);
        const rebuilt = files
          .stripePieces(seen.fileId, seen.stripe)
          .some((p) => p.shard === seen.shard && p.state === "ok");
        if (rebuilt) waits.push(tick - seen.tick);
      }
      for (let i = waits.length; i < repaired; i++) waits.push(0);
      // What this pass marked and could not rebuild waits from this tick on.
      see(tick);
      if (waits.length === 0) return NO_REPAIR_TEMPOS;
      return {
        count: waits.length,
        mean: waits.reduce((a, w) => a + w, 0) / waits.length,
        max: Math.max(...waits),
      };
    },
  };
}

export interface SimGateway {
  readonly url: string;
  /** Moves the service's clock on by `advanceMs` and runs expiry and (when on) repair. */
  tick(advanceMs: number): Promise<GatewayTick>;
  /** Stops the HTTP server and the service and starts both again on the same database (a new port). */
  restart(): Promise<string>;
  close(): Promise<void>;
}

/** Gateway limits for a simulated workload: no client is ever rate limited or over quota. */
const SIM_API = {
  "api.rate": 100_000,
  "api.quota_bytes": 2 ** 40,
  "api.quota_files": 1_000_000,
} as const;

/**
 * Wraps `link` so every piece stored or retrieved while `counting()` adds its bytes to `add`, and
 * a miner's `unreachableSince` (the validator's wall clock) reads on the service's clock
 * (`toServiceTime`), so the offline grace counts the tempos since, not the seconds.
 */
function countingLink(
  link: MinerLink,
  counting: () => boolean,
  add: (bytes: number) => void,
  toServiceTime: (wallMs: number) => number,
): MinerLink {
  return {
    get storeId() {
      return link.storeId;
    },
    get chunkSize() {
      return link.chunkSize;
    },
    get leafSize() {
      return link.leafSize;
    },
    miners: () => link.miners(),
    refresh: () => link.refresh(),
    budget: (minerId) => link.budget(minerId),
    prepare: (minerId, options) => link.prepare(minerId, options),
    async send(minerId, body, options) {
      const reply = await link.send(minerId, body, options);
      if (counting()) {
        if (body.type === "store") add(body.data.byteLength);
        if (reply.type === "retrieve-reply") add(reply.data.byteLength);
      }
      return reply;
    },
    unreachableSince(minerId) {
      const since = link.unreachableSince(minerId);
      return since === undefined ? undefined : toServiceTime(since);
    },
    recordRetrieval: (minerId, outcome) => link.recordRetrieval(minerId, outcome),
  };
}

/**
 * Starts the storage service and its gateway for a simulated validator.
 *
 * @example
 * const gateway = await startSimGateway({ db, link: validator.link, hotkey, netuid, chunkSize, spec, log });
 * const client = createStorageClient({ gateway: gateway.url, hotkey: user });
 */
export async function startSimGateway(init: {
  db: ValidatorDb;
  link: MinerLink;
  hotkey: KeyringPair;
  netuid: number;
  chunkSize: number;
  spec: GatewaySpec;
  log: Logger;
}): Promise<SimGateway> {
  const { spec } = init;
  let skew = 0;
  /** Each tick's wall-clock time and the skew from then on: the service time of a past wall time. */
  const ticks: { wallMs: number; skew: number }[] = [];
  const skewAt = (wallMs: number) => {
    let at = 0;
    for (const tick of ticks) if (tick.wallMs <= wallMs) at = tick.skew;
    return at;
  };
  let maintaining = false;
  let repairBytes = 0;
  /** Ticks so far: the simulated clock time to repair counts in. */
  let tickCount = 0;
  const waits = createRepairWaits(init.db.files);
  /** The file index's count of pieces marked lost at the previous tick. */
  let markedBefore = init.db.files.markedLostTotal();
  const markedSince = () => {
    const total = init.db.files.markedLostTotal();
    const marked = total - markedBefore;
    markedBefore = total;
    return marked;
  };
  const link = countingLink(
    init.link,
    () => maintaining,
    (n) => {
      repairBytes += n;
    },
    (wallMs) => wallMs + skewAt(wallMs),
  );
  const config = {
    ...defaultsOf(validatorConfigSchema),
    ...SIM_API,
    "api.data_shards": spec.dataShards,
    "api.parity_shards": spec.parityShards,
    "api.score_retrievals": spec.scoreRetrievals,
  };

  const startBoth = async (): Promise<{
    storage: StorageServiceImpl;
    server: GatewayServer;
    url: string;
  }> => {
    const metrics = createMetricsRegistry();
    const storage = createStorageService({
      db: init.db,
      link,
      settings: {
        dataShards: spec.dataShards,
        parityShards: spec.parityShards,
        repairBandwidth: spec.repairBandwidth,
        offlineGraceMs: spec.offlineGraceMs,
        ...(spec.repairThreshold === undefined ? {} : { repairThreshold: spec.repairThreshold }),
        chunkSize: init.chunkSize,
        autoMaintain: false,
        scoreRetrievals: spec.scoreRetrievals,
      },
      log: init.log,
      metrics,
      now: () => Date.now() + skew,
    });
    await storage.start();
    const server = createGatewayServer({
      service: storage,
      hotkey: init.hotkey,
      netuid: init.netuid,
      settings: gatewaySettingsFrom(config),
      log: init.log,
      metrics,
    });
    const { url } = await server.listen(0, "127.0.0.1");
    return { storage, server, url };
  };

  let running = await startBoth();
  const stopBoth = async () => {
    await running.server.close().catch(() => undefined);
    await running.storage.stop().catch(() => undefined);
  };

  return {
    get url() {
      return running.url;
    },
    async tick(advanceMs) {
      skew += advanceMs;
      ticks.push({ wallMs: Date.now(), skew });
      tickCount++;
      if (!spec.repair)
        return {
          marked: markedSince(),
          repaired: 0,
          failed: 0,
          repairBytes: 0,
          repairTempos: NO_REPAIR_TEMPOS,
        };
      maintaining = true;
      repairBytes = 0;
      try {
        waits.see(tickCount);
        const report = await running.storage.maintain();
        const repairTempos = waits.rebuilt(tickCount, report.repaired);
        return { ...report, marked: markedSince(), repairBytes, repairTempos };
      } finally {
        maintaining = false;
      }
    },
    async restart() {
      await stopBoth();
      running = await startBoth();
      return running.url;
    },
    close: stopBoth,
  };
}
