/**
 * Bittensor-format wallets (the on-disk layout written by btcli / bittensor-wallet "btwallet").
 *
 *   <path>/<name>/coldkeypub.txt     JSON {accountId, publicKey, ss58Address}, no secrets
 *   <path>/<name>/coldkey            keyfile JSON, usually NaCl-encrypted ("$NACL" prefix)
 *   <path>/<name>/hotkeys/<hotkey>   keyfile JSON, usually plain
 *
 * A keyfile JSON holds `secretPhrase` (mnemonic or null), `secretSeed` (0x-hex 32-byte mini secret),
 * `privateKey` (0x-hex 64 bytes: canonical schnorrkel scalar || nonce), `publicKey` and `accountId`
 * (0x-hex 32 bytes) and `ss58Address` (SS58 format 42). Keys are sr25519.
 *
 * NaCl encryption, as btwallet does it (src/keyfile.rs in opentensor/btwallet):
 *   "$NACL" || nonce (24 bytes) || secretbox(XSalsa20-Poly1305) of the keyfile JSON,
 *   key = libsodium crypto_pwhash Argon2i v1.3, OPSLIMIT_SENSITIVE (8), MEMLIMIT_SENSITIVE (512 MiB),
 *   parallelism 1, over a fixed 16-byte salt. Checked against libsodium itself (see test/wallet.test.ts).
 */

import { randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { argon2iAsync } from "@noble/hashes/argon2.js";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { hexToU8a, isHex, u8aToHex } from "@polkadot/util";
import {
  cryptoWaitReady,
  decodeAddress,
  encodeAddress,
  mnemonicGenerate,
  mnemonicToMiniSecret,
  mnemonicValidate,
  naclDecrypt,
  naclEncrypt,
  sr25519PairFromSeed,
  sr25519Verify,
} from "@polkadot/util-crypto";
import { bytesEqual } from "../protocol/bytes.js";
import { ChainLayerError, type ChainLayerErrorOptions } from "./errors.js";
import { expandHome } from "./expand-home.js";

/** Where btcli keeps wallets. */
export const DEFAULT_WALLET_PATH = "~/.bittensor/wallets";
/** Bittensor addresses use the generic Substrate SS58 prefix. */
export const SS58_FORMAT = 42;

/** libsodium-style Argon2i cost parameters: `memlimit` in bytes, `opslimit` = passes. */
export interface NaclKdfParams {
  readonly opslimit: number;
  readonly memlimit: number;
}

/**
 * btwallet's key derivation: crypto_pwhash_argon2i_OPSLIMIT_SENSITIVE / MEMLIMIT_SENSITIVE.
 * In pure JS this takes ~25 s and 512 MiB on one core (libsodium: ~3 s); it runs only for encrypted keys.
 */
export const BITTENSOR_NACL_KDF: NaclKdfParams = { opslimit: 8, memlimit: 536_870_912 };

/** btwallet's NACL_SALT, b"\x13q\x83\xdf\xf1Z\t\xbc\x9c\x90\xb5Q\x879\xe9\xb1". */
const NACL_SALT = Uint8Array.from([
  0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1,
]);
const NACL_PREFIX = "$NACL";
const NACL_NONCE_BYTES = 24;
const SECRETBOX_MAC_BYTES = 16;
const CREATE_HINT = "npm run wallet -- create --wallet.name <name> --wallet.hotkey <hotkey>";

// ---------------------------------------------------------------------------------------------- errors

interface WalletErrorOptions extends ChainLayerErrorOptions {
  readonly file: string;
}

/** Base class of every wallet error; `file` is the path that could not be used. */
export class WalletError extends ChainLayerError {
  override name = "WalletError";
  readonly file: string;
  constructor(message: string, options: WalletErrorOptions) {
    super(message, options);
    this.file = options.file;
  }
}

/** A key file (or the wallet directory) does not exist. */
export class WalletNotFoundError extends WalletError {
  override name = "WalletNotFoundError";
}

/** A key file exists but is not a keyfile we understand (bad JSON, bad hex, missing fields). */
export class WalletFormatError extends WalletError {
  override name = "WalletFormatError";
}

/** A key file or wallet directory exists but cannot be read or written (permissions, disk). */
export class WalletIoError extends WalletError {
  override name = "WalletIoError";
}

/** How a key file is encrypted. Only "nacl" can be opened here. */
export type EncryptionScheme = "nacl" | "ansible-vault" | "fernet" | "btwallet-legacy";

/** A key file is encrypted and no password was given, or its legacy encryption is not supported. */
export class WalletEncryptedError extends WalletError {
  override name = "WalletEncryptedError";
  readonly scheme: EncryptionScheme;
  constructor(message: string, options: WalletErrorOptions & { readonly scheme: EncryptionScheme }) {
    super(message, options);
    this.scheme = options.scheme;
  }
}

/** The password does not open an encrypted key file. */
export class WalletPasswordError extends WalletError {
  override name = "WalletPasswordError";
}

/** The key derived from a file's secret does not match the address or public key written in it. */
export class WalletAddressMismatchError extends WalletError {
  override name = "WalletAddressMismatchError";
  readonly expected: string;
  readonly derived: string;
  constructor(
    message: string,
    options: WalletErrorOptions & { readonly expected: string; readonly derived: string },
  ) {
    super(message, options);
    this.expected = options.expected;
    this.derived = options.derived;
  }
}

/** createWallet / createHotkey would overwrite an existing key file. */
export class WalletExistsError extends WalletError {
  override name = "WalletExistsError";
}

/** A wallet or hotkey name that cannot be a single path segment. */
export class WalletNameError extends WalletError {
  override name = "WalletNameError";
}

// ----------------------------------------------------------------------------------------------- paths

/**
 * Expands a leading `~` and makes the wallet root absolute.
 * @example resolveWalletPath("~/.bittensor/wallets") // "/home/me/.bittensor/wallets"
 */
export function resolveWalletPath(path: string = DEFAULT_WALLET_PATH, home?: string): string {
  return expandHome(path, home);
}

/** The files of one wallet. */
export interface WalletFiles {
  readonly dir: string;
  readonly coldkey: string;
  readonly coldkeypub: string;
  readonly hotkeysDir: string;
  readonly hotkey?: string;
}

/**
 * Where a wallet's files live.
 * @example walletFiles({ name: "miner", hotkey: "default" }).hotkey // "~/.bittensor/wallets/miner/hotkeys/default"
 */
export function walletFiles(options: { name: string; hotkey?: string; path?: string }): WalletFiles {
  const root = resolveWalletPath(options.path);
  checkName(options.name, "wallet", root);
  const dir = join(root, options.name);
  const hotkeysDir = join(dir, "hotkeys");
  const files = { dir, coldkey: join(dir, "coldkey"), coldkeypub: join(dir, "coldkeypub.txt"), hotkeysDir };
  if (options.hotkey === undefined) return files;
  checkName(options.hotkey, "hotkey", hotkeysDir);
  return { ...files, hotkey: join(hotkeysDir, options.hotkey) };
}

function checkName(name: string, what: string, where: string): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === "." || name === "..") {
    throw new WalletNameError(
      `invalid ${what} name ${JSON.stringify(name)}: use letters, digits, '.', '_' or '-'`,
      { file: where },
    );
  }
}

// -------------------------------------------------------------------------------------------- keypairs

/** A loaded key: a signing pair plus its address. */
export interface LoadedKey {
  readonly keypair: KeyringPair;
  readonly ss58Address: string;
  readonly publicKey: Uint8Array;
  /**
   * The 32-byte mini secret the pair was made from (the keyfile's `secretSeed`, or the seed of its
   * `secretPhrase`); null for a keyfile that holds only a `privateKey`, which has no seed.
   */
  readonly secretSeed: Uint8Array | null;
}

/** A public key without its secret (coldkeypub.txt). */
export interface PublicKeyInfo {
  readonly ss58Address: string;
  readonly publicKey: Uint8Array;
}

function newKeyring(): Keyring {
  return new Keyring({ type: "sr25519", ss58Format: SS58_FORMAT });
}

/**
 * An sr25519 dev key from a Substrate URI, for the simulator and dev chain.
 * @example (await devKeypair("//Alice")).address // "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
 */
