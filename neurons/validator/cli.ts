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
import { type connectChain, loadHotkeyAndConnect, type loadNodeHotkey, StartupError } from "../startup.js";
import { createGatewayServer } from "./api/gateway-server.js";
import { gatewaySettingsFrom } from "./api/gateway-settings.js";
import { loadOrCreateSecret } from "./data.js";
import { createStorageService, storageSettingsFrom } from "./storage/storage.js";
import { createValidator, ValidatorStartError, validatorSettingsFrom } from "./validator.js";
import { ValidatorDb } from "./validator-db.js";

const usage = `Usage: node neurons/validator.js [options]

Stores data on the subnet's miners, challenges them at random, verifies their proofs, scores
them and sets weights on chain.`;

async function startValidator(node: NodeRun<ValidatorConfig>): Promise<void> {
  const { config, log } = node;
  // Checked before anything starts: a bad --api.allow or shard setting is a bad flag (exit 2).
  const gatewaySettings = config["api.port"] !== undefined ? gatewaySettingsFrom(config) : undefined;
  const storageSettings = gatewaySettings ? storageSettingsFrom(config) : undefined;
  const { hotkey, chain } = await loadHotkeyAndConnect(config);
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
  if (gatewaySettings && storageSettings) {
    const service = await node.start(
      createStorageService({ db, link: validator.link, settings: storageSettings, log, metrics }),
    );
    const gateway = createGatewayServer({ service, hotkey, netuid, settings: gatewaySettings, log, metrics });
    const port = config["api.port"] as number;
    try {
      await gateway.listen(port, config["api.host"]);
    } catch (error) {
      throw new StartupError(`cannot serve the client API on port ${port}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    node.stopAtExit({ stop: () => gateway.close() });
    await publishGateway(config, chain, hotkey, log);
  }
  await serveNodeMetrics(node, metrics);
}

/**
 * Publishes `--api.public_url` as the validator's commitment, where clients look for gateways
 * (miners commit multiaddrs, which start with "/", so the two never mix). Skipped when the chain
 * already holds it; a refusal (e.g. the commitment rate limit) is logged, not fatal: the API is up
 * and clients can still be pointed at it with --gateway.
 */
async function publishGateway(
  config: ValidatorConfig,
  chain: Awaited<ReturnType<typeof connectChain>>,
  hotkey: Awaited<ReturnType<typeof loadNodeHotkey>>,
  log: NodeRun<ValidatorConfig>["log"],
): Promise<void> {
  const url = config["api.public_url"];
  if (url === undefined) return;
  const data = new TextEncoder().encode(url);
  try {
    const current = (await chain.commitments(config.netuid)).get(hotkey.address);
    if (current && new TextDecoder().decode(current) === url) return;
    await chain.setCommitment(hotkey, config.netuid, data);
    log.info("client API published in the commitment", { url });
  } catch (error) {
    log.warn("could not publish the client API's URL", { url, error: String(error) });
  }
}

runNodeCli({ name: "validator", schema: validatorConfigSchema, usage, setUp: startValidator });
