/**
 * The simulator's nodes, described as plain data and built one way whichever host runs them.
 *
 * A {@link MinerSpec} or {@link ValidatorSpec} is everything a node needs besides a chain client:
 * it crosses to a child process or a worker thread unchanged (sim/remote-host.ts hands it to
 * sim/node-runner.ts), and every host builds it with {@link buildMiner} and {@link buildValidator}
 * (through sim/node-runtime.ts), so a seed gives the same nodes in every mode.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import type { ChainClient } from "../chain/client.js";
import { authReady } from "../neurons/auth.js";
import { type Logger, silentLogger } from "../neurons/logger.js";
import { createMiner, type Miner } from "../neurons/miner/miner.js";
import { folderUsedBytes } from "../neurons/miner/partition.js";
import { MIN_STORE_CACHE_BYTES } from "../neurons/miner/sqlite-chunk-store.js";
import { createValidator, type Validator } from "../neurons/validator/validator.js";
import { type ChallengeCounts, type MinerRecord, ValidatorDb } from "../neurons/validator/validator-db.js";
import { type AdversaryName, type AdversarySettings, createAdversary } from "./adversaries.js";
import { type GatewaySpec, type GatewayTick, type SimGateway, startSimGateway } from "./sim-gateway.js";

/** One simulated miner, as data. */
export interface MinerSpec {
  /** Index in registration order; names the node (`miner3`). */
  index: number;
  /** Secret URI of the hotkey (`//Sim//miner3`). */
  hotkeyUri: string;
  behaviour: AdversaryName | "honest";
  adversary: AdversarySettings;
  netuid: number;
  /** Root of the miner databases (the miner adds `<netuid>/<hotkey>/`). */
  dbRoot: string;
  chunkSize: number;
  /** Size of the miner's simulated disk, bytes (already cut to a sybil's share). */
  diskBytes: number;
}

/** One honest validator node, as data (adversarial validators have no node: the simulator sets their weights). */
export interface ValidatorSpec {
  index: number;
  hotkeyUri: string;
  netuid: number;
  /** Folder of its database. */
  dir: string;
  /** The run's seed: the validator's secret and every draw derive from it. */
  seed: number;
  chunkSize: number;
  chunksPerChallenge: number;
  leavesPerChunk: number;
  challengeTimeoutMs: number;
  fillPerRound: number;
  policy: { name: string; params?: Record<string, unknown> };
  /** The storage workload's gateway runs on this validator (its chunk size must hold a 1 MiB leaf). */
  gateway?: GatewaySpec;
}

/** What a validator reports after a tempo's rounds. */
export interface ValidatorReport {
  /** Its score per uid. */
  scores: number[];
  /** Cumulative challenge outcomes per miner hotkey asked for, in the order asked. */
  counts: ChallengeCounts[];
}

export interface SimMinerNode {
  /** The multiaddr the simulator publishes for it. */
  readonly announcedAddress: string;
  /** For an outsourcer: the address of the miner it forwards to (changes when that miner restarts). */
  retarget(address: string): Promise<void>;
  stop(): Promise<void>;
}

export interface SimValidatorNode {
  /** The gateway's URL (`http://127.0.0.1:port`) when the spec asked for one. */
  readonly gatewayUrl: string | undefined;
  /** One round; weights are set only when `setWeights` (the simulator's last round of a tempo). */
  runRound(setWeights: boolean): Promise<void>;
  /** The gateway's maintenance after `advanceMs` of simulated time (see sim/sim-gateway.ts). */
  storageTick(advanceMs: number): Promise<GatewayTick>;
  /** Restarts the gateway and its storage service; resolves to the new URL. */
  restartGateway(): Promise<string>;
  report(minerHotkeys: readonly string[]): Promise<ValidatorReport>;
  stop(): Promise<void>;
}

/** Where nodes run: in this process, or one OS process each. */
export interface NodeHost {
  readonly mode: "inprocess" | "process";
  startMiner(spec: MinerSpec): Promise<SimMinerNode>;
  startValidator(spec: ValidatorSpec): Promise<SimValidatorNode>;
  /** Process ids of the node processes running now (none in process). */
  pids(): number[];
  /** Stops every node still running. */
  stop(): Promise<void>;
}

/** `n` bytes from SHA-256 over (seed, label, counter): the run's only source of randomness. */
export function seededBytes(seed: number, label: string, counter: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let block = 0, off = 0; off < n; block++, off += 32) {
    const h = createHash("sha256").update(`${seed}|${label}|${counter}|${block}`).digest();
    out.set(h.subarray(0, Math.min(32, n - off)), off);
  }
  return out;
}

/**
 * A seeded `random` for one validator. Draws are keyed by the miner they are for, so miner m gets
 * the same nonces whatever order the validator's concurrent round visits the miners in.
 */
export function perMinerRandom(
  seed: number,
  validatorIndex: number,
): (n: number, miner: MinerRecord) => Uint8Array {
  const counters = new Map<string, number>();
  return (n, miner) => {
    const label = `validator${validatorIndex}/miner${miner.id}/n${n}`;
    const counter = counters.get(label) ?? 0;
    counters.set(label, counter + 1);
    return seededBytes(seed, label, counter, n);
  };
}

async function keypair(uri: string): Promise<KeyringPair> {
  await cryptoWaitReady();
  await authReady();
  return new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri(uri);
}

/** Hooks an outsourcer needs: a libp2p host to forward from, and the address it forwards to. */
export interface OutsourcerHooks {
  proxy: () => Libp2p;
  target: () => string;
}

