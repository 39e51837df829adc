/**
 * `--mode process`: every node is its own OS process, forked from the compiled
 * sim/node-runner.js and driven over its IPC channel (sim/node-ipc.ts). Each child writes its JSON
 * log to `<logDir>/<node>.log`. Stopping asks each child to stop its node, and kills one that has
 * not exited a few seconds later.
 */
import { type ChildProcess, fork } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NodeReply, NodeRequest, NodeResults } from "./node-ipc.js";
import type { MinerSpec, NodeHost, SimMinerNode, SimValidatorNode, ValidatorSpec } from "./nodes.js";

/** A node process failed, or answered a request with an error; the message names the node and its log. */
export class NodeProcessError extends Error {
  override readonly name = "NodeProcessError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** How long a child may take to stop its node before it is killed. */
const STOP_GRACE_MS = 10_000;

/**
 * The compiled runner. Under the TypeScript sources (vitest) this file is sim/process-host.ts and
 * the runner is taken from dist/ (`npm test` builds it first).
 */
export function defaultRunnerPath(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".js")) return join(here, "..", "node-runner.js");
  return join(here, "..", "..", "dist", "sim", "node-runner.js");
}

type Op = NodeRequest["op"];
type Args<O extends Op> = Omit<Extract<NodeRequest, { op: O }>, "id" | "op">;

/** One child process and its request channel. */
class NodeProcess {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; op: string }>();
  #nextId = 1;
  #exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    runner: string,
    readonly logFile: string,
  ) {
    const fd = openSync(logFile, "a");
    try {
      this.#child = fork(runner, [], {
        stdio: ["ignore", fd, fd, "ipc"],
        serialization: "advanced",
        // Not the parent's flags (vitest's loaders, --inspect …): the runner is plain compiled JS.
        execArgv: ["--max-semi-space-size=1"],
      });
    } finally {
      closeSync(fd);
    }
    this.#child.on("message", (reply: NodeReply) => {
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.result);
      else
        p.reject(
          new NodeProcessError(`${this.name}: ${p.op} failed: ${reply.error.name}: ${reply.error.message}`),
        );
    });
    this.exited = new Promise((resolve) => {
      this.#child.once("exit", (code, signal) => {
        this.#exited = { code, signal };
        for (const p of this.#pending.values())
          p.reject(
            new NodeProcessError(
              `${this.name} exited (${signal ?? `code ${code}`}) during ${p.op}; see ${this.logFile}`,
            ),
          );
        this.#pending.clear();
        resolve();
      });
    });
    this.#child.on("error", () => undefined);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get alive(): boolean {
    return this.#exited === undefined;
  }

  call<O extends Op>(op: O, args: Args<O>): Promise<NodeResults[O]> {
    if (!this.alive)
      return Promise.reject(new NodeProcessError(`${this.name} is not running; see ${this.logFile}`));
    const id = this.#nextId++;
    return new Promise<NodeResults[O]>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, op });
      this.#child.send({ id, op, ...args }, (err) => {
        if (err && this.#pending.delete(id)) reject(new NodeProcessError(`${this.name}: ${err.message}`));
      });
    });
  }

  /** Asks the node to stop, then kills the process if it has not exited within the grace period. */
  async stop(): Promise<void> {
    if (this.alive) {
      try {
        await Promise.race([
          this.call("stop", {}),
          new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref()),
        ]);
      } catch {
        // It died on its own: nothing to stop.
      }
    }
    const killer = setTimeout(() => this.#child.kill("SIGKILL"), STOP_GRACE_MS).unref();
    await this.exited;
    clearTimeout(killer);
  }
}

/**
 * @example
 * const host = createProcessHost({ endpoint: chain.endpoint, logDir: "runs/x/nodes/logs" });
 * const miner = await host.startMiner(spec);
 */
export function createProcessHost(init: { endpoint: string; logDir: string; runner?: string }): NodeHost {
  const runner = init.runner ?? defaultRunnerPath();
  if (!existsSync(runner))
    throw new NodeProcessError(`the node runner ${runner} is missing: run \`npm run build\` first`);
  mkdirSync(init.logDir, { recursive: true });
  const running = new Set<NodeProcess>();

  const spawnNode = (name: string): NodeProcess => {
    const node = new NodeProcess(name, runner, join(init.logDir, `${name}.log`));
    running.add(node);
    void node.exited.then(() => running.delete(node));
    return node;
  };
  const started = async <T>(node: NodeProcess, start: Promise<T>): Promise<T> => {
    try {
      return await start;
    } catch (err) {
      await node.stop();
      throw err;
    }
  };

  return {
    mode: "process",
    async startMiner(spec: MinerSpec): Promise<SimMinerNode> {
      const node = spawnNode(`miner${spec.index}`);
      const { announcedAddress } = await started(
        node,
        node.call("start-miner", { endpoint: init.endpoint, spec }),
      );
      return {
        announcedAddress,
        retarget: async (address) => {
          await node.call("retarget", { address });
        },
        stop: () => node.stop(),
      };
    },
    async startValidator(spec: ValidatorSpec): Promise<SimValidatorNode> {
      const node = spawnNode(`validator${spec.index}`);
      await started(node, node.call("start-validator", { endpoint: init.endpoint, spec }));
      return {
        runRound: async () => {
          await node.call("round", {});
        },
        report: (hotkeys) => node.call("report", { hotkeys: [...hotkeys] }),
        stop: () => node.stop(),
      };
    },
    pids: () => [...running].flatMap((node) => (node.alive && node.pid !== undefined ? [node.pid] : [])),
    async stop() {
      await Promise.all([...running].map((node) => node.stop()));
    },
  };
}