export async function devKeypair(uri: string): Promise<KeyringPair> {
  await cryptoWaitReady();
  return newKeyring().addFromUri(uri);
}

/** The 64-byte schnorrkel secret as btwallet writes it: canonical scalar || nonce. */
function toBtwalletPrivateKey(polkadotSecret: Uint8Array): Uint8Array {
  // @polkadot/util-crypto keeps the scalar in "ed25519 expanded" form (multiplied by the cofactor 8);
  // schnorrkel's SecretKey::to_bytes, which btwallet writes, keeps the canonical scalar.
  const out = polkadotSecret.slice(0, 64);
  out.set(leBytes(leBigint(polkadotSecret.subarray(0, 32)) >> 3n, 32), 0);
  return out;
}

function fromBtwalletPrivateKey(privateKey: Uint8Array): Uint8Array {
  const out = privateKey.slice(0, 64);
  out.set(leBytes(leBigint(privateKey.subarray(0, 32)) << 3n, 32), 0);
  return out;
}

function leBigint(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0);
  return n;
}

function leBytes(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = n;
  for (let i = 0; i < length; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

// -------------------------------------------------------------------------------------------- keyfiles

/** The JSON object of a bittensor keyfile. Fields btwallet may leave out are optional. */
export interface KeyfileData {
  readonly accountId?: string | null;
  readonly publicKey?: string | null;
  readonly privateKey?: string | null;
  readonly secretPhrase?: string | null;
  readonly secretSeed?: string | null;
  readonly ss58Address?: string | null;
}

/** The keyfile JSON for a key made from a 32-byte mini secret (and the mnemonic it came from, if any). */
export function keyfileFromSeed(seed: Uint8Array, secretPhrase: string | null = null): KeyfileData {
  const pair = sr25519PairFromSeed(seed);
  const publicKey = u8aToHex(pair.publicKey);
  return {
    accountId: publicKey,
    publicKey,
    privateKey: u8aToHex(toBtwalletPrivateKey(pair.secretKey)),
    secretPhrase,
    secretSeed: u8aToHex(seed),
    ss58Address: encodeAddress(pair.publicKey, SS58_FORMAT),
  };
}

/** Which encryption a key file uses, or null for plain JSON. */
export function detectEncryption(data: Uint8Array): EncryptionScheme | null {
  const head = Buffer.from(data.subarray(0, 16)).toString("latin1");
  if (head.startsWith(NACL_PREFIX)) return "nacl";
  if (head.startsWith("$ANSIBLE_VAULT")) return "ansible-vault";
  if (head.startsWith("$BTWALLET")) return "btwallet-legacy";
  if (head.startsWith("gAAAAA")) return "fernet";
  return null;
}

/** Derives the 32-byte secretbox key from a password, as btwallet does (Argon2i v1.3, p = 1). */
export async function deriveNaclKey(
  password: string,
  kdf: NaclKdfParams = BITTENSOR_NACL_KDF,
): Promise<Uint8Array> {
  return argon2iAsync(new TextEncoder().encode(password), NACL_SALT, {
    t: kdf.opslimit,
    m: Math.floor(kdf.memlimit / 1024),
    p: 1,
    dkLen: 32,
  });
}

/** Seals keyfile bytes under a derived key: "$NACL" || nonce || secretbox. */
export function sealNaclKeyfile(
  plain: Uint8Array,
  key: Uint8Array,
  nonce: Uint8Array = randomBytes(NACL_NONCE_BYTES),
): Uint8Array {
  const { encrypted } = naclEncrypt(plain, key, nonce);
  const prefix = new TextEncoder().encode(NACL_PREFIX);
  const out = new Uint8Array(prefix.length + NACL_NONCE_BYTES + encrypted.length);
  out.set(prefix, 0);
  out.set(nonce, prefix.length);
  out.set(encrypted, prefix.length + NACL_NONCE_BYTES);
  return out;
}

/** Opens "$NACL" keyfile bytes with a derived key; null when the key (password) is wrong. */
export function openNaclKeyfile(data: Uint8Array, key: Uint8Array): Uint8Array | null {
  const start = NACL_PREFIX.length;
  if (data.length < start + NACL_NONCE_BYTES + SECRETBOX_MAC_BYTES) return null;
  const nonce = data.subarray(start, start + NACL_NONCE_BYTES);
  return naclDecrypt(data.subarray(start + NACL_NONCE_BYTES), nonce, key);
}

function parseKeyfile(bytes: Uint8Array, file: string): KeyfileData {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new WalletFormatError(`${file} is not a bittensor keyfile (not JSON)`, { file, cause });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WalletFormatError(`${file} is not a bittensor keyfile (not a JSON object)`, { file });
  }
  const record = value as Record<string, unknown>;
  for (const field of ["accountId", "publicKey", "privateKey", "secretPhrase", "secretSeed", "ss58Address"]) {
    const v = record[field];
    if (v !== undefined && v !== null && typeof v !== "string") {
      throw new WalletFormatError(`${file}: field ${field} must be a string or null`, { file });
    }
  }
  return record as KeyfileData;
}

function hexField(value: string | null | undefined, bytes: number): Uint8Array | null {
  if (typeof value !== "string" || !isHex(value, bytes * 8)) return null;
  return hexToU8a(value);
}

/** The public key a keyfile claims, from ss58Address, else publicKey / accountId. */
function claimedPublicKey(data: KeyfileData, file: string): Uint8Array | null {
  if (typeof data.ss58Address === "string") {
    try {
      return decodeAddress(data.ss58Address);
    } catch (cause) {
      throw new WalletFormatError(`${file}: ss58Address ${data.ss58Address} is not an SS58 address`, {
        file,
        cause,
      });
    }
  }
  return hexField(data.publicKey, 32) ?? hexField(data.accountId, 32);
}

/** Builds the signing pair from a keyfile: secretSeed, else secretPhrase, else privateKey. */
function pairFromKeyfile(data: KeyfileData, file: string): KeyringPair {
  const keyring = newKeyring();
  const claimed = claimedPublicKey(data, file);
  const seed = hexField(data.secretSeed, 32);
  const phrase = typeof data.secretPhrase === "string" ? data.secretPhrase.trim() : null;
  let pair: KeyringPair;
  if (seed !== null) {
    if (phrase !== null && mnemonicValidate(phrase) && !bytesEqual(mnemonicToMiniSecret(phrase), seed)) {
      throw new WalletFormatError(`${file}: secretSeed does not belong to secretPhrase`, { file });
    }
    pair = keyring.addFromSeed(seed);
  } else if (phrase !== null) {
    if (!mnemonicValidate(phrase)) {
      throw new WalletFormatError(`${file}: secretPhrase is not a valid BIP-39 mnemonic`, { file });
    }
    pair = keyring.addFromSeed(mnemonicToMiniSecret(phrase));
  } else {
    const privateKey = hexField(data.privateKey, 64);
    if (privateKey === null) {
      throw new WalletFormatError(`${file} holds no secret (secretSeed, secretPhrase or privateKey)`, {
        file,
      });
    }
    if (claimed === null) {
      throw new WalletFormatError(`${file}: privateKey without publicKey or ss58Address`, { file });
    }
    pair = keyring.addFromPair({ publicKey: claimed, secretKey: fromBtwalletPrivateKey(privateKey) });
    // The secret alone does not name its public key here; a signature that verifies proves the pairing.
    const probe = new TextEncoder().encode(`storage-subnet wallet check ${file}`);
    if (!sr25519Verify(probe, pair.sign(probe), claimed)) {
      throw new WalletAddressMismatchError(`${file}: privateKey does not belong to ${pair.address}`, {
        file,
        expected: pair.address,
        derived: "(another key)",
      });
    }
    return pair;
  }
  if (claimed === null) {
    throw new WalletFormatError(`${file} names no ss58Address or publicKey to check the key against`, {
      file,
    });
  }
  if (!bytesEqual(pair.publicKey, claimed)) {
    const expected = encodeAddress(claimed, SS58_FORMAT);
    throw new WalletAddressMismatchError(
      `${file}: the secret derives ${pair.address} but the file says ${expected}`,
      { file, expected, derived: pair.address },
    );
  }
  return pair;
}

/** The mini secret pairFromKeyfile made the pair from (it has checked seed and phrase agree). */
function seedOf(data: KeyfileData): Uint8Array | null {
  const seed = hexField(data.secretSeed, 32);
  if (seed !== null) return seed;
  const phrase = typeof data.secretPhrase === "string" ? data.secretPhrase.trim() : null;
  return phrase !== null ? mnemonicToMiniSecret(phrase) : null;
}

async function readKeyfileBytes(file: string, missing: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") {
      throw new WalletNotFoundError(`${missing} not found: ${file}. Create it with \`${CREATE_HINT}\``, {
        file,
        cause,
      });
    }
    throw new WalletIoError(`cannot read ${file}`, { file, cause });
  }
}

