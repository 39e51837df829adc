/**
 * The gateways a client talks to, in order of preference, with fallback: a request goes to the
 * gateway that last answered, and on a connection failure, a timeout or a 5xx to the next one.
 * Each gateway's `/v1/info` (its hotkey, which every signed request names) is read once and
 * cached; a gateway whose info names another hotkey than the one it was discovered under (its
 * on-chain commitment) is skipped.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { ClientError, GatewayError, GatewayProtocolError, GatewayUnavailableError } from "./errors.js";

/** A gateway's base URL and, when known (from its commitment), the hotkey it must answer with. */
export interface Gateway {
  /** Base URL, e.g. `http://127.0.0.1:8080` (a trailing slash is ignored). */
  url: string;
  /** The hotkey (ss58) `/v1/info` must name; unset, whatever it names is used. */
  hotkey?: string;
}

/** Yields gateways in order of preference (discovery.ts `chainGateways` is one). Read lazily, once. */
export type GatewayResolver = () => AsyncIterable<Gateway>;

/** `GET /v1/info`: who the gateway is and what it accepts. */
export interface GatewayInfo {
  hotkey: string;
  netuid: number;
  version: string;
  dataShards: number;
  parityShards: number;
  maxFileSize: number;
  publicUrl: string | null;
}

const gatewayInfoSchema = z.looseObject({
  hotkey: z.string().min(1),
  netuid: z.number().int(),
  version: z.union([z.string(), z.number()]).transform(String),
  dataShards: z.number().int(),
  parityShards: z.number().int(),
  maxFileSize: z.number(),
  publicUrl: z.string().nullable().optional(),
});

/** A gateway whose info has been read: where to send, and whom to sign for. */
export interface ResolvedGateway {
  url: string;
  info: GatewayInfo;
}

/**
 * Milliseconds one short request may take (info, list, status, remove, one ≤ 1 MiB block),
 * headers and body. A put has no such limit (it is as long as its file): pass a `signal`.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Times one request waits out a gateway's 429 (rate limited, design 15: `api.rate` requests per
 * second per hotkey, bursts of twice that) and tries the same gateway again before giving up.
 * A large get is one request per 1 MiB block, so it meets the limit by design.
 */
export const DEFAULT_RATE_LIMIT_RETRIES = 8;

/** The longest `Retry-After` the client waits; a gateway asking for more fails the request. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** The wait after a 429 without a usable `Retry-After`. */
const DEFAULT_RETRY_AFTER_MS = 1_000;

/**
 * Bytes of a JSON answer read at most (a listing of the 10,000 files of the default quota is
 * ~4 MB): a gateway cannot make the client buffer more.
 */
export const MAX_JSON_RESPONSE_BYTES = 32 * 1024 * 1024;

/** Bytes of an error body read at most; the rest is dropped. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** The gateway could not be reached, timed out, or is not the gateway it was discovered as. */
class UnreachableError extends ClientError {
  override name = "GatewayUnreachableError";
}

export interface RunOptions {
  signal?: AbortSignal | undefined;
  /**
   * Whether a failure moves on to the next gateway (default: unreachable, timed out or 5xx).
   * The caller's abort never does.
   */
  retry?: (error: unknown) => boolean;
}

export interface GatewayPool {
  /**
   * Runs `attempt` against each gateway in turn until one succeeds or fails in a way that does
   * not move on; throws the last meaningful error, or GatewayUnavailableError when none answered.
   */
  run<T>(attempt: (gateway: ResolvedGateway) => Promise<T>, options?: RunOptions): Promise<T>;
  /** `fetch`, with a network failure or timeout turned into a reason to try the next gateway. */
  fetch(gateway: ResolvedGateway | Gateway, path: string, init: RequestInit): Promise<Response>;
}

export interface GatewayPoolInit {
  gateways: GatewayResolver;
  fetch: typeof globalThis.fetch;
  /** Milliseconds `/v1/info` may take. */
  timeoutMs: number;
  /** Default {@link DEFAULT_RATE_LIMIT_RETRIES}. */
  rateLimitRetries?: number;
}

