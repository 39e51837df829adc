/**
 * The control channel between the simulator and a node it runs as a child process
 * (`--mode process`): Node's IPC channel with structured-clone serialization, one request at a
 * time per reply id. The child checks every request against {@link nodeRequestSchema} and answers
 * a bad one with an error reply instead of failing.
 */
import { z } from "zod";
import { ADVERSARY_NAMES } from "./adversaries.js";
import type { ChallengeCounts, MinerSpec, ValidatorSpec } from "./nodes.js";

const adversarySettings = z.strictObject({
  seed: z.number(),
  lazyKeep: z.number(),
  corruptRate: z.number(),
  slowDelayMs: z.number(),
  offlineFromTempo: z.number(),
  churnPeriod: z.number(),
  sybilGroup: z.number(),
});

const minerSpec = z.strictObject({
  index: z.number().int().gte(0),
  hotkeyUri: z.string().min(1),
  behaviour: z.enum(["honest", ...ADVERSARY_NAMES]),
  adversary: adversarySettings,
  netuid: z.number().int().gte(0),
  dbRoot: z.string().min(1),
  chunkSize: z.number().int().positive(),
  diskBytes: z.number().gte(0),
});

const validatorSpec = z.strictObject({
  index: z.number().int().gte(0),
  hotkeyUri: z.string().min(1),
  netuid: z.number().int().gte(0),
  dir: z.string().min(1),
  seed: z.number().int().gte(0),
  chunkSize: z.number().int().positive(),
  chunksPerChallenge: z.number().int().positive(),
  leavesPerChunk: z.number().int().positive(),
  challengeTimeoutMs: z.number().int().positive(),
  fillPerRound: z.number().int().gte(0),
  policy: z.strictObject({ name: z.string(), params: z.record(z.string(), z.unknown()).optional() }),
});

export const nodeRequestSchema = z.discriminatedUnion("op", [
  z.strictObject({ id: z.number(), op: z.literal("start-miner"), endpoint: z.string(), spec: minerSpec }),
  z.strictObject({
    id: z.number(),
    op: z.literal("start-validator"),
    endpoint: z.string(),
    spec: validatorSpec,
  }),
  z.strictObject({ id: z.number(), op: z.literal("retarget"), address: z.string() }),
  z.strictObject({ id: z.number(), op: z.literal("round") }),
  z.strictObject({ id: z.number(), op: z.literal("report"), hotkeys: z.array(z.string()) }),
  z.strictObject({ id: z.number(), op: z.literal("stop") }),
]);

/** A request as the parent sends it (the specs typed as the simulator builds them). */
export type NodeRequest =
  | { id: number; op: "start-miner"; endpoint: string; spec: MinerSpec }
  | { id: number; op: "start-validator"; endpoint: string; spec: ValidatorSpec }
  | { id: number; op: "retarget"; address: string }
  | { id: number; op: "round" }
  | { id: number; op: "report"; hotkeys: string[] }
  | { id: number; op: "stop" };

/** What each request resolves to. */
export interface NodeResults {
  "start-miner": { announcedAddress: string };
  "start-validator": Record<string, never>;
  retarget: Record<string, never>;
  round: Record<string, never>;
  report: { scores: number[]; counts: ChallengeCounts[] };
  stop: Record<string, never>;
}

export type NodeReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string } };
