/**
 * `node neurons/miner.js`: config → hotkey → chain → registration → serve, until SIGINT/SIGTERM.
 * Start-up failures end the process with exit code 1 and one line saying what to do; a bad flag
 * with exit code 2 (runCli).
 */
import type { KeyringPair } from "@polkadot/keyring/types";
import WebSocket from "ws";
import { type ChainClient, PolkadotChainClient } from "../../chain/client.js";
import { resolveEndpoint } from "../../chain/endpoint.js";
import { ChainError, ChainUnavailableError } from "../../chain/errors.js";
import { loadColdkey, loadHotkey, WalletError, WalletNotFoundError } from "../../chain/wallet.js";
import { type Config, minerOptions } from "../config.js";
import { createLogger, type Logger, levelFromFlags } from "../logger.js";
import { createMetricsRegistry, type MetricsServer, serveMetrics } from "../metrics.js";
import { runCli } from "../run-cli.js";
import { createMiner, type Miner } from "./miner.js";

const usage = `Usage: node neurons/miner.js [options]

Serves a share of this machine's disk to the subnet's validators: stores their chunks in one
SQLite store per validator and answers their challenges with Merkle proofs.`;

/** A start-up step failed; the message is the one line the operator sees. */
class StartupError extends Error {
  override readonly name = "StartupError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function str(config: Config, key: string): string {
  return String(config[key]);
}

function num(config: Config, key: string): number {
  return Number(config[key]);
}

async function loadMinerHotkey(config: Config): Promise<KeyringPair> {
  const name = str(config, "wallet.name");
  const hotkey = str(config, "wallet.hotkey");
  const path = str(config, "wallet.path");
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

async function connectChain(config: Config): Promise<PolkadotChainClient> {
  const endpoint = resolveEndpoint({
    network: str(config, "subtensor.network"),
    chainEndpoint: config["subtensor.chain_endpoint"] as string | undefined,
  });
  const seconds = num(config, "subtensor.timeout");
  const unreachable = (cause: unknown) =>
    new StartupError(
      `cannot reach the chain at ${endpoint} within ${seconds} s; start it (the embedded dev chain: ` +
        "npm run devchain) or pass --subtensor.chain_endpoint ws://host:port / --subtensor.network test|finney",
      { cause },
    );
  // A plain WebSocket probe first: @polkadot/api would print a line per failed attempt.
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const error = await probeWebSocket(endpoint, Math.max(1, deadline - Date.now()));
    if (error === undefined) break;
    if (Date.now() + 500 >= deadline) throw unreachable(error);
    await new Promise((resolve) => setTimeout(resolve, 500));
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

/** Opens and closes one WebSocket; resolves undefined on success, or the error. */
function probeWebSocket(endpoint: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve) => {
    const socket = new WebSocket(endpoint, { handshakeTimeout: timeoutMs });
    const timer = setTimeout(() => {
      socket.terminate();
      resolve(new Error("timed out"));
    }, timeoutMs);
    socket.once("open", () => {
      clearTimeout(timer);
      socket.close();
      resolve(undefined);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      socket.terminate();
      resolve(error);
    });
  });
}

