/**
 * The storage client against the real gateway server (neurons/validator/api/gateway-server.ts)
 * over an in-memory StorageService, over a real socket: the two sides of the HTTP API agree on
 * signing, digests, block reads, ranges, errors and rate limits. (The lead's end-to-end tests run
 * the same client against a validator storing on real miners.)
 */
import { randomBytes } from "node:crypto";
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devKeypair } from "../chain/wallet.js";
import { createStorageClient, type StorageClient } from "../neurons/client/api.js";
import { bytesSource } from "../neurons/client/source.js";
import { defaultsOf, validatorConfigSchema } from "../neurons/config.js";
import { createLogger } from "../neurons/logger.js";
import { createMetricsRegistry } from "../neurons/metrics.js";
import { createGatewayServer, type GatewayServer } from "../neurons/validator/api/gateway-server.js";
import { type GatewaySettings, gatewaySettingsFrom } from "../neurons/validator/api/gateway-settings.js";
import { CHUNK_BYTES } from "../protocol/content-id.js";
import { deriveUserSecret } from "../protocol/file-crypto.js";
import { createMemoryStorageService } from "./support/memory-storage-service.js";

const MiB = CHUNK_BYTES;
const servers: GatewayServer[] = [];
let user: KeyringPair;
let validator: KeyringPair;
const userSecret = deriveUserSecret(randomBytes(32));

async function startGateway(settings: Partial<GatewaySettings> = {}): Promise<string> {
  const server = createGatewayServer({
    service: createMemoryStorageService(),
    hotkey: validator,
    netuid: 7,
    settings: { ...gatewaySettingsFrom(defaultsOf(validatorConfigSchema)), ...settings },
    log: createLogger({ level: "error" }),
    metrics: createMetricsRegistry(),
  });
  servers.push(server);
  return (await server.listen(0, "127.0.0.1")).url;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function expectBytes(got: Uint8Array, want: Uint8Array, what = ""): void {
  expect(got.length, `${what} length`).toBe(want.length);
  expect(Buffer.from(got).equals(Buffer.from(want)), `${what} bytes`).toBe(true);
}

let client: StorageClient;

beforeAll(async () => {
  user = await devKeypair("//User");
  validator = await devKeypair("//Validator");
  client = createStorageClient({ gateway: await startGateway(), hotkey: user, userSecret });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe("client and real gateway", () => {
  it("reads the gateway's info", async () => {
    expect(await client.info()).toMatchObject({ hotkey: validator.address, netuid: 7, dataShards: 10 });
  });

  for (const size of [0, 1, MiB + 1]) {
    for (const isPublic of [false, true]) {
      it(`round-trips ${size} bytes ${isPublic ? "public" : "encrypted"}, whole and in ranges`, async () => {
        const bytes = randomBytes(size);
        const info = await client.put(bytesSource(bytes), { public: isPublic, ttlSeconds: 3600 });
        expect(info).toMatchObject({ owner: user.address, public: isPublic });
        expectBytes(await collect(client.get(info.cid)), bytes);
        if (size > 10) {
          const offset = MiB - 5;
          expectBytes(
            await collect(client.get(info.cid, { range: { offset, length: 6 } })),
            bytes.subarray(offset, offset + 6),
          );
        }
      });
    }
  }

  it("lists, reports and removes", async () => {
    const info = await client.put(bytesSource(randomBytes(100)));
    expect((await client.list()).map((f) => f.cid)).toContain(info.cid);
    expect((await client.status(info.cid)).cid).toBe(info.cid);
    expect(await client.remove(info.cid)).toEqual({ cid: info.cid, removed: true });
    await expect(client.status(info.cid)).rejects.toMatchObject({ status: 404 });
    await expect(collect(client.get(info.cid))).rejects.toMatchObject({ status: 404 });
  });

  it("reads a large file within a tight rate limit by waiting out the 429s", async () => {
    const limited = createStorageClient({
      gateway: await startGateway({ rate: 4, burst: 4 }),
      hotkey: user,
      userSecret,
    });
    const bytes = randomBytes(3 * MiB);
    const info = await limited.put(bytesSource(bytes), { public: true });
    expectBytes(await collect(limited.get(info.cid)), bytes);
  });

  it("is refused a file larger than the gateway takes", async () => {
    const small = createStorageClient({
      gateway: await startGateway({ maxFileSize: 1000 }),
      hotkey: user,
      userSecret,
    });
    await expect(small.put(bytesSource(randomBytes(2000)), { public: true })).rejects.toMatchObject({
      status: 413,
    });
  });
});
