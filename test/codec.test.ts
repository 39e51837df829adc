import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeFrame,
  decodePayload,
  ENVELOPE_HEADER_SIZE,
  encodedFrameLength,
  encodeFrame,
  encodeFrameParts,
  FrameDecoder,
  isUnsignedEnvelope,
  LENGTH_PREFIX_SIZE,
  MESSAGE_TYPE_CODES,
  SEPARATE_DATA_BYTES,
  signingPayload,
  UNSIGNED_HEADER_SIZE,
} from "../protocol/codec.js";
import { CodecError } from "../protocol/codec-errors.js";
import {
  CHUNK_SIZE,
  HASH_LENGTH,
  MAX_CHUNK_SIZE,
  MAX_FRAME_SIZE,
  NONCE_LENGTH,
  PROTOCOL_VERSION,
} from "../protocol/constants.js";
import {
  createEnvelope,
  ENVELOPE_NONCE_LENGTH,
  type Envelope,
  ErrorCode,
  HELLO_NONCE_LENGTH,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_SOFTWARE_VERSION_LENGTH,
  MAX_STORE_ID_LENGTH,
  type Message,
  PUBLIC_KEY_LENGTH,
  SIGNATURE_LENGTH,
  SIGNING_DOMAIN,
} from "../protocol/messages.js";

// ---------------------------------------------------------------------------------------------
// Arbitraries

const utf8Length = (s: string) => new TextEncoder().encode(s).length;
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u32 = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 0xffffffff));
const u64 = fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, 2 ** 32, Number.MAX_SAFE_INTEGER));
const text = (min: number, max: number) =>
  fc
    .oneof(
      fc.string({ unit: "binary", maxLength: max }),
      fc.string({ unit: "grapheme-ascii", maxLength: max }),
    )
    .filter((s) => utf8Length(s) >= min && utf8Length(s) <= max);
const storeId = text(1, MAX_STORE_ID_LENGTH);
const increasing = (maxLength: number, max = 0xffffffff) =>
  fc.uniqueArray(fc.integer({ min: 0, max }), { maxLength }).map((a) => [...a].sort((x, y) => x - y));
const data = fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.constant(new Uint8Array(0)));

const chunkProof = fc.integer({ min: 0, max: 2048 }).chain((leafCount) =>
  fc
    .record({
      chunkIndex: u32,
      indices: increasing(6, Math.max(0, leafCount - 1)).map((a) => (leafCount === 0 ? [] : a)),
      siblings: fc.array(bytes(HASH_LENGTH), { maxLength: 12 }),
    })
    .chain(({ chunkIndex, indices, siblings }) =>
      fc
        .array(fc.uint8Array({ maxLength: 64 }), { minLength: indices.length, maxLength: indices.length })
        .map((leaves) => ({ chunkIndex, leaves, proof: { leafCount, indices, siblings } })),
    ),
);

const message: fc.Arbitrary<Message> = fc.oneof(
  fc
    .oneof(fc.integer({ min: 1, max: MAX_CHUNK_SIZE }), fc.constantFrom(1, CHUNK_SIZE, MAX_CHUNK_SIZE))
    .chain((chunkSize) =>
      fc.record({
        type: fc.constant("hello" as const),
        role: fc.constantFrom("miner" as const, "validator" as const),
        protocolVersion: fc.integer({ min: 0, max: 255 }),
        softwareVersion: text(0, MAX_SOFTWARE_VERSION_LENGTH),
        chunkSize: fc.constant(chunkSize),
        leafSize: fc.oneof(fc.integer({ min: 1, max: chunkSize }), fc.constant(chunkSize)),
        capacity: fc.option(fc.record({ budgetBytes: u64, usedBytes: u64, chunkCount: u32 }), { nil: null }),
        nonce: bytes(HELLO_NONCE_LENGTH),
        proof: fc.option(
          fc.record({ hotkey: bytes(PUBLIC_KEY_LENGTH), signature: bytes(SIGNATURE_LENGTH) }),
          {
            nil: null,
          },
        ),
      }),
    ),
  fc.record({ type: fc.constant("store" as const), storeId, chunkIndex: u32, data }),
  fc.record({ type: fc.constant("store-ack" as const), storeId, chunkIndex: u32, root: bytes(HASH_LENGTH) }),
  fc.record({ type: fc.constant("retrieve" as const), storeId, chunkIndex: u32 }),
  fc.record({ type: fc.constant("retrieve-reply" as const), storeId, chunkIndex: u32, data }),
  fc.record({
    type: fc.constant("challenge" as const),
    challenge: fc.record({
      storeId,
      // Each chunk named once, in increasing order (protocol version 2).
      chunks: increasing(6).chain((indices) =>
        fc.tuple(
          ...indices.map((chunkIndex) =>
            fc.record({ chunkIndex: fc.constant(chunkIndex), leafIndices: increasing(8) }),
          ),
        ),
      ),
      nonce: bytes(NONCE_LENGTH),
      deadline: u64,
    }),
    evictionsSince: fc.option(u64, { nil: undefined }),
  }),
  fc.record({
    type: fc.constant("proof" as const),
    response: fc.record({
      nonce: bytes(NONCE_LENGTH),
      chunks: fc.array(chunkProof, { maxLength: 4 }),
      binding: bytes(HASH_LENGTH),
    }),
  }),
  fc.record({ type: fc.constant("evictions" as const), storeId, sinceSeq: u64 }),
  fc.record({
    type: fc.constant("evictions-reply" as const),
    storeId,
    evicted: increasing(40),
    nextSeq: u64,
  }),
  fc.record({
    type: fc.constant("error" as const),
    code: fc.constantFrom(...Object.values(ErrorCode)),
    message: text(0, MAX_ERROR_MESSAGE_LENGTH),
  }),
);

