/**
 * `--mode process`: every node its own OS process, driven over IPC. The same scenario and seed must
 * give the same CSV files as `--mode inprocess` on worker threads or on the simulator's own thread
 * (all run nodes through sim/node-runtime.ts), with an outsourcer that has to be re-pointed and a
 * churning miner that stops and restarts. Ctrl-C on the CLI must stop every child and keep what
 * was written. Node processes load the compiled runner:
 * `npm test` builds dist/ first (pretest).
 */
import { fork, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createProcessHost, NodeHostError, SIM_MALLOC_ARENA_MAX } from "../sim/remote-host.js";
import { createRunWriter } from "../sim/report.js";
import { parseScenario } from "../sim/scenario.js";
import { runSimulation, type SimResult } from "../sim/simulator.js";

const root = join(import.meta.dirname, "..");
const runner = join(root, "dist", "sim", "node-runner.js");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sim-process-"));
  dirs.push(dir);
  return dir;
}

const scenario = parseScenario({
  name: "process-mode",
  seed: 7,
  miners: 5,
  validatorStakes: [1000, 500],
  tempos: 3,
  adversaries: { lazy: 1, outsourcer: 1, churning: 1 },
  // Churning: online in tempo 1, offline in 2, back (a new process, a new port) in 3.
  adversaryOptions: { churnPeriod: 1 },
});

async function run(
  mode: "process" | "inprocess",
  threads?: number,
): Promise<{ dir: string; result: SimResult }> {
  const dir = tempDir();
  const result = await runSimulation({
    scenario,
    outDir: dir,
    writer: createRunWriter(dir, scenario),
    mode,
    ...(threads === undefined ? {} : { threads }),
  });
  return { dir, result };
}

