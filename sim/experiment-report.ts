/**
 * The HTML report of a sweep: one self-contained page (inline SVG, no scripts or external files)
 * with one chart per metric against the first swept parameter, one line per combination of the
 * other parameters, each point the mean over seeds with a min–max bar, and a table of the means.
 * A sweep with `tradeoffs` first plots metric against metric (durability or availability against
 * what it costs), one labelled dot per combination of parameter values.
 */
import { escapeHtml } from "./escape-html.js";

const WIDTH = 560;
const HEIGHT = 300;
const MARGIN = { left: 64, right: 16, top: 28, bottom: 44 };
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

function fmt(v: number): string {
  if (!Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

interface Stat {
  mean: number;
  min: number;
  max: number;
  /** Runs with a value, and runs in all. */
  n: number;
  runs: number;
}

function stat(values: readonly (number | null)[]): Stat {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (present.length === 0)
    return { mean: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0, runs: values.length };
  return {
    mean: present.reduce((a, b) => a + b, 0) / present.length,
    min: Math.min(...present),
    max: Math.max(...present),
    n: present.length,
    runs: values.length,
  };
}

interface Series {
  label: string;
  /** x key → values per seed. */
  points: Map<string, Array<number | null>>;
}

const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

/** The start of a chart: the svg, its title, axes and y grid; `px`/`py` map data to the plot. */
function frame(
  title: string,
  [xLo, xHi]: [number, number],
  [yLo, yHi]: [number, number],
): { parts: string[]; px(x: number): number; py(y: number): number; plotW: number; plotH: number } {
  const plotW = PLOT_W;
  const plotH = PLOT_H;
  const px = (x: number) => MARGIN.left + (xHi === xLo ? plotW / 2 : ((x - xLo) / (xHi - xLo)) * plotW);
  const py = (y: number) => MARGIN.top + plotH - ((y - yLo) / (yHi - yLo)) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
  );
  parts.push(
    `<text x="${WIDTH / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeHtml(title)}</text>`,
  );
  parts.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const y = yLo + ((yHi - yLo) * i) / 4;
    parts.push(
      `<line x1="${MARGIN.left}" y1="${py(y)}" x2="${MARGIN.left + plotW}" y2="${py(y)}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${py(y) + 4}" text-anchor="end">${fmt(y)}</text>`,
    );
  }
  return { parts, px, py, plotW, plotH };
}

/** A range from 0 (or below) to the largest value, widened when flat. */
function range(values: readonly number[]): [number, number] {
  let lo = values.length > 0 ? Math.min(0, ...values) : 0;
  let hi = values.length > 0 ? Math.max(...values) : 1;
  if (hi === lo) {
    hi += 1;
    lo -= lo === 0 ? 0 : 1;
  }
  return [lo, hi];
}

/** One dot per parameter combination: mean y against mean x over its seeds, labelled. */
interface TradeoffDot {
  label: string;
  x: Stat;
  y: Stat;
}

