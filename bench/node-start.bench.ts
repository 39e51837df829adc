/**
 * A node process from spawn to serving: `node neurons/miner.js` until its "miner serving" log line
 * and `node neurons/validator.js` until "validating", each against the embedded dev chain with a
 * registered (and, for the validator, staked) hotkey, as an operator starts them. Reports the
 * child's wall time and CPU time (user + system, read from /proc at that log line, so Linux only)
 * against a bare `node -e` that writes one log line, spawned the same way (the floor of starting
 * any Node.js process); the median of a few starts each. Each miner start is a first start: its own
 * registered hotkey, so it serves its axon and publishes its address on chain.
 *
 * The nodes' code cache (neurons/code-cache.ts) is a fresh directory: each program's first start
 * compiles its bundle and writes the cache (`<node>_cpu_cold`), the measured starts after it read
 * it, as every start of an installed node but the first after a build does.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import { createDevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";
import { createWallet } from "../chain/wallet.js";
import { CODE_CACHE_ENV } from "../neurons/code-cache.js";
import { type BenchGroup, measured } from "./harness.js";

/** Starts of each program; the median is reported. */
const STARTS = 3;
const TAO = 1_000_000_000n;
/** The repository root: the node entry points are `neurons/*.js` under it. */
const root = new URL("../../", import.meta.url).pathname;

/** Wall and CPU time of one start, in milliseconds; cpu is NaN where /proc is missing. */
interface StartCost {
  wallMs: number;
  cpuMs: number;
}

/** User + system CPU time of a live process so far, from /proc/<pid>/stat (clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/**
 * Spawns `node <args>` and resolves with its cost when a JSON log line on stderr has msg `until`;
 * then kills it, once `settled` (when given) resolves.
 */
function startCost(
  args: string[],
  until: string,
  env: NodeJS.ProcessEnv,
  settled?: () => Promise<void>,
): Promise<StartCost> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child: ChildProcess = spawn(process.execPath, args, {
      cwd: root,
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    let done = false;
    let seen = false;
    const timer = setTimeout(() => finish(new Error(`no "${until}" line within 60 s:\n${stderr}`)), 60_000);
    const finish = (error: Error | undefined, cost?: StartCost) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (child.exitCode === null) child.kill("SIGKILL");
      if (error) reject(error);
      else resolve(cost as StartCost);
    };
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (text: string) => {
      stderr += text;
      if (seen || !stderr.includes(`"msg":"${until}"`)) return;
      seen = true;
      const wallMs = performance.now() - start;
      const cost = { wallMs, cpuMs: processCpuMs(child.pid as number) };
      if (settled) settled().then(() => finish(undefined, cost), finish);
      else finish(undefined, cost);
    });
    child.once("exit", (code) =>
      finish(new Error(`${args[0]} exited ${code} before "${until}":\n${stderr}`)),
    );
    child.once("error", (error) => finish(error));
  });
}

/** Resolves once `dir` holds a code cache file of `node`'s bundle (the node writes it once up). */
async function codeCacheWritten(dir: string, node: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const names = existsSync(dir) ? readdirSync(dir) : [];
    if (names.some((name) => name.startsWith(`${node}.bundle-`) && name.endsWith(".v8"))) return;
    if (Date.now() > deadline) throw new Error(`${node} wrote no code cache in ${dir} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export const nodeStartBench: BenchGroup = {
  name: "node-start",
  description: "a node process from spawn to serving (miner) or validating (validator) on the dev chain",
  async run(report, signal) {
    await cryptoWaitReady();
    const dir = mkdtempSync(join(tmpdir(), "bench-node-start-"));
    const chain = createDevChain({ port: 0, mode: "instant", pallets: subtensorPallets(), log: () => {} });
    await chain.start();
    const client = new PolkadotChainClient({ endpoint: chain.endpoint });
    const cacheDir = join(dir, "code-cache");
    const env = { ...process.env, [CODE_CACHE_ENV]: cacheDir };
    try {
      await client.start();
      const walletPath = join(dir, "wallets");
      const minerWallets = await Promise.all(
        // One more miner than measured starts: the first start fills the code cache.
        Array.from({ length: STARTS + 1 }, (_, i) =>
          createWallet({ name: `miner${i}`, hotkey: "default", path: walletPath }),
        ),
      );
      const validatorWallet = await createWallet({ name: "validator", hotkey: "default", path: walletPath });
      const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
      const bob = keyring.addFromUri("//Bob");
      const { netuid } = await bootstrapSubnet(client, {
        sudo: keyring.addFromUri("//Alice"),
        ownerHotkey: keyring.addFromUri("//Alice//owner").address,
        hyperparameters: [["sudoSetTempo", 1000]],
        registrations: [
          { coldkey: bob, hotkey: validatorWallet.hotkey.ss58Address },
          ...minerWallets.map((w) => ({
            coldkey: keyring.addFromUri("//Charlie"),
            hotkey: w.hotkey.ss58Address,
          })),
        ],
        stakes: [{ coldkey: bob, hotkey: validatorWallet.hotkey.ss58Address, amountRao: 1_000n * TAO }],
      });
      const common = (wallet: string) => [
        "--netuid",
        String(netuid),
        "--subtensor.chain_endpoint",
        chain.endpoint,
        "--wallet.path",
        walletPath,
        "--wallet.name",
        wallet,
        "--db_root_path",
        join(dir, "db"),
      ];
      let miners = 0;
      const minerArgs = async () => [
        "neurons/miner.js",
        ...common(`miner${miners++}`),
        "--axon.ip",
        "127.0.0.1",
        "--axon.port",
        String(await freePort()),
        "--threshold",
        "0.01",
      ];
      const validatorArgs = async () => ["neurons/validator.js", ...common("validator")];

      const costs = async (args: () => Promise<string[]>, until: string): Promise<StartCost | undefined> => {
        const runs: StartCost[] = [];
        for (let i = 0; i < STARTS; i++) {
          if (signal.aborted) return undefined;
          runs.push(await startCost(await args(), until, env));
        }
        return { wallMs: median(runs.map((r) => r.wallMs)), cpuMs: median(runs.map((r) => r.cpuMs)) };
      };
      // The floor: a process that writes one log line and waits, measured the same way.
      const bare = await costs(
        async () => ["-e", `console.error('{"msg":"started"}'); setTimeout(() => {}, 60_000)`],
        "started",
      );
      if (!bare) return;
      for (const [node, args, until] of [
        // The validator first: miners killed after serving would be axons it tries to reach.
        ["validator", validatorArgs, "validating"],
        ["miner", minerArgs, "miner serving"],
      ] as const) {
        if (signal.aborted) return;
        // The first start after a build: compiles the bundle and writes the code cache once up.
        const cold = await startCost(await args(), until, env, () => codeCacheWritten(cacheDir, node));
        const cost = await costs(args, until);
        if (!cost) return;
        const goal = "goal CPU ≤ 500 ms";
        report(
          measured(
            `node-start.${node}_cpu_cold`,
            cold.cpuMs,
            "ms",
            bare.cpuMs,
            "the first start after a build: no code cache yet (writing it, once up, is not counted)",
          ),
        );
        report(
          measured(
            `node-start.${node}_wall`,
            cost.wallMs,
            "ms",
            bare.wallMs,
            `baseline: a bare node process; ${goal}`,
          ),
        );
        report(
          measured(
            `node-start.${node}_cpu`,
            cost.cpuMs,
            "ms",
            bare.cpuMs,
            `baseline: a bare node process; ${goal}`,
          ),
        );
      }
    } finally {
      await client.stop();
      await chain.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
