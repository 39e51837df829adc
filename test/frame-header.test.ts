import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { describe, expect, it } from "vitest";
import { signRequest } from "../neurons/auth.js";
import { encodeFrame } from "../protocol/codec.js";
import { CodecError } from "../protocol/codec-errors.js";
import { PROTOCOL_VERSION } from "../protocol/constants.js";
import { MAX_FRAME_HEADER_SIZE, peekFrameHeader } from "../protocol/frame-header.js";
import { createEnvelope } from "../protocol/messages.js";

describe("peekFrameHeader", () => {
  it("reads a signed frame's length, type, sender and timestamp once its front has arrived", async () => {
    await cryptoWaitReady();
    const pair = new Keyring({ type: "sr25519" }).addFromUri("//Bob");
    const body = { type: "store" as const, storeId: pair.address, chunkIndex: 3, data: new Uint8Array(5000) };
    const frame = encodeFrame(
      signRequest(pair, body, { recipient: pair.address, now: 1_700_000_000_123, requestId: 9 }),
    );
    for (let n = 0; n < MAX_FRAME_HEADER_SIZE; n++)
      expect(peekFrameHeader(frame.subarray(0, n))).toBeUndefined();
    const header = peekFrameHeader(frame.subarray(0, MAX_FRAME_HEADER_SIZE));
    expect(header).toMatchObject({ payloadLength: frame.length - 4, type: "store", requestId: 9 });
    expect(header?.auth?.timestamp).toBe(1_700_000_000_123);
    expect(header?.auth?.recipient).toEqual(pair.publicKey);
    expect(header?.auth?.sender).toEqual(pair.publicKey);
  });

  it("reads an unsigned frame's front without an authentication block", () => {
    const frame = encodeFrame(
      createEnvelope({ type: "retrieve", storeId: "x", chunkIndex: 0 }, { requestId: 2 }),
    );
    expect(peekFrameHeader(frame.subarray(0, 11))).toEqual({
      payloadLength: frame.length - 4,
      type: "retrieve",
      requestId: 2,
    });
  });

  it("refuses as soon as the bytes rule the frame out", () => {
    const code = (bytes: number[], maxFrameSize?: number) => {
      try {
        peekFrameHeader(Uint8Array.from(bytes), maxFrameSize ? { maxFrameSize } : {});
        return undefined;
      } catch (error) {
        return error instanceof CodecError ? error.code : "other";
      }
    };
    const V = PROTOCOL_VERSION;
    expect(code([0, 0, 1, 0], 100)).toBe("too-large");
    expect(code([0, 0, 0, 50, 9])).toBe("bad-version");
    expect(code([0, 0, 0, 50, V, 99])).toBe("unknown-type");
    expect(code([0, 0, 0, 50, V, 2, 7])).toBe("invalid-field");
    expect(code([0, 0, 0, 3, V, 2, 0])).toBe("truncated");
    expect(code([0, 0, 0, 50, V, 2, 1, 0, 0, 0, 0])).toBe("truncated");
  });
});
