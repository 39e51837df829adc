/**
 * The run's report as one self-contained HTML file: inline SVG charts, inline CSS, no scripts and
 * no external assets, so it opens offline and can be attached anywhere.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { escapeHtml } from "./escape-html.js";
import { repairTempos, type Summary, type TempoRecord } from "./report.js";
import type { Scenario } from "./scenario.js";

const PALETTE: Record<string, string> = {
  honest: "#2b8a3e",
  lazy: "#e67700",
  corrupting: "#c92a2a",
  outsourcer: "#5f3dc4",
  slow: "#1971c2",
  offline: "#495057",
  churning: "#d6336c",
  sybil: "#0c8599",
  copier: "#f08c00",
  "lazy-validator": "#862e9c",
};
const colorOf = (behaviour: string) => PALETTE[behaviour] ?? "#868e96";

interface Series {
  name: string;
  color: string;
  points: [number, number][];
  dashed?: boolean;
}

const W = 640;
const H = 260;
const PAD = { l: 48, r: 140, t: 12, b: 32 };

function lineChart(
  series: Series[],
  opts: {
    xLabel: string;
    yMax?: number;
    yFormat?: (y: number) => string;
    /** Legend entries; one per series when omitted. */
    legend?: { name: string; color: string }[];
  },
) {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMin = Math.min(...xs, 1);
  const xMax = Math.max(...xs, xMin + 1);
  const yMax = opts.yMax ?? Math.max(...ys, 1e-9);
  const fmt = opts.yFormat ?? ((y: number) => y.toFixed(2));
  const sx = (x: number) => PAD.l + ((x - xMin) / (xMax - xMin)) * (W - PAD.l - PAD.r);
  const sy = (y: number) => PAD.t + (1 - y / yMax) * (H - PAD.t - PAD.b);
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4;
    parts.push(
      `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${sy(y)}" y2="${sy(y)}" stroke="#dee2e6"/><text x="${PAD.l - 4}" y="${sy(y) + 4}" text-anchor="end">${fmt(y)}</text>`,
    );
  }
  const step = Math.max(1, Math.ceil((xMax - xMin) / 10));
  for (let x = xMin; x <= xMax; x += step)
    parts.push(`<text x="${sx(x)}" y="${H - PAD.b + 16}" text-anchor="middle">${x}</text>`);
  parts.push(
    `<text x="${(PAD.l + W - PAD.r) / 2}" y="${H - 2}" text-anchor="middle">${escapeHtml(opts.xLabel)}</text>`,
  );
  for (const s of series) {
    const d = s.points
      .map((p, j) => `${j === 0 ? "M" : "L"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)
      .join("");
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ""}><title>${escapeHtml(s.name)}</title></path>`,
    );
  }
  (opts.legend ?? series).slice(0, 14).forEach((l, i) => {
    parts.push(
      `<rect x="${W - PAD.r + 8}" y="${PAD.t + i * 16}" width="10" height="10" fill="${l.color}"/><text x="${W - PAD.r + 22}" y="${PAD.t + i * 16 + 9}">${escapeHtml(l.name)}</text>`,
    );
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${parts.join("")}</svg>`;
}

function barChart(bars: { label: string; value: number; color: string; text: string }[], yMax: number) {
  const h = Math.max(60, bars.length * 18 + 20);
  const left = 160;
  const parts = bars.map((b, i) => {
    const w = yMax > 0 ? (b.value / yMax) * (W - left - 120) : 0;
    return `<text x="${left - 6}" y="${i * 18 + 14}" text-anchor="end">${escapeHtml(b.label)}</text><rect x="${left}" y="${i * 18 + 3}" width="${Math.max(0, w).toFixed(1)}" height="13" fill="${b.color}"/><text x="${left + Math.max(0, w) + 4}" y="${i * 18 + 14}">${escapeHtml(b.text)}</text>`;
  });
  return `<svg viewBox="0 0 ${W} ${h}" width="${W}" height="${h}">${parts.join("")}</svg>`;
}

/** The storage workload: a chart of files kept, lost and at risk, and the per-tempo table. */
function storageSection(records: readonly TempoRecord[], summary: Summary): string {
  const rows = records.flatMap((r) => (r.files ? [r.files] : []));
  const s = summary.storage;
  if (!s || rows.length === 0) return "";
  const chart = lineChart(
    [
      { name: "files", color: "#2f9e44", points: rows.map((r) => [r.tempo, r.files] as [number, number]) },
      { name: "at risk", color: "#f08c00", points: rows.map((r) => [r.tempo, r.atRisk] as [number, number]) },
      { name: "lost", color: "#e03131", points: rows.map((r) => [r.tempo, r.lost] as [number, number]) },
    ],
    { xLabel: "tempo", yFormat: (y) => y.toFixed(0) },
  );
  const ms = (x: number | null) => (x === null ? "–" : `${x.toFixed(0)} ms`);
  const table = rows
    .map(
      (r) =>
        `<tr><td>${r.tempo}</td><td>${r.files}</td><td>${(r.userBytes / 2 ** 20).toFixed(1)}</td><td>${r.userBytes === 0 ? "–" : `${(r.storedBytes / r.userBytes).toFixed(2)}×`}</td><td>${r.lost}</td><td>${r.atRisk}</td><td>${r.gets === 0 ? "–" : `${((r.getsVerified / r.gets) * 100).toFixed(1)}%`}</td><td>${r.piecesRepaired}</td><td>${(r.repairBytes / 2 ** 20).toFixed(1)}</td><td>${r.piecesRepaired === 0 ? "–" : `${r.repairTemposMean.toFixed(2)} / ${r.repairTemposMax}`}</td><td>${(Number(r.minerEmission / 1_000_000n) / 1000).toFixed(3)}</td></tr>`,
    )
    .join("");
  return `<h2>Storage: files kept and read back</h2>
<p>${s.files} files at the end (${s.lost} lost, ${s.atRisk} at risk: one more miner lost and a stripe is gone); availability ${s.availability === null ? "–" : `${(s.availability * 100).toFixed(1)}%`} of ${s.gets} gets; retrieval p50 ${ms(s.latency.p50)}, p99 ${ms(s.latency.p99)}, first byte p50 ${ms(s.latency.firstByteP50)} (wall clock, this machine); ${s.piecesRepaired} pieces repaired, time to repair ${repairTempos(s)}.</p>
${chart}
<table><tr><th>tempo</th><th>files</th><th>MiB</th><th>overhead</th><th>lost</th><th>at risk</th><th>availability</th><th>repaired</th><th>repair MiB</th><th>time to repair, mean / max (tempos)</th><th>miner emission (TAO)</th></tr>${table}</table>`;
}

/** Renders the report's HTML. */
export function renderHtmlReport(
  scenario: Scenario,
  records: readonly TempoRecord[],
  summary: Summary,
): string {
  const behaviours = Object.keys(summary.emissionShare);
  const emission = lineChart(
    behaviours.map((b) => ({
      name: b,
      color: colorOf(b),
      points: summary.emissionShareByTempo.map(
        (s, i) => [records[i]?.tempo ?? i + 1, s[b] ?? 0] as [number, number],
      ),
    })),
    { xLabel: "tempo", yMax: 1, yFormat: (y) => `${Math.round(y * 100)}%` },
  );
  const minerRows = records[0]?.metagraph.filter((r) => r.role === "miner") ?? [];
  const incentive = lineChart(
    minerRows.map((m) => ({
      name: `uid ${m.uid} ${m.behaviour}`,
      color: colorOf(m.behaviour),
      dashed: m.behaviour !== "honest",
      points: records.map(
        (rec) => [rec.tempo, rec.metagraph.find((r) => r.uid === m.uid)?.incentive ?? 0] as [number, number],
      ),
    })),
    {
      xLabel: "tempo",
      yFormat: (y) => y.toFixed(3),
      legend: [...new Set(minerRows.map((m) => m.behaviour))].map((b) => ({ name: b, color: colorOf(b) })),
    },
  );
  const detection = barChart(
    summary.detections.map((d) => ({
      label: `uid ${d.uid} ${d.behaviour}`,
      value: d.tempo ?? records.length,
      color: d.tempo === null ? "#adb5bd" : colorOf(d.behaviour),
      text: d.tempo === null ? "not detected" : `tempo ${d.tempo}`,
    })),
    Math.max(1, records.length),
  );
  const agreementPoints = summary.validatorAgreement
    .map((a, i) => [records[i]?.tempo ?? i + 1, a] as const)
    .filter((p): p is readonly [number, number] => p[1] !== null)
    .map((p) => [p[0], Math.max(0, p[1])] as [number, number]);
  const agreement =
    agreementPoints.length > 0
      ? lineChart([{ name: "mean pairwise r", color: "#1971c2", points: agreementPoints }], {
          xLabel: "tempo",
          yMax: 1,
        })
      : "<p>Needs at least two validators with non-constant weights.</p>";
  const shareRows = Object.entries(summary.emissionShare)
    .map(
      ([b, s]) =>
        `<tr><td><span class="sw" style="background:${colorOf(b)}"></span>${escapeHtml(b)}</td><td>${s.miners}</td><td>${(s.total * 100).toFixed(1)}%</td><td>${(s.last * 100).toFixed(1)}%</td><td>${(s.perMinerVsHonest * 100).toFixed(1)}%</td></tr>`,
    )
    .join("");
  const validatorTable = `<h2>Validators</h2><table><tr><th>uid</th><th>behaviour</th><th>stake share</th><th>dividend share</th></tr>${summary.validators
    .map(
      (v) =>
        `<tr><td>${v.uid}</td><td><span class="sw" style="background:${colorOf(v.behaviour)}"></span>${escapeHtml(v.behaviour)}</td><td>${(v.stakeShare * 100).toFixed(1)}%</td><td>${(v.dividendShare * 100).toFixed(1)}%</td></tr>`,
    )
    .join("")}</table>`;
  const storage = storageSection(records, summary);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>storage-subnet simulation: ${escapeHtml(scenario.name)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:760px;color:#212529}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}svg text{font-size:11px;fill:#495057}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #dee2e6;text-align:right}
td:first-child,th:first-child{text-align:left}.sw{display:inline-block;width:10px;height:10px;margin-right:6px}
pre{background:#f8f9fa;padding:8px;overflow:auto;font-size:12px}
</style></head><body>
<h1>Simulation: ${escapeHtml(scenario.name)}</h1>
<p>${scenario.miners} miners, ${scenario.validatorStakes.length} validators (stakes ${scenario.validatorStakes.join(" / ")} TAO), ${summary.tempos} tempos of ${scenario.tempo} blocks, seed ${scenario.seed}, scoring policy <code>${escapeHtml(scenario.policy.name)}</code>.${summary.aborted ? " <strong>Interrupted.</strong>" : ""}</p>
<h2>Emission share by behaviour</h2>
<table><tr><th>behaviour</th><th>miners</th><th>run</th><th>last tempo</th><th>per miner vs honest</th></tr>${shareRows}</table>
<p>Honest miners' share of miner emission: ${(summary.honestShareOfMinerEmission.total * 100).toFixed(1)}% over the run, ${(summary.honestShareOfMinerEmission.last * 100).toFixed(1)}% in the last tempo.</p>
${validatorTable}
<h2>Miner emission per behaviour over time</h2>${emission}
<h2>Incentive per miner</h2>${incentive}
<h2>Detection tempo per adversary</h2>
<p>First tempo from which the adversary's incentive stayed below ${(summary.detectionThreshold * 100).toFixed(1)}% of the honest miners' mean.</p>${detection}
<h2>Validator agreement</h2>
<p>Mean pairwise Pearson correlation of the validators' on-chain weight rows, per tempo.</p>${agreement}
${storage}
<h2>Scenario</h2><pre>${escapeHtml(JSON.stringify(scenario, null, 2))}</pre>
</body></html>
`;
}

/** Writes `<outDir>/report.html`; returns its path. */
export function writeHtmlReport(
  outDir: string,
  scenario: Scenario,
  records: readonly TempoRecord[],
  summary: Summary,
): string {
  const path = join(outDir, "report.html");
  writeFileSync(path, renderHtmlReport(scenario, records, summary));
  return path;
}
