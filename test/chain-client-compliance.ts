/**
 * The ChainClient compliance suite: one set of tests run against every chain the client talks to
 * (the embedded dev chain, a localnet, testnet or finney), as libp2p's interface-compliance-tests
 * do for transports. The read side works on any subtensor; the write side needs a funded sudo key
 * and runs only where the target allows writes.
 *
 * @example
 * chainClientCompliance("dev chain", async () => {
 *   const chain = createDevChain({ port: 0, mode: "instant", pallets: subtensorPallets() });
 *   await chain.start();
 *   return { endpoint: chain.endpoint, netuid: 1, canWrite: true, advance: (n) => chain.newBlock(n), teardown: () => chain.stop() };
 * });
 */
import type { ApiPromise } from "@polkadot/api";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady, decodeAddress, isAddress } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChainAdmin } from "../chain/admin.js";
import type { ChainClient } from "../chain/client.js";
import { ChainError, ChainModuleError } from "../chain/errors.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";

const TAO = 1_000_000_000n;
/** How long to wait for a block on a chain that produces them on its own (finney: 12 s). */
const NATURAL_BLOCK_WAIT_MS = 40_000;

/** What a compliance run needs to know about the chain under test. */
export interface ComplianceTarget {
  endpoint: string;
  /** A subnet that exists; the write side registers one fresh hotkey on it. */
  netuid: number;
  /** Whether the suite may submit transactions (dev chain, or a localnet with a sudo key). */
  canWrite: boolean;
  /** Produces `blocks` blocks now; chains that make their own blocks leave it out. */
  advance?(blocks: number): Promise<void> | void;
  /** A funded key that is the chain's sudo key; //Alice when omitted. Used only when canWrite. */
  sudoUri?: string;
  /** Called after the client has stopped. */
  teardown?(): Promise<void>;
  /**
   * The client under test, for implementations without an endpoint (the in-memory client);
   * a PolkadotChainClient connected to `endpoint` when omitted.
   */
  connect?(): Promise<ChainClient & ChainAdmin>;
}