/** Options for reading an encrypted key file. */
export interface DecryptOptions {
  readonly password?: string;
  /** Argon2i cost; only for files written with non-default costs (btcli cannot read those). */
  readonly kdf?: NaclKdfParams;
}

/**
 * Decrypts key file bytes if they are encrypted (returns them unchanged if not).
 * Throws WalletEncryptedError without a password or for unsupported legacy schemes,
 * WalletPasswordError for a wrong password.
 */
export async function decryptKeyfileData(
  data: Uint8Array,
  file: string,
  options: DecryptOptions = {},
): Promise<Uint8Array> {
  const scheme = detectEncryption(data);
  if (scheme === null) return data;
  if (scheme !== "nacl") {
    throw new WalletEncryptedError(
      `${file} uses the legacy ${scheme} encryption, which is not supported; ` +
        "re-encrypt it with a current btcli (`btcli wallet regen-coldkey` or `btcli wallet update`) " +
        "or use an unencrypted hotkey",
      { file, scheme },
    );
  }
  if (options.password === undefined) {
    throw new WalletEncryptedError(
      `${file} is encrypted (NaCl); pass its password (--wallet.password) or use a key that needs none: ` +
        "miners and validators sign with the hotkey and only need the coldkey's public key (coldkeypub.txt)",
      { file, scheme },
    );
  }
  const plain = openNaclKeyfile(data, await deriveNaclKey(options.password, options.kdf));
  if (plain === null) throw new WalletPasswordError(`wrong password for ${file}`, { file });
  return plain;
}

