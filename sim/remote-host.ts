/**
 * Node hosts that run the compiled sim/node-runner.js away from the simulator's thread and drive it
 * over sim/node-ipc.ts:
 * - {@link createProcessHost} (`--mode process`): one child process per node. A node's start
 *   forks a runner, its stop closes it. The child's stdout and stderr go to the node's log file.
 * - {@link createThreadHost} (`--mode inprocess`): a few worker threads of this process, each
 *   hosting many nodes with one chain client; the simulator's thread keeps the dev chain. Threads
 *   let an in-process run use every core. Their stray output goes to `<logDir>/thread<k>.log`.
 * Stopping asks each runner to close its nodes, and kills one that has not within 10 s.
 */
import { type ChildProcess, fork } from "node:child_process";
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { SimError } from "./errors.js";
import type { ChainService } from "./ipc-chain-client.js";
import { answerChainCall, IPC_CHAIN_ENDPOINT, isChainCall } from "./ipc-chain-client.js";
import type { NodeReply, NodeRequest, NodeResults } from "./node-ipc.js";
import { type NodeArgs, type NodeCaller, nodeHandles } from "./node-runtime.js";
import type { NodeHost } from "./nodes.js";

/** A runner failed, or answered a request with an error; the message names the node and its log. */
export class NodeHostError extends SimError {
  override readonly name = "NodeHostError";
}

/** How long a runner may take to close its nodes before it is killed. */
const CLOSE_GRACE_MS = 10_000;

/**
 * The compiled runner, bundled into one file (it starts in half the CPU: scripts/bundle-nodes.ts).
 * Under the TypeScript sources (vitest) this file is sim/remote-host.ts and the runner is taken
 * from dist/ (`npm test` builds it first).
 */
export function defaultRunnerPath(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".js")) return join(here, "..", "node-runner.bundle.js");
  return join(here, "..", "..", "dist", "sim", "node-runner.bundle.js");
}

/** The two ways a runner is reached. */
interface Channel {
  send(message: unknown): void;
  onMessage(handler: (reply: NodeReply) => void): void;
  /** Resolves once the runner has ended, with how. */
  readonly ended: Promise<string>;
  /** After `close` answered: let it end. */
  release(): void;
  kill(): void;
  readonly pid: number | undefined;
}

/** glibc malloc arenas of a node process (MALLOC_ARENA_MAX; other C libraries ignore it). */
export const SIM_MALLOC_ARENA_MAX = "1";

function processChannel(runner: string, logFile: string): Channel {
  const fd = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = fork(runner, [], {
      stdio: ["ignore", fd, fd, "ipc"],
      serialization: "advanced",
      // Not the parent's flags (vitest's loaders, --inspect …). A 1 MiB young generation saves
      // about 20 MiB per node process; a sim run measured no slower for it.
      execArgv: ["--max-semi-space-size=1"],
      // One glibc malloc arena instead of one per thread that allocates (libuv's pool, V8's
      // helpers): a node process is one JavaScript thread, and the per-thread arenas' free memory
      // summed to ~140 MiB over a 23-node run's processes (measured; no slower). A value the user
      // exported wins.
      env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? SIM_MALLOC_ARENA_MAX },
    });
  } finally {
    closeSync(fd);
  }
  child.on("error", () => undefined);
  return {
    send: (message) => child.send(message as never, (err) => err && undefined),
    onMessage: (handler) => child.on("message", handler),
    ended: new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ?? `code ${code}`))),
    release: () => {
      if (child.connected) child.disconnect();
    },
    kill: () => child.kill("SIGKILL"),
    pid: child.pid,
  };
}

function threadChannel(runner: string, logFile: string): Channel {
  const worker = new Worker(runner, { stdout: true, stderr: true });
  const out = createWriteStream(logFile, { flags: "a" });
  worker.stdout.pipe(out, { end: false });
  worker.stderr.pipe(out, { end: false });
  let failure: string | undefined;
  worker.on("error", (err) => {
    failure = `${err.name}: ${err.message}`;
    out.write(`${failure}\n`);
  });
  return {
    send: (message) => worker.postMessage(message),
    onMessage: (handler) => worker.on("message", handler),
    ended: new Promise((resolve) =>
      worker.once("exit", (code) => {
        out.end();
        resolve(failure ?? `code ${code}`);
      }),
    ),
    release: () => void worker.terminate(),
    kill: () => void worker.terminate(),
    pid: undefined,
  };
}

