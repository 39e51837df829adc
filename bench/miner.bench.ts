/**
 * The miner over libp2p on loopback against a raw libp2p stream moving the same bytes in the same
 * run: store and retrieve throughput of 1 MiB chunks (one request per stream, one in flight, as a
 * validator's fill sends them; and stores four in flight, as several pieces for one miner go),
 * and challenge round-trip latency for a one-leaf proof, against a raw round trip of the same
 * size. Goals (issue 18): store ≥ 0.8 and retrieve ≥ 0.9 of raw; challenge p50 ≤ 1.2 × raw.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Libp2p, Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import { authReady, createRequestSigner, signRequest } from "../neurons/auth.js";
import { createMiner, type Miner } from "../neurons/miner/miner.js";
import { createP2PNode, request } from "../neurons/p2p/node.js";
import { CHUNK_SIZE } from "../protocol/constants.js";
import type { Message } from "../protocol/messages.js";
import { MemoryChainClient } from "../test/support/memory-chain-client.js";
import { type BenchGroup, measured, percentile } from "./harness.js";

const MiB = 1 << 20;
const RAW_PROTOCOL = "/storage-subnet-bench/raw/1.0.0";
/** Bytes of a one-leaf proof frame (README: ~1.45 KB), for the raw round-trip baseline. */
const PROOF_FRAME_BYTES = 1450;
/** Store requests in flight in the pipelined figure. */
const PIPELINE = 4;

/**
 * Just enough chain for a miner that does not publish: a subnet where the validator holds a permit.
 */
async function benchChain(
  validator: KeyringPair,
  minerHotkey: KeyringPair,
): Promise<{ chain: MemoryChainClient; netuid: number }> {
  const chain = new MemoryChainClient();
  const { netuid } = await bootstrapSubnet(chain, {
    sudo: validator,
    // The validator owns the subnet (uid 0); the miner is uid 1.
    ownerHotkey: validator.address,
    registrations: [{ coldkey: minerHotkey, hotkey: minerHotkey.address }],
    stakes: [{ coldkey: validator, hotkey: validator.address, amountRao: 1_000n }],
    firstEpoch: (id) => chain.advance(chain.blocksToEpoch(id)),
  });
  return { chain, netuid };
}

/** Reads until `bytes` arrived on the stream. */
async function drain(stream: Stream, bytes: number): Promise<void> {
  let got = 0;
  for await (const chunk of stream) {
    got += chunk.byteLength;
    if (got >= bytes) return;
  }
}

async function send(stream: Stream, bytes: Uint8Array): Promise<void> {
  if (!stream.send(bytes)) await stream.onDrain();
}

/**
 * A raw server: the request's first byte says what to do. 1 = "upload": read CHUNK_SIZE bytes,
 * answer 4 bytes. 2 = "download": answer CHUNK_SIZE bytes. 3 = "ping": answer a proof-sized frame.
 */
async function startRawServer(node: Libp2p, payload: Uint8Array, proof: Uint8Array): Promise<void> {
  await node.handle(RAW_PROTOCOL, async (stream) => {
    let kind = 0;
    let got = 0;
    for await (const chunk of stream) {
      if (kind === 0) kind = chunk instanceof Uint8Array ? (chunk[0] ?? 0) : chunk.get(0);
      got += chunk.byteLength;
      if (kind !== 1 || got >= CHUNK_SIZE + 1) break;
    }
    await send(stream, kind === 1 ? new Uint8Array(4) : kind === 2 ? payload : proof);
    await stream.close();
  });
}

async function rawExchange(
  client: Libp2p,
  target: ReturnType<typeof multiaddr>,
  out: Uint8Array,
  inBytes: number,
) {
  const stream = await client.dialProtocol(target, RAW_PROTOCOL);
  await send(stream, out);
  await stream.close();
  await drain(stream, inBytes);
}

