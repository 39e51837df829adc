/**
 * The simulator's storage users: seeded clients that put and get files through the storage
 * validator's gateway with the production typed client (neurons/client/api.ts: encrypted on the
 * client, signed with Epistula, every block verified), and the per-tempo measure of what
 * survived, from the gateway's own `status` of each file checked against which miners are gone.
 *
 * Reproducibility: every choice (how many puts, sizes, bytes, which file is read) comes from the
 * seed and the tempo, and clients work one request at a time, so placement sees the same order in
 * every run. That includes a get's blocks ({@link WORKLOAD_FETCH_AHEAD}): fetched ahead in
 * parallel, the leaves of one stripe were read by the gateway at once, and which miners each read
 * asked, which pieces it marked lost and which retrievals it scored followed the order the
 * requests arrived in, so two runs of one seed could differ in a lazy miner's passes and in a
 * file counted lost or at risk. Latencies and times to first byte are wall clock: they go to
 * summary.json and the terminal, never to files.csv.
 */
import { createCipheriv, createHash } from "node:crypto";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { createStorageClient, type StorageClient } from "../neurons/client/api.js";
import { bytesSource } from "../neurons/client/source.js";
import { CHUNK_BYTES } from "../protocol/content-id.js";
import { seededBytes } from "./nodes.js";
import type { Scenario } from "./scenario.js";

/**
 * Blocks a workload client fetches ahead of the one it reads: none, so the gateway serves one
 * block at a time, in file order (the production client's default, DEFAULT_FETCH_AHEAD, reads
 * faster; the latencies reported are those of a client reading one block at a time).
 */
export const WORKLOAD_FETCH_AHEAD = 1;

/** One tempo of the workload, as it goes to files.csv (no wall-clock figure in it). */
export interface FileRow {
  tempo: number;
  /** Files stored and not expired, and their bytes as the gateway took them (the user bytes). */
  files: number;
  userBytes: number;
  /** Bytes on miners for them: data pieces plus m parity pieces per stripe at the stripe's longest leaf. */
  storedBytes: number;
  /** Files with a stripe of fewer than k' pieces left on miners that have not left, that no longer read back. */
  lost: number;
  /**
   * Files not lost with a stripe of at most k' pieces on miners up now (one more loss and it is
   * gone), or whose pieces the gateway counts as too few but which still read back verified.
   */
  atRisk: number;
  puts: number;
  putsFailed: number;
  gets: number;
  /** Gets that returned every byte, verified against the CID and the bytes put. */
  getsVerified: number;
  /** Pieces rebuilt and placed again this tempo, pieces marked lost, and the bytes repair moved. */
  piecesRepaired: number;
  piecesMarkedLost: number;
  repairBytes: number;
  /** Miner emission this tempo (rao), filled in by the simulator from the metagraph. */
  minerEmission: bigint;
  /**
   * Time to repair of the pieces rebuilt this tempo, in tempos (simulated time): the mean and the
   * longest wait from the first repair pass that found a piece lost to the one that rebuilt it
   * (0: rebuilt by the first pass after its mark). Both 0 when no piece was rebuilt.
   */
  repairTemposMean: number;
  repairTemposMax: number;
}

/** One get's wall-clock figures. */
export interface ReadTiming {
  ok: boolean;
  latencyMs: number;
  /** Until the first verified bytes arrived; null when none did. */
  firstByteMs: number | null;
}

/** Which miners (by hotkey) have left for good, and which are not running now. */
export interface MinerLiveness {
  gone(hotkey: string): boolean;
  down(hotkey: string): boolean;
}

interface TrackedFile {
  cid: string;
  client: number;
  /** Bytes as the gateway stores them (ciphertext). */
  size: number;
  /** SHA-256 of the plaintext put. */
  digest: string;
  expiresAtTempo: number | null;
}

export interface StorageWorkload {
  /** Points the clients at a (restarted) gateway. */
  setGateway(url: string): void;
  /** This tempo's puts and gets. */
  runTempo(tempo: number): Promise<{ puts: number; putsFailed: number; reads: ReadTiming[] }>;
  /** The files' state at the end of the tempo: the measure half of a {@link FileRow}. */
  measure(
    tempo: number,
    miners: MinerLiveness,
  ): Promise<Pick<FileRow, "files" | "userBytes" | "storedBytes" | "lost" | "atRisk">>;
}

/** A seeded uniform draw in [0, 1): mulberry32 (small, fast, plenty for workload choices). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Index in [0, n) drawn with weight 1/(i+1)^skew: 0 uniform, 1 zipf (a few read far more). */
export function zipfIndex(n: number, skew: number, u: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += 1 / (i + 1) ** skew;
  let x = u * total;
  for (let i = 0; i < n; i++) {
    x -= 1 / (i + 1) ** skew;
    if (x < 0) return i;
  }
  return n - 1;
}

/** `size` seeded bytes (AES-CTR keystream: fast for megabytes). */
function fileBytes(seed: number, counter: number, size: number): Uint8Array {
  const key = seededBytes(seed, "storage/file", counter, 32);
  const cipher = createCipheriv("aes-128-ctr", key.subarray(0, 16), key.subarray(16, 32));
  return cipher.update(new Uint8Array(size));
}

/** Bytes on miners for a file of `size` bytes stored with k data and m parity shards. */
export function storedBytesOf(size: number, k: number, m: number): number {
  const leaves = Math.ceil(size / CHUNK_BYTES);
  let total = 0;
  for (let first = 0; first < leaves; first += k) {
    const last = Math.min(leaves, first + k);
    const longest = Math.min(CHUNK_BYTES, size - first * CHUNK_BYTES);
    total += Math.min(size, last * CHUNK_BYTES) - first * CHUNK_BYTES + m * longest;
  }
  return total;
}