const envelope: fc.Arbitrary<Envelope> = fc.record({
  version: fc.constant(PROTOCOL_VERSION),
  requestId: u32,
  sender: bytes(PUBLIC_KEY_LENGTH),
  recipient: bytes(PUBLIC_KEY_LENGTH),
  timestamp: u64,
  nonce: bytes(ENVELOPE_NONCE_LENGTH),
  signature: bytes(SIGNATURE_LENGTH),
  body: message,
});

/** Runs `fn` and returns the CodecError it throws; fails the test on success or any other error. */
function codecErrorOf(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CodecError);
    return error as CodecError;
  }
  throw new Error("expected a CodecError, got a result");
}

/** Byte equality without vitest's element-by-element diffing (slow on 1 MiB arrays). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** Small deterministic PRNG for the fuzz loop (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sampleEnvelope<M extends Message>(body: M): Envelope<M> {
  return createEnvelope(body, {
    requestId: 42,
    sender: new Uint8Array(PUBLIC_KEY_LENGTH).fill(1),
    recipient: new Uint8Array(PUBLIC_KEY_LENGTH).fill(4),
    timestamp: 1_700_000_000_000,
    nonce: new Uint8Array(ENVELOPE_NONCE_LENGTH).fill(2),
    signature: new Uint8Array(SIGNATURE_LENGTH).fill(3),
  });
}

// ---------------------------------------------------------------------------------------------

describe("codec round trip", () => {
  it("decodes every encoded message to an equal envelope, canonically", () => {
    fc.assert(
      fc.property(envelope, (e) => {
        const frame = encodeFrame(e);
        expect(frame.length).toBe(encodedFrameLength(e));
        const decoded = decodeFrame(frame);
        expect(decoded).toEqual(e);
        expect(encodeFrame(decoded)).toEqual(frame);
        expect(decodePayload(frame.subarray(LENGTH_PREFIX_SIZE))).toEqual(e);
      }),
      { numRuns: 1500 },
    );
  });

  it("covers every message type", () => {
    const seen = new Set(fc.sample(message, 500).map((m) => m.type));
    expect([...seen].sort()).toEqual(Object.keys(MESSAGE_TYPE_CODES).sort());
  });

  it("carries a full 1 MiB chunk zero-copy, with one frame of overhead", () => {
    const chunk = new Uint8Array(CHUNK_SIZE);
    for (let i = 0; i < chunk.length; i += 4096) chunk[i] = i & 0xff;
    const e = sampleEnvelope({ type: "store", storeId: "5F".padEnd(48, "x"), chunkIndex: 9, data: chunk });
    const frame = encodeFrame(e);
    expect(frame.length).toBeLessThanOrEqual(LENGTH_PREFIX_SIZE + MAX_FRAME_SIZE);
    expect(frame.length).toBe(LENGTH_PREFIX_SIZE + ENVELOPE_HEADER_SIZE + 2 + 48 + 4 + 4 + CHUNK_SIZE);
    const decoded = decodeFrame(frame);
    if (decoded.body.type !== "store") throw new Error("wrong type");
    expect(sameBytes(decoded.body.data, chunk)).toBe(true);
    expect(decoded.body.data.buffer).toBe(frame.buffer);
    expect({ ...decoded, body: { ...decoded.body, data: null } }).toEqual({
      ...e,
      body: { ...e.body, data: null },
    });
    expect(sameBytes(encodeFrame(decoded), frame)).toBe(true);
  });

  it("round-trips edge sizes: empty arrays, empty strings, longest strings", () => {
    const bodies: Message[] = [
      {
        type: "challenge",
        challenge: { storeId: "s", chunks: [], nonce: new Uint8Array(NONCE_LENGTH), deadline: 0 },
      },
      {
        type: "challenge",
        challenge: {
          storeId: "s",
          chunks: [{ chunkIndex: 0, leafIndices: [] }],
          nonce: new Uint8Array(NONCE_LENGTH),
          deadline: Number.MAX_SAFE_INTEGER,
        },
      },
      {
        type: "proof",
        response: { nonce: new Uint8Array(NONCE_LENGTH), chunks: [], binding: new Uint8Array(HASH_LENGTH) },
      },
      {
        type: "proof",
        response: {
          nonce: new Uint8Array(NONCE_LENGTH),
          chunks: [{ chunkIndex: 1, leaves: [], proof: { leafCount: 0, indices: [], siblings: [] } }],
          binding: new Uint8Array(HASH_LENGTH),
        },
      },
      { type: "evictions-reply", storeId: "é".repeat(MAX_STORE_ID_LENGTH / 2), evicted: [], nextSeq: 0 },
      { type: "error", code: ErrorCode.Internal, message: "" },
      { type: "error", code: ErrorCode.BadRequest, message: `${"€".repeat(MAX_ERROR_MESSAGE_LENGTH / 4)}😀` },
      { type: "store", storeId: "\uFEFFbom", chunkIndex: 0xffffffff, data: new Uint8Array(0) },
    ];
    for (const body of bodies) {
      const e = sampleEnvelope(body);
      expect(decodeFrame(encodeFrame(e))).toEqual(e);
    }
  });
});

describe("codec rejects bad input", () => {
  it("turns 100 000 random and mutated frames into an envelope or a CodecError, nothing else", () => {
    const random = prng(0x5eed);
    const int = (n: number) => Math.floor(random() * n);
    const randomBytes = (n: number) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = int(256);
      return out;
    };
    const corpus = fc.sample(envelope, { numRuns: 300, seed: 7 }).map((e) => encodeFrame(e));
    const concat = (a: Uint8Array, b: Uint8Array) => {
      const out = new Uint8Array(a.length + b.length);
      out.set(a);
      out.set(b, a.length);
      return out;
    };

    const mutate = (): Uint8Array => {
      const base = corpus[int(corpus.length)] as Uint8Array;
      const frame = base.slice();
      const view = new DataView(frame.buffer);
      switch (int(8)) {
        case 0:
          return randomBytes(int(400));
        case 1: {
          // Random payload behind a correct length prefix.
          const out = randomBytes(4 + int(400));
          new DataView(out.buffer).setUint32(0, out.length - 4);
          if (random() < 0.5) out[4] = PROTOCOL_VERSION;
          return out;
        }
        case 2: {
          const flips = 1 + int(8);
          for (let i = 0; i < flips; i++) {
            const at = int(frame.length);
            frame[at] = (frame[at] as number) ^ (1 << int(8));
          }
          return frame;
        }
        case 3:
          return frame.subarray(0, int(frame.length));
        case 4:
          return concat(frame, randomBytes(1 + int(64)));
        case 5: {
          // A length prefix that no longer matches, and an extension or truncation to match it.
          const delta = int(64) - 32;
          const length = Math.max(0, frame.length - 4 + delta);
          view.setUint32(0, random() < 0.2 ? int(2 ** 32) : length);
          if (random() < 0.5) {
            const out = new Uint8Array(4 + length);
            out.set(frame.subarray(0, Math.min(frame.length, out.length)));
            return out;
          }
          return frame;
        }
        case 6: {
          // Same framing, a different type byte or an out-of-range count/length somewhere in the body.
          if (random() < 0.5) frame[5] = int(16);
          else if (frame.length > 4 + ENVELOPE_HEADER_SIZE + 4) {
            view.setUint32(
              4 + ENVELOPE_HEADER_SIZE + int(frame.length - ENVELOPE_HEADER_SIZE - 8),
              int(2 ** 32),
            );
          }
          return frame;
        }
        default: {
          // Overwrite a random span with random bytes.
          const at = int(frame.length);
          frame.set(randomBytes(Math.min(frame.length - at, 1 + int(16))), at);
          return frame;
        }
      }
    };

    let decoded = 0;
    const codes = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const input = mutate();
      let result: Envelope | undefined;
      try {
        result = decodeFrame(input);
      } catch (error) {
        if (!(error instanceof CodecError))
          throw new Error(`iteration ${i}: ${String(error)}`, { cause: error });
        // Every rejection is deliberate: none wraps an unexpected exception (RangeError, TypeError, …).
        if (error.cause !== undefined) throw new Error(`iteration ${i}: wrapped ${String(error.cause)}`);
        codes.add(error.code);
        continue;
      }
      decoded++;
      // Whatever decodes is a valid envelope: it re-encodes to exactly the same bytes.
      if (!sameBytes(encodeFrame(result), input)) throw new Error(`iteration ${i}: not canonical`);
    }
    expect(decoded).toBeGreaterThan(1000);
    expect([...codes].sort()).toEqual(
      ["bad-version", "invalid-field", "too-large", "trailing-bytes", "truncated", "unknown-type"].sort(),
    );
  });

  it("streams mutated bytes through FrameDecoder with the same guarantee", () => {
    fc.assert(
      fc.property(
        fc.array(envelope, { minLength: 1, maxLength: 4 }),
        fc.uint8Array(),
        fc.nat(),
        (es, noise, cut) => {
          const frames = es.map((e) => encodeFrame(e));
          const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0) + noise.length);
          let at = 0;
          for (const f of frames) {
            stream.set(f, at);
            at += f.length;
          }
          stream.set(noise, at);
          const decoder = new FrameDecoder();
          const split = cut % (stream.length + 1);
          try {
            decoder.push(stream.subarray(0, split));
            decoder.push(stream.subarray(split));
            decoder.end();
          } catch (error) {
            expect(error).toBeInstanceOf(CodecError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("rejects a frame of another protocol version", () => {
    const e = {
      ...sampleEnvelope({ type: "retrieve", storeId: "s", chunkIndex: 1 }),
      version: PROTOCOL_VERSION + 1,
    };
    const error = codecErrorOf(() => decodeFrame(encodeFrame(e)));
    expect(error.code).toBe("bad-version");
    expect(error.name).toBe("CodecError");
  });

  it("enforces the frame limit on decode and encode, configurable per decoder", () => {
    const frame = encodeFrame(
      sampleEnvelope({ type: "store", storeId: "s", chunkIndex: 0, data: new Uint8Array(1000) }),
    );
    expect(codecErrorOf(() => decodeFrame(frame, { maxFrameSize: 1000 })).code).toBe("too-large");
    expect(decodeFrame(frame, { maxFrameSize: frame.length - 4 }).body.type).toBe("store");
    const huge = oversizedStore();
    expect(codecErrorOf(() => encodeFrame(huge)).code).toBe("too-large");
  });

  it("encodes a large chunk's frame as its front and the data itself, the same bytes as one frame", () => {
    const data = new Uint8Array(SEPARATE_DATA_BYTES + 7).map((_, i) => i % 251);
    for (const type of ["store", "retrieve-reply"] as const) {
      const e = sampleEnvelope({ type, storeId: "s", chunkIndex: 9, data });
      const parts = encodeFrameParts(e);
      expect(parts).toHaveLength(2);
      expect(parts[1]).toBe(data);
      expect(Buffer.concat(parts).equals(Buffer.from(encodeFrame(e)))).toBe(true);
    }
    const small = sampleEnvelope({ type: "store", storeId: "s", chunkIndex: 0, data: new Uint8Array(10) });
    expect(encodeFrameParts(small)).toEqual([encodeFrame(small)]);
    const huge = oversizedStore();
    expect(codecErrorOf(() => encodeFrameParts(huge)).code).toBe("too-large");
    expect(
      codecErrorOf(() =>
        encodeFrameParts(sampleEnvelope({ type: "store", storeId: "s", chunkIndex: 0, data }), {
          maxFrameSize: SEPARATE_DATA_BYTES,
        }),
      ).code,
    ).toBe("too-large");
  });

  it("signs a large chunk's body as its encoding, hashed without a copy", () => {
    const data = new Uint8Array(SEPARATE_DATA_BYTES + 3).map((_, i) => (i * 7) % 256);
    const e = sampleEnvelope({ type: "store", storeId: "s", chunkIndex: 4, data });
    const frame = encodeFrame(e);
    const body = frame.subarray(LENGTH_PREFIX_SIZE + ENVELOPE_HEADER_SIZE);
    expect(Buffer.from(signingPayload(e)).equals(Buffer.from(signingPayload(e, body)))).toBe(true);
  });

  it("names each kind of malformed field", () => {
    const ok = sampleEnvelope({ type: "evictions-reply", storeId: "s", evicted: [1, 2], nextSeq: 3 });
    const frame = encodeFrame(ok);
    const bodyAt = LENGTH_PREFIX_SIZE + ENVELOPE_HEADER_SIZE;
    const withEvicted = (a: number, b: number) => {
      const f = frame.slice();
      const view = new DataView(f.buffer);
      view.setUint32(bodyAt + 3 + 4, a);
      view.setUint32(bodyAt + 3 + 8, b);
      return f;
    };
    expect(decodeFrame(withEvicted(1, 2)).body).toEqual(ok.body);
    expect(codecErrorOf(() => decodeFrame(withEvicted(2, 2))).code).toBe("invalid-field");
    expect(codecErrorOf(() => decodeFrame(withEvicted(3, 2))).code).toBe("invalid-field");

    const unsafe = frame.slice();
    unsafe[unsafe.length - 8] = 0x00;
    unsafe[unsafe.length - 7] = 0x20; // 2^53
    expect(codecErrorOf(() => decodeFrame(unsafe)).code).toBe("invalid-field");

    const badUtf8 = frame.slice();
    badUtf8[bodyAt + 2] = 0xff;
    expect(codecErrorOf(() => decodeFrame(badUtf8)).code).toBe("invalid-field");

    const hugeCount = frame.slice();
    new DataView(hugeCount.buffer).setUint32(bodyAt + 3, 0xffffffff);
    expect(codecErrorOf(() => decodeFrame(hugeCount)).code).toBe("truncated");

    const unknown = frame.slice();
    unknown[LENGTH_PREFIX_SIZE + 1] = 200;
    expect(codecErrorOf(() => decodeFrame(unknown)).code).toBe("unknown-type");

    expect(codecErrorOf(() => decodeFrame(frame.subarray(0, frame.length - 1))).code).toBe("truncated");
    expect(codecErrorOf(() => decodeFrame(new Uint8Array([...frame, 0]))).code).toBe("trailing-bytes");
    const padded = new Uint8Array([...frame, 0]);
    new DataView(padded.buffer).setUint32(0, frame.length - 3);
    expect(codecErrorOf(() => decodeFrame(padded)).code).toBe("trailing-bytes");
  });

  it("refuses to encode out-of-range fields", () => {
    const bad: Envelope[] = [
      sampleEnvelope({ type: "store-ack", storeId: "s", chunkIndex: 0, root: new Uint8Array(31) }),
      sampleEnvelope({ type: "retrieve", storeId: "s", chunkIndex: 2 ** 32 }),
      sampleEnvelope({ type: "retrieve", storeId: "", chunkIndex: 0 }),
      sampleEnvelope({ type: "retrieve", storeId: "\uD800", chunkIndex: 0 }),
      sampleEnvelope({ type: "retrieve", storeId: "x".repeat(MAX_STORE_ID_LENGTH + 1), chunkIndex: 0 }),
      sampleEnvelope({ type: "evictions-reply", storeId: "s", evicted: [3, 1], nextSeq: 0 }),
      sampleEnvelope({ type: "evictions", storeId: "s", sinceSeq: 2 ** 53 }),
      sampleEnvelope({ type: "error", code: 999 as ErrorCode, message: "" }),
      { ...sampleEnvelope({ type: "retrieve", storeId: "s", chunkIndex: 0 }), nonce: new Uint8Array(32) },
      sampleEnvelope({
        type: "proof",
        response: {
          nonce: new Uint8Array(NONCE_LENGTH),
          binding: new Uint8Array(HASH_LENGTH),
          chunks: [{ chunkIndex: 0, leaves: [], proof: { leafCount: 4, indices: [1], siblings: [] } }],
        },
      }),
      sampleEnvelope({
        type: "proof",
        response: {
          nonce: new Uint8Array(NONCE_LENGTH),
          binding: new Uint8Array(HASH_LENGTH),
          chunks: [
            {
              chunkIndex: 0,
              leaves: [new Uint8Array(1)],
              proof: { leafCount: 4, indices: [4], siblings: [] },
            },
          ],
        },
      }),
      {
        ...sampleEnvelope({ type: "retrieve", storeId: "s", chunkIndex: 0 }),
        body: { type: "nope" } as never,
      },
      sampleEnvelope({
        type: "hello",
        role: "toString" as never,
        protocolVersion: 1,
        softwareVersion: "",
        chunkSize: 1024,
        leafSize: 1024,
        capacity: null,
        nonce: new Uint8Array(HELLO_NONCE_LENGTH),
        proof: null,
      }),
      sampleEnvelope({
        type: "hello",
        role: "miner",
        protocolVersion: 1,
        softwareVersion: "",
        chunkSize: 1024,
        leafSize: 2048,
        capacity: null,
        nonce: new Uint8Array(HELLO_NONCE_LENGTH),
        proof: null,
      }),
      { ...sampleEnvelope({ type: "retrieve", storeId: "s", chunkIndex: 0 }), body: null as never },
      sampleEnvelope({ type: "challenge", challenge: { chunks: [null] } as never }),
    ];
    for (const e of bad) {
      const error = codecErrorOf(() => encodeFrame(e));
      expect(["invalid-field", "unknown-type"]).toContain(error.code);
    }
  });
});

/** A store whose chunk alone fills the frame limit, so its frame is past it. */
function oversizedStore(): Envelope {
  return sampleEnvelope({ type: "store", storeId: "s", chunkIndex: 0, data: new Uint8Array(MAX_FRAME_SIZE) });
}

