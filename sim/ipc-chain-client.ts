/**
 * The chain, reached over a runner's control channel (sim/node-ipc.ts) instead of a WebSocket of
 * its own: `--mode process` gives each node process a {@link createIpcChainClient}, whose calls
 * the simulator answers with its own chain client ({@link answerChainCall}).
 *
 * Why: a node process that starts its own `@polkadot/api` client loads and decodes the runtime's
 * metadata, about 0.45 s of CPU and 13 MiB of memory (PSS) per process, 23 times over in a run of
 * 20 miners and 3 validators. Over the channel a node makes the same calls against the same
 * chain; only the client doing the work is the simulator's one.
 *
 * Keys do not cross the channel: a call that signs names its key by address, and the simulator
 * signs with its own copy of that key (it derived every node's key from the run's URIs). Errors
 * cross as their name and fields and are rebuilt as the chain layer's classes, so a node still
 * tells `ChainModuleError`s apart by `error.error`.
 */
import type { KeyringPair } from "@polkadot/keyring/types";
import type { ChainClient } from "../chain/client.js";
import {
  ChainDispatchError,
  ChainError,
  ChainModuleError,
  ChainUnavailableError,
  TransactionRejectedError,
} from "../chain/errors.js";

/** The endpoint a node's start request names to be given a {@link createIpcChainClient}. */
export const IPC_CHAIN_ENDPOINT = "ipc:simulator";

/** How often `subscribeBlocks` asks for the head block over the channel. */
const BLOCK_POLL_MS = 500;

/** Client methods a node may call over the channel. */
const CHAIN_METHODS = [
  "currentBlock",
  "subnetExists",
  "uidOf",
  "metagraph",
  "hyperparameters",
  "burnedRegister",
  "serveAxon",
  "setCommitment",
  "commitments",
  "setWeights",
  "commitWeights",
  "revealWeights",
  "balanceOf",
] as const;
type ChainMethod = (typeof CHAIN_METHODS)[number];

/** Methods whose first argument is a key that signs: it crosses as `{ address }`. */
const SIGNING: ReadonlySet<ChainMethod> = new Set([
  "burnedRegister",
  "serveAxon",
  "setCommitment",
  "setWeights",
  "commitWeights",
  "revealWeights",
]);

/** What answers the nodes' calls: the simulator's client and the keys it signs with. */
export interface ChainService {
  client: ChainClient;
  /** The key of a node's address (every node's key derives from the run's URIs). */
  pairOf(address: string): KeyringPair | undefined;
}

/** A node's chain call, sent to the simulator. */
export interface ChainCall {
  chainCall: number;
  method: ChainMethod;
  args: unknown[];
}

/** The simulator's answer to a {@link ChainCall}. */
export type ChainAnswer =
  | { chainAnswer: number; ok: true; result: unknown }
  | { chainAnswer: number; ok: false; error: SerializedChainError };

interface SerializedChainError {
  name: string;
  message: string;
  section?: string;
  error?: string;
  docs?: string;
  kind?: string;
}

export function isChainCall(message: unknown): message is ChainCall {
  return typeof message === "object" && message !== null && "chainCall" in message;
}

export function isChainAnswer(message: unknown): message is ChainAnswer {
  return typeof message === "object" && message !== null && "chainAnswer" in message;
}

function serializeError(err: unknown): SerializedChainError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err) };
  const out: SerializedChainError = { name: err.name, message: err.message };
  if (err instanceof ChainModuleError)
    Object.assign(out, { section: err.section, error: err.error, docs: err.docs });
  if (err instanceof ChainDispatchError) out.kind = err.kind;
  return out;
}

function rebuildError(e: SerializedChainError): Error {
  switch (e.name) {
    case "ChainModuleError":
      return new ChainModuleError(e.section ?? "", e.error ?? "", e.docs ?? "");
    case "ChainDispatchError":
      return new ChainDispatchError(e.kind ?? "");
    case "TransactionRejectedError":
      return new TransactionRejectedError(e.message);
    case "ChainUnavailableError":
      return new ChainUnavailableError(e.message);
    case "ChainError":
      return new ChainError(e.message);
    default: {
      const error = new Error(e.message);
      error.name = e.name;
      return error;
    }
  }
}

