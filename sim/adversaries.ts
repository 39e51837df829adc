/**
 * Adversarial miner behaviours, each a documented {@link MinerBehaviour} that wraps the honest
 * miner. A new one is a function returning a MinerBehaviour; nothing else changes.
 *
 * | name | what it does | what should catch it |
 * |---|---|---|
 * | lazy | acknowledges every chunk but keeps only a fraction of them | challenges on dropped chunks fail |
 * | corrupting | answers challenges with some proven bytes flipped | the proof no longer hashes to the root |
 * | outsourcer | keeps nothing; answers challenges and retrievals by forwarding them to another miner | per-miner data: the other miner's bytes hash to other roots |
 * | slow | answers honestly, but only after a delay | the deadline, and the latency factor |
 * | refuse-reads | answers challenges, refuses every `retrieve` (a user's read) | reads score as failures: the gateway records each retrieval it serves |
 * | challenged-only | keeps only the chunks that get challenged; drops the others a few challenges after storing them | a user piece is a chunk like any other, so its challenges and reads fail once dropped |
 * | slow-reads | answers challenges at once, retrievals only after a delay | the piece timeout of reads (a late piece is rebuilt from others and the miner scored) |
 */
import type { Libp2p } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import type { Metagraph } from "../chain/client.js";
import type { MinerBehaviour } from "../neurons/miner/miner.js";
import type { StoreManager } from "../neurons/miner/partition.js";
import { request } from "../neurons/p2p/node.js";
import { createEnvelope, type Envelope, ErrorCode } from "../protocol/messages.js";
import { U16_MAX } from "../protocol/scoring.js";

/** A deterministic coin from (seed, index): experiments are reproducible. */
function coin(seed: number, index: number): number {
  let x = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) / 2 ** 32;
}

/** Keeps each acknowledged chunk with probability `keep`; the rest are deleted right after the ack. */
export function lazyMiner(options: { keep: number; seed?: number }): MinerBehaviour {
  const seed = options.seed ?? 1;
  return {
    name: "lazy",
    handle(req, honest, stores: StoreManager) {
      const reply = honest(req);
      const body = req.body;
      if (
        body.type === "store" &&
        reply.body.type === "store-ack" &&
        coin(seed, body.chunkIndex) >= options.keep
      ) {
        stores.store(body.storeId).delete(body.chunkIndex);
      }
      return reply;
    },
  };
}

/** Flips one byte of every proven leaf with probability `rate` (1: every proof is garbage). */
export function corruptingMiner(options: { rate: number; seed?: number }): MinerBehaviour {
  const seed = options.seed ?? 2;
  let count = 0;
  return {
    name: "corrupting",
    handle(req, honest) {
      const reply = honest(req);
      if (reply.body.type !== "proof" || coin(seed, count++) >= options.rate) return reply;
      const chunks = reply.body.response.chunks.map((c) => ({
        ...c,
        leaves: c.leaves.map((leaf) => {
          const copy = leaf.slice();
          copy[0] = (copy[0] ?? 0) ^ 0xff;
          return copy;
        }),
      }));
      return createEnvelope(
        { type: "proof", response: { ...reply.body.response, chunks } },
        { requestId: reply.requestId },
      );
    },
  };
}

/**
 * Stores nothing: acknowledges stores (computing the ack from the data in flight) and answers
 * challenges and retrievals by forwarding the validator's signed request to `target`.
 */
export function outsourcingMiner(options: { node: () => Libp2p; target: () => string }): MinerBehaviour {
  return {
    name: "outsourcer",
    async handle(req, honest, stores) {
      const body = req.body;
      if (body.type === "store") {
        const reply = honest(req);
        if (reply.body.type === "store-ack") stores.store(body.storeId).delete(body.chunkIndex);
        return reply;
      }
      if (body.type !== "challenge" && body.type !== "retrieve") return honest(req);
      try {
        const forwarded: Envelope = await request(options.node(), multiaddr(options.target()), req, {
          signal: AbortSignal.timeout(10_000),
        });
        return createEnvelope(forwarded.body, { requestId: req.requestId });
      } catch {
        return createEnvelope(
          { type: "error", code: ErrorCode.NotFound, message: "not available" },
          { requestId: req.requestId },
        );
      }
    },
  };
}

/** Answers honestly after `delayMs`. */
export function slowMiner(options: { delayMs: number }): MinerBehaviour {
  return {
    name: "slow",
    async handle(req, honest) {
      await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      return honest(req);
    },
  };
}

