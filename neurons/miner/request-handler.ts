/**
 * The miner's answers to signed requests from validators (neurons/auth.ts checks who asks):
 * - `hello`: the requester's capacity on this miner (budget, used bytes, chunk count), and the
 *   requester's nonce signed with the miner's hotkey (protocol/hello.ts), so the validator knows
 *   which registered miner it reached;
 * - `store`: into the requester's own store, within its budget; acknowledged with the chunk's
 *   Merkle root only after the write is durable;
 * - `retrieve`, `challenge` (Merkle proofs from the stored bytes), `evictions`.
 * A validator may touch only its own store: the store id must be its hotkey.
 *
 * A request is first admitted (`admit`: authenticated, then billed by its cost against its
 * sender's budget, neurons/miner/cost-budget.ts), then answered (`answer`, synchronous). A
 * challenge reads only its challenged leaves when the chunk's tree is cached, the whole chunk
 * otherwise.
 */
import { answerChallenge, ChunkUnavailableError } from "../../protocol/challenge.js";
import { LEAF_SIZE, PROTOCOL_VERSION } from "../../protocol/constants.js";
import { helloProofPayload } from "../../protocol/hello.js";
import { buildChunkTree, type MerkleTree } from "../../protocol/merkle.js";
import {
  createEnvelope,
  type Envelope,
  ErrorCode,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_EVICTIONS_PER_REPLY,
  type Message,
} from "../../protocol/messages.js";
import type { Challenge } from "../../protocol/types.js";
import type { AuthResult, RequestSigner, RequestVerifier } from "../auth.js";
import type { Logger } from "../logger.js";
import type { MetricsRegistry } from "../metrics.js";
import type { ChallengeMarks } from "./challenge-marks.js";
import { ChunkStoreError } from "./chunk-store.js";
import {
  type CostBudgetLimits,
  type CostBudgets,
  createCostBudgets,
  DEFAULT_COST_BUDGET,
} from "./cost-budget.js";
import { BudgetExceededError, type StoreManager } from "./partition.js";
import {
  readStoredTree,
  STORED_TREE_FROM_LEVEL,
  type StoredTreeRead,
  storedLevelsOf,
  type TreeCache,
} from "./tree-cache.js";

/** Software version in `hello` replies. */
export const MINER_SOFTWARE_VERSION = "storage-subnet-miner/0.1.0";

/** Chunks one challenge may name; each costs a chunk read and possibly a tree build. */
export const MAX_CHALLENGED_CHUNKS = 64;

/** Eviction records returned per `evictions` reply: what a validator accepts in one. */
const EVICTIONS_PAGE = MAX_EVICTIONS_PER_REPLY;

/** What a `hello` or an `evictions` request costs, in the bytes of {@link requestCost}: a few small reads. */
export const SMALL_REQUEST_COST = 4096;

export interface RequestCostInit {
  chunkSize: number;
  leafSize: number;
  /** Whether the tree of one of the requester's chunks is cached (its challenge then reads leaves only). */
  isTreeCached: (chunkIndex: number) => boolean;
  /**
   * Leaves under one node of the lowest tree level stored beside a chunk (2^STORED_TREE_FROM_LEVEL):
   * a challenge on a chunk whose tree is not cached rehashes one such subtree per challenged
   * subtree, not the whole chunk. Omitted: the whole chunk is billed as hashed.
   */
  subtreeLeaves?: number;
}

/**
 * What answering a request costs the miner, in bytes read from the store or hashed: a store is
 * hashed into its tree and written (twice its size); a retrieve reads a chunk; a challenge reads
 * each named chunk's row (SQLite walks the whole blob even for a leaf range, so a chunk read is
 * billed whole) and hashes the proven leaves (tree cached), the subtrees under them from the
 * levels stored beside the chunk (`subtreeLeaves`), or else the whole chunk.
 *
 * @example requestCost(request.body, { chunkSize, leafSize, isTreeCached: (i) => trees.peek(hotkey, i) !== undefined })
 */
