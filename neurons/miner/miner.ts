/**
 * The miner: stores validators' chunks within their stake-weighted budgets and proves it still
 * holds them. One lifecycle (`start` / `stop`); every dependency (chain, hotkey, logger, metrics)
 * arrives as an argument. This file puts the parts together:
 * - request-handler.ts: the answers to signed requests, over libp2p (neurons/p2p/), from hotkeys
 *   that hold a validator permit on the netuid (neurons/auth.ts);
 * - metagraph-sync.ts: the allowed validators and their budgets, re-read every interval;
 * - announce.ts: the axon and commitment on chain;
 * - tree-cache.ts: the Merkle trees of stored chunks; challenge-marks.ts: batched challenge marks;
 * - partition.ts: the per-validator stores and their budgets.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import type { KeyringPair } from "@polkadot/keyring/types";
import { encodeAddress } from "@polkadot/util-crypto";
import type { ChainClient } from "../../chain/client.js";
import { bytesEqual } from "../../protocol/bytes.js";
import { LEAF_SIZE, MAX_FRAME_SIZE } from "../../protocol/constants.js";
import { type Envelope, ErrorCode } from "../../protocol/messages.js";
import { authReady, createRequestSigner, createRequestVerifier, DEFAULT_AUTH_WINDOW_MS } from "../auth.js";
import { NodeError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import { createMetricsRegistry, type MetricsRegistry } from "../metrics.js";
import { type Admission, createAdmission } from "../p2p/admission.js";
import type { AdmissionLimits, PeerLimits } from "../p2p/limits.js";
import { createP2PNode, loadOrCreatePeerKey, PEER_KEY_FILE } from "../p2p/node.js";
import { createFrameServer, createPeerBans, type FrameServer, type SenderVerdict } from "../p2p/server.js";
import { createAnnouncer } from "./announce.js";
import { type ChallengeMarks, createChallengeMarks } from "./challenge-marks.js";
import type { CostBudgetLimits } from "./cost-budget.js";
import { createMetagraphSync } from "./metagraph-sync.js";
import { StoreManager } from "./partition.js";
import { createRequestHandler, type RequestHandler, registerRequestMetrics } from "./request-handler.js";
import { resolveStoreLayout, type StoreLayout } from "./store-layout.js";
import { createTreeCache, DEFAULT_TREE_CACHE_BYTES } from "./tree-cache.js";

/** Room for the envelope and fields around a chunk in a frame. */
const FRAME_OVERHEAD = 64 * 1024;

/** SS58 prefix of hotkeys on subtensor. */
const SS58_FORMAT = 42;

export interface MinerSettings {
  netuid: number;
  /** Root of the miner databases (`<dbRoot>/<netuid>/<hotkey>/`). */
  dbRoot: string;
  chunkSize: number;
  /** Share of (free + used) disk bytes offered. */
  threshold: number;
  /** libp2p listen address; port 0 picks a free one. */
  listen: { ip: string; port: number };
  /** Address published on chain; default: the listen ip, or a non-loopback interface address. */
  externalIp?: string;
  metagraphIntervalMs?: number;
  /** How long a validator gone from the metagraph keeps its chunks (default DEFAULT_VALIDATOR_GRACE_MS). */
  validatorGraceMs?: number;
  /** Serve the axon and the commitment on start (skipped when the chain already has them). Default true. */
  announce?: boolean;
  limits?: Partial<PeerLimits>;
  /** Who may connect: handshake deadline, caps per IP, validators' reserved share (neurons/p2p/admission.ts). */
  admission?: Partial<AdmissionLimits>;
  /** Accepted clock difference of signed requests. */
  authWindowMs?: number;
  treeCacheBytes?: number;
  /** SQLite page cache of each validator's store (default DEFAULT_STORE_CACHE_BYTES). */
  storeCacheBytes?: number;
  /**
   * Whether stores wait for the disk before a chunk is acknowledged (default true). Not a flag: a
   * miner that acknowledges what a power cut can lose fails its challenges after one. The
   * simulator turns it off (sim/nodes.ts).
   */
  storeFsync?: boolean;
  /** Each validator's cost budget (neurons/miner/cost-budget.ts; default DEFAULT_COST_BUDGET). */
  costBudget?: Partial<CostBudgetLimits>;
}

