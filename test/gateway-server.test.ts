/**
 * The client API over a real socket on 127.0.0.1, in front of the in-memory StorageService:
 * every route's happy path, every status of the design (400 … 507) with its one error shape,
 * and the hostile clients: replayed, stale, misaddressed and forged signatures, bodies that are
 * too large, too short, too long, never finished or not the signed ones, clients over quota or
 * rate, slow heads. Nothing refused ever becomes visible, and the gateway keeps serving others.
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect, type Socket } from "node:net";
import type { KeyringPair } from "@polkadot/keyring/types";
import { CID } from "multiformats/cid";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { devKeypair } from "../chain/wallet.js";
import { authReady, createRequestSigner, type RequestSigner } from "../neurons/auth.js";
import { defaultsOf, validatorConfigSchema } from "../neurons/config.js";
import { signEpistula } from "../neurons/epistula.js";
import { createLogger } from "../neurons/logger.js";
import { createMetricsRegistry, type MetricsRegistry } from "../neurons/metrics.js";
import { contentDigestHeader } from "../neurons/validator/api/content-digest.js";
import {
  createGatewayServer,
  GATEWAY_API_VERSION,
  IPLD_RAW,
} from "../neurons/validator/api/gateway-server.js";
import { type GatewaySettings, gatewaySettingsFrom } from "../neurons/validator/api/gateway-settings.js";
import type { FileInfo } from "../neurons/validator/storage/service.js";
import { CHUNK_BYTES, importFile, verifyBlock } from "../protocol/content-id.js";
import {
  createMemoryStorageService,
  type MemoryStorageService,
  type MemoryStorageServiceInit,
} from "./support/memory-storage-service.js";

const NETUID = 7;

let gatewayKey: KeyringPair;
let otherGatewayKey: KeyringPair;
let alicePair: KeyringPair;
let alice: RequestSigner;
let bob: RequestSigner;
let aliceAddress: string;
let bobAddress: string;

beforeAll(async () => {
  await authReady();
  gatewayKey = await devKeypair("//Ferdie");
  otherGatewayKey = await devKeypair("//Eve");
  alicePair = await devKeypair("//Alice");
  const bobPair = await devKeypair("//Bob");
  alice = createRequestSigner(alicePair);
  bob = createRequestSigner(bobPair);
  aliceAddress = alicePair.address;
  bobAddress = bobPair.address;
});

interface Gateway {
  url: URL;
  service: MemoryStorageService;
  metrics: MetricsRegistry;
  close(): Promise<void>;
}

const running: Gateway[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((gateway) => gateway.close()));
});

async function startGateway(
  settings: Partial<GatewaySettings> = {},
  serviceInit: MemoryStorageServiceInit = {},
): Promise<Gateway> {
  const service = createMemoryStorageService(serviceInit);
  const metrics = createMetricsRegistry();
  const server = createGatewayServer({
    service,
    hotkey: gatewayKey,
    netuid: NETUID,
    settings: { ...gatewaySettingsFrom(defaultsOf(validatorConfigSchema)), ...settings },
    log: createLogger({ level: (process.env.GW_LOG as "debug") ?? "error" }),
    metrics,
  });
  const bound = await server.listen(0, "127.0.0.1");
  const gateway = { url: new URL(bound.url), service, metrics, close: () => server.close() };
  running.push(gateway);
  return gateway;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function send(
  gateway: Gateway,
  method: string,
  path: string,
  options: { headers?: Record<string, string | number>; body?: Uint8Array } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: gateway.url.hostname,
        port: gateway.url.port,
        method,
        path,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** A reply's JSON: a FileInfo, unless the caller names another shape. */
function json<T = FileInfo>(reply: Reply): T {
  return JSON.parse(reply.body.toString("utf8")) as T;
}

interface ErrorReply {
  error: { code: string; message: string };
}

interface FileList {
  files: FileInfo[];
}

