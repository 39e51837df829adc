import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiPromise, WsProvider } from "@polkadot/api";
import type { SubmittableExtrinsic } from "@polkadot/api/types";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { u8aToHex } from "@polkadot/util";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { ensureSigned, InvalidTransaction, type PalletDef } from "../chain/devchain/pallet.js";
import { ACCOUNT_ID, decode, encode, t } from "../chain/devchain/scale.js";

/** Typed access without @polkadot/api-augment (which would retype the whole project). */
function tx(api: ApiPromise, section: string, method: string) {
  const f = api.tx[section]?.[method];
  if (!f) throw new Error(`no tx ${section}.${method}`);
  return f;
}

function query(api: ApiPromise, section: string, item: string) {
  const f = api.query[section]?.[item];
  if (!f) throw new Error(`no query ${section}.${item}`);
  return f;
}

async function account(api: ApiPromise, address: string): Promise<{ free: bigint; nonce: number }> {
  const info = (await query(api, "system", "account")(address)) as unknown as {
    nonce: { toNumber(): number };
    data: { free: { toBigInt(): bigint } };
  };
  return { free: info.data.free.toBigInt(), nonce: info.nonce.toNumber() };
}

interface Outcome {
  events: string[];
  /** "section.Name" of a failed dispatch's module error, or the DispatchError kind. */
  error: string | null;
  blockHash: string;
  raw: Array<{ section: string; method: string; data: unknown[] }>;
}

/** Signs, submits and waits for finalization; decodes a dispatch error like a client would. */
function send(api: ApiPromise, tx: SubmittableExtrinsic<"promise">, signer: KeyringPair): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    tx.signAndSend(signer, (r) => {
      if (r.status.isFinalized) {
        let error: string | null = null;
        if (r.dispatchError) {
          if (r.dispatchError.isModule) {
            const meta = api.registry.findMetaError(r.dispatchError.asModule);
            error = `${meta.section}.${meta.name}`;
          } else error = r.dispatchError.type;
        }
        resolve({
          events: r.events.map((e) => `${e.event.section}.${e.event.method}`),
          error,
          blockHash: r.status.asFinalized.toHex(),
          raw: r.events.map((e) => ({
            section: e.event.section,
            method: e.event.method,
            data: e.event.data.toJSON() as unknown[],
          })),
        });
      } else if (r.isError) reject(new Error(`transaction ${r.status.type}`));
    }).catch(reject);
  });
}

/** One raw JSON-RPC exchange over a fresh WebSocket. */
function rawRpc(
  endpoint: string,
  text: string,
): Promise<{ id?: unknown; result?: unknown; error?: { code: number } }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(endpoint);
    ws.on("open", () => ws.send(text));
    ws.on("message", (data) => {
      resolve(JSON.parse(data.toString()));
      ws.close();
    });
    ws.on("error", reject);
  });
}