/**
 * Answers challenges honestly after `delayMs`, everything else at once: the simulator's `slow`
 * (a miner near its deadline, e.g. fetching from slow storage). {@link slowMiner} delays every
 * request, which makes filling it take `delayMs` per chunk.
 */
export function slowProver(options: { delayMs: number }): MinerBehaviour {
  const slow = slowMiner(options);
  return {
    name: "slow",
    handle(req, honest, stores) {
      return req.body.type === "challenge" ? slow.handle(req, honest, stores) : honest(req);
    },
  };
}

/** Answers challenges honestly and refuses every `retrieve`: a user's read is never served. */
export function readRefuser(): MinerBehaviour {
  return {
    name: "refuse-reads",
    handle(req, honest) {
      if (req.body.type !== "retrieve") return honest(req);
      return createEnvelope(
        { type: "error", code: ErrorCode.NotFound, message: "not available" },
        { requestId: req.requestId },
      );
    },
  };
}

/**
 * Keeps only the chunks it sees challenged. A miner cannot tell a user's piece from the
 * validator's synthetic fill (both are chunks of the validator's store), so it watches which
 * chunks get challenged and drops a chunk never challenged within `afterChallenges` challenges
 * (of any chunk of that store) after it was stored. Counting challenges rather than wall time
 * keeps the run reproducible.
 */
export function challengedOnlyMiner(options: { afterChallenges: number }): MinerBehaviour {
  /** Per store: chunks stored and not yet challenged, with the store's challenge count then. */
  const waiting = new Map<string, Map<number, number>>();
  const challenges = new Map<string, number>();
  return {
    name: "challenged-only",
    handle(req, honest, stores) {
      const body = req.body;
      if (body.type === "store") {
        const reply = honest(req);
        if (reply.body.type === "store-ack") {
          const list = waiting.get(body.storeId) ?? new Map<number, number>();
          list.set(body.chunkIndex, challenges.get(body.storeId) ?? 0);
          waiting.set(body.storeId, list);
        }
        return reply;
      }
      if (body.type !== "challenge") return honest(req);
      const storeId = body.challenge.storeId;
      const seen = (challenges.get(storeId) ?? 0) + 1;
      challenges.set(storeId, seen);
      const list = waiting.get(storeId);
      if (list) {
        for (const c of body.challenge.chunks) list.delete(c.chunkIndex);
        for (const [chunkIndex, at] of list) {
          if (seen - at < options.afterChallenges) continue;
          stores.store(storeId).delete(chunkIndex);
          list.delete(chunkIndex);
        }
      }
      return honest(req);
    },
  };
}

/** Answers challenges at once and every `retrieve` only after `delayMs`. */
export function slowReader(options: { delayMs: number }): MinerBehaviour {
  const slow = slowMiner(options);
  return {
    name: "slow-reads",
    handle(req, honest, stores) {
      return req.body.type === "retrieve" ? slow.handle(req, honest, stores) : honest(req);
    },
  };
}

/**
 * Adversaries the simulator carries out around the node rather than inside its request handler:
 *
 * | name | what it does | what should catch it |
 * |---|---|---|
 * | offline | serves honestly, then is stopped for good from a given tempo | challenges time out |
 * | churning | alternates `period` tempos online and `period` offline (stopped, then restarted on the same store and peer key) | timeouts while away |
 * | sybil | honest, but `group` consecutive sybil hotkeys split one disk: each offers 1/group of a miner's free space | nothing needs to: the validator pays per chunk placed, so the split earns what one miner would |
 *
 * sybil is an approximation: with per-miner derived data, several hotkeys cannot share one copy
 * of the data (that would be an outsourcer); what they can share is the disk, so each identity
 * runs a full honest node on a fraction of it.
 */
export const ADVERSARY_NAMES = [
  "lazy",
  "corrupting",
  "outsourcer",
  "slow",
  "offline",
  "churning",
  "sybil",
  "refuse-reads",
  "challenged-only",
  "slow-reads",
] as const;
export type AdversaryName = (typeof ADVERSARY_NAMES)[number];

/** Whether a miner is up during tempo `tempo` (1-based). */
export type OnlineSchedule = (tempo: number) => boolean;

/** Up before `fromTempo`, down from it on. */
export function offlineSchedule(fromTempo: number): OnlineSchedule {
  return (tempo) => tempo < fromTempo;
}

