import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ConfigError,
  defaultsOf,
  envNameOf,
  loadConfig,
  minerConfigSchema,
  validatorConfigSchema,
} from "../neurons/config.js";
import { storageSettingsFrom } from "../neurons/validator/storage/storage.js";
import { validatorSettingsFrom } from "../neurons/validator/validator.js";

const run = promisify(execFile);
const minerOptions = minerConfigSchema;

/** The miner's config from these flags and environment (never the help text). */
async function loadMinerConfig(argv: string[], env: NodeJS.ProcessEnv) {
  const loaded = await loadConfig(minerOptions, argv, env, "");
  if (loaded.help) throw new Error("unexpected --help");
  return loaded;
}
const root = new URL("..", import.meta.url).pathname;

describe("node configuration", () => {
  it("derives environment names from dotted flags", () => {
    expect(envNameOf("wallet.name")).toBe("SUBNET_WALLET_NAME");
  });
  it("applies defaults and lets flags beat the environment", async () => {
    const env = { SUBNET_NETUID: "7", SUBNET_THRESHOLD: "0.5" };
    const { config } = await loadMinerConfig(["--netuid", "3"], env);
    expect(config.netuid).toBe(3);
    expect(config.threshold).toBe(0.5);
    expect(config["wallet.hotkey"]).toBe("default");
    expect(config.chunk_size).toBe(1 << 20);
    expect(config.db_root_path).toBe("~/bittensor-db");
    expect(config["store.cache_mib"]).toBe(16);
  });
  it("rejects a bad value, an unknown flag and a bad environment value with ConfigError", async () => {
    await expect(loadConfig(minerOptions, ["--threshold", "2"], {}, "")).rejects.toBeInstanceOf(ConfigError);
    await expect(loadConfig(minerOptions, ["--no-such-flag"], {}, "")).rejects.toBeInstanceOf(ConfigError);
    await expect(loadConfig(minerOptions, [], { SUBNET_NETUID: "x" }, "")).rejects.toBeInstanceOf(
      ConfigError,
    );
    await expect(
      loadConfig(minerOptions, ["--subtensor.chain_endpoint", "http://x"], {}, ""),
    ).rejects.toBeInstanceOf(ConfigError);
  });
  it("rejects out-of-range admission and grace flags", async () => {
    for (const argv of [
      ["--neuron.handshake_timeout", "0"],
      ["--neuron.handshake_timeout", "61"],
      ["--neuron.max_pending_per_ip", "0"],
      ["--neuron.max_connections_per_ip", "1.5"],
      ["--neuron.unauthenticated_idle", "-1"],
      ["--neuron.max_buffered_bytes", "0"],
      ["--neuron.validator_grace", "-1"],
      ["--store.cache_mib", "0"],
      ["--store.cache_mib", "0.01"],
      ["--store.cache_mib", "5000"],
    ]) {
      await expect(loadConfig(minerOptions, argv, {}, ""), argv.join(" ")).rejects.toBeInstanceOf(
        ConfigError,
      );
    }
  });
});

describe("entry points", () => {
  beforeAll(() => {
    if (!existsSync(`${root}dist/neurons/miner/cli.js`))
      throw new Error("run `npm run build` first (npm test does)");
  });
  it("node neurons/miner.js --help prints the bittensor-style flags", async () => {
    const { stdout } = await run(process.execPath, ["neurons/miner.js", "--help"], { cwd: root });
    for (const flag of [
      "--netuid",
      "--wallet.name",
      "--wallet.hotkey",
      "--db_root_path",
      "--threshold",
      "--chunk_size",
    ]) {
      expect(stdout).toContain(flag);
    }
  });
  it("node neurons/validator.js --help works", async () => {
    const { stdout } = await run(process.execPath, ["neurons/validator.js", "--help"], { cwd: root });
    expect(stdout).toContain("--subtensor.network");
  });
  it("the dev chain refuses a bad RPC limit with code 2 and one line naming the flag", async () => {
    const err = await run(process.execPath, ["dist/chain/devchain/cli.js", "--rpc-max-connections", "0"], {
      cwd: root,
    }).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr.trim().split("\n")).toHaveLength(1);
    expect(err.stderr).toContain("--rpc-max-connections");
  });
  it("a bad flag exits with code 2 and one clear line", async () => {
    const err = await run(process.execPath, ["neurons/miner.js", "--netuid", "-4"], { cwd: root }).catch(
      (e) => e,
    );
    expect(err.code).toBe(2);
    expect(err.stderr).toContain("invalid netuid");
  });
  it("a validator's miner deadline is a flag in seconds; a bad one exits with code 2 and one line", async () => {
    const loaded = await loadConfig(validatorConfigSchema, ["--neuron.miner_deadline", "1.5"], {}, "");
    if (loaded.help) throw new Error("unexpected --help");
    expect(validatorSettingsFrom(loaded.config).minerDeadlineMs).toBe(1_500);
    expect(validatorSettingsFrom(defaultsOf(validatorConfigSchema)).minerDeadlineMs).toBe(60_000);
    const err = await run(process.execPath, ["neurons/validator.js", "--neuron.miner_deadline", "0"], {
      cwd: root,
    }).catch((e) => e);
    expect(err.code).toBe(2);
    // The error is one line (a hint to run --help may follow it).
    expect(err.stderr.split("\n")[0]).toContain("invalid neuron.miner_deadline from --neuron.miner_deadline");
  });
  it("the gateway's repair threshold is optional (m − 1) and refused past 64 or below 0", async () => {
    expect(storageSettingsFrom(defaultsOf(validatorConfigSchema)).repairThreshold).toBeUndefined();
    const loaded = await loadConfig(validatorConfigSchema, ["--api.repair_threshold", "1"], {}, "");
    if (loaded.help) throw new Error("unexpected --help");
    expect(storageSettingsFrom(loaded.config).repairThreshold).toBe(1);
    for (const bad of ["65", "-1", "1.5"])
      await expect(
        loadConfig(validatorConfigSchema, ["--api.repair_threshold", bad], {}, ""),
        bad,
      ).rejects.toBeInstanceOf(ConfigError);
  });
});
