/**
 * A small honest gateway for the client's tests: node:http on 127.0.0.1 serving the routes of the
 * HTTP API (design 15) over an in-memory map. It authenticates with the real Epistula verifier
 * (neurons/epistula.ts), checks the declared Content-Length and Content-Digest against the body,
 * and names files with the real importFile (protocol/content-id.ts). No miners, no erasure coding:
 * a file's blocks stay in memory, and its status reports one stripe with made-up miners.
 *
 * Knobs for the client's failure paths: `tamper` changes a block as it is served, `failWith`
 * answers every request with a status, `rateLimitNext` answers the next few with 429,
 * `lieAboutCid` names a put by another CID, `stall` never answers. Gateways given one `store`
 * serve the same files (as validators holding one file would).
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { KeyringPair } from "@polkadot/keyring/types";
import { authReady } from "../../neurons/auth.js";
import { createEpistulaVerifier, EpistulaHeader, type EpistulaVerifier } from "../../neurons/epistula.js";
import type { FileInfo, FileStatus } from "../../neurons/validator/storage/service.js";
import { importFile } from "../../protocol/content-id.js";

/** What gateways sharing one store hold: blocks by CID, files by CID (one owner each here). */
export interface FakeStore {
  blocks: Map<string, Uint8Array>;
  files: Map<string, FileInfo & { blocks: Set<string> }>;
}

export function createFakeStore(): FakeStore {
  return { blocks: new Map(), files: new Map() };
}

export interface FakeGatewayOptions {
  /** The gateway's hotkey: requests must be signed for it, and /v1/info names it. */
  hotkey: KeyringPair;
  /** Answer /v1/info with this hotkey instead (a gateway that is not who its commitment says). */
  claimHotkey?: string;
  store?: FakeStore;
  netuid?: number;
  maxFileSize?: number;
  dataShards?: number;
  parityShards?: number;
  /** Changes a block's bytes as it is served. */
  tamper?: (cid: string, bytes: Uint8Array) => Uint8Array;
  /** Answers every request but /v1/info with this status. */
  failWith?: number;
  /** Names every put by this CID instead of the body's. */
  lieAboutCid?: string;
  /** Never answers anything (the client's timeout must move on). */
  stall?: boolean;
  /** Answers this many of the next requests (but /v1/info) with 429 and `Retry-After`. */
  rateLimitNext?: number;
  /** The `Retry-After` of those 429s, in seconds (default 0). */
  retryAfter?: number;
}

export interface FakeGateway {
  readonly url: string;
  readonly store: FakeStore;
  /** Every request served, in order ("GET /ipfs/bafk…"). */
  readonly requests: string[];
  options: FakeGatewayOptions;
  close(): Promise<void>;
}

const EMPTY_SHA256 = createHash("sha256").digest();