export const minerBench: BenchGroup = {
  name: "miner",
  description: "miner store/retrieve MiB/s and challenge latency over libp2p, vs a raw libp2p stream",
  async run(report, signal) {
    await cryptoWaitReady();
    await authReady();
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const validator = keyring.addFromUri("//Bench//validator");
    const signer = createRequestSigner(validator);
    const minerHotkey = keyring.addFromUri("//Bench//miner");
    const dir = mkdtempSync(join(tmpdir(), "miner-bench-"));
    const chunks = Array.from({ length: 8 }, () => randomBytes(CHUNK_SIZE));
    const { chain, netuid } = await benchChain(validator, minerHotkey);
    const settings = {
      netuid,
      dbRoot: dir,
      chunkSize: CHUNK_SIZE,
      threshold: 1,
      listen: { ip: "127.0.0.1", port: 0 },
      announce: false,
      metagraphIntervalMs: 3_600_000,
      limits: { requestsPerSecond: 100_000, burst: 100_000 },
      // The bench times the request path back to back; the per-validator cost budget would pace it
      // (test/validator-starvation.test.ts covers the budget).
      costBudget: { bytesPerSecond: Number.MAX_SAFE_INTEGER, burstBytes: Number.MAX_SAFE_INTEGER },
    };
    let miner: Miner | undefined;
    const client = await createP2PNode();
    const rawServer = await createP2PNode();
    try {
      miner = createMiner({ settings, chain, hotkey: minerHotkey, freeBytes: () => 4096 * MiB });
      await miner.start();
      const target = multiaddr(miner.announcedAddress);
      const ask = (body: Message) =>
        request(client, target, signRequest(signer, body, { recipient: minerHotkey.address }), {
          signal: AbortSignal.timeout(30_000),
        });
      await startRawServer(rawServer, chunks[0] as Uint8Array, new Uint8Array(PROOF_FRAME_BYTES));
      const rawTarget = rawServer.getMultiaddrs()[0] as ReturnType<typeof multiaddr>;
      const upload = new Uint8Array(CHUNK_SIZE + 1);
      upload[0] = 1;

      // Warm up both paths (connections, JIT).
      for (let i = 0; i < 3; i++) {
        await ask({
          type: "store",
          storeId: validator.address,
          chunkIndex: 1000 + i,
          data: chunks[i] as Uint8Array,
        });
        await rawExchange(client, rawTarget, upload, 4);
      }

      // Store, interleaving rounds of raw and miner so load on the machine hits both alike.
      const rounds = 4;
      const perRound = 12;
      let rawStoreMs = 0;
      let minerStoreMs = 0;
      let index = 0;
      for (let r = 0; r < rounds && !signal.aborted; r++) {
        let t = performance.now();
        for (let i = 0; i < perRound; i++) await rawExchange(client, rawTarget, upload, 4);
        rawStoreMs += performance.now() - t;
        t = performance.now();
        for (let i = 0; i < perRound; i++) {
          const data = chunks[index % chunks.length] as Uint8Array;
          const reply = await ask({ type: "store", storeId: validator.address, chunkIndex: index++, data });
          if (reply.body.type !== "store-ack")
            throw new Error(`store refused: ${JSON.stringify(reply.body)}`);
        }
        minerStoreMs += performance.now() - t;
      }
      const oneInFlight = index;
      const rawStore = oneInFlight / (rawStoreMs / 1000);
      report(
        measured(
          "miner.store",
          oneInFlight / (minerStoreMs / 1000),
          "MiB/s",
          rawStore,
          "1 MiB chunks, one in flight, durable ack + Merkle root; baseline: raw libp2p stream upload; goal ≥ 0.8",
        ),
      );

      // Pipelined: PIPELINE requests in flight on the one connection (a stream each), as a
      // validator storing several pieces on one miner sends them; the raw baseline moves the same
      // bytes with as many uploads in flight.
      let rawPipedMs = 0;
      let minerPipedMs = 0;
      let piped = 0;
      const inFlight = async (count: number, one: () => Promise<void>) => {
        let left = count;
        await Promise.all(
          Array.from({ length: PIPELINE }, async () => {
            while (left-- > 0) await one();
          }),
        );
      };
      for (let r = 0; r < rounds && !signal.aborted; r++) {
        let t = performance.now();
        await inFlight(perRound, () => rawExchange(client, rawTarget, upload, 4));
        rawPipedMs += performance.now() - t;
        t = performance.now();
        await inFlight(perRound, async () => {
          const data = chunks[index % chunks.length] as Uint8Array;
          const reply = await ask({ type: "store", storeId: validator.address, chunkIndex: index++, data });
          if (reply.body.type !== "store-ack")
            throw new Error(`store refused: ${JSON.stringify(reply.body)}`);
        });
        minerPipedMs += performance.now() - t;
        piped += perRound;
      }
      report(
        measured(
          "miner.store.pipelined",
          piped / (minerPipedMs / 1000),
          "MiB/s",
          piped / (rawPipedMs / 1000),
          `1 MiB chunks, ${PIPELINE} in flight, acknowledged by group commit; baseline: raw uploads, ${PIPELINE} in flight`,
        ),
      );
      const storedMiB = index;

      // Retrieve.
      const download = Uint8Array.of(2);
      let rawGetMs = 0;
      let minerGetMs = 0;
      let gets = 0;
      for (let r = 0; r < rounds && !signal.aborted; r++) {
        let t = performance.now();
        for (let i = 0; i < perRound; i++) await rawExchange(client, rawTarget, download, CHUNK_SIZE);
        rawGetMs += performance.now() - t;
        t = performance.now();
        for (let i = 0; i < perRound; i++) {
          const reply = await ask({
            type: "retrieve",
            storeId: validator.address,
            chunkIndex: gets++ % storedMiB,
          });
          if (reply.body.type !== "retrieve-reply") throw new Error("retrieve failed");
        }
        minerGetMs += performance.now() - t;
      }
      report(
        measured(
          "miner.retrieve",
          gets / (minerGetMs / 1000),
          "MiB/s",
          gets / (rawGetMs / 1000),
          "1 MiB chunks, one in flight; baseline: raw libp2p stream download; goal ≥ 0.9",
        ),
      );

      // Challenge round trips: one chunk, one leaf.
      const ping = Uint8Array.of(3);
      const rawRtt: number[] = [];
      const challengeRtt: number[] = [];
      const challengeOnce = async (): Promise<number> => {
        const challenge = {
          storeId: validator.address,
          chunks: [
            {
              chunkIndex: Math.floor(Math.random() * storedMiB),
              leafIndices: [Math.floor(Math.random() * 1024)],
            },
          ],
          nonce: randomBytes(32),
          deadline: Date.now() + 10_000,
        };
        const t = performance.now();
        const reply = await ask({ type: "challenge", challenge });
        const ms = performance.now() - t;
        if (reply.body.type !== "proof") throw new Error("challenge failed");
        return ms;
      };
      for (let i = 0; i < 300 && !signal.aborted; i++) {
        let t = performance.now();
        await rawExchange(client, rawTarget, ping, PROOF_FRAME_BYTES);
        rawRtt.push(performance.now() - t);
        t = performance.now();
        challengeRtt.push(await challengeOnce());
      }
      const note = "one-leaf proof of a 1 MiB chunk; baseline: raw round trip of a proof-sized reply";
      report(
        measured(
          "miner.challenge.p50",
          percentile(challengeRtt, 50),
          "ms",
          percentile(rawRtt, 50),
          `${note}; goal ≤ 1.2 × raw`,
        ),
      );
      report(
        measured("miner.challenge.p99", percentile(challengeRtt, 99), "ms", percentile(rawRtt, 99), note),
      );

      // Cold: without the tree cache a challenge is answered from the tree levels stored beside
      // the chunk (neurons/miner/tree-cache.ts), rehashing one 16-leaf subtree.
      await miner.stop();
      miner = createMiner({
        settings: { ...settings, treeCacheBytes: 0 },
        chain,
        hotkey: minerHotkey,
        freeBytes: () => 4096 * MiB,
      });
      await miner.start();
      const coldTarget = multiaddr(miner.announcedAddress);
      const cold: number[] = [];
      for (let i = 0; i < 40 && !signal.aborted; i++) {
        const challenge = {
          storeId: validator.address,
          chunks: [{ chunkIndex: i % storedMiB, leafIndices: [7] }],
          nonce: randomBytes(32),
          deadline: Date.now() + 10_000,
        };
        const t = performance.now();
        const reply = await request(
          client,
          coldTarget,
          signRequest(signer, { type: "challenge", challenge }, { recipient: minerHotkey.address }),
        );
        cold.push(performance.now() - t);
        if (reply.body.type !== "proof") throw new Error("challenge failed");
      }
      report(
        measured(
          "miner.challenge.cold.p50",
          percentile(cold, 50),
          "ms",
          percentile(rawRtt, 50),
          "no cached tree: levels stored beside the chunk + one 16-leaf subtree; baseline: raw round trip",
        ),
      );
    } finally {
      await miner?.stop();
      await client.stop();
      await rawServer.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
