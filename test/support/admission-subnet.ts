/**
 * What the miner admission tests share: an in-memory subnet with one permitted validator and the
 * miner registered, a miner on loopback with the test's limits, signed requests, libp2p nodes
 * that dial from another loopback address (loopback has a whole /8, so per-IP limits see
 * 127.0.x.y as other hosts) and small waiting and metrics helpers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import type { Libp2p } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { createLibp2p } from "libp2p";
import { authReady, createRequestSigner, type RequestSigner, signRequest } from "../../neurons/auth.js";
import { createMetricsRegistry, type MetricsRegistry } from "../../neurons/metrics.js";
import { createMiner, type Miner, type MinerSettings } from "../../neurons/miner/miner.js";
import { request } from "../../neurons/p2p/node.js";
import type { Envelope, Message } from "../../protocol/messages.js";
import type { MemoryChainClient } from "./memory-chain-client.js";
import { createOneMinerSubnet } from "./one-miner-subnet.js";

export const CHUNK = 64 * 1024;

export interface StartedMiner {
  miner: Miner;
  target: Multiaddr;
  metrics: MetricsRegistry;
}

export interface AdmissionSubnet {
  /** A staked hotkey with a validator permit. */
  validator: KeyringPair;
  signer: RequestSigner;
  minerHotkey: KeyringPair;
  chain: MemoryChainClient;
  netuid: number;
  /** A miner on 127.0.0.1 with a fresh store folder; `overrides` set its limits. */
  startMiner(overrides?: Partial<MinerSettings>): Promise<StartedMiner>;
  /** Sends `body` signed by `as` (default the validator) to the miner and reads the reply. */
  ask(
    node: Libp2p,
    target: Multiaddr,
    body: Message,
    options?: { as?: RequestSigner; timeoutMs?: number },
  ): Promise<Envelope>;
  /** Removes the store folders. */
  cleanUp(): void;
}

/**
 * @example
 * const subnet = await createAdmissionSubnet();
 * const { miner, target } = await subnet.startMiner({ admission: { maxFailures: 3 } });
 */
export async function createAdmissionSubnet(): Promise<AdmissionSubnet> {
  await cryptoWaitReady();
  await authReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const validator = keyring.addFromUri("//Bob//validator");
  const minerHotkey = keyring.addFromUri("//Charlie//miner");
  const signer = createRequestSigner(validator);
  const { chain, netuid } = await createOneMinerSubnet(validator, minerHotkey);
  const dirs: string[] = [];
  return {
    validator,
    signer,
    minerHotkey,
    chain,
    netuid,
    async startMiner(overrides = {}) {
      const dir = mkdtempSync(join(tmpdir(), "miner-admission-"));
      dirs.push(dir);
      const metrics = createMetricsRegistry();
      const miner = createMiner({
        settings: {
          netuid,
          dbRoot: dir,
          chunkSize: CHUNK,
          threshold: 1,
          listen: { ip: "127.0.0.1", port: 0 },
          metagraphIntervalMs: 3_600_000,
          announce: false,
          ...overrides,
        },
        chain,
        hotkey: minerHotkey,
        metrics,
        freeBytes: () => 1024 * CHUNK,
      });
      await miner.start();
      return { miner, target: multiaddr(miner.announcedAddress), metrics };
    },
    ask(node, target, body, options = {}) {
      return request(
        node,
        target,
        signRequest(options.as ?? signer, body, { recipient: minerHotkey.address }),
        {
          signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
        },
      );
    },
    cleanUp() {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const hello: Message = {
  type: "hello",
  role: "validator",
  protocolVersion: 1,
  softwareVersion: "test",
  chunkSize: CHUNK,
  leafSize: 1024,
  capacity: null,
  nonce: new Uint8Array(32).fill(7),
  proof: null,
};

/** A libp2p node that dials from `source` (a loopback address other than 127.0.0.1). */
export async function nodeFrom(source: string): Promise<Libp2p> {
  return createLibp2p({
    // localAddress is passed through to net.connect; the typed options leave it out.
    transports: [tcp({ dialOpts: { localAddress: source } as object })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(100);
  }
  return check();
}

/** A labelled counter's value in a Prometheus text rendering (0 when absent). */
export function counterValue(text: string, name: string, reason: string): number {
  const match = text.match(new RegExp(`^${name}\\{reason="${reason}"\\} (\\d+)`, "m"));
  return match ? Number(match[1]) : 0;
}
