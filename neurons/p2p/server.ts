/**
 * Serving the storage protocol: a stream of STORAGE_PROTOCOL carries one request frame and gets
 * one response frame; a stream of STORAGE_SESSION_PROTOCOL carries successive requests, one at a
 * time, each served exactly as if it had come on a new stream (every check below, per request),
 * and is kept open between them only for a requester that authenticated, within
 * `maxKeptStreamsPerPeer` and `maxKeptStreams`, for `keptStreamIdleMs` at most (a kept stream a
 * bound refuses, or one idle that long, is closed, never reset, so the requester knows the
 * request it may have sent meanwhile was not read). Per-peer limits (concurrent streams, a
 * token-bucket request rate, the frame size) are enforced here; a peer that breaks one gets an
 * error reply and is disconnected. A malformed frame gets an error reply and a closed stream.
 * Nothing a peer sends can throw out of the handler.
 *
 * Authentication before buffering (with `checkSender`): a frame's front (protocol/frame-header.ts:
 * length, type, claimed sender and timestamp) must arrive within a short deadline, and only a
 * permitted sender with a fresh timestamp may send more than a hello-sized frame; every frame's
 * bytes come out of one budget shared by all streams (and a smaller one per IP that has not
 * authenticated) before its body is read. The signature, which covers the body, is checked by the
 * handler once the body is in. With an `admission`, failures count toward bans by peer id and IP,
 * and an authenticated request marks its connection and IP as a validator's.
 */
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { type DecodedFrame, encodeFrame, encodeFrameParts } from "../../protocol/codec.js";
import { CodecError } from "../../protocol/codec-errors.js";
import { MAX_FRAME_SIZE } from "../../protocol/constants.js";
import type { FrameHeader } from "../../protocol/frame-header.js";
import { createEnvelope, type Envelope, ErrorCode } from "../../protocol/messages.js";
import { defaultsOf, minerConfigSchema, peerLimitsFrom } from "../config.js";
import { NodeError } from "../errors.js";
import type { Logger } from "../logger.js";
import { type Admission, remoteIp } from "./admission.js";
import type { PeerLimits } from "./limits.js";
import {
  FrameReader,
  RequestAbortedError,
  STORAGE_PROTOCOL,
  STORAGE_SESSION_PROTOCOL,
  writeBytes,
  writeParts,
} from "./node.js";

/**
 * Defaults sized for validators that keep a few requests in flight: a 1 MiB store takes ~10–30 ms
 * here, so 16 streams and 200 requests/s are well above honest use and far below what hurts.
 */
export const DEFAULT_PEER_LIMITS: PeerLimits = {
  ...peerLimitsFrom(defaultsOf(minerConfigSchema)),
  maxFrameSize: MAX_FRAME_SIZE,
  readTimeoutMs: 30_000,
  banMs: 30_000,
  // A frame's front is 131 bytes, sent at once by an honest requester.
  headerTimeoutMs: 5_000,
  // A signed hello is ~180 bytes; 4 KiB leaves room for any small request.
  maxUnauthenticatedFrameSize: 4_096,
  // Four stalled 1 MiB frames per stranger's IP; the rest of the budget is validators'.
  maxBufferedBytesPerIp: 4 * MAX_FRAME_SIZE,
  // A validator keeps one stream per miner for its rounds (a few while it stores in parallel);
  // 4 leaves room for that, and 64 validators × 4 bound all of them together.
  maxKeptStreamsPerPeer: 4,
  maxKeptStreams: 256,
  // Twice the validator's own idle close (DEFAULT_STREAM_POOL_IDLE_MS), so the validator closes a
  // stream it no longer uses before the miner does, and below libp2p's stream inactivity
  // timeout (120 s), which would reset it.
  keptStreamIdleMs: 60_000,
};

/** Peers refused for a while after breaking a limit; hand `isBanned` to createP2PNode's `denyPeer`. */
export interface PeerBans {
  ban(peer: string, ms: number): void;
  isBanned(peer: string): boolean;
}

/**
 * @example
 * const bans = createPeerBans();
 * const node = await createP2PNode({ denyPeer: bans.isBanned });
 * createFrameServer({ node, bans, … });
 */
export function createPeerBans(now: () => number = Date.now): PeerBans {
  const until = new Map<string, number>();
  return {
    ban(peer, ms) {
      // Bounded: expired bans are dropped whenever the map grows large.
      if (until.size > 10_000) for (const [p, t] of until) if (t <= now()) until.delete(p);
      until.set(peer, now() + ms);
    },
    isBanned(peer) {
      const t = until.get(peer);
      if (t === undefined) return false;
      if (t > now()) return true;
      until.delete(peer);
      return false;
    },
  };
}

