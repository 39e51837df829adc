/**
 * Epistula request authentication for the gateway (issue 15): a signed request verifies, and each
 * way a request can be malformed, forged, misaddressed, stale or replayed is refused with its
 * status and code; the replay cache refuses rather than grows past its cap.
 */
import { createHash } from "node:crypto";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { u8aWrapBytes } from "@polkadot/util";
import { cryptoWaitReady, signatureVerify } from "@polkadot/util-crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { authReady, createRequestSigner } from "../neurons/auth.js";
import {
  createEpistulaVerifier,
  DEFAULT_EPISTULA_WINDOW_MS,
  type EpistulaHeaders,
  type EpistulaResult,
  EpistulaSignError,
  EpistulaVerifierInitError,
  epistulaMessage,
  signEpistula,
} from "../neurons/epistula.js";
import { NodeError } from "../neurons/errors.js";

// The dev keys' ss58 addresses, as every Substrate tool prints them.
const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
const CHARLIE = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y";

const NOW = 1_800_000_000_000;
const UUID = "0b7a3f0e-6c1d-4d5e-9f3a-2b8c4d6e8f10";
const BODY = new TextEncoder().encode("abc");

let alice: KeyringPair;
let bob: KeyringPair;

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

/** The gateway is Bob; clients sign for him unless a test says otherwise. */
function gateway(options: { maxRemembered?: number; clock?: { now: number } } = {}) {
  const clock = options.clock ?? { now: NOW };
  return createEpistulaVerifier({
    recipient: bob.publicKey,
    now: () => clock.now,
    ...(options.maxRemembered === undefined ? {} : { maxRemembered: options.maxRemembered }),
  });
}

function signed(overrides: { uuid?: string; now?: number; signedFor?: string } = {}): EpistulaHeaders {
  return signEpistula(alice, BODY, { signedFor: BOB, now: NOW, uuid: UUID, ...overrides });
}

function expectRefused(result: EpistulaResult, status: number, code: string): void {
  expect(result).toMatchObject({ ok: false, status, code });
}

beforeAll(async () => {
  await cryptoWaitReady();
  await authReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  alice = keyring.addFromUri("//Alice");
  bob = keyring.addFromUri("//Bob");
});

describe("signEpistula", () => {
  it("signs exactly sha256_hex(body).uuid.timestamp.signed_for with the convention's headers", () => {
    const headers = signed();
    expect(Object.keys(headers).sort()).toEqual(
      [
        "Epistula-Version",
        "Epistula-Timestamp",
        "Epistula-Uuid",
        "Epistula-Signed-By",
        "Epistula-Signed-For",
        "Epistula-Request-Signature",
      ].sort(),
    );
    expect(headers["Epistula-Version"]).toBe("2");
    expect(headers["Epistula-Timestamp"]).toBe(String(NOW));
    expect(headers["Epistula-Uuid"]).toBe(UUID);
    expect(headers["Epistula-Signed-By"]).toBe(ALICE);
    expect(headers["Epistula-Signed-For"]).toBe(BOB);
    expect(headers["Epistula-Request-Signature"]).toMatch(/^0x[0-9a-f]{128}$/);
    // Hand-built from published values only: SHA-256("abc") is the FIPS 180-2 example digest, the
    // addresses are the dev keys'. sr25519 signatures are randomised, so the vector is the message
    // and an independent verifier (util-crypto's signatureVerify, which a Python client's
    // substrate-interface Keypair.verify matches), not a fixed signature.
    const message = `ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.${UUID}.${NOW}.${BOB}`;
    expect(
      new TextDecoder().decode(
        epistulaMessage(Buffer.from(sha256(BODY)).toString("hex"), UUID, String(NOW), BOB),
      ),
    ).toBe(message);
    const check = signatureVerify(message, headers["Epistula-Request-Signature"] as string, ALICE);
    expect(check).toMatchObject({ isValid: true, crypto: "sr25519", isWrapped: false });
  });

  it("signs for no one with an empty signed_for and no Signed-For header", () => {
    const headers = signEpistula(alice, BODY, { now: NOW, uuid: UUID });
    expect(headers["Epistula-Signed-For"]).toBeUndefined();
    const message = `ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.${UUID}.${NOW}.`;
    expect(signatureVerify(message, headers["Epistula-Request-Signature"] as string, ALICE).isValid).toBe(
      true,
    );
  });

  it("signs a digest the caller hashed while streaming the same as the body itself", () => {
    const headers = signEpistula(
      createRequestSigner(alice),
      { sha256: sha256(BODY) },
      { signedFor: BOB, now: NOW },
    );
    expect(gateway().verify(headers, sha256(BODY))).toEqual({ ok: true, hotkey: ALICE });
  });

  it("throws a NodeError for input it cannot sign", () => {
    const bad = [
      () => signEpistula(alice, BODY, { uuid: "not-a-uuid" }),
      () => signEpistula(alice, { sha256: new Uint8Array(31) }),
      () => signEpistula(alice, BODY, { signedFor: "nobody" }),
      () => signEpistula(alice, BODY, { now: -1 }),
    ];
    for (const sign of bad) {
      expect(sign).toThrow(EpistulaSignError);
      expect(sign).toThrow(NodeError);
    }
  });
});

