/**
 * One simulated node in its own OS process (`npm run sim -- --mode process`). The simulator forks
 * this file with an IPC channel and sends it requests (sim/node-ipc.ts): start a miner or a
 * validator from its spec, run a validator round, report scores, stop. The node itself is the
 * production miner or validator, built by sim/nodes.ts exactly as in `--mode inprocess`, with its
 * own chain client on the simulator's dev chain and its JSON log on stderr (a file in the run
 * directory).
 *
 * Ctrl-C reaches every process of the terminal's group: the child ignores SIGINT and waits for the
 * simulator's `stop`. If the simulator goes away (the channel closes), the child stops its node and
 * exits on its own.
 */
import "../polyfills.js";
import type { Libp2p } from "@libp2p/interface";
import { PolkadotChainClient } from "../chain/client.js";
import { createLogger } from "../neurons/logger.js";
import type { Miner } from "../neurons/miner/miner.js";
import { createP2PNode } from "../neurons/p2p/node.js";
import { type NodeReply, nodeRequestSchema } from "./node-ipc.js";
import { type BuiltValidator, buildMiner, buildValidator, type MinerSpec } from "./nodes.js";

const send = (reply: NodeReply): void => {
  process.send?.(reply);
};

let client: PolkadotChainClient | undefined;
let miner: Miner | undefined;
let validator: BuiltValidator | undefined;
let proxy: Libp2p | undefined;
let target = "";
let stopping: Promise<void> | undefined;
let queue: Promise<void> = Promise.resolve();

const log = createLogger({ level: "info" });

async function connect(endpoint: string): Promise<PolkadotChainClient> {
  if (client) throw new Error("this process already runs a node");
  client = new PolkadotChainClient({ endpoint });
  await client.start();
  return client;
}

function stopNode(): Promise<void> {
  stopping ??= (async () => {
    await miner?.stop().catch(() => undefined);
    await validator?.close().catch(() => undefined);
    await Promise.resolve(proxy?.stop()).catch(() => undefined);
    await client?.stop().catch(() => undefined);
  })();
  return stopping;
}

async function handle(raw: unknown): Promise<unknown> {
  const parsed = nodeRequestSchema.safeParse(raw);
  if (!parsed.success) throw new TypeError(`bad request: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  const req = parsed.data;
  switch (req.op) {
    case "start-miner": {
      const spec: MinerSpec = req.spec;
      const chain = await connect(req.endpoint);
      if (spec.behaviour === "outsourcer") proxy = await createP2PNode();
      miner = await buildMiner(spec, {
        chain,
        hooks: { proxy: () => proxy as Libp2p, target: () => target },
        log: log.child({ node: `miner${spec.index}` }),
      });
      await miner.start();
      return { announcedAddress: miner.announcedAddress };
    }
    case "start-validator": {
      const chain = await connect(req.endpoint);
      validator = await buildValidator(req.spec, {
        chain,
        log: log.child({ node: `validator${req.spec.index}` }),
      });
      await validator.validator.start();
      return {};
    }
    case "retarget":
      target = req.address;
      return {};
    case "round":
      if (!validator) throw new Error("no validator runs in this process");
      await validator.validator.runRound();
      return {};
    case "report":
      if (!validator) throw new Error("no validator runs in this process");
      return validator.report(req.hotkeys);
    case "stop":
      await stopNode();
      return {};
  }
}

process.on("message", (raw: unknown) => {
  const id = typeof raw === "object" && raw !== null && "id" in raw ? Number(raw.id) : -1;
  // One request at a time, in arrival order, as the simulator sends them.
  queue = queue.then(async () => {
    try {
      const result = await handle(raw);
      send({ id, ok: true, result });
      if ((raw as { op?: unknown }).op === "stop") process.disconnect();
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      log.error("request failed", { op: (raw as { op?: unknown })?.op, error: e.message });
      send({ id, ok: false, error: { name: e.name, message: e.message } });
    }
  });
});

// The simulator drives shutdown; a terminal's Ctrl-C must not stop a node half-way.
process.on("SIGINT", () => undefined);
process.on("SIGTERM", () => {
  void stopNode().finally(() => process.exit(143));
});
process.on("disconnect", () => {
  void stopNode().finally(() => {
    // Stray libp2p timers must not keep the process alive.
    setTimeout(() => process.exit(0), 500).unref();
  });
});
