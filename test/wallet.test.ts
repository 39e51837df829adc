import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexToU8a, u8aToHex } from "@polkadot/util";
import { cryptoWaitReady, sr25519Verify } from "@polkadot/util-crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BITTENSOR_NACL_KDF,
  createHotkey,
  createWallet,
  decryptKeyfileData,
  deriveNaclKey,
  detectEncryption,
  devKeypair,
  keyfileFromSeed,
  listWallets,
  loadColdkey,
  loadColdkeyPub,
  loadHotkey,
  type NaclKdfParams,
  openNaclKeyfile,
  resolveWalletPath,
  WalletAddressMismatchError,
  WalletEncryptedError,
  WalletExistsError,
  WalletFormatError,
  WalletNameError,
  WalletNotFoundError,
  WalletPasswordError,
  walletFiles,
} from "../chain/wallet.js";
import { main } from "../chain/wallet-cli.js";

// Public test vector of opentensor/btwallet (tests/test_keyfile.py): this mnemonic gives this
// mini secret, this canonical-scalar private key and this address.
const PHRASE = "old leopard transfer rib spatial phone calm indicate online fire caution review";
const SEED = "0xda3cf5b1e9144931a0f0db65664aab662673b099415a7f8121b7245fb0be4143";
const PRIVATE_KEY =
  "0x1f1995bdf3a17b60626a26cfe6f564b337d46056b7a1281b64c649d592ccda0a9cffd34d9fb01cae1fba61aeed184c817442a2186d5172416729a4b54dd4b84e";
const PUBLIC_KEY = "0xe4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446";
const ADDRESS = "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX";
const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

// Made with libsodium 1.0.18 itself (Python ctypes on libsodium.so.23): crypto_pwhash(alg ARGON2I13)
// over btwallet's NACL_SALT, and crypto_secretbox_easy of a btwallet keyfile for the vector above
// with nonce 00 01 .. 17, framed as "$NACL" || nonce || box exactly as btwallet's encrypt_keyfile_data.
const PASSWORD = "thisisafakepassword";
const SMALL_KDF: NaclKdfParams = { opslimit: 3, memlimit: 8 * 1024 * 1024 };
const SODIUM_KEY_SMALL = "0x392bc1b940a5c898c4cad073f3a93999a6a92804950a1a57975ca33d43dfd416";
const SODIUM_KEY_UTF8_4_16MIB = "0xb1637d8e432f6e39ac65c9d92a753f8fef61ae7c948d5eed4766a720e0c34053";
const SODIUM_KEY_SENSITIVE = "0xa17c46ecafdd501ecb1da0651d35abfecf60df14bffa8e949f58aaecd75cb3c8";
const BOX_PREFIX = "0x244e41434c000102030405060708090a0b0c0d0e0f1011121314151617";
const SODIUM_ENVELOPE_SENSITIVE = `${BOX_PREFIX}851d892478bdfb0ed0c7c02c980a661ea818896fc58b9615756ca8f833ac3fcb356b2a615a21d10c0876d8e3e80b5fe450f748a7f416e14bc74120a64560219c041f8dc95fcae3b622830726a7cb033b4c7be4315931b556ea2671764d09067e6e2b0a21dec5475d043c8fe1d7406dd058a5f1e67f02d080981f8b6d58439d8117fc78ba6f6817505e72770e4d43d24011e19cbdec299109c10538b5530733a16966010ea1c92fc379d456e9be3c2f8671e5456aae8333a54e1c5f14137e28cedbc5bef09f639088f871381cfa4f84f2ddce95e84a4e229c53b67a7db3d6df4a7140a6289ce20d3279c6542e02a53605980992d1db41d6cc55220dfd624ca6609af89dc3135e69da981e9d39222740f0035d3665386c7eaf65c97a39e392650162b8fdf90ecd9247fe4a80fdc55f3d164974c2c7f907eb5447efd99de3ffa4558a3b78e8bc08effdd8cf367bc6a19eb04c5a3335a91c252d61c279a3f1edc7d50d970678905f4fc93d7a5cdaafef63e383e8dbedaf85deef0839a1fae732d2ca5458d016d0ec8a4d8938d42dc193e366c5a3068498e91e381297dce0e1396ab9a7106856b68f8616f2f53e48a4e1cdc72ca64ab0acc1edfe9d09a7f2a80b59ff12204fbd66e9d167c0197f5a31efc6c52d03360e99b51ea4ed1a18e5f8a4bf60dfa39ab3362515eebb81218cf386e104d5877fecaf408e2442bf3bb27790761ceaa98c72ae9bfea6039cdf338552e77e1f89e640c570c2bde6bff185a6d3145cf735c846fe017ef1a0c1e5c2c8cd0555b34202ad0c324e947c42caf023085f319ef1b5ab`;
const SODIUM_ENVELOPE_SMALL = `${BOX_PREFIX}0b80374078bbb78466d82ce77e1bb08a8fdf8ecc195d436f39a2d119447c4258d0839779ea5bc6bf95a5946f985f60115da249da8c171c975639e78e19ca7ef4d57982041ea2e199e8b7a23ee5767e892b4b09fa84097acdb93dfeb9d85f920f2f4a5d01dc87148611884b6d5c4e8870413f446e06aaf62e00c74438677d5b1d0fc432fa515da81f3b079bd69a472cedcd76b0abc6e2a6de33a988ec9471719b80449a9a27fe2b5c10d1077e1a2397849c710158fab29f41d5134ccf3381d73ceef284be84b2a910534629726cb008b5107d555bedeeba6de09e0a506e5ed13f2b54d6c34076305deba84d5a022f7edf86b8cf15e7164be4b41af406b7e980de416f94887915dbb60dfdbdb0988a92e3c7123a1547b3016393077bebe290df996f9d0e176ec11b462074c0d3f9b984e63cfdcb5e2cd7c415c02d94e074d519fc1238a7d2791b46fbd4ab1c1e57bd0962fa8a4e26a8fbafbf6010af099bf34f5d781974fd9fcc63b27e6d60feb5c2739b6780db46ab15de9d857495b20307c4743818d3d240339518bed71d74dddf012b81f5de15f186a7d0fc39af93e67c3d208bd5d08cb5d5a12b827504c0e20d2f4fac2bd53b668f97f31da674cc70d09569d4788c6f062ed2131f805c745d47d6f74d26b68a5033b3b334c16f37a7f6cec6df322a4902ec39840f44c8dbeeae5b89d852613e0265cd51b26307aee99952b0700cf94bd013d195f2070a5c2e43c722449c1b85c7e1a5920e82dc4a98d182aeba75a215ce0120d549f14691c397f4d2b37e6b6b9c02e731ca50a53184b9ae646a9407dd`;