/** Up for `period` tempos, down for `period`, and so on, starting up. */
export function churningSchedule(period: number): OnlineSchedule {
  return (tempo) => Math.floor((tempo - 1) / period) % 2 === 0;
}

/** An adversary's knobs, as plain data (they cross to a node process in `--mode process`). */
export interface AdversarySettings {
  seed: number;
  lazyKeep: number;
  corruptRate: number;
  slowDelayMs: number;
  offlineFromTempo: number;
  churnPeriod: number;
  sybilGroup: number;
  /** challenged-only: challenges of a store after which a never-challenged chunk is dropped. */
  dropAfterChallenges: number;
  /** slow-reads: delay of every retrieval answer. */
  readDelayMs: number;
}

export interface AdversaryOptions extends AdversarySettings {
  /** For outsourcer: the libp2p host it forwards from, and the address of the miner it forwards to. */
  node: () => Libp2p;
  target: () => string;
}

/** One miner's adversarial setup: how it answers, when it is up, and what share of a disk it offers. */
export interface Adversary {
  behaviour?: MinerBehaviour;
  online: OnlineSchedule;
  diskShare: number;
}

/** Builds the named adversary. New ones are a case here and a name in {@link ADVERSARY_NAMES}. */
export function createAdversary(name: AdversaryName, options: AdversaryOptions): Adversary {
  const always: OnlineSchedule = () => true;
  const base = { online: always, diskShare: 1 };
  switch (name) {
    case "lazy":
      return { ...base, behaviour: lazyMiner({ keep: options.lazyKeep, seed: options.seed }) };
    case "corrupting":
      return { ...base, behaviour: corruptingMiner({ rate: options.corruptRate, seed: options.seed }) };
    case "outsourcer":
      return { ...base, behaviour: outsourcingMiner({ node: options.node, target: options.target }) };
    case "slow":
      return { ...base, behaviour: slowProver({ delayMs: options.slowDelayMs }) };
    case "offline":
      return { ...base, online: offlineSchedule(options.offlineFromTempo) };
    case "churning":
      return { ...base, online: churningSchedule(options.churnPeriod) };
    case "sybil":
      return { ...base, diskShare: 1 / options.sybilGroup };
    case "refuse-reads":
      return { ...base, behaviour: readRefuser() };
    case "challenged-only":
      return { ...base, behaviour: challengedOnlyMiner({ afterChallenges: options.dropAfterChallenges }) };
    case "slow-reads":
      return { ...base, behaviour: slowReader({ delayMs: options.readDelayMs }) };
  }
}

/**
 * Validator adversaries: they never challenge anyone; once per tempo they set weights computed
 * from what the chain shows them.
 *
 * | name | weights | what should catch it |
 * |---|---|---|
 * | copier | the consensus (per-uid `Consensus`) of the last epoch: free-riding on the honest validators' work | Yuma's bonds: a copier lags the consensus by one epoch |
 * | lazy-validator | uniformly random per miner, fresh every tempo | Yuma's clipping to consensus, so its dividends fall |
 */
export const VALIDATOR_ADVERSARY_NAMES = ["copier", "lazy-validator"] as const;
export type ValidatorAdversaryName = (typeof VALIDATOR_ADVERSARY_NAMES)[number];

export interface ValidatorAdversary {
  readonly name: ValidatorAdversaryName;
  /** Scores per uid (0 for itself), from the metagraph read at the start of the tempo. */
  weights(input: { graph: Metagraph; self: number; tempo: number; minerUids: readonly number[] }): number[];
}

/** Copies the last epoch's consensus. */
export function weightCopier(): ValidatorAdversary {
  return {
    name: "copier",
    weights({ graph, self, minerUids }) {
      const out = new Array<number>(graph.n).fill(0);
      for (const uid of minerUids) if (uid !== self) out[uid] = (graph.consensus[uid] ?? 0) / U16_MAX;
      return out;
    },
  };
}

/** Random weights from (seed, tempo): never looks at any miner. */
export function lazyValidator(options: { seed: number }): ValidatorAdversary {
  return {
    name: "lazy-validator",
    weights({ graph, self, tempo, minerUids }) {
      const out = new Array<number>(graph.n).fill(0);
      for (const uid of minerUids) if (uid !== self) out[uid] = coin(options.seed + tempo * 100_003, uid);
      return out;
    },
  };
}

export function createValidatorAdversary(name: ValidatorAdversaryName, seed: number): ValidatorAdversary {
  return name === "copier" ? weightCopier() : lazyValidator({ seed });
}
