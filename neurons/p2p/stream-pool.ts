/**
 * Requests over kept streams: the requester's side of STORAGE_SESSION_PROTOCOL. Each request
 * takes an idle stream to its peer (or opens one), sends its frame, reads the response and puts
 * the stream back for the next request, so a validator challenging a miner every round opens one
 * stream per miner instead of one per request (a new stream costs yamux and multistream-select
 * round trips and libp2p's per-stream bookkeeping, most of a small request's CPU).
 *
 * One request at a time per stream; concurrent requests to one peer use more streams, and at most
 * `maxKeptPerPeer` stay open when idle. A stream that fails, times out or is reset fails only its
 * request and is dropped; the next request opens a new one. A kept stream the peer closed before
 * reading the request (its idle close, or its bound on kept streams) carries the request again on
 * a new stream: the peer answers or resets every request it read, so nothing was served twice.
 * A peer that offers only STORAGE_PROTOCOL gets one request per stream, as {@link request} sends.
 */
import type { Libp2p, PeerId, Stream } from "@libp2p/interface";
import { encodeFrameParts } from "../../protocol/codec.js";
import { MAX_FRAME_SIZE } from "../../protocol/constants.js";
import type { Envelope } from "../../protocol/messages.js";
import {
  dialFailure,
  FrameReader,
  RequestAbortedError,
  RequestFailedError,
  type RequestOptions,
  requestFailure,
  STORAGE_PROTOCOL,
  STORAGE_SESSION_PROTOCOL,
  writeParts,
} from "./node.js";

/** Idle streams kept per peer: one carries a validator's rounds, a second its parallel stores. */
export const DEFAULT_KEPT_STREAMS_PER_PEER = 2;

/**
 * A kept stream unused this long is closed (and not used again): half the miner's idle close
 * (DEFAULT_PEER_LIMITS.keptStreamIdleMs, 60 s), so the requester closes first, and five rounds at
 * the validator's default 12 s interval.
 */
export const DEFAULT_STREAM_POOL_IDLE_MS = 30_000;

export interface StreamPoolInit {
  /** Idle streams kept per peer. Default {@link DEFAULT_KEPT_STREAMS_PER_PEER}. */
  maxKeptPerPeer?: number;
  /** How long an idle stream is kept. Default {@link DEFAULT_STREAM_POOL_IDLE_MS}. */
  idleMs?: number;
  /** Clock in ms; default performance.now. */
  now?: () => number;
}

export interface StreamPool {
  /**
   * {@link request}'s contract, over a kept stream to `peer` when one is idle: the response
   * envelope, or RequestFailedError, RequestAbortedError (on `signal`) or CodecError.
   */
  request(peer: PeerId, envelope: Envelope, options?: RequestOptions): Promise<Envelope>;
  /** Idle streams kept now, across peers. */
  readonly keptStreams: number;
  /** Streams opened so far (for tests and metrics: requests minus this were carried by kept ones). */
  readonly streamsOpened: number;
  /** Closes every kept stream; later requests open streams again. */
  close(): void;
}

interface Kept {
  stream: Stream;
  reader: FrameReader;
  idleSince: number;
}

/** A kept stream ended before the request was read: it may go again on a new stream. */
class UnreadError extends Error {}

/**
 * @example
 * const streams = createStreamPool(node);
 * const reply = await streams.request(peerId, signRequest(hotkey, body), { signal: AbortSignal.timeout(5_000) });
 */
