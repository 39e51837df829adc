/**
 * Client storage end to end on the real parts: the embedded dev chain, eight in-process miners
 * over libp2p on loopback, the validator with its storage service and its client API on a real
 * HTTP socket, and the typed client the CLI uses, which encrypts, signs and verifies. k = 4, m = 2.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeyringPair } from "@polkadot/keyring/types";
import { importer } from "ipfs-unixfs-importer";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStorageClient, type StorageClient } from "../neurons/client/api.js";
import { bytesSource } from "../neurons/client/source.js";
import { defaultsOf, validatorConfigSchema } from "../neurons/config.js";
import { silentLogger } from "../neurons/logger.js";
import { createMetricsRegistry } from "../neurons/metrics.js";
import type { Miner } from "../neurons/miner/miner.js";
import { createGatewayServer, type GatewayServer } from "../neurons/validator/api/gateway-server.js";
import { gatewaySettingsFrom } from "../neurons/validator/api/gateway-settings.js";
import { createStorageService, type StorageServiceImpl } from "../neurons/validator/storage/storage.js";
import { createValidator, type Validator } from "../neurons/validator/validator.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { type DevSubnet, startDevSubnet, startTestMiner, stopDevSubnet } from "./subnet-fixture.js";

const MiB = 1024 * 1024;
const MINERS = 8;

let subnet: DevSubnet;
let dir: string;
let db: ValidatorDb;
let validator: Validator;
let storage: StorageServiceImpl;
let gateway: GatewayServer;
let url: string;
let user: KeyringPair;
let other: KeyringPair;
let client: StorageClient;
let miners: Miner[];
let minerHotkeys: KeyringPair[];
/** The nodes' clock: moved forward to let the offline grace pass without waiting for it. */
let skew = 0;
const now = () => Date.now() + skew;

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

/** The CID IPFS (Kubo) gives these bytes with `--cid-version 1 --raw-leaves --chunker size-1048576`. */
async function ipfsCid(bytes: Uint8Array): Promise<string> {
  const blockstore = { put: async (cid: unknown) => cid };
  let root: { toString(): string } | undefined;
  for await (const entry of importer([{ content: bytes }], blockstore as never, {
    cidVersion: 1,
    rawLeaves: true,
    chunker: fixedSize({ chunkSize: MiB }),
    layout: balanced({ maxChildrenPerNode: 174 }),
    reduceSingleLeafToSelf: true,
  }))
    root = entry.cid;
  return String(root);
}