export function requestCost(body: Message, init: RequestCostInit): number {
  switch (body.type) {
    case "store":
      return 2 * body.data.length;
    case "retrieve":
      return init.chunkSize;
    case "challenge":
      // Asking for evictions too adds what an `evictions` request costs.
      return (
        challengeCost(body.challenge, init) + (body.evictionsSince === undefined ? 0 : SMALL_REQUEST_COST)
      );
    default:
      return SMALL_REQUEST_COST;
  }
}

function challengeCost(challenge: Challenge, init: RequestCostInit): number {
  let cost = 0;
  for (const { chunkIndex, leafIndices } of challenge.chunks) {
    cost += init.chunkSize + hashedForChallenge(chunkIndex, leafIndices, init);
  }
  return cost;
}

function hashedForChallenge(
  chunkIndex: number,
  leafIndices: readonly number[],
  init: RequestCostInit,
): number {
  if (init.isTreeCached(chunkIndex)) return leafIndices.length * init.leafSize;
  const span = init.subtreeLeaves;
  if (span === undefined) return init.chunkSize;
  // A chunk stored without levels (by an older miner) is rebuilt whole; such chunks are rare
  // and go away as they are rewritten, so they are billed as the common case.
  const subtrees = new Set(leafIndices.map((leaf) => Math.floor(leaf / span))).size;
  return Math.min(init.chunkSize, subtrees * span * init.leafSize);
}

/** The request metrics, registered once per miner. */
export interface RequestMetrics {
  requests: ReturnType<MetricsRegistry["counter"]>;
  latency: ReturnType<MetricsRegistry["histogram"]>;
  answered: ReturnType<MetricsRegistry["counter"]>;
  failed: ReturnType<MetricsRegistry["counter"]>;
  storedBytes: ReturnType<MetricsRegistry["counter"]>;
}

/** Registers the request metrics. */
export function registerRequestMetrics(metrics: MetricsRegistry): RequestMetrics {
  return {
    requests: metrics.counter("miner_requests_total", "Requests served, by message type and outcome", {
      labelNames: ["type", "outcome"],
    }),
    latency: metrics.histogram(
      "miner_request_duration_seconds",
      "Time from a decoded request to its response, by message type",
      { labelNames: ["type"] },
    ),
    answered: metrics.counter("miner_challenges_answered_total", "Challenges answered with a proof"),
    failed: metrics.counter(
      "miner_challenges_failed_total",
      "Challenges that could not be answered (a challenged chunk is missing)",
    ),
    storedBytes: metrics.counter("miner_store_bytes_total", "Bytes acknowledged by store requests"),
  };
}

export interface RequestHandlerInit {
  /** The miner's hotkey: signs the proof in `hello` answers. */
  hotkey: RequestSigner;
  stores: StoreManager;
  verifier: RequestVerifier;
  /** Whether a validator has a store here (without creating one). */
  hasStore: (validator: string) => boolean;
  /** Told that a validator now has a store here. */
  onStored: (validator: string) => void;
  trees: TreeCache;
  marks: ChallengeMarks;
  chunkSize: number;
  /** Largest frame; a challenge's proof must fit in half of it. */
  maxFrameSize: number;
  now: () => number;
  log: Logger;
  metrics: RequestMetrics;
  /** Each validator's cost budget (default {@link DEFAULT_COST_BUDGET}). */
  costBudget?: Partial<CostBudgetLimits>;
}

/**
 * The miner's answers. `encodedBody` is the body as it arrived, when known, so the signature check
 * need not encode it again. Neither method throws: a failure is an error reply.
 */
export interface RequestHandler {
  /**
   * Authenticates a request and waits until its sender's budget pays for it: an error reply when
   * refused, undefined when admitted. `answer` then takes the same envelope without checking it
   * again.
   */
  admit(request: Envelope, encodedBody?: Uint8Array): Promise<Envelope | undefined>;
  /**
   * Answers a request (authenticating it here unless `admit` did). A store is committed but not
   * yet durable when this returns: send the reply through {@link durable}.
   */
  answer(request: Envelope, encodedBody?: Uint8Array): Envelope;
  /**
   * Resolves to `response` once every chunk stored so far is durable (one fsync shared by the
   * stores that arrived together), or to an Internal error reply when the disk refuses: no
   * acknowledgement may leave before this.
   */
  durable(request: Envelope, response: Envelope): Promise<Envelope>;
  /** Refuses requests still waiting for budget. */
  close(): void;
}

