/**
 * The libp2p side shared by miner and validator: a host on TCP with noise and yamux, a persistent
 * Ed25519 identity, and the storage protocol's exchange: a request frame, then its response frame
 * (protocol/codec.ts frames, read with a hard size limit), one exchange per stream
 * (STORAGE_PROTOCOL, {@link request}) or several in turn (STORAGE_SESSION_PROTOCOL, ./stream-pool.ts).
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type {
  Libp2p,
  PeerId,
  PrivateKey,
  Stream,
  StreamCloseEvent,
  StreamMessageEvent,
} from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import type { Multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { type DecodedFrame, encodeFrameParts, FrameDecoder } from "../../protocol/codec.js";
import { CodecError } from "../../protocol/codec-errors.js";
import { MAX_FRAME_SIZE } from "../../protocol/constants.js";
import { type FrameHeader, MAX_FRAME_HEADER_SIZE, peekFrameHeader } from "../../protocol/frame-header.js";
import type { Envelope } from "../../protocol/messages.js";
import { NodeError } from "../errors.js";
import { type Admission, DEFAULT_ADMISSION_LIMITS } from "./admission.js";

/** The storage protocol's id: one request frame and one response frame per stream. */
export const STORAGE_PROTOCOL = "/storage-subnet/1.0.0";

/**
 * The same frames, several exchanges per stream: the requester sends a request frame, reads its
 * response frame, and may then send the next request on the same stream; either side closes the
 * stream when it is done with it. A node serving both lets a requester skip opening a stream
 * (yamux, multistream-select, libp2p's per-stream bookkeeping) for every request; a requester
 * that offers both falls back to {@link STORAGE_PROTOCOL} with a node that serves only that.
 */
export const STORAGE_SESSION_PROTOCOL = "/storage-subnet/session/1.0.0";

/** Name of the identity file beside a miner's stores. */
export const PEER_KEY_FILE = "libp2p.key";

/** A peer key file exists but cannot be used. */
export class PeerKeyError extends NodeError {
  override name = "PeerKeyError";
  constructor(
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A request got no (complete) response: the stream closed, reset or timed out first. */
export class RequestFailedError extends NodeError {
  override name = "RequestFailedError";
}

/** A read or request ran past its AbortSignal. */
export class RequestAbortedError extends NodeError {
  override name = "RequestAbortedError";
}

/**
 * Loads the Ed25519 identity from `file` (libp2p protobuf encoding), or creates one and writes it
 * with mode 0600 (through a temporary file and a rename, so a crash never leaves half a key).
 *
 * @example const key = await loadOrCreatePeerKey(join(layout.dir, PEER_KEY_FILE));
 */
export async function loadOrCreatePeerKey(file: string): Promise<PrivateKey> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new PeerKeyError(`cannot read the libp2p identity ${file}`, file, { cause });
    }
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes);
    } catch (cause) {
      throw new PeerKeyError(
        `${file} is not a libp2p private key; move it away to create a new identity (the peer id changes)`,
        file,
        { cause },
      );
    }
  }
  const key = await generateKeyPair("Ed25519");
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600, flag: "wx" });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (cause) {
    await rm(tmp, { force: true });
    throw new PeerKeyError(`cannot write the libp2p identity ${file}`, file, { cause });
  }
  return key;
}

export interface P2PNodeInit {
  privateKey?: PrivateKey;
  /** Listen address and TCP port (0 picks a free one). Default 127.0.0.1:0. */
  listen?: { ip: string; port: number };
  /**
   * Who may connect (neurons/p2p/admission.ts): its gater, caps and handshake deadline replace
   * the three options below. A serving node (the miner) has one.
   */
  admission?: Admission;
  /** Open connections at most, without `admission`. Default 300. */
  maxConnections?: number;
  /**
   * Inbound connection attempts per second accepted from one host, without `admission`.
   * libp2p's default (5) is too low when a simulator's many validators share one address.
   */
  inboundConnectionThreshold?: number;
  /** Connections mid-upgrade at once, without `admission`. Default 64. */
  maxIncomingPendingConnections?: number;
  /** Refuses inbound connections from these peers (checked once the peer id is known). */
  denyPeer?: (peerId: string) => boolean;
}

/**
 * `/ip4/<ip>/tcp/<port>`, or `/ip6/…` for an IPv6 literal (one with a colon, unless `ipVersion`
 * says which).
 *
 * @example tcpMultiaddrText("10.0.0.5", 8091) // "/ip4/10.0.0.5/tcp/8091"
 */