/** Starts a fake gateway on a free port of 127.0.0.1. */
export async function startFakeGateway(options: FakeGatewayOptions): Promise<FakeGateway> {
  await authReady();
  const store = options.store ?? createFakeStore();
  const verifier = createEpistulaVerifier({ recipient: options.hotkey.publicKey });
  const requests: string[] = [];
  const gateway: FakeGateway = {
    url: "",
    store,
    requests,
    options,
    close: () => close(server),
  };
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    handle(gateway, verifier, request, response).catch((error: unknown) => {
      if (!response.headersSent) reply(response, 500, "internal", String(error));
      else response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  (gateway as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return gateway;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function handle(
  gateway: FakeGateway,
  verifier: EpistulaVerifier,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { options, store } = gateway;
  if (options.stall) return;
  const url = new URL(request.url ?? "/", "http://gateway");
  const method = request.method ?? "GET";
  if (method === "GET" && url.pathname === "/v1/info") {
    return json(response, 200, {
      hotkey: options.claimHotkey ?? options.hotkey.address,
      netuid: options.netuid ?? 1,
      version: "1",
      dataShards: options.dataShards ?? 10,
      parityShards: options.parityShards ?? 4,
      maxFileSize: options.maxFileSize ?? 64 * 1024 * 1024,
      publicUrl: null,
    });
  }
  if (options.failWith !== undefined)
    return reply(response, options.failWith, "failing", "failing on purpose");
  if ((options.rateLimitNext ?? 0) > 0) {
    options.rateLimitNext = (options.rateLimitNext ?? 0) - 1;
    response.setHeader("retry-after", String(options.retryAfter ?? 0));
    return reply(response, 429, "rate_limited", "too many requests");
  }

  const signed = request.headers[EpistulaHeader.signature.toLowerCase()] !== undefined;
  if (method === "POST" && url.pathname === "/v1/files") return put(gateway, verifier, request, response);

  // Every other route has no body: the signature covers sha256 of the empty string.
  let requester: string | null = null;
  if (signed) {
    const result = verifier.verify(request.headers, EMPTY_SHA256);
    if (!result.ok) return reply(response, result.status, result.code, result.message);
    requester = result.hotkey;
  }
  const visible = (cid: string) => {
    const file = store.files.get(cid);
    return file !== undefined && (file.public || file.owner === requester) ? file : undefined;
  };

  if (method === "GET" && url.pathname === "/v1/files") {
    if (requester === null) return reply(response, 401, "missing_header", "sign the request");
    const files = [...store.files.values()].filter((f) => f.owner === requester).reverse();
    return json(response, 200, { files: files.map(infoOf) });
  }
  const status = /^\/v1\/files\/([^/]+)\/status$/.exec(url.pathname);
  if (method === "GET" && status) {
    const file = visible(status[1] as string);
    if (file === undefined) return reply(response, 404, "not_found", "no such file");
    return json(response, 200, statusOf(file));
  }
  const one = /^\/v1\/files\/([^/]+)$/.exec(url.pathname);
  if (method === "DELETE" && one) {
    const file = store.files.get(one[1] as string);
    if (file === undefined || requester === null || file.owner !== requester) {
      return reply(response, 404, "not_found", "no such file");
    }
    store.files.delete(file.cid);
    return json(response, 200, { cid: file.cid, removed: true });
  }
  const block = /^\/ipfs\/([^/]+)$/.exec(url.pathname);
  if (method === "GET" && block) {
    const cid = block[1] as string;
    const holder = [...store.files.values()].find((f) => f.blocks.has(cid) && visible(f.cid) !== undefined);
    const bytes = store.blocks.get(cid);
    if (holder === undefined || bytes === undefined)
      return reply(response, 404, "not_found", "no such block");
    const served = options.tamper?.(cid, bytes) ?? bytes;
    response.writeHead(200, {
      "content-type": "application/vnd.ipld.raw",
      "content-length": served.length,
    });
    response.end(served);
    return;
  }
  return reply(response, 404, "not_found", `no route ${method} ${url.pathname}`);
}

async function put(
  gateway: FakeGateway,
  verifier: EpistulaVerifier,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { options, store } = gateway;
  const receivedAt = Date.now();
  const early = verifier.checkHeaders(request.headers, { receivedAt });
  if (!early.ok) return reply(response, early.status, early.code, early.message);
  const lengthHeader = request.headers["content-length"];
  if (lengthHeader === undefined) return reply(response, 411, "length_required", "send Content-Length");
  const declared = Number(lengthHeader);
  if (declared > (options.maxFileSize ?? 64 * 1024 * 1024)) {
    return reply(response, 413, "too_large", "larger than the gateway's max file size");
  }
  const digestHeader = /^sha-256=:([A-Za-z0-9+/=]+):$/.exec(String(request.headers["content-digest"] ?? ""));
  if (digestHeader === null) return reply(response, 400, "bad_digest", "Content-Digest sha-256 is required");
  const declaredDigest = Buffer.from(digestHeader[1] as string, "base64");
  const ttl = request.headers["x-storage-ttl"];

  const hash = createHash("sha256");
  let size = 0;
  const blocks = new Map<string, Uint8Array>();
  const body = (async function* () {
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      hash.update(chunk);
      yield new Uint8Array(chunk);
    }
  })();
  const root = await importFile(body, {
    onBlock: (cid, bytes) => {
      blocks.set(cid.toString(), bytes);
    },
  });
  const digest = hash.digest();
  if (size !== declared || !digest.equals(declaredDigest)) {
    return reply(
      response,
      400,
      "body_mismatch",
      "the body differs from its Content-Length or Content-Digest",
    );
  }
  const result = verifier.verify(request.headers, declaredDigest, { receivedAt });
  if (!result.ok) return reply(response, result.status, result.code, result.message);
  for (const [cid, bytes] of blocks) store.blocks.set(cid, bytes);
  const now = Date.now();
  const info: FileInfo = {
    cid: options.lieAboutCid ?? root.toString(),
    owner: result.hotkey,
    size,
    public: request.headers["x-storage-public"] === "true",
    createdAt: now,
    expiresAt: ttl === undefined ? null : now + Number(ttl) * 1000,
    dataShards: options.dataShards ?? 10,
    parityShards: options.parityShards ?? 4,
    stripes: Math.max(0, Math.ceil(Math.ceil(size / (1024 * 1024)) / (options.dataShards ?? 10))),
    redundancy: "full",
  };
  store.files.set(info.cid, { ...info, blocks: new Set(blocks.keys()) });
  return json(response, 201, info);
}

function infoOf(file: FileInfo & { blocks?: Set<string> }): FileInfo {
  const { blocks: _blocks, ...info } = file;
  return info;
}

function statusOf(file: FileInfo & { blocks: Set<string> }): FileStatus {
  const info = infoOf(file);
  const stripesDetail = Array.from({ length: info.stripes }, (_, index) => ({
    index,
    dataShards: info.dataShards,
    pieces: Array.from({ length: info.dataShards + info.parityShards }, (_, shard) => ({
      shard,
      miner: `miner-${shard}`,
      uid: shard,
      state: "ok" as const,
    })),
    margin: info.parityShards,
  }));
  const total = stripesDetail.reduce((n, s) => n + s.pieces.length, 0);
  return {
    ...info,
    stripesDetail,
    health: info.parityShards,
    pieces: { total, lost: 0, repaired: 0, pendingRepair: 0 },
  };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

function reply(response: ServerResponse, status: number, code: string, message: string): void {
  // Whatever of a refused body is still arriving is drained, not left to stall the client.
  response.req.resume();
  json(response, status, { error: { code, message } });
}
