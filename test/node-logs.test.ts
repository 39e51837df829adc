/**
 * A node's output is JSON lines, even when its chain goes away: `node neurons/miner.js` and
 * `node neurons/validator.js` run against the embedded dev chain, the chain stops under them, and
 * every line either prints on stdout or stderr (the chain client library's own complaints
 * included) parses as a JSON object.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logger as polkadotLogger } from "@polkadot/util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWallet } from "../chain/wallet.js";
import { createLogger, routeConsoleToLog } from "../neurons/logger.js";
import { children, type Run, runNode } from "./node-process.js";
import { type DevSubnet, startDevSubnet, stopDevSubnet } from "./subnet-fixture.js";

const root = new URL("../", import.meta.url).pathname;
const CHUNK = 64 * 1024;

let subnet: DevSubnet | undefined;
let dir: string;
let walletPath: string;

/** A node process whose stdout and stderr are both recorded, line by line. */
interface Recorded {
  run: Run;
  lines: () => string[];
  /** Resolves with the first JSON record `match` accepts. */
  waitFor: (match: (record: Record<string, unknown>) => boolean, what: string) => Promise<unknown>;
}

function record(script: string, args: string[]): Recorded {
  const run = runNode(script, args);
  let out = "";
  run.child.stdout?.setEncoding("utf8");
  run.child.stdout?.on("data", (text: string) => {
    out += text;
  });
  const lines = () => [...out.split("\n"), ...run.stderr().split("\n")].filter((line) => line !== "");
  const records = () =>
    lines().flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  const waitFor = async (match: (r: Record<string, unknown>) => boolean, what: string) => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const found = records().find(match);
      if (found) return found;
      if (run.child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no ${what} in the output:\n${lines().join("\n")}`);
  };
  return { run, lines, waitFor };
}

function common(wallet: string): string[] {
  return [
    "--netuid",
    String(subnet?.netuid),
    "--subtensor.chain_endpoint",
    subnet?.chain.endpoint ?? "",
    "--wallet.path",
    walletPath,
    "--wallet.name",
    wallet,
    "--db_root_path",
    join(dir, wallet),
    "--chunk_size",
    String(CHUNK),
    // Also how long a chain call waits for a lost chain (plus 5 s): the validator's round in
    // flight, which SIGTERM waits for, gives up after that instead of the default 30 s.
    "--subtensor.timeout",
    "1",
  ];
}

beforeAll(async () => {
  if (!existsSync(join(root, "dist/neurons/miner/cli.js"))) throw new Error("run `npm run build` first");
  dir = mkdtempSync(join(tmpdir(), "node-logs-"));
  walletPath = join(dir, "wallets");
  const validator = await createWallet({ name: "validator", hotkey: "default", path: walletPath });
  const miner = await createWallet({ name: "miner", hotkey: "default", path: walletPath });
  subnet = await startDevSubnet({
    tempo: 5,
    validators: [validator.hotkey.ss58Address],
    miners: [miner.hotkey.ss58Address],
  });
}, 120_000);

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await stopDevSubnet(subnet);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("routeConsoleToLog", () => {
  it("turns @polkadot/util's logger lines and other console output into JSON records, until restored", () => {
    const lines: string[] = [];
    const original = console.error;
    const restore = routeConsoleToLog(
      createLogger({ write: (line) => lines.push(line), fields: { node: "t" } }),
    );
    try {
      polkadotLogger("api-ws").error("disconnected from ws://127.0.0.1:9944: 1006:: Abnormal Closure");
      polkadotLogger("rpc-core").warn("some", { detail: 1 });
      console.log("plain %d", 7);
    } finally {
      restore();
    }
    expect(console.error).toBe(original);
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({
        level: "error",
        msg: "disconnected from ws://127.0.0.1:9944: 1006:: Abnormal Closure",
        origin: "api-ws",
        node: "t",
      }),
      expect.objectContaining({ level: "warn", msg: "some { detail: 1 }", origin: "rpc-core" }),
      expect.objectContaining({ level: "info", msg: "plain 7", origin: "console" }),
    ]);
  });
});

describe("node output when the chain drops", () => {
  it("stays one JSON object per line, the chain client library's messages included", async () => {
    const miner = record("neurons/miner.js", [
      ...common("miner"),
      "--axon.ip",
      "127.0.0.1",
      "--axon.port",
      "0",
      "--neuron.metagraph_interval",
      "0.5",
    ]);
    const validator = record("neurons/validator.js", [
      ...common("validator"),
      "--neuron.challenge_interval",
      "0.5",
      "--neuron.challenge_timeout",
      "1",
    ]);
    await miner.waitFor((r) => r.msg === "miner serving", "miner serving");
    await validator.waitFor((r) => r.msg === "round", "a validator round");

    await subnet?.client.stop();
    await subnet?.chain.stop();
    subnet = undefined;

    // @polkadot/rpc-provider notices the drop and says so (WsProvider retries every 2.5 s): the
    // lines this test is about, now JSON with their origin.
    for (const node of [miner, validator]) {
      await node.waitFor((r) => r.origin === "api-ws", "chain client library message");
    }

    for (const node of [miner, validator]) {
      node.run.child.kill("SIGTERM");
      await node.run.exit;
      const bad = node.lines().filter((line) => {
        try {
          const parsed: unknown = JSON.parse(line);
          return parsed === null || typeof parsed !== "object" || Array.isArray(parsed);
        } catch {
          return true;
        }
      });
      expect(bad, node.lines().join("\n")).toEqual([]);
    }
  }, 90_000);
});
