/**
 * Benchmark group "devchain": time to a listening chain (in process, and as a fresh `devchain`
 * process), an empty block, and a signed transfer inside a block. Goals (from the dev chain
 * brief): ready < 1 s, empty block < 5 ms.
 *
 * Baselines, measured in the same run: a bare HTTP server listening on an ephemeral port (start),
 * a `node -e` process that starts a bare HTTP server and prints a line (process start),
 * blake2-256 over 1 KiB (empty block: raw hashing), one sr25519 verification with the WASM build
 * the chain itself uses (per transfer: the signature check every transaction needs).
 *
 * Metadata (issue 17 asked whether to encode it with a maintained codec instead of our own): the
 * subtensor runtime's V15 metadata encoded by `encodeMetadataV15` against the same metadata encoded
 * by `@polkadot-api/substrate-bindings`, each given it in its own shape; and the whole V15 build
 * (type registry plus encoding) against that codec's encoding alone.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { Keyring } from "@polkadot/keyring";
import { hexToU8a, u8aToHex } from "@polkadot/util";
import { blake2AsU8a, cryptoWaitReady } from "@polkadot/util-crypto";
import { sr25519Verify, waitReady } from "@polkadot/wasm-crypto";
import { metadata as metadataCodec, type V15 } from "@polkadot-api/substrate-bindings";
import { createDevChain } from "../chain/devchain/chain.js";
import { signExtrinsic } from "../chain/devchain/extrinsic.js";
import type { Hasher } from "../chain/devchain/hashing.js";
import { encodeMetadataV15, type MetadataV15, type PortableType } from "../chain/devchain/metadata.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { Runtime } from "../chain/devchain/runtime.js";
import { type BenchGroup, type BenchResult, measured, percentile, timeIt } from "./harness.js";

const TRANSFERS = 200;
/** A process that has not printed its ready line by then is broken, not slow. */
const PROCESS_READY_TIMEOUT_MS = 20_000;

/** The built CLI, beside this module in dist/ (dist/bench → dist/chain/devchain/cli.js). */
const DEVCHAIN_CLI = fileURLToPath(new URL("../chain/devchain/cli.js", import.meta.url));

/** The baseline process: what any Node process that serves HTTP pays before it can print "listening". */
const BARE_SERVER_SCRIPT =
  "require('node:http').createServer().listen(0,'127.0.0.1',function(){console.log('listening on '+this.address().port)})";

/**
 * Spawns `node …args`, returns the milliseconds from spawn until a stdout line contains `ready`,
 * then stops the process and waits for it to exit.
 */
async function timeProcessReady(args: string[], ready: string, signal: AbortSignal): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    return await new Promise<number>((resolve, reject) => {
      const timeout = AbortSignal.any([signal, AbortSignal.timeout(PROCESS_READY_TIMEOUT_MS)]);
      const fail = (why: string) =>
        reject(new Error(`${args.join(" ")}: ${why}${stderr ? `\n${stderr}` : ""}`));
      timeout.addEventListener("abort", () => fail("no ready line in time"), { once: true });
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes(ready)) resolve(performance.now() - t0);
      });
      child.once("exit", (code) => fail(`exited with ${code} before it was ready`));
      child.once("error", (e) => fail(e.message));
    });
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

async function listenOnce(): Promise<number> {
  const start = performance.now();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const ms = performance.now() - start;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return ms;
}

/** "meta" read as a little-endian u32. */
const METADATA_MAGIC = 0x6174656d;
/** Fresh runtimes whose V15 metadata is built, for the median build time. */
const METADATA_BUILDS = 15;

/** polkadot-api's hasher tags to ours. */
const HASHERS: Record<string, Hasher> = {
  Blake2128: "Blake2_128",
  Blake2256: "Blake2_256",
  Blake2128Concat: "Blake2_128Concat",
  Twox128: "Twox128",
  Twox256: "Twox256",
  Twox64Concat: "Twox64Concat",
  Identity: "Identity",
};

function hasherOf(tag: string): Hasher {
  const hasher = HASHERS[tag];
  if (!hasher) throw new Error(`unknown hasher ${tag}`);
  return hasher;
}

function capitalize(tag: string): string {
  return tag.charAt(0).toUpperCase() + tag.slice(1);
}