export type Violation = "streams" | "rate" | "frame-size";

/** Why a stream was refused or failed, for metrics: a broken limit, or one of these. */
export type Refusal =
  | Violation
  | "malformed"
  | "timeout"
  /** A frame larger than a stranger may send, or from a banned hotkey. */
  | "unauthenticated"
  /** The handler refused the request's authentication (bad signature, unknown sender, …). */
  | "auth"
  /** The buffered-bytes budget is spent. */
  | "busy"
  /** The connection's peer id or IP is banned. */
  | "banned";

/** The handler's refusals that mean the request did not authenticate: failures toward a ban. */
const AUTH_FAILURES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.Unauthorized,
  ErrorCode.BadSignature,
  ErrorCode.StaleTimestamp,
  ErrorCode.Replay,
  ErrorCode.WrongRecipient,
]);

/** What the server may know of a frame's claimed sender before its body: a permitted hotkey, or why not. */
export type SenderVerdict = { ok: true; hotkey: string } | { ok: false; code: ErrorCode; reason: string };

export interface RequestContext {
  /** The remote peer id. */
  peer: string;
  connection: Connection;
  /** The request's body as it arrived (a view of the frame), for a signature check without re-encoding. */
  body: Uint8Array;
}

export interface FrameServerInit {
  node: Libp2p;
  /** Answers one decoded request; a throw becomes an Internal error reply. */
  handle: (request: Envelope, context: RequestContext) => Promise<Envelope> | Envelope;
  limits?: Partial<PeerLimits>;
  /** Where violators are banned for `limits.banMs`; without it they are only disconnected. */
  bans?: PeerBans;
  /**
   * Judges a frame's claimed sender (public key) and timestamp from its front, before its body:
   * only a permitted sender with a fresh timestamp may send more than
   * `limits.maxUnauthenticatedFrameSize`. Without it every frame may be `limits.maxFrameSize`.
   */
  checkSender?: (sender: Uint8Array, timestamp: number, recipient: Uint8Array) => SenderVerdict;
  /** Connection admission: failures count toward its bans, authenticated requests mark validators. */
  admission?: Admission;
  log: Logger;
  /** Largest response payload produced (a retrieve reply carries a whole chunk). Default limits.maxFrameSize. */
  maxResponseFrameSize?: number;
  /** Told about every refused peer or malformed request (metrics). */
  onRefused?: (kind: Refusal, peer: string) => void;
  protocol?: string;
  /**
   * The protocol whose streams carry successive requests (STORAGE_SESSION_PROTOCOL by default;
   * false serves `protocol` only).
   */
  sessionProtocol?: string | false;
}

export interface FrameServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Streams currently being served (a request being read, handled or answered). */
  readonly activeStreams: number;
  /** Session streams kept open between requests, waiting for the next one. */
  readonly keptStreams: number;
  /** Bytes of frames being read or handled now (the budget of `limits.maxBufferedBytes`). */
  readonly bufferedBytes: number;
}

