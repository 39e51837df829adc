/**
 * The key a user's files are encrypted under: from the hotkey's secret seed (or its mnemonic's),
 * else from its private key under a domain of its own; and the fixed salt that lets a put make
 * the same ciphertext in both of its passes.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexToU8a } from "@polkadot/util";
import { mnemonicGenerate, mnemonicToMiniSecret } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyfileFromSeed, loadHotkey } from "../chain/wallet.js";
import { userSecretOf } from "../neurons/client/user-secret.js";
import { decryptStream, deriveUserSecret, encryptStream, FileHeaderError } from "../protocol/file-crypto.js";

let dir: string;

async function writeHotkey(name: string, data: object): Promise<void> {
  await mkdir(join(dir, "w", "hotkeys"), { recursive: true });
  await writeFile(join(dir, "w", "hotkeys", name), JSON.stringify(data));
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "client-secret-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("user secret", () => {
  it("comes from the keyfile's secret seed, or its mnemonic's", async () => {
    const seed = randomBytes(32);
    await writeHotkey("seed", keyfileFromSeed(seed));
    const fromSeed = await loadHotkey({ name: "w", hotkey: "seed", path: dir });
    expect(Buffer.from(fromSeed.secretSeed ?? [])).toEqual(seed);
    expect(userSecretOf(fromSeed.keypair, fromSeed.secretSeed)).toEqual(deriveUserSecret(seed));

    const phrase = mnemonicGenerate(12);
    const { secretSeed: _seed, ...phraseOnly } = keyfileFromSeed(mnemonicToMiniSecret(phrase), phrase);
    await writeHotkey("phrase", phraseOnly);
    const fromPhrase = await loadHotkey({ name: "w", hotkey: "phrase", path: dir });
    expect(fromPhrase.secretSeed).toEqual(mnemonicToMiniSecret(phrase));
  });

  it("comes from the private key, under its own domain, when the keyfile has no seed", async () => {
    const seed = randomBytes(32);
    const full = keyfileFromSeed(seed);
    await writeHotkey("private", { ...full, secretSeed: null, secretPhrase: null });
    const key = await loadHotkey({ name: "w", hotkey: "private", path: dir });
    expect(key.secretSeed).toBeNull();
    expect(key.ss58Address).toBe(full.ss58Address);
    const secret = userSecretOf(key.keypair, null);
    expect(secret).toHaveLength(32);
    // Stable for the key, and not the seed's secret nor a hash of the bare private key.
    expect(userSecretOf(key.keypair, null)).toEqual(secret);
    expect(secret).not.toEqual(deriveUserSecret(seed));
    expect(secret).not.toEqual(deriveUserSecret(hexToU8a(full.privateKey ?? "").subarray(0, 32)));
  });
});

describe("encryptStream salt", () => {
  it("makes identical ciphertext for one salt, and different for another", async () => {
    const secret = deriveUserSecret(randomBytes(32));
    const plain = randomBytes(3000);
    const salt = randomBytes(32);
    const first = await collect(encryptStream(once(plain), secret, { salt }));
    const second = await collect(encryptStream(once(plain), secret, { salt }));
    expect(first.equals(second)).toBe(true);
    const random = await collect(encryptStream(once(plain), secret));
    expect(random.equals(first)).toBe(false);
    expect((await collect(decryptStream(once(first), secret))).equals(plain)).toBe(true);
    await expect(collect(encryptStream(once(plain), secret, { salt: randomBytes(31) }))).rejects.toThrow(
      FileHeaderError,
    );
  });
});