/** The error shape every refusal has, with its code. */
function expectError(reply: Reply, status: number, code: string): void {
  expect({ status: reply.status, body: reply.body.toString() }).toMatchObject({ status });
  const body = json<ErrorReply>(reply);
  expect(Object.keys(body)).toEqual(["error"]);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message).not.toContain("\n");
}

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

/** Signed headers for a request with `body` (or none), with its Content-Digest. */
function signed(
  signer: RequestSigner,
  body: Uint8Array = new Uint8Array(),
  options: { signedFor?: string; now?: number; digestOf?: Uint8Array } = {},
): Record<string, string> {
  const digest = sha256(options.digestOf ?? body);
  return {
    ...signEpistula(
      signer,
      { sha256: digest },
      { signedFor: options.signedFor ?? gatewayKey.address, now: options.now },
    ),
    "content-digest": contentDigestHeader(digest),
  };
}

function putFile(
  gateway: Gateway,
  signer: RequestSigner,
  bytes: Uint8Array,
  extra: Record<string, string> = {},
): Promise<Reply> {
  return send(gateway, "POST", "/v1/files", {
    headers: { ...signed(signer, bytes), "content-length": bytes.length, ...extra },
    body: bytes,
  });
}

async function cidOf(bytes: Uint8Array): Promise<string> {
  const root = await importFile(
    (async function* () {
      yield bytes;
    })(),
    { onBlock: () => {} },
  );
  return root.toString();
}

/** A raw connection that sends a put's head and `sent` bytes of its body, then holds. */
async function openPut(
  gateway: Gateway,
  signer: RequestSigner,
  body: Uint8Array,
  sent: number,
): Promise<{ socket: Socket; reply: Promise<string> }> {
  const socket = connect(Number(gateway.url.port), gateway.url.hostname);
  await once(socket, "connect");
  const headers = { ...signed(signer, body), "content-length": String(body.length), host: "gateway" };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  socket.write(`POST /v1/files HTTP/1.1\r\n${head}\r\n`);
  socket.write(body.subarray(0, sent));
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {});
  const reply = once(socket, "close").then(() => Buffer.concat(chunks).toString("latin1"));
  return { socket, reply };
}

