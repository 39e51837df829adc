/**
 * `node neurons/client.js` as a user runs it, against a fake gateway over a real socket
 * (test/support/fake-gateway.ts): put a file and get it back identical, from stdin too; the
 * --json shapes; a bad flag exits 2 and a failure exits 1, each with one line.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, watch, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWallet, devKeypair } from "../chain/wallet.js";
import { type FakeGateway, startFakeGateway } from "./support/fake-gateway.js";

const root = new URL("../", import.meta.url).pathname;
let dir: string;
let spool: string;
let gateway: FakeGateway;
let walletArgs: string[];
let hotkeyAddress: string;

interface Result {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the client with the test wallet and gateway; `stdin` is piped in when given. */
function client(
  args: string[],
  stdin?: Uint8Array,
  withDefaults = true,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: spool };
    for (const key of Object.keys(env)) if (key.startsWith("SUBNET_")) delete env[key];
    Object.assign(env, extraEnv);
    const child = spawn(
      process.execPath,
      ["neurons/client.js", ...args, ...(withDefaults ? [...walletArgs, "--gateway", gateway.url] : [])],
      { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] },
    );
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.setEncoding("utf8").on("data", (text: string) => {
      err += text;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(stdin === undefined ? undefined : Buffer.from(stdin));
  });
}

function expectOneErrorLine(result: Result, code: number): void {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr).toMatch(/^error: [^\n]+\n$/);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "client-cli-"));
  spool = join(dir, "tmp");
  await mkdir(spool);
  const wallet = await createWallet({ name: "user", hotkey: "default", path: join(dir, "wallets") });
  hotkeyAddress = wallet.hotkey.ss58Address;
  walletArgs = ["--wallet.path", join(dir, "wallets"), "--wallet.name", "user", "--wallet.hotkey", "default"];
  // The CLI runs the compiled client (dist/, built by `npm test`'s pretest or `npm run build`).
  gateway = await startFakeGateway({ hotkey: await devKeypair("//Bob") });
});

afterAll(async () => {
  await gateway.close();
  await rm(dir, { recursive: true, force: true });
});