/** A client whose chain "lacks" SubtensorModule storage: the view a non-subtensor endpoint gives. */
class ClientWithoutSubtensorStorage extends PolkadotChainClient {
  override get api(): ApiPromise {
    const real = super.api;
    const query = new Proxy(real.query, {
      get: (target, prop) => (prop === "subtensorModule" ? undefined : Reflect.get(target, prop)),
    });
    return new Proxy(real, { get: (target, prop) => (prop === "query" ? query : Reflect.get(target, prop)) });
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
}

/** Resolves once `predicate` holds, checking after each new block notification or every 50 ms. */
async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Registers the compliance tests for one chain. `setup` runs once (in `beforeAll`) and returns
 * the target; the suite connects its own {@link PolkadotChainClient} to it, or uses the client
 * the target's `connect` gives.
 */
export function chainClientCompliance(name: string, setup: () => Promise<ComplianceTarget>): void {
  describe(`ChainClient compliance: ${name}`, () => {
    let target: ComplianceTarget;
    let client: ChainClient & ChainAdmin;

    /** Moves the chain on by `count` blocks: produced now, or waited for. */
    async function nextBlocks(count: number): Promise<void> {
      const before = await client.currentBlock();
      if (target.advance) {
        await target.advance(count);
        return;
      }
      let head = before;
      const unsubscribe = await client.subscribeBlocks((n) => {
        head = Math.max(head, n);
      });
      try {
        await waitFor(() => head >= before + count, NATURAL_BLOCK_WAIT_MS * count, `${count} new blocks`);
      } finally {
        unsubscribe();
      }
    }

    beforeAll(async () => {
      await cryptoWaitReady();
      target = await setup();
      client = target.connect
        ? await target.connect()
        : new PolkadotChainClient({ endpoint: target.endpoint, connectTimeoutMs: 20_000 });
      await client.start();
    });

    afterAll(async () => {
      await client?.stop();
      await target?.teardown?.();
    });

    describe("read side", () => {
      it("connects and reports the endpoint it was given", async () => {
        expect(client.endpoint).toBe(target.endpoint);
        expect(await client.currentBlock()).toBeGreaterThanOrEqual(0);
      });

      it("currentBlock increases as blocks are made", async () => {
        const before = await client.currentBlock();
        await nextBlocks(1);
        expect(await client.currentBlock()).toBeGreaterThan(before);
      });

      it("subscribeBlocks delivers increasing block numbers and stops after unsubscribe", async () => {
        const seen: number[] = [];
        const control: number[] = [];
        const start = await client.currentBlock();
        const unsubscribe = await client.subscribeBlocks((n) => seen.push(n));
        const unsubscribeControl = await client.subscribeBlocks((n) => control.push(n));
        try {
          await nextBlocks(2);
          const head = await client.currentBlock();
          await waitFor(() => seen.includes(head), 10_000, `block #${head} on the subscription`);
          for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1] as number);
          expect(seen.at(-1)).toBeGreaterThanOrEqual(start + 2);

          unsubscribe();
          const delivered = seen.length;
          await nextBlocks(1);
          const next = await client.currentBlock();
          // The control subscription proves the block was announced; the closed one stays silent.
          await waitFor(() => control.includes(next), 10_000, `block #${next} on the control subscription`);
          expect(seen.length).toBe(delivered);
        } finally {
          unsubscribe();
          unsubscribeControl();
        }
      });

      it("subnetExists is true for the target subnet and false for an unused netuid", async () => {
        expect(await client.subnetExists(target.netuid)).toBe(true);
        expect(await client.subnetExists(65_535)).toBe(false);
      });

      it("a metagraph read again at the same block is equal, and the caller's own copy", async () => {
        const first = await client.metagraph(target.netuid);
        const second = await client.metagraph(target.netuid);
        if (second.blockHash !== first.blockHash) return; // a block came between: nothing to compare
        expect(second).toEqual(first);
        first.hotkeys.push("changed by the caller");
        first.stake[0] = -1n;
        const third = await client.metagraph(target.netuid);
        if (third.blockHash === second.blockHash) expect(third).toEqual(second);
      });

      it("metagraph vectors all have n entries, hotkeys are ss58 and uidOf agrees", async () => {
        const graph = await client.metagraph(target.netuid);
        expect(graph.netuid).toBe(target.netuid);
        expect(graph.n).toBeGreaterThanOrEqual(0);
        expect(graph.blockHash).toMatch(/^0x[0-9a-f]{64}$/);
        expect(graph.block).toBeLessThanOrEqual(await client.currentBlock());
        const vectors = {
          hotkeys: graph.hotkeys,
          coldkeys: graph.coldkeys,
          stake: graph.stake,
          active: graph.active,
          validatorPermit: graph.validatorPermit,
          incentive: graph.incentive,
          dividends: graph.dividends,
          consensus: graph.consensus,
          validatorTrust: graph.validatorTrust,
          emission: graph.emission,
          lastUpdate: graph.lastUpdate,
          blockAtRegistration: graph.blockAtRegistration,
          axons: graph.axons,
        };
        for (const [key, vector] of Object.entries(vectors))
          expect({ [key]: vector.length }).toEqual({ [key]: graph.n });
        for (const key of [...graph.hotkeys, ...graph.coldkeys]) {
          expect(isAddress(key)).toBe(true);
          expect(decodeAddress(key)).toHaveLength(32);
        }
        for (const u16 of [
          ...graph.incentive,
          ...graph.dividends,
          ...graph.consensus,
          ...graph.validatorTrust,
        ]) {
          expect(u16).toBeGreaterThanOrEqual(0);
          expect(u16).toBeLessThanOrEqual(65_535);
        }
        for (const rao of [...graph.stake, ...graph.emission]) expect(rao).toBeGreaterThanOrEqual(0n);
        for (const reg of graph.blockAtRegistration) expect(reg).toBeLessThanOrEqual(graph.block);
        // Every uid on small subnets; first, last and a spread of the rest on large ones.
        const step = Math.max(1, Math.floor(graph.n / 8));
        const sample = new Set(graph.n > 0 ? [0, graph.n - 1] : []);
        for (let uid = 0; uid < graph.n; uid += step) sample.add(uid);
        for (const uid of sample)
          expect(await client.uidOf(target.netuid, graph.hotkeys[uid] as string)).toBe(uid);
        const stranger = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri(
          "//compliance//unregistered",
        );
        expect(await client.uidOf(target.netuid, stranger.address)).toBeUndefined();
      });

      it("hyperparameters are within subtensor's ranges", async () => {
        const hp = await client.hyperparameters(target.netuid);
        const graph = await client.metagraph(target.netuid);
        expect(hp.tempo).toBeGreaterThan(0);
        expect(hp.tempo).toBeLessThanOrEqual(65_535);
        expect(hp.maxAllowedUids).toBeGreaterThan(0);
        expect(hp.maxAllowedUids).toBeGreaterThanOrEqual(graph.n);
        expect(hp.maxAllowedValidators).toBeLessThanOrEqual(hp.maxAllowedUids);
        expect(hp.minAllowedWeights).toBeLessThanOrEqual(hp.maxAllowedUids);
        expect(hp.kappa).toBeGreaterThanOrEqual(0);
        expect(hp.kappa).toBeLessThanOrEqual(65_535);
        expect(hp.immunityPeriod).toBeGreaterThanOrEqual(0);
        expect(hp.activityCutoff).toBeGreaterThan(0);
        expect(hp.weightsSetRateLimit).toBeGreaterThanOrEqual(0);
        expect(hp.weightsVersionKey).toBeGreaterThanOrEqual(0n);
        // Bonds moving average is a fraction of 1_000_000 in subtensor.
        expect(hp.bondsMovingAverage).toBeGreaterThanOrEqual(0n);
        expect(hp.bondsMovingAverage).toBeLessThanOrEqual(1_000_000n);
        expect(hp.burn).toBeGreaterThanOrEqual(0n);
        for (const flag of [hp.commitRevealWeightsEnabled, hp.liquidAlphaEnabled, hp.yuma3Enabled])
          expect(typeof flag).toBe("boolean");
      });

      it("commitments returns a Map of ss58 hotkeys to raw bytes", async () => {
        const commitments = await client.commitments(target.netuid);
        expect(commitments).toBeInstanceOf(Map);
        for (const [hotkey, bytes] of commitments) {
          expect(isAddress(hotkey)).toBe(true);
          expect(bytes).toBeInstanceOf(Uint8Array);
          expect(bytes.length).toBeLessThanOrEqual(128);
        }
      });

      it("every read given an aborted signal rejects with the signal's reason", async () => {
        const controller = new AbortController();
        const reason = new Error("caller gave up");
        controller.abort(reason);
        const options = { signal: controller.signal };
        const hotkey = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//compliance//aborted");
        for (const read of [
          () => client.currentBlock(options),
          () => client.subnetExists(target.netuid, options),
          () => client.uidOf(target.netuid, hotkey.address, options),
          () => client.metagraph(target.netuid, options),
          () => client.hyperparameters(target.netuid, options),
          () => client.commitments(target.netuid, options),
          () => client.balanceOf(hotkey.address, options),
        ])
          expect(await rejectionOf(read())).toBe(reason);
        // The client is unharmed.
        expect(await client.currentBlock()).toBeGreaterThanOrEqual(0);
      });

      it("a storage item the chain lacks gives a named ChainError, and the client keeps working", async (ctx) => {
        ctx.skip(target.connect !== undefined, "a client of its own has no @polkadot/api storage view");
        const bare = new ClientWithoutSubtensorStorage({
          endpoint: target.endpoint,
          connectTimeoutMs: 20_000,
        });
        await bare.start();
        try {
          for (const call of [
            () => bare.subnetExists(target.netuid),
            () => bare.hyperparameters(target.netuid),
          ]) {
            const err = await rejectionOf(call());
            expect(err).toBeInstanceOf(ChainError);
            expect((err as Error).name).toBe("ChainError");
            expect((err as Error).message).toContain("subtensorModule");
          }
          expect(await bare.currentBlock()).toBeGreaterThanOrEqual(0);
        } finally {
          await bare.stop();
        }
      });
    });

    describe("write side", () => {
      let sudo: KeyringPair;
      let hotkey: KeyringPair;
      let uid: number;

      beforeAll(() => {
        if (!target.canWrite) return;
        const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
        sudo = keyring.addFromUri(target.sudoUri ?? "//Alice");
        // A fresh hotkey per run, so reruns against a persistent localnet register anew.
        hotkey = keyring.addFromUri(`${target.sudoUri ?? "//Alice"}//compliance//${Date.now()}`);
      });

      it("registers a hotkey, and uidOf and the metagraph agree", async (ctx) => {
        ctx.skip(!target.canWrite, "target is read-only");
        uid = await client.burnedRegister(sudo, target.netuid, hotkey.address);
        expect(await client.uidOf(target.netuid, hotkey.address)).toBe(uid);
        const graph = await client.metagraph(target.netuid);
        expect(graph.hotkeys[uid]).toBe(hotkey.address);
        expect(graph.coldkeys[uid]).toBe(sudo.address);
      });

      it("stake added to the hotkey shows in the metagraph", async (ctx) => {
        ctx.skip(!target.canWrite, "target is read-only");
        const before = (await client.metagraph(target.netuid)).stake[uid] ?? 0n;
        await client.addStake(sudo, hotkey.address, target.netuid, 10n * TAO);
        const after = (await client.metagraph(target.netuid)).stake[uid] ?? 0n;
        expect(after).toBeGreaterThan(before);
      });

      it("serves an axon that the metagraph reads back", async (ctx) => {
        ctx.skip(!target.canWrite, "target is read-only");
        const axon = { version: 7, ip: "203.0.113.7", port: 8091, ipType: 4, protocol: 4 };
        const result = await client.serveAxon(hotkey, target.netuid, axon);
        expect(result.blockHash).toMatch(/^0x[0-9a-f]{64}$/);
        const graph = await client.metagraph(target.netuid);
        expect(graph.axons[uid]).toEqual({ ...axon, block: result.blockNumber });
      });

      it("a commitment round-trips byte for byte", async (ctx) => {
        ctx.skip(!target.canWrite, "target is read-only");
        const data = new TextEncoder().encode(`/ip4/203.0.113.7/tcp/8091#${hotkey.address.slice(0, 8)}`);
        await client.setCommitment(hotkey, target.netuid, data);
        const commitments = await client.commitments(target.netuid);
        expect(commitments.get(hotkey.address)).toEqual(data);
      });

      it("setWeights is visible in metagraph({ weights: true })", async (ctx) => {
        ctx.skip(!target.canWrite, "target is read-only");
        await client.sudoAdmin(sudo, "sudoSetCommitRevealWeightsEnabled", [target.netuid, false]);
        await client.sudoAdmin(sudo, "sudoSetWeightsSetRateLimit", [target.netuid, 0]);
        await client.sudoAdmin(sudo, "sudoSetStakeThreshold", [0]);
        const { weightsVersionKey } = await client.hyperparameters(target.netuid);
        // A self-weight needs no validator permit.
        await client.setWeights(hotkey, target.netuid, [uid], [65_535], weightsVersionKey);
        const graph = await client.metagraph(target.netuid, { weights: true });
        expect(graph.weights).toHaveLength(graph.n);
        expect(graph.weights?.[uid]).toEqual([[uid, 65_535]]);
        expect(graph.lastUpdate[uid]).toBeGreaterThan(0);
      });

      it("a failed dispatch comes back as ChainModuleError with section and error names", async (ctx) => {
        ctx.skip(!target.canWrite, "target is read-only");
        const err = await rejectionOf(client.burnedRegister(sudo, target.netuid, hotkey.address));
        expect(err).toBeInstanceOf(ChainModuleError);
        expect(err).toMatchObject({
          name: "ChainModuleError",
          section: "subtensorModule",
          error: "HotKeyAlreadyRegisteredInSubNet",
        });
      });
    });
  });
}
