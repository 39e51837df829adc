/**
 * The validator: keeps miners honest. Each round it syncs the metagraph, fills every miner's
 * allocation with chunks only this validator can regenerate (derived per miner, so no two miners
 * hold the same bytes), challenges every miner on random chunks and leaves, now and then retrieves
 * a whole chunk, records each outcome once, and sets weights from the scores every few blocks.
 */
import { randomBytes } from "node:crypto";
import type { Libp2p } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { KeyringPair } from "@polkadot/keyring/types";
import { u8aToHex } from "@polkadot/util";
import type { ChainClient, Metagraph, PendingReveal } from "../../chain/client.js";
import { ChainModuleError } from "../../chain/errors.js";
import { submitWeights } from "../../chain/weights.js";
import { createChallenge, verifyResponse } from "../../protocol/challenge.js";
import { CHUNK_SIZE, LEAF_SIZE, NONCE_LENGTH } from "../../protocol/constants.js";
import { chunkRoot, leafCountFor } from "../../protocol/merkle.js";
import type { Message } from "../../protocol/messages.js";
import { type ChallengeOutcome, toU16Weights, weighByChunksPlaced } from "../../protocol/scoring.js";
import { authReady, createRequestSigner, type RequestSigner, signRequest } from "../auth.js";
import { defaultsOf, type ValidatorConfig, validatorConfigSchema } from "../config.js";
import { NodeError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import type { MetricsRegistry } from "../metrics.js";
import { createP2PNode, request, tcpMultiaddrText } from "../p2p/node.js";
import { deriveChunk } from "./data.js";
import { createPolicy, type ScoringPolicyImpl } from "./policy.js";
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
}

