/**
 * The gateway's header parsers and limits on their own: Range (one range, the three forms, what
 * is refused), Content-Digest, the allow list and the settings from the validator's options, and
 * the token buckets.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, defaultsOf, validatorConfigSchema } from "../neurons/config.js";
import { parseByteRange } from "../neurons/validator/api/byte-range.js";
import { contentDigestHeader, parseContentDigest } from "../neurons/validator/api/content-digest.js";
import {
  DEFAULT_MAX_PUTS_PER_HOTKEY,
  gatewaySettingsFrom,
  parseAllowList,
} from "../neurons/validator/api/gateway-settings.js";
import { createRateLimiter } from "../neurons/validator/api/rate-limiter.js";

const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
// Alice's key in the Polkadot relay chain's ss58 prefix (0).
const ALICE_POLKADOT = "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5";

describe("parseByteRange", () => {
  it("serves the whole file without a Range, or with a unit it does not know", () => {
    expect(parseByteRange(undefined, 10)).toEqual({ kind: "whole" });
    expect(parseByteRange("items=0-1", 10)).toEqual({ kind: "whole" });
  });

  it("reads first-last, first- and -suffix, clamped to the file", () => {
    expect(parseByteRange("bytes=0-0", 10)).toEqual({ kind: "partial", offset: 0, length: 1 });
    expect(parseByteRange("bytes=2-5", 10)).toEqual({ kind: "partial", offset: 2, length: 4 });
    expect(parseByteRange("bytes=2-500", 10)).toEqual({ kind: "partial", offset: 2, length: 8 });
    expect(parseByteRange("bytes=7-", 10)).toEqual({ kind: "partial", offset: 7, length: 3 });
    expect(parseByteRange("bytes=-3", 10)).toEqual({ kind: "partial", offset: 7, length: 3 });
    expect(parseByteRange("bytes=-30", 10)).toEqual({ kind: "partial", offset: 0, length: 10 });
    expect(parseByteRange(" Bytes = 1 - 2 ", 10)).toEqual({ kind: "partial", offset: 1, length: 2 });
  });

  it("refuses ranges past the end, reversed, empty, malformed, several, or on an empty file", () => {
    for (const header of [
      "bytes=10-",
      "bytes=10-20",
      "bytes=5-4",
      "bytes=-0",
      "bytes=-",
      "bytes=a-b",
      "bytes=1-2-3",
      "bytes",
      "bytes=0-1,3-4",
      "bytes=99999999999999999999-",
    ]) {
      expect(parseByteRange(header, 10).kind, header).toBe("unsatisfiable");
    }
    expect(parseByteRange("bytes=0-", 0).kind).toBe("unsatisfiable");
    expect(parseByteRange("bytes=-1", 0).kind).toBe("unsatisfiable");
  });
});

describe("parseContentDigest", () => {
  const digest = createHash("sha256").update("abc").digest();

  it("reads back what contentDigestHeader writes, among other algorithms", () => {
    expect(parseContentDigest(contentDigestHeader(digest))).toEqual(new Uint8Array(digest));
    const sha512 = createHash("sha512").update("abc").digest("base64");
    expect(parseContentDigest(`sha-512=:${sha512}:, ${contentDigestHeader(digest)}`)).toEqual(
      new Uint8Array(digest),
    );
  });

  it("refuses a missing sha-256 member, bad base64 framing and a digest of the wrong length", () => {
    expect(parseContentDigest("sha-512=:AAAA:")).toBeUndefined();
    expect(parseContentDigest(`sha-256=${digest.toString("base64")}`)).toBeUndefined();
    expect(parseContentDigest("sha-256=:AAAA:")).toBeUndefined();
    expect(parseContentDigest("")).toBeUndefined();
  });
});

describe("gateway settings", () => {
  it("come from the validator's api.* options, with a burst of twice the rate", () => {
    const settings = gatewaySettingsFrom({ ...defaultsOf(validatorConfigSchema), "api.rate": 5 });
    expect(settings.allow).toBeNull();
    expect(settings.maxFileSize).toBe(10 * 1024 ** 3);
    expect(settings.quotaBytes).toBe(1024 ** 3);
    expect(settings.rate).toBe(5);
    expect(settings.burst).toBe(10);
    expect(settings.maxPutsPerHotkey).toBe(DEFAULT_MAX_PUTS_PER_HOTKEY);
    expect(settings.dataShards).toBe(10);
    expect(settings.parityShards).toBe(4);
    expect(settings.publicUrl).toBeNull();
  });

  it("normalize allowed hotkeys to ss58 prefix 42 and refuse anything that is not one", () => {
    expect(parseAllowList(undefined)).toBeNull();
    expect(parseAllowList(" , ")).toBeNull();
    expect(parseAllowList(`${ALICE_POLKADOT}, ${BOB},`)).toEqual(new Set([ALICE, BOB]));
    expect(() => parseAllowList(`${ALICE},nobody`)).toThrow(ConfigError);
    expect(() => parseAllowList(`0x${"11".repeat(32)}`)).toThrow(/not an ss58 hotkey/);
  });
});

describe("createRateLimiter", () => {
  it("allows a burst, then refills at the rate, per key", () => {
    let clock = 0;
    const limiter = createRateLimiter({ rate: 2, burst: 4, maxKeys: 10, now: () => clock });
    for (let i = 0; i < 4; i++) expect(limiter.take("a").ok).toBe(true);
    expect(limiter.take("a")).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.has("a")).toBe(false);
    expect(limiter.take("b").ok).toBe(true);
    clock += 500;
    expect(limiter.take("a").ok).toBe(true);
    expect(limiter.take("a").ok).toBe(false);
  });

  it("forgets full buckets and refuses new keys past maxKeys while all are in use", () => {
    let clock = 0;
    const limiter = createRateLimiter({ rate: 1, burst: 1, maxKeys: 2, now: () => clock });
    expect(limiter.take("a").ok).toBe(true);
    expect(limiter.take("b").ok).toBe(true);
    expect(limiter.take("c").ok).toBe(false);
    clock += 2_000;
    expect(limiter.take("c").ok).toBe(true);
    expect(limiter.size).toBe(1);
  });
});
