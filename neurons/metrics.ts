/**
 * A small Prometheus registry: counters, gauges (set directly or collected at scrape time) and
 * histograms, rendered in the text exposition format, and an HTTP endpoint serving them.
 * Format: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type Labels = Record<string, string>;

/** Latency buckets in seconds: 0.5 ms (a cached proof on loopback) to 10 s (a slow 1 MiB upload). */
export const DEFAULT_LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface Counter {
  inc(labels?: Labels, by?: number): void;
  get(labels?: Labels): number;
}

export interface Gauge {
  set(value: number, labels?: Labels): void;
  get(labels?: Labels): number;
}

export interface Histogram {
  observe(value: number, labels?: Labels): void;
  /** Observations so far (per label set). */
  count(labels?: Labels): number;
}

type Collect = () => number | Array<[Labels, number]>;

interface Metric {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  render(lines: string[]): void;
}

export interface MetricsRegistry {
  counter(name: string, help: string): Counter;
  /** A gauge; with `collect`, its value(s) are read at every scrape instead of set. */
  gauge(name: string, help: string, collect?: Collect): Gauge;
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram;
  /** The exposition text of every metric. */
  render(): string;
}

/**
 * @example
 * const metrics = createMetricsRegistry();
 * const answered = metrics.counter("miner_challenges_answered_total", "Challenges answered");
 * answered.inc();
 */
export function createMetricsRegistry(): MetricsRegistry {
  const metrics = new Map<string, Metric>();
  const add = <M extends Metric>(metric: M): M => {
    if (metrics.has(metric.name)) throw new MetricNameError(`metric ${metric.name} is registered twice`);
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric.name)) {
      throw new MetricNameError(`invalid metric name ${metric.name}`);
    }
    metrics.set(metric.name, metric);
    return metric;
  };
  return {
    counter(name, help) {
      const values = new Map<string, { labels: Labels; value: number }>();
      const counter: Counter & Metric = {
        name,
        help,
        type: "counter",
        inc(labels = {}, by = 1) {
          const key = labelKey(labels);
          const entry = values.get(key) ?? { labels, value: 0 };
          entry.value += by;
          values.set(key, entry);
        },
        get: (labels = {}) => values.get(labelKey(labels))?.value ?? 0,
        render(lines) {
          if (values.size === 0) lines.push(`${name} 0`);
          for (const { labels, value } of values.values())
            lines.push(`${name}${formatLabels(labels)} ${value}`);
        },
      };
      return add(counter);
    },
    gauge(name, help, collect) {
      const values = new Map<string, { labels: Labels; value: number }>();
      const gauge: Gauge & Metric = {
        name,
        help,
        type: "gauge",
        set(value, labels = {}) {
          values.set(labelKey(labels), { labels, value });
        },
        get: (labels = {}) => values.get(labelKey(labels))?.value ?? 0,
        render(lines) {
          if (collect) {
            let collected: number | Array<[Labels, number]>;
            try {
              collected = collect();
            } catch {
              return;
            }
            if (typeof collected === "number") lines.push(`${name} ${formatValue(collected)}`);
            else
              for (const [labels, v] of collected)
                lines.push(`${name}${formatLabels(labels)} ${formatValue(v)}`);
            return;
          }
          for (const { labels, value } of values.values()) {
            lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
          }
        },
      };
      return add(gauge);
    },
    histogram(name, help, buckets = DEFAULT_LATENCY_BUCKETS) {
      const bounds = [...buckets].sort((a, b) => a - b);
      const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
      const histogram: Histogram & Metric = {
        name,
        help,
        type: "histogram",
        observe(value, labels = {}) {
          const key = labelKey(labels);
          let s = series.get(key);
          if (s === undefined) {
            s = { labels, counts: bounds.map(() => 0), sum: 0, count: 0 };
            series.set(key, s);
          }
          for (let i = 0; i < bounds.length; i++) if (value <= (bounds[i] as number)) s.counts[i]! += 1;
          s.sum += value;
          s.count += 1;
        },
        count: (labels = {}) => series.get(labelKey(labels))?.count ?? 0,
        render(lines) {
          for (const s of series.values()) {
            bounds.forEach((le, i) => {
              const labels = formatLabels({ ...s.labels, le: String(le) });
              lines.push(`${name}_bucket${labels} ${s.counts[i]}`);
            });
            lines.push(`${name}_bucket${formatLabels({ ...s.labels, le: "+Inf" })} ${s.count}`);
            lines.push(`${name}_sum${formatLabels(s.labels)} ${formatValue(s.sum)}`);
            lines.push(`${name}_count${formatLabels(s.labels)} ${s.count}`);
          }
        },
      };
      return add(histogram);
    },
    render() {
      const lines: string[] = [];
      for (const metric of metrics.values()) {
        lines.push(`# HELP ${metric.name} ${metric.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
        lines.push(`# TYPE ${metric.name} ${metric.type}`);
        metric.render(lines);
      }
      return `${lines.join("\n")}\n`;
    },
  };
}

/** A metric name is invalid or used twice. */
export class MetricNameError extends Error {
  override readonly name = "MetricNameError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  const parts = keys.map((k) => {
    const v = String(labels[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
    return `${k}="${v}"`;
  });
  return `{${parts.join(",")}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
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
      let body: string;
      try {
        body = registry.render();
      } catch {
        res.writeHead(500).end();
        return;
      }
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(body);
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
