/**
 * The miner's view of the subnet: the metagraph is re-read every interval; each read updates the
 * validators allowed to make requests (hotkeys with a validator permit) and rebalances their
 * budgets by stake. A failed read is retried with backoff while serving goes on with the last
 * known set. A validator that drops out keeps its chunks for the grace period (partition.ts).
 */
import type { ChainClient, Metagraph } from "../../chain/client.js";
import type { Logger } from "../logger.js";
import type { StoreManager, ValidatorStake } from "./partition.js";

/** Default time between metagraph reads (five 12 s blocks). */
export const DEFAULT_METAGRAPH_INTERVAL_MS = 60_000;

/** A metagraph read that takes longer is abandoned and retried (the chain may be unreachable). */
const METAGRAPH_TIMEOUT_MS = 60_000;

/** First retry delay after a failed read; it doubles up to the interval. */
const FIRST_BACKOFF_MS = 1_000;

export interface MetagraphSyncInit {
  chain: ChainClient;
  netuid: number;
  /** The miner's own hotkey (ss58), to warn when it is no longer registered. */
  hotkey: string;
  /** The stores to rebalance; throws when the miner is not started. */
  stores: () => StoreManager;
  /** Told about chunks evicted by a rebalance (to drop their cached trees). */
  onEvicted: (validator: string, chunkIndices: readonly number[]) => void;
  /** Runs after each successful scheduled read (maintenance, a retried announcement). */
  afterRefresh: () => Promise<void>;
  intervalMs?: number;
  log: Logger;
}

export interface MetagraphSync {
  /** Hotkeys allowed to make requests, with their stake (rao). */
  readonly validators: ReadonlyMap<string, bigint>;
  /** The axon IPs those validators serve (for connection admission); 0.0.0.0 is left out. */
  readonly validatorIps: ReadonlySet<string>;
  /** Reads the metagraph now and rebalances; a caller arriving mid-read waits and reads again. */
  refresh(): Promise<void>;
  /** Starts reading every interval (the first read after one interval). */
  start(): void;
  /** Stops the schedule and waits for a read in flight. */
  stop(): Promise<void>;
}

/**
 * @example
 * const sync = createMetagraphSync({ chain, netuid, hotkey: pair.address, stores: () => stores, … });
 * await sync.refresh();
 * sync.start();
 */
export function createMetagraphSync(init: MetagraphSyncInit): MetagraphSync {
  const { chain, netuid, hotkey, log } = init;
  const intervalMs = init.intervalMs ?? DEFAULT_METAGRAPH_INTERVAL_MS;
  let validators = new Map<string, bigint>();
  let validatorIps = new Set<string>();
  let inGrace = new Set<string>();
  let refreshing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function refresh(): Promise<void> {
    while (refreshing) await refreshing.catch(() => undefined);
    refreshing = read();
    try {
      await refreshing;
    } finally {
      refreshing = undefined;
    }
  }

  async function read(): Promise<void> {
    const stores = init.stores();
    const graph: Metagraph = await chain.metagraph(netuid, {
      signal: AbortSignal.timeout(METAGRAPH_TIMEOUT_MS),
    });
    const next = new Map<string, bigint>();
    const nextIps = new Set<string>();
    graph.hotkeys.forEach((h, uid) => {
      if (graph.validatorPermit[uid] !== true) return;
      next.set(h, graph.stake[uid] ?? 0n);
      const ip = graph.axons[uid]?.ip;
      if (ip !== undefined && ip !== "0.0.0.0" && ip !== "::") nextIps.add(ip);
    });
    if (!graph.hotkeys.includes(hotkey)) {
      log.warn("this miner's hotkey is no longer registered on the subnet", { hotkey, netuid });
    }
    if (next.size === 0 && validators.size > 0) {
      // Rebalancing to nobody would evict every store; a permit-less metagraph is more likely a
      // transient state of the chain than every validator leaving at once.
      log.warn("the metagraph lists no validator with a permit; keeping the last known set", {
        block: graph.block,
        validators: validators.size,
      });
      return;
    }
    const changed = next.size !== validators.size || [...next].some(([h, s]) => validators.get(h) !== s);
    validators = next;
    validatorIps = nextIps;
    const list: ValidatorStake[] = [...next].map(([h, stake]) => ({ hotkey: h, stake }));
    const report = stores.rebalance(list);
    for (const [h, since] of report.inGrace) {
      // Once per absence: the first read that misses the validator.
      if (!inGrace.has(h)) {
        log.warn("a validator left the metagraph or lost its permit; its chunks stay for the grace period", {
          validator: h,
          since: new Date(since).toISOString(),
        });
      }
    }
    inGrace = new Set(report.inGrace.keys());
    for (const [h, evicted] of report.evicted) {
      init.onEvicted(h, evicted);
      log.info("evicted chunks over budget", { validator: h, count: evicted.length });
    }
    const budgets = report.budgets.map((b) => ({
      validator: b.hotkey,
      stake: String(b.stake),
      chunks: b.chunks,
      bytes: b.bytes,
    }));
    (changed ? log.info : log.debug)("budgets", {
      block: graph.block,
      validators: next.size,
      totalBytes: report.totalBytes,
      freeBytes: report.freeBytes,
      budgets,
    });
  }

  function schedule(delayMs: number, backoffMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      refresh().then(
        async () => {
          await init.afterRefresh();
          schedule(intervalMs, FIRST_BACKOFF_MS);
        },
        (error: unknown) => {
          log.warn("metagraph read failed; serving with the last known validators", {
            error,
            retryInMs: backoffMs,
          });
          schedule(backoffMs, Math.min(backoffMs * 2, intervalMs));
        },
      );
    }, delayMs);
    timer.unref?.();
  }

  return {
    get validators() {
      return validators;
    },
    get validatorIps() {
      return validatorIps;
    },
    refresh,
    start() {
      stopped = false;
      schedule(intervalMs, FIRST_BACKOFF_MS);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await refreshing?.catch(() => undefined);
    },
  };
}
