/**
 * A gateway killed with SIGKILL in the middle of a put: `node neurons/validator.js --api.port`
 * as an operator runs it, against the embedded dev chain and six in-process miners over libp2p on
 * loopback. A file acknowledged before the kill reads back whole after the restart; the put that
 * was cut short is visible nowhere (not listed, its CID unknown), and the restarted gateway frees
 * the pieces it had already placed for it.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWallet, loadHotkey } from "../chain/wallet.js";
import { createStorageClient } from "../neurons/client/api.js";
import { bytesSource } from "../neurons/client/source.js";
import type { Miner } from "../neurons/miner/miner.js";
import { importFile } from "../protocol/content-id.js";
import { children, freePort, type Run, runNode } from "./node-process.js";
import { type DevSubnet, startDevSubnet, startTestMiner, stopDevSubnet } from "./subnet-fixture.js";

const root = new URL("../", import.meta.url).pathname;
const MiB = 1024 * 1024;
const MINERS = 6;

let subnet: DevSubnet | undefined;
let dir: string;
const miners: Miner[] = [];

beforeAll(() => {
  if (!existsSync(join(root, "dist/neurons/validator/cli.js"))) throw new Error("run `npm run build` first");
  dir = mkdtempSync(join(tmpdir(), "gateway-kill-"));
});

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const m of miners) await m.stop();
  await stopDevSubnet(subnet);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

describe("a gateway killed with SIGKILL mid-put", () => {
  it("keeps every acknowledged file and exposes nothing of the interrupted one", async () => {
    const walletPath = join(dir, "wallets");
    const wallet = await createWallet({ name: "gateway", hotkey: "default", path: walletPath });
    const keys = (await import("@polkadot/keyring")).Keyring;
    const keyring = new keys({ type: "sr25519", ss58Format: 42 });
    const minerHotkeys = Array.from({ length: MINERS }, (_, i) => keyring.addFromUri(`//Charlie//kill${i}`));
    subnet = await startDevSubnet({
      tempo: 100,
      validators: [wallet.hotkey.ss58Address],
      miners: minerHotkeys.map((k) => k.address),
    });
    for (const hotkey of minerHotkeys)
      miners.push(await startTestMiner(subnet, { hotkey, dir, chunkSize: MiB, freeChunks: 64 }));

    const port = await freePort();
    const dbRoot = join(dir, "db");
    const args = [
      "--netuid",
      String(subnet.netuid),
      "--wallet.name",
      "gateway",
      "--wallet.path",
      walletPath,
      "--subtensor.chain_endpoint",
      subnet.chain.endpoint,
      "--db_root_path",
      dbRoot,
      "--api.port",
      String(port),
      "--api.host",
      "127.0.0.1",
      "--api.data_shards",
      "4",
      "--api.parity_shards",
      "2",
    ];
    const start = async (): Promise<Run> => {
      const run = runNode("neurons/validator.js", args);
      await run.waitFor("client API listening", 60_000);
      return run;
    };
    const gatewayHotkey = (await loadHotkey({ name: "gateway", hotkey: "default", path: walletPath }))
      .keypair;
    const user = keyring.addFromUri("//Dave//kill");
    const client = createStorageClient({
      gateway: `http://127.0.0.1:${port}`,
      hotkey: user,
      userSecret: new Uint8Array(32).fill(5),
    });

    let run = await start();
    const kept = randomBytes(6 * MiB + 3);
    const keptInfo = await client.put(bytesSource(kept));

    // A public put, so the test knows its CID (the IPFS CID of the bytes) without the client.
    const cut = randomBytes(48 * MiB);
    const cutCid = (
      await importFile(
        (async function* () {
          yield cut;
        })(),
        { onBlock: () => undefined },
      )
    ).toString();
    let killed = false;
    const interrupted = client.put(bytesSource(cut), {
      public: true,
      onProgress: (p) => {
        if (!killed && p.phase === "upload" && p.bytes >= 16 * MiB) {
          killed = true;
          run.child.kill("SIGKILL");
        }
      },
    });
    await expect(interrupted).rejects.toThrow();
    expect(killed).toBe(true);
    await run.exit;

    // The kill left pieces of the cut put on the miners and a pending record of them.
    const dbFile = join(dbRoot, String(subnet.netuid), gatewayHotkey.address, "validator.sqlite");
    const pendingPieces = () => {
      const db = new Database(dbFile, { readonly: true });
      try {
        return db
          .prepare(
            "SELECT count(*) FROM pieces JOIN files ON files.id = pieces.file_id WHERE files.state = 'pending'",
          )
          .pluck()
          .get() as number;
      } finally {
        db.close();
      }
    };
    expect(pendingPieces()).toBeGreaterThan(0);

    run = await start();
    expect((await collect(client.get(keptInfo.cid))).equals(kept)).toBe(true);
    expect((await client.list()).map((f) => f.cid)).toEqual([keptInfo.cid]);
    await expect(client.status(cutCid)).rejects.toThrow();
    expect((await fetch(`http://127.0.0.1:${port}/ipfs/${cutCid}?format=raw`)).status).toBe(404);
    // Freed at start-up: no piece of an uncommitted put is left in the index.
    expect(pendingPieces()).toBe(0);

    run.child.kill("SIGTERM");
    expect((await run.exit).code).toBe(0);
  }, 180_000);
});
