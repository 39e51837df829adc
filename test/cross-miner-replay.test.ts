/**
 * The cross-miner replay attack (issue 14, item 2) over real libp2p on loopback: a miner that
 * received a validator's signed store request sends it on to another miner. Before requests named
 * their recipient, the victim acknowledged it, its chunk was overwritten, and it then failed the
 * validator's challenge. Now the victim refuses it with WrongRecipient and keeps its chunk, while
 * requests signed for it still work.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import { authReady, createRequestSigner, type RequestSigner, signRequest } from "../neurons/auth.js";
import { createMiner, type Miner } from "../neurons/miner/miner.js";
import { createP2PNode, request } from "../neurons/p2p/node.js";
import { createChallenge, verifyResponse } from "../protocol/challenge.js";
import { encodeFrame } from "../protocol/codec.js";
import { chunkRoot } from "../protocol/merkle.js";
import { type Envelope, ErrorCode, type Message } from "../protocol/messages.js";
import { MemoryChainClient } from "./support/memory-chain-client.js";

const CHUNK = 64 * 1024;

let dir: string;
let validator: KeyringPair;
let signer: RequestSigner;
let minerA: Miner;
let minerB: Miner;
let hotkeyA: KeyringPair;
let hotkeyB: KeyringPair;
let client: Libp2p;

function send(miner: Miner, envelope: Envelope): Promise<Envelope> {
  return request(client, multiaddr(miner.listenAddresses[0] as string), envelope, {
    signal: AbortSignal.timeout(10_000),
  });
}

function ask(miner: Miner, recipient: KeyringPair, body: Message): Promise<Envelope> {
  return send(miner, signRequest(signer, body, { recipient: recipient.address }));
}

beforeAll(async () => {
  await cryptoWaitReady();
  await authReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  validator = keyring.addFromUri("//Replay//validator");
  signer = createRequestSigner(validator);
  hotkeyA = keyring.addFromUri("//Replay//minerA");
  hotkeyB = keyring.addFromUri("//Replay//minerB");
  const chain = new MemoryChainClient();
  const { netuid } = await bootstrapSubnet(chain, {
    sudo: validator,
    ownerHotkey: validator.address,
    registrations: [
      { coldkey: hotkeyA, hotkey: hotkeyA.address },
      { coldkey: hotkeyB, hotkey: hotkeyB.address },
    ],
    stakes: [{ coldkey: validator, hotkey: validator.address, amountRao: 1_000n }],
    firstEpoch: (id) => chain.advance(chain.blocksToEpoch(id)),
  });
  dir = mkdtempSync(join(tmpdir(), "cross-miner-replay-"));
  const settings = {
    netuid,
    dbRoot: dir,
    chunkSize: CHUNK,
    threshold: 1,
    listen: { ip: "127.0.0.1", port: 0 },
    announce: false,
    metagraphIntervalMs: 3_600_000,
  };
  const freeBytes = () => 256 * CHUNK;
  minerA = createMiner({ settings, chain, hotkey: hotkeyA, freeBytes });
  minerB = createMiner({ settings, chain, hotkey: hotkeyB, freeBytes });
  await minerA.start();
  await minerB.start();
  client = await createP2PNode();
}, 30_000);

afterAll(async () => {
  await client?.stop();
  await minerA?.stop();
  await minerB?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a store request replayed to another miner", () => {
  it("is refused with WrongRecipient, and the victim keeps its chunk and passes the challenge", async () => {
    const storeId = validator.address;
    const ownData = new Uint8Array(randomBytes(CHUNK));
    const replayedData = new Uint8Array(randomBytes(CHUNK));

    // The validator stores chunk 0 on B, then (other bytes) chunk 0 on A: both signed for their miner.
    const toB = await ask(minerB, hotkeyB, { type: "store", storeId, chunkIndex: 0, data: ownData });
    expect(toB.body.type).toBe("store-ack");
    const requestForA = signRequest(
      signer,
      { type: "store", storeId, chunkIndex: 0, data: replayedData },
      { recipient: hotkeyA.address },
    );
    const frameForA = encodeFrame(requestForA);
    expect((await send(minerA, requestForA)).body.type).toBe("store-ack");

    // Miner A replays the very request (same signature, nonce and timestamp) to miner B.
    const replayed = await send(minerB, requestForA);
    expect(replayed.body).toMatchObject({ type: "error", code: ErrorCode.WrongRecipient });
    expect(encodeFrame(requestForA)).toEqual(frameForA);

    // B's chunk is untouched: it reads back as the validator stored it and proves against its root.
    const read = await ask(minerB, hotkeyB, { type: "retrieve", storeId, chunkIndex: 0 });
    if (read.body.type !== "retrieve-reply") throw new Error(`retrieve failed: ${read.body.type}`);
    expect(Buffer.from(read.body.data).equals(Buffer.from(ownData))).toBe(true);
    const challenge = createChallenge({
      storeId,
      chunkCount: 1,
      leafCount: CHUNK / 1024,
      chunksPerChallenge: 1,
      leavesPerChunk: 8,
      nonce: new Uint8Array(randomBytes(32)),
      now: Date.now(),
      ttlMs: 10_000,
    });
    const proof = await ask(minerB, hotkeyB, { type: "challenge", challenge });
    if (proof.body.type !== "proof") throw new Error(`challenge failed: ${proof.body.type}`);
    const root = chunkRoot(ownData);
    expect(verifyResponse(challenge, proof.body.response, { rootOf: () => root, now: Date.now() })).toEqual({
      ok: true,
    });
  });

  it("refuses every request kind signed for another miner, and still answers requests signed for it", async () => {
    const storeId = validator.address;
    const bodies: Message[] = [
      { type: "retrieve", storeId, chunkIndex: 0 },
      { type: "evictions", storeId, sinceSeq: 0 },
      {
        type: "hello",
        role: "validator",
        protocolVersion: 2,
        softwareVersion: "test",
        chunkSize: CHUNK,
        leafSize: 1024,
        capacity: null,
        nonce: new Uint8Array(32).fill(7),
        proof: null,
      },
    ];
    for (const body of bodies) {
      expect((await ask(minerB, hotkeyA, body)).body).toMatchObject({ code: ErrorCode.WrongRecipient });
      expect((await ask(minerB, hotkeyB, body)).body.type).not.toBe("error");
    }
  });
});
