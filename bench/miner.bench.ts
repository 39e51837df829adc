/**
 * The miner over libp2p on loopback against a raw libp2p stream moving the same bytes in the same
 * run: store and retrieve throughput of 1 MiB chunks (one request per stream, one in flight, as a
 * validator's fill sends them; and stores four in flight, as several pieces for one miner go),
 * and challenge round-trip latency for a one-leaf proof, against a raw round trip of the same
 * size. Goals (issue 18): store ≥ 0.8 and retrieve ≥ 0.9 of raw; challenge p50 ≤ 1.2 × raw.
 *
 * Two sets of rows, each against its own baseline measured the same way:
 * - `miner.*`: the miner and the raw server run in a child process (bench/miner-bench-child.ts),
 *   the client (the validator's side: signing, framing, decoding) in this one, as in production,
 *   where the validator and the miner are separate processes on separate machines.
 * - `miner.*.inprocess`: both sides on this process's one JavaScript thread, so the client's and
 *   the miner's CPU add up while the raw baseline costs nearly nothing on either end.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Libp2p, Stream } from "@libp2p/interface";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { createRequestSigner, type RequestSigner, signRequest } from "../neurons/auth.js";
import { createP2PNode, request } from "../neurons/p2p/node.js";
import { CHUNK_SIZE } from "../protocol/constants.js";
import type { Message } from "../protocol/messages.js";
import { type BenchGroup, type BenchResult, measured, percentile } from "./harness.js";
import type { ChildCommand, ChildReport } from "./miner-bench-child.js";
import {
  type BenchServers,
  benchKeys,
  PROOF_FRAME_BYTES,
  RAW_PROTOCOL,
  send,
  startBenchServers,
} from "./miner-bench-servers.js";

/** Store requests in flight in the pipelined figure. */
const PIPELINE = 4;
/** How long the child process may take to start or restart its miner. */
const CHILD_TIMEOUT_MS = 120_000;

/** Reads until `bytes` arrived on the stream. */
async function drain(stream: Stream, bytes: number): Promise<void> {
  let got = 0;
  for await (const chunk of stream) {
    got += chunk.byteLength;
    if (got >= bytes) return;
  }
}

async function rawExchange(client: Libp2p, target: Multiaddr, out: Uint8Array, inBytes: number) {
  const stream = await client.dialProtocol(target, RAW_PROTOCOL);
  await send(stream, out);
  await stream.close();
  await drain(stream, inBytes);
}

/** Waits for the child's next report. */
function nextReport(child: ChildProcess): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error("miner bench child did not answer")), CHILD_TIMEOUT_MS);
    const onMessage = (report: ChildReport) => done(undefined, report);
    const onExit = (code: number | null) => done(new Error(`miner bench child exited ${code}`));
    const done = (error: Error | undefined, report?: ChildReport) => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (error) reject(error);
      else if (report?.type === "failed") reject(new Error(`miner bench child: ${report.message}`));
      else resolve(report as ChildReport);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/** The servers of bench/miner-bench-servers.ts in a forked child process. */