describe("client CLI", () => {
  it("puts a file, prints its CID and gets it back identical", async () => {
    const bytes = randomBytes(1024 * 1024 + 17);
    const file = join(dir, "in.bin");
    await writeFile(file, bytes);
    const put = await client(["put", file]);
    expect(put.code, put.stderr).toBe(0);
    const cid = put.stdout.toString().trim();
    expect(cid).toMatch(/^baf[a-z0-9]+$/);
    expect(gateway.store.files.get(cid)?.owner).toBe(hotkeyAddress);
    expect(gateway.store.files.get(cid)?.public).toBe(false);

    const out = join(dir, "out.bin");
    const get = await client(["get", cid, "-o", out]);
    expect(get.code, get.stderr).toBe(0);
    expect((await readFile(out)).equals(bytes)).toBe(true);

    const toStdout = await client(["get", cid, "--range", "1048570-1048580"]);
    expect(toStdout.code, toStdout.stderr).toBe(0);
    expect(toStdout.stdout.equals(bytes.subarray(1048570, 1048581))).toBe(true);
  });

  it("puts stdin, deleting its spool file afterwards", async () => {
    const bytes = randomBytes(5000);
    const put = await client(["put", "-", "--public", "--ttl", "30d"], bytes);
    expect(put.code, put.stderr).toBe(0);
    const cid = put.stdout.toString().trim();
    const stored = gateway.store.files.get(cid);
    expect(stored).toMatchObject({ public: true, size: 5000 });
    expect((stored?.expiresAt ?? 0) - (stored?.createdAt ?? 0)).toBe(30 * 86_400_000);
    expect(await readdir(spool)).toEqual([]);
    const get = await client(["get", cid]);
    expect(get.stdout.equals(bytes)).toBe(true);
  });

  it("stops on SIGINT with exit 130, deleting the spooled stdin", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: spool };
    for (const key of Object.keys(env)) if (key.startsWith("SUBNET_")) delete env[key];
    const child = spawn(
      process.execPath,
      ["neurons/client.js", "put", "-", ...walletArgs, "--gateway", gateway.url],
      {
        cwd: root,
        env,
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (text: string) => {
      err += text;
    });
    const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
    // Stdin stays open: the spool file appears and waits for more.
    const watcher = watch(spool);
    child.stdin.write(randomBytes(1000));
    for await (const _event of watcher) if ((await readdir(spool)).length > 0) break;
    child.kill("SIGINT");
    expect(await closed).toBe(130);
    expect(err).toBe("error: interrupted\n");
    expect(await readdir(spool)).toEqual([]);
  });

  it("prints JSON with --json", async () => {
    const file = join(dir, "small.txt");
    await writeFile(file, "hello, subnet\n");
    const put = await client(["put", file, "--json"]);
    expect(put.code, put.stderr).toBe(0);
    expect(put.stderr).toBe("");
    const info = JSON.parse(put.stdout.toString());
    expect(info).toMatchObject({ owner: hotkeyAddress, public: false, expiresAt: null });
    expect(typeof info.cid).toBe("string");

    const out = join(dir, "small.out");
    const get = JSON.parse((await client(["get", info.cid, "-o", out, "--json"])).stdout.toString());
    expect(get).toEqual({ cid: info.cid, bytes: 14, output: out });

    const ls = JSON.parse((await client(["ls", "--json"])).stdout.toString());
    expect(ls.files.map((f: { cid: string }) => f.cid)).toContain(info.cid);
    const status = JSON.parse((await client(["status", info.cid, "--json"])).stdout.toString());
    expect(status).toMatchObject({ cid: info.cid, health: 4, pieces: { total: 14, lost: 0 } });
    expect(Array.isArray(status.stripesDetail)).toBe(true);
    const gatewayInfo = JSON.parse((await client(["info", "--json"])).stdout.toString());
    expect(gatewayInfo).toMatchObject({ url: gateway.url, dataShards: 10, parityShards: 4 });
    const removed = JSON.parse((await client(["rm", info.cid, "--json"])).stdout.toString());
    expect(removed).toEqual({ cid: info.cid, removed: true });
  });

  it("shows status and a listing as text", async () => {
    const file = join(dir, "text.txt");
    await writeFile(file, "x");
    const cid = (await client(["put", file])).stdout.toString().trim();
    const status = (await client(["status", cid])).stdout.toString();
    expect(status).toContain("health      4: 4 more miners may be lost");
    expect((await client(["ls"])).stdout.toString()).toContain(cid);
    expect((await client(["rm", cid])).stdout.toString()).toBe(`removed ${cid}\n`);
  });

  it("takes the wallet from a config file and the gateway from the environment", async () => {
    const config = join(dir, "client.json");
    await writeFile(
      config,
      JSON.stringify({ wallet: { path: join(dir, "wallets"), name: "user", hotkey: "default" } }),
    );
    const info = await client(["info", "--json", "--config", config], undefined, false, {
      SUBNET_GATEWAY: gateway.url,
    });
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout.toString())).toMatchObject({ url: gateway.url });
  });

  it("exits 2 with one line on a bad flag, command or argument", async () => {
    const runs = [
      ["put", "x", "--bogus"],
      ["fly"],
      [],
      ["get"],
      ["put", "x", "--ttl", "5q"],
      ["get", "bafy", "--range", "9-1"],
      ["get", "bafy", "--json"],
      ["ls", "--netuid", "-3"],
    ].map((args) => client(args));
    for (const result of await Promise.all(runs)) {
      expectOneErrorLine(result, 2);
      expect(result.stdout.length).toBe(0);
    }
  });

  it("exits 1 with one line on a failure", async () => {
    const unknown = await client(["get", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"]);
    expectOneErrorLine(unknown, 1);
    expect(unknown.stderr).toMatch(/^error: unknown CID bafkrei.*404/);
    expectOneErrorLine(await client(["status", "not-a-cid"]), 1);
    expectOneErrorLine(await client(["put", join(dir, "missing.bin")]), 1);
    const down = await client(["ls", ...walletArgs, "--gateway", "http://127.0.0.1:1"], undefined, false);
    expectOneErrorLine(down, 1);
    const noWallet = await client(
      ["ls", "--wallet.path", join(dir, "none"), "--gateway", gateway.url],
      undefined,
      false,
    );
    expectOneErrorLine(noWallet, 1);
  });
});