describe("devchain with @polkadot/api", () => {
  let chain: DevChain;
  let api: ApiPromise;
  let alice: KeyringPair;
  let bob: KeyringPair;

  beforeAll(async () => {
    await cryptoWaitReady();
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    alice = keyring.addFromUri("//Alice");
    bob = keyring.addFromUri("//Bob");
    chain = createDevChain({ port: 0, mode: "instant", log: () => {} });
    await chain.start();
    api = await ApiPromise.create({ provider: new WsProvider(chain.endpoint), noInitWarn: true });
  });

  afterAll(async () => {
    await api?.disconnect();
    await chain?.stop();
  });

  it("connects and reads chain info and storage", async () => {
    expect((await api.rpc.system.chain()).toString()).toBe("Bittensor Dev Chain");
    const props = await api.rpc.system.properties();
    expect(props.ss58Format.unwrap().toNumber()).toBe(42);
    expect(props.tokenSymbol.unwrap()[0]?.toString()).toBe("TAO");
    expect(props.tokenDecimals.unwrap()[0]?.toNumber()).toBe(9);
    const info = await account(api, alice.address);
    expect(info.free).toBe(1_000_000n * 10n ** 9n);
    expect(info.nonce).toBe(0);
  });

  it("executes a signed transferKeepAlive end to end with events", async () => {
    const before = (await account(api, bob.address)).free;
    const amount = 12_345_678_900n;
    const statuses: string[] = [];
    const result = await new Promise<{ events: string[]; blockHash: string }>((resolve, reject) => {
      tx(
        api,
        "balances",
        "transferKeepAlive",
      )(bob.address, amount)
        .signAndSend(alice, (r) => {
          statuses.push(r.status.type);
          if (r.status.isFinalized)
            resolve({
              events: r.events.map((e) => `${e.event.section}.${e.event.method}`),
              blockHash: r.status.asFinalized.toHex(),
            });
          if (r.isError) reject(new Error(r.status.type));
        })
        .catch(reject);
    });
    expect(statuses).toContain("Ready");
    expect(statuses).toContain("InBlock");
    expect(statuses).toContain("Finalized");
    expect(result.events).toEqual([
      "balances.Withdraw",
      "balances.Transfer",
      "transactionPayment.TransactionFeePaid",
      "system.ExtrinsicSuccess",
    ]);
    const after = (await account(api, bob.address)).free;
    expect(after - before).toBe(amount);
    const aliceInfo = await account(api, alice.address);
    expect(aliceInfo.nonce).toBe(1);
  });

  it("rejects a stale nonce and a bad signature with 1010", async () => {
    const stale = tx(
      api,
      "balances",
      "transferKeepAlive",
    )(bob.address, 1_000_000_000n).signAndSend(alice, { nonce: 0 });
    await expect(stale).rejects.toThrow(/1010.*outdated/);

    const signed = await tx(
      api,
      "balances",
      "transferKeepAlive",
    )(bob.address, 1_000_000_000n).signAsync(alice, {
      nonce: await api.rpc.system.accountNextIndex(alice.address),
    });
    const bytes = signed.toU8a();
    const signature = signed.signature.toU8a();
    const at = Buffer.from(bytes).indexOf(Buffer.from(signature));
    expect(at).toBeGreaterThan(0);
    const tampered = bytes.slice();
    tampered[at + 10] = (tampered[at + 10] as number) ^ 1;
    await expect(api.rpc.author.submitExtrinsic(u8aToHex(tampered))).rejects.toThrow(/1010.*bad signature/);
  });

  it("reports an insufficient balance as a decoded Balances module error", async () => {
    const ferdie = new Keyring({ type: "sr25519" }).addFromUri("//Ferdie");
    const free = (await account(api, ferdie.address)).free;
    const out = await send(api, tx(api, "balances", "transferAllowDeath")(bob.address, free - 1n), ferdie);
    expect(out.error).toBe("balances.InsufficientBalance");
    expect(out.events).toContain("system.ExtrinsicFailed");
    const after = (await account(api, ferdie.address)).free;
    expect(after).toBeLessThan(free); // the fee is still charged
    expect(free - after).toBeLessThan(10_000_000n);
  });

  it("runs sudo calls as root and refuses a non-sudo signer", async () => {
    const charlie = new Keyring({ type: "sr25519" }).addFromUri("//Charlie");
    const call = tx(api, "balances", "forceSetBalance")(charlie.address, 42_000_000_000n);
    const ok = await send(api, tx(api, "sudo", "sudo")(call), alice);
    expect(ok.error).toBeNull();
    const sudid = ok.raw.find((e) => e.method === "Sudid");
    expect(sudid?.data[0]).toEqual({ ok: null });
    expect((await account(api, charlie.address)).free).toBe(42_000_000_000n);

    const denied = await send(api, tx(api, "sudo", "sudo")(call), bob);
    expect(denied.error).toBe("sudo.RequireSudo");

    // A signed-only call under root fails inside sudo; sudo itself succeeds and reports it.
    const inner = await send(
      api,
      tx(api, "sudo", "sudo")(tx(api, "balances", "transferKeepAlive")(bob.address, 1n)),
      alice,
    );
    expect(inner.error).toBeNull();
    const failed = inner.raw.find((e) => e.method === "Sudid")?.data[0] as { err?: unknown };
    expect(failed.err).toEqual({ badOrigin: null });
    expect((await query(api, "sudo", "key")()).toString()).toBe(alice.address);
  });

  it("batches calls with utility.batch and batchAll", async () => {
    const dave = new Keyring({ type: "sr25519" }).addFromUri("//Dave");
    const t1 = tx(api, "balances", "transferKeepAlive")(dave.address, 1_000n);
    const t2 = tx(api, "balances", "transferKeepAlive")(dave.address, 2_000n);
    const before = (await account(api, dave.address)).free;
    const ok = await send(api, tx(api, "utility", "batch")([t1, t2]), bob);
    expect(ok.events.filter((e) => e === "utility.ItemCompleted")).toHaveLength(2);
    expect(ok.events).toContain("utility.BatchCompleted");
    expect((await account(api, dave.address)).free - before).toBe(3_000n);

    const tooMuch = tx(api, "balances", "transferKeepAlive")(dave.address, 10n ** 18n);
    const interrupted = await send(api, tx(api, "utility", "batch")([t1, tooMuch, t2]), bob);
    expect(interrupted.error).toBeNull();
    expect(interrupted.events).toContain("utility.BatchInterrupted");
    const all = await send(api, tx(api, "utility", "batchAll")([t1, tooMuch]), bob);
    expect(all.error).toBe("balances.InsufficientBalance");
    // batch moved 1_000 before it stopped; batchAll rolled back its first transfer.
    expect((await account(api, dave.address)).free - before).toBe(4_000n);
  });

  it("answers unknown methods, malformed JSON and garbage extrinsics with errors and keeps going", async () => {
    const unknown = await rawRpc(
      chain.endpoint,
      JSON.stringify({ jsonrpc: "2.0", id: 7, method: "nope_nothing" }),
    );
    expect(unknown.id).toBe(7);
    expect(unknown.error?.code).toBe(-32601);
    const malformed = await rawRpc(chain.endpoint, "{ this is not json");
    expect(malformed.error?.code).toBe(-32700);
    const badParams = await rawRpc(
      chain.endpoint,
      JSON.stringify({ jsonrpc: "2.0", id: 8, method: "state_getStorage", params: ["zz"] }),
    );
    expect(badParams.error?.code).toBe(-32602);
    const garbage = await rawRpc(
      chain.endpoint,
      JSON.stringify({ jsonrpc: "2.0", id: 9, method: "author_submitExtrinsic", params: ["0x1084deadbeef"] }),
    );
    expect(garbage.error?.code).toBe(1010);
    const head = chain.head.header.number;
    const out = await send(api, tx(api, "balances", "transferKeepAlive")(bob.address, 1_000_000n), alice);
    expect(out.error).toBeNull();
    expect(chain.head.header.number).toBeGreaterThan(head);
  });

  it("serves JSON-RPC over HTTP POST", async () => {
    const res = await fetch(chain.httpEndpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "chain_getBlockHash", params: [0] }),
    });
    const body = (await res.json()) as { result: string };
    expect(body.result).toBe(api.genesisHash.toHex());
  });
});

