/**
 * `npm run localnet [-- --miners 16 --port 9944 --api-port 8080 --dir .localnet]`: a whole storage
 * network on this machine to store files on, started with the commands an operator runs: the
 * embedded dev chain, a subnet with one validator and N miners registered from bittensor wallets
 * under `<dir>/wallets`, `node neurons/miner.js` per miner and `node neurons/validator.js` with its
 * client API. It prints the client commands to try and runs until Ctrl-C; every node's JSON log is
 * in `<dir>/logs/`. The state is thrown away at each start (a fresh chain, fresh stores).
 */
import "../polyfills.js";
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, rmSync, statfsSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import { createDevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";
import { createWallet, devKeypair, loadColdkey } from "../chain/wallet.js";

const TAO = 1_000_000_000n;
const MiB = 1024 * 1024;
const root = new URL("../../", import.meta.url).pathname;

const optionsSchema = z.object({
  miners: z.coerce.number().int().min(1).max(64).default(16),
  port: z.coerce.number().int().min(1).max(65535).default(9944),
  apiPort: z.coerce.number().int().min(1).max(65535).default(8080),
  dir: z.string().min(1).default(".localnet"),
  /** Disk each miner offers, in MiB (turned into its --threshold share of the free space). */
  minerMib: z.coerce.number().int().min(16).default(512),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      miners: { type: "string" },
      port: { type: "string" },
      "api-port": { type: "string" },
      dir: { type: "string" },
      "miner-mib": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "usage: npm run localnet -- [--miners 16] [--port 9944] [--api-port 8080] [--dir .localnet] [--miner-mib 512]",
    );
    return;
  }
  const parsed = optionsSchema.safeParse({
    miners: values.miners,
    port: values.port,
    apiPort: values["api-port"],
    dir: values.dir,
    minerMib: values["miner-mib"],
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    console.error(`localnet: --${String(issue?.path[0] ?? "?")}: ${issue?.message ?? "invalid"}`);
    process.exit(2);
  }
  const options = parsed.data;
  const dir = resolve(options.dir);
  rmSync(dir, { recursive: true, force: true });
  const walletPath = join(dir, "wallets");
  const logs = join(dir, "logs");
  mkdirSync(logs, { recursive: true });

  console.log(`creating wallets in ${walletPath}`);
  const names = ["validator", "user", ...Array.from({ length: options.miners }, (_, i) => `miner${i}`)];
  const wallets = new Map<string, Awaited<ReturnType<typeof createWallet>>>();
  for (const name of names)
    wallets.set(name, await createWallet({ name, hotkey: "default", path: walletPath }));

  const chain = createDevChain({
    port: options.port,
    mode: "interval",
    blockTimeMs: 250,
    pallets: subtensorPallets(),
    accounts: names.map((name) => ({
      address: (wallets.get(name) as { coldkey: { ss58Address: string } }).coldkey.ss58Address,
      balance: 10_000n * TAO,
    })),
  });
  await chain.start();
  const endpoint = chain.endpoint;
  console.log(`dev chain at ${endpoint}`);
  const client = new PolkadotChainClient({ endpoint });
  await client.start();
  const coldkey = async (name: string) => (await loadColdkey({ name, path: walletPath })).keypair;
  const hotkeyOf = (name: string) =>
    (wallets.get(name) as { hotkey: { ss58Address: string } }).hotkey.ss58Address;
  const sudo = await devKeypair("//Alice");
  const registrations = [];
  for (const name of names.filter((n) => n !== "user")) {
    registrations.push({ coldkey: await coldkey(name), hotkey: hotkeyOf(name) });
  }
  console.log(`registering a subnet, the validator and ${options.miners} miners`);
  const { netuid } = await bootstrapSubnet(client, {
    sudo,
    ownerHotkey: (await devKeypair("//Alice//owner")).address,
    hyperparameters: [
      ["sudoSetTempo", 20],
      ["sudoSetCommitRevealWeightsEnabled", false],
      ["sudoSetWeightsSetRateLimit", 0],
    ],
    registrations,
    stakes: [{ coldkey: await coldkey("validator"), hotkey: hotkeyOf("validator"), amountRao: 1_000n * TAO }],
    // Interval blocks: the first epoch (and the validator's permit) comes on its own within a tempo.
    firstEpoch: async () => {
      const start = await client.currentBlock();
      while ((await client.currentBlock()) < start + 22) await new Promise((r) => setTimeout(r, 250));
    },
  });
  await client.stop();

  const free = statfsSync(dir);
  const threshold = Math.min(1, (options.minerMib * MiB) / (free.bavail * free.bsize));
  const children: ChildProcess[] = [];
  const common = [
    "--netuid",
    String(netuid),
    "--wallet.path",
    walletPath,
    "--subtensor.chain_endpoint",
    endpoint,
    "--db_root_path",
    join(dir, "db"),
  ];
  const start = (script: string, name: string, args: string[]): void => {
    const child = spawn(process.execPath, [join(root, script), ...common, "--wallet.name", name, ...args], {
      cwd: root,
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr?.pipe(createWriteStream(join(logs, `${name}.log`)));
    child.once("exit", (code, signal) => {
      if (!stopping) console.error(`${name} exited (${signal ?? code}); see ${join(logs, `${name}.log`)}`);
    });
    children.push(child);
  };
  let stopping = false;
  for (let i = 0; i < options.miners; i++) {
    const port = await freePort();
    start("neurons/miner.js", `miner${i}`, [
      "--axon.ip",
      "127.0.0.1",
      "--axon.port",
      String(port),
      "--threshold",
      threshold.toPrecision(6),
      "--neuron.metagraph_interval",
      "5",
    ]);
  }
  const apiUrl = `http://127.0.0.1:${options.apiPort}`;
  start("neurons/validator.js", "validator", [
    "--api.port",
    String(options.apiPort),
    "--api.host",
    "127.0.0.1",
    "--api.public_url",
    apiUrl,
    "--neuron.challenge_interval",
    "5",
  ]);

  const flags = `--netuid ${netuid} --wallet.path ${walletPath} --wallet.name user --subtensor.chain_endpoint ${endpoint}`;
  console.log(
    [
      "",
      `storage network up: subnet ${netuid}, ${options.miners} miners, gateway ${apiUrl} (logs in ${logs})`,
      "miners need a few seconds to announce themselves; then, in another terminal:",
      "",
      `  node neurons/client.js put README.md ${flags}`,
      `  node neurons/client.js get <cid> -o copy.md ${flags}`,
      `  node neurons/client.js status <cid> ${flags}`,
      "",
      "Ctrl-C stops everything.",
    ].join("\n"),
  );

  const exited = (c: ChildProcess): Promise<unknown> =>
    c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : Promise.resolve();
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log("stopping");
    // Ctrl-C reaches every process of the terminal's group, the nodes too; a second signal would
    // cut their clean shutdown short, so they get a few seconds before being told again.
    if (signal === "SIGINT") await Promise.race([Promise.all(children.map(exited)), sleep(5_000)]);
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await Promise.all(children.map(exited));
    await chain.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((error: unknown) => {
  console.error(`localnet: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
