/**
 * The validator's client API (the gateway of issue 15): plain node:http over a StorageService.
 * Routes and statuses are design-15.md's "HTTP API"; every refusal has one shape,
 * `{"error": {"code", "message"}}`.
 *
 * Order of work for a request, cheapest first, so a request that cannot succeed costs little:
 * route and method → Epistula headers (parse, clock, recipient, replay) → the put's declared
 * length and digest → the signature over that declared digest → rate → allow list → size →
 * puts in flight → quota; only then is a put's body read. The body streams to `service.put`
 * while it is counted and hashed, and `beforeCommit` refuses (400) a body whose length or
 * SHA-256 is not the declared one, so the signature really covers what is stored. A client
 * that disconnects or goes quiet mid-body aborts the put; nothing becomes visible.
 *
 * Slow clients: the request head must arrive within `headersTimeoutMs`; a put's body may not
 * pause longer than `idleTimeoutMs` while the gateway waits for it; any other connection that
 * stays silent that long (a reader that stopped reading) is closed. Node's `requestTimeout` is
 * off because a 10 GiB body takes as long as it takes: a request other than a put has no body
 * (one that declares a body is refused before it is read), so it is complete with its head.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { KeyringPair } from "@polkadot/keyring/types";
import { CID } from "multiformats/cid";
import { bytesEqual } from "../../../protocol/bytes.js";
import { authReady } from "../../auth.js";
import { createEpistulaVerifier, type EpistulaResult } from "../../epistula.js";
import type { Logger } from "../../logger.js";
import type { MetricsRegistry } from "../../metrics.js";
import {
  FileNotFoundError,
  FileUnavailableError,
  NetworkFullError,
  RangeNotSatisfiableError,
  type Requester,
  type StorageService,
} from "../storage/service.js";
import { ApiError, errorBody } from "./api-error.js";
import { parseByteRange } from "./byte-range.js";
import { parseContentDigest } from "./content-digest.js";
import type { GatewaySettings } from "./gateway-settings.js";
import { createRateLimiter } from "./rate-limiter.js";

/** The API's version, reported by /v1/info: the `/v1` of its paths. */
export const GATEWAY_API_VERSION = 1;

/** The IPFS trustless-gateway content type of one block. */
export const IPLD_RAW = "application/vnd.ipld.raw";

/** A file's bytes never change under its CID: caches may keep public ones for good (Kubo's value). */
const IMMUTABLE_CACHE = "public, max-age=29030400, immutable";

const EMPTY_SHA256 = createHash("sha256").digest();

export interface GatewayServerInit {
  service: StorageService;
  /** The validator's hotkey: requests must be signed for it; /v1/info reports it. */
  hotkey: Pick<KeyringPair, "address" | "publicKey">;
  netuid: number;
  settings: GatewaySettings;
  log: Logger;
  metrics: MetricsRegistry;
  /** Clock for Epistula timestamps, Unix ms; default Date.now. */
  now?: () => number;
}

export interface GatewayAddress {
  host: string;
  port: number;
  /** `http://host:port`, for clients and logs. */
  url: string;
}

export interface GatewayServer {
  /** Starts accepting; resolves with the bound address (port 0 picks a free one). */
  listen(port: number, host?: string): Promise<GatewayAddress>;
  /** Stops accepting, aborts puts and reads in flight (nothing half-stored becomes visible), closes every connection. */
  close(): Promise<void>;
}

type RouteName = "info" | "files" | "file" | "file_status" | "ipfs" | "unknown";

interface Route {
  name: RouteName;
  methods: readonly string[];
  cid?: string;
}

/**
 * The client API over `service`.
 *
 * @example
 * const gateway = createGatewayServer({ service, hotkey, netuid, settings: gatewaySettingsFrom(config), log, metrics });
 * const { url } = await gateway.listen(config["api.port"], config["api.host"]);
 */