interface MinerView {
  record: MinerRecord;
  uid: number;
}

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

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

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
  let signer: RequestSigner | undefined;
  let graph: Metagraph | undefined;
  let miners: MinerView[] = [];
  let running = false;
  /** Rounds run so far. */
  let rounds = 0;
  /** Each miner's budget for us in chunks, as of its last `hello`, and the round of that hello. */
  const budgets = new Map<number, { chunks: number; round: number }>();
  /** When the challenge history was last pruned. */
  let prunedAt = Number.NEGATIVE_INFINITY;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  const ask = async (record: MinerRecord, body: Message, timeoutMs: number) => {
    if (!p2p || !signer || !record.multiaddr) throw new Error("miner has no address");
    const address = multiaddr(record.multiaddr);
    // Opening the connection (TCP, noise, yamux) is not part of a request's deadline: on a busy
    // validator host handshakes queue up, and a miner must not lose a fill or a challenge to that.
    const peer = address.getComponents().find((c) => c.name === "p2p")?.value;
    if (peer !== undefined && p2p.getConnections(peerIdFromString(peer)).length === 0)
      await p2p.dial(address, { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) });
    const reply = await request(p2p, address, signRequest(signer, body, { recipient: record.hotkey }), {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return reply.body;
  };

  async function sync(): Promise<void> {
    graph = await chain.metagraph(settings.netuid);
    const commitments = await chain.commitments(settings.netuid);
    const seenAt = now();
    const sightings: MinerSighting[] = [];
    for (let uid = 0; uid < graph.n; uid++) {
      const hotkeyAt = graph.hotkeys[uid] as string;
      if (hotkeyAt === hotkey.address) continue;
      sightings.push({ hotkey: hotkeyAt, uid, multiaddr: minerAddress(graph, uid, commitments), seenAt });
    }
    const records = db.upsertMiners(sightings);
    miners = records.flatMap((record, i) =>
      sightings[i]?.multiaddr ? [{ record, uid: sightings[i].uid as number }] : [],
    );
  }

  /** Live chunk indices of a miner: stored and not evicted, ascending. */
  function liveChunks(minerId: number): number[] {
    const evicted = new Set(db.evictedChunks(minerId));
    return db
      .chunkRoots(minerId)
      .map((e) => e.chunkIndex)
      .filter((i) => !evicted.has(i));
  }

  async function learnEvictions(m: MinerView): Promise<void> {
    const reply = await ask(m.record, { type: "evictions", storeId, sinceSeq: m.record.evictionSeq }, 5_000);
    if (
      reply.type === "evictions-reply" &&
      (reply.evicted.length > 0 || reply.nextSeq !== m.record.evictionSeq)
    ) {
      db.recordEvictions(m.record.id, reply.evicted, reply.nextSeq);
    }
  }

  /**
   * Fills a miner's allocation up to its budget for us, a few chunks a round. Returns chunks stored.
   * A miner whose allocation is full and has evicted nothing is asked its budget again only every
   * {@link BUDGET_RECHECK_ROUNDS} rounds: a shrinking budget shows as evictions anyway, and the
   * `hello` was a third of a round's requests.
   */
  async function fill(m: MinerView): Promise<number> {
    const known = budgets.get(m.record.id);
    if (
      known !== undefined &&
      rounds - known.round < BUDGET_RECHECK_ROUNDS &&
      db.evictedChunks(m.record.id).length === 0 &&
      db.chunkRootCount(m.record.id) >= known.chunks
    )
      return 0;
    const hello = await ask(
      m.record,
      {
        type: "hello",
        role: "validator",
        protocolVersion: 1,
        softwareVersion: "storage-subnet-validator/0.1.0",
        chunkSize,
        leafSize,
        capacity: null,
      },
      5_000,
    );
    if (hello.type !== "hello" || !hello.capacity) return 0;
    const target = Math.min(settings.maxChunksPerMiner, Math.floor(hello.capacity.budgetBytes / chunkSize));
    budgets.set(m.record.id, { chunks: target, round: rounds });
    const have = db.chunkRootCount(m.record.id);
    const evicted = new Set(db.evictedChunks(m.record.id));
    // Refill evicted slots first, then grow.
    const wanted: number[] = [];
    for (const i of evicted) if (wanted.length < settings.fillPerRound && i < target) wanted.push(i);
    for (let i = have; i < target && wanted.length < settings.fillPerRound; i++) wanted.push(i);
    let stored = 0;
    for (const chunkIndex of wanted) {
      const data = deriveChunk({
        secret,
        minerHotkey: m.record.hotkey,
        storeId,
        chunkIndex,
        size: chunkSize,
      });
      const reply = await ask(m.record, { type: "store", storeId, chunkIndex, data }, 30_000);
      if (reply.type !== "store-ack") {
        log.debug("store refused", { miner: m.record.hotkey, chunkIndex, reply: reply.type });
        break;
      }
      const root = chunkRoot(data, leafSize);
      if (u8aToHex(reply.root) !== u8aToHex(root)) {
        log.warn("store acknowledged with a wrong root", { miner: m.record.hotkey, chunkIndex });
        break;
      }
      db.putChunkRoots(m.record.id, [{ chunkIndex, root }]);
      stored++;
    }
    if (stored > 0)
      db.setAllocation(m.record.id, { chunkCount: db.chunkRootCount(m.record.id), commitment: null }, now());
    return stored;
  }

  async function challenge(m: MinerView): Promise<ChallengeOutcome | undefined> {
    const live = liveChunks(m.record.id);
    if (live.length === 0) return undefined;
    const nonce = random(NONCE_LENGTH, m.record);
    const start = now();
    const picked = createChallenge({
      storeId,
      chunkCount: live.length,
      leafCount: leafCountFor(chunkSize, leafSize),
      chunksPerChallenge: Math.min(settings.chunksPerChallenge, live.length),
      leavesPerChunk: settings.leavesPerChunk,
      nonce,
      now: start,
      ttlMs: settings.challengeTimeoutMs,
    });
    // Picks index the live list; the miner knows chunks by their own indices (ascending either way).
    const challenge = {
      ...picked,
      chunks: picked.chunks.map((c) => ({ ...c, chunkIndex: live[c.chunkIndex] as number })),
    };
    let outcome: ChallengeOutcome;
    let reason: string | undefined;
    try {
      const reply = await ask(m.record, { type: "challenge", challenge }, settings.challengeTimeoutMs);
      const answeredAt = now();
      if (reply.type !== "proof") {
        outcome = { kind: "fail" };
        reason = reply.type === "error" ? `error ${reply.code}` : reply.type;
      } else {
        const verdict = verifyResponse(challenge, reply.response, {
          rootOf: (i) => db.rootOf(m.record.id, i),
          now: answeredAt,
          leafSize,
        });
        outcome = verdict.ok ? { kind: "pass", latencyMs: answeredAt - start } : { kind: "fail" };
        if (!verdict.ok) reason = verdict.reason;
      }
    } catch (err) {
      outcome = { kind: "timeout" };
      reason = err instanceof Error ? err.name : "error";
    }
    // Recorded under the nonce: a crash and retry can never count the same challenge twice.
    db.recordChallenge(
      { id: nonce, minerId: m.record.id, outcome, at: now(), ...(reason ? { reason } : {}) },
      [policy],
    );
    sent?.inc({ outcome: outcome.kind });
    if (outcome.kind !== "pass") log.debug("challenge failed", { miner: m.record.hotkey, reason });
    return outcome;
  }

  /** Retrieves one random live chunk and checks it against its root; a mismatch counts as a failure. */
  async function spotRetrieve(m: MinerView): Promise<void> {
    const live = liveChunks(m.record.id);
    if (live.length === 0) return;
    const pick = live[(random(4, m.record).reduce((a, b) => a * 256 + b, 0) >>> 0) % live.length] as number;
    const nonce = random(NONCE_LENGTH, m.record);
    let outcome: ChallengeOutcome;
    const start = now();
    try {
      const reply = await ask(m.record, { type: "retrieve", storeId, chunkIndex: pick }, 30_000);
      const root = db.rootOf(m.record.id, pick);
      const ok =
        reply.type === "retrieve-reply" &&
        root !== undefined &&
        u8aToHex(chunkRoot(reply.data, leafSize)) === u8aToHex(root);
      outcome = ok ? { kind: "pass", latencyMs: now() - start } : { kind: "fail" };
    } catch {
      outcome = { kind: "timeout" };
    }
    db.recordChallenge({ id: nonce, minerId: m.record.id, outcome, at: now(), reason: "retrieve" }, [policy]);
  }

  async function computeScores(): Promise<number[]> {
    const n = graph?.n ?? 0;
    const scores = new Array<number>(n).fill(0);
    for (const m of miners) {
      const placed = db.chunkRootCount(m.record.id);
      if (placed === 0) continue;
      const provenShare = liveChunks(m.record.id).length / placed;
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

  async function runRound(options: { setWeights?: boolean } = {}): Promise<RoundReport> {
    rounds++;
    await sync();
    const block = graph?.block ?? (await chain.currentBlock());
    const report: RoundReport = {
      revealed: 0,
      block,
      miners: miners.length,
      stored: 0,
      challenges: { pass: 0, fail: 0, timeout: 0 },
    };
    let answered = 0;
    await forEachConcurrently(miners, settings.concurrency, async (m) => {
      try {
        await learnEvictions(m);
        report.stored += await fill(m);
        answered++;
      } catch (err) {
        log.debug("miner unreachable", { miner: m.record.hotkey, error: String(err) });
      }
      const outcome = await challenge(m);
      if (outcome) report.challenges[outcome.kind]++;
      if (random(1, m.record)[0]! / 256 < settings.retrieveProbability) await spotRetrieve(m);
    });
    reachable?.set(answered);
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
    log.info("round", { ...report, challenges: report.challenges });
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
      running = true;
      if (!settings.autoRun) return;
      loop = (async () => {
        while (running) {
          try {
            await runRound();
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
      if (ownsP2p) await p2p?.stop();
    },
    runRound,
    scores: computeScores,
  };
}
