/**
 * JSON-RPC 2.0 over WebSocket and HTTP POST on one port, with Substrate-style subscriptions:
 * the reply carries a subscription id, notifications arrive as
 * `{ method: <notification>, params: { subscription, result } }`.
 * Spec: https://www.jsonrpc.org/specification
 */

import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { DevChainError, type DevChainErrorOptions } from "./errors.js";
import type { Logger } from "./executive.js";

/** An error that travels on the wire with a JSON-RPC code. */
export class RpcError extends DevChainError {
  override name = "RpcError";
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
    options?: DevChainErrorOptions,
  ) {
    super(message, options);
  }
}

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
// Server error codes as jsonrpsee (Substrate's RPC server) sends them, so clients that handle a
// Substrate node's limits handle ours.
export const TOO_MANY_SUBSCRIPTIONS = -32006;
export const OVERSIZED_REQUEST = -32007;
export const OVERSIZED_RESPONSE = -32008;
export const TOO_BIG_BATCH_REQUEST = -32010;
export const TOO_BIG_BATCH_RESPONSE = -32011;

/**
 * What one RPC client may cost the dev chain. The names and defaults follow a Substrate node's
 * flags (`--rpc-max-request-size`, `--rpc-max-response-size`, `--rpc-max-connections`,
 * `--rpc-max-subscriptions-per-connection`, `--rpc-max-batch-request-len`,
 * `--rpc-message-buffer-capacity-per-connection`); Substrate leaves the batch length unlimited,
 * we cap it because one batch is executed on the chain's only thread.
 */
export interface RpcLimits {
  /** Largest request body or WebSocket message, in bytes. */
  maxRequestBytes: number;
  /** Largest single reply, or a batch's replies together, in bytes. */
  maxResponseBytes: number;
  /** Open WebSocket connections; more are refused with HTTP 503 at the upgrade. */
  maxConnections: number;
  maxSubscriptionsPerConnection: number;
  /** Calls in one batch. */
  maxBatchLength: number;
  /** Messages a WebSocket connection may have in progress; past it the server stops reading it for a while. */
  maxInFlightPerConnection: number;
  /**
   * Bytes queued for a WebSocket client that does not read them. Past it the connection is closed
   * (a slow consumer would otherwise hold the chain's memory for ever).
   */
  maxSendBufferBytes: number;
}

const MiB = 1024 * 1024;
export const DEFAULT_RPC_LIMITS: Readonly<RpcLimits> = Object.freeze({
  maxRequestBytes: 15 * MiB,
  maxResponseBytes: 15 * MiB,
  maxConnections: 100,
  maxSubscriptionsPerConnection: 1024,
  maxBatchLength: 1000,
  maxInFlightPerConnection: 64,
  maxSendBufferBytes: 32 * MiB,
});

/** How often a long batch yields to the event loop, so block production keeps its pace. */
const BATCH_YIELD_EVERY = 64;

/** A handler's answer that opens a subscription. */
export class Subscription {
  constructor(
    /** Notification method name, e.g. `chain_newHead`. */
    readonly notification: string,
    /** Called after the reply is sent; returns the cleanup. */
    readonly start: (emit: (result: unknown) => void, close: (result?: unknown) => void) => () => void,
  ) {}
}

export type RpcHandler = (params: unknown[]) => unknown;

export interface RpcMethods {
  /** Method name -> handler; a handler may return a {@link Subscription}. */
  handlers: Record<string, RpcHandler>;
  /** Names of unsubscribe methods (take the subscription id, return a boolean). */
  unsubscribe: string[];
}

export interface RpcServerOptions {
  host: string;
  port: number;
  methods: RpcMethods;
  log: Logger;
  /** Caps; each missing one takes its {@link DEFAULT_RPC_LIMITS} value. */
  limits?: Partial<RpcLimits>;
}

interface Connection {
  /** Sends text already serialised (and size-checked) by the server. */
  send(text: string): void;
  subscriptions: Map<string, () => void>;
}

