/**
 * Hosts simulated nodes away from the simulator's thread: forked as a child process
 * (`--mode process`: one node per process) or started as a worker thread (`--mode inprocess`:
 * many nodes per thread, one thread per core). The simulator sends requests (sim/node-ipc.ts):
 * start a miner or a validator from its spec, run a validator round, report scores, stop a node,
 * close. A runtime (sim/node-runtime.ts, the same one `--threads 0` calls directly) runs the
 * production miner and validator, built by sim/nodes.ts, sharing one chain client per runner on
 * the simulator's dev chain (a child process's is the simulator's own, over the channel:
 * sim/ipc-chain-client.ts); each node's JSON log goes to `<logDir>/<node>.log`.
 *
 * As a child process: Ctrl-C reaches every process of the terminal's group, so SIGINT is ignored
 * and the simulator's `close` awaited; if the simulator goes away (the channel closes), the runner
 * stops its nodes and exits on its own.
 */
import "../polyfills.js";
import { isMainThread, parentPort } from "node:worker_threads";
import type { ChainClient } from "../chain/client.js";
import { saveCodeCache } from "../neurons/code-cache.js";
import {
  type ChainCall,
  createIpcChainClient,
  IPC_CHAIN_ENDPOINT,
  isChainAnswer,
} from "./ipc-chain-client.js";
import { type NodeReply, nodeRequestSchema } from "./node-ipc.js";
import { createNodeRuntime } from "./node-runtime.js";

const port = isMainThread ? null : parentPort;
const send = (reply: NodeReply | ChainCall): void => {
  if (port) port.postMessage(reply);
  else process.send?.(reply);
};

/** Requests for one node run in order; for different nodes, concurrently. */
const queues = new Map<string, Promise<void>>();
let client: Promise<ChainClient> | undefined;
let closing: Promise<void> | undefined;
/** The chain over this runner's channel, when a start request names {@link IPC_CHAIN_ENDPOINT}. */
const overChannel = createIpcChainClient(send);

/**
 * One chain client for every node this runner hosts: the simulator's, over the channel, or a
 * WebSocket client of its own. @polkadot/api is imported only for the latter, so a node process
 * on the channel never loads it.
 */
function chain(endpoint: string): Promise<ChainClient> {
  client ??= (async () => {
    if (endpoint === IPC_CHAIN_ENDPOINT) return overChannel.client;
    const { PolkadotChainClient } = await import("../chain/polkadot-client.js");
    const c = new PolkadotChainClient({ endpoint });
    await c.start();
    return c;
  })();
  return client;
}

const runtime = createNodeRuntime(chain);

function closeAll(): Promise<void> {
  closing ??= (async () => {
    await runtime.close();
    if (client) await (await client).stop().catch(() => undefined);
  })();
  return closing;
}

async function handle(raw: unknown): Promise<unknown> {
  const parsed = nodeRequestSchema.safeParse(raw);
  if (!parsed.success) throw new TypeError(`bad request: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  if (parsed.data.op === "close") {
    await closeAll();
    return {};
  }
  return runtime.handle(parsed.data);
}

function onRequest(raw: unknown): void {
  if (isChainAnswer(raw)) {
    overChannel.answer(raw);
    return;
  }
  const msg = typeof raw === "object" && raw !== null ? (raw as { id?: unknown; node?: unknown }) : {};
  const id = typeof msg.id === "number" ? msg.id : -1;
  const key = typeof msg.node === "string" ? msg.node : "";
  const run = async () => {
    try {
      send({ id, ok: true, result: await handle(raw) });
      // A node started: the code cache now holds what start-up compiled (written once).
      saveCodeCache();
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      send({ id, ok: false, error: { name: e.name, message: e.message } });
    }
  };
  const next = (queues.get(key) ?? Promise.resolve()).then(run);
  queues.set(key, next);
  void next.then(() => {
    if (queues.get(key) === next) queues.delete(key);
  });
}

if (port) {
  port.on("message", onRequest);
} else {
  process.on("message", onRequest);
  // The simulator drives shutdown; a terminal's Ctrl-C must not stop a node half-way.
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", () => {
    void closeAll().finally(() => process.exit(143));
  });
  process.on("disconnect", () => {
    void closeAll().finally(() => {
      // Stray libp2p timers must not keep the process alive.
      setTimeout(() => process.exit(0), 500).unref();
    });
  });
}