/** polkadot-api's decoded V15 in the shape `encodeMetadataV15` takes, so both encode the same metadata. */
function toOurMetadataV15(meta: V15): MetadataV15 {
  const field = (f: {
    name: string | undefined;
    type: number;
    typeName: string | undefined;
    docs: string[];
  }) => ({
    name: f.name ?? null,
    type: f.type,
    typeName: f.typeName ?? null,
    docs: f.docs,
  });
  const lookup = meta.lookup.map((entry): PortableType => {
    const { def } = entry;
    let ours: PortableType["type"]["def"];
    switch (def.tag) {
      case "composite":
        ours = { tag: "Composite", value: { fields: def.value.map(field) } };
        break;
      case "variant":
        ours = {
          tag: "Variant",
          value: { variants: def.value.map((v) => ({ ...v, fields: v.fields.map(field) })) },
        };
        break;
      case "sequence":
        ours = { tag: "Sequence", value: { type: def.value } };
        break;
      case "array":
        ours = { tag: "Array", value: def.value };
        break;
      case "tuple":
        ours = { tag: "Tuple", value: def.value };
        break;
      case "primitive":
        ours = { tag: "Primitive", value: { tag: capitalize(def.value.tag) } };
        break;
      case "compact":
        ours = { tag: "Compact", value: { type: def.value } };
        break;
      default:
        throw new Error(`the dev chain does not build ${def.tag} types`);
    }
    return {
      id: entry.id,
      type: {
        path: entry.path,
        params: entry.params.map((p) => ({ name: p.name, type: p.type ?? null })),
        def: ours,
        docs: entry.docs,
      },
    };
  });
  const pallets = meta.pallets.map((p) => ({
    name: p.name,
    storage: p.storage
      ? {
          prefix: p.storage.prefix,
          items: p.storage.items.map((i) => ({
            name: i.name,
            modifier: i.modifier === 0 ? ("Optional" as const) : ("Default" as const),
            type:
              i.type.tag === "plain"
                ? { tag: "Plain" as const, value: i.type.value }
                : {
                    tag: "Map" as const,
                    value: { ...i.type.value, hashers: i.type.value.hashers.map((h) => hasherOf(h.tag)) },
                  },
            fallback: hexToU8a(i.fallback),
            docs: i.docs,
          })),
        }
      : null,
    calls: p.calls ?? null,
    events: p.events ?? null,
    constants: p.constants.map((c) => ({ ...c, value: hexToU8a(c.value) })),
    errors: p.errors ?? null,
    index: p.index,
  }));
  const { extrinsic } = meta;
  return {
    lookup,
    pallets,
    // V15 has no single extrinsic type; encodeMetadataV15 writes the four part types instead.
    extrinsic: {
      type: extrinsic.call,
      version: extrinsic.version,
      signedExtensions: extrinsic.signedExtensions,
    },
    type: meta.type,
    extrinsicTypes: {
      address: extrinsic.address,
      call: extrinsic.call,
      signature: extrinsic.signature,
      extra: extrinsic.extra,
    },
    apis: meta.apis,
    outerEnums: meta.outerEnums,
  };
}

/** Reports our metadata V15 encoding against polkadot-api's, and our whole V15 build against both. */
function benchMetadata(report: (result: BenchResult) => void): void {
  // The pallets a `devchain` process runs: the chain's own (System, Balances, …) and subtensor's.
  const { runtime } = createDevChain({ port: 0, mode: "manual", pallets: subtensorPallets(), log: () => {} });
  const { pallets } = runtime;
  const bytes = runtime.metadataV15;
  const decoded = metadataCodec.dec(bytes);
  if (decoded.metadata.tag !== "v15")
    throw new Error("the dev chain's V15 metadata decodes as another version");
  const papiValue = { magicNumber: METADATA_MAGIC, metadata: decoded.metadata };
  const ours = toOurMetadataV15(decoded.metadata.value);
  const hex = u8aToHex(bytes);
  if (u8aToHex(metadataCodec.enc(papiValue)) !== hex || u8aToHex(encodeMetadataV15(ours)) !== hex)
    throw new Error("the two encoders disagree on the dev chain's V15 metadata");
  const papiMs = timeIt(() => metadataCodec.enc(papiValue), 500);
  const oursMs = timeIt(() => encodeMetadataV15(ours), 500);
  report(
    measured(
      "devchain.metadataEncode",
      oursMs,
      "ms",
      papiMs,
      `encodeMetadataV15, subtensor runtime (${bytes.length} B); baseline: @polkadot-api/substrate-bindings encoding the same`,
    ),
  );
  const builds: number[] = [];
  for (let i = 0; i < METADATA_BUILDS; i++) {
    const fresh = new Runtime({ pallets: [...pallets] });
    const t0 = performance.now();
    void fresh.metadataV15;
    builds.push(performance.now() - t0);
  }
  report(
    measured(
      "devchain.metadataBuild",
      percentile(builds, 50),
      "ms",
      papiMs,
      "V15 on a fresh runtime: type registry + encoding; baseline: @polkadot-api/substrate-bindings encoding alone",
    ),
  );
}

