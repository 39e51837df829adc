/**
 * The server side of the miner bench: the real miner (`createMiner`, over a chain that only holds
 * the bench subnet) and a raw libp2p server that moves the same bytes, started either in the
 * bench's own process or in a child process (bench/miner-bench-child.ts), as a validator and a
 * miner run on separate machines.
 */
import type { Libp2p, Stream } from "@libp2p/interface";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { authReady } from "../neurons/auth.js";
import { createMiner, type Miner } from "../neurons/miner/miner.js";
import { createP2PNode } from "../neurons/p2p/node.js";
import { CHUNK_SIZE } from "../protocol/constants.js";
import { createOneMinerSubnet } from "../test/support/one-miner-subnet.js";

const MiB = 1 << 20;
export const RAW_PROTOCOL = "/storage-subnet-bench/raw/1.0.0";
/** Bytes of a one-leaf proof frame (README: ~1.45 KB), for the raw round-trip baseline. */
export const PROOF_FRAME_BYTES = 1450;
/** The validator's and the miner's hotkey seeds: both processes derive the same keys. */
export const VALIDATOR_SEED = "//Bench//validator";
export const MINER_SEED = "//Bench//miner";

/** Where the bench talks to: the miner's and the raw server's listen addresses. */
export interface BenchTargets {
  miner: string;
  raw: string;
}

/** Servers the bench can restart without a tree cache and stop. */
export interface BenchServers {
  readonly targets: BenchTargets;
  /** Restarts the miner on the same database with `treeCacheBytes: 0`; resolves to its address. */
  restartCold(): Promise<string>;
  stop(): Promise<void>;
}

export async function benchKeys(): Promise<{ validator: KeyringPair; minerHotkey: KeyringPair }> {
  await cryptoWaitReady();
  await authReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  return { validator: keyring.addFromUri(VALIDATOR_SEED), minerHotkey: keyring.addFromUri(MINER_SEED) };
}

export async function send(stream: Stream, bytes: Uint8Array): Promise<void> {
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

/**
 * Starts the miner (storing under `dbRoot`) and the raw server in this process.
 *
 * @example const servers = await startBenchServers(dir); … await servers.stop();
 */
export async function startBenchServers(dbRoot: string): Promise<BenchServers> {
  const { validator, minerHotkey } = await benchKeys();
  const { chain, netuid } = await createOneMinerSubnet(validator, minerHotkey);
  const settings = {
    netuid,
    dbRoot,
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
  const start = async (treeCacheBytes?: number): Promise<Miner> => {
    const miner = createMiner({
      settings: treeCacheBytes === undefined ? settings : { ...settings, treeCacheBytes },
      chain,
      hotkey: minerHotkey,
      freeBytes: () => 4096 * MiB,
    });
    await miner.start();
    return miner;
  };
  let miner = await start();
  const rawServer = await createP2PNode();
  const payload = new Uint8Array(CHUNK_SIZE).fill(7);
  await startRawServer(rawServer, payload, new Uint8Array(PROOF_FRAME_BYTES));
  return {
    targets: { miner: miner.announcedAddress, raw: String(rawServer.getMultiaddrs()[0]) },
    async restartCold() {
      await miner.stop();
      miner = await start(0);
      return miner.announcedAddress;
    },
    async stop() {
      await miner.stop();
      await rawServer.stop();
    },
  };
}
