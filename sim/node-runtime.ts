/**
 * What every node host shares. {@link createNodeRuntime} runs the nodes of one host and answers
 * the requests of sim/node-ipc.ts; {@link nodeHandles} turns a way of sending those requests into
 * the simulator's miner and validator handles. The child processes and worker threads of
 * sim/remote-host.ts run a runtime behind a channel (sim/node-runner.ts); {@link createInProcessHost}
 * calls one directly on the simulator's thread (`--threads 0`). So every mode starts, drives and
 * stops nodes through the same code.
 */
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import type { ChainClient } from "../chain/client.js";
import { createLogger, type Logger } from "../neurons/logger.js";
import type { Miner } from "../neurons/miner/miner.js";
import { createP2PNode } from "../neurons/p2p/node.js";
import type { NodeRequest, NodeResults } from "./node-ipc.js";
import {
  type BuiltValidator,
  buildMiner,
  buildValidator,
  type MinerSpec,
  type NodeHost,
  type SimMinerNode,
  type SimValidatorNode,
  type ValidatorSpec,
} from "./nodes.js";

type Op = NodeRequest["op"];
/** A request's fields besides its id and op. */
export type NodeArgs<O extends Op> = Omit<Extract<NodeRequest, { op: O }>, "id" | "op">;

/** Sends one request to the runtime hosting a node and resolves to its answer. */
export interface NodeCaller {
  call<O extends Op>(op: O, args: NodeArgs<O>): Promise<NodeResults[O]>;
}

export interface NodeRuntime {
  /** Answers one request (already checked against the schema); requests for one node must come in order. */
  handle(request: NodeRequest): Promise<unknown>;
  /** Stops every node it hosts, and the outsourcers' forwarding host. */
  close(): Promise<void>;
}

interface HostedNode {
  miner?: Miner;
  validator?: BuiltValidator;
  /** An outsourcer's current forwarding address. */
  target: string;
  log: WriteStream;
}

/**
 * The nodes of one host, on the chain client `chain(endpoint)` gives. Each node's JSON log goes to
 * `<logDir>/<node>.log`; a node started again (a churning miner) appends to it.
 */
export function createNodeRuntime(chain: (endpoint: string) => Promise<ChainClient>): NodeRuntime {
  const nodes = new Map<string, HostedNode>();
  let proxy: Promise<Libp2p> | undefined;
  let closing: Promise<void> | undefined;

  const nodeLog = (logDir: string, name: string): { file: WriteStream; log: Logger } => {
    mkdirSync(logDir, { recursive: true });
    const file = createWriteStream(join(logDir, `${name}.log`), { flags: "a" });
    return { file, log: createLogger({ write: (line) => file.write(`${line}\n`), fields: { node: name } }) };
  };

  const hosted = (name: string): HostedNode => {
    const node = nodes.get(name);
    if (!node) throw new Error(`${name} does not run here`);
    return node;
  };

  const validatorOf = (name: string): BuiltValidator => {
    const { validator } = hosted(name);
    if (!validator) throw new Error(`${name} is not a validator`);
    return validator;
  };

  const stopNode = async (name: string): Promise<void> => {
    const node = nodes.get(name);
    if (!node) return;
    nodes.delete(name);
    await node.miner?.stop().catch(() => undefined);
    await node.validator?.close().catch(() => undefined);
    await new Promise((resolve) => node.log.end(resolve));
  };

  const close = (): Promise<void> => {
    closing ??= (async () => {
      await Promise.all([...nodes.keys()].map(stopNode));
      if (proxy) await Promise.resolve((await proxy).stop()).catch(() => undefined);
    })();
    return closing;
  };

  const start = async (req: Extract<NodeRequest, { op: "start-miner" | "start-validator" }>) => {
    if (nodes.has(req.node)) throw new Error(`${req.node} already runs here`);
    const { file, log } = nodeLog(req.logDir, req.node);
    const node: HostedNode = { target: "", log: file };
    try {
      const c = await chain(req.endpoint);
      if (req.op === "start-validator") {
        node.validator = await buildValidator(req.spec, { chain: c, log });
        await node.validator.validator.start();
        const gatewayUrl = await node.validator.startGateway();
        nodes.set(req.node, node);
        return gatewayUrl === undefined ? {} : { gatewayUrl };
      }
      const spec: MinerSpec = req.spec;
      if (spec.behaviour === "outsourcer") proxy ??= createP2PNode();
      const p2p = spec.behaviour === "outsourcer" ? await proxy : undefined;
      node.miner = await buildMiner(spec, {
        chain: c,
        hooks: { proxy: () => p2p as Libp2p, target: () => node.target },
        log,
      });
      // A miner whose start fails has stopped itself.
      await node.miner.start();
      nodes.set(req.node, node);
      return { announcedAddress: node.miner.announcedAddress };
    } catch (err) {
      log.error("start failed", { error: err instanceof Error ? err.message : String(err) });
      await node.validator?.close().catch(() => undefined);
      file.end();
      throw err;
    }
  };

  return {
    async handle(req) {
      switch (req.op) {
        case "start-miner":
        case "start-validator":
          return start(req);
        case "retarget":
          hosted(req.node).target = req.address;
          return {};
        case "round":
          await validatorOf(req.node).validator.runRound({ setWeights: req.setWeights });
          return {};
        case "report":
          return validatorOf(req.node).report(req.hotkeys);
        case "storage-tick":
          return validatorOf(req.node).gateway().tick(req.advanceMs);
        case "restart-gateway":
          return { gatewayUrl: await validatorOf(req.node).gateway().restart() };
        case "stop":
          await stopNode(req.node);
          return {};
        case "close":
          await close();
          return {};
      }
    },
    close,
  };
}

