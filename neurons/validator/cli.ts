/**
 * `node neurons/validator.js`: config → hotkey → chain → registration and stake checks → the
 * validator loop, until SIGINT/SIGTERM (the lifecycle and exit codes: ../run-cli.ts).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { expandHome } from "../../chain/expand-home.js";
import { type ValidatorConfig, validatorConfigSchema } from "../config.js";
import { createMetricsRegistry } from "../metrics.js";
import { type NodeRun, runNodeCli, serveNodeMetrics } from "../run-cli.js";
import { connectChain, loadNodeHotkey, StartupError } from "../startup.js";
import { loadOrCreateSecret } from "./data.js";
import { createValidator, ValidatorStartError, validatorSettingsFrom } from "./validator.js";
import { ValidatorDb } from "./validator-db.js";

const usage = `Usage: node neurons/validator.js [options]

Stores data on the subnet's miners, challenges them at random, verifies their proofs, scores
them and sets weights on chain.`;

async function startValidator(node: NodeRun<ValidatorConfig>): Promise<void> {
  const { config, log } = node;
  const hotkey = await loadNodeHotkey(config);
  const chain = await connectChain(config);
  node.stopAtExit({ stop: () => chain.stop().catch(() => undefined) });
  const netuid = config.netuid;
  if (!(await chain.subnetExists(netuid))) {
    throw new StartupError(`subnet ${netuid} does not exist on ${chain.endpoint}; check --netuid`);
  }
  // State lives beside the miners' layout: <db_root>/<netuid>/<validator hotkey>/.
  const dir = join(expandHome(config.db_root_path), String(netuid), hotkey.address);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = ValidatorDb.open(join(dir, "validator.sqlite"));
  node.stopAtExit({ stop: () => db.close() });
  const secret = loadOrCreateSecret(join(dir, "validator.secret"));
  // The standard process metrics (CPU, memory, event-loop lag, GC) only where they are served.
  const metrics = createMetricsRegistry({ processMetrics: config["prometheus.port"] !== undefined });
  const validator = createValidator({
    settings: validatorSettingsFrom(config),
    chain,
    hotkey,
    db,
    secret,
    log,
    metrics,
  });
  try {
    await node.start(validator);
  } catch (error) {
    if (error instanceof ValidatorStartError) throw new StartupError(error.message, { cause: error });
    throw error;
  }
  log.info("validating", { hotkey: hotkey.address, netuid, state: dir });
  await serveNodeMetrics(node, metrics);
}

runNodeCli({ name: "validator", schema: validatorConfigSchema, usage, setUp: startValidator });