/** Whether an error is a reason to try the next gateway by default. */
export function isFailover(error: unknown): boolean {
  return error instanceof UnreachableError || (error instanceof GatewayError && error.status >= 500);
}

export function createGatewayPool(init: GatewayPoolInit): GatewayPool {
  const known: Gateway[] = [];
  let iterator: AsyncIterator<Gateway> | undefined;
  let exhausted = false;
  let pulling: Promise<void> = Promise.resolve();
  let preferred: string | undefined;
  const infos = new Map<string, GatewayInfo>();
  const rateLimitRetries = init.rateLimitRetries ?? DEFAULT_RATE_LIMIT_RETRIES;

  /** Makes sure `known` holds more than `index` gateways, unless the resolver has no more. */
  const ensure = (index: number): Promise<void> => {
    const next = pulling.then(async () => {
      while (known.length <= index && !exhausted) {
        iterator ??= init.gateways()[Symbol.asyncIterator]();
        const step = await iterator.next();
        if (step.done) exhausted = true;
        else {
          const url = normalizeUrl(step.value.url);
          if (!known.some((g) => g.url === url)) known.push({ ...step.value, url });
        }
      }
    });
    pulling = next.catch(() => undefined);
    return next;
  };

  async function* candidates(): AsyncGenerator<Gateway> {
    const first = known.find((g) => g.url === preferred);
    if (first !== undefined) yield first;
    for (let index = 0; ; index++) {
      await ensure(index);
      const gateway = known[index];
      if (gateway === undefined) return;
      if (gateway !== first) yield gateway;
    }
  }

  const poolFetch = async (gateway: Gateway, path: string, requestInit: RequestInit): Promise<Response> => {
    try {
      return await init.fetch(`${gateway.url}${path}`, requestInit);
    } catch (cause) {
      // The caller's own abort is not the gateway's failure.
      if (isAbort(cause) && !isTimeout(cause)) throw cause;
      throw new UnreachableError(`${gateway.url} did not answer: ${describe(cause)}`, { cause });
    }
  };

  const infoOf = async (gateway: Gateway, signal: AbortSignal | undefined): Promise<GatewayInfo> => {
    const cached = infos.get(gateway.url);
    if (cached !== undefined) return cached;
    const response = await poolFetch(gateway, "/v1/info", {
      signal: withTimeout(signal, init.timeoutMs),
      headers: { accept: "application/json" },
    });
    const body = await readJson(gateway.url, response);
    const parsed = gatewayInfoSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UnreachableError(
        `${gateway.url}/v1/info is not a gateway's info (${issue?.path.join(".") || "body"}: ${issue?.message})`,
      );
    }
    const info: GatewayInfo = { ...parsed.data, publicUrl: parsed.data.publicUrl ?? null };
    if (gateway.hotkey !== undefined && info.hotkey !== gateway.hotkey) {
      throw new UnreachableError(
        `${gateway.url} answers as ${info.hotkey}, not ${gateway.hotkey} whose commitment names it`,
      );
    }
    infos.set(gateway.url, info);
    return info;
  };

  return {
    fetch: poolFetch,
    async run(attempt, options = {}) {
      const retry = options.retry ?? isFailover;
      const failures: unknown[] = [];
      for await (const gateway of candidates()) {
        let resets = 0;
        for (let waits = 0; ; waits++) {
          options.signal?.throwIfAborted();
          try {
            const info = await infoOf(gateway, options.signal);
            const result = await attempt({ url: gateway.url, info });
            preferred = gateway.url;
            return result;
          } catch (error) {
            options.signal?.throwIfAborted();
            // A kept-alive connection the gateway closed just as the request went out (its idle
            // timeout, or a client whose event loop was busy past it) is no verdict on the gateway:
            // ask it again once on a fresh connection (every attempt re-opens its body and signs anew).
            if (
              error instanceof UnreachableError &&
              resets < CONNECTION_RESET_RETRIES &&
              isConnectionReset(error)
            ) {
              resets++;
              waits--;
              continue;
            }
            const wait = rateLimitWait(error);
            if (wait !== undefined && waits < rateLimitRetries) {
              await sleep(wait, undefined, options.signal === undefined ? {} : { signal: options.signal });
              continue;
            }
            if (!(error instanceof UnreachableError) && !retry(error)) throw error;
            failures.push(error);
            break;
          }
        }
      }
      const meaningful = failures.filter((f) => !(f instanceof UnreachableError));
      if (meaningful.length > 0) throw meaningful[meaningful.length - 1];
      if (failures.length === 0) throw new GatewayUnavailableError("no gateway to ask");
      throw new GatewayUnavailableError(
        `no gateway answered: ${failures.map((f) => (f as Error).message).join("; ")}`,
        { cause: failures[failures.length - 1] },
      );
    },
  };
}

