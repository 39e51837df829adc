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
  /** Largest request accepted. Default 16 MiB. */
  maxPayload?: number;
}

interface Connection {
  send(message: unknown): void;
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

export class RpcServer {
  #http: Server | null = null;
  #wss: WebSocketServer | null = null;
  readonly #connections = new Set<Connection>();
  readonly #sockets = new Set<WebSocket>();
  #port = 0;

  constructor(private readonly options: RpcServerOptions) {}

  get port(): number {
    return this.#port;
  }

  async start(): Promise<void> {
    const maxPayload = this.options.maxPayload ?? 16 * 1024 * 1024;
    const http = createServer((req, res) => this.#onHttp(req, res, maxPayload));
    const wss = new WebSocketServer({ server: http, maxPayload });
    wss.on("connection", (ws) => this.#onSocket(ws));
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
      send: (m) => {
        if (ws.readyState === ws.OPEN) ws.send(toJson(m));
      },
      subscriptions: new Map(),
    };
    this.#connections.add(conn);
    ws.on("message", (data) => {
      void this.#onText(conn, data.toString(), true).catch((e) => this.options.log("rpc failure", e));
    });
    ws.on("error", () => ws.terminate());
    ws.on("close", () => {
      for (const stop of conn.subscriptions.values()) stop();
      conn.subscriptions.clear();
      this.#connections.delete(conn);
      this.#sockets.delete(ws);
    });
  }

  #onHttp(req: IncomingMessage, res: ServerResponse, maxPayload: number): void {
    if (req.method !== "POST") {
      res.writeHead(405, { "content-type": "text/plain" }).end("JSON-RPC accepts POST only\n");
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > maxPayload) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (res.writableEnded) return;
      let reply: unknown = null;
      const conn: Connection = { send: (m) => (reply = m), subscriptions: new Map() };
      void this.#onText(conn, Buffer.concat(chunks).toString("utf8"), false)
        .catch((e) => {
          reply = errorReply(null, INTERNAL_ERROR, (e as Error).message);
        })
        .finally(() => {
          res.writeHead(200, { "content-type": "application/json" }).end(reply === null ? "" : toJson(reply));
        });
    });
  }

  async #onText(conn: Connection, text: string, canSubscribe: boolean): Promise<void> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      conn.send(errorReply(null, PARSE_ERROR, "Parse error"));
      return;
    }
    if (Array.isArray(parsed)) {
      if (parsed.length === 0) {
        conn.send(errorReply(null, INVALID_REQUEST, "Invalid request"));
        return;
      }
      const replies: unknown[] = [];
      const after: Array<() => void> = [];
      for (const r of parsed) {
        const out = await this.#handle(conn, r as Request, canSubscribe);
        if (out.reply !== undefined) replies.push(out.reply);
        if (out.after) after.push(out.after);
      }
      if (replies.length > 0) conn.send(replies);
      for (const a of after) a();
      return;
    }
    const out = await this.#handle(conn, parsed as Request, canSubscribe);
    if (out.reply !== undefined) conn.send(out.reply);
    out.after?.();
  }

  async #handle(
    conn: Connection,
    req: Request,
    canSubscribe: boolean,
  ): Promise<{ reply?: unknown; after?: () => void }> {
    if (typeof req !== "object" || req === null || typeof req.method !== "string")
      return { reply: errorReply(req?.id, INVALID_REQUEST, "Invalid request") };
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
      const handler = this.options.methods.handlers[method];
      if (!handler) throw new RpcError(METHOD_NOT_FOUND, `Method not found: ${method}`);
      const result = await handler(list);
      if (!(result instanceof Subscription)) return wrap(result);
      if (!canSubscribe) throw new RpcError(METHOD_NOT_FOUND, "Subscriptions are not available over HTTP");
      const subId = randomBytes(8).toString("hex");
      let closed = false;
      const emit = (r: unknown) => {
        if (!closed)
          conn.send({
            jsonrpc: "2.0",
            method: result.notification,
            params: { subscription: subId, result: r },
          });
      };
      const close = (r?: unknown) => {
        if (r !== undefined) emit(r);
        closed = true;
        conn.subscriptions.get(subId)?.();
        conn.subscriptions.delete(subId);
      };
      return {
        reply: { jsonrpc: "2.0", id, result: subId },
        after: () => {
          let stop: (() => void) | null = null;
          conn.subscriptions.set(subId, () => {
            closed = true;
            stop?.();
          });
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
      this.options.log(`${method} failed`, e);
      return { reply: errorReply(id, INTERNAL_ERROR, (e as Error).message ?? "Internal error") };
    }
  }
}
