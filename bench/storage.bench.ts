/**
 * Client storage end to end against the miners it sits on, in the same run: a 256 MiB file put
 * through the gateway (client API → HTTP → storage service → in-process miners over libp2p on
 * loopback) against the same 256 MiB stored with plain `store` calls to the same miners; the file
 * read back verified through the client against plain `retrieve` calls of the same bytes; and a
 * get's time to first byte against one plain `retrieve` round trip of a 1 MiB chunk.
 *
 * The put moves more than the baseline: the client encrypts and hashes the file (twice: once for
 * its CID, once to send), the gateway hashes it, erasure-codes it and stores 14 pieces per 10
 * leaves. Goals: put ≥ 0.5 of plain stores; get ≥ 0.7 of plain retrieves.
 *
 * Client, gateway and miners share this one process (one JavaScript thread), so every byte of
 * work on any of them is on the clock: the ratios are what the stack costs on top of the miners,
 * not what a client sees from a gateway and miners on machines of their own (it would do better).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import { Queue } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import type { KeyringPair } from "@polkadot/keyring/types";
import { createRequestSigner, signRequest } from "../neurons/auth.js";
import { createStorageClient } from "../neurons/client/api.js";
import { bytesSource } from "../neurons/client/source.js";
import { defaultsOf, validatorConfigSchema } from "../neurons/config.js";
import { silentLogger } from "../neurons/logger.js";
import { createMetricsRegistry } from "../neurons/metrics.js";
import { createMiner, type Miner } from "../neurons/miner/miner.js";
import { createP2PNode, request } from "../neurons/p2p/node.js";
import { createGatewayServer, type GatewayServer } from "../neurons/validator/api/gateway-server.js";
import { gatewaySettingsFrom } from "../neurons/validator/api/gateway-settings.js";
import {
  createStorageService,
  PIECES_IN_FLIGHT,
  type StorageServiceImpl,
} from "../neurons/validator/storage/storage.js";
import { createValidator, type Validator } from "../neurons/validator/validator.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { CHUNK_SIZE } from "../protocol/constants.js";
import type { Message } from "../protocol/messages.js";
import { type DevSubnet, startDevSubnet, stopDevSubnet } from "../test/subnet-fixture.js";
import { type BenchGroup, measured, percentile } from "./harness.js";

const MiB = 1 << 20;
/** The file put and read back. */
const FILE_MIB = 256;
/** k + m of the default settings (api.data_shards 10, api.parity_shards 4): one piece per miner. */
const MINERS = 14;
/** Chunks each miner offers: the baseline's share, the file's pieces, and slack. */
const FREE_CHUNKS_PER_MINER = 128;
/** Chunk indices of the baseline's plain stores, above any slot the storage service uses. */
const BASELINE_INDEX = 100_000;
const TTFB_SAMPLES = 7;

