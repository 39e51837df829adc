/**
 * Progress of a put or get on stderr: on a terminal one bar redrawn in place (bytes, rate, ETA);
 * otherwise a plain line now and then, for logs. The CLI shows none with --json.
 */
import type { Progress } from "./api.js";

/** Milliseconds between redraws of the bar on a terminal. */
export const TTY_REDRAW_MS = 100;

/** Milliseconds between plain progress lines when stderr is not a terminal. */
export const PLAIN_PROGRESS_INTERVAL_MS = 5_000;

const BAR_WIDTH = 24;

const PHASE_LABELS: Record<Progress["phase"], string> = {
  hash: "hashing",
  upload: "uploading",
  download: "downloading",
};

export interface ProgressReporterInit {
  write: (text: string) => void;
  /** Redraw one bar in place (a terminal) instead of printing lines. */
  tty: boolean;
  /** Milliseconds between updates; default TTY_REDRAW_MS or PLAIN_PROGRESS_INTERVAL_MS. */
  intervalMs?: number;
  now?: () => number;
}

export interface ProgressReporter {
  update(progress: Progress): void;
  /** Ends the current bar (a terminal's line is finished with a newline). */
  finish(): void;
}

/**
 * @example
 * const progress = createProgressReporter({ write: (t) => process.stderr.write(t), tty: process.stderr.isTTY });
 * await client.put(source, { onProgress: progress.update });
 * progress.finish();
 */
export function createProgressReporter(init: ProgressReporterInit): ProgressReporter {
  const now = init.now ?? Date.now;
  const interval = init.intervalMs ?? (init.tty ? TTY_REDRAW_MS : PLAIN_PROGRESS_INTERVAL_MS);
  let phase: Progress["phase"] | undefined;
  let started = 0;
  let shown = 0;
  let drawn = false;
  let last: Progress | undefined;

  const draw = (progress: Progress) => {
    const elapsed = Math.max(1, now() - started) / 1000;
    const rate = progress.bytes / elapsed;
    const { total } = progress;
    const label = PHASE_LABELS[progress.phase];
    const amount =
      total === undefined
        ? formatBytes(progress.bytes)
        : `${formatBytes(progress.bytes)} / ${formatBytes(total)}`;
    const eta =
      total !== undefined && rate > 0 ? ` ETA ${formatSeconds((total - progress.bytes) / rate)}` : "";
    if (init.tty) {
      const share = total === undefined || total === 0 ? 1 : Math.min(1, progress.bytes / total);
      const filled = Math.round(share * BAR_WIDTH);
      const bar = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
      init.write(`\r${label.padEnd(11)} ${bar} ${amount}  ${formatBytes(rate)}/s${eta}\x1b[K`);
      drawn = true;
    } else {
      const percent =
        total === undefined || total === 0 ? "" : ` (${Math.floor((100 * progress.bytes) / total)}%)`;
      init.write(`${label}: ${amount}${percent}, ${formatBytes(rate)}/s${eta}\n`);
    }
  };

  const finish = () => {
    if (init.tty && last !== undefined) draw(last);
    if (drawn) init.write("\n");
    drawn = false;
    last = undefined;
  };

  return {
    update(progress) {
      if (progress.phase !== phase) {
        finish();
        phase = progress.phase;
        started = now();
        shown = started;
      }
      last = progress;
      if (now() - shown >= interval) {
        shown = now();
        draw(progress);
      }
    },
    finish,
  };
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatSeconds(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
