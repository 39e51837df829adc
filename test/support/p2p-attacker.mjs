/**
 * A hostile libp2p peer set, run as its own process so the miner's memory can be measured apart
 * from the attacker's. Plain JavaScript over the installed packages (no build step).
 *
 *   node test/support/p2p-attacker.mjs '<json>'
 *
 * json: { target: multiaddr, mode: "idle" | "fat", nodes: number, streams?: number,
 *         frameBytes?: number, sources: string[] (local IPs, used in turn) }
 * - idle: each node connects and never opens a stream;
 * - fat: each node opens `streams` storage streams and sends an unsigned frame of `frameBytes`
 *   payload minus its last byte, then stalls.
 * Prints a JSON line every half second: { connected, streamsSent, refused }.
 * Needs `npm run build` (for the Promise.withResolvers polyfill that Node 20 lacks).
 */
import "../../dist/polyfills.js";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";

const STORAGE_PROTOCOL = "/storage-subnet/1.0.0";
const options = JSON.parse(process.argv[2] ?? "{}");
const target = multiaddr(options.target);
const status = { connected: 0, streamsSent: 0, refused: 0 };
const nodes = [];

function fatFrame(payloadBytes) {
  // A store frame's front as an unsigned request: the current version, type store (2), flags 0,
  // request id 0.
  const frame = new Uint8Array(4 + payloadBytes - 1);
  new DataView(frame.buffer).setUint32(0, payloadBytes);
  frame.set([options.version, 2, 0, 0, 0, 0, 0], 4);
  return frame;
}

async function attack(index) {
  const source = options.sources[index % options.sources.length];
  const node = await createLibp2p({
    transports: [tcp({ dialOpts: { localAddress: source } })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
  nodes.push(node);
  try {
    await node.dial(target, { signal: AbortSignal.timeout(10_000) });
    status.connected++;
  } catch {
    status.refused += options.mode === "fat" ? options.streams : 1;
    return;
  }
  if (options.mode !== "fat") return;
  const frame = fatFrame(options.frameBytes);
  await Promise.all(
    Array.from({ length: options.streams }, async () => {
      try {
        const stream = await node.dialProtocol(target, STORAGE_PROTOCOL, {
          signal: AbortSignal.timeout(10_000),
        });
        stream.send(frame);
        status.streamsSent++;
      } catch {
        status.refused++;
      }
    }),
  );
}

const report = setInterval(() => {
  status.connected = nodes.reduce((n, node) => n + node.getConnections().length, 0);
  process.stdout.write(`${JSON.stringify(status)}\n`);
}, 500);

process.on("SIGTERM", async () => {
  clearInterval(report);
  await Promise.allSettled(nodes.map((node) => node.stop()));
  process.exit(0);
});

await Promise.all(Array.from({ length: options.nodes }, (_, i) => attack(i)));
