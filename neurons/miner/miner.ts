/**
 * The miner: stores validators' chunks within their stake-weighted budgets and proves it still
 * holds them. One lifecycle (`start` / `stop`); every dependency (chain, hotkey, logger, metrics)
 * arrives as an argument.
 *
 * What it serves, over libp2p (neurons/p2p/), to signed requests from hotkeys that hold a
 * validator permit on the netuid (neurons/auth.ts):
 * - `hello`: the requester's capacity on this miner (budget, used bytes, chunk count);
 * - `store`: into the requester's own store, within its budget; acknowledged with the chunk's
 *   Merkle root only after the write is durable;
 * - `retrieve`, `challenge` (Merkle proofs from the stored bytes), `evictions`.
 * A validator may touch only its own store: the store id must be its hotkey.
 *
 * The metagraph is re-read every `metagraphIntervalMs`; each read updates the allowed validators
 * and rebalances the budgets by stake. A failed read is retried with backoff while serving goes on
 * with the last known set.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { ChainClient, Metagraph } from "../../chain/client.js";
import { ChunkUnavailableError, computeBinding } from "../../protocol/challenge.js";
import { LEAF_SIZE, MAX_FRAME_SIZE, PROTOCOL_VERSION } from "../../protocol/constants.js";
import {
  buildChunkTree,
  LeafIndexError,
  leafAt,
  leafCountFor,
  type MerkleTree,
  proveLeaves,
} from "../../protocol/merkle.js";
import {
  createEnvelope,
  type Envelope,
  ErrorCode,
  MAX_ERROR_MESSAGE_LENGTH,
  type Message,
} from "../../protocol/messages.js";
import type { Challenge, ChallengeResponse, ChunkProof } from "../../protocol/types.js";
import { authReady, createRequestVerifier, type RequestVerifier } from "../auth.js";
import { type Logger, silentLogger } from "../logger.js";
import { createMetricsRegistry, type MetricsRegistry } from "../metrics.js";
import { createP2PNode, loadOrCreatePeerKey, PEER_KEY_FILE } from "../p2p/node.js";
import { createFrameServer, createPeerBans, type FrameServer, type PeerLimits } from "../p2p/server.js";
import { ChunkStoreError } from "./chunk-store.js";
import { BudgetExceededError, StoreManager, type ValidatorStake } from "./partition.js";
import { resolveStoreLayout, type StoreLayout } from "./store-layout.js";

/** Software version in `hello` replies. */
export const MINER_SOFTWARE_VERSION = "storage-subnet-miner/0.1.0";

/** Default time between metagraph reads (five 12 s blocks). */
export const DEFAULT_METAGRAPH_INTERVAL_MS = 60_000;

/** Merkle trees kept in memory, in bytes (a 1 MiB chunk's tree is 64 KiB: ~1000 trees). */
export const DEFAULT_TREE_CACHE_BYTES = 64 << 20;

/** Chunks one challenge may name; each costs a chunk read and possibly a tree build. */
export const MAX_CHALLENGED_CHUNKS = 64;

/** A metagraph read that takes longer is abandoned and retried (the chain may be unreachable). */
const METAGRAPH_TIMEOUT_MS = 60_000;

/** Delay before challenge marks are written (they only order evictions). */
const MARK_FLUSH_DELAY_MS = 1_000;

/** Room for the envelope and fields around a chunk in a frame. */
const FRAME_OVERHEAD = 64 * 1024;

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
  /** Serve the axon and the commitment on start (skipped when the chain already has them). Default true. */
  announce?: boolean;
  limits?: Partial<PeerLimits>;
  /** Accepted clock difference of signed requests. */
  authWindowMs?: number;
  treeCacheBytes?: number;
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
export class MinerStartError extends Error {
  override readonly name = "MinerStartError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
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
  const leafSize = LEAF_SIZE;
  const chunkSize = settings.chunkSize;
  const maxFrameSize = Math.max(MAX_FRAME_SIZE, chunkSize + FRAME_OVERHEAD);
  const intervalMs = settings.metagraphIntervalMs ?? DEFAULT_METAGRAPH_INTERVAL_MS;

  let validators = new Map<string, bigint>();
  let layout: StoreLayout | undefined;
  let stores: StoreManager | undefined;
  let node: Libp2p | undefined;
  let server: FrameServer | undefined;
  let verifier: RequestVerifier | undefined;
  let announced = "";
  let announcedOnChain = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let refreshing: Promise<void> | undefined;
  const knownStores = new Set<string>();
  const trees = createTreeCache(settings.treeCacheBytes ?? DEFAULT_TREE_CACHE_BYTES);
  const pendingMarks = new Map<string, { hotkey: string; chunkIndex: number; at: number }>();
  let markTimer: NodeJS.Timeout | undefined;

