/**
 * Who may hold a connection to a node, decided before it costs anything: libp2p's connection
 * gater (`@libp2p/interface`'s ConnectionGater) refuses a socket by its IP before the handshake,
 * a short handshake deadline frees slots held by sockets that never finish it, and caps per IP
 * and in all keep one host (or many) from taking every slot.
 *
 * Validators always get in: their IPs (the axons of permitted hotkeys in the metagraph, and any
 * IP a connection authenticated from as a permitted validator) use a reserved share of slots that
 * strangers cannot fill. A connection that has not authenticated a request within a short time
 * is closed, whoever it comes from.
 *
 * Failures (malformed frames, authentication failures, timeouts, broken limits) count against
 * the peer id and the IP; too many within a window ban both, so a new peer id from the same
 * host does not start afresh. An IP that hosts a validator is never banned as a whole (only its
 * offending peer ids), so a neighbour on the same address cannot lock a validator out.
 */
import type { Connection, ConnectionGater, MultiaddrConnection, PeerId } from "@libp2p/interface";
import { getNetConfig } from "@libp2p/utils";
import type { Multiaddr } from "@multiformats/multiaddr";
import { admissionLimitsFrom, defaultsOf, minerConfigSchema } from "../config.js";
import { type Logger, silentLogger } from "../logger.js";
import type { AdmissionLimits } from "./limits.js";

/**
 * Defaults. A validator holds one connection to a miner; a host running many (a simulator, a
 * NAT) gets the reserved share once one of them authenticated. 256 strangers' connections and 64
 * handshakes in flight are far above honest use (a miner serves at most 64 validators, the
 * subnet's `maxAllowedValidators`) and far below what libp2p and the event loop handle here.
 */
export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = {
  // The handshake deadline, per-IP caps and idle time are miner flags (neurons/config.ts).
  ...admissionLimitsFrom(defaultsOf(minerConfigSchema)),
  maxPending: 64,
  maxConnections: 256,
  reservedPending: 64,
  reservedConnections: 128,
  // A simulator's validators share one address and each dials every miner: 100 new connections
  // a second from one IP is room for them, and 100× libp2p's default of 5 a host.
  connectionsPerIpPerSecond: 100,
  // An honest validator fails only on a skewed clock or a restart mid-request, a few times at
  // most; a host sending garbage is out after 8 frames for a minute.
  maxFailures: 8,
  failureWindowMs: 60_000,
  banMs: 60_000,
  validatorIpTrustMs: 3_600_000,
};

/** Why a connection was refused or closed, for metrics. */
export type AdmissionRefusal =
  | "banned"
  | "pending-per-ip"
  | "pending"
  | "connections-per-ip"
  | "connections"
  | "reserved"
  | "idle";

export interface AdmissionInit {
  limits?: Partial<AdmissionLimits>;
  log?: Logger;
  /** Clock in ms; default Date.now. */
  now?: () => number;
  /** Told about every refused or closed connection. */
  onRefused?: (reason: AdmissionRefusal, ip: string) => void;
}

/** Counts of tracked inbound connections, for tests and metrics. */
export interface AdmissionCounts {
  pending: number;
  open: number;
  validatorPending: number;
  validatorOpen: number;
}

export interface Admission {
  readonly limits: AdmissionLimits;
  /** The gater to hand to libp2p (createP2PNode's `admission` does). */
  readonly gater: ConnectionGater;
  /** Replaces the validators' axon IPs (from the metagraph). */
  setValidatorIps(ips: Iterable<string>): void;
  /** True when `ip` is a validator's (an axon, or it recently authenticated as one). */
  isValidatorIp(ip: string): boolean;
  /** A request on `connection` authenticated as a permitted validator's: keep it, trust its IP. */
  markAuthenticated(connection: Connection): void;
  /** Counts a failure against the connection's peer id and IP; true when that banned it. */
  recordFailure(connection: Connection): boolean;
  /** Bans a peer id (and its IP unless a validator's) now, as for too many failures. */
  ban(connection: Connection): void;
  isBanned(connection: Connection): boolean;
  counts(): AdmissionCounts;
  /** Clears timers; tracked connections are libp2p's to close. */
  stop(): void;
}

/** The IP of a multiaddr (`/ip4/…/tcp/…`), or undefined for other kinds of address. */
export function remoteIp(address: Multiaddr): string | undefined {
  try {
    return getNetConfig(address).host;
  } catch {
    return undefined;
  }
}

