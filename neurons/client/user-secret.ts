/**
 * The key a user's files are encrypted under, from their wallet hotkey, so the wallet is all a
 * user keeps: lose the hotkey and the files cannot be read; anyone with it can read them.
 */
import { createHash } from "node:crypto";
import { decodePair } from "@polkadot/keyring/pair/decode";
import type { KeyringPair } from "@polkadot/keyring/types";
import { deriveUserSecret } from "../../protocol/file-crypto.js";
import { MissingUserSecretError } from "./errors.js";

/**
 * Domain of the stand-in seed for a keyfile without `secretSeed` or `secretPhrase` (btwallet can
 * write one holding only `privateKey`): SHA-256 over this string and the pair's 64-byte sr25519
 * secret key. No other hash in the codebase starts with it, so the stand-in seed says nothing
 * about the key and nothing else can be derived to equal it.
 */
export const PRIVATE_KEY_SEED_DOMAIN = "storage-subnet/user-seed-from-private-key/v1";

/**
 * The user secret of a hotkey: `deriveUserSecret(seed)` over the keyfile's 32-byte secret seed,
 * or, when the keyfile holds no seed, over SHA-256(PRIVATE_KEY_SEED_DOMAIN ‖ secret key). The two
 * give different secrets for one key, so a wallet must keep the form it was first used with.
 *
 * @example
 * const { keypair, secretSeed } = await loadHotkey({ name, hotkey, path });
 * const userSecret = userSecretOf(keypair, secretSeed);
 */
export function userSecretOf(hotkey: KeyringPair, secretSeed: Uint8Array | null): Uint8Array {
  if (secretSeed !== null) return deriveUserSecret(secretSeed);
  let secretKey: Uint8Array;
  try {
    secretKey = decodePair(undefined, hotkey.encodePkcs8(), "none").secretKey;
  } catch (cause) {
    throw new MissingUserSecretError(
      `the secret of hotkey ${hotkey.address} cannot be read to derive a file key`,
      {
        cause,
      },
    );
  }
  const seed = createHash("sha256").update(PRIVATE_KEY_SEED_DOMAIN).update(secretKey).digest();
  return deriveUserSecret(seed);
}