  // Metrics. Gauges over the stores are read at scrape time.
  const requests = metrics.counter("miner_requests_total", "Requests served, by message type and outcome", {
    labelNames: ["type", "outcome"],
  });
  const latency = metrics.histogram(
    "miner_request_duration_seconds",
    "Time from a decoded request to its response, by message type",
    { labelNames: ["type"] },
  );
  const answered = metrics.counter("miner_challenges_answered_total", "Challenges answered with a proof");
  const failed = metrics.counter(
    "miner_challenges_failed_total",
    "Challenges that could not be answered (a challenged chunk is missing)",
  );
  const storedTotal = metrics.counter("miner_store_bytes_total", "Bytes acknowledged by store requests");
  const refused = metrics.counter("miner_peers_refused_total", "Streams refused, by reason", {
    labelNames: ["reason"],
  });
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
    () => [...validators.keys()].map((h) => [{ validator: h }, (stores?.budget(h) ?? 0) * chunkSize]),
    byValidator,
  );
  metrics.gauge("miner_validators", "Validators allowed to make requests", () => validators.size);

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

  async function refreshMetagraph(): Promise<void> {
    // One read at a time; a caller arriving mid-read waits for it and then reads again.
    while (refreshing) await refreshing.catch(() => undefined);
    refreshing = readMetagraph();
    try {
      await refreshing;
    } finally {
      refreshing = undefined;
    }
  }

  async function readMetagraph(): Promise<void> {
    const { stores } = requireStarted();
    const graph: Metagraph = await withTimeout(
      chain.metagraph(settings.netuid),
      METAGRAPH_TIMEOUT_MS,
      "reading the metagraph",
    );
    const next = new Map<string, bigint>();
    graph.hotkeys.forEach((h, uid) => {
      if (graph.validatorPermit[uid] === true) next.set(h, graph.stake[uid] ?? 0n);
    });
    if (!graph.hotkeys.includes(hotkey.address)) {
      log.warn("this miner's hotkey is no longer registered on the subnet", {
        hotkey: hotkey.address,
        netuid: settings.netuid,
      });
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
    const list: ValidatorStake[] = [...next].map(([h, stake]) => ({ hotkey: h, stake }));
    const report = stores.rebalance(list);
    for (const [h, evicted] of report.evicted) {
      for (const index of evicted) trees.delete(treeKey(h, index));
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

  function scheduleRefresh(delayMs: number, backoffMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      refreshMetagraph().then(
        async () => {
          idleMaintenance();
          if (!announcedOnChain) await publish();
          scheduleRefresh(intervalMs, 1_000);
        },
        (error: unknown) => {
          log.warn("metagraph read failed; serving with the last known validators", {
            error,
            retryInMs: backoffMs,
          });
          scheduleRefresh(backoffMs, Math.min(backoffMs * 2, intervalMs));
        },
      );
    }, delayMs);
    timer.unref?.();
  }

  function idleMaintenance(): void {
    if (stores === undefined || (server?.activeStreams ?? 0) > 0) return;
    try {
      stores.maintain();
    } catch (error) {
      log.warn("store maintenance failed", { error });
    }
  }

  // Challenge marks only order evictions, yet each is a durable SQLite write (an fsync). They are
  // collected (the latest per chunk) and written a second after the first one, off the path of
  // the proof.
  function recordChallenged(validator: string, chunkIndex: number, at: number): void {
    pendingMarks.set(treeKey(validator, chunkIndex), { hotkey: validator, chunkIndex, at });
    if (markTimer !== undefined) return;
    markTimer = setTimeout(flushMarks, MARK_FLUSH_DELAY_MS);
    markTimer.unref?.();
  }

  /** Writes the pending marks one per event-loop turn, so no request waits behind more than one fsync. */
  function flushMarks(): void {
    markTimer = undefined;
    const next = pendingMarks.entries().next();
    if (next.done) return;
    const [key, { hotkey: h, chunkIndex, at }] = next.value;
    pendingMarks.delete(key);
    if (stores === undefined) return;
    try {
      stores.store(h).markChallenged(chunkIndex, at);
    } catch (error) {
      log.debug("cannot record a challenge", { validator: h, chunkIndex, error });
    }
    if (pendingMarks.size > 0 && !stopped) markTimer = setTimeout(flushMarks, 0);
  }

  function flushAllMarks(): void {
    while (pendingMarks.size > 0 && stores !== undefined) flushMarks();
  }

  function errorReply(request: Envelope, code: ErrorCode, message: string): Envelope {
    const bytes = Buffer.from(message, "utf8");
    const text =
      bytes.length <= MAX_ERROR_MESSAGE_LENGTH
        ? message
        : bytes.subarray(0, MAX_ERROR_MESSAGE_LENGTH - 3).toString("utf8");
    return createEnvelope({ type: "error", code, message: text }, { requestId: request.requestId });
  }

  function answer(body: Message, request: Envelope): Envelope {
    return createEnvelope(body, { requestId: request.requestId });
  }

  function handle(request: Envelope): Envelope {
    const started = performance.now();
    const type = request.body.type;
    let response: Envelope;
    try {
      response = dispatch(request);
    } catch (error) {
      log.error("request failed", { type, error });
      response = errorReply(request, ErrorCode.Internal, "internal error");
    }
    const outcome = response.body.type === "error" ? errorName(response.body.code) : "ok";
    requests.inc({ type, outcome });
    latency.observe((performance.now() - started) / 1000, { type });
    if (log.enabled("trace")) log.trace("request", { type, outcome, requestId: request.requestId });
    return response;
  }

  function dispatch(request: Envelope): Envelope {
    const { stores } = requireStarted();
    if (verifier === undefined) throw new MinerStartError("the miner is not started");
    const auth = verifier.verify(request);
    if (!auth.ok) return errorReply(request, auth.code, auth.reason);
    const validator = auth.hotkey;
    const body = request.body;
    const ownStore = (storeId: string): Envelope | undefined =>
      storeId === validator
        ? undefined
        : errorReply(
            request,
            ErrorCode.Unauthorized,
            "a validator may only use its own store (store id = its hotkey)",
          );

    switch (body.type) {
      case "hello": {
        const budget = stores.budget(validator);
        const exists = hasStore(validator);
        const store = exists ? stores.store(validator) : undefined;
        return answer(
          {
            type: "hello",
            role: "miner",
            protocolVersion: PROTOCOL_VERSION,
            softwareVersion: MINER_SOFTWARE_VERSION,
            chunkSize,
            leafSize,
            capacity: {
              budgetBytes: budget * chunkSize,
              usedBytes: store?.usedBytes() ?? 0,
              chunkCount: store?.count() ?? 0,
            },
          },
          request,
        );
      }
      case "store": {
        const denied = ownStore(body.storeId);
        if (denied) return denied;
        if (body.data.length === 0 || body.data.length > chunkSize) {
          return errorReply(request, ErrorCode.BadRequest, `a chunk holds 1 to ${chunkSize} bytes`);
        }
        const tree = buildChunkTree(body.data, leafSize);
        try {
          stores.put(validator, body.chunkIndex, body.data);
        } catch (error) {
          if (error instanceof BudgetExceededError) {
            return errorReply(
              request,
              ErrorCode.OverBudget,
              `over budget: this validator may store ${error.budgetChunks} chunks of ${chunkSize} bytes here`,
            );
          }
          if (error instanceof ChunkStoreError)
            return errorReply(request, ErrorCode.BadRequest, error.message);
          throw error;
        }
        knownStores.add(validator);
        trees.set(treeKey(validator, body.chunkIndex), tree);
        storedTotal.inc({}, body.data.length);
        return answer(
          { type: "store-ack", storeId: body.storeId, chunkIndex: body.chunkIndex, root: tree.root },
          request,
        );
      }
      case "retrieve": {
        const denied = ownStore(body.storeId);
        if (denied) return denied;
        const data = hasStore(validator) ? stores.store(validator).get(body.chunkIndex) : undefined;
        if (data === undefined) return errorReply(request, ErrorCode.NotFound, `no chunk ${body.chunkIndex}`);
        return answer(
          { type: "retrieve-reply", storeId: body.storeId, chunkIndex: body.chunkIndex, data },
          request,
        );
      }
      case "challenge": {
        const challenge = body.challenge;
        const denied = ownStore(challenge.storeId);
        if (denied) return denied;
        const leaves = challenge.chunks.reduce((sum, c) => sum + c.leafIndices.length, 0);
        if (challenge.chunks.length > MAX_CHALLENGED_CHUNKS || leaves * (leafSize + 8) > maxFrameSize / 2) {
          return errorReply(request, ErrorCode.BadRequest, "challenge names too many chunks or leaves");
        }
        try {
          const response = proveChallenge(validator, challenge);
          answered.inc();
          const at = now();
          for (const c of challenge.chunks) recordChallenged(validator, c.chunkIndex, at);
          return answer({ type: "proof", response }, request);
        } catch (error) {
          if (error instanceof ChunkUnavailableError) {
            failed.inc();
            return errorReply(request, ErrorCode.NotFound, error.message);
          }
          throw error;
        }
      }
      case "evictions": {
        const denied = ownStore(body.storeId);
        if (denied) return denied;
        const page = stores.evictedSince(validator, body.sinceSeq, 10_000);
        const evicted = [...new Set(page.indices)].sort((a, b) => a - b);
        return answer(
          { type: "evictions-reply", storeId: body.storeId, evicted, nextSeq: page.nextSeq },
          request,
        );
      }
      default:
        return errorReply(request, ErrorCode.BadRequest, `${body.type} is not a request`);
    }
  }

  /**
   * Proves the challenged leaves from the stored bytes. The leaves always come from disk; the
   * tree (sibling hashes) comes from a cache filled when the chunk was stored, so a one-leaf proof
   * does not rehash the whole chunk. If the stored bytes rotted, the leaves no longer match the
   * cached tree and the proof fails verification, as it should.
   */
  function proveChallenge(validator: string, challenge: Challenge): ChallengeResponse {
    const { stores } = requireStarted();
    const store = hasStore(validator) ? stores.store(validator) : undefined;
    const chunks: ChunkProof[] = challenge.chunks.map(({ chunkIndex, leafIndices }) => {
      const data = store?.get(chunkIndex);
      if (data === undefined) throw new ChunkUnavailableError(chunkIndex);
      const key = treeKey(validator, chunkIndex);
      let tree = trees.get(key);
      if (tree === undefined || tree.leafCount !== leafCountFor(data.length, leafSize)) {
        tree = buildChunkTree(data, leafSize);
        trees.set(key, tree);
      }
      try {
        const proof = proveLeaves(tree, leafIndices);
        return { chunkIndex, leaves: leafIndices.map((i) => leafAt(data, i, leafSize)), proof };
      } catch (error) {
        if (error instanceof LeafIndexError) throw new ChunkUnavailableError(chunkIndex, { cause: error });
        throw error;
      }
    });
    return {
      nonce: new Uint8Array(challenge.nonce),
      chunks,
      binding: computeBinding(challenge.nonce, challenge.storeId, chunks),
    };
  }

  /** Publishes the address; a failure is logged and retried at the next refresh, serving goes on. */
  async function publish(): Promise<void> {
    try {
      await announce();
      announcedOnChain = true;
    } catch (error) {
      log.warn("cannot publish the axon or commitment yet; retrying at the next metagraph refresh", {
        error,
      });
    }
  }

  async function announce(): Promise<void> {
    if (node === undefined) return;
    const addrs = node.getMultiaddrs().map((a) => a.toString());
    const tcp = addrs
      .map((a) => /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)/.exec(a))
      .filter((m): m is RegExpExecArray => m !== null);
    const port = Number(tcp[0]?.[3] ?? settings.listen.port);
    const wildcard = settings.listen.ip === "0.0.0.0" || settings.listen.ip === "::";
    const ip =
      settings.externalIp ??
      (wildcard ? (tcp.find((m) => !isLoopback(m[2] ?? ""))?.[2] ?? "127.0.0.1") : settings.listen.ip);
    announced = `${ip.includes(":") ? "/ip6" : "/ip4"}/${ip}/tcp/${port}/p2p/${node.peerId.toString()}`;
    if (settings.announce === false) return;

    // Subtensor refuses loopback axons; a loopback-only miner publishes 0.0.0.0 and relies on
    // the commitment, which holds the full multiaddr.
    const axonIp = isLoopback(ip) ? "0.0.0.0" : ip;
    const graph = await chain.metagraph(settings.netuid);
    const uid = graph.hotkeys.indexOf(hotkey.address);
    const axon = uid >= 0 ? graph.axons[uid] : null;
    if (axon?.ip !== axonIp || axon.port !== port) {
      await chain.serveAxon(hotkey, settings.netuid, {
        version: 1,
        ip: axonIp,
        port,
        ipType: axonIp.includes(":") ? 6 : 4,
        protocol: 4,
      });
      log.info("served axon", { ip: axonIp, port });
    }
    const commitment = new TextEncoder().encode(announced);
    const current = (await chain.commitments(settings.netuid)).get(hotkey.address);
    if (current === undefined || Buffer.compare(Buffer.from(current), Buffer.from(commitment)) !== 0) {
      await chain.setCommitment(hotkey, settings.netuid, commitment);
      log.info("published commitment", { multiaddr: announced });
    }
  }

  return {
    get peerId() {
      return node?.peerId.toString() ?? "";
    },
    get announcedAddress() {
      return announced;
    },
    get announced() {
      return announcedOnChain;
    },
    get listenAddresses() {
      return node?.getMultiaddrs().map((a) => a.toString()) ?? [];
    },
    get validators() {
      return validators;
    },
    get stores() {
      return requireStarted().stores;
    },
    refreshMetagraph,

    async start() {
      stopped = false;
      await authReady();
      layout = resolveStoreLayout({
        dbRoot: settings.dbRoot,
        netuid: settings.netuid,
        minerHotkey: hotkey.address,
      });
      stores = new StoreManager({
        layout,
        chunkSize,
        threshold: settings.threshold,
        ...(init.freeBytes ? { freeBytes: init.freeBytes } : {}),
        now,
      });
      verifier = createRequestVerifier({
        isAllowed: (h) => validators.has(h),
        ...(settings.authWindowMs !== undefined ? { windowMs: settings.authWindowMs } : {}),
        now,
      });
      try {
        const privateKey = await loadOrCreatePeerKey(join(layout.dir, PEER_KEY_FILE));
        await refreshMetagraph();
        const bans = createPeerBans();
        node = await createP2PNode({ privateKey, listen: settings.listen, denyPeer: bans.isBanned });
        server = createFrameServer({
          node,
          bans,
          log: log.child({ component: "p2p" }),
          handle: (request) => {
            const current = stores;
            if (!init.behaviour || !current || request.body.type === "hello") return handle(request);
            return init.behaviour.handle(request, handle, current);
          },
          limits: { maxFrameSize, ...settings.limits },
          maxResponseFrameSize: maxFrameSize,
          onRefused: (kind) => refused.inc({ reason: kind }),
        });
        await server.start();
        await publish();
      } catch (error) {
        await this.stop();
        throw error;
      }
      log.info("miner serving", {
        peerId: node.peerId.toString(),
        announced,
        listen: node.getMultiaddrs().map((a) => a.toString()),
        dir: layout.dir,
        validators: validators.size,
      });
      scheduleRefresh(intervalMs, 1_000);
    },

    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await refreshing?.catch(() => undefined);
      await server?.stop().catch(() => undefined);
      server = undefined;
      try {
        await node?.stop();
      } catch (error) {
        log.warn("libp2p stop failed", { error });
      }
      node = undefined;
      if (markTimer !== undefined) clearTimeout(markTimer);
      flushAllMarks();
      stores?.close();
      stores = undefined;
      trees.clear();
      knownStores.clear();
    },
  };
}