/**
 * How a miner answers, for experiments: the simulator's adversaries (sim/adversaries.ts) wrap
 * the honest handler to drop data, corrupt proofs, outsource, stall or go silent. Production
 * miners have none.
 */
export interface MinerBehaviour {
  readonly name: string;
  /**
   * Answers one decoded request. `honest` is the miner's own answer (it authenticates); the stores
   * are there for behaviours that change what is kept. Never resolving means never answering.
   */
  handle(
    request: Envelope,
    honest: (request: Envelope) => Envelope,
    stores: StoreManager,
  ): Promise<Envelope> | Envelope;
}

export interface MinerInit {
  settings: MinerSettings;
  /** An experiment's behaviour (see {@link MinerBehaviour}); honest when omitted. */
  behaviour?: MinerBehaviour;
  chain: ChainClient;
  /** The miner's hotkey: names its folder and signs axon and commitment transactions. */
  hotkey: KeyringPair;
  log?: Logger;
  metrics?: MetricsRegistry;
  /** Free bytes of the filesystem holding a folder (tests use a fixed figure). */
  freeBytes?: (dir: string) => number;
  /** Clock in Unix ms. */
  now?: () => number;
}

/** The miner could not start; `message` says what to do. */
export class MinerStartError extends NodeError {
  override name = "MinerStartError";
}

export interface Miner {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The libp2p peer id (after start). */
  readonly peerId: string;
  /** The multiaddr published in the commitment, `/ip4/…/tcp/…/p2p/<peer id>` (after start). */
  readonly announcedAddress: string;
  /** Addresses the host listens on, with /p2p/ (after start). */
  readonly listenAddresses: string[];
  /** True once the axon and commitment on chain match this miner's address (retried every refresh). */
  readonly announced: boolean;
  /** Reads the metagraph now and rebalances (also runs on its own every interval). */
  refreshMetagraph(): Promise<void>;
  /** Hotkeys allowed to make requests, with their stake (rao). */
  readonly validators: ReadonlyMap<string, bigint>;
  /** The store manager (after start), for inspection. */
  readonly stores: StoreManager;
}

/**
 * @example
 * const miner = createMiner({ settings, chain, hotkey, log });
 * await miner.start();
 * process.once("SIGTERM", () => miner.stop());
 */