/** Runs `task(i)` for i in [from, to) with `concurrency` in flight; returns the milliseconds taken. */
async function timeAll(
  from: number,
  to: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<number> {
  const queue = new Queue<void>({ concurrency });
  const started = performance.now();
  await Promise.all(Array.from({ length: to - from }, (_, i) => queue.add(() => task(from + i))));
  return performance.now() - started;
}

export const storageBench: BenchGroup = {
  name: "storage",
  description: `a ${FILE_MIB} MiB file put and got through the gateway (k=10, m=4, ${MINERS} miners) vs plain miner store/retrieve`,
  async run(report, signal) {
    let subnet: DevSubnet | undefined;
    const dir = mkdtempSync(join(tmpdir(), "storage-bench-"));
    const miners: Miner[] = [];
    let db: ValidatorDb | undefined;
    let validator: Validator | undefined;
    let storage: StorageServiceImpl | undefined;
    let gateway: GatewayServer | undefined;
    let node: Libp2p | undefined;
    try {
      const { Keyring } = await import("@polkadot/keyring");
      const keys = new Keyring({ type: "sr25519", ss58Format: 42 });
      const validatorHotkey = keys.addFromUri("//Bob//gateway");
      const minerHotkeys: KeyringPair[] = Array.from({ length: MINERS }, (_, i) =>
        keys.addFromUri(`//Charlie//bench${i}`),
      );
      subnet = await startDevSubnet({
        tempo: 100,
        validators: [validatorHotkey.address],
        miners: minerHotkeys.map((k) => k.address),
      });
      for (const hotkey of minerHotkeys) {
        const miner = createMiner({
          settings: {
            netuid: subnet.netuid,
            dbRoot: join(dir, "miners"),
            chunkSize: CHUNK_SIZE,
            threshold: 1,
            listen: { ip: "127.0.0.1", port: 0 },
            metagraphIntervalMs: 3_600_000,
            // Both sides of every ratio go through the same miners; their per-validator pacing
            // (test/validator-starvation.test.ts) would measure the miners' policy, not the stack.
            limits: { requestsPerSecond: 100_000, burst: 100_000 },
            costBudget: { bytesPerSecond: Number.MAX_SAFE_INTEGER, burstBytes: Number.MAX_SAFE_INTEGER },
          },
          chain: subnet.client,
          hotkey,
          freeBytes: () => FREE_CHUNKS_PER_MINER * CHUNK_SIZE,
        });
        await miner.start();
        miners.push(miner);
      }
      db = ValidatorDb.open(join(dir, "validator.sqlite"));
      validator = createValidator({
        settings: { netuid: subnet.netuid, chunkSize: CHUNK_SIZE, retrieveProbability: 0, autoRun: false },
        chain: subnet.client,
        hotkey: validatorHotkey,
        db,
        secret: new Uint8Array(32).fill(3),
      });
      await validator.start();
      const config = {
        ...defaultsOf(validatorConfigSchema),
        "api.quota_bytes": 4 * FILE_MIB * MiB,
        "api.rate": 1000,
      };
      const metrics = createMetricsRegistry();
      storage = createStorageService({
        db,
        link: validator.link,
        settings: {
          dataShards: config["api.data_shards"],
          parityShards: config["api.parity_shards"],
          repairBandwidth: 64 * MiB,
          offlineGraceMs: 600_000,
          chunkSize: CHUNK_SIZE,
          autoMaintain: false,
        },
        metrics,
      });
      await storage.start();
      gateway = createGatewayServer({
        service: storage,
        hotkey: validatorHotkey,
        netuid: subnet.netuid,
        settings: gatewaySettingsFrom(config),
        log: silentLogger(),
        metrics,
      });
      const { url } = await gateway.listen(0, "127.0.0.1");
      const user = keys.addFromUri("//Dave//bench");
      const client = createStorageClient({
        gateway: url,
        hotkey: user,
        userSecret: new Uint8Array(32).fill(9),
      });

      // The baseline's requests: signed by the validator, one libp2p node, the storage service's
      // pieces-in-flight, chunks spread over the miners in turn.
      node = await createP2PNode();
      const signer = createRequestSigner(validatorHotkey);
      const targets = miners.map((m, i) => ({
        addr: multiaddr(m.announcedAddress),
        hotkey: (minerHotkeys[i] as KeyringPair).address,
      }));
      const ask = async (i: number, body: Message): Promise<Message> => {
        const target = targets[i % targets.length] as (typeof targets)[number];
        const reply = await request(
          node as Libp2p,
          target.addr,
          signRequest(signer, body, { recipient: target.hotkey }),
          { signal: AbortSignal.timeout(60_000) },
        );
        return reply.body;
      };
      const chunkCount = FILE_MIB;
      const bytes = randomBytes(FILE_MIB * MiB);
      const chunkOf = (i: number) => bytes.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE);
      const storeId = validatorHotkey.address;
      const plainStore = async (i: number) => {
        const reply = await ask(i, {
          type: "store",
          storeId,
          chunkIndex: BASELINE_INDEX + Math.floor(i / MINERS),
          data: chunkOf(i),
        });
        if (reply.type !== "store-ack") throw new Error(`store refused: ${JSON.stringify(reply)}`);
      };
      const plainRetrieve = async (i: number) => {
        const reply = await ask(i, {
          type: "retrieve",
          storeId,
          chunkIndex: BASELINE_INDEX + Math.floor(i / MINERS),
        });
        if (reply.type !== "retrieve-reply") throw new Error("retrieve failed");
      };

      // Warm up: connections to every miner, JIT on both paths.
      await timeAll(0, MINERS, PIECES_IN_FLIGHT, plainStore);
      const warm = await client.put(bytesSource(bytes.subarray(0, 3 * MiB)));
      for await (const _ of client.get(warm.cid));
      await client.remove(warm.cid);
      signal.throwIfAborted();

      // Each baseline runs half before and half after what it is compared with, so a change in the
      // machine's load (other processes) weighs on both alike.
      const half = chunkCount / 2;
      let plainMs = await timeAll(0, half, PIECES_IN_FLIGHT, plainStore);
      let t = performance.now();
      const info = await client.put(bytesSource(bytes));
      const putMiBs = FILE_MIB / ((performance.now() - t) / 1000);
      plainMs += await timeAll(half, chunkCount, PIECES_IN_FLIGHT, plainStore);
      const plainStoreMiBs = FILE_MIB / (plainMs / 1000);
      report(
        measured(
          "storage.put",
          putMiBs,
          "MiB/s",
          plainStoreMiBs,
          `${FILE_MIB} MiB, encrypted, k=10 m=4 on ${MINERS} miners; baseline: plain store of the same MiB, ${PIECES_IN_FLIGHT} in flight; goal ≥ 0.5`,
        ),
      );
      signal.throwIfAborted();

      plainMs = await timeAll(0, half, PIECES_IN_FLIGHT, plainRetrieve);
      t = performance.now();
      let at = 0;
      for await (const part of client.get(info.cid)) {
        if (!bytes.subarray(at, at + part.length).equals(part)) throw new Error(`get differs at byte ${at}`);
        at += part.length;
      }
      if (at !== bytes.length) throw new Error(`get returned ${at} of ${bytes.length} bytes`);
      const getMiBs = FILE_MIB / ((performance.now() - t) / 1000);
      plainMs += await timeAll(half, chunkCount, PIECES_IN_FLIGHT, plainRetrieve);
      const plainRetrieveMiBs = FILE_MIB / (plainMs / 1000);
      report(
        measured(
          "storage.get",
          getMiBs,
          "MiB/s",
          plainRetrieveMiBs,
          `the same file, verified and decrypted by the client; baseline: plain retrieve of the same MiB, ${PIECES_IN_FLIGHT} in flight; goal ≥ 0.7`,
        ),
      );
      signal.throwIfAborted();

      // Time to first byte: a get's first chunk against one plain 1 MiB retrieve round trip.
      const firstByte: number[] = [];
      const roundTrip: number[] = [];
      for (let i = 0; i < TTFB_SAMPLES && !signal.aborted; i++) {
        t = performance.now();
        await plainRetrieve(i);
        roundTrip.push(performance.now() - t);
        const reading = client.get(info.cid)[Symbol.asyncIterator]();
        t = performance.now();
        await reading.next();
        firstByte.push(performance.now() - t);
        await reading.return?.(undefined);
      }
      report(
        measured(
          "storage.get.first_byte",
          percentile(firstByte, 50),
          "ms",
          percentile(roundTrip, 50),
          `median of ${TTFB_SAMPLES}, get call to first chunk; baseline: one plain retrieve of a 1 MiB chunk`,
        ),
      );
    } finally {
      await gateway?.close();
      await storage?.stop();
      await validator?.stop();
      await node?.stop();
      for (const m of miners) await m.stop();
      db?.close();
      await stopDevSubnet(subnet);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