async function startChildServers(dbRoot: string): Promise<BenchServers> {
  const child = fork(fileURLToPath(new URL("./miner-bench-child.js", import.meta.url)), [dbRoot], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const command = (c: ChildCommand) => child.send(c);
  try {
    const ready = await nextReport(child);
    if (ready.type !== "ready") throw new Error(`miner bench child said ${ready.type}`);
    return {
      targets: ready.targets,
      async restartCold() {
        command({ type: "cold" });
        const report = await nextReport(child);
        if (report.type !== "restarted") throw new Error(`miner bench child said ${report.type}`);
        return report.miner;
      },
      async stop() {
        if (child.exitCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        command({ type: "stop" });
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

/**
 * Every miner row against `servers`, each name ending in `suffix`: the client side runs here.
 */
async function measureMiner(
  servers: BenchServers,
  signer: RequestSigner,
  validatorAddress: string,
  minerAddress: string,
  suffix: string,
  report: (result: BenchResult) => void,
  signal: AbortSignal,
): Promise<void> {
  const where = suffix ? "; client and miner in one process" : "; miner in a separate process";
  const client = await createP2PNode();
  try {
    const chunks = Array.from({ length: 8 }, () => randomBytes(CHUNK_SIZE));
    const target = multiaddr(servers.targets.miner);
    const rawTarget = multiaddr(servers.targets.raw);
    const ask = (body: Message, to = target) =>
      request(client, to, signRequest(signer, body, { recipient: minerAddress }), {
        signal: AbortSignal.timeout(30_000),
      });
    const upload = new Uint8Array(CHUNK_SIZE + 1);
    upload[0] = 1;

    // Warm up both paths (connections, JIT).
    for (let i = 0; i < 3; i++) {
      await ask({
        type: "store",
        storeId: validatorAddress,
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
    const storeOne = async () => {
      const data = chunks[index % chunks.length] as Uint8Array;
      const reply = await ask({ type: "store", storeId: validatorAddress, chunkIndex: index++, data });
      if (reply.body.type !== "store-ack") throw new Error(`store refused: ${JSON.stringify(reply.body)}`);
    };
    for (let r = 0; r < rounds && !signal.aborted; r++) {
      let t = performance.now();
      for (let i = 0; i < perRound; i++) await rawExchange(client, rawTarget, upload, 4);
      rawStoreMs += performance.now() - t;
      t = performance.now();
      for (let i = 0; i < perRound; i++) await storeOne();
      minerStoreMs += performance.now() - t;
    }
    const oneInFlight = index;
    report(
      measured(
        `miner.store${suffix}`,
        oneInFlight / (minerStoreMs / 1000),
        "MiB/s",
        oneInFlight / (rawStoreMs / 1000),
        `1 MiB chunks, one in flight, durable ack + Merkle root; baseline: raw libp2p stream upload${where}; goal ≥ 0.8`,
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
      await inFlight(perRound, storeOne);
      minerPipedMs += performance.now() - t;
      piped += perRound;
    }
    report(
      measured(
        `miner.store.pipelined${suffix}`,
        piped / (minerPipedMs / 1000),
        "MiB/s",
        piped / (rawPipedMs / 1000),
        `1 MiB chunks, ${PIPELINE} in flight, acknowledged by group commit; baseline: raw uploads, ${PIPELINE} in flight${where}`,
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
          storeId: validatorAddress,
          chunkIndex: gets++ % storedMiB,
        });
        if (reply.body.type !== "retrieve-reply") throw new Error("retrieve failed");
      }
      minerGetMs += performance.now() - t;
    }
    report(
      measured(
        `miner.retrieve${suffix}`,
        gets / (minerGetMs / 1000),
        "MiB/s",
        gets / (rawGetMs / 1000),
        `1 MiB chunks, one in flight; baseline: raw libp2p stream download${where}; goal ≥ 0.9`,
      ),
    );

    // Challenge round trips: one chunk, one leaf.
    const ping = Uint8Array.of(3);
    const rawRtt: number[] = [];
    const challengeRtt: number[] = [];
    const challengeOnce = async (chunkIndex: number, leaf: number, to?: Multiaddr): Promise<number> => {
      const challenge = {
        storeId: validatorAddress,
        chunks: [{ chunkIndex, leafIndices: [leaf] }],
        nonce: randomBytes(32),
        deadline: Date.now() + 10_000,
      };
      const t = performance.now();
      const reply = await ask({ type: "challenge", challenge }, to);
      const ms = performance.now() - t;
      if (reply.body.type !== "proof") throw new Error("challenge failed");
      return ms;
    };
    for (let i = 0; i < 300 && !signal.aborted; i++) {
      const t = performance.now();
      await rawExchange(client, rawTarget, ping, PROOF_FRAME_BYTES);
      rawRtt.push(performance.now() - t);
      challengeRtt.push(
        await challengeOnce(Math.floor(Math.random() * storedMiB), Math.floor(Math.random() * 1024)),
      );
    }
    const note = `one-leaf proof of a 1 MiB chunk; baseline: raw round trip of a proof-sized reply${where}`;
    report(
      measured(
        `miner.challenge.p50${suffix}`,
        percentile(challengeRtt, 50),
        "ms",
        percentile(rawRtt, 50),
        `${note}; goal ≤ 1.2 × raw`,
      ),
    );
    report(
      measured(
        `miner.challenge.p99${suffix}`,
        percentile(challengeRtt, 99),
        "ms",
        percentile(rawRtt, 99),
        note,
      ),
    );

    // Cold: without the tree cache a challenge is answered from the tree levels stored beside
    // the chunk (neurons/miner/tree-cache.ts), rehashing one 16-leaf subtree.
    const coldTarget = multiaddr(await servers.restartCold());
    const cold: number[] = [];
    for (let i = 0; i < 40 && !signal.aborted; i++)
      cold.push(await challengeOnce(i % storedMiB, 7, coldTarget));
    report(
      measured(
        `miner.challenge.cold.p50${suffix}`,
        percentile(cold, 50),
        "ms",
        percentile(rawRtt, 50),
        `no cached tree: levels stored beside the chunk + one 16-leaf subtree; baseline: raw round trip${where}; goal ≤ 1.5 × raw`,
      ),
    );
  } finally {
    await client.stop();
  }
}

export const minerBench: BenchGroup = {
  name: "miner",
  description:
    "miner store/retrieve MiB/s and challenge latency over libp2p, vs a raw libp2p stream; miner in a child process, then in this one (.inprocess)",
  async run(report, signal) {
    const { validator, minerHotkey } = await benchKeys();
    const signer = createRequestSigner(validator);
    const modes: Array<{ suffix: string; start: (dir: string) => Promise<BenchServers> }> = [
      { suffix: "", start: startChildServers },
      { suffix: ".inprocess", start: startBenchServers },
    ];
    for (const { suffix, start } of modes) {
      if (signal.aborted) return;
      const dir = mkdtempSync(join(tmpdir(), "miner-bench-"));
      const servers = await start(dir);
      try {
        await measureMiner(servers, signer, validator.address, minerHotkey.address, suffix, report, signal);
      } finally {
        await servers.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  },
};