export const devchainBench: BenchGroup = {
  name: "devchain",
  description: "embedded dev chain: metadata, start, empty block, signed transfer",
  async run(report, signal) {
    await cryptoWaitReady();
    await waitReady();
    benchMetadata(report);
    const starts: number[] = [];
    const listens: number[] = [];
    for (let i = 0; i < 3 && !signal.aborted; i++) {
      listens.push(await listenOnce());
      const t0 = performance.now();
      const chain = createDevChain({ port: 0, mode: "manual", log: () => {} });
      await chain.start();
      starts.push(performance.now() - t0);
      await chain.stop();
    }
    report(
      measured(
        "devchain.start",
        percentile(starts, 50),
        "ms",
        percentile(listens, 50),
        "baseline: bare HTTP listen; goal < 1000 ms",
      ),
    );

    const processReady: number[] = [];
    const bareProcess: number[] = [];
    for (let i = 0; i < 3 && !signal.aborted; i++) {
      bareProcess.push(await timeProcessReady(["-e", BARE_SERVER_SCRIPT], "listening", signal));
      processReady.push(
        await timeProcessReady([DEVCHAIN_CLI, "--port", "0", "--manual"], "listening", signal),
      );
    }
    report(
      measured(
        "devchain.processReady",
        percentile(processReady, 50),
        "ms",
        percentile(bareProcess, 50),
        "spawn until 'devchain listening'; baseline: node -e bare HTTP server; goal < 1000 ms",
      ),
    );

    const chain = createDevChain({ port: 0, mode: "manual", log: () => {} });
    await chain.start();
    try {
      const data = new Uint8Array(1024).fill(7);
      const hashMs = timeIt(() => blake2AsU8a(data, 256), 200);
      const blockMs = timeIt(() => chain.newBlock(), 1000);
      report(
        measured("devchain.emptyBlock", blockMs, "ms", hashMs, "baseline: blake2-256 of 1 KiB; goal < 5 ms"),
      );

      const keyring = new Keyring({ type: "sr25519" });
      const alice = keyring.addFromUri("//Alice");
      const bob = keyring.addFromUri("//Bob");
      const call = {
        pallet: "Balances",
        call: "transfer_keep_alive",
        args: { dest: { tag: "Id", value: bob.publicKey }, value: 1_000_000n },
      };
      const signed: Uint8Array[] = [];
      for (let nonce = 0; nonce < TRANSFERS; nonce++)
        signed.push(signExtrinsic(chain.runtime, call, alice, { nonce, genesisHash: chain.genesis.hash }));
      const message = new Uint8Array(100).fill(1);
      const sig = alice.sign(message);
      if (!sr25519Verify(sig, message, alice.publicKey))
        throw new Error("baseline signature does not verify");
      const verifyUs = timeIt(() => sr25519Verify(sig, message, alice.publicKey), 200) * 1000;
      const t0 = performance.now();
      for (const x of signed) chain.submit(x);
      const [block] = chain.newBlock();
      const perTxUs = ((performance.now() - t0) * 1000) / TRANSFERS;
      if (block?.extrinsics.length !== TRANSFERS + 1)
        throw new Error("bench block did not include every transfer");
      report(
        measured(
          "devchain.transfer",
          perTxUs,
          "µs",
          verifyUs,
          "submit + include per transfer; baseline: one sr25519 verify (@polkadot/wasm-crypto)",
        ),
      );
    } finally {
      await chain.stop();
    }
  },
};