/** Drops what cannot cross the channel from a read's options: the signal stays on the node's side. */
function withoutSignal(arg: unknown): unknown {
  if (typeof arg !== "object" || arg === null || !("signal" in arg)) return arg;
  const { signal: _, ...rest } = arg as { signal?: AbortSignal };
  return rest;
}

/**
 * A {@link ChainClient} whose calls go out through `send` and come back through the returned
 * `answer`. A read given a signal stops waiting when it aborts, as the WebSocket client's does.
 *
 * @example
 * const { client, answer } = createIpcChainClient((call) => process.send?.(call));
 * process.on("message", (m) => isChainAnswer(m) && answer(m));
 */
export function createIpcChainClient(send: (call: ChainCall) => void): {
  client: ChainClient;
  answer(message: ChainAnswer): void;
} {
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 1;
  const call = (method: ChainMethod, args: unknown[]): Promise<unknown> => {
    const signal = args.find(
      (a): a is { signal: AbortSignal } => typeof a === "object" && a !== null && "signal" in a,
    )?.signal;
    const sent = args.map((a, i) =>
      i === 0 && SIGNING.has(method) ? { address: (a as KeyringPair).address } : withoutSignal(a),
    );
    const id = next++;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        pending.delete(id);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      pending.set(id, {
        resolve: (v) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(v);
        },
        reject: (e) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      });
      send({ chainCall: id, method, args: sent });
    });
  };
  const methods = Object.fromEntries(
    CHAIN_METHODS.map((m) => [m, (...args: unknown[]) => call(m, args)]),
  ) as unknown as Pick<ChainClient, ChainMethod>;
  const client: ChainClient = {
    endpoint: IPC_CHAIN_ENDPOINT,
    start: async () => undefined,
    stop: async () => {
      for (const p of pending.values()) p.reject(new ChainUnavailableError("the chain client stopped"));
      pending.clear();
    },
    ...methods,
    async subscribeBlocks(onBlock) {
      let last = await client.currentBlock();
      const timer = setInterval(() => {
        void client.currentBlock().then(
          (block) => {
            if (block === last) return;
            last = block;
            onBlock(block);
          },
          () => undefined,
        );
      }, BLOCK_POLL_MS);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
  return {
    client,
    answer(message) {
      const p = pending.get(message.chainAnswer);
      if (!p) return;
      pending.delete(message.chainAnswer);
      if (message.ok) p.resolve(message.result);
      else p.reject(rebuildError(message.error));
    },
  };
}

/**
 * Answers one node's {@link ChainCall} with `client`; a call that signs is signed with
 * `pairOf(address)`'s key, and refused when the simulator holds no key of that address.
 *
 * @example channel.onMessage(async (m) => isChainCall(m) && channel.send(await answerChainCall(m, client, pairOf)));
 */
export async function answerChainCall(
  call: ChainCall,
  client: ChainClient,
  pairOf: (address: string) => KeyringPair | undefined,
): Promise<ChainAnswer> {
  try {
    if (!(CHAIN_METHODS as readonly string[]).includes(call.method))
      throw new ChainError(`no chain method ${String(call.method)}`);
    const args = [...call.args];
    if (SIGNING.has(call.method)) {
      const address = (args[0] as { address?: unknown } | undefined)?.address;
      const pair = typeof address === "string" ? pairOf(address) : undefined;
      if (!pair) throw new ChainError(`the simulator holds no key of ${String(address)}`);
      args[0] = pair;
    }
    const fn = client[call.method] as (...a: unknown[]) => Promise<unknown>;
    return { chainAnswer: call.chainCall, ok: true, result: await fn.apply(client, args) };
  } catch (err) {
    return { chainAnswer: call.chainCall, ok: false, error: serializeError(err) };
  }
}