export function tcpMultiaddrText(
  ip: string,
  port: number,
  ipVersion: 4 | 6 = ip.includes(":") ? 6 : 4,
): string {
  return `/${ipVersion === 6 ? "ip6" : "ip4"}/${ip}/tcp/${port}`;
}

/**
 * Creates and starts a libp2p host (TCP, noise, yamux), no other services.
 *
 * @example
 * const node = await createP2PNode({ privateKey, listen: { ip: "0.0.0.0", port: 8091 } });
 * node.getMultiaddrs(); // [/ip4/192.168.1.5/tcp/8091/p2p/12D3…, …]
 */
export async function createP2PNode(init: P2PNodeInit = {}): Promise<Libp2p> {
  const listen = init.listen ?? { ip: "127.0.0.1", port: 0 };
  const { admission, denyPeer } = init;
  const gater = admission?.gater;
  const limits = admission?.limits;
  return createLibp2p({
    ...(init.privateKey ? { privateKey: init.privateKey } : {}),
    addresses: { listen: [tcpMultiaddrText(listen.ip, listen.port)] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(gater || denyPeer
      ? {
          connectionGater: {
            ...gater,
            denyInboundEncryptedConnection: async (peerId: PeerId, maConn) =>
              (denyPeer?.(peerId.toString()) ?? false) ||
              ((await gater?.denyInboundEncryptedConnection?.(peerId, maConn)) ?? false),
          },
        }
      : {}),
    connectionManager: limits
      ? {
          // The admission's gater enforces the finer caps (per IP, validators' reserved share);
          // libp2p's own counters only need room for both shares.
          maxConnections: limits.maxConnections + limits.reservedConnections,
          maxIncomingPendingConnections: limits.maxPending + limits.reservedPending,
          inboundConnectionThreshold: limits.connectionsPerIpPerSecond,
          inboundUpgradeTimeout: limits.handshakeTimeoutMs,
        }
      : {
          maxConnections: init.maxConnections ?? 300,
          inboundConnectionThreshold: init.inboundConnectionThreshold ?? 1_000,
          maxIncomingPendingConnections: init.maxIncomingPendingConnections ?? 64,
          inboundUpgradeTimeout: DEFAULT_ADMISSION_LIMITS.handshakeTimeoutMs,
        },
  });
}

export interface ReadFrameOptions {
  /** Largest payload accepted. Default MAX_FRAME_SIZE. */
  maxFrameSize?: number;
  signal?: AbortSignal;
  /**
   * Judges the frame from its front (protocol/frame-header.ts) before any of its body is
   * buffered: a throw refuses it (the error propagates, the stream is left to the caller). Return
   * true to let the body take until `signal`; otherwise `headerSignal` bounds the whole frame.
   */
  onHeader?: (header: FrameHeader) => boolean | undefined;
  /** Aborts the read when the frame's front (or, unless `onHeader` returns true, all of it) is late. */
  headerSignal?: AbortSignal;
}

/**
 * Reads one frame from a stream. Returns undefined when the stream ends before any byte; throws
 * CodecError for malformed or oversize input (refused as soon as the length prefix arrives),
 * RequestAbortedError when `signal` fires (the stream is aborted), or the stream's own error.
 */
export async function readFrame(
  stream: Stream,
  options: ReadFrameOptions = {},
): Promise<Envelope | undefined> {
  return (await readDecodedFrame(stream, options))?.envelope;
}

/** {@link readFrame}, with the envelope's encoded body (for a signature check without re-encoding). */
export async function readDecodedFrame(
  stream: Stream,
  options: ReadFrameOptions = {},
): Promise<DecodedFrame | undefined> {
  return new FrameReader(stream).read(options);
}

/**
 * Reads the frames of one stream in turn, for a stream that carries several requests (the
 * session protocol): bytes that arrived after a frame are kept for the next read, which judges
 * them afresh (its own size limit, header check and deadlines). Bytes are taken from the stream
 * only while a read is under way; between reads they wait in the stream's own buffer, which
 * libp2p bounds (`maxReadBufferLength`, 4 MiB: past it the stream is reset).
 *
 * @example
 * const reader = new FrameReader(stream);
 * while (await reader.waitForData(AbortSignal.timeout(60_000))) {
 *   const frame = await reader.read({ signal: AbortSignal.timeout(30_000) });
 * }
 */
export class FrameReader {
  readonly #stream: Stream;
  /** Bytes past the last frame read, the front of the next one. */
  #rest: Uint8Array[] = [];

  constructor(stream: Stream) {
    this.#stream = stream;
  }

  /** Bytes read from the stream but not yet part of a frame. */
  get bufferedBytes(): number {
    let total = 0;
    for (const piece of this.#rest) total += piece.length;
    return total;
  }

  /**
   * Waits until a byte of the next frame is there: true then, false when the stream ends or
   * closes first, or when `idle` fires first (the stream is left as it is, for the caller to close).
   */
  waitForData(idle: AbortSignal): Promise<boolean> {
    const stream = this.#stream;
    if (this.#rest.length > 0) return Promise.resolve(true);
    if (idle.aborted || stream.readableEnded) {
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const settle = (value: boolean) => {
        stream.removeEventListener("message", onMessage);
        stream.removeEventListener("end", onEnd);
        stream.removeEventListener("close", onEnd);
        idle.removeEventListener("abort", onEnd);
        resolve(value);
      };
      const onMessage = (event: StreamMessageEvent) => {
        const data = event.data;
        for (const bytes of data instanceof Uint8Array ? [data] : data) {
          if (bytes.length > 0) this.#rest.push(bytes);
        }
        if (this.#rest.length > 0) settle(true);
      };
      const onEnd = () => settle(false);
      stream.addEventListener("message", onMessage);
      stream.addEventListener("end", onEnd);
      stream.addEventListener("close", onEnd);
      idle.addEventListener("abort", onEnd, { once: true });
    });
  }

  /**
   * Reads the next frame ({@link readFrame}'s contract): undefined when the stream ends before
   * any byte of it.
   */
  async read(options: ReadFrameOptions = {}): Promise<DecodedFrame | undefined> {
    const stream = this.#stream;
    const maxFrameSize = options.maxFrameSize ?? MAX_FRAME_SIZE;
    const decoder = new FrameDecoder({ maxFrameSize });
    const { signal, headerSignal, onHeader } = options;
    let headerDeadline = headerSignal !== undefined;
    const aborted = () => signal?.aborted === true || (headerDeadline && headerSignal?.aborted === true);
    if (aborted()) throw new RequestAbortedError("aborted before reading", { cause: signal?.reason });
    // The frame's front, kept until it is whole (at most MAX_FRAME_HEADER_SIZE bytes).
    let front: Uint8Array | undefined = onHeader ? new Uint8Array(0) : undefined;
    /** Feeds one piece; the frame once whole (the bytes after it go back to `#rest`). */
    const take = (bytes: Uint8Array): DecodedFrame | undefined => {
      if (front !== undefined && onHeader !== undefined) {
        const more = bytes.subarray(0, MAX_FRAME_HEADER_SIZE - front.length);
        const joined = new Uint8Array(front.length + more.length);
        joined.set(front);
        joined.set(more, front.length);
        front = joined;
        const header = peekFrameHeader(front, { maxFrameSize });
        if (header !== undefined) {
          front = undefined;
          if (onHeader(header) === true) {
            headerDeadline = false;
            headerSignal?.removeEventListener("abort", onHeaderAbort);
          }
        }
      }
      return decoder.pushFrame(bytes);
    };
    /**
     * Feeds pieces in order until a frame is whole. A list's pieces go to the decoder one by one:
     * it copies a frame that spans pieces once into a buffer of its size, where `subarray()`
     * would concatenate the list first (a second copy of every byte of a 1 MiB chunk).
     */
    const feed = (pieces: Uint8Array[]): DecodedFrame | undefined => {
      for (let i = 0; i < pieces.length; i++) {
        const frame = take(pieces[i] as Uint8Array);
        if (frame !== undefined) {
          const after = decoder.takeBuffered();
          for (let j = i + 1; j < pieces.length; j++) after.push(pieces[j] as Uint8Array);
          this.#rest = after;
          return frame;
        }
      }
      return undefined;
    };
    const onAbort = () => stream.abort(new RequestAbortedError("read aborted", { cause: signal?.reason }));
    const onHeaderAbort = () =>
      stream.abort(
        new RequestAbortedError("the frame's header came too late", { cause: headerSignal?.reason }),
      );
    signal?.addEventListener("abort", onAbort, { once: true });
    headerSignal?.addEventListener("abort", onHeaderAbort, { once: true });
    let detach: (() => void) | undefined;
    try {
      const rest = this.#rest;
      this.#rest = [];
      const early = feed(rest);
      if (early !== undefined) return early;
      return await new Promise<DecodedFrame | undefined>((resolve, reject) => {
        // Listeners come off as soon as the read settles, in the same turn: the stream may
        // dispatch more messages synchronously (a TCP read holding several yamux frames), and
        // those belong to the next read, through the stream's own buffer.
        const settle = (outcome: () => void) => {
          detach?.();
          outcome();
        };
        const ended = () => {
          try {
            if (aborted()) throw new RequestAbortedError("read aborted", { cause: signal?.reason });
            // A stream reset before this read: not a clean end.
            if (stream.status === "reset" || stream.status === "aborted") {
              throw new RequestFailedError("the stream was reset");
            }
            decoder.end();
            settle(() => resolve(undefined));
          } catch (error) {
            settle(() => reject(error));
          }
        };
        const onMessage = (event: StreamMessageEvent) => {
          try {
            const data = event.data;
            const frame = feed(data instanceof Uint8Array ? [data] : [...data]);
            if (frame !== undefined) settle(() => resolve(frame));
          } catch (error) {
            settle(() => reject(error));
          }
        };
        const onClose = (event: StreamCloseEvent) => {
          if (event.error !== undefined) settle(() => reject(event.error));
          else ended();
        };
        // A reset or abort emits 'end' just before the 'close' that carries its error.
        const onEnd = () => {
          if (stream.status !== "reset" && stream.status !== "aborted") ended();
        };
        if (stream.readableEnded) {
          ended();
          return;
        }
        detach = () => {
          stream.removeEventListener("message", onMessage);
          stream.removeEventListener("end", onEnd);
          stream.removeEventListener("close", onClose);
        };
        stream.addEventListener("message", onMessage);
        stream.addEventListener("end", onEnd);
        stream.addEventListener("close", onClose);
      });
    } catch (error) {
      if (aborted()) throw new RequestAbortedError("read aborted", { cause: error });
      throw error;
    } finally {
      detach?.();
      signal?.removeEventListener("abort", onAbort);
      headerSignal?.removeEventListener("abort", onHeaderAbort);
    }
  }
}

/** Sends bytes, waiting for the stream to drain when its buffer is full. */
export async function writeBytes(stream: Stream, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (!stream.send(bytes)) await stream.onDrain(signal ? { signal } : {});
}

/** Sends a frame's parts (protocol/codec.ts `encodeFrameParts`) in order. */
export async function writeParts(
  stream: Stream,
  parts: readonly Uint8Array[],
  signal?: AbortSignal,
): Promise<void> {
  for (const part of parts) await writeBytes(stream, part, signal);
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Largest response payload accepted (and request produced). Default MAX_FRAME_SIZE. */
  maxFrameSize?: number;
}

/**
 * Sends one request envelope on a new stream and returns the response envelope. Dials the peer
 * if needed (a multiaddr with /p2p/<peer id>, or a peer id already known). Throws
 * RequestFailedError when no response arrives, RequestAbortedError on `signal`, CodecError for
 * a malformed response.
 *
 * @example
 * const reply = await request(node, multiaddr(minerAddress), signRequest(hotkey, body), {
 *   signal: AbortSignal.timeout(10_000),
 * });
 */
export async function request(
  node: Libp2p,
  target: Multiaddr | PeerId,
  envelope: Envelope,
  options: RequestOptions = {},
): Promise<Envelope> {
  const { signal } = options;
  const maxFrameSize = options.maxFrameSize ?? MAX_FRAME_SIZE;
  const frame = encodeFrameParts(envelope, { maxFrameSize });
  let stream: Stream;
  try {
    stream = await node.dialProtocol(target, STORAGE_PROTOCOL, signal ? { signal } : {});
  } catch (cause) {
    throw dialFailure(cause, target, signal);
  }
  try {
    await writeParts(stream, frame, signal);
    await stream.close(signal ? { signal } : {});
    const reply = await readFrame(stream, { maxFrameSize, ...(signal ? { signal } : {}) });
    if (reply === undefined) throw new RequestFailedError("the stream closed without a response");
    return reply;
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
    throw requestFailure(error, signal);
  }
}

/** What a failed stream open throws: aborted when `signal` fired, failed otherwise. */
export function dialFailure(cause: unknown, target: Multiaddr | PeerId, signal?: AbortSignal): Error {
  if (signal?.aborted) return new RequestAbortedError("aborted while dialing", { cause });
  return new RequestFailedError(`cannot open a stream to ${target.toString()}`, { cause });
}

/**
 * What a failed exchange throws, as {@link request}'s contract says: RequestAbortedError when
 * `signal` fired, a CodecError or one of ours as it is, RequestFailedError wrapping anything else.
 */
export function requestFailure(error: unknown, signal?: AbortSignal): Error {
  if (signal?.aborted && !(error instanceof RequestAbortedError)) {
    return new RequestAbortedError("request aborted", { cause: error });
  }
  if (error instanceof RequestAbortedError || error instanceof RequestFailedError) return error;
  if (error instanceof CodecError) return error;
  return new RequestFailedError("the request failed", { cause: error });
}
