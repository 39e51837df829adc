/**
 * Hosts simulated nodes away from the simulator's thread: forked as a child process
 * (`--mode process`: one node per process) or started as a worker thread (`--mode inprocess`:
 * many nodes per thread, one thread per core). The simulator sends requests (sim/node-ipc.ts):
 * start a miner or a validator from its spec, run a validator round, report scores, stop a node,
 * close. The nodes are the production miner and validator, built by sim/nodes.ts exactly as
 * everywhere else, sharing one chain client per runner on the simulator's dev chain; each node's
 * JSON log goes to `<logDir>/<node>.log`.
 *
 * As a child process: Ctrl-C reaches every process of the terminal's group, so SIGINT is ignored
 * and the simulator's `close` awaited; if the simulator goes away (the channel closes), the runner
 * stops its nodes and exits on its own.
 */
import "../polyfills.js";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { isMainThread, parentPort } from "node:worker_threads";
import type { Libp2p } from "@libp2p/interface";
import { PolkadotChainClient } from "../chain/client.js";
import { createLogger, type Logger } from "../neurons/logger.js";
import type { Miner } from "../neurons/miner/miner.js";
import { createP2PNode } from "../neurons/p2p/node.js";
import { type NodeReply, nodeRequestSchema } from "./node-ipc.js";
import { type BuiltValidator, buildMiner, buildValidator, type MinerSpec } from "./nodes.js";

interface HostedNode {
  miner?: Miner;
  validator?: BuiltValidator;
  /** An outsourcer's current forwarding address. */
  target: string;
  log: WriteStream;
}

const port = isMainThread ? null : parentPort;
const send = (reply: NodeReply): void => {
  if (port) port.postMessage(reply);
  else process.send?.(reply);
};

const nodes = new Map<string, HostedNode>();
/** Requests for one node run in order; for different nodes, concurrently. */
const queues = new Map<string, Promise<void>>();
let client: Promise<PolkadotChainClient> | undefined;
let proxy: Promise<Libp2p> | undefined;
let closing: Promise<void> | undefined;

function chain(endpoint: string): Promise<PolkadotChainClient> {
  client ??= (async () => {
    const c = new PolkadotChainClient({ endpoint });
    await c.start();
    return c;
  })();
  return client;
}

function nodeLog(logDir: string, name: string): { file: WriteStream; log: Logger } {
  mkdirSync(logDir, { recursive: true });
  const file = createWriteStream(join(logDir, `${name}.log`), { flags: "a" });
  return { file, log: createLogger({ write: (line) => file.write(`${line}\n`), fields: { node: name } }) };
}

function hosted(name: string): HostedNode {
  const node = nodes.get(name);
  if (!node) throw new Error(`${name} does not run here`);
  return node;
}

async function stopNode(name: string): Promise<void> {
  const node = nodes.get(name);
  if (!node) return;
  nodes.delete(name);
  await node.miner?.stop().catch(() => undefined);
  await node.validator?.close().catch(() => undefined);
  await new Promise((resolve) => node.log.end(resolve));
}

function closeAll(): Promise<void> {
  closing ??= (async () => {
    await Promise.all([...nodes.keys()].map(stopNode));
    if (proxy) await Promise.resolve((await proxy).stop()).catch(() => undefined);
    if (client) await (await client).stop().catch(() => undefined);
  })();
  return closing;
}

async function handle(raw: unknown): Promise<unknown> {
  const parsed = nodeRequestSchema.safeParse(raw);
  if (!parsed.success) throw new TypeError(`bad request: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  const req = parsed.data;
  switch (req.op) {
    case "start-miner":
    case "start-validator": {
      if (nodes.has(req.node)) throw new Error(`${req.node} already runs here`);
      const { file, log } = nodeLog(req.logDir, req.node);
      const node: HostedNode = { target: "", log: file };
      try {
        const c = await chain(req.endpoint);
        if (req.op === "start-miner") {
          const spec: MinerSpec = req.spec;
          if (spec.behaviour === "outsourcer") proxy ??= createP2PNode();
          const p2p = spec.behaviour === "outsourcer" ? await proxy : undefined;
          node.miner = await buildMiner(spec, {
            chain: c,
            hooks: { proxy: () => p2p as Libp2p, target: () => node.target },
            log,
          });
          await node.miner.start();
          nodes.set(req.node, node);
          return { announcedAddress: node.miner.announcedAddress };
        }
        node.validator = await buildValidator(req.spec, { chain: c, log });
        await node.validator.validator.start();
        nodes.set(req.node, node);
        return {};
      } catch (err) {
        log.error("start failed", { error: err instanceof Error ? err.message : String(err) });
        await node.validator?.close().catch(() => undefined);
        file.end();
        throw err;
      }
    }
    case "retarget":
      hosted(req.node).target = req.address;
      return {};
    case "round": {
      const { validator } = hosted(req.node);
      if (!validator) throw new Error(`${req.node} is not a validator`);
      await validator.validator.runRound({ setWeights: req.setWeights });
      return {};
    }
    case "report": {
      const { validator } = hosted(req.node);
      if (!validator) throw new Error(`${req.node} is not a validator`);
      return validator.report(req.hotkeys);
    }
    case "stop":
      await stopNode(req.node);
      return {};
    case "close":
      await closeAll();
      return {};
  }
}

function onRequest(raw: unknown): void {
  const msg = typeof raw === "object" && raw !== null ? (raw as { id?: unknown; node?: unknown }) : {};
  const id = typeof msg.id === "number" ? msg.id : -1;
  const key = typeof msg.node === "string" ? msg.node : "";
  const run = async () => {
    try {
      send({ id, ok: true, result: await handle(raw) });
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
