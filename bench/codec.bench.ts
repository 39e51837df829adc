/**
 * Wire codec throughput. Chunk frames are compared with a plain copy of the same bytes (the
 * least any encoder that produces one contiguous frame must do); small control messages with
 * JSON.stringify + JSON.parse of the same object, bytes as base64 (what a text protocol would
 * send), so the ratio is the binary codec's speedup.
 */

import { decodeFrame, encodeFrame, FrameDecoder } from "../protocol/codec.js";
import { CHUNK_SIZE, HASH_LENGTH, LEAF_SIZE, NONCE_LENGTH } from "../protocol/constants.js";
import { createEnvelope, type Envelope, type Message } from "../protocol/messages.js";
import type { Challenge, ChallengeResponse } from "../protocol/types.js";
import { type BenchGroup, measured, timeIt } from "./harness.js";

const MIB = 1 << 20;
/** Stream chunks the size a yamux/TCP read typically hands over. */
const STREAM_CHUNK = 64 * 1024;

export const codecBench: BenchGroup = {
  name: "codec",
  description: "wire frame encode/decode: 1 MiB store frames vs memcpy, proof/challenge messages vs JSON",
  async run(report, signal) {
    const data = filled(CHUNK_SIZE, 7);
    const store = envelopeOf({
      type: "store",
      storeId: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
      chunkIndex: 12,
      data,
    });
    const frame = encodeFrame(store);
    const sink: unknown[] = [];

    // Baseline: allocate a buffer of the frame's size and copy the chunk in, as the encoder must.
    const copy = () => {
      const out = new Uint8Array(frame.length);
      out.set(data, frame.length - data.length);
      sink[0] = out;
    };
    const copyNote = "baseline: allocate + Uint8Array.set of the same 1 MiB";

    const [encodeMs, encodeCopyMs] = timePair(() => {
      sink[0] = encodeFrame(store);
    }, copy);
    report(
      measured(
        "codec.encode-store",
        mibPerSecond(CHUNK_SIZE, encodeMs),
        "MiB/s",
        mibPerSecond(CHUNK_SIZE, encodeCopyMs),
        `${copyNote}; goal ≈ 1`,
      ),
    );
    if (signal.aborted) return;

    const [decodeMs, decodeCopyMs] = timePair(() => {
      sink[0] = decodeFrame(frame);
    }, copy);
    report(
      measured(
        "codec.decode-store",
        mibPerSecond(CHUNK_SIZE, decodeMs),
        "MiB/s",
        mibPerSecond(CHUNK_SIZE, decodeCopyMs),
        `${copyNote}; decode is zero-copy, so goal ≫ 1`,
      ),
    );
    if (signal.aborted) return;

    // A frame arriving in 64 KiB pieces is reassembled with one copy.
    const pieces: Uint8Array[] = [];
    for (let at = 0; at < frame.length; at += STREAM_CHUNK)
      pieces.push(frame.subarray(at, at + STREAM_CHUNK));
    const [streamMs, streamCopyMs] = timePair(() => {
      const decoder = new FrameDecoder();
      for (const piece of pieces) for (const e of decoder.push(piece)) sink[0] = e;
    }, copy);
    report(
      measured(
        "codec.stream-decode-store",
        mibPerSecond(CHUNK_SIZE, streamMs),
        "MiB/s",
        mibPerSecond(CHUNK_SIZE, streamCopyMs),
        `${copyNote}; FrameDecoder over 64 KiB pieces, goal ≈ 1`,
      ),
    );
    if (signal.aborted) return;

    const messages: [string, Envelope][] = [
      ["proof", envelopeOf({ type: "proof", response: sampleResponse() })],
      ["challenge", envelopeOf({ type: "challenge", challenge: sampleChallenge() })],
    ];
    for (const [name, envelope] of messages) {
      const [binaryMs, jsonMs] = timePair(
        () => {
          sink[0] = decodeFrame(encodeFrame(envelope));
        },
        () => {
          sink[0] = JSON.parse(JSON.stringify(envelope, bytesToBase64), base64ToBytes);
        },
      );
      const size = encodeFrame(envelope).length;
      const jsonSize = JSON.stringify(envelope, bytesToBase64).length;
      report(
        measured(
          `codec.${name}-roundtrip`,
          1000 / binaryMs,
          "msg/s",
          1000 / jsonMs,
          `baseline: JSON.stringify+parse, bytes as base64; ${size} B binary vs ${jsonSize} B JSON; goal > 1`,
        ),
      );
      if (signal.aborted) return;
    }
    sink.length = 0;
  },
};

/**
 * Times a subject and its baseline side by side: both warmed up (the first few hundred 1 MiB
 * allocations run several times slower while the heap grows), then measured alternately and the
 * best of three kept for each, so load from other processes skews neither side alone.
 */
function timePair(subject: () => void, baseline: () => void): [number, number] {
  timeIt(subject, 150);
  timeIt(baseline, 150);
  let best: [number, number] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  for (let round = 0; round < 3; round++) {
    best = [Math.min(best[0], timeIt(subject, 150)), Math.min(best[1], timeIt(baseline, 150))];
  }
  return best;
}

function envelopeOf(body: Message): Envelope {
  return createEnvelope(body, {
    requestId: 1,
    sender: filled(32, 1),
    timestamp: Date.now(),
    nonce: filled(16, 2),
    signature: filled(64, 3),
  });
}

/** A typical challenge answer: 4 chunks × 4 leaves of 1 KiB, each with a 1024-leaf tree's siblings. */
function sampleResponse(): ChallengeResponse {
  const chunks = [0, 1, 2, 3].map((c) => {
    const indices = [17, 301, 640, 999];
    return {
      chunkIndex: c * 97,
      leaves: indices.map((i) => filled(LEAF_SIZE, i)),
      proof: {
        leafCount: CHUNK_SIZE / LEAF_SIZE,
        indices,
        siblings: Array.from({ length: 30 }, (_, i) => filled(HASH_LENGTH, i)),
      },
    };
  });
  return { nonce: filled(NONCE_LENGTH, 5), chunks, binding: filled(HASH_LENGTH, 6) };
}

function sampleChallenge(): Challenge {
  return {
    storeId: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
    chunks: [0, 1, 2, 3].map((c) => ({ chunkIndex: c * 97, leafIndices: [17, 301, 640, 999] })),
    nonce: filled(NONCE_LENGTH, 5),
    deadline: Date.now() + 30_000,
  };
}

function filled(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function mibPerSecond(bytes: number, ms: number): number {
  return bytes / MIB / (ms / 1000);
}

function bytesToBase64(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array
    ? { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") }
    : value;
}

function base64ToBytes(_key: string, value: unknown): unknown {
  if (typeof value === "object" && value !== null && "$bytes" in value && typeof value.$bytes === "string") {
    return new Uint8Array(Buffer.from(value.$bytes, "base64"));
  }
  return value;
}