/** Encrypts keyfile bytes the way btwallet does ("$NACL" format). */
export async function encryptKeyfileData(
  plain: Uint8Array,
  password: string,
  kdf: NaclKdfParams = BITTENSOR_NACL_KDF,
): Promise<Uint8Array> {
  return sealNaclKeyfile(plain, await deriveNaclKey(password, kdf));
}

async function loadKeyfile(file: string, what: string, options: DecryptOptions): Promise<LoadedKey> {
  await cryptoWaitReady();
  const raw = await readKeyfileBytes(file, what);
  const plain = await decryptKeyfileData(raw, file, options);
  const data = parseKeyfile(plain, file);
  const keypair = pairFromKeyfile(data, file);
  return { keypair, ss58Address: keypair.address, publicKey: keypair.publicKey, secretSeed: seedOf(data) };
}

// ------------------------------------------------------------------------------------------- loading

/** Which wallet to open. */
export interface WalletRef {
  readonly name: string;
  /** Wallet root; default ~/.bittensor/wallets. */
  readonly path?: string;
}

/**
 * Loads a hotkey, the key miners and validators sign with.
 * @example const { keypair, ss58Address } = await loadHotkey({ name: "miner", hotkey: "default" });
 */
export async function loadHotkey(
  options: WalletRef & DecryptOptions & { hotkey: string },
): Promise<LoadedKey> {
  const files = walletFiles(options);
  return loadKeyfile(files.hotkey!, `hotkey "${options.hotkey}" of wallet "${options.name}"`, options);
}

/**
 * Loads the coldkey's secret (rarely needed: staking and registration, not serving).
 * @example const { keypair } = await loadColdkey({ name: "owner", password: process.env.PW });
 */
export async function loadColdkey(options: WalletRef & DecryptOptions): Promise<LoadedKey> {
  const files = walletFiles(options);
  return loadKeyfile(files.coldkey, `coldkey of wallet "${options.name}"`, options);
}

/**
 * Loads the coldkey's public half from coldkeypub.txt.
 * @example (await loadColdkeyPub({ name: "miner" })).ss58Address
 */
