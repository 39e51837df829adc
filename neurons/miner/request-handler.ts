/**
 * The miner's answers to signed requests from validators (neurons/auth.ts checks who asks):
 * - `hello`: the requester's capacity on this miner (budget, used bytes, chunk count), and the
 *   requester's nonce signed with the miner's hotkey (protocol/hello.ts), so the validator knows
 *   which registered miner it reached;
 * - `store`: into the requester's own store, within its budget; acknowledged with the chunk's
 *   Merkle root only after the write is durable;
 * - `retrieve`, `challenge` (Merkle proofs from the stored bytes), `evictions`.
 * A validator may touch only its own store: the store id must be its hotkey.
 */
import { answerChallenge, ChunkUnavailableError } from "../../protocol/challenge.js";
import { LEAF_SIZE, PROTOCOL_VERSION } from "../../protocol/constants.js";
import { helloProofPayload } from "../../protocol/hello.js";
import { buildChunkTree } from "../../protocol/merkle.js";
import {
  createEnvelope,
  type Envelope,
  ErrorCode,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_EVICTIONS_PER_REPLY,
  type Message,
} from "../../protocol/messages.js";
import type { RequestSigner, RequestVerifier } from "../auth.js";
import type { Logger } from "../logger.js";
import type { MetricsRegistry } from "../metrics.js";
import type { ChallengeMarks } from "./challenge-marks.js";
import { ChunkStoreError } from "./chunk-store.js";
import { BudgetExceededError, type StoreManager } from "./partition.js";
import type { TreeCache } from "./tree-cache.js";

/** Software version in `hello` replies. */
export const MINER_SOFTWARE_VERSION = "storage-subnet-miner/0.1.0";

/** Chunks one challenge may name; each costs a chunk read and possibly a tree build. */
export const MAX_CHALLENGED_CHUNKS = 64;

/** Eviction records returned per `evictions` reply: what a validator accepts in one. */
const EVICTIONS_PAGE = MAX_EVICTIONS_PER_REPLY;

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
}

/**
 * Answers one decoded request. `encodedBody` is the body as it arrived, when known, so the
 * signature check need not encode it again. Never throws: a failure is an Internal error reply.
 */
export type RequestHandler = (request: Envelope, encodedBody?: Uint8Array) => Envelope;

/**
 * @example
 * const handle = createRequestHandler({ hotkey, stores, verifier, hasStore, onStored, trees, marks, … });
 * createFrameServer({ node, log, handle: (request, { body }) => handle(request, body) });
 */
export function createRequestHandler(init: RequestHandlerInit): RequestHandler {
  const { stores, verifier, trees, marks, chunkSize, maxFrameSize, now, log, metrics } = init;
  const leafSize = LEAF_SIZE;

  function dispatch(request: Envelope, encodedBody: Uint8Array | undefined): Envelope {
    const auth = verifier.verify(request, encodedBody);
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
        // The leaves come from the stored bytes, the trees from the cache filled when each chunk
        // was stored (protocol/challenge.ts says why that is sound).
        const store = init.hasStore(validator) ? stores.store(validator) : undefined;
        try {
          const response = answerChallenge(challenge, (chunkIndex) => store?.get(chunkIndex), {
            leafSize,
            treeOf: (chunkIndex, data) => trees.treeOf(validator, chunkIndex, data),
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
        const page = stores.evictedSince(validator, body.sinceSeq, EVICTIONS_PAGE);
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

  return (request, encodedBody) => {
    const started = performance.now();
    const type = request.body.type;
    let response: Envelope;
    try {
      response = dispatch(request, encodedBody);
    } catch (error) {
      log.error("request failed", { type, error });
      response = errorReply(request, ErrorCode.Internal, "internal error");
    }
    const outcome = response.body.type === "error" ? errorName(response.body.code) : "ok";
    metrics.requests.inc({ type, outcome });
    metrics.latency.observe((performance.now() - started) / 1000, { type });
    if (log.enabled("trace")) log.trace("request", { type, outcome, requestId: request.requestId });
    return response;
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