let root: string;

beforeAll(async () => {
  await cryptoWaitReady();
  root = await mkdtemp(join(tmpdir(), "wallet-test-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh wallet root for one test. */
async function freshRoot(label: string): Promise<string> {
  const dir = join(root, label);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Writes a hand-made hotkey file and returns the wallet reference. */
async function writeHotkey(label: string, content: string | Uint8Array) {
  const path = await freshRoot(label);
  await mkdir(join(path, "w", "hotkeys"), { recursive: true });
  await writeFile(join(path, "w", "hotkeys", "h"), content);
  return { name: "w", hotkey: "h", path };
}

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe("keys", () => {
  it("derives the well-known //Alice dev key", async () => {
    const alice = await devKeypair("//Alice");
    expect(alice.address).toBe(ALICE);
    expect(alice.type).toBe("sr25519");
  });

  it("expands ~ in wallet paths", () => {
    expect(resolveWalletPath("~/.bittensor/wallets", "/home/u")).toBe("/home/u/.bittensor/wallets");
    expect(resolveWalletPath("~", "/home/u")).toBe("/home/u");
    expect(resolveWalletPath("/abs/w", "/home/u")).toBe("/abs/w");
    expect(walletFiles({ name: "a", hotkey: "b", path: "/w" }).hotkey).toBe("/w/a/hotkeys/b");
  });

  it("writes the same keyfile fields btwallet writes for a known mnemonic", () => {
    const data = keyfileFromSeed(hexToU8a(SEED), PHRASE);
    expect(data).toEqual({
      accountId: PUBLIC_KEY,
      publicKey: PUBLIC_KEY,
      privateKey: PRIVATE_KEY,
      secretPhrase: PHRASE,
      secretSeed: SEED,
      ss58Address: ADDRESS,
    });
  });

  it("keyfiles of random seeds load back to the same key", async () => {
    const path = await freshRoot("property");
    await mkdir(join(path, "w", "hotkeys"), { recursive: true });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (seed) => {
        const data = keyfileFromSeed(seed);
        // Drop the seed so the btwallet-format privateKey is the secret that gets used.
        const { secretSeed: _, ...withoutSeed } = data;
        await writeFile(join(path, "w", "hotkeys", "h"), JSON.stringify(withoutSeed));
        const loaded = await loadHotkey({ name: "w", hotkey: "h", path });
        expect(loaded.ss58Address).toBe(data.ss58Address);
        const message = new Uint8Array([1, 2, 3]);
        expect(sr25519Verify(message, loaded.keypair.sign(message), loaded.publicKey)).toBe(true);
      }),
      { numRuns: 15 },
    );
  });
});

describe("loading hand-written keyfiles", () => {
  it("loads a keyfile by its secretSeed and checks the address", async () => {
    const ref = await writeHotkey(
      "seed",
      JSON.stringify({ secretPhrase: null, secretSeed: SEED, ss58Address: ADDRESS }),
    );
    const loaded = await loadHotkey(ref);
    expect(loaded.ss58Address).toBe(ADDRESS);
    expect(u8aToHex(loaded.publicKey)).toBe(PUBLIC_KEY);
    expect(loaded.keypair.address).toBe(ADDRESS);
  });

  it("loads a keyfile holding only the mnemonic", async () => {
    const ref = await writeHotkey("phrase", JSON.stringify({ secretPhrase: PHRASE, ss58Address: ADDRESS }));
    expect((await loadHotkey(ref)).ss58Address).toBe(ADDRESS);
  });

  it("loads a keyfile holding only btwallet's privateKey and publicKey", async () => {
    const ref = await writeHotkey(
      "private",
      JSON.stringify({ privateKey: PRIVATE_KEY, publicKey: PUBLIC_KEY, secretPhrase: null }),
    );
    const loaded = await loadHotkey(ref);
    expect(loaded.ss58Address).toBe(ADDRESS);
    const message = new TextEncoder().encode("challenge");
    expect(sr25519Verify(message, loaded.keypair.sign(message), hexToU8a(PUBLIC_KEY))).toBe(true);
  });

  it("refuses a secret that does not derive the file's address", async () => {
    const ref = await writeHotkey("mismatch", JSON.stringify({ secretSeed: SEED, ss58Address: ALICE }));
    const error = await loadHotkey(ref).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalletAddressMismatchError);
    expect(error).toMatchObject({ name: "WalletAddressMismatchError", expected: ALICE, derived: ADDRESS });
  });

  it("refuses a privateKey that does not belong to the public key", async () => {
    const alice = u8aToHex((await devKeypair("//Alice")).publicKey);
    const ref = await writeHotkey(
      "private-mismatch",
      JSON.stringify({ privateKey: PRIVATE_KEY, publicKey: alice }),
    );
    await expect(loadHotkey(ref)).rejects.toBeInstanceOf(WalletAddressMismatchError);
  });

  it("says which file is missing and how to create it", async () => {
    const path = await freshRoot("missing");
    const error = await loadHotkey({ name: "nope", hotkey: "default", path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalletNotFoundError);
    const { message, file } = error as WalletNotFoundError;
    expect(file).toBe(join(path, "nope", "hotkeys", "default"));
    expect(message).toContain(file);
    expect(message).toContain("npm run wallet -- create");
    await expect(loadColdkeyPub({ name: "nope", path })).rejects.toBeInstanceOf(WalletNotFoundError);
  });

  it("refuses malformed JSON, wrong field types and files without a secret", async () => {
    await expect(loadHotkey(await writeHotkey("bad-json", "{not json"))).rejects.toBeInstanceOf(
      WalletFormatError,
    );
    await expect(loadHotkey(await writeHotkey("array", "[1,2]"))).rejects.toBeInstanceOf(WalletFormatError);
    await expect(
      loadHotkey(await writeHotkey("type", JSON.stringify({ secretSeed: 7, ss58Address: ADDRESS }))),
    ).rejects.toBeInstanceOf(WalletFormatError);
    await expect(
      loadHotkey(await writeHotkey("no-secret", JSON.stringify({ ss58Address: ADDRESS }))),
    ).rejects.toBeInstanceOf(WalletFormatError);
    await expect(
      loadHotkey(await writeHotkey("bad-ss58", JSON.stringify({ secretSeed: SEED, ss58Address: "5xyz" }))),
    ).rejects.toBeInstanceOf(WalletFormatError);
  });

  it("refuses legacy encryption schemes with WalletEncryptedError naming the scheme", async () => {
    const cases = [
      ["$ANSIBLE_VAULT;1.1;AES256\n6162", "ansible-vault"],
      ["gAAAAABkZ2V4YW1wbGU=", "fernet"],
      ["$BTWALLET0123456789", "btwallet-legacy"],
    ] as const;
    for (const [content, scheme] of cases) {
      const error = await loadHotkey({
        ...(await writeHotkey(`legacy-${scheme}`, content)),
        password: "x",
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WalletEncryptedError);
      expect((error as WalletEncryptedError).scheme).toBe(scheme);
    }
  });

  it("rejects wallet names that would leave the wallet root", () => {
    expect(() => walletFiles({ name: "../etc", path: root })).toThrow(WalletNameError);
    expect(() => walletFiles({ name: "w", hotkey: "a/b", path: root })).toThrow(WalletNameError);
  });
});

describe("NaCl-encrypted keyfiles (btwallet format, checked against libsodium)", () => {
  it("derives the same Argon2i keys as libsodium's crypto_pwhash", async () => {
    expect(u8aToHex(await deriveNaclKey(PASSWORD, SMALL_KDF))).toBe(SODIUM_KEY_SMALL);
    expect(u8aToHex(await deriveNaclKey("päss", { opslimit: 4, memlimit: 16 * 1024 * 1024 }))).toBe(
      SODIUM_KEY_UTF8_4_16MIB,
    );
  });

  it("uses libsodium's SENSITIVE Argon2i costs by default", () => {
    expect(BITTENSOR_NACL_KDF).toEqual({ opslimit: 8, memlimit: 536_870_912 });
  });

  // Skipped by default: ~30 s and 512 MiB of Argon2i at bittensor's real costs. The same
  // derivation is checked at small costs against libsodium's own output above.
  it.skipIf(process.env.WALLET_SLOW_TESTS !== "1")(
    "derives libsodium's key at the default costs (slow: ~30 s, 512 MiB)",
    async () => {
      expect(u8aToHex(await deriveNaclKey(PASSWORD))).toBe(SODIUM_KEY_SENSITIVE);
    },
    120_000,
  );

  it("opens a box sealed by libsodium with the default-cost key", () => {
    const envelope = hexToU8a(SODIUM_ENVELOPE_SENSITIVE);
    expect(detectEncryption(envelope)).toBe("nacl");
    const plain = openNaclKeyfile(envelope, hexToU8a(SODIUM_KEY_SENSITIVE));
    expect(plain).not.toBeNull();
    const data = JSON.parse(new TextDecoder().decode(plain!));
    expect(data.ss58Address).toBe(ADDRESS);
    expect(data.secretSeed).toBe(SEED);
    expect(openNaclKeyfile(envelope, hexToU8a(SODIUM_KEY_SMALL))).toBeNull();
  });

  it("loads a libsodium-encrypted coldkey with its password, and names a wrong or missing one", async () => {
    const path = await freshRoot("sodium-coldkey");
    await mkdir(join(path, "w"), { recursive: true });
    await writeFile(join(path, "w", "coldkey"), hexToU8a(SODIUM_ENVELOPE_SMALL));
    const loaded = await loadColdkey({ name: "w", path, password: PASSWORD, kdf: SMALL_KDF });
    expect(loaded.ss58Address).toBe(ADDRESS);
    await expect(loadColdkey({ name: "w", path, password: "wrong", kdf: SMALL_KDF })).rejects.toBeInstanceOf(
      WalletPasswordError,
    );
    const error = await loadColdkey({ name: "w", path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalletEncryptedError);
    expect(error).toMatchObject({ scheme: "nacl" });
    expect((error as Error).message).toContain("--wallet.password");
  });

  it("passes plain keyfile bytes through decryptKeyfileData unchanged", async () => {
    const plain = new TextEncoder().encode("{}");
    expect(await decryptKeyfileData(plain, "x")).toBe(plain);
  });
});

describe("creating wallets", () => {
  it("creates a plain wallet that loads back, with 0600 files and 0700 directories", async () => {
    const path = await freshRoot("create-plain");
    const created = await createWallet({ name: "miner", hotkey: "default", path });
    expect(created.encrypted).toBe(false);
    expect(created.coldkey.mnemonic.split(" ")).toHaveLength(12);

    const hot = await loadHotkey({ name: "miner", hotkey: "default", path });
    expect(hot.ss58Address).toBe(created.hotkey.ss58Address);
    expect(hot.publicKey).toEqual(created.hotkey.publicKey);
    const cold = await loadColdkey({ name: "miner", path });
    expect(cold.ss58Address).toBe(created.coldkey.ss58Address);
    const pub = await loadColdkeyPub({ name: "miner", path });
    expect(pub.ss58Address).toBe(created.coldkey.ss58Address);
    expect(cold.ss58Address).not.toBe(hot.ss58Address);

    const files = walletFiles({ name: "miner", hotkey: "default", path });
    for (const file of [files.coldkey, files.coldkeypub, files.hotkey!]) {
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    }
    for (const dir of [files.dir, files.hotkeysDir]) {
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
    }
    const pubJson = JSON.parse(await readFile(files.coldkeypub, "utf8"));
    expect(Object.keys(pubJson).sort()).toEqual(["accountId", "publicKey", "ss58Address"]);
    const hotJson = JSON.parse(await readFile(files.hotkey!, "utf8"));
    expect(hotJson.secretPhrase).toBe(created.hotkey.mnemonic);
    expect(hotJson.secretSeed).toMatch(/^0x[0-9a-f]{64}$/);
    expect(hotJson.privateKey).toMatch(/^0x[0-9a-f]{128}$/);
  });

  it("imports given mnemonics", async () => {
    const path = await freshRoot("create-import");
    const created = await createWallet({
      name: "w",
      hotkey: "h",
      path,
      mnemonic: PHRASE,
      hotkeyMnemonic: PHRASE,
    });
    expect(created.coldkey.ss58Address).toBe(ADDRESS);
    expect((await loadHotkey({ name: "w", hotkey: "h", path })).ss58Address).toBe(ADDRESS);
    await expect(
      createHotkey({ name: "w", hotkey: "bad", path, mnemonic: "not a mnemonic" }),
    ).rejects.toBeInstanceOf(WalletFormatError);
  });

  it("encrypts the coldkey when given a password", async () => {
    const path = await freshRoot("create-encrypted");
    const created = await createWallet({ name: "w", hotkey: "h", path, password: PASSWORD, kdf: SMALL_KDF });
    expect(created.encrypted).toBe(true);
    const raw = await readFile(join(path, "w", "coldkey"));
    expect(detectEncryption(raw)).toBe("nacl");
    expect(raw.includes(Buffer.from(created.coldkey.mnemonic))).toBe(false);
    const cold = await loadColdkey({ name: "w", path, password: PASSWORD, kdf: SMALL_KDF });
    expect(cold.ss58Address).toBe(created.coldkey.ss58Address);
    // The hotkey and the coldkey's public half still load without the password.
    expect((await loadHotkey({ name: "w", hotkey: "h", path })).ss58Address).toBe(created.hotkey.ss58Address);
    expect((await loadColdkeyPub({ name: "w", path })).ss58Address).toBe(created.coldkey.ss58Address);
  });

  it("refuses to overwrite existing keys unless told to", async () => {
    const path = await freshRoot("overwrite");
    const first = await createWallet({ name: "w", hotkey: "h", path });
    await expect(createWallet({ name: "w", hotkey: "h", path })).rejects.toBeInstanceOf(WalletExistsError);
    await expect(createHotkey({ name: "w", hotkey: "h", path })).rejects.toBeInstanceOf(WalletExistsError);
    expect((await loadHotkey({ name: "w", hotkey: "h", path })).ss58Address).toBe(first.hotkey.ss58Address);
    const second = await createWallet({ name: "w", hotkey: "h", path, overwrite: true });
    expect(second.hotkey.ss58Address).not.toBe(first.hotkey.ss58Address);
    expect((await loadHotkey({ name: "w", hotkey: "h", path })).ss58Address).toBe(second.hotkey.ss58Address);
    const extra = await createHotkey({ name: "w", hotkey: "h2", path });
    expect((await loadHotkey({ name: "w", hotkey: "h2", path })).ss58Address).toBe(extra.ss58Address);
  });

  it("lists wallets with public data only", async () => {
    const path = await freshRoot("list");
    const a = await createWallet({ name: "a", hotkey: "h1", path });
    await createHotkey({ name: "a", hotkey: "h2", path });
    const b = await createWallet({ name: "b", hotkey: "x", path, password: "pw", kdf: SMALL_KDF });
    const wallets = await listWallets(path);
    expect(wallets.map((w) => w.name)).toEqual(["a", "b"]);
    expect(wallets[0]).toMatchObject({ coldkeyAddress: a.coldkey.ss58Address, coldkeyEncrypted: "none" });
    expect(wallets[0]?.hotkeys.map((h) => h.name)).toEqual(["h1", "h2"]);
    expect(wallets[1]).toMatchObject({ coldkeyAddress: b.coldkey.ss58Address, coldkeyEncrypted: "nacl" });
  });
});

describe("wallet command", () => {
  it("create makes a loadable wallet; show and list print its addresses", async () => {
    const path = await freshRoot("cli");
    const create = captureIo();
    const base = ["--wallet.name", "cli", "--wallet.hotkey", "hk", "--wallet.path", path];
    expect(await main(["create", ...base, "--no-password"], create.io)).toBe(0);
    const hot = await loadHotkey({ name: "cli", hotkey: "hk", path });
    expect(create.out.join("\n")).toContain(hot.ss58Address);
    expect(create.out.join("\n")).toContain(hot.keypair.address);

    const show = captureIo();
    expect(await main(["show", ...base, "--json"], show.io)).toBe(0);
    const shown = JSON.parse(show.out.join("\n"));
    expect(shown.hotkey).toBe(hot.ss58Address);
    expect(shown.coldkey).toBe((await loadColdkeyPub({ name: "cli", path })).ss58Address);
    expect(shown.coldkeyEncryption).toBe("none");

    const list = captureIo();
    expect(await main(["list", "--wallet.path", path], list.io)).toBe(0);
    expect(list.out.join("\n")).toContain(hot.ss58Address);

    const again = captureIo();
    expect(await main(["create", ...base, "--no-password"], again.io)).toBe(1);
    expect(again.err.join("\n")).toContain("WalletExistsError");
  });

  it("create imports mnemonics and new-hotkey adds a hotkey", async () => {
    const path = await freshRoot("cli-import");
    const base = ["--wallet.name", "w", "--wallet.path", path];
    const io = captureIo();
    expect(
      await main(
        ["create", ...base, "--no-password", "--mnemonic", PHRASE, "--hotkey-mnemonic", PHRASE],
        io.io,
      ),
    ).toBe(0);
    expect(io.out.join("\n")).not.toContain(PHRASE);
    expect((await loadHotkey({ name: "w", hotkey: "default", path })).ss58Address).toBe(ADDRESS);
    expect(await main(["new-hotkey", ...base, "--wallet.hotkey", "second"], captureIo().io)).toBe(0);
    await expect(loadHotkey({ name: "w", hotkey: "second", path })).resolves.toBeDefined();
  });

  it("returns usage errors for bad invocations", async () => {
    const path = await freshRoot("cli-usage");
    const io = captureIo();
    expect(await main([], io.io)).toBe(2);
    expect(await main(["frobnicate"], io.io)).toBe(2);
    expect(await main(["list", "--no-such-flag"], io.io)).toBe(2);
    // create must be told whether to encrypt the coldkey
    expect(await main(["create", "--wallet.path", path], io.io)).toBe(2);
    expect(await main(["create", "--wallet.path", path, "--no-password", "--password", "x"], io.io)).toBe(2);
    expect(await main(["show", "--wallet.name", "absent", "--wallet.path", path], io.io)).toBe(1);
    expect(io.err.join("\n")).toContain("WalletNotFoundError");
    expect(await main(["--help"], io.io)).toBe(0);
  });
});
