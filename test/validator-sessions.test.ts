/**
 * What the validator checks before it believes a miner, without a network: the hello proof (the
 * miner's hotkey over the validator's nonce and both keys), one hotkey per peer id and address,
 * and eviction marks only for chunks the validator placed, however many a reply lists.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authReady, createRequestSigner } from "../neurons/auth.js";
import { createMinerSessions, helloProves } from "../neurons/validator/miner-sessions.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { helloProofPayload } from "../protocol/hello.js";
import { HELLO_NONCE_LENGTH, type HelloMessage, MAX_EVICTIONS_PER_REPLY } from "../protocol/messages.js";

let dir: string;
const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });

beforeAll(async () => {
  await authReady();
  dir = mkdtempSync(join(tmpdir(), "validator-sessions-"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function minerHello(nonce: Uint8Array, signerUri: string, validatorKey: Uint8Array): HelloMessage {
  const signer = createRequestSigner(keyring.addFromUri(signerUri));
  return {
    type: "hello",
    role: "miner",
    protocolVersion: 1,
    softwareVersion: "test",
    chunkSize: 1024,
    leafSize: 1024,
    capacity: null,
    nonce,
    proof: {
      hotkey: signer.publicKey,
      signature: signer.sign(helloProofPayload(nonce, validatorKey, signer.publicKey)),
    },
  };
}

describe("the hello proof", () => {
  const validator = keyring.addFromUri("//Bob//v");
  const miner = keyring.addFromUri("//Charlie//m");
  const nonce = new Uint8Array(HELLO_NONCE_LENGTH).fill(3);
  const expected = { nonce, validatorKey: validator.publicKey, minerHotkey: miner.address };

  it("proves the hotkey that signed the validator's nonce", () => {
    expect(helloProves(minerHello(nonce, "//Charlie//m", validator.publicKey), expected)).toBe(true);
  });

  it("proves nothing for another hotkey, another nonce, another validator or no proof", () => {
    // The peer at the address holds another hotkey: an alias of its address.
    expect(helloProves(minerHello(nonce, "//Charlie//other", validator.publicKey), expected)).toBe(false);
    const stale = minerHello(new Uint8Array(HELLO_NONCE_LENGTH).fill(4), "//Charlie//m", validator.publicKey);
    expect(helloProves(stale, expected)).toBe(false);
    expect(helloProves({ ...stale, nonce }, expected)).toBe(false);
    const elsewhere = minerHello(nonce, "//Charlie//m", keyring.addFromUri("//Bob//other").publicKey);
    expect(helloProves(elsewhere, expected)).toBe(false);
    expect(helloProves({ ...elsewhere, proof: null }, expected)).toBe(false);
  });
});

describe("miner sessions", () => {
  it("bind one hotkey per peer id and per address; a second claimant is refused until released", () => {
    const sessions = createMinerSessions();
    const address = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWhonest";
    expect(sessions.bind(1, { address, peer: "12D3KooWhonest" })).toBe(true);
    expect(sessions.claimant(2, { address })).toBe(1);
    expect(sessions.claimant(2, { address: "/ip4/127.0.0.1/tcp/4001" })).toBe(1);
    expect(sessions.claimant(2, { address: "/ip4/127.0.0.2/tcp/9", peer: "12D3KooWhonest" })).toBe(1);
    expect(sessions.bind(2, { address, peer: "12D3KooWhonest" })).toBe(false);
    expect(sessions.claimant(1, { address })).toBeUndefined();
    // A new address needs a new proof.
    expect(sessions.sessionOf(1, address)).toBeDefined();
    expect(sessions.sessionOf(1, "/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWhonest")).toBeUndefined();
    sessions.retain(new Set([2]));
    expect(sessions.claimant(2, { address })).toBeUndefined();
    expect(sessions.bind(2, { address, peer: "12D3KooWhonest" })).toBe(true);
  });
});

describe("eviction marks", () => {
  it("are kept only for chunks placed on the miner, however many indices a reply lists", () => {
    const db = ValidatorDb.open(join(dir, "evictions.sqlite"));
    const miner = db.upsertMiner({ hotkey: "m", uid: 0, multiaddr: null, seenAt: 0 });
    db.putChunkRoots(
      miner.id,
      Array.from({ length: 8 }, (_, i) => ({ chunkIndex: i, root: new Uint8Array(32).fill(i) })),
    );
    const flood = Array.from({ length: MAX_EVICTIONS_PER_REPLY }, (_, i) => i * 2);
    expect(db.recordEvictions(miner.id, flood, 1)).toBe(4);
    expect(db.evictedChunks(miner.id)).toEqual([0, 2, 4, 6]);
    expect(db.evictedCount(miner.id)).toBe(4);
    expect(db.liveChunkCount(miner.id)).toBe(4);
    expect([0, 1, 2, 3, 4].map((k) => db.liveChunkAt(miner.id, k))).toEqual([1, 3, 5, 7, undefined]);
    expect(db.evictedChunksBelow(miner.id, 5, 2)).toEqual([0, 2]);
    db.close();
  });
});