/** "http://host:1/" → "http://host:1"; refuses what is not an http(s) URL. */
export function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ClientError(`gateway URL ${JSON.stringify(url)} is not a URL`, { cause });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ClientError(`gateway URL ${url} is not http(s)`);
  }
  return parsed.toString().replace(/\/+$/, "");
}

/** The caller's signal combined with a timeout. */
export function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
}

/**
 * A response's body, refusing one longer than `max` bytes before reading past it. A failure
 * while reading (the connection dropped, the timeout fired) is the gateway's.
 */
export async function readBody(gateway: string, response: Response, max: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > max) {
    await response.body?.cancel().catch(() => undefined);
    throw new GatewayProtocolError(`${gateway} sent ${declared} bytes where at most ${max} were expected`);
  }
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        await reader.cancel().catch(() => undefined);
        throw new GatewayProtocolError(`${gateway} sent more than the ${max} bytes expected`);
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (cause instanceof GatewayProtocolError) throw cause;
    if (isAbort(cause) && !isTimeout(cause)) throw cause;
    throw new UnreachableError(`${gateway} broke off its answer: ${describe(cause)}`, { cause });
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** A successful JSON answer's value; a non-2xx answer becomes its GatewayError. */
export async function readJson(gateway: string, response: Response): Promise<unknown> {
  if (!response.ok) throw await gatewayErrorOf(gateway, response);
  const bytes = await readBody(gateway, response, MAX_JSON_RESPONSE_BYTES);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new GatewayProtocolError(`${gateway} answered with something that is not JSON`, { cause });
  }
}

/** The API's error shape `{"error": {"code", "message"}}` as a GatewayError (any body tolerated). */
export async function gatewayErrorOf(gateway: string, response: Response): Promise<GatewayError> {
  let code = `http_${response.status}`;
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const bytes = await readBody(gateway, response, MAX_ERROR_BODY_BYTES);
    const body = JSON.parse(new TextDecoder().decode(bytes)) as {
      error?: { code?: unknown; message?: unknown };
    };
    if (typeof body.error?.code === "string") code = body.error.code;
    if (typeof body.error?.message === "string") message = body.error.message.split("\n")[0] ?? message;
  } catch {
    // An error body that is not the API's shape still carries its status.
  }
  return new GatewayError(gateway, response.status, code, message, retryAfterOf(response));
}

/** `Retry-After` in milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
function retryAfterOf(response: Response): number | undefined {
  const header = response.headers.get("retry-after")?.trim();
  if (header === undefined || header === "") return undefined;
  if (/^\d+$/.test(header)) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** How long to wait before asking the same gateway again, for a 429 worth waiting out. */
function rateLimitWait(error: unknown): number | undefined {
  if (!(error instanceof GatewayError) || error.status !== 429) return undefined;
  const wait = error.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
  return wait <= MAX_RETRY_AFTER_MS ? wait : undefined;
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === "TimeoutError";
}

/** Times one request is sent again to the same gateway after its connection was reset. */
export const CONNECTION_RESET_RETRIES = 1;

const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

/** Whether an error (or one of its causes) is a connection reset rather than a refusal or a timeout. */
function isConnectionReset(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && RESET_CODES.has(code)) return true;
  }
  return false;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (isTimeout(error)) return "timed out";
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ?? cause.message;
  }
  return error.message;
}