/** The frames of `es`, encoded back to back as one stream would carry them. */
function framesBackToBack(es: readonly Envelope[]): Uint8Array {
  const frames = es.map((e) => encodeFrame(e));
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    stream.set(f, at);
    at += f.length;
  }
  return stream;
}

describe("FrameDecoder", () => {
  it("reassembles frames however the stream is split", () => {
    fc.assert(
      fc.property(
        fc.array(envelope, { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }),
        (es, sizes) => {
          const stream = framesBackToBack(es);
          const decoder = new FrameDecoder();
          const out: Envelope[] = [];
          let pos = 0;
          for (let i = 0; pos < stream.length; i++) {
            const size = sizes[i % sizes.length] as number;
            out.push(...decoder.push(stream.subarray(pos, pos + size)));
            pos += size;
          }
          decoder.end();
          expect(out).toEqual(es);
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("takes one frame at a time with pushFrame, carrying the bytes after it to the next decoder", () => {
    fc.assert(
      fc.property(
        fc.array(envelope, { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }),
        (es, sizes) => {
          const stream = framesBackToBack(es);
          const out: Envelope[] = [];
          let decoder = new FrameDecoder();
          let carried: Uint8Array[] = [];
          let pos = 0;
          for (let i = 0; pos < stream.length || carried.length > 0; i++) {
            const size = sizes[i % sizes.length] as number;
            const pieces = carried.length > 0 ? carried : [stream.subarray(pos, pos + size)];
            if (carried.length === 0) pos += size;
            carried = [];
            for (let j = 0; j < pieces.length; j++) {
              const frame = decoder.pushFrame(pieces[j] as Uint8Array);
              if (frame === undefined) continue;
              out.push(frame.envelope);
              carried = [...decoder.takeBuffered(), ...pieces.slice(j + 1)];
              decoder = new FrameDecoder();
              break;
            }
          }
          decoder.end();
          expect(out).toEqual(es);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses to carry over a frame whose length prefix it has read", () => {
    const frame = encodeFrame(createEnvelope({ type: "evictions", storeId: "s", sinceSeq: 0 }));
    const decoder = new FrameDecoder();
    expect(decoder.pushFrame(frame.subarray(0, frame.length - 1))).toBeUndefined();
    expect(() => decoder.takeBuffered()).toThrow(CodecError);
  });

  it("rejects an oversize length prefix before any of the body arrives", () => {
    const decoder = new FrameDecoder({ maxFrameSize: 4096 });
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setUint32(0, 4097);
    expect(decoder.push(prefix.subarray(0, 3))).toEqual([]);
    const error = codecErrorOf(() => decoder.push(prefix.subarray(3)));
    expect(error.code).toBe("too-large");
    // The stream is dead from then on.
    expect(codecErrorOf(() => decoder.push(new Uint8Array(10))).code).toBe("too-large");

    const defaults = new FrameDecoder();
    new DataView(prefix.buffer).setUint32(0, 0xffffffff);
    expect(codecErrorOf(() => defaults.push(prefix)).code).toBe("too-large");
    expect(defaults.bufferedBytes).toBe(0);
  });

  it("reports a stream that ends inside a frame", () => {
    const frame = encodeFrame(sampleEnvelope({ type: "retrieve", storeId: "s", chunkIndex: 1 }));
    const decoder = new FrameDecoder();
    expect(decoder.push(frame.subarray(0, 10))).toEqual([]);
    expect(codecErrorOf(() => decoder.end()).code).toBe("truncated");
  });

  it("decodes a frame inside one chunk in place, and copies one that spans chunks", () => {
    const e = sampleEnvelope({
      type: "retrieve-reply",
      storeId: "s",
      chunkIndex: 1,
      data: new Uint8Array(100),
    });
    const frame = encodeFrame(e);
    const [whole] = new FrameDecoder().push(frame);
    if (whole?.body.type !== "retrieve-reply") throw new Error("wrong type");
    expect(whole.body.data.buffer).toBe(frame.buffer);

    const decoder = new FrameDecoder();
    expect(decoder.push(frame.subarray(0, 50))).toEqual([]);
    const [split] = decoder.push(frame.subarray(50));
    expect(split).toEqual(e);
    if (split?.body.type !== "retrieve-reply") throw new Error("wrong type");
    expect(split.body.data.buffer).not.toBe(frame.buffer);
  });
});

describe("signingPayload", () => {
  const base = sampleEnvelope({
    type: "challenge",
    challenge: {
      storeId: "5Grw",
      chunks: [{ chunkIndex: 3, leafIndices: [1, 5] }],
      nonce: new Uint8Array(NONCE_LENGTH).fill(9),
      deadline: 1_700_000_060_000,
    },
  });

  it("is the domain tag, the header without the signature, then the SHA-256 of the body", () => {
    const frame = encodeFrame(base);
    const payload = signingPayload(base);
    const tag = new TextEncoder().encode(SIGNING_DOMAIN);
    const sigAt = LENGTH_PREFIX_SIZE + ENVELOPE_HEADER_SIZE - SIGNATURE_LENGTH;
    const body = frame.subarray(sigAt + SIGNATURE_LENGTH);
    expect(payload).toEqual(
      new Uint8Array([
        ...tag,
        ...frame.subarray(LENGTH_PREFIX_SIZE, sigAt),
        ...createHash("sha256").update(body).digest(),
      ]),
    );
    // A verifier computing it from the decoded envelope gets the same bytes.
    expect(signingPayload(decodeFrame(frame))).toEqual(payload);
  });

  it("changes when any signed field changes, and only then", () => {
    const payload = signingPayload(base);
    const flip = (b: Uint8Array) => {
      const c = b.slice();
      c[0] = (c[0] as number) ^ 1;
      return c;
    };
    const challenge = base.body.challenge;
    const variants: Envelope[] = [
      { ...base, version: PROTOCOL_VERSION + 1 },
      { ...base, requestId: 43 },
      { ...base, sender: flip(base.sender) },
      { ...base, recipient: flip(base.recipient) },
      { ...base, timestamp: base.timestamp + 1 },
      { ...base, nonce: flip(base.nonce) },
      { ...base, body: { ...base.body, type: "challenge", challenge: { ...challenge, storeId: "5Grx" } } },
      { ...base, body: { type: "challenge", challenge: { ...challenge, nonce: flip(challenge.nonce) } } },
      { ...base, body: { type: "challenge", challenge: { ...challenge, deadline: challenge.deadline + 1 } } },
      {
        ...base,
        body: {
          type: "challenge",
          challenge: { ...challenge, chunks: [{ chunkIndex: 3, leafIndices: [1, 6] }] },
        },
      },
      { ...base, body: { type: "retrieve", storeId: "5Grw", chunkIndex: 3 } },
    ];
    for (const v of variants) expect(signingPayload(v)).not.toEqual(payload);
    expect(signingPayload({ ...base, signature: flip(base.signature) })).toEqual(payload);
  });

  it("a decoder hands over each body's bytes, and the payload over them is the same", () => {
    fc.assert(
      fc.property(envelope, (e) => {
        const frame = encodeFrame(e);
        const [decoded] = new FrameDecoder().pushFrames(frame);
        const header = isUnsignedEnvelope(e) ? UNSIGNED_HEADER_SIZE : ENVELOPE_HEADER_SIZE;
        expect(decoded?.body).toEqual(frame.subarray(LENGTH_PREFIX_SIZE + header));
        expect(decoded?.body.buffer).toBe(frame.buffer);
        expect(signingPayload(e, decoded?.body)).toEqual(signingPayload(e));
      }),
      { numRuns: 300 },
    );
  });
});

describe("protocol version 3", () => {
  const challenge = {
    storeId: "s",
    chunks: [{ chunkIndex: 3, leafIndices: [0, 1] }],
    nonce: new Uint8Array(NONCE_LENGTH).fill(9),
    deadline: 1_000,
  };

  it("carries a challenge's evictionsSince, and its absence as one zero byte", () => {
    const asking = encodeFrame(sampleEnvelope({ type: "challenge", challenge, evictionsSince: 42 }));
    expect(decodeFrame(asking).body).toEqual({ type: "challenge", challenge, evictionsSince: 42 });
    const plain = encodeFrame(sampleEnvelope({ type: "challenge", challenge }));
    const decoded = decodeFrame(plain).body;
    expect(decoded.type === "challenge" && decoded.evictionsSince).toBeUndefined();
    expect(plain.at(-1)).toBe(0);
    expect(asking.length - plain.length).toBe(8);
  });

  it("refuses a version-2 frame as bad-version", () => {
    const frame = encodeFrame(sampleEnvelope({ type: "challenge", challenge }));
    frame[LENGTH_PREFIX_SIZE] = 2;
    expect(codecErrorOf(() => decodeFrame(frame)).code).toBe("bad-version");
  });
});

describe("protocol version 2", () => {
  it("puts the recipient after the sender in the authentication block", () => {
    const e = sampleEnvelope({ type: "retrieve", storeId: "s", chunkIndex: 1 });
    const frame = encodeFrame(e);
    const at = LENGTH_PREFIX_SIZE + 7;
    expect(frame[LENGTH_PREFIX_SIZE]).toBe(PROTOCOL_VERSION);
    expect(frame.subarray(at, at + PUBLIC_KEY_LENGTH)).toEqual(e.sender);
    expect(frame.subarray(at + PUBLIC_KEY_LENGTH, at + 2 * PUBLIC_KEY_LENGTH)).toEqual(e.recipient);
    expect(ENVELOPE_HEADER_SIZE).toBe(7 + 32 + 32 + 8 + 16 + 64);
    expect(decodeFrame(frame).recipient).toEqual(e.recipient);
  });

  it("refuses a version-1 frame (no recipient) as bad-version", () => {
    const frame = encodeFrame(sampleEnvelope({ type: "retrieve", storeId: "s", chunkIndex: 1 }));
    frame[LENGTH_PREFIX_SIZE] = 1;
    expect(codecErrorOf(() => decodeFrame(frame)).code).toBe("bad-version");
  });

  it("refuses a challenge that names a chunk twice or out of order", () => {
    const challenge = (chunkIndices: number[]) =>
      sampleEnvelope({
        type: "challenge",
        challenge: {
          storeId: "s",
          chunks: chunkIndices.map((chunkIndex) => ({ chunkIndex, leafIndices: [0] })),
          nonce: new Uint8Array(NONCE_LENGTH),
          deadline: 1,
        },
      });
    expect(decodeFrame(encodeFrame(challenge([1, 2, 5]))).body.type).toBe("challenge");
    for (const bad of [[3, 3], [5, 2], Array.from({ length: 64 }, () => 7)]) {
      expect(codecErrorOf(() => encodeFrame(challenge(bad))).code).toBe("invalid-field");
      // The same bytes built by hand (a hostile sender) are refused by the decoder.
      const good = bad.map((_, i) => 10 * i);
      const frame = encodeFrame(challenge(good));
      // Body: store id "s" (2 + 1), nonce, deadline, the chunk count; each chunk is 12 bytes.
      const chunksAt = LENGTH_PREFIX_SIZE + ENVELOPE_HEADER_SIZE + 2 + 1 + NONCE_LENGTH + 8 + 4;
      const view = new DataView(frame.buffer);
      good.forEach((index, i) => {
        expect(view.getUint32(chunksAt + i * 12)).toBe(index);
      });
      bad.forEach((index, i) => {
        view.setUint32(chunksAt + i * 12, index);
      });
      expect(codecErrorOf(() => decodeFrame(frame)).code).toBe("invalid-field");
    }
  });
});

describe("unsigned responses", () => {
  it("omit the authentication block, round-trip, and keep a one-leaf proof under 1.5 KB", async () => {
    const { answerChallenge, createChallenge } = await import("../protocol/challenge.js");
    const chunk = new Uint8Array(CHUNK_SIZE).map((_, i) => (i * 31) & 0xff);
    const challenge = createChallenge({
      storeId: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
      chunkCount: 1,
      leafCount: 1024,
      chunksPerChallenge: 1,
      leavesPerChunk: 1,
      nonce: new Uint8Array(NONCE_LENGTH).fill(7),
      now: 1_700_000_000_000,
      ttlMs: 10_000,
    });
    const response = answerChallenge(challenge, () => chunk);
    const envelope = createEnvelope({ type: "proof", response }, { requestId: 42 });
    const frame = encodeFrame(envelope);
    expect(frame.length).toBe(encodedFrameLength(envelope));
    expect(frame.length).toBeLessThan(1536);
    expect(frame[6]).toBe(0);
    expect(decodeFrame(frame)).toEqual(envelope);
  });

  it("refuses a present but empty authentication block (one encoding per envelope)", () => {
    const unsigned = encodeFrame(createEnvelope({ type: "retrieve", storeId: "s", chunkIndex: 1 }));
    const forged = new Uint8Array(unsigned.length + 120);
    forged.set(unsigned.subarray(0, 11));
    forged.set(unsigned.subarray(11), 131);
    new DataView(forged.buffer).setUint32(0, forged.length - 4);
    forged[6] = 1;
    expect(() => decodeFrame(forged)).toThrow(CodecError);
  });
});