/**
 * IP and port: unique per TCP connection, and the same on the raw connection the gater sees and
 * on the Connection the server sees (whose address also names the peer id).
 */
function connectionKey(address: Multiaddr): string {
  try {
    const { host, port } = getNetConfig(address);
    return `${host}/${port ?? ""}`;
  } catch {
    return address.toString();
  }
}

interface Tracked {
  ip: string;
  maConn: MultiaddrConnection;
  validator: boolean;
  open: boolean;
  authenticated: boolean;
  timer?: NodeJS.Timeout;
}

interface Failures {
  count: number;
  since: number;
}

/** Entries kept at most in the failure, ban and trust maps before stale ones are dropped. */
const MAX_REMEMBERED = 10_000;

/**
 * @example
 * const admission = createAdmission({ log });
 * const node = await createP2PNode({ admission });
 * admission.setValidatorIps(["203.0.113.7"]);
 */
export function createAdmission(init: AdmissionInit = {}): Admission {
  const limits: AdmissionLimits = { ...DEFAULT_ADMISSION_LIMITS, ...init.limits };
  const log = init.log ?? silentLogger();
  const now = init.now ?? Date.now;
  let axonIps = new Set<string>();
  const learnedIps = new Map<string, number>();
  const bannedUntil = new Map<string, number>();
  const failures = new Map<string, Failures>();
  // By connectionKey.
  const tracked = new Map<string, Tracked>();
  const perIp = new Map<string, { pending: number; open: number }>();
  const totals: AdmissionCounts = { pending: 0, open: 0, validatorPending: 0, validatorOpen: 0 };

  const prune = <V>(map: Map<string, V>, live: (value: V) => boolean): void => {
    if (map.size < MAX_REMEMBERED) return;
    for (const [key, value] of map) if (!live(value)) map.delete(key);
  };

  const isValidatorIp = (ip: string): boolean => axonIps.has(ip) || (learnedIps.get(ip) ?? 0) > now();

  const isKeyBanned = (key: string): boolean => {
    const until = bannedUntil.get(key);
    if (until === undefined) return false;
    if (until > now()) return true;
    bannedUntil.delete(key);
    return false;
  };

  const banKey = (key: string): void => {
    prune(bannedUntil, (until) => until > now());
    bannedUntil.set(key, now() + limits.banMs);
  };

  const ipCounts = (ip: string) => {
    let counts = perIp.get(ip);
    if (counts === undefined) {
      counts = { pending: 0, open: 0 };
      perIp.set(ip, counts);
    }
    return counts;
  };

  const refuse = (reason: AdmissionRefusal, ip: string): true => {
    init.onRefused?.(reason, ip);
    log.debug("inbound connection refused", { ip, reason });
    return true;
  };

  const release = (key: string): void => {
    const entry = tracked.get(key);
    if (entry === undefined) return;
    tracked.delete(key);
    clearTimeout(entry.timer);
    const counts = ipCounts(entry.ip);
    if (entry.open) counts.open--;
    else counts.pending--;
    if (counts.open === 0 && counts.pending === 0) perIp.delete(entry.ip);
    if (entry.validator) {
      if (entry.open) totals.validatorOpen--;
      else totals.validatorPending--;
    } else if (entry.open) totals.open--;
    else totals.pending--;
  };

  const promote = (entry: Tracked): void => {
    if (entry.validator) return;
    entry.validator = true;
    if (entry.open) {
      totals.open--;
      totals.validatorOpen++;
    } else {
      totals.pending--;
      totals.validatorPending++;
    }
  };

  const closeIp = (ip: string, why: string): void => {
    for (const entry of tracked.values()) {
      if (entry.ip === ip) entry.maConn.abort(new Error(why));
    }
  };

  const gater: ConnectionGater = {
    denyInboundConnection(maConn: MultiaddrConnection): boolean {
      const ip = remoteIp(maConn.remoteAddr);
      if (ip === undefined) return false;
      if (isKeyBanned(`ip:${ip}`)) return refuse("banned", ip);
      const validator = isValidatorIp(ip);
      const counts = perIp.get(ip) ?? { pending: 0, open: 0 };
      if (validator) {
        if (totals.validatorPending >= limits.reservedPending) return refuse("reserved", ip);
        if (totals.validatorPending + totals.validatorOpen >= limits.reservedConnections) {
          return refuse("reserved", ip);
        }
      } else {
        if (counts.pending >= limits.maxPendingPerIp) return refuse("pending-per-ip", ip);
        if (counts.pending + counts.open >= limits.maxConnectionsPerIp)
          return refuse("connections-per-ip", ip);
        if (totals.pending >= limits.maxPending) return refuse("pending", ip);
        if (totals.pending + totals.open >= limits.maxConnections) return refuse("connections", ip);
      }
      const key = connectionKey(maConn.remoteAddr);
      tracked.set(key, { ip, maConn, validator, open: false, authenticated: false });
      ipCounts(ip).pending++;
      if (validator) totals.validatorPending++;
      else totals.pending++;
      maConn.addEventListener("close", () => release(key), { once: true });
      return false;
    },
    denyInboundEncryptedConnection(peerId: PeerId): boolean {
      return isKeyBanned(`peer:${peerId.toString()}`);
    },
    denyInboundUpgradedConnection(_peerId: PeerId, maConn: MultiaddrConnection): boolean {
      const entry = tracked.get(connectionKey(maConn.remoteAddr));
      if (entry === undefined || entry.open) return false;
      entry.open = true;
      const counts = ipCounts(entry.ip);
      counts.pending--;
      counts.open++;
      if (entry.validator) {
        totals.validatorPending--;
        totals.validatorOpen++;
      } else {
        totals.pending--;
        totals.open++;
      }
      entry.timer = setTimeout(() => {
        if (entry.authenticated) return;
        init.onRefused?.("idle", entry.ip);
        log.debug("closing a connection that did not authenticate", {
          address: maConn.remoteAddr.toString(),
          afterMs: limits.unauthenticatedIdleMs,
        });
        maConn.abort(new Error("no authenticated request in time"));
      }, limits.unauthenticatedIdleMs);
      entry.timer.unref?.();
      return false;
    },
  };

  const failureCount = (key: string): number => {
    const at = now();
    let entry = failures.get(key);
    if (entry === undefined || at - entry.since > limits.failureWindowMs) {
      prune(failures, (f) => at - f.since <= limits.failureWindowMs);
      entry = { count: 0, since: at };
      failures.set(key, entry);
    }
    entry.count++;
    return entry.count;
  };

  const banConnection = (connection: Connection): void => {
    banKey(`peer:${connection.remotePeer.toString()}`);
    const ip = remoteIp(connection.remoteAddr);
    if (ip !== undefined && !isValidatorIp(ip)) {
      banKey(`ip:${ip}`);
      log.warn("banned an IP", { ip, banMs: limits.banMs });
      closeIp(ip, "the IP is banned");
    }
  };

  return {
    limits,
    gater,
    setValidatorIps(ips) {
      axonIps = new Set(ips);
    },
    isValidatorIp,
    markAuthenticated(connection) {
      const entry = tracked.get(connectionKey(connection.remoteAddr));
      if (entry) {
        entry.authenticated = true;
        clearTimeout(entry.timer);
        promote(entry);
      }
      const ip = remoteIp(connection.remoteAddr);
      if (ip === undefined) return;
      prune(learnedIps, (until) => until > now());
      learnedIps.set(ip, now() + limits.validatorIpTrustMs);
      failures.delete(`peer:${connection.remotePeer.toString()}`);
    },
    recordFailure(connection) {
      const peerCount = failureCount(`peer:${connection.remotePeer.toString()}`);
      const ip = remoteIp(connection.remoteAddr);
      const ipCount = ip === undefined ? 0 : failureCount(`ip:${ip}`);
      const ipBanned = ip !== undefined && ipCount >= limits.maxFailures && !isValidatorIp(ip);
      if (peerCount < limits.maxFailures && !ipBanned) return false;
      banConnection(connection);
      return true;
    },
    ban: banConnection,
    isBanned(connection) {
      const ip = remoteIp(connection.remoteAddr);
      return (
        isKeyBanned(`peer:${connection.remotePeer.toString()}`) ||
        (ip !== undefined && isKeyBanned(`ip:${ip}`))
      );
    },
    counts: () => ({ ...totals }),
    stop() {
      for (const entry of tracked.values()) clearTimeout(entry.timer);
    },
  };
}