/** One runner and its requests in flight. */
class Runner implements NodeCaller {
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; what: string }>();
  #nextId = 1;
  #ended: string | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly channel: Channel,
    readonly logFile: string,
    chain?: ChainService,
  ) {
    channel.onMessage((reply) => {
      if (isChainCall(reply)) {
        if (chain) void answerChainCall(reply, chain.client, chain.pairOf).then((a) => channel.send(a));
        return;
      }
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.result);
      else p.reject(new NodeHostError(`${p.what} failed: ${reply.error.name}: ${reply.error.message}`));
    });
    void channel.ended.then((how) => {
      this.#ended = how;
      for (const p of this.#pending.values())
        p.reject(new NodeHostError(`${this.name} ended (${how}) during ${p.what}; see ${this.logFile}`));
      this.#pending.clear();
    });
  }

  get alive(): boolean {
    return this.#ended === undefined;
  }

  call<O extends NodeRequest["op"]>(op: O, args: NodeArgs<O>): Promise<NodeResults[O]> {
    const node = "node" in args ? String(args.node) : this.name;
    const what = `${node}: ${op}`;
    if (!this.alive)
      return Promise.reject(new NodeHostError(`${this.name} is not running; see ${this.logFile}`));
    const id = this.#nextId++;
    return new Promise<NodeResults[O]>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, what });
      this.channel.send({ id, op, ...args });
    });
  }

  /** Closes every node it hosts and lets it end; kills it if that takes longer than the grace period. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.alive) {
        const grace = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref());
        await Promise.race([this.call("close", {}).catch(() => undefined), grace]);
        this.channel.release();
      }
      const killer = setTimeout(() => this.channel.kill(), CLOSE_GRACE_MS).unref();
      await this.channel.ended;
      clearTimeout(killer);
    })();
    return this.#closing;
  }
}

interface RemoteHostInit {
  /** The dev chain's WebSocket endpoint. */
  endpoint: string;
  /** Node logs: `<logDir>/<node>.log`. */
  logDir: string;
  /** The compiled runner; default {@link defaultRunnerPath}. */
  runner?: string;
  /**
   * Process mode: answer the nodes' chain calls with this client over their channel, so a node
   * process does not start a chain client of its own (sim/ipc-chain-client.ts).
   */
  chain?: ChainService;
}

function checkedRunner(init: RemoteHostInit): string {
  const runner = init.runner ?? defaultRunnerPath();
  if (!existsSync(runner))
    throw new NodeHostError(`the node runner ${runner} is missing: run \`npm run build\` first`);
  mkdirSync(init.logDir, { recursive: true });
  return runner;
}

/**
 * One OS process per node.
 *
 * @example
 * const host = createProcessHost({ endpoint: chain.endpoint, logDir: "runs/x/nodes/logs" });
 * const miner = await host.startMiner(spec);
 */
export function createProcessHost(init: RemoteHostInit): NodeHost {
  const runnerPath = checkedRunner(init);
  const running = new Map<string, Runner>();
  const runnerFor = (node: string): Runner => {
    const logFile = join(init.logDir, `${node}.log`);
    const runner = new Runner(node, processChannel(runnerPath, logFile), logFile, init.chain);
    running.set(node, runner);
    // A start that fails leaves no process behind.
    void runner.channel.ended.then(() => {
      if (running.get(node) === runner) running.delete(node);
    });
    return runner;
  };
  const stopNode = async (node: string) => {
    await running.get(node)?.close();
  };
  const nodes = nodeHandles(
    init.chain ? { ...init, endpoint: IPC_CHAIN_ENDPOINT } : init,
    runnerFor,
    stopNode,
  );
  const closeOnFailure =
    <A extends unknown[], T>(fn: (...args: A) => Promise<T>, name: (...args: A) => string) =>
    async (...args: A): Promise<T> => {
      try {
        return await fn(...args);
      } catch (err) {
        await stopNode(name(...args));
        throw err;
      }
    };
  return {
    mode: "process",
    startMiner: closeOnFailure(nodes.startMiner, (spec) => `miner${spec.index}`),
    startValidator: closeOnFailure(nodes.startValidator, (spec) => `validator${spec.index}`),
    pids: () =>
      [...running.values()].flatMap((r) => (r.alive && r.channel.pid !== undefined ? [r.channel.pid] : [])),
    async stop() {
      await Promise.all([...running.values()].map((r) => r.close()));
    },
  };
}

/**
 * Every node in this process, spread over `threads` worker threads (default: one per core);
 * miner i runs on thread i mod threads, validator i on thread (i + 1) mod threads.
 *
 * @example
 * const host = createThreadHost({ endpoint: chain.endpoint, logDir: "runs/x/nodes/logs" });
 */
export function createThreadHost(init: RemoteHostInit & { threads?: number }): NodeHost {
  const runnerPath = checkedRunner(init);
  const count = Math.max(1, init.threads ?? availableParallelism());
  const threads: (Runner | undefined)[] = new Array(count).fill(undefined);
  const threadOf = (node: string): number => {
    const index = Number(/\d+$/.exec(node)?.[0] ?? 0);
    return (node.startsWith("validator") ? index + 1 : index) % count;
  };
  const runnerFor = (node: string): Runner => {
    const k = threadOf(node);
    let runner = threads[k];
    if (!runner?.alive) {
      const logFile = join(init.logDir, `thread${k}.log`);
      runner = new Runner(`thread${k}`, threadChannel(runnerPath, logFile), logFile);
      threads[k] = runner;
    }
    return runner;
  };
  const nodes = nodeHandles(init, runnerFor, async (node) => {
    await threads[threadOf(node)]?.call("stop", { node });
  });
  return {
    mode: "inprocess",
    ...nodes,
    // Threads are this process: its own memory figures cover them.
    pids: () => [],
    async stop() {
      await Promise.all(threads.map((r) => r?.close()));
    },
  };
}
