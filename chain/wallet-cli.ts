/**
 * `wallet` command: create, list and show bittensor-format wallets.
 *
 *   node dist/chain/wallet-cli.js create --wallet.name NAME --wallet.hotkey HOTKEY [--wallet.path DIR]
 *                                        (--no-password | --password PW) [--mnemonic M] [--hotkey-mnemonic M]
 *   node dist/chain/wallet-cli.js new-hotkey --wallet.name NAME --wallet.hotkey HOTKEY [--mnemonic M]
 *   node dist/chain/wallet-cli.js list [--wallet.path DIR] [--json]
 *   node dist/chain/wallet-cli.js show --wallet.name NAME --wallet.hotkey HOTKEY [--json]
 */
import { realpathSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { type ParseArgsConfig, parseArgs } from "node:util";
import {
  createHotkey,
  createWallet,
  DEFAULT_WALLET_PATH,
  detectEncryption,
  listWallets,
  loadColdkeyPub,
  loadHotkey,
  WalletError,
  walletFiles,
} from "./wallet.js";

/** Where the command writes; tests pass their own. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const consoleIo: CliIo = { out: (line) => console.log(line), err: (line) => console.error(line) };

export const USAGE = `usage: wallet <command> [options]

commands:
  create      new wallet: coldkey, coldkeypub.txt and one hotkey
  new-hotkey  add a hotkey to an existing wallet
  list        wallets under --wallet.path (public data only)
  show        addresses of one wallet and hotkey

options:
  --wallet.name NAME        wallet name (default "default")
  --wallet.hotkey NAME      hotkey name (default "default")
  --wallet.path DIR         wallet root (default ${DEFAULT_WALLET_PATH})
  --password PW             encrypt the coldkey (create) or open an encrypted hotkey (show);
                            alias --wallet.password. Beware: arguments are visible to other local users.
  --no-password             create the coldkey unencrypted
  --mnemonic WORDS          import this coldkey mnemonic (create) or hotkey mnemonic (new-hotkey)
  --hotkey-mnemonic WORDS   import this hotkey mnemonic (create)
  --overwrite               replace existing key files
  --json                    machine-readable output (list, show)
  -h, --help                this text`;

const OPTIONS = {
  "wallet.name": { type: "string", default: "default" },
  "wallet.hotkey": { type: "string", default: "default" },
  "wallet.path": { type: "string", default: DEFAULT_WALLET_PATH },
  password: { type: "string" },
  "wallet.password": { type: "string" },
  "no-password": { type: "boolean", default: false },
  mnemonic: { type: "string" },
  "hotkey-mnemonic": { type: "string" },
  overwrite: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} satisfies ParseArgsConfig["options"];

type Values = ReturnType<typeof parseOptions>["values"];

function parseOptions(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
}

/**
 * Runs the wallet command and resolves to its exit code (0 ok, 1 wallet error, 2 usage error).
 * @example process.exitCode = await main(["create", "--wallet.name", "miner", "--no-password"]);
 */
export async function main(argv: readonly string[], io: CliIo = consoleIo): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (cause) {
    io.err(`${cause instanceof Error ? cause.message : String(cause)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === "help") {
    io.out(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (rest.length > 0) {
    io.err(`unexpected arguments: ${rest.join(" ")}\n\n${USAGE}`);
    return 2;
  }
  try {
    switch (command) {
      case "create":
        return await runCreate(values, io);
      case "new-hotkey":
        return await runNewHotkey(values, io);
      case "list":
        return await runList(values, io);
      case "show":
        return await runShow(values, io);
      default:
        io.err(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof WalletError) {
      io.err(`${error.name}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

function passwordOf(values: Values): string | undefined {
  return values.password ?? values["wallet.password"];
}

async function runCreate(values: Values, io: CliIo): Promise<number> {
  const password = passwordOf(values);
  if ((password === undefined) === !values["no-password"]) {
    io.err("create needs exactly one of --password PW (encrypted coldkey) or --no-password");
    return 2;
  }
  if (password === "") {
    io.err("--password must not be empty");
    return 2;
  }
  if (password !== undefined) io.err("deriving the coldkey encryption key (Argon2i, 512 MiB) …");
  const wallet = await createWallet({
    name: values["wallet.name"],
    hotkey: values["wallet.hotkey"],
    path: values["wallet.path"],
    password,
    mnemonic: values.mnemonic,
    hotkeyMnemonic: values["hotkey-mnemonic"],
    overwrite: values.overwrite,
  });
  io.out(`wallet "${values["wallet.name"]}" created`);
  io.out(`coldkey ${wallet.coldkey.ss58Address} (${wallet.encrypted ? "encrypted" : "NOT encrypted"})`);
  io.out(`  file    ${wallet.coldkey.file}`);
  io.out(`hotkey  ${wallet.hotkey.ss58Address}`);
  io.out(`  file    ${wallet.hotkey.file}`);
  if (values.mnemonic === undefined) {
    io.out(`coldkey mnemonic (write it down; it is the only way to recover the coldkey):`);
    io.out(`  ${wallet.coldkey.mnemonic}`);
  }
  if (values["hotkey-mnemonic"] === undefined) {
    io.out(`hotkey mnemonic:`);
    io.out(`  ${wallet.hotkey.mnemonic}`);
  }
  return 0;
}

async function runNewHotkey(values: Values, io: CliIo): Promise<number> {
  const key = await createHotkey({
    name: values["wallet.name"],
    hotkey: values["wallet.hotkey"],
    path: values["wallet.path"],
    mnemonic: values.mnemonic,
    overwrite: values.overwrite,
  });
  io.out(`hotkey "${values["wallet.hotkey"]}" ${key.ss58Address}`);
  io.out(`  file    ${key.file}`);
  if (values.mnemonic === undefined) io.out(`hotkey mnemonic:\n  ${key.mnemonic}`);
  return 0;
}

async function runList(values: Values, io: CliIo): Promise<number> {
  const wallets = await listWallets(values["wallet.path"]);
  if (values.json) {
    io.out(JSON.stringify(wallets, null, 2));
    return 0;
  }
  if (wallets.length === 0) {
    io.out(`no wallets under ${values["wallet.path"]}`);
    return 0;
  }
  for (const wallet of wallets) {
    io.out(`${wallet.name}  coldkey ${wallet.coldkeyAddress ?? "?"} (${wallet.coldkeyEncrypted})`);
    for (const hotkey of wallet.hotkeys) io.out(`  ${hotkey.name}  ${hotkey.ss58Address ?? "?"}`);
  }
  return 0;
}

async function runShow(values: Values, io: CliIo): Promise<number> {
  const ref = { name: values["wallet.name"], hotkey: values["wallet.hotkey"], path: values["wallet.path"] };
  const files = walletFiles(ref);
  const coldkeypub = await loadColdkeyPub(ref);
  const hotkey = await loadHotkey({ ...ref, password: passwordOf(values) });
  const coldRaw = await readFile(files.coldkey).catch(() => null);
  const coldkeyEncryption = coldRaw === null ? "missing" : (detectEncryption(coldRaw) ?? "none");
  const shown = {
    name: ref.name,
    hotkeyName: ref.hotkey,
    coldkey: coldkeypub.ss58Address,
    coldkeyEncryption,
    hotkey: hotkey.ss58Address,
    hotkeyPublicKey: `0x${Buffer.from(hotkey.publicKey).toString("hex")}`,
    dir: files.dir,
  };
  if (values.json) {
    io.out(JSON.stringify(shown, null, 2));
    return 0;
  }
  io.out(`wallet   ${shown.name}  (${shown.dir})`);
  io.out(`coldkey  ${shown.coldkey}  (${shown.coldkeyEncryption})`);
  io.out(`hotkey   ${shown.hotkeyName}  ${shown.hotkey}  ${shown.hotkeyPublicKey}`);
  return 0;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2));
}