describe("createEpistulaVerifier", () => {
  it("accepts a signed request and names its signer, from Node's or fetch's headers", () => {
    const headers = signed();
    const lowerCase = Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
    );
    expect(gateway().verify(lowerCase, sha256(BODY))).toEqual({ ok: true, hotkey: ALICE });
    expect(gateway().verify(new Headers(headers), sha256(BODY))).toEqual({ ok: true, hotkey: ALICE });
    expect(gateway().verify(headers, sha256(BODY))).toEqual({ ok: true, hotkey: ALICE });
  });

  it("accepts a signature over the <Bytes>-wrapped message, as browser wallets sign", () => {
    const message = epistulaMessage(Buffer.from(sha256(BODY)).toString("hex"), UUID, String(NOW), BOB);
    const headers = {
      ...signed(),
      "Epistula-Request-Signature": `0x${Buffer.from(alice.sign(u8aWrapBytes(message))).toString("hex")}`,
    };
    expect(gateway().verify(headers, sha256(BODY))).toEqual({ ok: true, hotkey: ALICE });
  });

  it("refuses each missing header with 400, and a missing Signed-For as not for this gateway", () => {
    for (const name of [
      "Epistula-Version",
      "Epistula-Timestamp",
      "Epistula-Uuid",
      "Epistula-Signed-By",
      "Epistula-Request-Signature",
    ]) {
      const headers = signed();
      delete headers[name];
      const result = gateway().verify(headers, sha256(BODY));
      expectRefused(result, 400, "missing_header");
      expect(result.ok === false && result.message).toContain(name);
    }
    const unaddressed = signEpistula(alice, BODY, { now: NOW, uuid: UUID });
    expectRefused(gateway().verify(unaddressed, sha256(BODY)), 401, "wrong_recipient");
  });

  it("refuses each malformed header with 400", () => {
    const cases: [string, string, string][] = [
      ["Epistula-Version", "1", "unsupported_version"],
      ["Epistula-Timestamp", "soon", "malformed_header"],
      ["Epistula-Timestamp", "1.8e12", "malformed_header"],
      ["Epistula-Uuid", "not-a-uuid", "malformed_header"],
      ["Epistula-Signed-By", "5Grwva", "malformed_header"],
      ["Epistula-Signed-For", "bob", "malformed_header"],
      ["Epistula-Request-Signature", "0x1234", "malformed_header"],
      ["Epistula-Request-Signature", `0x${"zz".repeat(64)}`, "malformed_header"],
    ];
    for (const [name, value, code] of cases) {
      expectRefused(gateway().verify({ ...signed(), [name]: value }, sha256(BODY)), 400, code);
    }
    const repeated = { ...signed(), "epistula-uuid": [UUID, UUID] };
    expectRefused(gateway().verify(repeated, sha256(BODY)), 400, "malformed_header");
  });

  it("refuses a wrong body hash, a wrong signer and a tampered header with 401", () => {
    expectRefused(gateway().verify(signed(), sha256(new TextEncoder().encode("abd"))), 401, "bad_signature");
    expectRefused(
      gateway().verify({ ...signed(), "Epistula-Signed-By": CHARLIE }, sha256(BODY)),
      401,
      "bad_signature",
    );
    const otherUuid = "0b7a3f0e-6c1d-4d5e-9f3a-2b8c4d6e8f11";
    expectRefused(
      gateway().verify({ ...signed(), "Epistula-Uuid": otherUuid }, sha256(BODY)),
      401,
      "bad_signature",
    );
    expectRefused(
      gateway().verify({ ...signed(), "Epistula-Timestamp": String(NOW + 1) }, sha256(BODY)),
      401,
      "bad_signature",
    );
  });

  it("refuses a request signed for another recipient with 401", () => {
    expectRefused(gateway().verify(signed({ signedFor: CHARLIE }), sha256(BODY)), 401, "wrong_recipient");
  });

  it("refuses stale and future timestamps with 401, and accepts the window's edges", () => {
    const window = DEFAULT_EPISTULA_WINDOW_MS;
    expectRefused(gateway().verify(signed({ now: NOW - window - 1 }), sha256(BODY)), 401, "stale_timestamp");
    expectRefused(gateway().verify(signed({ now: NOW + window + 1 }), sha256(BODY)), 401, "stale_timestamp");
    expect(gateway().verify(signed({ now: NOW - window }), sha256(BODY)).ok).toBe(true);
    expect(gateway().verify(signed({ now: NOW + window }), sha256(BODY)).ok).toBe(true);
  });

  it("refuses a replayed uuid with 401 while it could still be valid, per hotkey", () => {
    const clock = { now: NOW };
    const verifier = gateway({ clock });
    const headers = signed();
    expect(verifier.verify(headers, sha256(BODY)).ok).toBe(true);
    expectRefused(verifier.verify(headers, sha256(BODY)), 401, "replayed_request");
    expectRefused(verifier.checkHeaders(headers), 401, "replayed_request");
    // Upper-casing the uuid changes the signed text, so it cannot dodge the cache either way.
    expect(verifier.verify({ ...headers, "Epistula-Uuid": UUID.toUpperCase() }, sha256(BODY)).ok).toBe(false);
    // The same uuid from another hotkey is another request.
    const charlie = new Keyring({ type: "sr25519" }).addFromUri("//Charlie");
    expect(
      verifier.verify(signEpistula(charlie, BODY, { signedFor: BOB, now: NOW, uuid: UUID }), sha256(BODY)).ok,
    ).toBe(true);
    // At the far edge of the window the request is still fresh and still refused as a replay…
    clock.now = NOW + DEFAULT_EPISTULA_WINDOW_MS;
    expectRefused(verifier.verify(headers, sha256(BODY)), 401, "replayed_request");
    // …and once the pair is forgotten the timestamp is stale, so nothing reopens.
    clock.now = NOW + 2 * DEFAULT_EPISTULA_WINDOW_MS;
    expectRefused(verifier.verify(headers, sha256(BODY)), 401, "stale_timestamp");
    expect(verifier.remembered).toBe(0);
  });

  it("refuses new requests past the replay cache cap rather than grow, and recovers as entries expire", () => {
    const clock = { now: NOW };
    const verifier = gateway({ maxRemembered: 2, clock });
    const uuid = (n: number) => `0b7a3f0e-6c1d-4d5e-9f3a-2b8c4d6e8f2${n}`;
    expect(verifier.verify(signed({ uuid: uuid(1) }), sha256(BODY)).ok).toBe(true);
    clock.now = NOW + 1000;
    expect(verifier.verify(signed({ uuid: uuid(2) }), sha256(BODY)).ok).toBe(true);
    const full = verifier.verify(signed({ uuid: uuid(3) }), sha256(BODY));
    expect(full).toMatchObject({ ok: false, status: 429, code: "replay_cache_full" });
    expect(full.ok === false && full.status === 429 && full.retryAfterMs).toBe(
      2 * DEFAULT_EPISTULA_WINDOW_MS - 1000,
    );
    expect(verifier.remembered).toBe(2);
    // A forged request is refused for its signature and takes no room.
    expectRefused(
      verifier.verify(signed({ uuid: uuid(4) }), sha256(new Uint8Array(1))),
      401,
      "bad_signature",
    );
    clock.now = NOW + 2 * DEFAULT_EPISTULA_WINDOW_MS;
    expect(verifier.verify(signed({ uuid: uuid(3), now: clock.now }), sha256(BODY)).ok).toBe(true);
    expect(verifier.remembered).toBe(2);
  });

  it("checks the headers before the body and judges a long upload by when it arrived", () => {
    const clock = { now: NOW };
    const verifier = gateway({ clock });
    const headers = signed();
    expect(verifier.checkHeaders(headers, { receivedAt: NOW })).toEqual({ ok: true, hotkey: ALICE });
    expect(verifier.remembered).toBe(0);
    expectRefused(verifier.checkHeaders(signed({ signedFor: CHARLIE })), 401, "wrong_recipient");
    // The body took ten minutes to stream: the timestamp is judged against the arrival time.
    clock.now = NOW + 600_000;
    expectRefused(verifier.verify(headers, sha256(BODY)), 401, "stale_timestamp");
    expect(verifier.verify(headers, sha256(BODY), { receivedAt: NOW })).toEqual({ ok: true, hotkey: ALICE });
    expectRefused(verifier.verify(headers, sha256(BODY), { receivedAt: NOW }), 401, "replayed_request");
  });

  it("throws a NodeError for a window or cap that is not positive", () => {
    expect(() => createEpistulaVerifier({ recipient: BOB, windowMs: 0 })).toThrow(EpistulaVerifierInitError);
    expect(() => createEpistulaVerifier({ recipient: BOB, maxRemembered: 0 })).toThrow(NodeError);
  });
});
