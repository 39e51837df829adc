/**
 * The validator's challenge outcomes on their way to its database, recorded in batches: one
 * transaction, so one fsync, for the outcomes that arrive within a short delay of each other, not
 * one per challenge. A round over 64 in-process miners spent about 15% of its CPU in those
 * per-challenge transactions (`node --cpu-prof` on bench/validator-round.bench.ts).
 *
 * What a crash costs: the outcomes queued and not yet flushed, at most {@link OutcomeBatchInit.maxDelayMs}
 * of them — as if those challenges had not been made. Nothing counts twice: each outcome is still
 * recorded under its challenge id, and its score update is in the same transaction.
 */
import type { ScoringPolicyImpl } from "./policy.js";
import type { ChallengeRecord, ValidatorDb } from "./validator-db.js";

/** How long an outcome may wait for others before its batch is recorded. */
export const DEFAULT_OUTCOME_BATCH_DELAY_MS = 100;

/** Outcomes in one batch at most: one more records the batch at once, so memory stays bounded. */
export const DEFAULT_OUTCOME_BATCH_MAX = 256;

export interface OutcomeBatchInit {
  db: Pick<ValidatorDb, "recordChallenge" | "recordChallenges">;
  policies: readonly ScoringPolicyImpl[];
  /** Default {@link DEFAULT_OUTCOME_BATCH_DELAY_MS}. */
  maxDelayMs?: number;
  /** Default {@link DEFAULT_OUTCOME_BATCH_MAX}. */
  maxRecords?: number;
  /** Told of an outcome that could not be recorded (the others of its batch still are). */
  onError?: (error: unknown, record: ChallengeRecord) => void;
}

/**
 * @example
 * const outcomes = createOutcomeBatch({ db, policies: [policy] });
 * outcomes.record({ id: nonce, minerId, outcome, at: Date.now() });
 * outcomes.flush(); // before reading scores, and at stop
 */
export interface OutcomeBatch {
  /** Queues an outcome; it is recorded within `maxDelayMs`, or now when the batch is full. */
  record(record: ChallengeRecord): void;
  /** Records every queued outcome now, in the order they were queued. */
  flush(): void;
  /** Outcomes queued and not yet recorded. */
  readonly pending: number;
}

export function createOutcomeBatch(init: OutcomeBatchInit): OutcomeBatch {
  const maxDelayMs = init.maxDelayMs ?? DEFAULT_OUTCOME_BATCH_DELAY_MS;
  const maxRecords = init.maxRecords ?? DEFAULT_OUTCOME_BATCH_MAX;
  let queued: ChallengeRecord[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;

  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (queued.length === 0) return;
    const batch = queued;
    queued = [];
    try {
      init.db.recordChallenges(batch, init.policies);
    } catch {
      // One bad record (a miner no longer known, say) must not cost the others theirs.
      for (const record of batch) {
        try {
          init.db.recordChallenge(record, init.policies);
        } catch (error) {
          init.onError?.(error, record);
        }
      }
    }
  };

  return {
    record(record) {
      queued.push(record);
      if (queued.length >= maxRecords) flush();
      else if (timer === undefined) {
        timer = setTimeout(flush, maxDelayMs);
        // A queued outcome does not keep the process alive; stop() flushes what is left.
        timer.unref?.();
      }
    },
    flush,
    get pending() {
      return queued.length;
    },
  };
}