describe.skipIf(!existsSync(runner))("the simulator in process mode", () => {
  it("runs every node as its own process and writes the same CSV files as inprocess", async () => {
    const proc = await run("process");
    expect(proc.result.aborted).toBe(false);
    expect(proc.result.timings.mode).toBe("process");
    // 5 miners and 2 validators, and the churning miner's second process.
    expect(proc.result.timings.nodeProcesses).toBe(8);
    if (process.platform === "linux") {
      // Summed over the simulator and its node processes: more than the simulator alone.
      expect(proc.result.timings.peakMemoryMethod).toBe("pss-sampled");
      expect(proc.result.timings.peakMemoryBytes).toBeGreaterThan(proc.result.timings.peakRssBytes);
    }
    // One log per node; the churning miner's second process appends to its first one's log.
    const logs = readdirSync(join(proc.dir, "nodes", "logs")).sort();
    expect(logs).toEqual([
      "miner0.log",
      "miner1.log",
      "miner2.log",
      "miner3.log",
      "miner4.log",
      "validator0.log",
      "validator1.log",
    ]);
    const churner = readFileSync(join(proc.dir, "nodes", "logs", "miner4.log"), "utf8");
    expect(churner.match(/"msg":"miner serving"/g)).toHaveLength(2);

    // inprocess on worker threads, and on the simulator's own thread (--threads 0).
    const threaded = await run("inprocess");
    const inThread = await run("inprocess", 0);
    for (const inproc of [threaded, inThread]) {
      expect(inproc.result.timings.mode).toBe("inprocess");
      expect(readdirSync(join(inproc.dir, "nodes", "logs"))).toEqual(expect.arrayContaining(logs));
      for (const file of ["metagraph.csv", "scores.csv", "challenges.csv"]) {
        const left = readFileSync(join(proc.dir, file));
        expect(left.equals(readFileSync(join(inproc.dir, file))), file).toBe(true);
      }
    }
    // What the behaviours should show, in either mode: the outsourcer and the lazy miner fail.
    const challenges = proc.result.tempos.flatMap((t) => t.challenges);
    const fails = (b: string) => challenges.filter((c) => c.behaviour === b).reduce((a, c) => a + c.fail, 0);
    expect(fails("outsourcer")).toBeGreaterThan(0);
    expect(fails("lazy")).toBeGreaterThan(0);
    expect(fails("honest")).toBe(0);
    // The churning miner timed out while it was away (tempo 2), and answered again in tempo 3.
    const churning = (tempo: number) =>
      challenges
        .filter((c) => c.behaviour === "churning" && c.validatorUid >= 0)
        .filter((c) => c.tempo === tempo);
    expect(churning(2).reduce((a, c) => a + c.timeout, 0)).toBeGreaterThan(0);
    expect(churning(3).reduce((a, c) => a + c.pass, 0)).toBeGreaterThan(0);
    // Trust comes from the chain's epoch: a paid honest miner has some.
    const last = proc.result.tempos.at(-1)?.metagraph ?? [];
    expect(last.some((r) => r.behaviour === "honest" && (r.trust ?? 0) > 0)).toBe(true);
  }, 240_000);

  it("answers malformed control messages with an error reply and keeps running", async () => {
    const child = fork(runner, [], {
      stdio: ["ignore", "ignore", "ignore", "ipc"],
      serialization: "advanced",
    });
    const replies: unknown[] = [];
    child.on("message", (m) => replies.push(m));
    const next = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => (replies.length >= n ? resolve() : setTimeout(check, 10));
        check();
      });
    try {
      child.send({ id: 1, op: "format-disk" });
      child.send({ id: 2, op: "start-miner", endpoint: "ws://127.0.0.1:1", spec: { index: -1 } });
      child.send("not even an object");
      child.send({ id: 3, op: "round", node: "validator0", setWeights: true });
      await next(4);
      // Requests for different nodes run concurrently: replies are matched by id.
      const reply = (id: number) => replies.find((r) => (r as { id: number }).id === id);
      expect(reply(1)).toMatchObject({ ok: false, error: { name: "TypeError" } });
      expect(reply(2)).toMatchObject({ ok: false, error: { message: expect.stringMatching(/bad request/) } });
      expect(reply(-1)).toMatchObject({ ok: false });
      // No node runs in it yet: a round is refused, not attempted.
      expect(reply(3)).toMatchObject({
        ok: false,
        error: { message: expect.stringMatching(/does not run here/) },
      });
      expect(child.exitCode).toBeNull();
    } finally {
      child.disconnect();
      await new Promise((resolve) => child.once("exit", resolve));
    }
  });

  it("answers a request a node cannot serve with an error, and names the node", async () => {
    const host = createProcessHost({ endpoint: "ws://127.0.0.1:1", logDir: join(tempDir(), "logs"), runner });
    try {
      // Nothing listens on port 1: the child's chain client cannot connect.
      const start = host.startValidator({
        index: 0,
        hotkeyUri: "//Sim//validator0",
        netuid: 1,
        dir: join(tempDir(), "v0"),
        seed: 1,
        chunkSize: 65_536,
        chunksPerChallenge: 1,
        leavesPerChunk: 1,
        challengeTimeoutMs: 1_000,
        fillPerRound: 1,
        policy: { name: "ema" },
      });
      await expect(start).rejects.toThrow(NodeHostError);
      await expect(start).rejects.toThrow(/validator0/);
    } finally {
      await host.stop();
    }
  }, 60_000);

  // Finds the node processes through /proc.
  it.skipIf(process.platform !== "linux")(
    "stops every node process on Ctrl-C and keeps what was written",
    async () => {
      const out = join(tempDir(), "run");
      const cli = spawn(
        process.execPath,
        [
          join(root, "dist", "sim", "cli.js"),
          "--miners",
          "3",
          "--tempos",
          "50",
          "--mode",
          "process",
          "--out",
          out,
        ],
        { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stdout = "";
      cli.stdout.setEncoding("utf8");
      const firstTempo = new Promise<void>((resolve) => {
        cli.stdout.on("data", (text: string) => {
          stdout += text;
          if (stdout.includes("tempo 1/50")) resolve();
        });
      });
      const exited = new Promise<number | null>((resolve) => cli.once("exit", (code) => resolve(code)));
      await firstTempo;
      const children = childPids(cli.pid as number);
      expect(children.length).toBe(3 + 3);
      // Each node process runs with one malloc arena (SIM_MALLOC_ARENA_MAX), which its memory
      // figure counts on.
      for (const pid of children) {
        const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
        expect(environ, `node process ${pid}`).toContain(`MALLOC_ARENA_MAX=${SIM_MALLOC_ARENA_MAX}`);
      }
      cli.kill("SIGINT");
      expect(await exited).toBe(130);
      for (const pid of children) expect(alive(pid), `node process ${pid}`).toBe(false);
      const rows = readFileSync(join(out, "metagraph.csv"), "utf8").trim().split("\n");
      expect(rows.length).toBeGreaterThan(1);
      expect(existsSync(join(out, "summary.json"))).toBe(true);
    },
    120_000,
  );
});

/** Pids whose parent is `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Field 4 (after the parenthesised command name) is the parent pid.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
