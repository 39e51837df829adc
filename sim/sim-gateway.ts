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
 * It also counts the bytes that repair moves (pieces read and stored while maintenance runs).
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
      if (!spec.repair) return { marked: markedSince(), repaired: 0, failed: 0, repairBytes: 0 };
      maintaining = true;
      repairBytes = 0;
      try {
        const report = await running.storage.maintain();
        return { ...report, marked: markedSince(), repairBytes };
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