beforeAll(async () => {
  const keyring = (await import("@polkadot/keyring")).Keyring;
  const keys = new keyring({ type: "sr25519", ss58Format: 42 });
  const validatorHotkey = keys.addFromUri("//Bob//gateway");
  minerHotkeys = Array.from({ length: MINERS }, (_, i) => keys.addFromUri(`//Charlie//e2e${i}`));
  user = keys.addFromUri("//Dave//user");
  other = keys.addFromUri("//Eve//user");
  subnet = await startDevSubnet({
    tempo: 100,
    validators: [validatorHotkey.address],
    miners: minerHotkeys.map((k) => k.address),
  });
  dir = mkdtempSync(join(tmpdir(), "storage-e2e-"));
  miners = [];
  for (const hotkey of minerHotkeys) {
    miners.push(await startTestMiner(subnet, { hotkey, dir, chunkSize: MiB, freeChunks: 96 }));
  }
  db = ValidatorDb.open(join(dir, "validator.sqlite"));
  validator = createValidator({
    settings: { netuid: subnet.netuid, chunkSize: MiB, retrieveProbability: 0, autoRun: false },
    chain: subnet.client,
    hotkey: validatorHotkey,
    db,
    secret: new Uint8Array(32).fill(3),
    now,
  });
  await validator.start();
  const metrics = createMetricsRegistry();
  storage = createStorageService({
    db,
    link: validator.link,
    settings: {
      dataShards: 4,
      parityShards: 2,
      repairBandwidth: 64 * MiB,
      offlineGraceMs: 60_000,
      chunkSize: MiB,
      autoMaintain: false,
    },
    metrics,
    now,
  });
  await storage.start();
  const config = {
    ...defaultsOf(validatorConfigSchema),
    "api.quota_bytes": 400 * MiB,
    "api.quota_files": 40,
    "api.rate": 1000,
  };
  gateway = createGatewayServer({
    service: storage,
    hotkey: validatorHotkey,
    netuid: subnet.netuid,
    settings: gatewaySettingsFrom(config),
    log: silentLogger(),
    metrics,
  });
  ({ url } = await gateway.listen(0, "127.0.0.1"));
  client = createStorageClient({ gateway: url, hotkey: user, userSecret: new Uint8Array(32).fill(9) });
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  await storage?.stop();
  await validator?.stop();
  for (const m of miners ?? []) await m.stop();
  db?.close();
  await stopDevSubnet(subnet);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("files through the gateway", () => {
  for (const size of [0, 1, MiB - 1, MiB, MiB + 1]) {
    for (const visibility of ["encrypted", "public"] as const) {
      it(`${size} B, ${visibility}: get returns the bytes put`, async () => {
        const bytes = randomBytes(size);
        const info = await client.put(bytesSource(bytes), { public: visibility === "public" });
        expect(info.size).toBe(visibility === "public" ? size : info.size);
        // Buffer.equals, not toEqual: vitest compares a 1 MiB Buffer element by element (~3 s each).
        expect((await collect(client.get(info.cid))).equals(bytes)).toBe(true);
        if (visibility === "public") expect(info.cid).toBe(await ipfsCid(bytes));
      }, 60_000);
    }
  }

  it("a 100 MiB file comes back byte-identical, and a range read returns its slice", async () => {
    const bytes = randomBytes(100 * MiB);
    const info = await client.put(bytesSource(bytes));
    const back = await collect(client.get(info.cid));
    expect(back.length).toBe(bytes.length);
    expect(back.equals(bytes)).toBe(true);
    const offset = 37 * MiB + 12_345;
    const slice = await collect(client.get(info.cid, { range: { offset, length: 3 * MiB } }));
    expect(slice.equals(bytes.subarray(offset, offset + 3 * MiB))).toBe(true);
    await client.remove(info.cid);
  }, 240_000);

  it("a public file's CID is the IPFS CID, and anyone may read it; a private one only its owner", async () => {
    const bytes = randomBytes(3 * MiB + 17);
    const pub = await client.put(bytesSource(bytes), { public: true });
    expect(pub.cid).toBe(await ipfsCid(bytes));
    const anon = await fetch(`${url}/v1/files/${pub.cid}`);
    expect(anon.status).toBe(200);
    expect(Buffer.from(await anon.arrayBuffer()).equals(bytes)).toBe(true);
    const ranged = await fetch(`${url}/v1/files/${pub.cid}`, { headers: { Range: "bytes=1048570-1048579" } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(1048570, 1048580))).toBe(true);

    const secret = await client.put(bytesSource(bytes));
    expect(secret.cid).not.toBe(pub.cid);
    expect((await fetch(`${url}/v1/files/${secret.cid}`)).status).toBe(404);
    const stranger = createStorageClient({
      gateway: url,
      hotkey: other,
      userSecret: new Uint8Array(32).fill(1),
    });
    await expect(collect(stranger.get(secret.cid))).rejects.toThrow();
    // The gateway only ever held ciphertext: its bytes are not the file's.
    const stored = await collect(storage.read(secret.cid, user.address));
    expect(stored.includes(bytes.subarray(0, 4096))).toBe(false);
  }, 60_000);

  it("ls, status and rm: status names the miners and the health; rm makes the file unknown", async () => {
    const bytes = randomBytes(5 * MiB);
    const info = await client.put(bytesSource(bytes));
    expect((await client.list()).map((f) => f.cid)).toContain(info.cid);
    const status = await client.status(info.cid);
    expect(status.redundancy).toBe("full");
    expect(status.health).toBe(2);
    const holders = new Set(status.stripesDetail[0]?.pieces.map((p) => p.miner));
    expect(holders.size).toBe(6);
    await client.remove(info.cid);
    expect((await client.list()).map((f) => f.cid)).not.toContain(info.cid);
    await expect(client.status(info.cid)).rejects.toThrow();
  }, 60_000);

  it("with m miners of a stripe stopped the file still reads; repair then restores full health", async () => {
    const bytes = randomBytes(4 * MiB);
    const info = await client.put(bytesSource(bytes), { public: true });
    const status = await client.status(info.cid);
    const stripe = status.stripesDetail[0];
    const victims = (stripe?.pieces ?? []).slice(0, 2).map((p) => p.miner);
    const stopped = miners.filter((_, i) => victims.includes(minerHotkeys[i]?.address as string));
    expect(stopped.length).toBe(2);
    for (const m of stopped) await m.stop();
    expect((await collect(client.get(info.cid))).equals(bytes)).toBe(true);
    expect((await client.status(info.cid)).health).toBe(2);
    // Gone for good: once they have been unreachable past the offline grace, repair rebuilds
    // their pieces on the six miners left (k + m = 6, so one piece each again).
    await storage.repairNow();
    skew += 60_000;
    const report = await storage.repairNow();
    expect(report.repaired).toBeGreaterThanOrEqual(2);
    const after = await client.status(info.cid);
    expect(after.health).toBe(2);
    expect(
      after.stripesDetail[0]?.pieces.every((p) => !victims.includes(p.miner) || p.state === "lost"),
    ).toBe(true);
    expect((await collect(client.get(info.cid))).equals(bytes)).toBe(true);
  }, 120_000);
});