/**
 * @example
 * const handler = createRequestHandler({ hotkey, stores, verifier, hasStore, onStored, trees, marks, … });
 * createFrameServer({ node, log, handle: async (request, { body }) =>
 *   (await handler.admit(request, body)) ?? handler.durable(request, handler.answer(request, body)) });
 */
export function createRequestHandler(init: RequestHandlerInit): RequestHandler {
  const { stores, verifier, trees, marks, chunkSize, maxFrameSize, now, log, metrics } = init;
  const leafSize = LEAF_SIZE;
  const budgets: CostBudgets = createCostBudgets({ ...DEFAULT_COST_BUDGET, ...init.costBudget });
  /** Requests `admit` authenticated, for `answer` to take without a second (replayed) check. */
  const admitted = new WeakMap<Envelope, AuthResult>();

  function dispatch(request: Envelope, encodedBody: Uint8Array | undefined): Envelope {
    const auth = admitted.get(request) ?? verifier.verify(request, encodedBody);
    admitted.delete(request);
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
    /** The validator's evictions from `sinceSeq` on, one page, each index once and ascending. */
    const evictionsPage = (sinceSeq: number): { evicted: number[]; nextSeq: number } => {
      const page = stores.evictedSince(validator, sinceSeq, EVICTIONS_PAGE);
      return { evicted: [...new Set(page.indices)].sort((a, b) => a - b), nextSeq: page.nextSeq };
    };

    switch (body.type) {
      case "hello": {
        const budget = stores.budget(validator);
        const store = init.hasStore(validator) ? stores.store(validator) : undefined;
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
            nonce: body.nonce,
            proof: {
              hotkey: init.hotkey.publicKey,
              signature: init.hotkey.sign(
                helloProofPayload(body.nonce, request.sender, init.hotkey.publicKey),
              ),
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
        try {
          // Durable before the acknowledgement leaves: see `durable`.
          stores.putUnsynced(validator, body.chunkIndex, body.data);
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
        // The fsync that makes the chunk durable starts now, in the thread pool, and the tree for
        // the acknowledgement is built meanwhile instead of before the write: the two overlap
        // (1 MiB: ~2–3 ms of hashing, ~2–4 ms of fsync here). `durable` awaits the same fsync and
        // reports its failure; the levels go in a commit of their own that the acknowledgement
        // does not wait for (ChunkStore.putTreeLevels says what losing them costs).
        stores.sync().catch(() => undefined);
        const tree = buildChunkTree(body.data, leafSize);
        try {
          stores.putTreeLevels(validator, body.chunkIndex, storedLevelsOf(tree));
        } catch (error) {
          // The chunk is stored; without its levels only its cold proofs cost more. A failing
          // disk shows in `durable`.
          log.warn("the chunk's tree levels could not be stored", { chunkIndex: body.chunkIndex, error });
        }
        init.onStored(validator);
        trees.set(validator, body.chunkIndex, tree);
        metrics.storedBytes.inc({}, body.data.length);
        return answer(
          { type: "store-ack", storeId: body.storeId, chunkIndex: body.chunkIndex, root: tree.root },
          request,
        );
      }
      case "retrieve": {
        const denied = ownStore(body.storeId);
        if (denied) return denied;
        const data = init.hasStore(validator) ? stores.store(validator).get(body.chunkIndex) : undefined;
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
        if (body.evictionsSince !== undefined) {
          // Evictions the validator has not seen come first: it may have challenged an evicted
          // chunk, and answers with a fresh challenge once it has marked them.
          const page = evictionsPage(body.evictionsSince);
          if (page.nextSeq !== body.evictionsSince) {
            return answer({ type: "evictions-reply", storeId: challenge.storeId, ...page }, request);
          }
        }
        // The leaves come from the stored bytes, the trees from the cache filled when each chunk
        // was stored (protocol/challenge.ts says why that is sound).
        const store = init.hasStore(validator) ? stores.store(validator) : undefined;
        const leavesOf = new Map(challenge.chunks.map((c) => [c.chunkIndex, c.leafIndices]));
        // Cold chunks: the partial tree from the levels stored beside the chunk, and the leaves
        // read with it, so the chunk is read once (answerChallenge asks for the leaves next).
        const cold = new Map<number, StoredTreeRead>();
        const coldTree = (chunkIndex: number): MerkleTree | undefined => {
          if (store === undefined) return undefined;
          const read = readStoredTree(store, chunkIndex, leavesOf.get(chunkIndex) ?? [], leafSize);
          if (read !== undefined) cold.set(chunkIndex, read);
          return read?.tree;
        };
        try {
          const response = answerChallenge(challenge, (chunkIndex) => store?.get(chunkIndex), {
            leafSize,
            treeOf: (chunkIndex, data) => trees.treeOf(validator, chunkIndex, data),
            knownTree: (chunkIndex) => trees.peek(validator, chunkIndex) ?? coldTree(chunkIndex),
            readLeaves: (chunkIndex, leafIndices) =>
              cold.get(chunkIndex)?.leaves ?? store?.readLeaves(chunkIndex, leafIndices, leafSize),
          });
          metrics.answered.inc();
          const at = now();
          for (const c of challenge.chunks) marks.record(validator, c.chunkIndex, at);
          return answer({ type: "proof", response }, request);
        } catch (error) {
          if (error instanceof ChunkUnavailableError) {
            metrics.failed.inc();
            return errorReply(request, ErrorCode.NotFound, error.message);
          }
          throw error;
        }
      }
      case "evictions": {
        const denied = ownStore(body.storeId);
        if (denied) return denied;
        return answer(
          { type: "evictions-reply", storeId: body.storeId, ...evictionsPage(body.sinceSeq) },
          request,
        );
      }
      default:
        return errorReply(request, ErrorCode.BadRequest, `${body.type} is not a request`);
    }
  }

  const count = (request: Envelope, response: Envelope, started: number): Envelope => {
    const type = request.body.type;
    const outcome = response.body.type === "error" ? errorName(response.body.code) : "ok";
    metrics.requests.inc({ type, outcome });
    metrics.latency.observe((performance.now() - started) / 1000, { type });
    if (log.enabled("trace")) log.trace("request", { type, outcome, requestId: request.requestId });
    return response;
  };

  return {
    async admit(request, encodedBody) {
      const started = performance.now();
      try {
        const auth = verifier.verify(request, encodedBody);
        if (!auth.ok) return count(request, errorReply(request, auth.code, auth.reason), started);
        const validator = auth.hotkey;
        const cost = requestCost(request.body, {
          chunkSize,
          leafSize,
          isTreeCached: (chunkIndex) => trees.peek(validator, chunkIndex) !== undefined,
          subtreeLeaves: 2 ** STORED_TREE_FROM_LEVEL,
        });
        const admission = await budgets.acquire(validator, cost);
        if (!admission.ok) {
          return count(request, errorReply(request, ErrorCode.RateLimited, admission.reason), started);
        }
        admitted.set(request, auth);
        return undefined;
      } catch (error) {
        log.error("request admission failed", { type: request.body.type, error });
        return count(request, errorReply(request, ErrorCode.Internal, "internal error"), started);
      }
    },
    answer(request, encodedBody) {
      const started = performance.now();
      let response: Envelope;
      try {
        response = dispatch(request, encodedBody);
      } catch (error) {
        log.error("request failed", { type: request.body.type, error });
        response = errorReply(request, ErrorCode.Internal, "internal error");
      }
      return count(request, response, started);
    },
    async durable(request, response) {
      try {
        await stores.sync();
        return response;
      } catch (error) {
        log.error("stored chunks could not be made durable", { error });
        return errorReply(request, ErrorCode.Internal, "the chunk could not be made durable");
      }
    },
    close: () => budgets.close(),
  };
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

const ERROR_NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

function errorName(code: number): string {
  return ERROR_NAMES.get(code) ?? String(code);
}
