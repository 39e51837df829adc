/**
 * `node neurons/validator.js`: config → hotkey → chain → registration and stake checks → the
 * validator loop, until SIGINT/SIGTERM. Start-up failures end the process with exit code 1 and
 * one line saying what to do; a bad flag with exit code 2 (runCli).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { PolkadotChainClient } from "../../chain/client.js";
import { expandHome } from "../../chain/expand-home.js";
import { type ValidatorConfig, validatorConfigSchema } from "../config.js";
import { createMetricsRegistry, type MetricsServer, serveMetrics } from "../metrics.js";
import { runNodeCli } from "../run-cli.js";
import { connectChain, loadNodeHotkey, nodeLogger, StartupError, shutdownSignal } from "../startup.js";
import { loadOrCreateSecret } from "./data.js";
import { createValidator, type Validator, ValidatorStartError, validatorSettingsFrom } from "./validator.js";
import { ValidatorDb } from "./validator-db.js";

const usage = `Usage: node neurons/validator.js [options]

Stores data on the subnet's miners, challenges them at random, verifies their proofs, scores
them and sets weights on chain.`;

async function startValidator(config: ValidatorConfig): Promise<number> {
  const log = nodeLogger(config, "validator");
  const stopping = shutdownSignal(log);
  let chain: PolkadotChainClient | undefined;
  let db: ValidatorDb | undefined;
  let validator: Validator | undefined;
  let metricsServer: MetricsServer | undefined;
  try {
    const hotkey = await loadNodeHotkey(config);
    chain = await connectChain(config);
    const netuid = config.netuid;
    if (!(await chain.subnetExists(netuid))) {
      throw new StartupError(`subnet ${netuid} does not exist on ${chain.endpoint}; check --netuid`);
    }
    // State lives beside the miners' layout: <db_root>/<netuid>/<validator hotkey>/.
    const dir = join(expandHome(config.db_root_path), String(netuid), hotkey.address);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    db = ValidatorDb.open(join(dir, "validator.sqlite"));
    const secret = loadOrCreateSecret(join(dir, "validator.secret"));
    const metrics = createMetricsRegistry();
    validator = createValidator({
      settings: validatorSettingsFrom(config),
      chain,
      hotkey,
      db,
      secret,
      log,
      metrics,
    });
    try {
      await validator.start();
    } catch (error) {
      if (error instanceof ValidatorStartError) throw new StartupError(error.message, { cause: error });
      throw error;
    }
    log.info("validating", { hotkey: hotkey.address, netuid, state: dir });
    if (config["prometheus.port"] !== undefined) {
      metricsServer = await serveMetrics(metrics, { port: config["prometheus.port"] });
      log.info("metrics at /metrics", { port: metricsServer.port });
    }
  } catch (error) {
    await validator?.stop().catch(() => undefined);
    await metricsServer?.stop().catch(() => undefined);
    db?.close();
    await chain?.stop().catch(() => undefined);
    const why = error instanceof Error ? error.message : String(error);
    console.error(error instanceof StartupError ? `error: ${why}` : `error: start-up failed: ${why}`);
    return 1;
  }

  const signal = await stopping;
  log.info("shutting down", { signal });
  await validator.stop();
  await metricsServer?.stop();
  db.close();
  await chain.stop().catch(() => undefined);
  log.info("stopped");
  return 0;
}

runNodeCli(validatorConfigSchema, usage, startValidator);