type Request = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };

const errorReply = (id: unknown, code: number, message: string, data?: unknown) => ({
  jsonrpc: "2.0",
  id: id ?? null,
  error: data === undefined ? { code, message } : { code, message, data },
});

const toJson = (v: unknown): string =>
  JSON.stringify(v, (_k, x) =>
    typeof x === "bigint" ? (x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString()) : x,
  );

/** JSON-RPC 2.0: "An identifier ... MUST contain a String, Number, or NULL value if included." */
const isValidId = (id: unknown): boolean => id === null || typeof id === "string" || typeof id === "number";

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class RpcServer {
  #http: Server | null = null;
  #wss: WebSocketServer | null = null;
  readonly #connections = new Set<Connection>();
  readonly #sockets = new Set<WebSocket>();
  readonly #limits: RpcLimits;
  #port = 0;

  constructor(private readonly options: RpcServerOptions) {
    this.#limits = { ...DEFAULT_RPC_LIMITS, ...options.limits };
  }

  get port(): number {
    return this.#port;
  }

  get limits(): Readonly<RpcLimits> {
    return this.#limits;
  }

  async start(): Promise<void> {
    const http = createServer((req, res) => this.#onHttp(req, res));
    // A client that trickles a request body holds a socket, not the chain: bound how long.
    http.requestTimeout = 30_000;
    http.headersTimeout = 10_000;
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.#limits.maxRequestBytes,
    });
    http.on("upgrade", (req, socket, head) => {
      socket.on("error", () => socket.destroy());
      if (this.#sockets.size >= this.#limits.maxConnections) {
        socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws));
    });
    wss.on("error", (e) => this.options.log("websocket server error", e));
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(this.options.port, this.options.host, () => {
        http.off("error", reject);
        resolve();
      });
    });
    http.on("error", (e) => this.options.log("http server error", e));
    this.#http = http;
    this.#wss = wss;
    this.#port = (http.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const c of this.#connections) for (const stop of c.subscriptions.values()) stop();
    this.#connections.clear();
    for (const ws of this.#sockets) ws.terminate();
    this.#sockets.clear();
    await new Promise<void>((resolve) => (this.#wss ? this.#wss.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => {
      if (!this.#http) return resolve();
      this.#http.closeAllConnections?.();
      this.#http.close(() => resolve());
    });
    this.#wss = null;
    this.#http = null;
  }

  #onSocket(ws: WebSocket): void {
    this.#sockets.add(ws);
    const conn: Connection = {
      send: (text) => {
        if (ws.readyState !== ws.OPEN) return;
        if (ws.bufferedAmount + text.length > this.#limits.maxSendBufferBytes) {
          // A client that does not read its replies and notifications would make us hold them
          // for ever; drop it, as a Substrate node drops a connection whose buffer is full.
          this.options.log("rpc client is not reading its messages; closing the connection");
          ws.terminate();
          return;
        }
        ws.send(text);
      },
      subscriptions: new Map(),
    };
    this.#connections.add(conn);
    // Backpressure rather than refusals: past the cap the server stops reading this connection
    // (the client's further messages wait in the kernel's buffers) until answers go out.
    let inFlight = 0;
    ws.on("message", (data) => {
      if (++inFlight >= this.#limits.maxInFlightPerConnection) ws.pause();
      void this.#onText(conn, data.toString(), true)
        .catch((e) => this.options.log("rpc failure", e))
        .finally(() => {
          if (inFlight-- === this.#limits.maxInFlightPerConnection && ws.readyState === ws.OPEN) ws.resume();
        });
    });
    ws.on("error", () => ws.terminate());
    ws.on("close", () => {
      for (const stop of conn.subscriptions.values()) stop();
      conn.subscriptions.clear();
      this.#connections.delete(conn);
      this.#sockets.delete(ws);
    });
  }

  #onHttp(req: IncomingMessage, res: ServerResponse): void {
    req.on("error", () => req.destroy());
    if (req.method !== "POST") {
      res.writeHead(405, { "content-type": "text/plain" }).end("JSON-RPC accepts POST only\n");
      return;
    }
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > this.#limits.maxRequestBytes) {
      this.#refuseOversized(res);
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      if (res.writableEnded) return;
      size += c.length;
      if (size > this.#limits.maxRequestBytes) {
        this.#refuseOversized(res);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (res.writableEnded) return;
      let reply = "";
      const conn: Connection = { send: (text) => (reply = text), subscriptions: new Map() };
      void this.#onText(conn, Buffer.concat(chunks).toString("utf8"), false)
        .catch((e) => {
          this.options.log("rpc failure", e);
          reply = toJson(errorReply(null, INTERNAL_ERROR, "Internal error"));
        })
        .finally(() => {
          if (!res.writableEnded) res.writeHead(200, { "content-type": "application/json" }).end(reply);
        });
    });
  }

  #refuseOversized(res: ServerResponse): void {
    if (res.writableEnded) return;
    res
      .writeHead(413, { "content-type": "application/json", connection: "close" })
      .end(toJson(errorReply(null, OVERSIZED_REQUEST, "Request is too big")));
  }

  /** Serialises one reply; a reply that cannot be serialised or is too big becomes an error reply. */
  #serialise(reply: unknown, id: unknown): string {
    let text: string;
    try {
      text = toJson(reply);
    } catch (e) {
      this.options.log("rpc reply could not be serialised", e);
      return toJson(errorReply(isValidId(id) ? id : null, INTERNAL_ERROR, "Internal error"));
    }
    if (text.length > this.#limits.maxResponseBytes)
      return toJson(errorReply(isValidId(id) ? id : null, OVERSIZED_RESPONSE, "Response is too big"));
    return text;
  }

  async #onText(conn: Connection, text: string, canSubscribe: boolean): Promise<void> {
    if (text.length > this.#limits.maxRequestBytes) {
      conn.send(toJson(errorReply(null, OVERSIZED_REQUEST, "Request is too big")));
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      conn.send(toJson(errorReply(null, PARSE_ERROR, "Parse error")));
      return;
    }
    if (Array.isArray(parsed)) {
      if (parsed.length === 0) {
        conn.send(toJson(errorReply(null, INVALID_REQUEST, "Invalid request")));
        return;
      }
      if (parsed.length > this.#limits.maxBatchLength) {
        conn.send(
          toJson(
            errorReply(
              null,
              TOO_BIG_BATCH_REQUEST,
              `The batch request was too large: ${parsed.length} calls, at most ${this.#limits.maxBatchLength}`,
            ),
          ),
        );
        return;
      }
      const replies: string[] = [];
      let bytes = 2;
      const after: Array<() => void> = [];
      const opened: string[] = [];
      for (const [i, r] of parsed.entries()) {
        if (i > 0 && i % BATCH_YIELD_EVERY === 0) await yieldToEventLoop();
        const out = await this.#handle(conn, r as Request, canSubscribe);
        if (out.after) after.push(out.after);
        opened.push(...(out.subscriptionIds ?? []));
        if (out.reply === undefined) continue;
        const reply = this.#serialise(out.reply, (r as Request)?.id);
        bytes += reply.length + 1;
        if (bytes > this.#limits.maxResponseBytes) {
          // Subscriptions opened earlier in this batch are dropped with it: their ids never
          // reached the client, so it could not unsubscribe them.
          for (const id of opened) conn.subscriptions.delete(id);
          conn.send(toJson(errorReply(null, TOO_BIG_BATCH_RESPONSE, "The batch response was too large")));
          return;
        }
        replies.push(reply);
      }
      if (replies.length > 0) conn.send(`[${replies.join(",")}]`);
      for (const a of after) a();
      return;
    }
    const out = await this.#handle(conn, parsed as Request, canSubscribe);
    if (out.reply !== undefined) conn.send(this.#serialise(out.reply, (parsed as Request)?.id));
    out.after?.();
  }

  async #handle(
    conn: Connection,
    req: Request,
    canSubscribe: boolean,
  ): Promise<{ reply?: unknown; after?: () => void; subscriptionIds?: string[] }> {
    if (typeof req !== "object" || req === null || Array.isArray(req))
      return { reply: errorReply(null, INVALID_REQUEST, "Invalid request") };
    if ("id" in req && !isValidId(req.id))
      return {
        reply: errorReply(null, INVALID_REQUEST, "Invalid request: id must be a string, a number or null"),
      };
    if (typeof req.method !== "string")
      return { reply: errorReply(req.id, INVALID_REQUEST, "Invalid request") };
    const isNotification = !("id" in req);
    const id = req.id;
    const params = req.params === undefined ? [] : req.params;
    if (!Array.isArray(params) && (typeof params !== "object" || params === null))
      return { reply: errorReply(id, INVALID_PARAMS, "Invalid params") };
    const list = Array.isArray(params) ? params : Object.values(params as Record<string, unknown>);
    const method = req.method;
    const wrap = (result: unknown) => (isNotification ? {} : { reply: { jsonrpc: "2.0", id, result } });
    try {
      if (this.options.methods.unsubscribe.includes(method)) {
        const subId = list[0];
        if (typeof subId !== "string" && typeof subId !== "number")
          throw new RpcError(INVALID_PARAMS, "Invalid params: expected a subscription id");
        const stop = conn.subscriptions.get(String(subId));
        if (stop) {
          stop();
          conn.subscriptions.delete(String(subId));
        }
        return wrap(stop !== undefined);
      }
      // Own properties only: `__proto__`, `constructor` and friends are not methods.
      const handler = Object.hasOwn(this.options.methods.handlers, method)
        ? this.options.methods.handlers[method]
        : undefined;
      if (!handler) throw new RpcError(METHOD_NOT_FOUND, `Method not found: ${method.slice(0, 100)}`);
      const result = await handler(list);
      if (!(result instanceof Subscription)) return wrap(result);
      if (!canSubscribe) throw new RpcError(METHOD_NOT_FOUND, "Subscriptions are not available over HTTP");
      if (conn.subscriptions.size >= this.#limits.maxSubscriptionsPerConnection)
        throw new RpcError(
          TOO_MANY_SUBSCRIPTIONS,
          `Exceeded max limit of ${this.#limits.maxSubscriptionsPerConnection} subscriptions on this connection`,
        );
      const subId = randomBytes(8).toString("hex");
      let closed = false;
      const emit = (r: unknown) => {
        if (!closed)
          conn.send(
            this.#serialise(
              { jsonrpc: "2.0", method: result.notification, params: { subscription: subId, result: r } },
              null,
            ),
          );
      };
      const close = (r?: unknown) => {
        if (r !== undefined) emit(r);
        closed = true;
        conn.subscriptions.get(subId)?.();
        conn.subscriptions.delete(subId);
      };
      let stop: (() => void) | null = null;
      // The slot is taken now, so a batch cannot open more than the cap before its replies go out.
      conn.subscriptions.set(subId, () => {
        closed = true;
        stop?.();
      });
      return {
        reply: { jsonrpc: "2.0", id, result: subId },
        subscriptionIds: [subId],
        after: () => {
          if (!conn.subscriptions.has(subId)) return;
          try {
            stop = result.start(emit, close);
            if (closed) stop();
          } catch (e) {
            this.options.log(`subscription ${method} failed`, e);
            conn.subscriptions.delete(subId);
          }
        },
      };
    } catch (e) {
      if (isNotification) return {};
      if (e instanceof RpcError) return { reply: errorReply(id, e.code, e.message, e.data) };
      this.options.log(`${method.slice(0, 100)} failed`, e);
      return { reply: errorReply(id, INTERNAL_ERROR, (e as Error).message ?? "Internal error") };
    }
  }
}