describe("gateway: routes", () => {
  it("answers /v1/info without a signature", async () => {
    const gateway = await startGateway({ publicUrl: "https://gw.example" });
    const reply = await send(gateway, "GET", "/v1/info");
    expect(reply.status).toBe(200);
    expect(json<unknown>(reply)).toEqual({
      hotkey: gatewayKey.address,
      netuid: NETUID,
      version: GATEWAY_API_VERSION,
      dataShards: 10,
      parityShards: 4,
      maxFileSize: 10 * 1024 ** 3,
      publicUrl: "https://gw.example",
    });
  });

  it("puts, gets, ranges, HEADs, lists, reports and removes a private file", async () => {
    const gateway = await startGateway();
    const bytes = randomBytes(2 * CHUNK_BYTES + 12_345);
    const put = await putFile(gateway, alice, bytes, { "x-storage-ttl": "3600" });
    expect(put.status).toBe(201);
    const info = json(put);
    expect(info.cid).toBe(await cidOf(bytes));
    expect(info).toMatchObject({ owner: aliceAddress, size: bytes.length, public: false, stripes: 1 });
    expect((info.expiresAt ?? 0) - info.createdAt).toBe(3_600_000);
    expect(put.headers.location).toBe(`/v1/files/${info.cid}`);

    const get = await send(gateway, "GET", `/v1/files/${info.cid}`, { headers: signed(alice) });
    expect(get.status).toBe(200);
    expect(get.body.equals(bytes)).toBe(true);
    expect(get.headers).toMatchObject({
      etag: `"${info.cid}"`,
      "accept-ranges": "bytes",
      "content-type": "application/octet-stream",
      "content-length": String(bytes.length),
    });

    const cached = await send(gateway, "GET", `/v1/files/${info.cid}`, {
      headers: { ...signed(alice), "if-none-match": `"${info.cid}"` },
    });
    expect(cached.status).toBe(304);
    expect(cached.body.length).toBe(0);

    const head = await send(gateway, "HEAD", `/v1/files/${info.cid}`, { headers: signed(alice) });
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String(bytes.length));
    expect(head.body.length).toBe(0);

    // A range across the first leaf boundary, a suffix, and an open end.
    const ranges: Array<[string, number, number]> = [
      [`bytes=${CHUNK_BYTES - 10}-${CHUNK_BYTES + 9}`, CHUNK_BYTES - 10, 20],
      ["bytes=-100", bytes.length - 100, 100],
      [`bytes=${2 * CHUNK_BYTES}-`, 2 * CHUNK_BYTES, 12_345],
    ];
    for (const [range, offset, length] of ranges) {
      const partial = await send(gateway, "GET", `/v1/files/${info.cid}`, {
        headers: { ...signed(alice), range },
      });
      expect(partial.status, range).toBe(206);
      expect(partial.headers["content-range"]).toBe(`bytes ${offset}-${offset + length - 1}/${bytes.length}`);
      expect(partial.body.equals(bytes.subarray(offset, offset + length))).toBe(true);
    }

    const list = await send(gateway, "GET", "/v1/files", { headers: signed(alice) });
    expect(list.status).toBe(200);
    expect(json<FileList>(list).files.map((file) => file.cid)).toEqual([info.cid]);

    const status = await send(gateway, "GET", `/v1/files/${info.cid}/status`, { headers: signed(alice) });
    expect(status.status).toBe(200);
    expect(json<unknown>(status)).toMatchObject({ cid: info.cid, health: 4, pieces: { total: 7, lost: 0 } });

    const removed = await send(gateway, "DELETE", `/v1/files/${info.cid}`, { headers: signed(alice) });
    expect(removed.status).toBe(200);
    expect(json<unknown>(removed)).toEqual({ cid: info.cid, removed: true });
    expectError(
      await send(gateway, "GET", `/v1/files/${info.cid}`, { headers: signed(alice) }),
      404,
      "not_found",
    );
    expect(json<FileList>(await send(gateway, "GET", "/v1/files", { headers: signed(alice) })).files).toEqual(
      [],
    );
  });

  it("stores an empty file under the empty raw block's CID", async () => {
    const gateway = await startGateway();
    const put = await putFile(gateway, alice, new Uint8Array());
    expect(put.status).toBe(201);
    expect(json(put).cid).toBe(await cidOf(new Uint8Array()));
    const get = await send(gateway, "GET", `/v1/files/${json(put).cid}`, { headers: signed(alice) });
    expect(get.status).toBe(200);
    expect(get.body.length).toBe(0);
  });

  it("serves a public file to anyone, with its blocks as IPFS trustless-gateway raw blocks", async () => {
    const gateway = await startGateway();
    const bytes = randomBytes(CHUNK_BYTES + 1);
    const put = await putFile(gateway, alice, bytes, { "x-storage-public": "true" });
    expect(put.status).toBe(201);
    const { cid } = json(put);

    const get = await send(gateway, "GET", `/v1/files/${cid}`);
    expect(get.status).toBe(200);
    expect(get.body.equals(bytes)).toBe(true);
    expect(get.headers["cache-control"]).toContain("immutable");
    expect((await send(gateway, "GET", `/v1/files/${cid}`, { headers: signed(bob) })).status).toBe(200);
    expect((await send(gateway, "GET", `/v1/files/${cid}/status`)).status).toBe(200);
    expect((await send(gateway, "HEAD", `/v1/files/${cid}`)).headers["content-length"]).toBe(
      String(bytes.length),
    );

    const root = await send(gateway, "GET", `/ipfs/${cid}?format=raw`);
    expect(root.status).toBe(200);
    expect(root.headers["content-type"]).toBe(IPLD_RAW);
    expect(root.headers.etag).toBe(`"${cid}.raw"`);
    expect(() => verifyBlock(CID.parse(cid), root.body)).not.toThrow();
    const leaf = await cidOf(bytes.subarray(0, CHUNK_BYTES));
    const leafReply = await send(gateway, "GET", `/ipfs/${leaf}`, { headers: { accept: IPLD_RAW } });
    expect(leafReply.status).toBe(200);
    expect(leafReply.body.equals(bytes.subarray(0, CHUNK_BYTES))).toBe(true);

    expectError(await send(gateway, "GET", `/ipfs/${cid}`), 400, "unsupported_format");
    expectError(await send(gateway, "GET", `/ipfs/${cid}?format=car`), 400, "unsupported_format");
  });

  it("hides a private file from anyone but its owner, as if it did not exist", async () => {
    const gateway = await startGateway();
    const bytes = randomBytes(1000);
    const { cid } = json(await putFile(gateway, alice, bytes));
    const unknown = await cidOf(randomBytes(1000));
    for (const path of [`/v1/files/${cid}`, `/v1/files/${cid}/status`, `/ipfs/${cid}?format=raw`]) {
      const anonymous = await send(gateway, "GET", path);
      const asBob = await send(gateway, "GET", path, { headers: signed(bob) });
      const missing = await send(gateway, "GET", path.replace(cid, unknown));
      expectError(anonymous, 404, "not_found");
      expectError(asBob, 404, "not_found");
      // The same answer as for a CID nobody stored, but for the CID in the message.
      expect(json<ErrorReply>(asBob).error.message).toBe(
        json<ErrorReply>(missing).error.message.replace(unknown, cid),
      );
    }
    expectError(
      await send(gateway, "DELETE", `/v1/files/${cid}`, { headers: signed(bob) }),
      404,
      "not_found",
    );
    expect((await send(gateway, "GET", `/v1/files/${cid}`, { headers: signed(alice) })).status).toBe(200);
    expect(json<FileList>(await send(gateway, "GET", "/v1/files", { headers: signed(bob) })).files).toEqual(
      [],
    );
  });

  it("counts requests by route and status, and bytes in and out", async () => {
    const gateway = await startGateway();
    const bytes = randomBytes(5000);
    const { cid } = json(await putFile(gateway, alice, bytes, { "x-storage-public": "true" }));
    await send(gateway, "GET", `/v1/files/${cid}`);
    await send(gateway, "GET", "/nowhere");
    const text = await gateway.metrics.render();
    expect(text).toContain('validator_api_requests_total{route="files",method="POST",status="201"} 1');
    expect(text).toContain('validator_api_requests_total{route="file",method="GET",status="200"} 1');
    expect(text).toContain('validator_api_requests_total{route="unknown",method="GET",status="404"} 1');
    expect(text).toContain('validator_api_received_bytes_total{route="files"} 5000');
    expect(text).toMatch(/validator_api_sent_bytes_total\{route="file"\} 5000\n/);
  });
});

