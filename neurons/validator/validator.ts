/**
 * The validator: keeps miners honest. Each round it syncs the metagraph, fills every miner's
 * allocation with chunks only this validator can regenerate (derived per miner, so no two miners
 * hold the same bytes), challenges every miner on random chunks and leaves, now and then retrieves
 * a whole chunk, records each outcome once, and sets weights from the scores every few blocks.
 */
import { randomBytes } from "node:crypto";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { Queue } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import type { KeyringPair } from "@polkadot/keyring/types";
import { u8aToHex } from "@polkadot/util";
import type { ChainClient, Metagraph, PendingReveal } from "../../chain/client.js";
import { ChainModuleError } from "../../chain/errors.js";
import { submitWeights } from "../../chain/weights.js";
import { createChallenge, verifyResponse } from "../../protocol/challenge.js";
import { CodecError } from "../../protocol/codec-errors.js";
import {
  CHUNK_SIZE,
  LEAF_SIZE,
  MAX_FRAME_SIZE,
  NONCE_LENGTH,
  PROTOCOL_VERSION,
} from "../../protocol/constants.js";
import { chunkRoot, leafCountFor } from "../../protocol/merkle.js";
import {
  ErrorCode,
  type EvictionsReplyMessage,
  HELLO_NONCE_LENGTH,
  MAX_EVICTIONS_PER_REPLY,
  type Message,
  type MessageType,
} from "../../protocol/messages.js";
import { type ChallengeOutcome, toU16Weights, weighByChunksPlaced } from "../../protocol/scoring.js";
import { authReady, createRequestSigner, type RequestSigner, signRequest } from "../auth.js";
import { defaultsOf, type ValidatorConfig, validatorConfigSchema } from "../config.js";
import { NodeError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import type { MetricsRegistry } from "../metrics.js";
import { createP2PNode, tcpMultiaddrText } from "../p2p/node.js";
import { createStreamPool, type StreamPool } from "../p2p/stream-pool.js";
import { deriveChunk } from "./data.js";
import { createMinerSessions, helloProves, type MinerSession } from "./miner-sessions.js";
import { createOutcomeBatch } from "./outcome-batch.js";
import { createPolicy, type ScoringPolicyImpl } from "./policy.js";
import { type LinkedMiner, type MinerLink, MinerLinkError, type SendOptions } from "./storage/miner-link.js";
import type { MinerRecord, MinerSighting, ValidatorDb } from "./validator-db.js";

export interface ValidatorSettings {
  netuid: number;
  chunkSize?: number;
  leafSize?: number;
  /** Chunks named in one challenge. */
  chunksPerChallenge: number;
  /** Leaves proven per challenged chunk. */
  leavesPerChunk: number;
  /** How long a miner has to answer a challenge. */
  challengeTimeoutMs: number;
  /** New chunks sent to one miner per round at most (spreads the filling over rounds). */
  fillPerRound: number;
  /** Chunks placed on one miner at most, whatever its budget. */
  maxChunksPerMiner: number;
  /**
   * Miners a round works on at once (dial, fill, challenge). Bounded so a round over hundreds of
   * miners does not queue every dial and handshake at once, which pushes answers past their
   * deadline on a busy host: a simulator run of 150 miners and 8 validators in one process saw
   * honest miners time out with every miner in flight, and none with 32.
   */
  concurrency: number;
  /** Probability that a round also retrieves one whole chunk from a miner and checks it. */
  retrieveProbability: number;
  /** Blocks between weight settings. */
  weightsIntervalBlocks: number;
  /**
   * How long challenge records are kept. Older ones are pruned every {@link PRUNE_INTERVAL_MS};
   * scores keep what they contributed, so this bounds only the history (audit, replay), which
   * otherwise grows by a row per challenge.
   */
  challengeRetentionMs: number;
  /** Scoring policy name and parameters (see ./policy.ts). */
  policy: { name: string; params?: Record<string, unknown> };
  /** Pause between rounds. */
  roundIntervalMs: number;
  /**
   * How long one miner's work in a round (dial, hello, evictions, fill, challenge, retrieval) may
   * take in all; past it the rest is abandoned. Bounds what a silent or trickling miner holds.
   * Default 60 s (`--neuron.miner_deadline`, whose comment in ../config.ts gives the reason).
   */
  minerDeadlineMs: number;
  /** Run rounds on their own after start(); false leaves it to runRound() (tests, the simulator). */
  autoRun: boolean;
}

/**
 * How long opening a connection to a miner may take. libp2p gives up on its own after 10 s
 * (its dialTimeout); a simulator run of 64 miners and 8 validators on one thread saw handshakes
 * take over 5 s in the first round, when every validator dials every miner.
 */
const CONNECT_TIMEOUT_MS = 30_000;

/**
 * Time between prunings of the challenge history. A challenge id is a fresh nonce, recorded again
 * only by a retry within its round, so any retention longer than a round is safe to prune.
 */
const PRUNE_INTERVAL_MS = 10 * 60_000;

/**
 * Largest reply frame accepted to a `hello` (and the request it answers): both are a few hundred
 * bytes, so a miner cannot make the validator buffer a megabyte to learn its budget.
 */
const SMALL_FRAME_SIZE = 4096;

/** Largest `evictions-reply` frame: MAX_EVICTIONS_PER_REPLY indices and the envelope around them. */
const EVICTIONS_FRAME_SIZE = SMALL_FRAME_SIZE + 4 * MAX_EVICTIONS_PER_REPLY;

/** Rounds between budget checks (`hello`) of a miner whose allocation is full: 2 minutes at the default interval. */
const BUDGET_RECHECK_ROUNDS = 10;

/**
 * The validator's settings from its config (the `neuron.*` options; seconds become milliseconds).
 *
 * @example createValidator({ settings: validatorSettingsFrom(config), chain, hotkey, db, secret })
 */
export function validatorSettingsFrom(
  config: ValidatorConfig,
): Omit<ValidatorSettings, "leafSize" | "autoRun"> {
  return {
    netuid: config.netuid,
    chunkSize: config.chunk_size,
    chunksPerChallenge: config["neuron.chunks_per_challenge"],
    leavesPerChunk: config["neuron.leaves_per_chunk"],
    challengeTimeoutMs: config["neuron.challenge_timeout"] * 1000,
    fillPerRound: config["neuron.fill_per_round"],
    maxChunksPerMiner: config["neuron.max_chunks_per_miner"],
    concurrency: config["neuron.concurrency"],
    retrieveProbability: config["neuron.retrieve_probability"],
    weightsIntervalBlocks: config["neuron.epoch_length"],
    challengeRetentionMs: config["neuron.challenge_retention"] * 3_600_000,
    roundIntervalMs: config["neuron.challenge_interval"] * 1000,
    minerDeadlineMs: config["neuron.miner_deadline"] * 1000,
    policy: { name: config["neuron.scoring_policy"] },
  };
}

/** The settings a validator runs with where its init names none: the config schema's defaults. */
export const DEFAULT_VALIDATOR_SETTINGS: Omit<ValidatorSettings, "netuid"> = (() => {
  const { netuid: _, ...defaults } = validatorSettingsFrom(defaultsOf(validatorConfigSchema));
  return { ...defaults, autoRun: true };
})();

export interface ValidatorInit {
  settings: Partial<ValidatorSettings> & { netuid: number };
  chain: ChainClient;
  hotkey: KeyringPair;
  db: ValidatorDb;
  /** 32-byte secret the chunk data is derived from (see ./data.ts `loadOrCreateSecret`). */
  secret: Uint8Array;
  /** A libp2p host to dial from; one is created (and stopped with the validator) when omitted. */
  p2p?: Libp2p;
  log?: Logger;
  metrics?: MetricsRegistry;
  now?: () => number;
  /**
   * Randomness for nonces and retrieval sampling; default node:crypto. Each draw names the miner it
   * is for, so a seeded source can give every miner the same draws whatever order the concurrent
   * round visits them in (the simulator does).
   */
  random?: (n: number, miner: MinerRecord) => Uint8Array;
}

/** The validator cannot run; the message says what to do. */
export class ValidatorStartError extends NodeError {
  override name = "ValidatorStartError";
}

/**
 * A miner's reply broke the protocol: an answer to another request, a type that does not answer
 * the request, an oversize or malformed frame, more evictions than a reply may list. Recorded as
 * a failure (the miner answered, wrongly), never as a timeout.
 */
export class MinerProtocolError extends NodeError {
  override name = "MinerProtocolError";
}

/** What one round did, for logs, tests and the simulator. */
export interface RoundReport {
  block: number;
  miners: number;
  stored: number;
  challenges: { pass: number; fail: number; timeout: number };
  weights?: "set" | "committed" | "rate-limited" | "nothing-to-set";
  /** Pending weight commits revealed this round. */
  revealed: number;
}

export interface Validator {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Runs one full round now: sync, fill, challenge, and weights when due. `setWeights: false`
   * leaves the weights for a later round (the simulator sets them once per tempo, from its last
   * round; earlier settings would only be overwritten before the epoch).
   */
  runRound(options?: { setWeights?: boolean }): Promise<RoundReport>;
  /**
   * Current score per uid: the policy's score (in [0, 1]) times the chunks placed on the miner,
   * so weights follow proven capacity. Uids without a miner score 0.
   */
  scores(): Promise<number[]>;
  /** The miners, for the gateway's storage layer (./storage/): who they are and one request at a time. */
  readonly link: MinerLink;
}

interface MinerView {
  record: MinerRecord;
  uid: number;
}

/**
 * Where a visit stands with a miner: proven (the peer at its address signed for its hotkey),
 * refused (it did not, or another hotkey holds that peer or address), or unreachable.
 */
type Access =
  | { kind: "proven"; session: MinerSession }
  | { kind: "refused"; reason: string }
  | { kind: "unreachable"; reason: string };

function minerAddress(graph: Metagraph, uid: number, commitments: Map<string, Uint8Array>): string | null {
  const hotkey = graph.hotkeys[uid] as string;
  const committed = commitments.get(hotkey);
  if (committed) {
    const text = new TextDecoder().decode(committed);
    if (text.startsWith("/")) return text;
  }
  const axon = graph.axons[uid];
  if (axon && axon.port > 0 && axon.ip !== "0.0.0.0") {
    return tcpMultiaddrText(axon.ip, axon.port, axon.ipType === 6 ? 6 : 4);
  }
  return null;
}

/** The peer id a multiaddr names (its /p2p/ part), if any. */
function peerOf(address: string): string | undefined {
  try {
    return multiaddr(address)
      .getComponents()
      .find((c) => c.name === "p2p")?.value;
  } catch {
    return undefined;
  }
}

/** The host part of a multiaddr (ip4, ip6 or dns), if any. */
function hostOf(address: string | null): string | null {
  if (address === null) return null;
  try {
    return (
      multiaddr(address)
        .getComponents()
        .find((c) => ["ip4", "ip6", "dns", "dns4", "dns6"].includes(c.name))?.value ?? null
    );
  } catch {
    return null;
  }
}

/** Whether an error means the miner answered against the protocol (rather than not at all). */
function isProtocolViolation(error: unknown): boolean {
  return error instanceof MinerProtocolError || error instanceof CodecError;
}

/** A short reason for the challenge record: the violation, or the transport error's name. */
function failureReason(error: unknown): string {
  if (isProtocolViolation(error)) return `protocol: ${(error as Error).message}`.slice(0, 200);
  return error instanceof Error ? error.name : "error";
}

/** What a request may be answered with (an `error` reply is always possible). */
const ANSWERS: Partial<Record<MessageType, MessageType>> = {
  hello: "hello",
  store: "store-ack",
  retrieve: "retrieve-reply",
  challenge: "proof",
  evictions: "evictions-reply",
};

/**
 * @example
 * const validator = createValidator({ settings, chain, hotkey, db, secret });
 * await validator.start(); // rounds run until stop()
 */
export function createValidator(init: ValidatorInit): Validator {
  const { chain, hotkey, db, secret } = init;
  const settings = { ...DEFAULT_VALIDATOR_SETTINGS, ...init.settings };
  const chunkSize = settings.chunkSize ?? CHUNK_SIZE;
  const leafSize = settings.leafSize ?? LEAF_SIZE;
  const log = init.log ?? silentLogger();
  const now = init.now ?? (() => Date.now());
  const random = init.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
  const policy: ScoringPolicyImpl = createPolicy(settings.policy.name, settings.policy.params ?? {});
  /** Outcomes are recorded in batches, one transaction for those that arrive together (./outcome-batch.ts). */
  const outcomes = createOutcomeBatch({
    db,
    policies: [policy],
    onError: (error, record) =>
      log.warn("a challenge outcome could not be recorded", {
        minerId: record.minerId,
        error: String(error),
      }),
  });
  const storeId = hotkey.address;
  const metrics = init.metrics;
  const sent = metrics?.counter("validator_challenges_total", "Challenges by outcome", {
    labelNames: ["outcome"],
  });
  const weightsSet = metrics?.counter("validator_weights_set_total", "Weight settings submitted");
  const reachable = metrics?.gauge("validator_miners_reachable", "Miners that answered in the last round");
  const lastWeightBlock = metrics?.gauge("validator_last_weights_block", "Block of the last weight setting");

  let p2p = init.p2p;
  let ownsP2p = false;
  /** Streams kept open to miners between requests (one per miner across rounds, most of the time). */
  let streams: StreamPool | undefined;
  let signer: RequestSigner | undefined;
  let graph: Metagraph | undefined;
  /** The last chain read, with the block it was made at ({@link readChain}). */
  let chainView: { graph: Metagraph; commitments: Map<string, Uint8Array> } | undefined;
  let miners: MinerView[] = [];
  /** Every miner of the last sync, with or without an address (the storage layer's view). */
  let linked: LinkedMiner[] = [];
  /** Since when each miner has failed to answer; absent while it answers. */
  const unreachable = new Map<number, number>();
  let running = false;
  /** Rounds run so far. */
  let rounds = 0;
  /** Each miner's budget for us in chunks, as of its last `hello`, and the round of that hello. */
  const budgets = new Map<number, { chunks: number; round: number }>();
  /** Which miner holds which peer and address, once proven. */
  const sessions = createMinerSessions();
  /**
   * Miners whose visit is under way, by miner id. A round starts a visit only for a miner with
   * none, so in the running loop (which does not wait for visits) a slow miner delays only itself.
   */
  const visiting = new Map<number, Promise<void>>();
  /** Visits in progress at once, at most `concurrency`. */
  const queue = new Queue<void>({ concurrency: settings.concurrency });
  /** Aborted by stop(): ends every visit at once. */
  let stopping = new AbortController();
  /** Request ids: a reply must echo its request's. */
  let lastRequestId = 0;
  /** When the challenge history was last pruned. */
  let prunedAt = Number.NEGATIVE_INFINITY;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  /** Opens (or reuses) a connection to `address` and returns the peer that answered there. */
  async function connect(address: string, signal: AbortSignal): Promise<PeerId> {
    if (!p2p) throw new MinerProtocolError("the validator is not started");
    const named = peerOf(address);
    if (named !== undefined) {
      const peer = peerIdFromString(named);
      const open = p2p.getConnections(peer);
      if (open.length > 0) return peer;
    }
    // Opening the connection (TCP, noise, yamux) is not part of a request's deadline: on a busy
    // validator host handshakes queue up, and a miner must not lose a fill or a challenge to that.
    const connection = await p2p.dial(multiaddr(address), {
      signal: AbortSignal.any([AbortSignal.timeout(CONNECT_TIMEOUT_MS), signal]),
    });
    return connection.remotePeer;
  }

  /**
   * Sends one signed request to a proven miner and returns the reply's body. The reply must echo
   * the request id and be of the type that answers the request (or an `error`); anything else is
   * a {@link MinerProtocolError}.
   */
  async function ask(
    m: MinerView,
    session: MinerSession,
    body: Message,
    timeoutMs: number,
    signal: AbortSignal,
    maxFrameSize = MAX_FRAME_SIZE,
  ): Promise<Message> {
    if (!p2p || !signer) throw new MinerProtocolError("the validator is not started");
    const peer = await connect(session.address, signal);
    if (peer.toString() !== session.peer) {
      // Another peer answers at the address now: it has proven nothing.
      sessions.release(m.record.id);
      throw new MinerProtocolError(`another peer (${peer.toString()}) answers at the miner's address`);
    }
    return exchange(peer, m.record.hotkey, body, timeoutMs, signal, maxFrameSize);
  }

  async function exchange(
    peer: PeerId,
    /** The miner's hotkey: the request names it as its recipient, so no other miner accepts it. */
    minerHotkey: string,
    body: Message,
    timeoutMs: number,
    signal: AbortSignal,
    maxFrameSize: number,
  ): Promise<Message> {
    if (!streams || !signer) throw new MinerProtocolError("the validator is not started");
    lastRequestId = (lastRequestId + 1) >>> 0;
    const requestId = lastRequestId;
    const envelope = signRequest(signer, body, { recipient: minerHotkey, requestId });
    const reply = await streams.request(peer, envelope, {
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]),
      maxFrameSize,
    });
    if (reply.requestId !== requestId) {
      throw new MinerProtocolError(`a reply to request ${reply.requestId}, not ${requestId}`);
    }
    // A challenge that asks for evictions is answered by them when there are any.
    const answersEvictions =
      body.type === "challenge" && body.evictionsSince !== undefined && reply.body.type === "evictions-reply";
    if (reply.body.type !== "error" && reply.body.type !== ANSWERS[body.type] && !answersEvictions) {
      throw new MinerProtocolError(`a ${reply.body.type} does not answer a ${body.type}`);
    }
    return reply.body;
  }

  /**
   * Says hello to the peer at the miner's address and checks its proof of the miner's hotkey;
   * records the budget it offers. Returns the session when proven, or why not.
   */
  async function hello(m: MinerView, peer: PeerId, address: string, signal: AbortSignal): Promise<Access> {
    const nonce = new Uint8Array(randomBytes(HELLO_NONCE_LENGTH));
    const reply = await exchange(
      peer,
      m.record.hotkey,
      {
        type: "hello",
        role: "validator",
        protocolVersion: PROTOCOL_VERSION,
        softwareVersion: "storage-subnet-validator/0.1.0",
        chunkSize,
        leafSize,
        capacity: null,
        nonce,
        proof: null,
      },
      5_000,
      signal,
      SMALL_FRAME_SIZE,
    );
    if (reply.type !== "hello") {
      sessions.release(m.record.id);
      return { kind: "refused", reason: reply.type === "error" ? `hello: error ${reply.code}` : "hello" };
    }
    if (!helloProves(reply, { nonce, validatorKey: hotkey.publicKey, minerHotkey: m.record.hotkey })) {
      sessions.release(m.record.id);
      return { kind: "refused", reason: "identity: the peer did not prove the miner's hotkey" };
    }
    const session = { address, peer: peer.toString() };
    if (!sessions.bind(m.record.id, session)) {
      return { kind: "refused", reason: "identity: another hotkey holds this peer or address" };
    }
    if (reply.capacity) {
      // The miner counts its budget in its own chunks, each chunk stored taking one whatever its
      // size: a miner of 1 MiB chunks holds as many of our 64 KiB chunks as of its own, not 16
      // times as many (counting in ours sent a refused store and a fresh hello every round).
      const unit = Math.max(chunkSize, reply.chunkSize);
      const target = Math.min(settings.maxChunksPerMiner, Math.floor(reply.capacity.budgetBytes / unit));
      budgets.set(m.record.id, { chunks: target, round: rounds });
    }
    return { kind: "proven", session };
  }

  /**
   * Makes sure the peer at the miner's committed address is the miner: a session proven at that
   * address, or a fresh hello. A changed address drops the old session and its connection, so
   * the next request goes to the new one. Throws when the miner cannot be reached.
   */
  async function prove(m: MinerView, signal: AbortSignal): Promise<Access> {
    const address = m.record.multiaddr as string;
    const proven = sessions.sessionOf(m.record.id, address);
    if (proven) return { kind: "proven", session: proven };
    const old = sessions.anySessionOf(m.record.id);
    if (old) {
      sessions.release(m.record.id);
      // Bounded by the caller's deadline: libp2p's hangUp waits for a `close` event with no timeout
      // of its own, and a connection already closing may never send it again.
      await p2p?.hangUp(peerIdFromString(old.peer), { signal }).catch(() => undefined);
    }
    const named = peerOf(address);
    const before = sessions.claimant(m.record.id, { address, ...(named ? { peer: named } : {}) });
    if (before !== undefined)
      return { kind: "refused", reason: "identity: another hotkey holds this address" };
    const peer = await connect(address, signal);
    if (sessions.claimant(m.record.id, { address, peer: peer.toString() }) !== undefined)
      return { kind: "refused", reason: "identity: another hotkey holds this peer" };
    return hello(m, peer, address, signal);
  }

  async function learnEvictions(m: MinerView, session: MinerSession, signal: AbortSignal): Promise<void> {
    const reply = await ask(
      m,
      session,
      { type: "evictions", storeId, sinceSeq: m.record.evictionSeq },
      5_000,
      signal,
      EVICTIONS_FRAME_SIZE,
    );
    if (reply.type === "evictions-reply") noteEvictions(m, reply);
  }

  /** Records the evictions a miner reported (in answer to `evictions` or to a challenge asking for them). */
  function noteEvictions(m: MinerView, reply: EvictionsReplyMessage): void {
    if (reply.storeId !== storeId) throw new MinerProtocolError("evictions of another store");
    if (reply.evicted.length > MAX_EVICTIONS_PER_REPLY) {
      throw new MinerProtocolError(
        `${reply.evicted.length} evictions in one reply (at most ${MAX_EVICTIONS_PER_REPLY})`,
      );
    }
    if (reply.evicted.length > 0 || reply.nextSeq !== m.record.evictionSeq) {
      // Only chunks placed on this miner are marked (the database checks each against its roots).
      db.recordEvictions(m.record.id, reply.evicted, reply.nextSeq);
    }
  }

  /** Whether {@link fill} has work (or a budget check) to do for the miner, as far as the validator knows. */
  function fillDue(id: number): boolean {
    const known = budgets.get(id);
    return !(
      known !== undefined &&
      rounds - known.round < BUDGET_RECHECK_ROUNDS &&
      db.evictedCount(id) === 0 &&
      db.chunkRootCount(id) >= known.chunks
    );
  }

  /**
   * Fills a miner's allocation up to its budget for us, a few chunks a round. Returns chunks stored.
   * A miner whose allocation is full and has evicted nothing is asked its budget again only every
   * {@link BUDGET_RECHECK_ROUNDS} rounds: a shrinking budget shows as evictions anyway, and the
   * `hello` was a third of a round's requests.
   */
  async function fill(m: MinerView, session: MinerSession, signal: AbortSignal): Promise<number> {
    const id = m.record.id;
    let known = budgets.get(id);
    if (!fillDue(id)) return 0;
    if (known?.round !== rounds) {
      const peer = await connect(session.address, signal);
      const access = await hello(m, peer, session.address, signal);
      if (access.kind !== "proven") throw new MinerProtocolError(access.reason);
      known = budgets.get(id);
      if (known?.round !== rounds) return 0;
    }
    // Refill evicted slots first, then the lowest free ones; never a slot a user piece holds or
    // is reserved for (the claim keeps a put from reserving a slot while it is being filled).
    const wanted = db.files.claimFillSlots(id, known.chunks, settings.fillPerRound);
    try {
      return await fillSlots(m, session, wanted, signal);
    } finally {
      db.files.releaseFillSlots(id, wanted);
    }
  }

  async function fillSlots(
    m: MinerView,
    session: MinerSession,
    wanted: readonly number[],
    signal: AbortSignal,
  ): Promise<number> {
    const id = m.record.id;
    let stored = 0;
    for (const chunkIndex of wanted) {
      const data = deriveChunk({
        secret,
        minerHotkey: m.record.hotkey,
        storeId,
        chunkIndex,
        size: chunkSize,
      });
      const reply = await ask(m, session, { type: "store", storeId, chunkIndex, data }, 30_000, signal);
      if (reply.type !== "store-ack") {
        log.debug("store refused", { miner: m.record.hotkey, chunkIndex, reply: reply.type });
        break;
      }
      const root = chunkRoot(data, leafSize);
      if (reply.chunkIndex !== chunkIndex || u8aToHex(reply.root) !== u8aToHex(root)) {
        log.warn("store acknowledged with a wrong root", { miner: m.record.hotkey, chunkIndex });
        break;
      }
      db.putChunkRoots(id, [{ chunkIndex, root }]);
      stored++;
    }
    if (stored > 0) db.setAllocation(id, { chunkCount: db.chunkRootCount(id), commitment: null }, now());
    return stored;
  }

  /** Records a protocol violation outside a challenge: the miner answered, against the rules. */
  function recordViolation(m: MinerView, reason: string): void {
    const outcome: ChallengeOutcome = { kind: "fail" };
    // A fresh id, not one of the seeded draws: a violation must not shift the challenges' draws.
    const id = new Uint8Array(randomBytes(NONCE_LENGTH));
    outcomes.record({ id, minerId: m.record.id, outcome, at: now(), reason });
    sent?.inc({ outcome: outcome.kind });
    log.debug("protocol violation", { miner: m.record.hotkey, reason });
  }

  /**
   * Challenges the miner and records the outcome. With `options.evictionsSince` the challenge also asks
   * for the miner's evictions since then: a miner with any answers with them instead of a proof,
   * and the result is "evictions" (recorded, the challenge not: the caller challenges again once it
   * has acted on them). `options.onAnswer` is called when the miner answered at all.
   */
  async function challenge(
    m: MinerView,
    access: Access,
    signal: AbortSignal,
    options: { evictionsSince?: number; onAnswer?: () => void } = {},
  ): Promise<ChallengeOutcome | "evictions" | undefined> {
    const id = m.record.id;
    const live = db.liveChunkCount(id);
    if (live === 0) return undefined;
    const nonce = random(NONCE_LENGTH, m.record);
    const start = now();
    const picked = createChallenge({
      storeId,
      chunkCount: live,
      // A user piece may be shorter than a chunk: its own leaves are challenged.
      leafCount: (position) => {
        const index = db.liveChunkAt(id, position);
        const size = index === undefined ? undefined : db.files.pieceSizeAt(id, index);
        return leafCountFor(size ?? chunkSize, leafSize);
      },
      chunksPerChallenge: Math.min(settings.chunksPerChallenge, live),
      leavesPerChunk: settings.leavesPerChunk,
      nonce,
      now: start,
      ttlMs: settings.challengeTimeoutMs,
    });
    // Picks index the live chunks; the miner knows chunks by their own indices (ascending either way).
    const chunks = picked.chunks.map((c) => ({ ...c, chunkIndex: db.liveChunkAt(id, c.chunkIndex) }));
    if (chunks.some((c) => c.chunkIndex === undefined)) return undefined;
    const challenge = { ...picked, chunks: chunks as typeof picked.chunks };
    let outcome: ChallengeOutcome;
    let reason: string | undefined;
    if (access.kind === "refused") {
      // Not the miner at that address (or it would not say): nothing is sent there on its behalf.
      outcome = { kind: "fail" };
      reason = access.reason;
    } else if (access.kind === "unreachable") {
      outcome = { kind: "timeout" };
      reason = access.reason;
    } else {
      try {
        const reply = await ask(
          m,
          access.session,
          { type: "challenge", challenge, evictionsSince: options.evictionsSince },
          settings.challengeTimeoutMs,
          signal,
        );
        const answeredAt = now();
        options.onAnswer?.();
        if (reply.type === "evictions-reply") {
          noteEvictions(m, reply);
          return "evictions";
        }
        if (reply.type !== "proof") {
          outcome = { kind: "fail" };
          reason = reply.type === "error" ? `error ${reply.code}` : reply.type;
          // "Not found": the miner says it lacks a challenged chunk without saying which, so each
          // user piece among them is treated as lost (a needless rebuild costs bandwidth; trusting
          // a miner that admits losing data could cost a file).
          if (reply.type === "error" && reply.code === ErrorCode.NotFound)
            for (const c of challenge.chunks) db.files.markPieceLost(id, c.chunkIndex);
        } else {
          const verdict = verifyResponse(challenge, reply.response, {
            rootOf: (i) => db.rootOf(id, i),
            now: answeredAt,
            leafSize,
          });
          if (verdict.ok) outcome = { kind: "pass", latencyMs: answeredAt - start };
          // Past the deadline but before the request's own timer: late, not wrong.
          else outcome = { kind: verdict.reason === "expired" ? "timeout" : "fail" };
          if (!verdict.ok) {
            reason = verdict.reason;
            // A user piece that fails its proof is lost: repair rebuilds it elsewhere.
            if ("chunkIndex" in verdict && verdict.chunkIndex !== undefined && verdict.reason !== "expired")
              db.files.markPieceLost(id, verdict.chunkIndex);
          }
        }
      } catch (err) {
        outcome = { kind: isProtocolViolation(err) ? "fail" : "timeout" };
        reason = failureReason(err);
      }
    }
    // Recorded under the nonce: a crash and retry can never count the same challenge twice.
    outcomes.record({ id: nonce, minerId: id, outcome, at: now(), ...(reason ? { reason } : {}) });
    sent?.inc({ outcome: outcome.kind });
    if (outcome.kind !== "pass") log.debug("challenge failed", { miner: m.record.hotkey, reason });
    return outcome;
  }

  /** Retrieves one random live chunk and checks it against its root; a mismatch counts as a failure. */
  async function spotRetrieve(m: MinerView, access: Access, signal: AbortSignal): Promise<void> {
    const id = m.record.id;
    const live = db.liveChunkCount(id);
    if (live === 0) return;
    const pick = db.liveChunkAt(id, (random(4, m.record).reduce((a, b) => a * 256 + b, 0) >>> 0) % live);
    const nonce = random(NONCE_LENGTH, m.record);
    if (pick === undefined) return;
    let outcome: ChallengeOutcome;
    const start = now();
    if (access.kind === "refused") outcome = { kind: "fail" };
    else if (access.kind === "unreachable") outcome = { kind: "timeout" };
    else {
      try {
        const reply = await ask(
          m,
          access.session,
          { type: "retrieve", storeId, chunkIndex: pick },
          30_000,
          signal,
        );
        const root = db.rootOf(id, pick);
        const ok =
          reply.type === "retrieve-reply" &&
          root !== undefined &&
          u8aToHex(chunkRoot(reply.data, leafSize)) === u8aToHex(root);
        outcome = ok ? { kind: "pass", latencyMs: now() - start } : { kind: "fail" };
        // Wrong bytes, or "not found": if the chunk is a user piece, repair rebuilds it elsewhere.
        if (
          !ok &&
          (reply.type === "retrieve-reply" || (reply.type === "error" && reply.code === ErrorCode.NotFound))
        )
          db.files.markPieceLost(id, pick);
      } catch (err) {
        outcome = { kind: isProtocolViolation(err) ? "fail" : "timeout" };
      }
    }
    outcomes.record({ id: nonce, minerId: id, outcome, at: now(), reason: "retrieve" });
  }

  /**
   * One miner's work in a round, under one deadline ({@link ValidatorSettings.minerDeadlineMs}):
   * prove who it is, learn its evictions, fill it, challenge it, now and then retrieve a chunk.
   */
  async function visit(m: MinerView, report: RoundReport, counts: { answered: number }): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(settings.minerDeadlineMs), stopping.signal]);
    let access: Access;
    try {
      access = await prove(m, signal);
    } catch (err) {
      access = isProtocolViolation(err)
        ? { kind: "refused", reason: failureReason(err) }
        : { kind: "unreachable", reason: failureReason(err) };
    }
    if (access.kind === "unreachable") noteUnreachable(m.record.id);
    const id = m.record.id;
    // Steady: nothing to fill, so the evictions travel with the challenge (one request, not two);
    // a miner with evictions answers with them, and the round goes on as if they had been asked first.
    const steady = access.kind === "proven" && !fillDue(id) && db.liveChunkCount(id) > 0;
    const prepare = async (session: MinerSession, askEvictions: boolean): Promise<void> => {
      try {
        if (askEvictions) await learnEvictions(m, session, signal);
        // A session proven earlier says nothing of now; an answer does.
        unreachable.delete(id);
        // Awaited before adding: `report.stored += await …` would add to the count read before
        // the wait and lose the other visits' stores.
        const stored = await fill(m, session, signal);
        report.stored += stored;
        counts.answered++;
      } catch (err) {
        if (isProtocolViolation(err)) recordViolation(m, failureReason(err));
        else {
          noteUnreachable(id);
          log.debug("miner unreachable", { miner: m.record.hotkey, error: String(err) });
        }
      }
    };
    if (access.kind === "proven" && !steady) await prepare(access.session, true);
    else if (access.kind !== "proven") log.debug("miner not proven", { miner: m.record.hotkey, ...access });
    let answered = false;
    let outcome = await challenge(
      m,
      access,
      signal,
      steady ? { evictionsSince: m.record.evictionSeq, onAnswer: () => (answered = true) } : {},
    );
    if (steady && access.kind === "proven") {
      if (outcome === "evictions") {
        await prepare(access.session, false);
        outcome = await challenge(m, access, signal);
      } else if (answered) {
        unreachable.delete(id);
        counts.answered++;
      } else if (outcome?.kind === "timeout") noteUnreachable(id);
    }
    if (outcome !== undefined && outcome !== "evictions") report.challenges[outcome.kind]++;
    if (random(1, m.record)[0]! / 256 < settings.retrieveProbability) await spotRetrieve(m, access, signal);
  }

  function noteUnreachable(minerId: number): void {
    if (!unreachable.has(minerId)) unreachable.set(minerId, now());
  }

  /** One request for the storage layer (or only the proof, without a body): proves the miner first when needed. */
  async function sendToMiner(
    minerId: number,
    body: Message | undefined,
    options: SendOptions,
  ): Promise<Message | undefined> {
    const m = miners.find((view) => view.record.id === minerId);
    if (m === undefined) throw new MinerLinkError("unreachable", `miner ${minerId} has no address`);
    const signal = AbortSignal.any([
      AbortSignal.timeout(options.timeoutMs),
      stopping.signal,
      ...(options.signal ? [options.signal] : []),
    ]);
    try {
      const access = await prove(m, signal);
      if (access.kind === "refused") throw new MinerLinkError("refused", access.reason);
      if (access.kind === "unreachable") throw new MinerLinkError("unreachable", access.reason);
      const reply =
        body === undefined
          ? undefined
          : await ask(m, access.session, body, options.timeoutMs, signal, options.maxFrameSize);
      unreachable.delete(minerId);
      return reply;
    } catch (err) {
      if (err instanceof MinerLinkError) {
        if (err.kind === "unreachable") noteUnreachable(minerId);
        throw err;
      }
      if (isProtocolViolation(err)) throw new MinerLinkError("protocol", failureReason(err), { cause: err });
      // The caller's own abort is not the miner's fault.
      if (!options.signal?.aborted) noteUnreachable(minerId);
      throw new MinerLinkError("unreachable", failureReason(err), { cause: err });
    }
  }

  const link: MinerLink = {
    storeId,
    chunkSize,
    leafSize,
    miners: () => linked,
    refresh: sync,
    budget: (minerId) => budgets.get(minerId)?.chunks,
    send: async (minerId, body, options) => (await sendToMiner(minerId, body, options)) as Message,
    async prepare(minerId, options) {
      await sendToMiner(minerId, undefined, options);
      return budgets.get(minerId)?.chunks;
    },
    unreachableSince: (minerId) => unreachable.get(minerId),
    recordRetrieval(minerId, outcome) {
      const id = new Uint8Array(randomBytes(NONCE_LENGTH));
      // Recorded at once, after the outcomes queued before it: the storage layer reads a miner's
      // record (its placement trust) right after.
      outcomes.flush();
      db.recordChallenge({ id, minerId, outcome, at: now(), reason: "retrieval" }, [policy]);
      sent?.inc({ outcome: outcome.kind });
    },
  };

  /**
   * The metagraph and commitments, read again only once the chain has moved past the block the
   * last read was made at: state at one block does not change, and decoding a metagraph is most of
   * a round's chain work (a simulator runs several rounds per tempo at one block; a validator
   * round over 64 in-process miners spent about a tenth of its time there). A commitment read that
   * lands on a later block than its metagraph makes the next round read both again.
   */
  async function readChain(): Promise<{ graph: Metagraph; commitments: Map<string, Uint8Array> }> {
    if (chainView !== undefined && (await chain.currentBlock()) === chainView.graph.block) return chainView;
    const read = await chain.metagraph(settings.netuid);
    chainView = { graph: read, commitments: await chain.commitments(settings.netuid) };
    return chainView;
  }

  async function sync(): Promise<void> {
    const view = await readChain();
    graph = view.graph;
    const commitments = view.commitments;
    const seenAt = now();
    const sightings: MinerSighting[] = [];
    for (let uid = 0; uid < graph.n; uid++) {
      const hotkeyAt = graph.hotkeys[uid] as string;
      if (hotkeyAt === hotkey.address) continue;
      sightings.push({ hotkey: hotkeyAt, uid, multiaddr: minerAddress(graph, uid, commitments), seenAt });
    }
    const records = db.upsertMiners(sightings);
    linked = records.map((record, i) => {
      const uid = sightings[i]?.uid as number;
      return {
        id: record.id,
        hotkey: record.hotkey,
        uid,
        coldkey: graph?.coldkeys[uid] ?? null,
        ip: hostOf(record.multiaddr),
        reachable: record.multiaddr !== null,
      };
    });
    miners = records.flatMap((record, i) =>
      sightings[i]?.multiaddr ? [{ record, uid: sightings[i].uid as number }] : [],
    );
    sessions.retain(new Set(miners.map((m) => m.record.id)));
  }

  async function computeScores(): Promise<number[]> {
    outcomes.flush();
    const n = graph?.n ?? 0;
    const scores = new Array<number>(n).fill(0);
    for (const m of miners) {
      const placed = db.chunkRootCount(m.record.id);
      if (placed === 0) continue;
      const provenShare = db.liveChunkCount(m.record.id) / placed;
      const state = db.scoreState(m.record.id, policy);
      scores[m.uid] = weighByChunksPlaced(policy.score(state, { provenShare }), placed);
    }
    return scores;
  }

  async function revealPending(): Promise<number> {
    let revealed = 0;
    for (const pending of db.pendingReveals()) {
      try {
        await chain.revealWeights(hotkey, pending as PendingReveal);
        db.deletePendingReveal(pending.commitHash);
        revealed++;
      } catch (err) {
        if (err instanceof ChainModuleError && err.error === "RevealTooEarly") continue;
        // Expired, superseded or unknown: the commit can never be revealed; forget it.
        log.warn("dropping a weights commit", { hash: pending.commitHash, error: String(err) });
        db.deletePendingReveal(pending.commitHash);
      }
    }
    return revealed;
  }

  async function maybeSetWeights(block: number): Promise<RoundReport["weights"]> {
    const last = db.lastWeightsBlock();
    if (last !== undefined && block - last < settings.weightsIntervalBlocks) return undefined;
    const outcome = await submitWeights(chain, hotkey, settings.netuid, toU16Weights(await computeScores()));
    if (outcome.kind === "committed") db.savePendingReveal(outcome.pending);
    if (outcome.kind === "set" || outcome.kind === "committed") {
      db.setLastWeightsBlock(block);
      weightsSet?.inc();
      lastWeightBlock?.set(block);
      log.info("weights submitted", { block, kind: outcome.kind });
    }
    return outcome.kind;
  }

  function pruneHistory(): void {
    const at = now();
    if (at - prunedAt < PRUNE_INTERVAL_MS) return;
    prunedAt = at;
    const pruned = db.pruneChallenges(at - settings.challengeRetentionMs);
    if (pruned > 0) log.debug("pruned challenge history", { records: pruned });
  }

  /**
   * A round: sync, a visit for every miner without one under way, then weights when due. With
   * `waitForMiners` (runRound) it returns once every visit it started is done; without (the
   * running loop) it returns at once and logs its report when its visits are done, so the next
   * round is not held up by a slow miner.
   */
  async function round(options: { setWeights?: boolean; waitForMiners: boolean }): Promise<RoundReport> {
    rounds++;
    const startedAt = now();
    await sync();
    const block = graph?.block ?? (await chain.currentBlock());
    const report: RoundReport = {
      revealed: 0,
      block,
      miners: miners.length,
      stored: 0,
      challenges: { pass: 0, fail: 0, timeout: 0 },
    };
    const counts = { answered: 0 };
    const started: Promise<void>[] = [];
    for (const m of miners) {
      if (visiting.has(m.record.id)) continue;
      const visited = queue
        .add(() => visit(m, report, counts))
        .catch((err: unknown) => log.warn("visit failed", { miner: m.record.hotkey, error: String(err) }))
        .finally(() => visiting.delete(m.record.id));
      visiting.set(m.record.id, visited);
      started.push(visited);
    }
    const visited = Promise.all(started).then(() => {
      // The round's last outcomes go to disk with its visits, not a batch delay later.
      outcomes.flush();
      reachable?.set(counts.answered);
    });
    if (options.waitForMiners) await visited;
    pruneHistory();
    try {
      report.revealed = await revealPending();
      if (options.setWeights !== false) {
        const weights = await maybeSetWeights(block);
        if (weights) report.weights = weights;
      }
    } catch (err) {
      log.warn("setting weights failed", { error: String(err) });
    }
    void visited.then(() =>
      log.info("round", { ...report, challenges: report.challenges, durationMs: now() - startedAt }),
    );
    return report;
  }

  return {
    async start() {
      await authReady();
      const uid = await chain.uidOf(settings.netuid, hotkey.address);
      if (uid === undefined) {
        throw new ValidatorStartError(
          `hotkey ${hotkey.address} is not registered on netuid ${settings.netuid}: register it first (burnedRegister)`,
        );
      }
      const g = await chain.metagraph(settings.netuid);
      if ((g.stake[uid] ?? 0n) === 0n) {
        throw new ValidatorStartError(
          `hotkey ${hotkey.address} (uid ${uid}) has no stake on netuid ${settings.netuid}, so it cannot earn a validator permit: add stake to it first`,
        );
      }
      signer = createRequestSigner(hotkey);
      if (!p2p) {
        p2p = await createP2PNode();
        ownsP2p = true;
      }
      streams = createStreamPool(p2p);
      stopping = new AbortController();
      running = true;
      if (!settings.autoRun) return;
      loop = (async () => {
        while (running) {
          try {
            await round({ waitForMiners: false });
          } catch (err) {
            log.warn("round failed", { error: String(err) });
          }
          if (!running) break;
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, settings.roundIntervalMs);
          });
        }
      })();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
      stopping.abort(new ValidatorStopError("the validator is stopping"));
      await Promise.allSettled([...visiting.values()]);
      outcomes.flush();
      streams?.close();
      streams = undefined;
      if (ownsP2p) await p2p?.stop();
    },
    runRound: (options = {}) => round({ ...options, waitForMiners: true }),
    scores: computeScores,
    link,
  };
}

/** The reason visits are aborted when the validator stops. */
class ValidatorStopError extends NodeError {
  override name = "ValidatorStopError";
}
