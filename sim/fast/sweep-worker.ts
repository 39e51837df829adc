/**
 * Worker-thread entry of an experiment sweep (sim/experiment.ts): receives one point's config,
 * runs it in fast mode and posts its metrics back. One worker runs one point at a time.
 */
import { parentPort } from "node:worker_threads";
import { computeMetrics } from "./metrics.js";
import { runFast } from "./run-fast.js";

/** A point to run, as the sweep posts it. */
export interface SweepTask {
  id: number;
  config: unknown;
}

/** A point's result, as the worker posts it back. */
export type SweepReply =
  | { id: number; metrics: Record<string, number | null> }
  | { id: number; error: string };

const port = parentPort;
if (port !== null) {
  port.on("message", (task: SweepTask) => {
    let reply: SweepReply;
    try {
      reply = { id: task.id, metrics: computeMetrics(runFast(task.config)) };
    } catch (err) {
      reply = { id: task.id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    }
    port.postMessage(reply);
  });
}