export function createGatewayServer(init: GatewayServerInit): GatewayServer {
  const { service, settings, netuid } = init;
  const log = init.log.child({ component: "gateway" });
  const now = init.now ?? Date.now;
  const verifier = createEpistulaVerifier({ recipient: init.hotkey.publicKey, now });
  const limiterInit = { rate: settings.rate, burst: settings.burst, maxKeys: settings.maxRateKeys };
  const hotkeyRate = createRateLimiter(limiterInit);
  const anonymousRate = createRateLimiter(limiterInit);
  // Requests that fail authentication are billed to their IP, so forged signatures cost their
  // sender the same rate as anonymous reads and cannot spend a victim hotkey's tokens.
  const failedAuthRate = createRateLimiter(limiterInit);
  const putsByHotkey = new Map<string, number>();
  let putsInFlight = 0;
  const shutdown = new AbortController();
  /** The request being answered on each socket. */
  const current = new WeakMap<Socket, IncomingMessage>();
  /** Sockets whose last answer closes them: whatever else arrives on them is not parsed as a request. */
  const closing = new WeakSet<Socket>();

  const metrics = {
    requests: init.metrics.counter(
      "validator_api_requests_total",
      "Client API requests, by route and status",
      {
        labelNames: ["route", "method", "status"],
      },
    ),
    bytesIn: init.metrics.counter("validator_api_received_bytes_total", "Request body bytes received", {
      labelNames: ["route"],
    }),
    bytesOut: init.metrics.counter("validator_api_sent_bytes_total", "Response body bytes sent", {
      labelNames: ["route"],
    }),
    latency: init.metrics.histogram("validator_api_request_seconds", "Client API request time, by route", {
      labelNames: ["route"],
    }),
    timeouts: init.metrics.counter(
      "validator_api_timeouts_total",
      "Connections closed for silence, and puts aborted for a stalled body",
      { labelNames: ["kind"] },
    ),
  };
  init.metrics.gauge("validator_api_puts_in_flight", "Puts whose body is being stored", () => putsInFlight);

  // ------------------------------------------------------------------------------------------ replies

  const sendJson = (res: ServerResponse, route: RouteName, status: number, value: unknown): void => {
    const body = Buffer.from(JSON.stringify(value));
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": body.length,
      ...(res.socket !== null && closing.has(res.socket) ? { connection: "close" } : {}),
    });
    res.end(body);
    metrics.bytesOut.inc({ route }, body.length);
  };

  const sendError = (res: ServerResponse, route: RouteName, error: ApiError, closeAfter: boolean): void => {
    if (res.headersSent || res.destroyed) return;
    const body = Buffer.from(errorBody(error.code, error.message));
    res.writeHead(error.status, {
      ...error.headers,
      "content-type": "application/json; charset=utf-8",
      "content-length": body.length,
      // An unread body would otherwise be drained (or be parsed as the next request).
      ...(closeAfter || (res.socket !== null && closing.has(res.socket)) ? { connection: "close" } : {}),
    });
    if (closeAfter && res.socket !== null) closing.add(res.socket);
    res.end(body);
    metrics.bytesOut.inc({ route }, body.length);
  };

  /** The API's answer to a failure of the storage layer (or of this one). */
  const toApiError = (error: unknown, route: RouteName, cid: string | undefined): ApiError => {
    if (error instanceof ApiError) return error;
    if (error instanceof FileNotFoundError) return notFound(cid);
    if (error instanceof NetworkFullError) {
      return new ApiError(507, "network_full", `the network cannot take the file now: ${error.shortMessage}`);
    }
    if (error instanceof FileUnavailableError) {
      return new ApiError(503, "file_unavailable", `the file cannot be rebuilt now: ${error.shortMessage}`);
    }
    if (error instanceof RangeNotSatisfiableError) return rangeError(error.shortMessage, error.size);
    log.error("request failed", { route, cid, error: String(error), stack: (error as Error)?.stack });
    return new ApiError(500, "internal_error", "the gateway failed to serve the request; see its logs");
  };

  // ------------------------------------------------------------------------------------ authentication

  const remoteIp = (req: IncomingMessage): string => req.socket.remoteAddress ?? "unknown";

  const refusalOf = (result: Exclude<EpistulaResult, { ok: true }>): ApiError =>
    result.status === 429
      ? new ApiError(429, result.code, result.message, {
          headers: { "retry-after": String(Math.max(1, Math.ceil(result.retryAfterMs / 1000))) },
        })
      : new ApiError(result.status, result.code, result.message);

  const rateRefusal = (retryAfterSeconds: number, message: string): ApiError =>
    new ApiError(429, "rate_limited", message, { headers: { "retry-after": String(retryAfterSeconds) } });

  /** Bills a request to its IP (anonymous) before any work. */
  const chargeIp = (req: IncomingMessage): void => {
    const taken = anonymousRate.take(remoteIp(req));
    if (!taken.ok) throw rateRefusal(taken.retryAfterSeconds, "too many requests from this address");
  };

  /** The cheap header checks, with a refusal billed to the sender's IP. */
  const checkHeaders = (req: IncomingMessage, receivedAt: number): void => {
    const ip = remoteIp(req);
    if (!failedAuthRate.has(ip)) {
      throw rateRefusal(1, "too many requests that failed authentication from this address");
    }
    const early = verifier.checkHeaders(req.headers, { receivedAt });
    if (!early.ok) {
      failedAuthRate.take(ip);
      throw refusalOf(early);
    }
  };

  /** The signature over `digest`, then the signer's rate; returns the hotkey. */
  const verifySigned = (req: IncomingMessage, digest: Uint8Array, receivedAt: number): string => {
    const result = verifier.verify(req.headers, digest, { receivedAt });
    if (!result.ok) {
      if (result.status !== 429) failedAuthRate.take(remoteIp(req));
      throw refusalOf(result);
    }
    const taken = hotkeyRate.take(result.hotkey);
    if (!taken.ok) throw rateRefusal(taken.retryAfterSeconds, "too many requests from this hotkey");
    return result.hotkey;
  };

  /**
   * Who asks, for a request without a body: a verified hotkey when it carries Epistula headers,
   * else null (anonymous, billed to its IP), or 401 where a signature is required.
   */
  const authenticate = (req: IncomingMessage, anonymousAllowed: boolean): Requester => {
    const receivedAt = now();
    refuseBody(req);
    if (!isSigned(req)) {
      chargeIp(req);
      if (!anonymousAllowed) throw unsigned();
      return null;
    }
    checkHeaders(req, receivedAt);
    const declared = header(req, "content-digest");
    if (declared !== undefined) {
      const digest = parseContentDigest(declared);
      if (digest === undefined) throw badDigestHeader();
      if (!bytesEqual(digest, EMPTY_SHA256)) {
        throw new ApiError(400, "digest_mismatch", "Content-Digest is not the SHA-256 of an empty body");
      }
    }
    return verifySigned(req, EMPTY_SHA256, receivedAt);
  };

  // -------------------------------------------------------------------------------------------- puts

  const put = async (req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> => {
    const receivedAt = now();
    if (!isSigned(req)) {
      chargeIp(req);
      throw unsigned();
    }
    checkHeaders(req, receivedAt);
    if (req.headers["transfer-encoding"] !== undefined) {
      throw new ApiError(411, "length_required", "send the body with a Content-Length, not chunked");
    }
    const lengthText = req.headers["content-length"];
    if (lengthText === undefined) {
      throw new ApiError(411, "length_required", "a put needs a Content-Length header");
    }
    const size = Number(lengthText);
    if (!/^\d{1,16}$/.test(lengthText) || !Number.isSafeInteger(size)) {
      throw new ApiError(400, "bad_header", "Content-Length must be a non-negative integer");
    }
    const declaredHeader = header(req, "content-digest");
    if (declaredHeader === undefined) {
      throw new ApiError(400, "missing_header", "a put needs Content-Digest: sha-256=:<base64>:");
    }
    const declared = parseContentDigest(declaredHeader);
    if (declared === undefined) throw badDigestHeader();
    const isPublic = parsePublic(header(req, "x-storage-public"));
    const ttlMs = parseTtl(header(req, "x-storage-ttl"));
    const owner = verifySigned(req, declared, receivedAt);

    if (settings.allow !== null && !settings.allow.has(owner)) {
      throw new ApiError(403, "not_allowed", `${owner} may not store files on this gateway`);
    }
    if (size > settings.maxFileSize) {
      throw new ApiError(
        413,
        "file_too_large",
        `the file is ${size} bytes; this gateway takes at most ${settings.maxFileSize}`,
      );
    }
    if ((putsByHotkey.get(owner) ?? 0) >= settings.maxPutsPerHotkey) {
      throw new ApiError(
        429,
        "too_many_puts",
        `at most ${settings.maxPutsPerHotkey} puts per hotkey at once; wait for one to finish`,
        { headers: { "retry-after": "1" } },
      );
    }
    if (putsInFlight >= settings.maxPutsInFlight) {
      throw new ApiError(429, "gateway_busy", "the gateway is storing as many files as it can; retry soon", {
        headers: { "retry-after": "1" },
      });
    }
    // usage() counts puts in flight (the service's contract), so two puts racing for the last
    // of a quota cannot both pass: this check and the put() below run in one synchronous turn.
    const usage = service.usage(owner);
    if (usage.bytes + size > settings.quotaBytes) {
      throw new ApiError(
        507,
        "quota_exceeded",
        `storing ${size} bytes would exceed your quota (${usage.bytes} of ${settings.quotaBytes} bytes used)`,
      );
    }
    if (usage.files + 1 > settings.quotaFiles) {
      throw new ApiError(
        507,
        "quota_exceeded",
        `you store ${usage.files} files; the quota is ${settings.quotaFiles}`,
      );
    }

    putsByHotkey.set(owner, (putsByHotkey.get(owner) ?? 0) + 1);
    putsInFlight += 1;
    const aborter = new AbortController();
    const abort = (reason: unknown) => aborter.abort(reason);
    const onShutdown = () => abort(shutdown.signal.reason);
    shutdown.signal.addEventListener("abort", onShutdown);
    const onClose = () => {
      if (!req.complete)
        abort(new ApiError(400, "body_incomplete", "the client closed before the whole body"));
    };
    req.on("close", onClose);
    // The socket's idle timeout would also count time the storage keeps the client waiting
    // (backpressure from miners, the final acknowledgements); the body's own timer below counts
    // only the time spent waiting for the client.
    req.socket.setTimeout(0);
    let refusal: ApiError | undefined;
    const hash = createHash("sha256");
    let received = 0;

    async function* body(): AsyncGenerator<Uint8Array> {
      const chunks = req[Symbol.asyncIterator]();
      // A client gone mid-body may leave the iterator waiting; the abort ends the wait.
      const aborted = new Promise<never>((_, reject) => {
        aborter.signal.addEventListener("abort", () => reject(aborter.signal.reason), { once: true });
      });
      aborted.catch(() => {});
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const stalled = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            metrics.timeouts.inc({ kind: "put_body" });
            refusal = new ApiError(
              408,
              "body_timeout",
              `no body bytes for ${settings.idleTimeoutMs} ms; the put is aborted`,
            );
            reject(refusal);
            abort(refusal);
          }, settings.idleTimeoutMs);
        });
        let next: IteratorResult<Buffer>;
        try {
          next = await Promise.race([chunks.next(), stalled, aborted]);
        } finally {
          clearTimeout(timer);
        }
        if (next.done) return;
        received += next.value.length;
        if (received > size) {
          refusal = new ApiError(
            400,
            "body_too_long",
            `the body is longer than its Content-Length (${size})`,
          );
          throw refusal;
        }
        hash.update(next.value);
        metrics.bytesIn.inc({ route: "files" }, next.value.length);
        yield next.value;
      }
    }

    const beforeCommit = (): void => {
      if (received !== size) {
        refusal = new ApiError(
          400,
          "body_length_mismatch",
          `the body has ${received} bytes; Content-Length said ${size}`,
        );
        throw refusal;
      }
      if (!bytesEqual(hash.digest(), declared)) {
        refusal = new ApiError(400, "digest_mismatch", "the body's SHA-256 is not the one in Content-Digest");
        throw refusal;
      }
    };

    try {
      const stored = service.put({ owner, size, public: isPublic, ttlMs }, body(), {
        signal: aborter.signal,
        beforeCommit,
      });
      if (expectContinue) res.writeContinue();
      const info = await stored;
      res.setHeader("location", `/v1/files/${info.cid}`);
      sendJson(res, "files", 201, info);
      log.info("stored", { cid: info.cid, owner, size, public: isPublic });
    } catch (error) {
      if (aborter.signal.aborted && refusal === undefined) {
        log.debug("put aborted", { owner, size, received, reason: String(aborter.signal.reason) });
        const reason = aborter.signal.reason;
        if (reason instanceof ApiError) sendError(res, "files", reason, true);
        else res.destroy();
        return;
      }
      sendError(res, "files", refusal ?? toApiError(error, "files", undefined), hasUnreadBody(req));
    } finally {
      req.off("close", onClose);
      shutdown.signal.removeEventListener("abort", onShutdown);
      const left = (putsByHotkey.get(owner) ?? 1) - 1;
      if (left === 0) putsByHotkey.delete(owner);
      else putsByHotkey.set(owner, left);
      putsInFlight -= 1;
    }
  };

  // ------------------------------------------------------------------------------------------- reads

  /** Streams `chunks` as the body after the head, with backpressure; ends the socket on a failure. */
  const stream = async (
    res: ServerResponse,
    route: RouteName,
    chunks: AsyncIterator<Uint8Array>,
    first: IteratorResult<Uint8Array>,
    signal: AbortSignal,
  ): Promise<void> => {
    let next = first;
    try {
      while (!next.done) {
        metrics.bytesOut.inc({ route }, next.value.length);
        if (!res.write(next.value)) await once(res, "drain", { signal });
        next = await chunks.next();
      }
      res.end();
    } catch (error) {
      // The head is out: the only way left to say "failed" is a body shorter than its length.
      if (!signal.aborted) log.warn("read failed mid-body", { route, error: String(error) });
      res.destroy();
    } finally {
      await chunks.return?.();
    }
  };

  const readSignal = (res: ServerResponse): AbortSignal => {
    const aborter = new AbortController();
    res.on("close", () => aborter.abort());
    return AbortSignal.any([aborter.signal, shutdown.signal]);
  };

  const getFile = async (req: IncomingMessage, res: ServerResponse, cid: string): Promise<void> => {
    const requester = authenticate(req, true);
    const info = service.stat(cid, requester);
    if (info === undefined) throw notFound(cid);
    const etag = `"${info.cid}"`;
    const headers: Record<string, string | number> = {
      "accept-ranges": "bytes",
      etag,
      "content-type": "application/octet-stream",
      "cache-control": info.public ? IMMUTABLE_CACHE : "private, no-cache",
    };
    if (header(req, "if-none-match") === etag) {
      res.writeHead(304, headers).end();
      return;
    }
    const range = parseByteRange(header(req, "range"), info.size);
    if (range.kind === "unsatisfiable") throw rangeError(range.reason, info.size);
    const status = range.kind === "partial" ? 206 : 200;
    const length = range.kind === "partial" ? range.length : info.size;
    headers["content-length"] = length;
    if (range.kind === "partial") {
      headers["content-range"] = `bytes ${range.offset}-${range.offset + range.length - 1}/${info.size}`;
    }
    if (req.method === "HEAD") {
      // No block is fetched for a HEAD, so the file index answers whether the file can be read: a
      // stripe with fewer good pieces than data shards (health below 0) cannot be rebuilt.
      const health = service.status(info.cid, requester)?.health ?? 0;
      if (health < 0) throw new ApiError(503, "file_unavailable", "the file cannot be rebuilt now");
      res.writeHead(status, headers).end();
      return;
    }
    const signal = readSignal(res);
    const chunks = service
      .read(info.cid, requester, {
        signal,
        ...(range.kind === "partial" ? { range: { offset: range.offset, length: range.length } } : {}),
      })
      [Symbol.asyncIterator]();
    let first: IteratorResult<Uint8Array>;
    try {
      // The first block is fetched before the head goes out, so a file that cannot be read gets
      // its status (404, 503) instead of a 200 that breaks off.
      first = await chunks.next();
    } catch (error) {
      await chunks.return?.().catch(() => undefined);
      throw toApiError(error, "file", cid);
    }
    res.writeHead(status, headers);
    await stream(res, "file", chunks, first, signal);
  };

  const getBlock = async (
    req: IncomingMessage,
    res: ServerResponse,
    cid: string,
    url: URL,
  ): Promise<void> => {
    const format = url.searchParams.get("format");
    const accept = header(req, "accept") ?? "";
    const wantsRaw = format === "raw" || (format === null && accept.toLowerCase().includes(IPLD_RAW));
    if (!wantsRaw) {
      throw new ApiError(
        400,
        "unsupported_format",
        `this trustless gateway serves blocks only: ask /ipfs/{cid}?format=raw or Accept: ${IPLD_RAW}`,
      );
    }
    const requester = authenticate(req, true);
    const signal = readSignal(res);
    let block: Uint8Array | undefined;
    try {
      block = await service.block(cid, requester, { signal });
    } catch (error) {
      throw toApiError(error, "ipfs", cid);
    }
    if (block === undefined) throw notFound(cid);
    res.writeHead(200, {
      "content-type": IPLD_RAW,
      "content-length": block.length,
      etag: `"${cid}.raw"`,
      "x-content-type-options": "nosniff",
      "content-disposition": `attachment; filename="${cid}.bin"`,
      "cache-control": requester === null ? IMMUTABLE_CACHE : "private, no-cache",
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    res.end(block);
    metrics.bytesOut.inc({ route: "ipfs" }, block.length);
  };

  // ------------------------------------------------------------------------------------------ routing

  const dispatch = async (
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    url: URL,
    expectContinue: boolean,
  ): Promise<void> => {
    const method = req.method ?? "";
    const cid = route.cid === undefined ? undefined : parseCid(route.cid);
    switch (route.name) {
      case "info":
        refuseBody(req);
        chargeIp(req);
        sendJson(res, "info", 200, {
          hotkey: init.hotkey.address,
          netuid,
          version: GATEWAY_API_VERSION,
          dataShards: settings.dataShards,
          parityShards: settings.parityShards,
          maxFileSize: settings.maxFileSize,
          publicUrl: settings.publicUrl,
        });
        return;
      case "files":
        if (method === "POST") return put(req, res, expectContinue);
        sendJson(res, "files", 200, { files: service.list(authenticate(req, false) as string) });
        return;
      case "file":
        if (method === "DELETE") {
          const owner = authenticate(req, false) as string;
          if (!service.remove(cid!, owner)) throw notFound(cid);
          log.info("removed", { cid, owner });
          sendJson(res, "file", 200, { cid, removed: true });
          return;
        }
        return getFile(req, res, cid!);
      case "file_status": {
        const status = service.status(cid!, authenticate(req, true));
        if (status === undefined) throw notFound(cid);
        sendJson(res, "file_status", 200, status);
        return;
      }
      case "ipfs":
        return getBlock(req, res, cid!, url);
      case "unknown":
        throw new ApiError(404, "not_found", `no route ${url.pathname}; see /v1/info`);
    }
  };

  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
    expectContinue: boolean,
  ): Promise<void> => {
    const started = performance.now();
    const method = req.method ?? "";
    let route: Route = { name: "unknown", methods: [] };
    const socket = req.socket;
    current.set(socket, req);
    res.on("close", () => {
      if (current.get(socket) === req) current.delete(socket);
      const status = res.writableFinished ? String(res.statusCode) : "aborted";
      metrics.requests.inc({ route: route.name, method: knownMethod(method), status });
      metrics.latency.observe((performance.now() - started) / 1000, { route: route.name });
    });
    try {
      let url: URL;
      try {
        url = new URL(req.url ?? "/", "http://gateway");
      } catch {
        throw new ApiError(400, "bad_request", "the request target is not a path");
      }
      route = matchRoute(url.pathname);
      if (route.name === "unknown") chargeIp(req);
      else if (!route.methods.includes(method)) {
        chargeIp(req);
        throw new ApiError(405, "method_not_allowed", `${method} is not allowed on ${url.pathname}`, {
          headers: { allow: route.methods.join(", ") },
        });
      }
      await dispatch(req, res, route, url, expectContinue);
    } catch (error) {
      const refusal = toApiError(error, route.name, route.cid);
      // A request refused before its body was read closes its connection rather than drain the body.
      sendError(res, route.name, refusal, hasUnreadBody(req));
    }
  };

  const server: Server = createServer({
    maxHeaderSize: settings.maxHeaderBytes,
    headersTimeout: settings.headersTimeoutMs,
    requestTimeout: 0,
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    // How often Node checks headersTimeout; its 30 s default would let a slowloris head live 30 s
    // past the limit.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(settings.headersTimeoutMs / 2))),
  });
  server.maxConnections = settings.maxConnections;
  server.timeout = settings.idleTimeoutMs;
  server.on("timeout", (socket: Socket) => {
    metrics.timeouts.inc({ kind: "idle_connection" });
    socket.destroy();
  });
  server.on("request", (req, res) => void handle(req, res, false));
  // Answering the headers of an `Expect: 100-continue` put before the client sends its body.
  server.on("checkContinue", (req, res) => void handle(req, res, true));
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    // Bytes after a request we refused unread, or after a body's declared length (a body longer
    // than its Content-Length): the answer to that request says all there is to say.
    if (closing.has(socket) || !socket.writable || error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const answering = current.get(socket);
    if (answering !== undefined) {
      // Bytes past a complete request while it is being answered: say so in that answer's
      // Connection header. Anything else (a client gone mid-body) ends the connection now.
      if (answering.complete) closing.add(socket);
      else socket.destroy();
      return;
    }
    const [status, reason, code, message] =
      error.code === "HPE_HEADER_OVERFLOW"
        ? [
            431,
            "Request Header Fields Too Large",
            "headers_too_large",
            `the request head is larger than ${settings.maxHeaderBytes} bytes`,
          ]
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [
              408,
              "Request Timeout",
              "headers_timeout",
              `the request head took longer than ${settings.headersTimeoutMs} ms`,
            ]
          : [400, "Bad Request", "bad_request", "the request is not valid HTTP/1.1"];
    const body = errorBody(code, message);
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  return {
    async listen(port, host = "0.0.0.0") {
      await authReady();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
      const bound = { host: address.address, port: address.port, url: `http://${shownHost}:${address.port}` };
      log.info("client API listening", { url: bound.url });
      return bound;
    },
    async close() {
      shutdown.abort(new ApiError(503, "shutting_down", "the gateway is shutting down"));
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function matchRoute(pathname: string): Route {
  if (pathname === "/v1/info") return { name: "info", methods: ["GET"] };
  if (pathname === "/v1/files") return { name: "files", methods: ["GET", "POST"] };
  const parts = pathname.split("/");
  // "", "v1", "files", cid[, "status"]
  if (parts[1] === "v1" && parts[2] === "files" && parts[3]) {
    if (parts.length === 4) return { name: "file", methods: ["GET", "HEAD", "DELETE"], cid: parts[3] };
    if (parts.length === 5 && parts[4] === "status")
      return { name: "file_status", methods: ["GET"], cid: parts[3] };
  }
  if (parts[1] === "ipfs" && parts[2] && parts.length === 3) {
    return { name: "ipfs", methods: ["GET", "HEAD"], cid: parts[2] };
  }
  return { name: "unknown", methods: [] };
}

/** A metric label from a client-chosen method, bounded to the methods HTTP names. */
function knownMethod(method: string): string {
  return ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"].includes(method) ? method : "other";
}

/** The canonical (CIDv1, base32) text of a CID; 400 for anything that does not parse. */
function parseCid(text: string): string {
  try {
    return CID.parse(text).toV1().toString();
  } catch {
    throw new ApiError(400, "bad_cid", `${text.slice(0, 100)} is not a CID`);
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

function isSigned(req: IncomingMessage): boolean {
  return Object.keys(req.headers).some((name) => name.startsWith("epistula-"));
}

/** Only a put has a body; refusing others' before reading them keeps every other request bodiless. */
function refuseBody(req: IncomingMessage): void {
  const length = req.headers["content-length"];
  if (req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0")) {
    throw new ApiError(400, "unexpected_body", `${req.method} requests take no body`);
  }
}

/** Whether the request declared a body that has not been read to its end. */
function hasUnreadBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  const declared = req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
  return declared && !req.readableEnded;
}

function parsePublic(text: string | undefined): boolean {
  if (text === undefined) return false;
  const value = text.trim().toLowerCase();
  if (value === "true") return true;
  if (value === "false") return false;
  throw new ApiError(400, "bad_header", "X-Storage-Public must be true or false");
}

function parseTtl(text: string | undefined): number | null {
  if (text === undefined) return null;
  const seconds = Number(text.trim());
  if (!/^\d{1,12}$/.test(text.trim()) || seconds <= 0) {
    throw new ApiError(400, "bad_header", "X-Storage-Ttl must be a positive number of seconds");
  }
  return seconds * 1000;
}

function unsigned(): ApiError {
  return new ApiError(401, "missing_signature", "this request must be signed (Epistula headers)");
}

function badDigestHeader(): ApiError {
  return new ApiError(400, "bad_header", "Content-Digest must be sha-256=:<base64 of 32 bytes>:");
}

function notFound(cid: string | undefined): ApiError {
  return new ApiError(404, "not_found", `no file ${cid ?? ""} visible to you`.replace("  ", " "));
}

function rangeError(reason: string, size: number): ApiError {
  return new ApiError(416, "range_not_satisfiable", reason, {
    headers: { "content-range": `bytes */${size}` },
  });
}
