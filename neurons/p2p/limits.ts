/**
 * The limits of the p2p layer as plain types, so the node config (neurons/config.ts) can build them
 * without importing the code that enforces them. Defaults: `DEFAULT_PEER_LIMITS` (server.ts) and
 * `DEFAULT_ADMISSION_LIMITS` (admission.ts).
 */

/** What one peer may cost a frame server. */
export interface PeerLimits {
  /** Streams one peer may have open at once. */
  maxStreamsPerPeer: number;
  /**
   * Sustained requests per second per peer id; the same rate applies per IP that is not a
   * validator's (shared by its peer ids, with an `admission`) and per verified hotkey (shared by
   * its peer ids, with `checkSender`). Past it the request is answered RateLimited; a peer id or
   * stranger's IP over it is also disconnected.
   */
  requestsPerSecond: number;
  /** Requests a peer id, stranger's IP or hotkey may make in a burst above the sustained rate. */
  burst: number;
  /** Largest request payload, in bytes. */
  maxFrameSize: number;
  /** How long a peer has to deliver its whole request frame. */
  readTimeoutMs: number;
  /** How long a peer that broke a limit may not reconnect (with {@link FrameServerInit.bans}). */
  banMs: number;
  /**
   * How long a peer has to deliver a frame's front (with `checkSender`), and a sender that is not
   * a permitted validator its whole (small) frame.
   */
  headerTimeoutMs: number;
  /**
   * Largest frame from a sender that is not a permitted validator with a fresh timestamp (with
   * `checkSender`): room for a hello, or a small request that earns a proper error reply.
   */
  maxUnauthenticatedFrameSize: number;
  /** Bytes of frames being read or handled, across all streams; past it new frames are refused (busy). */
  maxBufferedBytes: number;
  /** The same, per IP that has not authenticated as a validator's (with an `admission`). */
  maxBufferedBytesPerIp: number;
  /**
   * Session streams one peer id may keep open between requests; past it a stream is closed after
   * its answer (the requester opens a new one). Streams being served count toward
   * {@link maxStreamsPerPeer} instead.
   */
  maxKeptStreamsPerPeer: number;
  /** Session streams kept open between requests, across all peers. */
  maxKeptStreams: number;
  /** How long a kept session stream may wait for its next request before the server closes it. */
  keptStreamIdleMs: number;
}

export interface AdmissionLimits {
  /**
   * How long an inbound socket has to finish the handshake (noise and yamux); libp2p's
   * `inboundUpgradeTimeout`, 10 s by default, let sockets that never finish it hold a slot that
   * long. A handshake takes a few round trips: 3 s leaves room for ~300 ms of latency.
   */
  handshakeTimeoutMs: number;
  /** Sockets mid-handshake from one IP that is not a validator's. */
  maxPendingPerIp: number;
  /** Sockets mid-handshake from IPs that are not validators', in all. */
  maxPending: number;
  /** Connections (open or mid-handshake) from one IP that is not a validator's. */
  maxConnectionsPerIp: number;
  /** Connections from IPs that are not validators', in all. */
  maxConnections: number;
  /** Sockets mid-handshake from validators' IPs, on top of {@link maxPending}. */
  reservedPending: number;
  /** Connections from validators' IPs, on top of {@link maxConnections}. */
  reservedConnections: number;
  /**
   * New connections per second accepted from one IP, validators' IPs included (libp2p's
   * `inboundConnectionThreshold`, checked before the gater: its refusals are not counted in
   * the admission's metrics).
   */
  connectionsPerIpPerSecond: number;
  /** A connection that has not authenticated a request by then is closed. */
  unauthenticatedIdleMs: number;
  /**
   * Failures (malformed frames, failed authentication, timeouts, broken limits) within
   * {@link failureWindowMs} that ban a peer id, and an IP that is not a validator's, for
   * {@link banMs}. Counted per peer id and per IP: the n-th of either bans.
   */
  maxFailures: number;
  /** The window failures are counted in, from the first; a failure after it starts a new count. */
  failureWindowMs: number;
  /** How long a ban lasts. */
  banMs: number;
  /** How long an IP stays a validator's after a request authenticated from it. */
  validatorIpTrustMs: number;
}
