/**
 * Serving the storage protocol: every inbound stream carries one request frame and gets one
 * response frame. Per-peer limits (concurrent streams, a token-bucket request rate, the frame
 * size) are enforced here; a peer that breaks one gets an error reply and is disconnected. A
 * malformed frame gets an error reply and a closed stream. Nothing a peer sends can throw out of
 * the handler.
 */
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { type DecodedFrame, encodeFrame } from "../../protocol/codec.js";
import { CodecError } from "../../protocol/codec-errors.js";
import { MAX_FRAME_SIZE } from "../../protocol/constants.js";
import { createEnvelope, type Envelope, ErrorCode } from "../../protocol/messages.js";
import { defaultsOf, minerConfigSchema, peerLimitsFrom } from "../config.js";
import type { Logger } from "../logger.js";
import { RequestAbortedError, readDecodedFrame, STORAGE_PROTOCOL, writeBytes } from "./node.js";

export interface PeerLimits {
  /** Streams one peer may have open at once. */
  maxStreamsPerPeer: number;
  /** Sustained requests per second per peer. */
  requestsPerSecond: number;
  /** Requests a peer may make in a burst above the sustained rate. */
  burst: number;
  /** Largest request payload, in bytes. */
  maxFrameSize: number;
  /** How long a peer has to deliver its whole request frame. */
  readTimeoutMs: number;
  /** How long a peer that broke a limit may not reconnect (with {@link FrameServerInit.bans}). */
  banMs: number;
}

/**
 * Defaults sized for validators that keep a few requests in flight: a 1 MiB store takes ~10–30 ms
 * here, so 16 streams and 200 requests/s are well above honest use and far below what hurts.
 */
export const DEFAULT_PEER_LIMITS: PeerLimits = {
  ...peerLimitsFrom(defaultsOf(minerConfigSchema)),
  maxFrameSize: MAX_FRAME_SIZE,
  readTimeoutMs: 30_000,
  banMs: 30_000,
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
  log: Logger;
  /** Largest response payload produced (a retrieve reply carries a whole chunk). Default limits.maxFrameSize. */
  maxResponseFrameSize?: number;
  /** Told about every refused peer or malformed request (metrics). */
  onRefused?: (kind: Violation | "malformed" | "timeout", peer: string) => void;
  protocol?: string;
}

export interface FrameServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Streams currently being served. */
  readonly activeStreams: number;
}

interface PeerState {
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
  const maxResponse = init.maxResponseFrameSize ?? limits.maxFrameSize;
  const { node, log } = init;
  const peers = new Map<string, PeerState>();
  let active = 0;

  // A peer's bucket outlives its connections (reconnecting must not refill it); an idle peer whose
  // bucket has refilled holds nothing worth keeping and is dropped when the map grows.
  const prunePeers = (now: number): void => {
    for (const [peer, state] of peers) {
      const refilled = state.tokens + ((now - state.refilledAt) / 1000) * limits.requestsPerSecond;
      if (state.active === 0 && refilled >= limits.burst) peers.delete(peer);
    }
  };

  const takeToken = (state: PeerState): boolean => {
    const now = performance.now();
    state.tokens = Math.min(
      limits.burst,
      state.tokens + ((now - state.refilledAt) / 1000) * limits.requestsPerSecond,
    );
    state.refilledAt = now;
    if (state.tokens < 1) return false;
    state.tokens -= 1;
    return true;
  };

  const reply = async (stream: Stream, envelope: Envelope): Promise<void> => {
    let frame: Uint8Array;
    try {
      frame = encodeFrame(envelope, { maxFrameSize: maxResponse });
    } catch (error) {
      log.error("cannot encode a response", { error });
      frame = encodeFrame(
        createEnvelope(
          { type: "error", code: ErrorCode.Internal, message: "response could not be encoded" },
          { requestId: envelope.requestId },
        ),
      );
    }
    await writeBytes(stream, frame, AbortSignal.timeout(limits.readTimeoutMs));
    await stream.close({ signal: AbortSignal.timeout(limits.readTimeoutMs) });
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
    try {
      await reply(stream, createEnvelope({ type: "error", code, message }));
    } catch {
      // The peer may already be gone; it is disconnected either way.
    }
    connection.abort(new Error(`peer broke the ${kind} limit`));
  };

  const serveStream = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString();
    let state = peers.get(peer);
    if (state === undefined) {
      if (peers.size >= 1_000) prunePeers(performance.now());
      state = { active: 0, tokens: limits.burst, refilledAt: performance.now() };
      peers.set(peer, state);
    }
    if (state.active >= limits.maxStreamsPerPeer) {
      await refuse(stream, connection, peer, "streams", ErrorCode.RateLimited, "too many concurrent streams");
      return;
    }
    if (!takeToken(state)) {
      await refuse(stream, connection, peer, "rate", ErrorCode.RateLimited, "request rate limit exceeded");
      return;
    }
    state.active++;
    active++;
    try {
      let frame: DecodedFrame | undefined;
      try {
        frame = await readDecodedFrame(stream, {
          maxFrameSize: limits.maxFrameSize,
          signal: AbortSignal.timeout(limits.readTimeoutMs),
        });
      } catch (error) {
        if (error instanceof CodecError) {
          if (error.code === "too-large") {
            await refuse(stream, connection, peer, "frame-size", ErrorCode.FrameTooLarge, error.message);
            return;
          }
          init.onRefused?.("malformed", peer);
          log.debug("malformed request", { peer, error: error.message, codecError: error.code });
          const code = error.code === "bad-version" ? ErrorCode.UnsupportedVersion : ErrorCode.BadRequest;
          await reply(
            stream,
            createEnvelope({ type: "error", code, message: truncate(error.message) }),
          ).catch(() => stream.abort(error));
          return;
        }
        if (error instanceof RequestAbortedError) init.onRefused?.("timeout", peer);
        log.debug("stream failed before a request arrived", { peer, error });
        stream.abort(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (frame === undefined) {
        await stream.close().catch(() => undefined);
        return;
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
      await reply(stream, response);
    } catch (error) {
      log.debug("stream failed", { peer, error });
      stream.abort(error instanceof Error ? error : new Error(String(error)));
    } finally {
      state.active--;
      active--;
    }
  };

  return {
    get activeStreams() {
      return active;
    },
    async start() {
      await node.handle(
        protocol,
        (stream, connection) => {
          serveStream(stream, connection).catch((error: unknown) => {
            log.error("unexpected failure serving a stream", { error });
          });
        },
        {
          // libp2p resets streams past this silently; keep it above our own limit so ours, which
          // answers and disconnects, is the one that applies.
          maxInboundStreams: limits.maxStreamsPerPeer * 4,
          runOnLimitedConnection: false,
        },
      );
    },
    async stop() {
      await node.unhandle(protocol);
      peers.clear();
    },
  };
}

function truncate(message: string): string {
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}