export async function loadColdkeyPub(options: WalletRef): Promise<PublicKeyInfo> {
  const file = walletFiles(options).coldkeypub;
  await cryptoWaitReady();
  const raw = await readKeyfileBytes(file, `coldkeypub.txt of wallet "${options.name}"`);
  const data = parseKeyfile(raw, file);
  const fromAddress = claimedPublicKey(data, file);
  const fromHex = hexField(data.publicKey, 32) ?? hexField(data.accountId, 32);
  const publicKey = fromAddress ?? fromHex;
  if (publicKey === null) {
    throw new WalletFormatError(`${file} names no ss58Address or publicKey`, { file });
  }
  if (fromHex !== null && !bytesEqual(fromHex, publicKey)) {
    const expected = encodeAddress(publicKey, SS58_FORMAT);
    const derived = encodeAddress(fromHex, SS58_FORMAT);
    throw new WalletAddressMismatchError(`${file}: publicKey is ${derived} but ss58Address is ${expected}`, {
      file,
      expected,
      derived,
    });
  }
  return { ss58Address: encodeAddress(publicKey, SS58_FORMAT), publicKey };
}

// ------------------------------------------------------------------------------------------- creating

/** A key just written, with its mnemonic so the caller can show it once. */
export interface CreatedKey {
  readonly file: string;
  readonly ss58Address: string;
  readonly publicKey: Uint8Array;
  readonly mnemonic: string;
}

export interface CreateHotkeyOptions extends WalletRef {
  readonly hotkey: string;
  /** Import this BIP-39 mnemonic instead of generating a 12-word one. */
  readonly mnemonic?: string;
  readonly overwrite?: boolean;
}

export interface CreateWalletOptions extends WalletRef {
  readonly hotkey: string;
  /** Encrypts the coldkey (btwallet NaCl format); without it the coldkey is written in plain JSON. */
  readonly password?: string;
  /** Coldkey mnemonic to import instead of generating one. */
  readonly mnemonic?: string;
  /** Hotkey mnemonic to import instead of generating one. */
  readonly hotkeyMnemonic?: string;
  readonly overwrite?: boolean;
  /** Argon2i cost for the coldkey; only for tests (btcli reads files written with the default only). */
  readonly kdf?: NaclKdfParams;
}

export interface CreatedWallet {
  readonly coldkey: CreatedKey;
  readonly coldkeypubFile: string;
  readonly hotkey: CreatedKey;
  readonly encrypted: boolean;
}

function seedFromMnemonic(mnemonic: string, file: string): Uint8Array {
  if (!mnemonicValidate(mnemonic)) {
    throw new WalletFormatError(`the mnemonic given for ${file} is not a valid BIP-39 mnemonic`, { file });
  }
  return mnemonicToMiniSecret(mnemonic);
}

function encodeJson(data: KeyfileData): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(data));
}

async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

async function refuseExisting(files: readonly string[], overwrite: boolean | undefined): Promise<void> {
  if (overwrite === true) return;
  for (const file of files) {
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (exists) {
      throw new WalletExistsError(`${file} already exists; pass overwrite (--overwrite) to replace it`, {
        file,
      });
    }
  }
}

/** Writes a file with mode 0600 through a temporary file and a rename, so a crash leaves no half key. */
async function writePrivateFile(file: string, data: Uint8Array): Promise<void> {
  await ensurePrivateDir(dirname(file));
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, data, { mode: 0o600, flag: "wx" });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (cause) {
    await rm(tmp, { force: true });
    throw new WalletIoError(`cannot write ${file}`, { file, cause });
  }
}

function newKey(file: string, mnemonic: string | undefined): { mnemonic: string; data: KeyfileData } {
  const phrase = mnemonic?.trim() ?? mnemonicGenerate(12);
  return { mnemonic: phrase, data: keyfileFromSeed(seedFromMnemonic(phrase, file), phrase) };
}

function createdKey(file: string, key: { mnemonic: string; data: KeyfileData }): CreatedKey {
  const publicKey = hexToU8a(key.data.publicKey!);
  return { file, mnemonic: key.mnemonic, publicKey, ss58Address: key.data.ss58Address! };
}

