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
 */
import type { Libp2p } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import type { MinerBehaviour } from "../neurons/miner/miner.js";
import type { StoreManager } from "../neurons/miner/partition.js";
import { request } from "../neurons/p2p/node.js";
import { createEnvelope, type Envelope, ErrorCode } from "../protocol/messages.js";

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