async function ensureRegistered(
  config: Config,
  chain: ChainClient,
  hotkey: KeyringPair,
  log: Logger,
): Promise<number> {
  const netuid = num(config, "netuid");
  if (!(await chain.subnetExists(netuid))) {
    throw new StartupError(`subnet ${netuid} does not exist on ${chain.endpoint}; check --netuid`);
  }
  const uid = await chain.uidOf(netuid, hotkey.address);
  if (uid !== undefined) return uid;
  const name = str(config, "wallet.name");
  if (config.register !== true) {
    throw new StartupError(
      `hotkey ${hotkey.address} is not registered on subnet ${netuid}; pass --register to register it ` +
        `(burned registration paid by the coldkey of wallet "${name}"), or: ` +
        `btcli subnets register --netuid ${netuid} --wallet.name ${name} --wallet.hotkey ${str(config, "wallet.hotkey")}`,
    );
  }
  let coldkey: KeyringPair;
  try {
    const password = config["wallet.password"] as string | undefined;
    coldkey = (
      await loadColdkey({
        name,
        path: str(config, "wallet.path"),
        ...(password !== undefined ? { password } : {}),
      })
    ).keypair;
  } catch (error) {
    if (error instanceof WalletError) {
      throw new StartupError(`--register needs the coldkey: ${error.message}`, { cause: error });
    }
    throw error;
  }
  const [balance, { burn }] = await Promise.all([
    chain.balanceOf(coldkey.address),
    chain.hyperparameters(netuid),
  ]);
  if (balance <= burn) {
    throw new StartupError(
      `coldkey ${coldkey.address} holds ${formatTao(balance)} TAO; burned registration on subnet ${netuid} ` +
        `costs ${formatTao(burn)} TAO plus fees: fund it first`,
    );
  }
  log.info("registering the hotkey (burned)", { hotkey: hotkey.address, netuid, coldkey: coldkey.address });
  try {
    const registered = await chain.burnedRegister(coldkey, netuid, hotkey.address);
    log.info("registered", { uid: registered });
    return registered;
  } catch (error) {
    if (error instanceof ChainError) {
      throw new StartupError(`registration on subnet ${netuid} failed: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function formatTao(rao: bigint): string {
  const whole = rao / 1_000_000_000n;
  const fraction = (rao % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : String(whole);
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function shutdownSignal(log: Logger): Promise<string> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: string) => {
      if (received) {
        log.warn("second signal; exiting without a clean shutdown", { signal });
        process.exit(1);
      }
      received = true;
      resolve(signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

async function startMiner(config: Config): Promise<number> {
  const log = createLogger({
    level: levelFromFlags({
      debug: config["logging.debug"] === true,
      trace: config["logging.trace"] === true,
    }),
    fields: { node: "miner" },
  });
  const stopping = shutdownSignal(log);
  let chain: PolkadotChainClient | undefined;
  let miner: Miner | undefined;
  let metricsServer: MetricsServer | undefined;
  try {
    const hotkey = await loadMinerHotkey(config);
    chain = await connectChain(config);
    const uid = await ensureRegistered(config, chain, hotkey, log);
    log.info("hotkey registered", { hotkey: hotkey.address, uid, netuid: num(config, "netuid") });
    const metrics = createMetricsRegistry();
    const rps = num(config, "neuron.requests_per_second");
    miner = createMiner({
      settings: {
        netuid: num(config, "netuid"),
        dbRoot: str(config, "db_root_path"),
        chunkSize: num(config, "chunk_size"),
        threshold: num(config, "threshold"),
        listen: { ip: str(config, "axon.ip"), port: num(config, "axon.port") },
        ...(config["axon.external_ip"] !== undefined ? { externalIp: str(config, "axon.external_ip") } : {}),
        metagraphIntervalMs: num(config, "neuron.metagraph_interval") * 1000,
        limits: {
          maxStreamsPerPeer: num(config, "neuron.max_streams_per_peer"),
          requestsPerSecond: rps,
          burst: Math.max(1, Math.ceil(rps * 2)),
        },
      },
      chain,
      hotkey,
      log,
      metrics,
    });
    try {
      await miner.start();
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new StartupError(`the miner could not start: ${why}`, { cause: error });
    }
    if (config["prometheus.port"] !== undefined) {
      try {
        metricsServer = await serveMetrics(metrics, { port: num(config, "prometheus.port") });
        log.info("metrics at /metrics", { port: metricsServer.port });
      } catch (error) {
        throw new StartupError(
          `cannot serve metrics on port ${num(config, "prometheus.port")}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
  } catch (error) {
    await miner?.stop().catch(() => undefined);
    await metricsServer?.stop().catch(() => undefined);
    await chain?.stop().catch(() => undefined);
    if (error instanceof StartupError) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    console.error(`error: start-up failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }

  const signal = await stopping;
  log.info("shutting down", { signal });
  await miner.stop();
  await metricsServer?.stop();
  await chain.stop().catch(() => undefined);
  log.info("stopped");
  return 0;
}

runCli(minerOptions, usage, startMiner).then(
  (code) => {
    process.exitCode = code;
    // Whatever handle a library leaves open must not keep a finished miner alive.
    setTimeout(() => process.exit(code), 3_000).unref();
  },
  (error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