/**
 * Seeded clients of the gateway at `gatewayUrl`, with the scenario's storage knobs.
 *
 * @example
 * const workload = createStorageWorkload({ scenario, gatewayUrl });
 * const { reads } = await workload.runTempo(1);
 */
export function createStorageWorkload(init: { scenario: Scenario; gatewayUrl: string }): StorageWorkload {
  const { scenario } = init;
  const s = scenario.storage;
  const tempoSeconds = scenario.tempo * s.blockSeconds;
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const hotkeys: KeyringPair[] = Array.from({ length: s.clients }, (_, i) =>
    keyring.addFromUri(`//Sim//client${i}`),
  );
  const secrets = hotkeys.map((_, i) => seededBytes(scenario.seed, `storage/client${i}/secret`, 0, 32));
  let clients: StorageClient[] = [];
  const connect = (url: string) => {
    clients = hotkeys.map((hotkey, i) =>
      createStorageClient({
        gateway: url,
        hotkey,
        userSecret: secrets[i] as Uint8Array,
        fetchAhead: WORKLOAD_FETCH_AHEAD,
      }),
    );
  };
  connect(init.gatewayUrl);
  const files: TrackedFile[] = [];
  let fileCounter = 0;

  const live = (tempo: number) => files.filter((f) => f.expiresAtTempo === null || f.expiresAtTempo > tempo);

  async function put(tempo: number, client: number, random: () => number): Promise<boolean> {
    const large = random() < s.largeShare;
    const [lo, hi] = large ? [s.smallMaxBytes, s.largeMaxBytes] : [s.smallMinBytes, s.smallMaxBytes];
    const size = lo + Math.floor(random() * (hi - lo + 1));
    const bytes = fileBytes(scenario.seed, fileCounter++, size);
    const digest = createHash("sha256").update(bytes).digest("hex");
    try {
      const info = await (clients[client] as StorageClient).put(
        bytesSource(bytes),
        s.ttlTempos > 0 ? { ttlSeconds: s.ttlTempos * tempoSeconds } : {},
      );
      files.push({
        cid: info.cid,
        client,
        size: info.size,
        digest,
        expiresAtTempo: s.ttlTempos > 0 ? tempo + s.ttlTempos : null,
      });
      return true;
    } catch {
      return false;
    }
  }

  async function get(file: TrackedFile): Promise<ReadTiming> {
    const t0 = performance.now();
    let firstByteMs: number | null = null;
    const hash = createHash("sha256");
    try {
      for await (const part of (clients[file.client] as StorageClient).get(file.cid)) {
        firstByteMs ??= performance.now() - t0;
        hash.update(part);
      }
      return { ok: hash.digest("hex") === file.digest, latencyMs: performance.now() - t0, firstByteMs };
    } catch {
      return { ok: false, latencyMs: performance.now() - t0, firstByteMs };
    }
  }

  return {
    setGateway: connect,
    async runTempo(tempo) {
      const random = seededRandom((scenario.seed * 1_000_003 + tempo * 7_919) >>> 0);
      let puts = 0;
      let putsFailed = 0;
      for (let client = 0; client < s.clients; client++) {
        const whole = Math.floor(s.uploadsPerTempo);
        const count = whole + (random() < s.uploadsPerTempo - whole ? 1 : 0);
        for (let i = 0; i < count; i++) {
          puts++;
          if (!(await put(tempo, client, random))) putsFailed++;
        }
      }
      const reads: ReadTiming[] = [];
      const readable = live(tempo);
      for (let i = 0; i < s.readsPerTempo && readable.length > 0; i++) {
        // The oldest files are the most popular: rank 0 is the first file put.
        const file = readable[zipfIndex(readable.length, s.popularitySkew, random())] as TrackedFile;
        reads.push(await get(file));
      }
      return { puts, putsFailed, reads };
    },
    async measure(tempo, miners) {
      let lost = 0;
      let atRisk = 0;
      let userBytes = 0;
      let storedBytes = 0;
      const current = live(tempo);
      for (const file of current) {
        userBytes += file.size;
        storedBytes += storedBytesOf(file.size, s.dataShards, s.parityShards);
        let status: Awaited<ReturnType<StorageClient["status"]>>;
        try {
          status = await (clients[file.client] as StorageClient).status(file.cid);
        } catch {
          lost++;
          continue;
        }
        let fileLost = false;
        let fileAtRisk = false;
        for (const stripe of status.stripesDetail) {
          const ok = stripe.pieces.filter((p) => p.state === "ok");
          const kept = ok.filter((p) => !miners.gone(p.miner)).length;
          const up = ok.filter((p) => !miners.down(p.miner)).length;
          if (kept < stripe.dataShards) fileLost = true;
          else if (up <= stripe.dataShards) fileAtRisk = true;
        }
        // The gateway's piece states are its belief: a piece marked lost (a miner that said "not
        // found" to a challenge naming it among others, one offline past the grace) may still be
        // there. A file they call lost counts as lost only if it cannot be read back, verified.
        if (fileLost && (await get(file)).ok) {
          fileLost = false;
          fileAtRisk = true;
        }
        if (fileLost) lost++;
        else if (fileAtRisk) atRisk++;
      }
      return { files: current.length, userBytes, storedBytes, lost, atRisk };
    },
  };
}
