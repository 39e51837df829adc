/**
 * A node's Prometheus metrics, kept by prom-client: counters, gauges (set directly or collected at
 * scrape time) and histograms, and an HTTP endpoint serving them. Each node has its own registry
 * (the simulator runs many nodes in one process), handed to whatever records into it.
 * Format: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { NodeError } from "./errors.js";

export type Labels = Record<string, string>;

/** Latency buckets in seconds: 0.5 ms (a cached proof on loopback) to 10 s (a slow 1 MiB upload). */
export const DEFAULT_LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface MetricCounter {
  inc(labels?: Labels, by?: number): void;
}

export interface MetricGauge {
  set(value: number, labels?: Labels): void;
}

export interface MetricHistogram {
  observe(value: number, labels?: Labels): void;
}

/** A gauge's value(s) read at scrape time: one number, or one per label set. */
export type Collect = () => number | Array<[Labels, number]>;

/** Prometheus fixes a metric's label names when it is declared. */
export interface MetricOptions {
  labelNames?: readonly string[];
}

export interface MetricsRegistry {
  counter(name: string, help: string, options?: MetricOptions): MetricCounter;
  /** A gauge; with `collect`, its value(s) are read at every scrape instead of set. */
  gauge(name: string, help: string, collect?: Collect, options?: MetricOptions): MetricGauge;
  histogram(
    name: string,
    help: string,
    options?: MetricOptions & { buckets?: readonly number[] },
  ): MetricHistogram;
  /** The exposition text of every metric. */
  render(): Promise<string>;
  /** The content type of {@link render}'s text. */
  readonly contentType: string;
}

export interface MetricsRegistryInit {
  /**
   * Also export prom-client's standard process metrics (CPU, memory, event-loop lag, GC, handles).
   * For a node that is its own process; the simulator's many nodes in one process leave it off.
   */
  processMetrics?: boolean;
}

/**
 * @example
 * const metrics = createMetricsRegistry({ processMetrics: true });
 * const requests = metrics.counter("miner_requests_total", "Requests served", { labelNames: ["type"] });
 * requests.inc({ type: "store" });
 */
export function createMetricsRegistry(init: MetricsRegistryInit = {}): MetricsRegistry {
  const registry = new Registry();
  if (init.processMetrics) collectDefaultMetrics({ register: registry });
  const declare = <M>(name: string, create: () => M): M => {
    if (registry.getSingleMetric(name) !== undefined)
      throw new MetricNameError(`metric ${name} is registered twice`);
    try {
      return create();
    } catch (cause) {
      throw new MetricNameError(`invalid metric ${name}: ${(cause as Error).message}`, { cause });
    }
  };
  const labelNamesOf = (options: MetricOptions | undefined) => [...(options?.labelNames ?? [])];
  return {
    counter(name, help, options) {
      const counter = declare(
        name,
        () => new Counter({ name, help, labelNames: labelNamesOf(options), registers: [registry] }),
      );
      return { inc: (labels = {}, by = 1) => counter.inc(labels, by) };
    },
    gauge(name, help, collect, options) {
      const gauge: Gauge = declare(
        name,
        () =>
          new Gauge({
            name,
            help,
            labelNames: labelNamesOf(options),
            registers: [registry],
            ...(collect
              ? {
                  collect() {
                    gauge.reset();
                    let collected: ReturnType<Collect>;
                    try {
                      collected = collect();
                    } catch {
                      // A store closing mid-scrape: export no value rather than fail the scrape.
                      return;
                    }
                    if (typeof collected === "number") gauge.set(collected);
                    else for (const [labels, value] of collected) gauge.set(labels, value);
                  },
                }
              : {}),
          }),
      );
      return { set: (value, labels = {}) => gauge.set(labels, value) };
    },
    histogram(name, help, options) {
      const histogram = declare(
        name,
        () =>
          new Histogram({
            name,
            help,
            labelNames: labelNamesOf(options),
            buckets: [...(options?.buckets ?? DEFAULT_LATENCY_BUCKETS)],
            registers: [registry],
          }),
      );
      return { observe: (value, labels = {}) => histogram.observe(labels, value) };
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

/** A metric name is invalid or used twice. */
export class MetricNameError extends NodeError {
  override name = "MetricNameError";
}

export interface MetricsServer {
  /** The port actually listened on (useful with port 0). */
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Serves `registry.render()` at `GET /metrics` (any other path: 404).
 *
 * @example const server = await serveMetrics(registry, { port: 9100 });
 */
export async function serveMetrics(
  registry: MetricsRegistry,
  options: { port: number; host?: string },
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/metrics" || req.url?.startsWith("/metrics?"))) {
      registry.render().then(
        (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found; try /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
