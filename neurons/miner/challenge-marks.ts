/**
 * Challenge marks: when each chunk was last challenged, which orders evictions. Each mark is a
 * durable SQLite write (an fsync), so marks are collected (the latest per chunk) and written a
 * while after the first one, off the path of the proof, one per event-loop turn so no request
 * waits behind more than one fsync.
 */
import type { Logger } from "../logger.js";

/** Delay before challenge marks are written (they only order evictions). */
export const MARK_FLUSH_DELAY_MS = 1_000;

export interface ChallengeMarks {
  /** Notes that `validator`'s chunk was challenged at `at` (Unix ms); written later. */
  record(validator: string, chunkIndex: number, at: number): void;
  /** Writes every pending mark now and stops the timer. */
  stop(): void;
}

export interface ChallengeMarksInit {
  /** Writes one mark (StoreManager's `store(validator).markChallenged`). */
  write(validator: string, chunkIndex: number, at: number): void;
  log: Logger;
  delayMs?: number;
}

/**
 * @example
 * const marks = createChallengeMarks({ write: (v, i, at) => stores.store(v).markChallenged(i, at), log });
 * marks.record(validator, 3, Date.now());
 */
export function createChallengeMarks(init: ChallengeMarksInit): ChallengeMarks {
  const { log } = init;
  const delayMs = init.delayMs ?? MARK_FLUSH_DELAY_MS;
  const pending = new Map<string, { validator: string; chunkIndex: number; at: number }>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  /** Writes the oldest pending mark, then schedules the next one for the next turn. */
  const flushOne = (): void => {
    timer = undefined;
    const next = pending.entries().next();
    if (next.done) return;
    const [key, { validator, chunkIndex, at }] = next.value;
    pending.delete(key);
    try {
      init.write(validator, chunkIndex, at);
    } catch (error) {
      log.debug("cannot record a challenge", { validator, chunkIndex, error });
    }
    if (pending.size > 0 && !stopped) timer = setTimeout(flushOne, 0);
  };

  return {
    record(validator, chunkIndex, at) {
      pending.set(`${validator}/${chunkIndex}`, { validator, chunkIndex, at });
      if (timer !== undefined || stopped) return;
      timer = setTimeout(flushOne, delayMs);
      timer.unref?.();
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      while (pending.size > 0) flushOne();
    },
  };
}