describe("gateway: refusals", () => {
  it("400: a bad CID, bad headers, a body on a read, a body that is not the signed one", async () => {
    const gateway = await startGateway();
    expectError(await send(gateway, "GET", "/v1/files/not-a-cid"), 400, "bad_cid");
    const bytes = randomBytes(100);
    expectError(await putFile(gateway, alice, bytes, { "x-storage-ttl": "-5" }), 400, "bad_header");
    expectError(await putFile(gateway, alice, bytes, { "x-storage-public": "maybe" }), 400, "bad_header");
    expectError(
      await putFile(gateway, alice, bytes, { "content-digest": "sha-256=:AAAA:" }),
      400,
      "bad_header",
    );
    const noDigest = signed(alice, bytes);
    delete (noDigest as Record<string, string>)["content-digest"];
    expectError(
      await send(gateway, "POST", "/v1/files", { headers: noDigest, body: bytes }),
      400,
      "missing_header",
    );
    expectError(
      await send(gateway, "GET", "/v1/files", {
        headers: { ...signed(alice), "content-length": bytes.length },
        body: bytes,
      }),
      400,
      "unexpected_body",
    );
    // Signed over the declared digest of other bytes: the signature verifies, the body does not match.
    const other = randomBytes(100);
    const mismatch = await send(gateway, "POST", "/v1/files", {
      headers: { ...signed(alice, bytes, { digestOf: other }), "content-length": bytes.length },
      body: bytes,
    });
    expectError(mismatch, 400, "digest_mismatch");
    expect(gateway.service.visibleFiles).toBe(0);
  });

  it("400: a body longer than its Content-Length is cut there, and does not match its digest", async () => {
    const gateway = await startGateway();
    const body = randomBytes(150);
    const socket = connect(Number(gateway.url.port), gateway.url.hostname);
    await once(socket, "connect");
    const headers = { ...signed(alice, body), "content-length": "100", host: "gateway" };
    const head = Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.end(Buffer.concat([Buffer.from(`POST /v1/files HTTP/1.1\r\n${head}\r\n`), body]));
    await once(socket, "close");
    const reply = Buffer.concat(chunks).toString("latin1");
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply).toContain('"digest_mismatch"');
    expect(gateway.service.visibleFiles).toBe(0);
  });

  it("401: unsigned, forged, stale, replayed, or signed for another gateway", async () => {
    const gateway = await startGateway();
    const bytes = randomBytes(100);
    expectError(
      await send(gateway, "POST", "/v1/files", { headers: { "content-length": 100 }, body: bytes }),
      401,
      "missing_signature",
    );
    expectError(await send(gateway, "GET", "/v1/files"), 401, "missing_signature");
    expectError(await send(gateway, "DELETE", `/v1/files/${await cidOf(bytes)}`), 401, "missing_signature");

    const forged = { ...signed(bob, bytes), "epistula-signed-by": aliceAddress, "content-length": "100" };
    expectError(
      await send(gateway, "POST", "/v1/files", { headers: forged, body: bytes }),
      401,
      "bad_signature",
    );

    const stale = signed(alice, bytes, { now: Date.now() - 5 * 60_000 });
    expectError(
      await send(gateway, "POST", "/v1/files", { headers: { ...stale, "content-length": 100 }, body: bytes }),
      401,
      "stale_timestamp",
    );

    const elsewhere = signed(alice, bytes, { signedFor: otherGatewayKey.address });
    expectError(
      await send(gateway, "POST", "/v1/files", {
        headers: { ...elsewhere, "content-length": 100 },
        body: bytes,
      }),
      401,
      "wrong_recipient",
    );

    const once = { ...signed(alice, bytes), "content-length": "100" };
    expect((await send(gateway, "POST", "/v1/files", { headers: once, body: bytes })).status).toBe(201);
    expectError(
      await send(gateway, "POST", "/v1/files", { headers: once, body: bytes }),
      401,
      "replayed_request",
    );
    const list = signed(alice);
    expect((await send(gateway, "GET", "/v1/files", { headers: list })).status).toBe(200);
    expectError(await send(gateway, "GET", "/v1/files", { headers: list }), 401, "replayed_request");
    expect(gateway.service.visibleFiles).toBe(1);
  });

  it("403: a hotkey outside api.allow may not store, but may still read its own files", async () => {
    const gateway = await startGateway({ allow: new Set([bobAddress]) });
    expectError(await putFile(gateway, alice, randomBytes(10)), 403, "not_allowed");
    expect((await putFile(gateway, bob, randomBytes(10))).status).toBe(201);
    expect((await send(gateway, "GET", "/v1/files", { headers: signed(alice) })).status).toBe(200);
  });

  it("404 for an unknown route, 405 with Allow for a wrong method", async () => {
    const gateway = await startGateway();
    expectError(await send(gateway, "GET", "/v2/files"), 404, "not_found");
    const put = await send(gateway, "PUT", "/v1/files");
    expectError(put, 405, "method_not_allowed");
    expect(put.headers.allow).toBe("GET, POST");
    expectError(await send(gateway, "DELETE", "/v1/info"), 405, "method_not_allowed");
  });

  it("411: a put without Content-Length (chunked)", async () => {
    const gateway = await startGateway();
    const bytes = randomBytes(100);
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = httpRequest(
        {
          host: gateway.url.hostname,
          port: gateway.url.port,
          method: "POST",
          path: "/v1/files",
          headers: { ...signed(alice, bytes), "transfer-encoding": "chunked" },
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        },
      );
      req.on("error", reject);
      req.end(bytes);
    });
    expectError(reply, 411, "length_required");
  });

  it("413: a file over api.max_file_size is refused from its headers, its body unread", async () => {
    const gateway = await startGateway({ maxFileSize: 1000 });
    const reply = await putFile(gateway, alice, randomBytes(1001));
    expectError(reply, 413, "file_too_large");
    expect(reply.headers.connection).toBe("close");
    expect((await putFile(gateway, alice, randomBytes(1000))).status).toBe(201);
    expect(gateway.service.visibleFiles).toBe(1);
  });

  it("416: a range outside the file or several ranges, with Content-Range bytes */size", async () => {
    const gateway = await startGateway();
    const { cid } = json(await putFile(gateway, alice, randomBytes(100), { "x-storage-public": "true" }));
    for (const range of ["bytes=100-", "bytes=50-10", "bytes=0-1,5-6"]) {
      const reply = await send(gateway, "GET", `/v1/files/${cid}`, { headers: { range } });
      expectError(reply, 416, "range_not_satisfiable");
      expect(reply.headers["content-range"]).toBe("bytes */100");
    }
  });

  it("429: past the rate per hotkey and per anonymous address, with Retry-After", async () => {
    const gateway = await startGateway({ rate: 0.5, burst: 2 });
    expect((await send(gateway, "GET", "/v1/files", { headers: signed(alice) })).status).toBe(200);
    expect((await send(gateway, "GET", "/v1/files", { headers: signed(alice) })).status).toBe(200);
    const limited = await send(gateway, "GET", "/v1/files", { headers: signed(alice) });
    expectError(limited, 429, "rate_limited");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    // Another hotkey has its own bucket; anonymous readers share their address's.
    expect((await send(gateway, "GET", "/v1/files", { headers: signed(bob) })).status).toBe(200);
    expect((await send(gateway, "GET", "/v1/info")).status).toBe(200);
    expect((await send(gateway, "GET", "/v1/info")).status).toBe(200);
    expectError(await send(gateway, "GET", "/v1/info"), 429, "rate_limited");
  });

  it("429: a third put of one hotkey in flight, and past the gateway's cap on puts", async () => {
    const gateway = await startGateway({ maxPutsInFlight: 3 });
    const body = randomBytes(4000);
    const first = await openPut(gateway, alice, body, 1000);
    const second = await openPut(gateway, alice, randomBytes(4000), 1000);
    await until(() => gateway.service.putsInFlight === 2);
    expectError(await putFile(gateway, alice, randomBytes(10)), 429, "too_many_puts");
    const third = await openPut(gateway, bob, randomBytes(4000), 1000);
    await until(() => gateway.service.putsInFlight === 3);
    expectError(await putFile(gateway, bob, randomBytes(10)), 429, "gateway_busy");
    first.socket.end(body.subarray(1000));
    expect(await first.reply).toMatch(/^HTTP\/1\.1 201 /);
    for (const open of [second, third]) open.socket.destroy();
    await gateway.service.waitForIdle();
    expect((await putFile(gateway, alice, randomBytes(10))).status).toBe(201);
  });

  it("507: over the bytes quota (counting puts in flight), the files quota, or a full network", async () => {
    const gateway = await startGateway({ quotaBytes: 5000, quotaFiles: 2 }, { capacityBytes: 7000 });
    expect((await putFile(gateway, alice, randomBytes(2000))).status).toBe(201);
    const open = await openPut(gateway, alice, randomBytes(2000), 500);
    await until(() => gateway.service.putsInFlight === 1);
    // 2000 stored + 2000 in flight + 2000 asked > 5000.
    expectError(await putFile(gateway, alice, randomBytes(2000)), 507, "quota_exceeded");
    open.socket.destroy();
    await gateway.service.waitForIdle();
    expect((await putFile(gateway, alice, randomBytes(2000))).status).toBe(201);
    expectError(await putFile(gateway, alice, randomBytes(10)), 507, "quota_exceeded");
    // Bob is within his quota, but the network holds 7000 bytes and 4000 are taken.
    expectError(await putFile(gateway, bob, randomBytes(3500)), 507, "network_full");
    expect(gateway.service.visibleFiles).toBe(2);
  });

  it("503: a file the storage cannot rebuild", async () => {
    const gateway = await startGateway();
    const { cid } = json(await putFile(gateway, alice, randomBytes(100)));
    gateway.service.makeUnavailable(cid);
    expectError(
      await send(gateway, "GET", `/v1/files/${cid}`, { headers: signed(alice) }),
      503,
      "file_unavailable",
    );
    // A HEAD says so too, from the file index, without fetching a block.
    expect((await send(gateway, "HEAD", `/v1/files/${cid}`, { headers: signed(alice) })).status).toBe(503);
  });
});