/**
 * How long a simulated miner gives an inbound connection to finish its handshake: the validator's
 * own dial deadline, not production's 3 s (`neuron.handshake_timeout`). In the first round every
 * validator dials every miner at once; on a loaded host some handshakes took longer than 3 s, so
 * those miners went unchallenged in that round in one run and not in another, and the CSVs of two
 * runs of one seed differed from tempo 1.
 */
const SIM_HANDSHAKE_TIMEOUT_MS = 30_000;

/**
 * SQLite page cache of each simulated miner's store, per validator: one 64 KiB page, the least a
 * store takes. A real miner's 16 MiB each (DEFAULT_STORE_CACHE_BYTES) is for one machine per
 * miner; here thousands of stores (247 miners × 8 validators) share one process or machine, each
 * holding a few 64 KiB chunks the OS page cache keeps anyway. An open store measured ~400 KiB with
 * one page, ~840 KiB with four (SQLite allocates up to 20 pages of its cache at once).
 */
export const SIM_STORE_CACHE_BYTES = MIN_STORE_CACHE_BYTES;

/**
 * Simulated miners' stores do not wait for the disk: hundreds of them share one disk here, and the
 * simulator models neither power cuts nor disk latency, only who stored and proved what. A store
 * still keeps every acknowledged chunk when its process is killed (the WAL is in the OS page
 * cache); a real miner always fsyncs (MinerSettings.storeFsync).
 */
export const SIM_STORE_FSYNC = false;

/**
 * Builds (not starts) a simulated miner: the production miner with the spec's behaviour, on a disk
 * of fixed size. Free space shrinks as the miner's own files grow, as on a real disk, so
 * (free + used), which the budget is a share of, stays the disk size and a restarted miner gets
 * the same budget as before.
 */
export async function buildMiner(
  spec: MinerSpec,
  deps: { chain: ChainClient; hooks: OutsourcerHooks; log?: Logger },
): Promise<Miner> {
  const hotkey = await keypair(spec.hotkeyUri);
  const adversary =
    spec.behaviour === "honest"
      ? undefined
      : createAdversary(spec.behaviour, {
          ...spec.adversary,
          node: deps.hooks.proxy,
          target: deps.hooks.target,
        });
  return createMiner({
    ...(adversary?.behaviour ? { behaviour: adversary.behaviour } : {}),
    ...(deps.log ? { log: deps.log } : {}),
    settings: {
      netuid: spec.netuid,
      dbRoot: spec.dbRoot,
      chunkSize: spec.chunkSize,
      threshold: 1,
      listen: { ip: "127.0.0.1", port: 0 },
      // Budgets are set once at start, so they never move with timing-dependent reads.
      metagraphIntervalMs: 24 * 3_600_000,
      // The simulator publishes the address itself, one transaction at a time.
      announce: false,
      admission: { handshakeTimeoutMs: SIM_HANDSHAKE_TIMEOUT_MS },
      storeCacheBytes: SIM_STORE_CACHE_BYTES,
      storeFsync: SIM_STORE_FSYNC,
    },
    chain: deps.chain,
    hotkey,
    freeBytes: (dir) => Math.max(0, spec.diskBytes - folderUsedBytes(dir)),
  });
}

/** A built validator node with its database. */
export interface BuiltValidator {
  validator: Validator;
  db: ValidatorDb;
  /** Starts the gateway the spec asks for, once the validator has started; its URL, or undefined. */
  startGateway(): Promise<string | undefined>;
  gateway(): SimGateway;
  report(minerHotkeys: readonly string[]): Promise<ValidatorReport>;
  /** Stops the validator and closes its database. */
  close(): Promise<void>;
}

/** Builds (not starts) an honest validator whose every draw derives from the run's seed. */
export async function buildValidator(
  spec: ValidatorSpec,
  deps: { chain: ChainClient; log?: Logger },
): Promise<BuiltValidator> {
  const hotkey = await keypair(spec.hotkeyUri);
  mkdirSync(spec.dir, { recursive: true });
  const db = ValidatorDb.open(join(spec.dir, "validator.sqlite"));
  const validator = createValidator({
    settings: {
      netuid: spec.netuid,
      chunkSize: spec.chunkSize,
      chunksPerChallenge: spec.chunksPerChallenge,
      leavesPerChunk: spec.leavesPerChunk,
      challengeTimeoutMs: spec.challengeTimeoutMs,
      fillPerRound: spec.fillPerRound,
      // Spot retrievals and their outcomes depend on timing; the simulator leaves them out.
      retrieveProbability: 0,
      weightsIntervalBlocks: 1,
      policy: spec.policy,
      autoRun: false,
    },
    chain: deps.chain,
    hotkey,
    db,
    secret: seededBytes(spec.seed, `validator${spec.index}/secret`, 0, 32),
    random: perMinerRandom(spec.seed, spec.index),
    ...(deps.log ? { log: deps.log } : {}),
  });
  let gateway: SimGateway | undefined;
  return {
    validator,
    db,
    async startGateway() {
      if (!spec.gateway) return undefined;
      gateway = await startSimGateway({
        db,
        link: validator.link,
        hotkey,
        netuid: spec.netuid,
        chunkSize: spec.chunkSize,
        spec: spec.gateway,
        ...(deps.log ? { log: deps.log } : { log: silentLogger() }),
      });
      return gateway.url;
    },
    gateway() {
      if (!gateway) throw new Error(`validator${spec.index} runs no gateway`);
      return gateway;
    },
    async report(minerHotkeys) {
      const scores = await validator.scores();
      const counts = minerHotkeys.map((h) => {
        const record = db.minerByHotkey(h);
        return record ? db.challengeCounts(record.id) : { pass: 0, fail: 0, timeout: 0 };
      });
      return { scores, counts };
    },
    async close() {
      await gateway?.close();
      await validator.stop().catch(() => undefined);
      db.close();
    },
  };
}