export function createMiner(init: MinerInit): Miner {
  const { settings, chain, hotkey } = init;
  const log = init.log ?? silentLogger();
  const metrics = init.metrics ?? createMetricsRegistry();
  const now = init.now ?? Date.now;
  const chunkSize = settings.chunkSize;
  const maxFrameSize = Math.max(MAX_FRAME_SIZE, chunkSize + FRAME_OVERHEAD);

  let layout: StoreLayout | undefined;
  let stores: StoreManager | undefined;
  let node: Libp2p | undefined;
  let server: FrameServer | undefined;
  let admission: Admission | undefined;
  let marks: ChallengeMarks | undefined;
  let handler: RequestHandler | undefined;
  const knownStores = new Set<string>();
  const trees = createTreeCache(settings.treeCacheBytes ?? DEFAULT_TREE_CACHE_BYTES, LEAF_SIZE);
  const announcer = createAnnouncer({ chain, hotkey, settings, log });
  const sync = createMetagraphSync({
    chain,
    netuid: settings.netuid,
    hotkey: hotkey.address,
    stores: () => requireStarted().stores,
    onEvicted: (validator, indices) => {
      for (const index of indices) trees.delete(validator, index);
    },
    afterRefresh: async () => {
      admission?.setValidatorIps(sync.validatorIps);
      idleMaintenance();
      if (!announcer.published) await announcer.publish(node);
    },
    ...(settings.metagraphIntervalMs !== undefined ? { intervalMs: settings.metagraphIntervalMs } : {}),
    log,
  });

  // Metrics. Gauges over the stores are read at scrape time.
  const requestMetrics = registerRequestMetrics(metrics);
  const refused = metrics.counter("miner_peers_refused_total", "Streams refused, by reason", {
    labelNames: ["reason"],
  });
  const refusedConnections = metrics.counter(
    "miner_connections_refused_total",
    "Inbound connections refused or closed by admission, by reason",
    { labelNames: ["reason"] },
  );

  // The sender a frame's front claims, judged before its body is read: a permitted validator's
  // hotkey with a timestamp inside the window (the signature is checked once the body is in).
  const windowMs = settings.authWindowMs ?? DEFAULT_AUTH_WINDOW_MS;
  const addresses = new Map<string, string>();
  const checkSender = (sender: Uint8Array, timestamp: number, recipient: Uint8Array): SenderVerdict => {
    const hex = Buffer.from(sender).toString("hex");
    let hotkey = addresses.get(hex);
    if (hotkey === undefined) {
      hotkey = encodeAddress(sender, SS58_FORMAT);
      if (addresses.size >= 10_000) addresses.clear();
      addresses.set(hex, hotkey);
    }
    if (!sync.validators.has(hotkey)) {
      return {
        ok: false,
        code: ErrorCode.Unauthorized,
        reason: `${hotkey} is not a validator with a permit`,
      };
    }
    if (Math.abs(timestamp - now()) > windowMs) {
      return { ok: false, code: ErrorCode.StaleTimestamp, reason: "timestamp outside the window" };
    }
    // A request for another miner is refused before its body is read (a replay across miners).
    if (!bytesEqual(recipient, init.hotkey.publicKey)) {
      return { ok: false, code: ErrorCode.WrongRecipient, reason: "the request is for another miner" };
    }
    return { ok: true, hotkey };
  };
  const byValidator = { labelNames: ["validator"] };
  metrics.gauge(
    "miner_chunks_stored",
    "Chunks held, per validator",
    () => perStore((store) => store.count()),
    byValidator,
  );
  metrics.gauge(
    "miner_stored_bytes",
    "Payload bytes held, per validator",
    () => perStore((store) => store.usedBytes()),
    byValidator,
  );
  metrics.gauge(
    "miner_budget_bytes",
    "Budget per validator",
    () => [...sync.validators.keys()].map((h) => [{ validator: h }, (stores?.budget(h) ?? 0) * chunkSize]),
    byValidator,
  );
  metrics.gauge("miner_validators", "Validators allowed to make requests", () => sync.validators.size);
  metrics.gauge(
    "miner_streams_kept",
    "Session streams kept open between a validator's requests",
    () => server?.keptStreams ?? 0,
  );

  function perStore(
    read: (store: ReturnType<StoreManager["store"]>) => number,
  ): Array<[Record<string, string>, number]> {
    if (stores === undefined) return [];
    const out: Array<[Record<string, string>, number]> = [];
    for (const h of knownStores) out.push([{ validator: h }, read(stores.store(h))]);
    return out;
  }

  function requireStarted(): { stores: StoreManager; layout: StoreLayout } {
    if (stores === undefined || layout === undefined) throw new MinerStartError("the miner is not started");
    return { stores, layout };
  }

  function hasStore(validatorHotkey: string): boolean {
    if (knownStores.has(validatorHotkey)) return true;
    const { layout } = requireStarted();
    if (existsSync(layout.storePath(validatorHotkey))) {
      knownStores.add(validatorHotkey);
      return true;
    }
    return false;
  }

  function idleMaintenance(): void {
    if (stores === undefined || (server?.activeStreams ?? 0) > 0) return;
    try {
      stores.maintain();
    } catch (error) {
      log.warn("store maintenance failed", { error });
    }
  }

  return {
    get peerId() {
      return node?.peerId.toString() ?? "";
    },
    get announcedAddress() {
      return announcer.address;
    },
    get announced() {
      return announcer.published;
    },
    get listenAddresses() {
      return node?.getMultiaddrs().map((a) => a.toString()) ?? [];
    },
    get validators() {
      return sync.validators;
    },
    get stores() {
      return requireStarted().stores;
    },
    refreshMetagraph: () => sync.refresh(),

    async start() {
      await authReady();
      layout = resolveStoreLayout({
        dbRoot: settings.dbRoot,
        netuid: settings.netuid,
        minerHotkey: hotkey.address,
      });
      const started = new StoreManager({
        layout,
        chunkSize,
        threshold: settings.threshold,
        ...(settings.validatorGraceMs !== undefined ? { validatorGraceMs: settings.validatorGraceMs } : {}),
        ...(settings.storeCacheBytes !== undefined ? { storeCacheBytes: settings.storeCacheBytes } : {}),
        ...(settings.storeFsync !== undefined ? { storeFsync: settings.storeFsync } : {}),
        ...(init.freeBytes ? { freeBytes: init.freeBytes } : {}),
        now,
      });
      stores = started;
      marks = createChallengeMarks({
        write: (validator, chunkIndex, at) => started.store(validator).markChallenged(chunkIndex, at),
        log,
      });
      const handle: RequestHandler = createRequestHandler({
        hotkey: createRequestSigner(hotkey),
        ...(settings.costBudget !== undefined ? { costBudget: settings.costBudget } : {}),
        stores: started,
        verifier: createRequestVerifier({
          isAllowed: (h) => sync.validators.has(h),
          recipient: hotkey.publicKey,
          ...(settings.authWindowMs !== undefined ? { windowMs: settings.authWindowMs } : {}),
          now,
        }),
        hasStore,
        onStored: (validator) => knownStores.add(validator),
        trees,
        marks,
        chunkSize,
        maxFrameSize,
        now,
        log,
        metrics: requestMetrics,
      });
      handler = handle;
      try {
        const privateKey = await loadOrCreatePeerKey(join(layout.dir, PEER_KEY_FILE));
        await sync.refresh();
        const bans = createPeerBans();
        admission = createAdmission({
          ...(settings.admission ? { limits: settings.admission } : {}),
          log: log.child({ component: "admission" }),
          onRefused: (reason) => refusedConnections.inc({ reason }),
        });
        admission.setValidatorIps(sync.validatorIps);
        node = await createP2PNode({
          privateKey,
          listen: settings.listen,
          denyPeer: bans.isBanned,
          admission,
        });
        server = createFrameServer({
          node,
          bans,
          admission,
          checkSender,
          log: log.child({ component: "p2p" }),
          handle: async (request, { body }) => {
            const refused = await handle.admit(request, body);
            if (refused !== undefined) return refused;
            // The received body bytes belong to this request only; a behaviour that answers
            // another envelope gets it checked over a fresh encoding.
            const honest = (req: Envelope) => handle.answer(req, req === request ? body : undefined);
            const current = stores;
            const response =
              !init.behaviour || !current || request.body.type === "hello"
                ? honest(request)
                : await init.behaviour.handle(request, honest, current);
            return handle.durable(request, response);
          },
          limits: { maxFrameSize, ...settings.limits },
          maxResponseFrameSize: maxFrameSize,
          onRefused: (kind) => refused.inc({ reason: kind }),
        });
        await server.start();
        await announcer.publish(node);
      } catch (error) {
        await this.stop();
        throw error;
      }
      log.info("miner serving", {
        peerId: node.peerId.toString(),
        announced: announcer.address,
        listen: node.getMultiaddrs().map((a) => a.toString()),
        dir: layout.dir,
        validators: sync.validators.size,
      });
      sync.start();
    },

    async stop() {
      await sync.stop();
      await server?.stop().catch(() => undefined);
      server = undefined;
      try {
        await node?.stop();
      } catch (error) {
        log.warn("libp2p stop failed", { error });
      }
      node = undefined;
      admission?.stop();
      admission = undefined;
      handler?.close();
      handler = undefined;
      marks?.stop();
      marks = undefined;
      stores?.close();
      stores = undefined;
      trees.clear();
      knownStores.clear();
    },
  };
}
