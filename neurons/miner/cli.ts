/**
 * `node neurons/miner.js`: config → hotkey → chain → registration → serve, until SIGINT/SIGTERM
 * (the lifecycle and exit codes: ../run-cli.ts).
 */
import type { KeyringPair } from "@polkadot/keyring/types";
import type { ChainClient } from "../../chain/client.js";
import { ChainError } from "../../chain/errors.js";
import { loadColdkey, WalletError } from "../../chain/wallet.js";
import { admissionLimitsFrom, type MinerConfig, minerConfigSchema, peerLimitsFrom } from "../config.js";
import type { Logger } from "../logger.js";
import { createMetricsRegistry } from "../metrics.js";
import { type NodeRun, runNodeCli, serveNodeMetrics } from "../run-cli.js";
import { formatTao, loadHotkeyAndConnect, StartupError } from "../startup.js";
import { createMiner } from "./miner.js";

const usage = `Usage: node neurons/miner.js [options]

Serves a share of this machine's disk to the subnet's validators: stores their chunks in one
SQLite store per validator and answers their challenges with Merkle proofs.`;

async function ensureRegistered(
  config: MinerConfig,
  chain: ChainClient,
  hotkey: KeyringPair,
  log: Logger,
): Promise<number> {
  const netuid = config.netuid;
  if (!(await chain.subnetExists(netuid))) {
    throw new StartupError(`subnet ${netuid} does not exist on ${chain.endpoint}; check --netuid`);
  }
  const uid = await chain.uidOf(netuid, hotkey.address);
  if (uid !== undefined) return uid;
  const name = config["wallet.name"];
  if (config.register !== true) {
    throw new StartupError(
      `hotkey ${hotkey.address} is not registered on subnet ${netuid}; pass --register to register it ` +
        `(burned registration paid by the coldkey of wallet "${name}"), or: ` +
        `btcli subnets register --netuid ${netuid} --wallet.name ${name} --wallet.hotkey ${config["wallet.hotkey"]}`,
    );
  }
  let coldkey: KeyringPair;
  try {
    const password = config["wallet.password"];
    coldkey = (
      await loadColdkey({
        name,
        path: config["wallet.path"],
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

async function startMiner(node: NodeRun<MinerConfig>): Promise<void> {
  const { config, log } = node;
  const { hotkey, chain } = await loadHotkeyAndConnect(config);
  node.stopAtExit({ stop: () => chain.stop().catch(() => undefined) });
  const uid = await ensureRegistered(config, chain, hotkey, log);
  log.info("hotkey registered", { hotkey: hotkey.address, uid, netuid: config.netuid });
  // The standard process metrics (CPU, memory, event-loop lag, GC) only where they are served.
  const metrics = createMetricsRegistry({ processMetrics: config["prometheus.port"] !== undefined });
  const miner = createMiner({
    settings: {
      netuid: config.netuid,
      dbRoot: config.db_root_path,
      chunkSize: config.chunk_size,
      storeCacheBytes: Math.round(config["store.cache_mib"] * 1024 * 1024),
      threshold: config.threshold,
      listen: { ip: config["axon.ip"], port: config["axon.port"] },
      ...(config["axon.external_ip"] !== undefined ? { externalIp: config["axon.external_ip"] } : {}),
      metagraphIntervalMs: config["neuron.metagraph_interval"] * 1000,
      validatorGraceMs: config["neuron.validator_grace"] * 60_000,
      limits: peerLimitsFrom(config),
      admission: admissionLimitsFrom(config),
    },
    chain,
    hotkey,
    log,
    metrics,
  });
  try {
    await node.start(miner);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new StartupError(`the miner could not start: ${why}`, { cause: error });
  }
  await serveNodeMetrics(node, metrics);
}

runNodeCli({ name: "miner", schema: minerConfigSchema, usage, setUp: startMiner });
