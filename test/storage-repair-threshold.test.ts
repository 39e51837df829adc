/**
 * The repair threshold (api.repair_threshold): a stripe is rebuilt once at most k + r of its
 * pieces are left, and by default (r = m − 1) as soon as one piece is lost. On a real SQLite file;
 * the miner link and the stripe reader are stand-ins behind their interfaces, and the reader
 * records which stripes repair asked it to rebuild.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { MinerLink } from "../neurons/validator/storage/miner-link.js";
import { createRepairer } from "../neurons/validator/storage/repair.js";
import type { StripeReader } from "../neurons/validator/storage/storage.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { seedStripes } from "./support/seed-stripes.js";

const dir = mkdtempSync(join(tmpdir(), "repair-threshold-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function repairerWith(repairThreshold: number | undefined) {
  const db = ValidatorDb.open(join(mkdtempSync(join(dir, "v-")), "validator.sqlite"));
  const minerIds = seedStripes(db, 1).map((m) => m.id);
  const link = {
    refresh: async () => {},
    miners: () =>
      minerIds.map((id) => ({ id, hotkey: `h${id}`, uid: id, coldkey: null, ip: null, reachable: true })),
    unreachableSince: () => undefined,
  } as unknown as MinerLink;
  const asked: number[][] = [];
  const reader: StripeReader = {
    async shards(_file, _stripe, wanted) {
      asked.push([...wanted]);
      // Nothing to rebuild from here: the pass counts the pieces as failed and moves on.
      throw new Error("no miner answers in this test");
    },
  } as StripeReader;
  const repairer = createRepairer({
    db,
    link,
    settings: {
      offlineGraceMs: 60_000,
      repairBandwidth: 1 << 30,
      ...(repairThreshold === undefined ? {} : { repairThreshold }),
    },
    reader,
    place: async () => undefined,
    now: () => Date.now(),
  });
  return { db, minerIds, asked, repairer };
}

describe("repair threshold", () => {
  it("by default rebuilds a stripe as soon as one of its pieces is lost", async () => {
    const { db, minerIds, asked, repairer } = repairerWith(undefined);
    db.files.markMinerLost(minerIds[2]!);
    const report = await repairer.repair();
    expect(asked).toEqual([[2]]);
    expect(report.failed).toBe(1);
    db.close();
  });

  it("with r = 0 waits until only k pieces are left, and does not count the wait as a failure", async () => {
    const { db, minerIds, asked, repairer } = repairerWith(0);
    db.files.markMinerLost(minerIds[2]!);
    const waited = await repairer.repair();
    expect(asked).toEqual([]);
    expect(waited).toEqual({ marked: 0, repaired: 0, failed: 0 });
    expect(db.files.lostPieces().length).toBe(1);

    db.files.markMinerLost(minerIds[1]!);
    await repairer.repair();
    expect(asked).toEqual([[1, 2]]);
    db.close();
  });

  it("caps r at m − 1: a threshold above it repairs any loss", async () => {
    const { db, minerIds, asked, repairer } = repairerWith(64);
    db.files.markMinerLost(minerIds[0]!);
    await repairer.repair();
    expect(asked).toEqual([[0]]);
    db.close();
  });
});