/**
 * Writes a plain (unencrypted) hotkey into a wallet, as `btcli wallet new-hotkey` does.
 * @example await createHotkey({ name: "miner", hotkey: "second" })
 */
export async function createHotkey(options: CreateHotkeyOptions): Promise<CreatedKey> {
  await cryptoWaitReady();
  const file = walletFiles(options).hotkey!;
  await refuseExisting([file], options.overwrite);
  const key = newKey(file, options.mnemonic);
  await writePrivateFile(file, encodeJson(key.data));
  return createdKey(file, key);
}

/**
 * Creates a wallet: coldkey (encrypted if a password is given), coldkeypub.txt and one plain hotkey.
 * Files are 0600, directories 0700; existing files are kept unless `overwrite: true`.
 * @example const w = await createWallet({ name: "miner", hotkey: "default", password: "…" });
 */
export async function createWallet(options: CreateWalletOptions): Promise<CreatedWallet> {
  await cryptoWaitReady();
  const files = walletFiles(options);
  const hotkeyFile = files.hotkey!;
  await refuseExisting([files.coldkey, files.coldkeypub, hotkeyFile], options.overwrite);
  const cold = newKey(files.coldkey, options.mnemonic);
  const hot = newKey(hotkeyFile, options.hotkeyMnemonic);
  const coldJson = encodeJson(cold.data);
  const coldBytes =
    options.password === undefined
      ? coldJson
      : await encryptKeyfileData(coldJson, options.password, options.kdf);
  const { accountId, publicKey, ss58Address } = cold.data;
  await ensurePrivateDir(files.dir);
  await writePrivateFile(files.coldkey, coldBytes);
  await writePrivateFile(files.coldkeypub, encodeJson({ accountId, publicKey, ss58Address }));
  await writePrivateFile(hotkeyFile, encodeJson(hot.data));
  return {
    coldkey: createdKey(files.coldkey, cold),
    coldkeypubFile: files.coldkeypub,
    hotkey: createdKey(hotkeyFile, hot),
    encrypted: options.password !== undefined,
  };
}

// -------------------------------------------------------------------------------------------- listing

/** One wallet found under a wallet root; addresses are null where a file is missing or unreadable. */
export interface WalletSummary {
  readonly name: string;
  readonly coldkeyAddress: string | null;
  readonly coldkeyEncrypted: EncryptionScheme | "none" | "missing";
  readonly hotkeys: readonly { readonly name: string; readonly ss58Address: string | null }[];
}

async function listDir(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() || e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Public address of a key file without decrypting it (plain files only), or null. */
async function peekAddress(file: string): Promise<string | null> {
  try {
    const raw = await readFile(file);
    if (detectEncryption(raw) !== null) return null;
    const key = claimedPublicKey(parseKeyfile(raw, file), file);
    return key === null ? null : encodeAddress(key, SS58_FORMAT);
  } catch {
    return null;
  }
}

/**
 * Lists the wallets under a wallet root, reading only public data (never decrypts).
 * @example for (const w of await listWallets()) console.log(w.name, w.coldkeyAddress)
 */
export async function listWallets(path?: string): Promise<WalletSummary[]> {
  await cryptoWaitReady();
  const root = resolveWalletPath(path);
  const names = (await listDir(root)).sort();
  const wallets: WalletSummary[] = [];
  for (const name of names) {
    let files: WalletFiles;
    try {
      files = walletFiles({ name, path: root });
    } catch {
      continue;
    }
    const isDir = await stat(files.dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir) continue;
    const coldRaw = await readFile(files.coldkey).catch(() => null);
    const hotkeys = [];
    for (const hotkey of (await listDir(files.hotkeysDir)).sort()) {
      if (hotkey.endsWith(".tmp")) continue;
      hotkeys.push({ name: hotkey, ss58Address: await peekAddress(join(files.hotkeysDir, hotkey)) });
    }
    wallets.push({
      name,
      coldkeyAddress: await peekAddress(files.coldkeypub),
      coldkeyEncrypted: coldRaw === null ? "missing" : (detectEncryption(coldRaw) ?? "none"),
      hotkeys,
    });
  }
  return wallets;
}