function scatter(xName: string, yName: string, dots: TradeoffDot[]): string {
  const shown = dots.filter((d) => d.x.n > 0 && d.y.n > 0);
  const [xLo, xHi] = range(shown.flatMap((d) => [d.x.min, d.x.max]));
  const [yLo, yHi] = range(shown.flatMap((d) => [d.y.min, d.y.max]));
  const { parts, px, py, plotH } = frame(`${yName} against ${xName}`, [xLo, xHi], [yLo, yHi]);
  for (let i = 0; i <= 4; i++) {
    const x = xLo + ((xHi - xLo) * i) / 4;
    parts.push(`<text x="${px(x)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${fmt(x)}</text>`);
  }
  parts.push(
    `<text x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escapeHtml(xName)}</text>`,
  );
  shown.forEach((d, i) => {
    const colour = COLOURS[i % COLOURS.length] as string;
    const [x, y] = [px(d.x.mean), py(d.y.mean)];
    parts.push(
      `<line x1="${px(d.x.min)}" y1="${y}" x2="${px(d.x.max)}" y2="${y}" stroke="${colour}" stroke-opacity="0.5"/>`,
      `<line x1="${x}" y1="${py(d.y.min)}" x2="${x}" y2="${py(d.y.max)}" stroke="${colour}" stroke-opacity="0.5"/>`,
      `<circle cx="${x}" cy="${y}" r="4" fill="${colour}"><title>${escapeHtml(
        `${d.label}: ${xName} ${fmt(d.x.mean)}, ${yName} ${fmt(d.y.mean)} (${d.y.n} runs)`,
      )}</title></circle>`,
      `<text x="${x + 6}" y="${y - 6}" fill="${colour}">${escapeHtml(d.label)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}

function chart(metric: string, xName: string, xKeys: string[], series: Series[]): string {
  const numeric = xKeys.every((k) => k !== "" && Number.isFinite(Number(k)));
  const xs = numeric ? xKeys.map(Number) : xKeys.map((_, i) => i);
  const xLo = Math.min(...xs);
  const xHi = Math.max(...xs);
  const stats = series.map((s) => xKeys.map((k) => stat(s.points.get(k) ?? [])));
  const [yLo, yHi] = range(stats.flat().flatMap((st) => (st.n > 0 ? [st.min, st.max] : [])));
  const { parts, px, py, plotW, plotH } = frame(metric, [xLo, xHi], [yLo, yHi]);
  xKeys.forEach((k, i) => {
    const x = px(xs[i] as number);
    parts.push(`<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${escapeHtml(k)}</text>`);
  });
  parts.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escapeHtml(xName)}</text>`,
  );
  series.forEach((s, si) => {
    const colour = COLOURS[si % COLOURS.length] as string;
    const st = stats[si] as Stat[];
    const line = xKeys
      .map((_, i) => ((st[i] as Stat).n > 0 ? `${px(xs[i] as number)},${py((st[i] as Stat).mean)}` : ""))
      .filter((p) => p !== "")
      .join(" ");
    if (line.includes(" "))
      parts.push(`<polyline points="${line}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    xKeys.forEach((_, i) => {
      const p = st[i] as Stat;
      if (p.n === 0) return;
      const x = px(xs[i] as number);
      parts.push(
        `<line x1="${x}" y1="${py(p.min)}" x2="${x}" y2="${py(p.max)}" stroke="${colour}" stroke-opacity="0.5"/>`,
        `<circle cx="${x}" cy="${py(p.mean)}" r="3.5" fill="${colour}"><title>${escapeHtml(
          `${s.label} ${xName}=${xKeys[i]}: mean ${fmt(p.mean)} (min ${fmt(p.min)}, max ${fmt(p.max)}, ${p.n}/${p.runs} runs with a value)`,
        )}</title></circle>`,
      );
    });
    if (series.length > 1) {
      const ly = MARGIN.top + 4 + si * 14;
      parts.push(
        `<rect x="${MARGIN.left + plotW - 150}" y="${ly}" width="10" height="10" fill="${colour}"/>`,
        `<text x="${MARGIN.left + plotW - 136}" y="${ly + 9}">${escapeHtml(s.label)}</text>`,
      );
    }
  });
  parts.push("</svg>");
  return parts.join("");
}

/** What the report shows of a sweep (a `Sweep` from experiment.ts has all of it). */
export interface ReportedSweep {
  name: string;
  description: string;
  parameters: ReadonlyArray<{ path: string; values: readonly unknown[] }>;
  seeds: readonly number[];
  charted: readonly string[];
  /** [x, y] metric pairs plotted against each other, before the per-metric charts. */
  tradeoffs?: ReadonlyArray<readonly [string, string]>;
  /** Where the metrics are defined (default the fast mode's sim/fast/metrics.ts). */
  metricsSource?: string;
}

/**
 * Renders the report from the CSV rows (header first) of a sweep's results.
 *
 * @example writeFileSync("report.html", renderReport(sweep, parseCsv(csvText)))
 */
export function renderReport(sweep: ReportedSweep, csv: readonly (readonly string[])[]): string {
  const header = csv[0] ?? [];
  const rows = csv.slice(1).filter((r) => r.length === header.length);
  const col = (name: string) => header.indexOf(name);
  const params = sweep.parameters.map((p) => p.path);
  const xName = params[0] ?? "(base config)";
  const xKeys: string[] = params.length > 0 ? (sweep.parameters[0]?.values.map(String) ?? []) : [""];
  const seriesLabel = (row: readonly string[]) =>
    params
      .slice(1)
      .map((p) => `${p}=${row[col(p)]}`)
      .join(" ") || "all";
  const num = (cell: string | undefined): number | null =>
    cell === undefined || cell === "" || !Number.isFinite(Number(cell)) ? null : Number(cell);

  const charts = sweep.charted.map((metric) => {
    const seriesByLabel = new Map<string, Series>();
    const mc = col(metric);
    for (const row of rows) {
      const label = seriesLabel(row);
      let s = seriesByLabel.get(label);
      if (!s) {
        s = { label, points: new Map() };
        seriesByLabel.set(label, s);
      }
      const x = params.length > 0 ? (row[col(xName)] ?? "") : "";
      const list = s.points.get(x) ?? [];
      list.push(num(row[mc]));
      s.points.set(x, list);
    }
    return `<figure>${chart(metric, xName, xKeys, [...seriesByLabel.values()])}</figure>`;
  });

  // Table: mean of every charted metric per parameter combination.
  const groups = new Map<string, string[][]>();
  for (const row of rows) {
    const key = JSON.stringify(params.map((p) => row[col(p)]));
    groups.set(key, [...(groups.get(key) ?? []), [...row]]);
  }
  const tableRows = [...groups.entries()].map(([key, group]) => {
    const values = JSON.parse(key) as string[];
    const cells = sweep.charted.map((m) => {
      const st = stat(group.map((r) => num(r[col(m)])));
      const missing = st.n < st.runs ? ` <small>(${st.runs - st.n} n/a)</small>` : "";
      return `<td>${st.n > 0 ? fmt(st.mean) : "–"}${missing}</td>`;
    });
    return `<tr>${values.map((v) => `<th>${escapeHtml(v)}</th>`).join("")}<td>${group.length}</td>${cells.join("")}</tr>`;
  });
  const tradeoffs = (sweep.tradeoffs ?? []).map(([x, y]) => {
    const dots = [...groups.entries()].map(([key, group]) => {
      const values = JSON.parse(key) as string[];
      return {
        label: params.map((p, i) => `${p}=${values[i]}`).join(" ") || "all",
        x: stat(group.map((r) => num(r[col(x)]))),
        y: stat(group.map((r) => num(r[col(y)]))),
      };
    });
    return `<figure>${scatter(x, y, dots)}</figure>`;
  });
  const tradeoffSection =
    tradeoffs.length > 0
      ? `<h2>Durability and availability against cost</h2>\n<p>One dot per combination of parameter values, at the mean over seeds; the bars span min to max.</p>\n${tradeoffs.join("\n")}\n<h2>Each metric against ${escapeHtml(xName)}</h2>\n`
      : "";
  const table = `<table><thead><tr>${params.map((p) => `<th>${escapeHtml(p)}</th>`).join("")}<th>runs</th>${sweep.charted
    .map((m) => `<th>${escapeHtml(m)}</th>`)
    .join("")}</tr></thead><tbody>${tableRows.join("")}</tbody></table>`;

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(sweep.name)}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}figure{display:inline-block;margin:8px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}</style>
</head><body>
<h1>${escapeHtml(sweep.name)}</h1>
<p>${escapeHtml(sweep.description)}</p>
<p>${rows.length} runs; seeds ${escapeHtml(sweep.seeds.join(", "))}. Each point is the mean over seeds; the bar spans min to max.
Metrics are defined in <code>${escapeHtml(sweep.metricsSource ?? "sim/fast/metrics.ts")}</code>; empty cells (n/a) are runs where a metric has no value (e.g. an adversary never detected).</p>
${tradeoffSection}${charts.join("\n")}
<h2>Means</h2>
${table}
</body></html>
`;
}