/** A frame refused from its front; `code` goes back to the peer. */
export class FrameRefusedError extends NodeError {
  override name = "FrameRefusedError";
  constructor(
    readonly kind: "unauthenticated" | "busy" | "rate",
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

interface Bucket {
  active: number;
  tokens: number;
  refilledAt: number;
}

/**
 * @example
 * const server = createFrameServer({ node, log, handle: (req) => answer(req) });
 * await server.start();
 */
export function createFrameServer(init: FrameServerInit): FrameServer {
  const limits: PeerLimits = { ...DEFAULT_PEER_LIMITS, ...init.limits };
  const protocol = init.protocol ?? STORAGE_PROTOCOL;
  const sessionProtocol =
    init.sessionProtocol === false
      ? undefined
      : (init.sessionProtocol ?? (init.protocol === undefined ? STORAGE_SESSION_PROTOCOL : undefined));
  const maxResponse = init.maxResponseFrameSize ?? limits.maxFrameSize;
  const { node, log, admission } = init;
  // Token buckets by peer id, by IP (strangers' IPs only) and by hotkey ("ip:…", "hotkey:…").
  const buckets = new Map<string, Bucket>();
  const bufferedByIp = new Map<string, number>();
  let active = 0;
  let buffered = 0;
  /** Session streams waiting for their next request, by peer id; and their idle closers. */
  const keptByPeer = new Map<string, number>();
  const parked = new Set<AbortController>();

  // A bucket outlives its connections (reconnecting must not refill it); an idle one that has
  // refilled holds nothing worth keeping and is dropped when the map grows.
  const pruneBuckets = (now: number): void => {
    for (const [key, state] of buckets) {
      const refilled = state.tokens + ((now - state.refilledAt) / 1000) * limits.requestsPerSecond;
      if (state.active === 0 && refilled >= limits.burst) buckets.delete(key);
    }
  };

  const bucket = (key: string): Bucket => {
    let state = buckets.get(key);
    if (state === undefined) {
      if (buckets.size >= 1_000) pruneBuckets(performance.now());
      state = { active: 0, tokens: limits.burst, refilledAt: performance.now() };
      buckets.set(key, state);
    }
    return state;
  };

  const refill = (state: Bucket): void => {
    const now = performance.now();
    state.tokens = Math.min(
      limits.burst,
      state.tokens + ((now - state.refilledAt) / 1000) * limits.requestsPerSecond,
    );
    state.refilledAt = now;
  };

  const takeToken = (state: Bucket): boolean => {
    refill(state);
    if (state.tokens < 1) return false;
    state.tokens -= 1;
    return true;
  };

  /** Sends the response; closes the stream's writing end unless it stays open for the next request. */
  const reply = async (stream: Stream, envelope: Envelope, keepOpen = false): Promise<void> => {
    let frame: Uint8Array[];
    try {
      frame = encodeFrameParts(envelope, { maxFrameSize: maxResponse });
    } catch (error) {
      log.error("cannot encode a response", { error });
      frame = encodeFrameParts(
        createEnvelope(
          { type: "error", code: ErrorCode.Internal, message: "response could not be encoded" },
          { requestId: envelope.requestId },
        ),
      );
    }
    // One deadline for writing and closing: each AbortSignal.timeout is a timer and a listener,
    // a measurable share of a small reply's cost.
    const signal = AbortSignal.timeout(limits.readTimeoutMs);
    await writeParts(stream, frame, signal);
    if (!keepOpen) await stream.close({ signal });
  };

  /** Counts a failure toward the connection's ban; a banned connection is closed. */
  const fail = (connection: Connection, peer: string, kind: Refusal): void => {
    init.onRefused?.(kind, peer);
    if (admission?.recordFailure(connection)) {
      init.bans?.ban(peer, limits.banMs);
      connection.abort(new Error("too many failed requests"));
    }
  };

  const refuse = async (
    stream: Stream,
    connection: Connection,
    peer: string,
    kind: Violation,
    code: ErrorCode,
    message: string,
  ): Promise<void> => {
    init.onRefused?.(kind, peer);
    log.warn("peer broke a limit; disconnecting", { peer, limit: kind, banMs: init.bans ? limits.banMs : 0 });
    init.bans?.ban(peer, limits.banMs);
    admission?.recordFailure(connection);
    try {
      await reply(stream, createEnvelope({ type: "error", code, message }));
    } catch {
      // The peer may already be gone; it is disconnected either way.
    }
    connection.abort(new Error(`peer broke the ${kind} limit`));
  };

  /** Answers a frame refused from its front, without reading its body (the stream is reset). */
  const refuseFrame = async (stream: Stream, header: FrameHeader | undefined, error: FrameRefusedError) => {
    const envelope = createEnvelope(
      { type: "error", code: error.code, message: truncate(error.message) },
      { requestId: header?.requestId ?? 0 },
    );
    try {
      await writeBytes(stream, encodeFrame(envelope), AbortSignal.timeout(limits.headerTimeoutMs));
    } finally {
      // Reset rather than close: the unread body is dropped instead of waited for.
      stream.abort(error);
    }
  };

  /**
   * Serves one request on `stream`, with every check a new stream gets. True when the stream
   * may carry the next request (`session`, and the request was authenticated and answered);
   * otherwise the stream has been closed or reset.
   */
  const serveRequest = async (
    stream: Stream,
    reader: FrameReader,
    connection: Connection,
    session: boolean,
  ): Promise<boolean> => {
    const peer = connection.remotePeer.toString();
    const ip = remoteIp(connection.remoteAddr);
    if (admission?.isBanned(connection)) {
      init.onRefused?.("banned", peer);
      connection.abort(new Error("banned"));
      return false;
    }
    const state = bucket(peer);
    if (state.active >= limits.maxStreamsPerPeer) {
      await refuse(stream, connection, peer, "streams", ErrorCode.RateLimited, "too many concurrent streams");
      return false;
    }
    if (!takeToken(state)) {
      await refuse(stream, connection, peer, "rate", ErrorCode.RateLimited, "request rate limit exceeded");
      return false;
    }
    // A stranger's IP shares one bucket across its peer ids; a validator's IP may host many.
    const stranger = admission !== undefined && ip !== undefined && !admission.isValidatorIp(ip);
    if (stranger && !takeToken(bucket(`ip:${ip}`))) {
      await refuse(stream, connection, peer, "rate", ErrorCode.RateLimited, "request rate limit exceeded");
      return false;
    }
    state.active++;
    active++;
    let reserved = 0;
    let header: FrameHeader | undefined;
    let hotkey: string | undefined;
    const release = () => {
      buffered -= reserved;
      if (stranger && ip !== undefined && reserved > 0) {
        const left = (bufferedByIp.get(ip) ?? 0) - reserved;
        if (left > 0) bufferedByIp.set(ip, left);
        else bufferedByIp.delete(ip);
      }
      reserved = 0;
    };
    const admitFrame = (front: FrameHeader): boolean => {
      header = front;
      const { checkSender } = init;
      let permitted = checkSender === undefined;
      if (checkSender !== undefined) {
        const verdict: SenderVerdict = front.auth
          ? checkSender(front.auth.sender, front.auth.timestamp, front.auth.recipient)
          : { ok: false, code: ErrorCode.Unauthorized, reason: "request is not signed" };
        if (verdict.ok) {
          const own = bucket(`hotkey:${verdict.hotkey}`);
          refill(own);
          // Only verified requests take the hotkey's tokens (after the handler), so a stranger
          // naming a validator's key cannot spend them; an empty bucket refuses the claim at once.
          if (own.tokens < 1) {
            throw new FrameRefusedError(
              "rate",
              ErrorCode.RateLimited,
              "request rate limit exceeded for this hotkey",
            );
          }
          hotkey = verdict.hotkey;
          permitted = true;
        } else if (front.payloadLength > limits.maxUnauthenticatedFrameSize) {
          throw new FrameRefusedError("unauthenticated", verdict.code, verdict.reason);
        }
      }
      const size = front.payloadLength;
      const ipBuffered = stranger && ip !== undefined ? (bufferedByIp.get(ip) ?? 0) : 0;
      if (
        buffered + size > limits.maxBufferedBytes ||
        (stranger && ipBuffered + size > limits.maxBufferedBytesPerIp)
      ) {
        throw new FrameRefusedError(
          "busy",
          ErrorCode.RateLimited,
          "busy: too many requests being read; retry later",
        );
      }
      reserved = size;
      buffered += size;
      if (stranger && ip !== undefined) bufferedByIp.set(ip, ipBuffered + size);
      return permitted;
    };
    try {
      let frame: DecodedFrame | undefined;
      try {
        frame = await reader.read({
          maxFrameSize: limits.maxFrameSize,
          signal: AbortSignal.timeout(limits.readTimeoutMs),
          headerSignal: AbortSignal.timeout(limits.headerTimeoutMs),
          onHeader: admitFrame,
        });
      } catch (error) {
        if (error instanceof FrameRefusedError) {
          log.debug("frame refused before its body", { peer, reason: error.message });
          if (error.kind === "busy") init.onRefused?.("busy", peer);
          else fail(connection, peer, error.kind === "rate" ? "rate" : "unauthenticated");
          await refuseFrame(stream, header, error).catch(() => undefined);
          return false;
        }
        if (error instanceof CodecError) {
          if (error.code === "too-large") {
            await refuse(stream, connection, peer, "frame-size", ErrorCode.FrameTooLarge, error.message);
            return false;
          }
          fail(connection, peer, "malformed");
          log.debug("malformed request", { peer, error: error.message, codecError: error.code });
          const code = error.code === "bad-version" ? ErrorCode.UnsupportedVersion : ErrorCode.BadRequest;
          await reply(
            stream,
            createEnvelope({ type: "error", code, message: truncate(error.message) }),
          ).catch(() => stream.abort(error));
          return false;
        }
        if (error instanceof RequestAbortedError) fail(connection, peer, "timeout");
        log.debug("stream failed before a request arrived", { peer, error });
        stream.abort(error instanceof Error ? error : new Error(String(error)));
        return false;
      }
      if (frame === undefined) {
        await stream.close().catch(() => undefined);
        return false;
      }
      const request = frame.envelope;
      let response: Envelope;
      try {
        response = await init.handle(request, { peer, connection, body: frame.body });
      } catch (error) {
        log.error("request handler failed", { peer, type: request.body.type, error });
        response = createEnvelope(
          { type: "error", code: ErrorCode.Internal, message: "internal error" },
          { requestId: request.requestId },
        );
      }
      release();
      const authFailed = response.body.type === "error" && AUTH_FAILURES.has(response.body.code);
      if (authFailed) {
        fail(connection, peer, "auth");
      } else if (hotkey !== undefined) {
        takeToken(bucket(`hotkey:${hotkey}`));
        admission?.markAuthenticated(connection);
      }
      // Only a request that authenticated (or any, without `checkSender`) earns the stream its
      // next request: a stranger's session stream is closed after one answer, as any stream is.
      const keep = session && !authFailed && (init.checkSender === undefined || hotkey !== undefined);
      await reply(stream, response, keep);
      return keep;
    } catch (error) {
      log.debug("stream failed", { peer, error });
      stream.abort(error instanceof Error ? error : new Error(String(error)));
      return false;
    } finally {
      release();
      state.active--;
      active--;
    }
  };

  /**
   * Waits for the next request on a session stream, within the kept-stream bounds: true when a
   * byte of it arrived; false (the stream closed) when a bound is full, the stream stays idle
   * for `keptStreamIdleMs`, the peer closes it or the server stops.
   */
  const park = async (stream: Stream, reader: FrameReader, peer: string): Promise<boolean> => {
    const peerKept = keptByPeer.get(peer) ?? 0;
    if (peerKept >= limits.maxKeptStreamsPerPeer || parked.size >= limits.maxKeptStreams) {
      log.debug("closing a session stream: kept streams at their bound", { peer, peerKept });
      await stream.close().catch(() => undefined);
      return false;
    }
    keptByPeer.set(peer, peerKept + 1);
    const idle = new AbortController();
    const timer = setTimeout(() => idle.abort(), limits.keptStreamIdleMs);
    timer.unref?.();
    parked.add(idle);
    let more: boolean;
    try {
      more = await reader.waitForData(idle.signal);
    } finally {
      clearTimeout(timer);
      parked.delete(idle);
      const left = (keptByPeer.get(peer) ?? 1) - 1;
      if (left > 0) keptByPeer.set(peer, left);
      else keptByPeer.delete(peer);
    }
    if (!more) {
      // Closing (not resetting) tells the requester nothing was read: a request it sent
      // meanwhile may go again on a new stream.
      await stream.close({ signal: AbortSignal.timeout(limits.headerTimeoutMs) }).catch(() => {
        stream.abort(new Error("the kept stream could not be closed"));
      });
    }
    return more;
  };

  const serveStream = async (stream: Stream, connection: Connection, session: boolean): Promise<void> => {
    const reader = new FrameReader(stream);
    const peer = connection.remotePeer.toString();
    while ((await serveRequest(stream, reader, connection, session)) && (await park(stream, reader, peer))) {
      // Each request on a kept stream is served as if it came on a new one.
    }
  };

  return {
    get activeStreams() {
      return active;
    },
    get keptStreams() {
      return parked.size;
    },
    get bufferedBytes() {
      return buffered;
    },
    async start() {
      const options = {
        // libp2p resets streams past this silently; keep it above our own limits so ours, which
        // answer and disconnect (or close a kept stream), are the ones that apply.
        maxInboundStreams: (limits.maxStreamsPerPeer + limits.maxKeptStreamsPerPeer) * 4,
        runOnLimitedConnection: false,
      };
      const serve = (session: boolean) => (stream: Stream, connection: Connection) => {
        serveStream(stream, connection, session).catch((error: unknown) => {
          log.error("unexpected failure serving a stream", { error });
        });
      };
      await node.handle(protocol, serve(false), options);
      if (sessionProtocol !== undefined) await node.handle(sessionProtocol, serve(true), options);
    },
    async stop() {
      await node.unhandle(protocol);
      if (sessionProtocol !== undefined) await node.unhandle(sessionProtocol);
      for (const idle of parked) idle.abort();
      buckets.clear();
    },
  };
}

function truncate(message: string): string {
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}