describe("gateway: broken and slow clients", () => {
  it("a body shorter than declared (the client hangs up) stores nothing and the gateway serves on", async () => {
    const gateway = await startGateway();
    const body = randomBytes(3 * CHUNK_BYTES);
    const open = await openPut(gateway, alice, body, CHUNK_BYTES + 100);
    await gateway.service.waitForProgress(CHUNK_BYTES);
    open.socket.destroy();
    await gateway.service.waitForIdle();
    expect(gateway.service.visibleFiles).toBe(0);
    expect(gateway.service.usage(aliceAddress)).toEqual({ bytes: 0, files: 0 });
    expect((await send(gateway, "GET", "/v1/info")).status).toBe(200);
    expect((await putFile(gateway, bob, randomBytes(100))).status).toBe(201);
  });

  it("a put whose body stalls is aborted with 408 after the idle timeout", async () => {
    const gateway = await startGateway({ idleTimeoutMs: 300 });
    const open = await openPut(gateway, alice, randomBytes(5000), 1000);
    expect(await open.reply).toMatch(/^HTTP\/1\.1 408 [\s\S]*"body_timeout"/);
    await gateway.service.waitForIdle();
    expect(gateway.service.visibleFiles).toBe(0);
  });

  it("a request head that never ends is cut at headersTimeout, and one too large is refused", async () => {
    const gateway = await startGateway({ headersTimeoutMs: 300, maxHeaderBytes: 2048 });
    const slow = connect(Number(gateway.url.port), gateway.url.hostname);
    const chunks: Buffer[] = [];
    slow.on("data", (chunk: Buffer) => chunks.push(chunk));
    slow.on("error", () => {});
    slow.write("GET /v1/info HTTP/1.1\r\nhost: gateway\r\nx-slow: 1");
    await once(slow, "close");
    expect(Buffer.concat(chunks).toString("latin1")).toMatch(/^HTTP\/1\.1 408 /);

    const big = await send(gateway, "GET", "/v1/info", { headers: { "x-big": "a".repeat(4096) } }).catch(
      (error: Error) => error,
    );
    expect(big instanceof Error ? big.message : big.status).toBe(431);
  });

  it("a reader that stops reading is cut after the idle timeout", async () => {
    const gateway = await startGateway({ idleTimeoutMs: 300 });
    const bytes = randomBytes(16 * CHUNK_BYTES);
    const { cid } = json(await putFile(gateway, alice, bytes, { "x-storage-public": "true" }));
    const socket = connect(Number(gateway.url.port), gateway.url.hostname);
    await once(socket, "connect");
    socket.pause();
    socket.write(`GET /v1/files/${cid} HTTP/1.1\r\nhost: gateway\r\n\r\n`);
    await until(async () =>
      (await gateway.metrics.render()).includes('validator_api_timeouts_total{kind="idle_connection"} 1'),
    );
    let received = 0;
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.on("error", () => {});
    socket.resume();
    await once(socket, "close");
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(bytes.length);
  });

  it("connections past maxConnections are refused at accept", async () => {
    const gateway = await startGateway({ maxConnections: 2 });
    const open: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const socket = connect(Number(gateway.url.port), gateway.url.hostname);
      await once(socket, "connect");
      open.push(socket);
    }
    // The two are accepted before the third arrives: each answers a request.
    for (const socket of open) {
      socket.write("GET /v1/info HTTP/1.1\r\nhost: gateway\r\n\r\n");
      await once(socket, "data");
    }
    const third = connect(Number(gateway.url.port), gateway.url.hostname);
    third.on("error", () => {});
    let answered = false;
    third.on("data", () => {
      answered = true;
    });
    third.write("GET /v1/info HTTP/1.1\r\nhost: gateway\r\n\r\n");
    await once(third, "close");
    expect(answered).toBe(false);
    for (const socket of open) socket.destroy();
  });

  it("an address that keeps failing authentication is limited before its signatures are checked", async () => {
    const gateway = await startGateway({ rate: 0.5, burst: 2 });
    const forged = { ...signed(bob), "epistula-signed-by": aliceAddress };
    expectError(await send(gateway, "GET", "/v1/files", { headers: forged }), 401, "bad_signature");
    expectError(
      await send(gateway, "GET", "/v1/files", { headers: signed(alice, new Uint8Array(), { now: 1 }) }),
      401,
      "stale_timestamp",
    );
    expectError(await send(gateway, "GET", "/v1/files", { headers: signed(alice) }), 429, "rate_limited");
  });

  it("Expect: 100-continue is refused from the headers, or continued", async () => {
    const gateway = await startGateway({ maxFileSize: 1000 });
    const exchange = async (body: Uint8Array): Promise<string> => {
      const socket = connect(Number(gateway.url.port), gateway.url.hostname);
      await once(socket, "connect");
      const headers = {
        ...signed(alice, body),
        "content-length": String(body.length),
        expect: "100-continue",
        connection: "close",
        host: "gateway",
      };
      const head = Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join("");
      let text = "";
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString("latin1");
        if (text.startsWith("HTTP/1.1 100 ") && text.includes("\r\n\r\n")) socket.write(body);
      });
      socket.write(`POST /v1/files HTTP/1.1\r\n${head}\r\n`);
      await once(socket, "close");
      return text;
    };
    const refused = await exchange(randomBytes(1001));
    expect(refused).toMatch(/^HTTP\/1\.1 413 /);
    const stored = await exchange(randomBytes(1000));
    expect(stored).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
    expect(gateway.service.visibleFiles).toBe(1);
  });

  it("close() ends a put in flight promptly and makes nothing visible", async () => {
    const gateway = await startGateway();
    const open = await openPut(gateway, alice, randomBytes(5000), 1000);
    await gateway.service.waitForProgress(1000);
    await gateway.close();
    await open.reply;
    await gateway.service.waitForIdle();
    expect(gateway.service.visibleFiles).toBe(0);
  });
});

/** Waits for a condition the gateway reaches by its own events (a put taking its place in flight). */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setImmediate(resolve));
}