/**
 * The simulator's handles for nodes reached through `callerFor(node)`: starting one sends its spec,
 * a handle's methods send requests for it, and its `stop` calls `onStop(node)`.
 */
export function nodeHandles(
  init: { endpoint: string; logDir: string },
  callerFor: (node: string) => NodeCaller,
  onStop: (node: string) => Promise<void>,
): Pick<NodeHost, "startMiner" | "startValidator"> {
  const base = { endpoint: init.endpoint, logDir: init.logDir };
  return {
    async startMiner(spec: MinerSpec): Promise<SimMinerNode> {
      const node = `miner${spec.index}`;
      const caller = callerFor(node);
      const { announcedAddress } = await caller.call("start-miner", { ...base, node, spec });
      return {
        announcedAddress,
        retarget: async (address) => {
          await caller.call("retarget", { node, address });
        },
        stop: () => onStop(node),
      };
    },
    async startValidator(spec: ValidatorSpec): Promise<SimValidatorNode> {
      const node = `validator${spec.index}`;
      const caller = callerFor(node);
      const started = await caller.call("start-validator", { ...base, node, spec });
      return {
        gatewayUrl: started.gatewayUrl,
        runRound: async (setWeights) => {
          await caller.call("round", { node, setWeights });
        },
        storageTick: (advanceMs) => caller.call("storage-tick", { node, advanceMs }),
        restartGateway: async () => (await caller.call("restart-gateway", { node })).gatewayUrl,
        report: (hotkeys) => caller.call("report", { node, hotkeys: [...hotkeys] }),
        stop: () => onStop(node),
      };
    },
  };
}

/**
 * Every node on the simulator's own thread, sharing its chain client (`--threads 0`): slower than
 * worker threads on a multi-core machine, but one thread to profile or debug.
 *
 * @example
 * const host = createInProcessHost({ chain: client, logDir: "runs/x/nodes/logs" });
 */
export function createInProcessHost(init: { chain: ChainClient; logDir: string }): NodeHost {
  const runtime = createNodeRuntime(async () => init.chain);
  // A direct call needs no id to match its reply.
  const caller: NodeCaller = {
    call: (op, args) => runtime.handle({ id: 0, op, ...args } as NodeRequest) as Promise<never>,
  };
  return {
    mode: "inprocess",
    // The chain client is handed over directly: no endpoint to dial.
    ...nodeHandles(
      { endpoint: "", logDir: init.logDir },
      () => caller,
      async (node) => {
        await caller.call("stop", { node });
      },
    ),
    pids: () => [],
    stop: () => runtime.close(),
  };
}
