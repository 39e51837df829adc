/**
 * Start-up steps the miner and validator share: flags to hotkey, chain connection, metrics. A
 * step that fails throws {@link StartupError} whose message is the one line the operator sees.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { KeyringPair } from "@polkadot/keyring/types";
import WebSocket from "ws";
import { resolveEndpoint } from "../chain/endpoint.js";
import { ChainUnavailableError } from "../chain/errors.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";
import { loadHotkey, WalletError, WalletNotFoundError } from "../chain/wallet.js";
import type { CommonConfig } from "./config.js";
import { NodeError } from "./errors.js";
import { createLogger, type Logger, levelFromFlags } from "./logger.js";

/** The node's JSON logger at the level its logging flags ask for. */
export function nodeLogger(config: CommonConfig, node: string): Logger {
  return createLogger({
    level: levelFromFlags({
      debug: config["logging.debug"],
      trace: config["logging.trace"],
    }),
    fields: { node },
  });
}

/** A start-up step failed; the message is the one line the operator sees. */
export class StartupError extends NodeError {
  override name = "StartupError";
}

/** Loads the node's hotkey from its wallet, or says how to create it. */
export async function loadNodeHotkey(config: CommonConfig): Promise<KeyringPair> {
  const name = config["wallet.name"];
  const hotkey = config["wallet.hotkey"];
  const path = config["wallet.path"];
  try {
    return (await loadHotkey({ name, hotkey, path })).keypair;
  } catch (error) {
    if (error instanceof WalletNotFoundError) {
      throw new StartupError(
        `hotkey "${hotkey}" of wallet "${name}" not found under ${path}; create it with: ` +
          `npm run wallet -- create --wallet.name ${name} --wallet.hotkey ${hotkey} --wallet.path ${path}`,
        { cause: error },
      );
    }
    if (error instanceof WalletError) throw new StartupError(error.message, { cause: error });
    throw error;
  }
}

/**
 * Loads the hotkey while the chain connects: deriving the key is CPU work and connecting mostly
 * waits on the network, so a node is up sooner (the CPU it spends is the same). The hotkey's
 * error comes first, as when the two ran one after the other; a connection made meanwhile is
 * closed.
 *
 * @example const { hotkey, chain } = await loadHotkeyAndConnect(config);
 */
export async function loadHotkeyAndConnect(
  config: CommonConfig,
): Promise<{ hotkey: KeyringPair; chain: PolkadotChainClient }> {
  const abandon = new AbortController();
  const connecting = connectChain(config, abandon.signal);
  try {
    const hotkey = await loadNodeHotkey(config);
    return { hotkey, chain: await connecting };
  } catch (error) {
    abandon.abort();
    connecting.then(
      (chain) => chain.stop().catch(() => undefined),
      () => undefined,
    );
    throw error;
  }
}

/**
 * Connects to the chain the flags name, or says how to start one, within `subtensor.timeout`.
 * `signal` stops the retries of an unreachable endpoint (the caller no longer wants it).
 */
export async function connectChain(config: CommonConfig, signal?: AbortSignal): Promise<PolkadotChainClient> {
  const endpoint = resolveEndpoint({
    network: config["subtensor.network"],
    chainEndpoint: config["subtensor.chain_endpoint"],
  });
  const seconds = config["subtensor.timeout"];
  const unreachable = (cause: unknown) =>
    new StartupError(
      `cannot reach the chain at ${endpoint} within ${seconds} s; start it (the embedded dev chain: ` +
        "npm run devchain) or pass --subtensor.chain_endpoint ws://host:port / --subtensor.network test|finney",
      { cause },
    );
  // A plain WebSocket probe first: @polkadot/api would print a line per failed attempt.
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const error = await probeWebSocket(endpoint, Math.max(1, deadline - Date.now()), signal);
    if (error === undefined) break;
    if (Date.now() + 500 >= deadline || signal?.aborted) throw unreachable(error);
    await sleep(500, undefined, signal ? { signal } : {}).catch(() => undefined);
  }
  const chain = new PolkadotChainClient({
    endpoint,
    connectTimeoutMs: Math.max(1, deadline - Date.now()) + 5_000,
  });
  try {
    await chain.start();
  } catch (error) {
    if (error instanceof ChainUnavailableError) throw unreachable(error);
    throw error;
  }
  return chain;
}

/** Opens and closes one WebSocket; resolves undefined on success, or the error (or abort reason). */
function probeWebSocket(endpoint: string, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(signal.reason);
      return;
    }
    const socket = new WebSocket(endpoint, { handshakeTimeout: timeoutMs });
    const settle = (outcome: unknown, close: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      close();
      resolve(outcome);
    };
    const onAbort = () => settle(signal?.reason, () => socket.terminate());
    const timer = setTimeout(() => settle(new Error("timed out"), () => socket.terminate()), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("open", () => settle(undefined, () => socket.close()));
    socket.once("error", (error) => settle(error, () => socket.terminate()));
  });
}

/** rao as TAO text: 1500000000n → "1.5". */
export function formatTao(rao: bigint): string {
  const whole = rao / 1_000_000_000n;
  const fraction = (rao % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : String(whole);
}