/** A chain call ran past its time limit. */
export class ChainTimeoutError extends Error {
  override readonly name = "ChainTimeoutError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ChainTimeoutError(`${what} took longer than ${ms / 1000} s`)), ms);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function treeKey(validator: string, chunkIndex: number): string {
  return `${validator}/${chunkIndex}`;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1" || ip === "localhost";
}

const ERROR_NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

function errorName(code: number): string {
  return ERROR_NAMES.get(code) ?? String(code);
}

interface TreeCache {
  get(key: string): MerkleTree | undefined;
  set(key: string, tree: MerkleTree): void;
  delete(key: string): void;
  clear(): void;
}

/** A least-recently-used cache of Merkle trees, bounded by the bytes of their levels. */
function createTreeCache(maxBytes: number): TreeCache {
  const entries = new Map<string, { tree: MerkleTree; bytes: number }>();
  let total = 0;
  const remove = (key: string) => {
    const entry = entries.get(key);
    if (entry === undefined) return;
    entries.delete(key);
    total -= entry.bytes;
  };
  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      entries.delete(key);
      entries.set(key, entry);
      return entry.tree;
    },
    set(key, tree) {
      remove(key);
      const bytes = tree.levels.reduce((sum, level) => sum + level.byteLength, 0);
      if (bytes > maxBytes) return;
      entries.set(key, { tree, bytes });
      total += bytes;
      for (const [oldest] of entries) {
        if (total <= maxBytes) break;
        remove(oldest);
      }
    },
    delete: remove,
    clear() {
      entries.clear();
      total = 0;
    },
  };
}