export function createStreamPool(node: Libp2p, init: StreamPoolInit = {}): StreamPool {
  const maxKeptPerPeer = init.maxKeptPerPeer ?? DEFAULT_KEPT_STREAMS_PER_PEER;
  const idleMs = init.idleMs ?? DEFAULT_STREAM_POOL_IDLE_MS;
  const now = init.now ?? (() => performance.now());
  const idle = new Map<string, Kept[]>();
  let kept = 0;
  let opened = 0;
  let sweeper: NodeJS.Timeout | undefined;

  const usable = (entry: Kept, at: number): boolean =>
    entry.stream.status === "open" && !entry.stream.readableEnded && at - entry.idleSince < idleMs;

  const closeStream = (stream: Stream): void => {
    stream.close().catch(() => stream.abort(new Error("the kept stream could not be closed")));
  };

  /** Closes the idle streams past `idleMs` (or already closed by the peer). */
  const sweep = (): void => {
    const at = now();
    for (const [peer, list] of idle) {
      const live = list.filter((entry) => {
        if (usable(entry, at)) return true;
        closeStream(entry.stream);
        return false;
      });
      kept -= list.length - live.length;
      if (live.length > 0) idle.set(peer, live);
      else idle.delete(peer);
    }
    if (idle.size === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };

  /** The most recently used idle stream to `peer` that can still carry a request. */
  const take = (peer: string): Kept | undefined => {
    const list = idle.get(peer);
    if (list === undefined) return undefined;
    const at = now();
    let found: Kept | undefined;
    while (found === undefined && list.length > 0) {
      const entry = list.pop() as Kept;
      kept--;
      if (usable(entry, at)) found = entry;
      else closeStream(entry.stream);
    }
    if (list.length === 0) idle.delete(peer);
    return found;
  };

  const putBack = (peer: string, entry: Kept): void => {
    const list = idle.get(peer) ?? [];
    if (list.length >= maxKeptPerPeer || entry.reader.bufferedBytes > 0 || !usable(entry, now())) {
      closeStream(entry.stream);
      return;
    }
    entry.idleSince = now();
    list.push(entry);
    idle.set(peer, list);
    kept++;
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, Math.max(1, idleMs / 2));
      sweeper.unref?.();
    }
  };

  const open = async (peer: PeerId, signal: AbortSignal | undefined): Promise<Kept> => {
    let stream: Stream;
    try {
      stream = await node.dialProtocol(
        peer,
        [STORAGE_SESSION_PROTOCOL, STORAGE_PROTOCOL],
        signal ? { signal } : {},
      );
    } catch (cause) {
      throw dialFailure(cause, peer, signal);
    }
    opened++;
    return { stream, reader: new FrameReader(stream), idleSince: now() };
  };

  const exchange = async (
    peer: string,
    entry: Kept,
    frame: readonly Uint8Array[],
    reused: boolean,
    options: RequestOptions,
  ): Promise<Envelope> => {
    const { stream, reader } = entry;
    const { signal } = options;
    const session = stream.protocol === STORAGE_SESSION_PROTOCOL;
    let sent = false;
    try {
      await writeParts(stream, frame, signal);
      sent = true;
      if (!session) await stream.close(signal ? { signal } : {});
      const reply = await reader.read({
        maxFrameSize: options.maxFrameSize ?? MAX_FRAME_SIZE,
        ...(signal ? { signal } : {}),
      });
      if (reply === undefined) {
        if (reused && session) throw new UnreadError();
        throw new RequestFailedError("the stream closed without a response");
      }
      if (session) putBack(peer, entry);
      return reply.envelope;
    } catch (error) {
      stream.abort(error instanceof Error ? error : new Error(String(error)));
      // A kept stream that was closed before this request could be written to is as unread.
      if (reused && !sent && !signal?.aborted && !(error instanceof RequestAbortedError)) {
        throw new UnreadError();
      }
      if (error instanceof UnreadError) throw error;
      throw requestFailure(error, signal);
    }
  };

  return {
    async request(peer, envelope, options = {}) {
      const frame = encodeFrameParts(envelope, { maxFrameSize: options.maxFrameSize ?? MAX_FRAME_SIZE });
      const key = peer.toString();
      const idleEntry = take(key);
      if (idleEntry !== undefined) {
        try {
          return await exchange(key, idleEntry, frame, true, options);
        } catch (error) {
          if (!(error instanceof UnreadError)) throw error;
        }
      }
      return exchange(key, await open(peer, options.signal), frame, false, options);
    },
    get keptStreams() {
      return kept;
    },
    get streamsOpened() {
      return opened;
    },
    close() {
      if (sweeper !== undefined) clearInterval(sweeper);
      sweeper = undefined;
      for (const list of idle.values()) for (const entry of list) closeStream(entry.stream);
      idle.clear();
      kept = 0;
    },
  };
}