describe("devchain manual mode and persistence", () => {
  it("produces blocks on dev_newBlock and resumes from --db", async () => {
    await cryptoWaitReady();
    const dir = mkdtempSync(join(tmpdir(), "devchain-"));
    const db = join(dir, "chain.sqlite");
    const bob = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Bob");
    const alice = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Alice");
    try {
      const first = createDevChain({ port: 0, mode: "manual", db, log: () => {} });
      await first.start();
      const api = await ApiPromise.create({ provider: new WsProvider(first.endpoint), noInitWarn: true });
      const genesis = api.genesisHash.toHex();
      const hash = await api.rpc.author.submitExtrinsic(
        await tx(api, "balances", "transferKeepAlive")(bob.address, 777n * 10n ** 9n).signAsync(alice),
      );
      expect((await api.rpc.author.pendingExtrinsics()).map((x) => x.hash.toHex())).toEqual([hash.toHex()]);
      await new Promise((r) => setTimeout(r, 50));
      expect(first.head.header.number).toBe(0);
      const last = await api.rpc("dev_newBlock" as never, { count: 5 } as never);
      expect(first.head.header.number).toBe(5);
      expect(String(last)).toBe(first.head.hashHex);
      const bobFree = (await account(api, bob.address)).free;
      expect(bobFree).toBe(1_000_000n * 10n ** 9n + 777n * 10n ** 9n);
      await api.disconnect();
      await first.stop();

      const second = createDevChain({ port: 0, mode: "manual", db, log: () => {} });
      await second.start();
      expect(second.head.header.number).toBe(5);
      const api2 = await ApiPromise.create({ provider: new WsProvider(second.endpoint), noInitWarn: true });
      expect(api2.genesisHash.toHex()).toBe(genesis);
      expect((await account(api2, bob.address)).free).toBe(bobFree);
      expect((await account(api2, alice.address)).nonce).toBe(1);
      second.newBlock();
      expect(second.head.header.number).toBe(6);
      await api2.disconnect();
      await second.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A pallet written against the description API, as SubtensorModule is. */
function counterPallet(): PalletDef {
  const info = t.struct(["pallet_counter", "Info"], { owner: ACCOUNT_ID, total: t.u64, tags: t.vec(t.u16) });
  return {
    name: "Counter",
    index: 40,
    storage: [
      { name: "Total", type: t.u64, default: 5n },
      {
        name: "PerNet",
        keys: [
          { hasher: "Identity", type: t.u16 },
          { hasher: "Blake2_128Concat", type: ACCOUNT_ID },
        ],
        type: info,
        query: "Optional",
      },
    ],
    calls: [
      {
        name: "bump",
        index: 3,
        args: [
          { name: "netuid", type: t.u16, typeName: "NetUid" },
          { name: "by", type: t.u64 },
        ],
        validate(_ctx, args) {
          if ((args.netuid as number) === 999) throw new InvalidTransaction("Custom", 6);
        },
        handler(ctx, args) {
          const who = ensureSigned(ctx.origin);
          const by = args.by as bigint;
          if (by === 0n) ctx.fail("ZeroBump");
          const total = ctx.storage<bigint>("Counter", "Total").mutate([], (v) => v + by) as bigint;
          ctx.storage("Counter", "PerNet").set([args.netuid, who], { owner: who, total, tags: [1, 2] });
          ctx.emit("Counter", "Bumped", [args.netuid, who, total]);
        },
      },
    ],
    events: [{ name: "Bumped", index: 2, fields: [t.u16, ACCOUNT_ID, t.u64] }],
    errors: [{ name: "Other" }, { name: "ZeroBump" }],
    constants: [{ name: "Step", type: t.u32, value: 7 }],
  };
}

describe("devchain interval mode, subscriptions and custom pallets", () => {
  it("streams heads and storage changes and runs a described pallet", async () => {
    await cryptoWaitReady();
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const alice = keyring.addFromUri("//Alice");
    const eve = keyring.addFromUri("//Eve");
    const chain = createDevChain({
      port: 0,
      mode: "interval",
      blockTimeMs: 40,
      pallets: [counterPallet()],
      log: () => {},
    });
    await chain.start();
    const api = await ApiPromise.create({ provider: new WsProvider(chain.endpoint), noInitWarn: true });
    try {
      const heads: number[] = [];
      const unsubHeads = await api.rpc.chain.subscribeNewHeads((h) => {
        heads.push(h.number.toNumber());
      });
      const seen: bigint[] = [];
      const unsubAccount = (await query(
        api,
        "system",
        "account",
      )(eve.address, (info: unknown) => {
        seen.push((info as { data: { free: { toBigInt(): bigint } } }).data.free.toBigInt());
      })) as unknown as () => void;

      expect(api.consts.counter?.step?.toString()).toBe("7");
      expect((await query(api, "counter", "total")()).toString()).toBe("5");
      // Storage keys match what @polkadot/api computes from the generated metadata.
      const item = chain.runtime.storageItem("Counter", "PerNet");
      expect(query(api, "counter", "perNet").key(3, alice.address)).toBe(
        chain.runtime.storageKey(item, [3, alice.publicKey]),
      );

      const out = await send(api, tx(api, "counter", "bump")(3, 10n), alice);
      expect(out.error).toBeNull();
      const bumped = out.raw.find((e) => e.method === "Bumped");
      expect(bumped?.data).toEqual([3, alice.address, 15]);
      const perNet = (await query(api, "counter", "perNet")(3, alice.address)).toJSON();
      expect(perNet).toEqual({ owner: alice.address, total: 15, tags: [1, 2] });
      expect(chain.read("Counter", "PerNet", [3, alice.publicKey])).toEqual({
        owner: alice.publicKey,
        total: 15n,
        tags: [1, 2],
      });
      expect((await query(api, "counter", "perNet")(4, alice.address)).toJSON()).toBeNull();

      const zero = await send(api, tx(api, "counter", "bump")(3, 0n), alice);
      expect(zero.error).toBe("counter.ZeroBump");
      await expect(tx(api, "counter", "bump")(999, 1n).signAndSend(alice)).rejects.toThrow(
        /1010.*Custom error: 6/,
      );

      await send(api, tx(api, "balances", "transferKeepAlive")(eve.address, 5_000n), alice);
      await new Promise((r) => setTimeout(r, 150));
      expect(seen[0]).toBe(1_000_000n * 10n ** 9n);
      expect(seen).toContain(1_000_000n * 10n ** 9n + 5_000n);
      unsubHeads();
      unsubAccount();
      expect(heads.length).toBeGreaterThan(3);
      for (let i = 1; i < heads.length; i++) expect(heads[i]).toBe((heads[i - 1] as number) + 1);
      // Events carry the extrinsic's phase: index 1, after the timestamp inherent.
      const events = (await query(api, "system", "events").at(out.blockHash)) as unknown as Array<{
        phase: { isApplyExtrinsic: boolean; asApplyExtrinsic: { toNumber(): number } };
      }>;
      expect(events.some((e) => e.phase.isApplyExtrinsic && e.phase.asApplyExtrinsic.toNumber() === 1)).toBe(
        true,
      );
    } finally {
      await api.disconnect();
      await chain.stop();
    }
  });
});

describe("scale codec", () => {
  it("round-trips values through encode/decode", () => {
    const ty = t.struct(["x", "Y"], {
      a: t.u8,
      b: t.compact(t.u128),
      c: t.vec(t.tuple(t.u16, t.bool)),
      d: t.option(t.i64),
      e: t.enum(["x", "E"], { A: [], B: [t.u32], C: { z: t.str } }),
      f: t.array(t.u8, 4),
    });
    const value = {
      a: 255,
      b: 2n ** 100n,
      c: [
        [1, true],
        [65535, false],
      ],
      d: -5n,
      e: { tag: "C", value: { z: "héllo" } },
      f: new Uint8Array([1, 2, 3, 4]),
    };
    expect(decode(ty, encode(ty, value))).toEqual(value);
    expect(() => encode(t.u8, 256)).toThrow();
    expect(() => decode(t.u16, new Uint8Array([1]))).toThrow();
  });
});
